/**
 * CMS SignedData (RFC 5652), attached or detached, one signer, RSA PKCS#1 v1.5 with SHA-256/384/512,
 * with or without signed attributes. Read by the strict DER reader (cms-der.ts), or, when the
 * input is BER (producers that stream CMS write indefinite lengths), by asn1js (cms-ber.ts) within
 * node and size limits; then checked by hand with node:crypto so every rule is visible here:
 *
 * - exactly one SignerInfo; its digest algorithm SHA-256/384/512;
 * - with signed attributes: exactly one contentType equal to eContentType, exactly one
 *   messageDigest equal to the content's digest, and the signature over their DER (SET OF);
 *   a signingTime, when present, once and readable, within the signer certificate's validity;
 * - without: the content must be id-data and the signature is over the content itself;
 * - the signer certificate is the one the SignerInfo names (issuer+serial or key identifier),
 *   taken from the SignedData or given by the caller; then every certificate check.
 *
 * The document is parsed on every call (it is new each time); the signer's certificate comes from
 * the verifier's cache, so a signer seen before costs one hash lookup.
 */
import { createHash, verify } from "node:crypto";
import { RSA_SIGNATURE_HASH, subjectKeyIdOf, type ParsedCertificate } from "./certificate.ts";
import { readSignedDataBer } from "./cms-ber.ts";
import { readSignedDataDer } from "./cms-der.ts";
import { CMS_OID, badCms as bad, type SignedAttribute, type SignedDataParts } from "./cms-parts.ts";
import { DerReadError, TAG, bytesEqual, contentOf, readOnly } from "../profile/der-reader.ts";
import { oidText, stripLeadingZeros } from "../profile/der-values.ts";
import { derTime } from "./der.ts";
import { failure } from "./errors.ts";
import { certificateInfo, checkCallOptions, type VerifierCore } from "./verifier.ts";
import type { CmsOptions, HashName, VerificationResult } from "./types.ts";

/** Most certificates read from a SignedData (the signer's, its chain, a few more). */
const MAX_CMS_CERTIFICATES = 16;

const DIGESTS: Readonly<Record<string, HashName>> = {
  "2.16.840.1.101.3.4.2.1": "sha256",
  "2.16.840.1.101.3.4.2.2": "sha384",
  "2.16.840.1.101.3.4.2.3": "sha512",
};
const WEAK_DIGESTS: Readonly<Record<string, string>> = { "1.3.14.3.2.26": "SHA-1", "1.2.840.113549.2.5": "MD5" };

/** The SignedData's parts: strict DER first (fast), generic BER when the input is not DER. */
export function readSignedData(cmsDer: Uint8Array): SignedDataParts {
  try {
    return readSignedDataDer(cmsDer);
  } catch (error) {
    if (!(error instanceof DerReadError)) throw error;
    return readSignedDataBer(cmsDer);
  }
}

/** The one value of the one attribute of `type`, as its DER. */
function onlyValue(attributes: readonly SignedAttribute[], type: string, what: string): Uint8Array {
  const found = attributes.filter((a) => a.type === type);
  if (found.length !== 1 || found[0]!.values.length !== 1) bad(`signed attributes must hold exactly one ${what}`);
  return found[0]!.values[0]!;
}

function attributeOid(value: Uint8Array, what: string): string {
  try {
    return oidText(value, readOnly(value, TAG.OID, what));
  } catch (error) {
    if (error instanceof DerReadError) bad(`${what} is not an OBJECT IDENTIFIER`);
    throw error;
  }
}

function attributeOctets(value: Uint8Array, what: string): Uint8Array {
  try {
    return contentOf(value, readOnly(value, TAG.OCTET_STRING, what));
  } catch (error) {
    if (error instanceof DerReadError) bad(`${what} is not an OCTET STRING`);
    throw error;
  }
}

/**
 * The signingTime the signer claims, or undefined when there is none. The certificate must have
 * been valid then (checkCertificate), so the attribute must be readable: one instance with one
 * value (RFC 5652 §11.3), a DER UTCTime or GeneralizedTime. One that is not is refused rather
 * than passed over, as another reader might show a time this check never saw.
 */
function signingTimeOf(attributes: readonly SignedAttribute[]): Date | undefined {
  if (!attributes.some((a) => a.type === CMS_OID.signingTime)) return undefined;
  const value = onlyValue(attributes, CMS_OID.signingTime, "signingTime");
  try {
    return derTime(value, readOnly(value, value[0]!, "signingTime"));
  } catch (error) {
    if (error instanceof DerReadError) bad(`the signingTime is not a DER UTCTime or GeneralizedTime: ${error.message}`);
    throw error;
  }
}

export async function verifyCms(core: VerifierCore, cmsDer: Uint8Array, options?: CmsOptions): Promise<VerificationResult> {
  const { expectedType, at } = checkCallOptions(options, "sign", "verifyCms");
  if (!(cmsDer instanceof Uint8Array)) throw new TypeError("verifyCms: cmsDer must be a Uint8Array");
  if (options?.content !== undefined && !(options.content instanceof Uint8Array)) throw new TypeError("verifyCms: content must be a Uint8Array");
  if (options?.signerCertificate !== undefined && !(options.signerCertificate instanceof Uint8Array)) {
    throw new TypeError("verifyCms: signerCertificate must be a Uint8Array");
  }
  return core.run(async (state) => {
    if (cmsDer.length === 0) bad("empty input");
    if (cmsDer.length > core.limits.cmsBytes) failure("malformed-input", `CMS larger than ${core.limits.cmsBytes} bytes`, { limit: core.limits.cmsBytes });
    if (options?.content && options.content.length > core.limits.contentBytes) {
      failure("malformed-input", `content larger than ${core.limits.contentBytes} bytes`, { limit: core.limits.contentBytes });
    }
    const sd = readSignedData(cmsDer);
    if (sd.signers.length !== 1) bad(`expected exactly one signer, found ${sd.signers.length}`);
    const signer = sd.signers[0]!;
    const digestAlgorithm = DIGESTS[signer.digestAlgorithm];
    if (!digestAlgorithm) {
      failure("unsupported-algorithm", `CMS digest algorithm ${WEAK_DIGESTS[signer.digestAlgorithm] ?? signer.digestAlgorithm} is not accepted; use SHA-256, SHA-384 or SHA-512`, {
        algorithm: signer.digestAlgorithm,
      });
    }

    // The content.
    let content: Uint8Array;
    const detached = sd.content === undefined;
    if (sd.content !== undefined) {
      if (options?.content && !bytesEqual(options.content, sd.content)) {
        failure("bad-signature", "the content given differs from the content inside the SignedData", { target: "content" });
      }
      content = sd.content;
    } else if (options?.content) content = options.content;
    else return bad("the signature is detached: give the signed content too (--content FILE on the command line, options.content in the API)");

    // The signer certificate. A JPKI signature carries the signer's and perhaps its CA's: a bag of
    // hundreds would each be parsed (and pushed through the shared certificate cache) before a match.
    if (sd.certificates.length > MAX_CMS_CERTIFICATES) {
      failure("malformed-input", `the SignedData carries ${sd.certificates.length} certificates; at most ${MAX_CMS_CERTIFICATES} are read`, { limit: MAX_CMS_CERTIFICATES });
    }
    const candidates = options?.signerCertificate ? [options.signerCertificate, ...sd.certificates] : sd.certificates;
    let cert: ParsedCertificate | undefined;
    for (const der of candidates) {
      const c = core.certificates.get(der, "certificate in the SignedData");
      const matches =
        "keyId" in signer.sid
          ? bytesEqual(subjectKeyIdOf(c) ?? new Uint8Array(), signer.sid.keyId)
          : bytesEqual(c.issuerNameDer, signer.sid.issuerDer) && bytesEqual(stripLeadingZeros(Buffer.from(c.serialHex, "hex")), signer.sid.serial);
      if (matches) {
        cert = c;
        break;
      }
    }
    if (!cert) bad("the signer's certificate is not in the SignedData (pass it as options.signerCertificate)");
    state.certificate = certificateInfo(cert);

    // The signature.
    const digest = createHash(digestAlgorithm).update(content).digest();
    let signedBytes: Uint8Array;
    let signingTime: Date | undefined;
    if (signer.signedAttrs) {
      const attrs = signer.signedAttrs.attributes;
      if (attributeOid(onlyValue(attrs, CMS_OID.contentType, "contentType"), "contentType value") !== sd.eContentType) bad("the contentType attribute differs from eContentType");
      if (!bytesEqual(attributeOctets(onlyValue(attrs, CMS_OID.messageDigest, "messageDigest"), "messageDigest value"), digest)) {
        failure("bad-signature", "the content's digest differs from the signed messageDigest: the content was altered", { target: "content" });
      }
      signingTime = signingTimeOf(attrs);
      signedBytes = signer.signedAttrs.der;
    } else {
      if (sd.eContentType !== CMS_OID.data) bad("without signed attributes the content type must be id-data");
      signedBytes = content;
    }
    const sigHash = signer.signatureAlgorithm === CMS_OID.rsaEncryption ? digestAlgorithm : RSA_SIGNATURE_HASH[signer.signatureAlgorithm];
    if (!sigHash) failure("unsupported-algorithm", `CMS signature algorithm ${signer.signatureAlgorithm} is not accepted (RSA PKCS#1 v1.5 only)`, { algorithm: signer.signatureAlgorithm });
    if (sigHash !== digestAlgorithm) bad("signatureAlgorithm and digestAlgorithm name different hashes");
    if (cert.publicKey.asymmetricKeyType !== "rsa") failure("unsupported-algorithm", "the signer's key is not RSA");
    let ok = false;
    try {
      ok = verify(sigHash, signedBytes, cert.publicKey, signer.signature);
    } catch {
      ok = false;
    }
    if (!ok) failure("bad-signature", "the CMS signature does not verify with the signer's certificate", { target: "signature" });

    // The certificate, and that it was valid when the signer says it signed.
    const checked = await core.checkCertificate(cert, expectedType, at, state, signingTime);
    return core.result(
      checked,
      // Copies: the result must not change when the caller reuses its input buffer.
      { format: "cms", digestAlgorithm, detached, ...(signingTime ? { signingTime: signingTime.toISOString() } : {}), value: signer.signature.slice() },
      detached ? undefined : content.slice(),
    );
  });
}
