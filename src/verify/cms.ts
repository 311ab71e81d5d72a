/**
 * CMS SignedData (RFC 5652), attached or detached, one signer, RSA PKCS#1 v1.5 with SHA-256/384/512,
 * with or without signed attributes. Parsed with asn1js (BER accepted, as producers stream CMS
 * with indefinite lengths) within node and size limits, and checked by hand with node:crypto so
 * every rule is visible here:
 *
 * - exactly one SignerInfo; its digest algorithm SHA-256/384/512;
 * - with signed attributes: exactly one contentType equal to eContentType, exactly one
 *   messageDigest equal to the content's digest, and the signature over their DER (SET OF);
 * - without: the content must be id-data and the signature is over the content itself;
 * - the signer certificate is the one the SignerInfo names (issuer+serial or key identifier),
 *   taken from the SignedData or given by the caller; then every certificate check.
 */
import { createHash, verify } from "node:crypto";
import * as asn1js from "asn1js";
import { RSA_SIGNATURE_HASH, parseCertificate, subjectKeyIdOf, type ParsedCertificate } from "./certificate.ts";
import { bytesEqual, readTlv, u8 } from "./der.ts";
import { describeError, failure } from "./errors.ts";
import { certificateInfo, checkCallOptions, type VerifierCore } from "./verifier.ts";
import type { CmsOptions, HashName, VerificationResult } from "./types.ts";

const OID = {
  signedData: "1.2.840.113549.1.7.2",
  data: "1.2.840.113549.1.7.1",
  contentType: "1.2.840.113549.1.9.3",
  messageDigest: "1.2.840.113549.1.9.4",
  signingTime: "1.2.840.113549.1.9.5",
  rsaEncryption: "1.2.840.113549.1.1.1",
} as const;

const DIGESTS: Readonly<Record<string, HashName>> = {
  "2.16.840.1.101.3.4.2.1": "sha256",
  "2.16.840.1.101.3.4.2.2": "sha384",
  "2.16.840.1.101.3.4.2.3": "sha512",
};
const WEAK_DIGESTS: Readonly<Record<string, string>> = { "1.3.14.3.2.26": "SHA-1", "1.2.840.113549.2.5": "MD5" };

type Block = asn1js.AsnType;

function bad(message: string): never {
  return failure("malformed-input", `CMS: ${message}`);
}

function isUniversal(b: Block | undefined, tag: number): b is Block {
  return b !== undefined && b.idBlock.tagClass === 1 && b.idBlock.tagNumber === tag;
}
function isContext(b: Block | undefined, tag: number): b is Block {
  return b !== undefined && b.idBlock.tagClass === 3 && b.idBlock.tagNumber === tag;
}
function items(b: Block, what: string): Block[] {
  const v = (b.valueBlock as { value?: unknown }).value;
  if (!b.idBlock.isConstructed || !Array.isArray(v)) bad(`${what} is not constructed`);
  return v as Block[];
}
function seq(b: Block | undefined, what: string): Block[] {
  if (!isUniversal(b, 16)) bad(`${what} is not a SEQUENCE`);
  return items(b, what);
}
function set(b: Block | undefined, what: string): Block[] {
  if (!isUniversal(b, 17)) bad(`${what} is not a SET`);
  return items(b, what);
}
function oid(b: Block | undefined, what: string): string {
  if (!(b instanceof asn1js.ObjectIdentifier)) bad(`${what} is not an OBJECT IDENTIFIER`);
  return b.getValue();
}
function octets(b: Block | undefined, what: string): Uint8Array {
  if (!(b instanceof asn1js.OctetString)) bad(`${what} is not an OCTET STRING`);
  return u8(b.getValue());
}
/** The exact encoding of a block as it appeared in the input. */
function encoding(b: Block): Uint8Array {
  return b.valueBeforeDecodeView;
}
function algorithm(b: Block | undefined, what: string): string {
  return oid(seq(b, what)[0], `${what} algorithm`);
}

interface Signer {
  readonly sid: { issuerDer: Uint8Array; serial: Uint8Array } | { keyId: Uint8Array };
  readonly digest: HashName;
  readonly signedAttrs?: { der: Uint8Array; attributes: { type: string; values: Block[] }[] };
  readonly signatureAlgorithm: string;
  readonly signature: Uint8Array;
}

function stripZeros(b: Uint8Array): Uint8Array {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return b.subarray(i);
}

function readSigner(b: Block): Signer {
  const f = seq(b, "SignerInfo");
  let i = 1; // after version
  const sidBlock = f[i++];
  let sid: Signer["sid"];
  if (isUniversal(sidBlock, 16)) {
    const [issuer, serial] = items(sidBlock, "issuerAndSerialNumber");
    if (!isUniversal(issuer, 16) || !(serial instanceof asn1js.Integer)) bad("malformed issuerAndSerialNumber");
    sid = { issuerDer: encoding(issuer), serial: stripZeros(u8(serial.valueBlock.valueHexView)) };
  } else if (isContext(sidBlock, 0)) {
    const raw = encoding(sidBlock);
    const t = readTlv(raw, 0);
    sid = { keyId: raw.slice(t.contentStart, t.end) };
  } else return bad("unknown SignerIdentifier");
  const digestOid = algorithm(f[i++], "digestAlgorithm");
  const digest = DIGESTS[digestOid];
  if (!digest) {
    failure("unsupported-algorithm", `CMS digest algorithm ${WEAK_DIGESTS[digestOid] ?? digestOid} is not accepted; use SHA-256, SHA-384 or SHA-512`, { algorithm: digestOid });
  }
  let signedAttrs: Signer["signedAttrs"];
  if (isContext(f[i], 0)) {
    const block = f[i++]!;
    const raw = encoding(block);
    if (raw[1] === 0x80) bad("signedAttrs must be DER (definite length)");
    const der = raw.slice();
    der[0] = 0x31; // the signature covers the attributes as a SET OF
    const attributes = items(block, "signedAttrs").map((a) => {
      const [type, values] = seq(a, "Attribute");
      return { type: oid(type, "attribute type"), values: set(values, "attribute values") };
    });
    signedAttrs = { der, attributes };
  }
  const signatureAlgorithm = algorithm(f[i++], "signatureAlgorithm");
  const signature = octets(f[i++], "signature");
  return { sid, digest, ...(signedAttrs ? { signedAttrs } : {}), signatureAlgorithm, signature };
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
    let top: Block;
    try {
      const parsed = asn1js.fromBER(cmsDer, { maxNodes: 20_000, maxDepth: 64, parseEmbedded: false });
      if (parsed.offset === -1 || parsed.result.error) throw new Error(parsed.result.error || "not BER");
      if (parsed.offset !== cmsDer.length) throw new Error("trailing bytes after the ContentInfo");
      top = parsed.result;
    } catch (error) {
      return bad(`not a BER/DER ContentInfo: ${describeError(error)}`);
    }

    // ContentInfo → SignedData
    const [ctype, wrapped] = seq(top, "ContentInfo");
    if (oid(ctype, "contentType") !== OID.signedData) bad("not a SignedData");
    if (!isContext(wrapped, 0)) bad("ContentInfo has no content");
    const sd = seq(items(wrapped, "content")[0], "SignedData");
    let i = 1; // version
    set(sd[i++], "digestAlgorithms");
    const [eType, eWrapped] = seq(sd[i++], "encapContentInfo");
    const eContentType = oid(eType, "eContentType");
    let embedded: Uint8Array | undefined;
    if (eWrapped !== undefined) {
      if (!isContext(eWrapped, 0)) bad("malformed eContent");
      embedded = octets(items(eWrapped, "eContent")[0], "eContent");
    }
    const certificates: Uint8Array[] = [];
    if (isContext(sd[i], 0)) {
      for (const c of items(sd[i++]!, "certificates")) if (isUniversal(c, 16)) certificates.push(encoding(c));
    }
    if (isContext(sd[i], 1)) i++; // crls: not used (revocation comes from OCSP/CRL sources)
    const signerInfos = set(sd[i], "signerInfos");
    if (signerInfos.length !== 1) bad(`expected exactly one signer, found ${signerInfos.length}`);
    const signer = readSigner(signerInfos[0]!);

    // The content.
    let content: Uint8Array;
    const detached = embedded === undefined;
    if (embedded !== undefined) {
      if (options?.content && !bytesEqual(options.content, embedded)) {
        failure("bad-signature", "the content given differs from the content inside the SignedData", { target: "content" });
      }
      content = embedded;
    } else if (options?.content) content = options.content;
    else return bad("the signature is detached: pass the signed content as options.content");

    // The signer certificate.
    const candidates = options?.signerCertificate ? [options.signerCertificate, ...certificates] : certificates;
    let cert: ParsedCertificate | undefined;
    for (const der of candidates) {
      const c = parseCertificate(der, "certificate in the SignedData");
      const matches =
        "keyId" in signer.sid
          ? bytesEqual(subjectKeyIdOf(c) ?? new Uint8Array(), signer.sid.keyId)
          : bytesEqual(c.issuerNameDer, signer.sid.issuerDer) && bytesEqual(stripZeros(Buffer.from(c.serialHex, "hex")), signer.sid.serial);
      if (matches) {
        cert = c;
        break;
      }
    }
    if (!cert) bad("the signer's certificate is not in the SignedData (pass it as options.signerCertificate)");
    state.certificate = certificateInfo(cert);

    // The signature.
    const digest = new Uint8Array(createHash(signer.digest).update(content).digest());
    let signedBytes: Uint8Array;
    let signingTime: string | undefined;
    if (signer.signedAttrs) {
      const attrs = signer.signedAttrs.attributes;
      const one = (type: string, what: string): Block => {
        const found = attrs.filter((a) => a.type === type);
        if (found.length !== 1 || found[0]!.values.length !== 1) bad(`signed attributes must hold exactly one ${what}`);
        return found[0]!.values[0]!;
      };
      if (oid(one(OID.contentType, "contentType"), "contentType value") !== eContentType) bad("the contentType attribute differs from eContentType");
      if (!bytesEqual(octets(one(OID.messageDigest, "messageDigest"), "messageDigest value"), digest)) {
        failure("bad-signature", "the content's digest differs from the signed messageDigest: the content was altered", { target: "content" });
      }
      const time = attrs.find((a) => a.type === OID.signingTime)?.values[0];
      if (time instanceof asn1js.UTCTime || time instanceof asn1js.GeneralizedTime) signingTime = time.toDate().toISOString();
      signedBytes = signer.signedAttrs.der;
    } else {
      if (eContentType !== OID.data) bad("without signed attributes the content type must be id-data");
      signedBytes = content;
    }
    const sigHash = signer.signatureAlgorithm === OID.rsaEncryption ? signer.digest : RSA_SIGNATURE_HASH[signer.signatureAlgorithm];
    if (!sigHash) failure("unsupported-algorithm", `CMS signature algorithm ${signer.signatureAlgorithm} is not accepted (RSA PKCS#1 v1.5 only)`, { algorithm: signer.signatureAlgorithm });
    if (sigHash !== signer.digest) bad("signatureAlgorithm and digestAlgorithm name different hashes");
    if (cert.publicKey.asymmetricKeyType !== "rsa") failure("unsupported-algorithm", "the signer's key is not RSA");
    let ok = false;
    try {
      ok = verify(sigHash, signedBytes, cert.publicKey, signer.signature);
    } catch {
      ok = false;
    }
    if (!ok) failure("bad-signature", "the CMS signature does not verify with the signer's certificate", { target: "signature" });

    const checked = await core.checkCertificate(cert, expectedType, at, state);
    return core.result(
      checked,
      { format: "cms", digestAlgorithm: signer.digest, detached, ...(signingTime ? { signingTime } : {}) },
      detached ? undefined : content,
    );
  });
}
