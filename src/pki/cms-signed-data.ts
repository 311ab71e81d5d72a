/**
 * CMS SignedData (RFC 5652) around a signature made elsewhere — on a My Number Card, whose
 * private key never leaves the chip. Two steps, so the signer can be anything that signs a
 * PKCS#1 v1.5 DigestInfo:
 *
 * 1. {@link prepareSignedAttributes}: the signed attributes (contentType, signingTime,
 *    messageDigest and, when the certificate is known, ESS signingCertificateV2) as the DER
 *    `SET OF Attribute` that RFC 5652 §5.4 says is hashed and signed, plus that hash.
 * 2. {@link assembleSignedData}: the ContentInfo with one SignerInfo (sid = issuerAndSerialNumber,
 *    rsaEncryption), the content attached or detached, and the signer's certificate (optionally
 *    the CA certificate too). The signature is checked against the certificate's key first, so
 *    a wrong key or a corrupted answer never leaves here as a "signed" document.
 *
 * Hand-written DER (./der.ts): every SET OF is sorted, lengths are definite and minimal, the
 * certificate's issuer Name and serial are copied byte for byte. Digest AlgorithmIdentifiers
 * carry no parameters (RFC 5754 §2); the signature algorithm is rsaEncryption with NULL
 * (RFC 3370 §3.2), as OpenSSL writes them.
 */
import { createHash, verify, X509Certificate } from "node:crypto";
import { readCertificateFields } from "./certificate-fields.ts";
import { TAG, bytesEqual } from "../profile/der-reader.ts";
import { DER_NULL, concat, contextTag, octetString, oid, seq, time, tlv, unsignedInteger } from "./der.ts";

export type CmsHash = "sha256" | "sha384" | "sha512";
export const CMS_HASHES: readonly CmsHash[] = ["sha256", "sha384", "sha512"];

const DIGEST_OID: Readonly<Record<CmsHash, string>> = {
  sha256: "2.16.840.1.101.3.4.2.1",
  sha384: "2.16.840.1.101.3.4.2.2",
  sha512: "2.16.840.1.101.3.4.2.3",
};
const DIGEST_LENGTH: Readonly<Record<CmsHash, number>> = { sha256: 32, sha384: 48, sha512: 64 };

const OID_DATA = oid("1.2.840.113549.1.7.1");
const OID_SIGNED_DATA = oid("1.2.840.113549.1.7.2");
const OID_CONTENT_TYPE = oid("1.2.840.113549.1.9.3");
const OID_MESSAGE_DIGEST = oid("1.2.840.113549.1.9.4");
const OID_SIGNING_TIME = oid("1.2.840.113549.1.9.5");
const OID_SIGNING_CERTIFICATE_V2 = oid("1.2.840.113549.1.9.16.2.47");
const OID_RSA_ENCRYPTION = oid("1.2.840.113549.1.1.1");
const INTEGER_1 = Uint8Array.of(TAG.INTEGER, 0x01, 0x01);

/** Largest content accepted (the whole SignedData is built in memory). */
export const MAX_CMS_CONTENT_BYTES = 256 * 1024 * 1024;

export interface SignedAttributesRequest {
  /** The content to sign (attached or detached later: the signed attributes are the same). */
  content: Uint8Array;
  /** Default sha256. Also the hash of the signature over the signed attributes. */
  hash?: CmsHash;
  /** The signingTime attribute (whole seconds; UTCTime before 2050). */
  signingTime: Date;
  /**
   * The signer's certificate (DER). When given, an ESS signingCertificateV2 attribute (RFC 5035)
   * binds the signature to it — what CAdES-BES asks for. Omit to sign without it.
   */
  certificateDer?: Uint8Array;
}

export interface PreparedSignedAttributes {
  readonly hash: CmsHash;
  /** DER `SET OF Attribute` (tag 0x31): exactly what gets hashed and signed. */
  readonly signedAttrsDer: Uint8Array;
  /** `hash(signedAttrsDer)`: give it to a signer that wraps a prehashed digest in a DigestInfo. */
  readonly signedAttrsDigest: Uint8Array;
  /** The messageDigest attribute's value: `hash(content)`. */
  readonly contentDigest: Uint8Array;
  readonly signingTime: Date;
  /** The certificate the signingCertificateV2 attribute names, if any. */
  readonly certificateDer?: Uint8Array;
}

export interface AssembleRequest {
  signedAttributes: PreparedSignedAttributes;
  /** RSA PKCS#1 v1.5 signature over `signedAttributes.signedAttrsDer` with its hash. */
  signature: Uint8Array;
  /** The signer's certificate (DER); its issuer and serial become the sid. */
  certificateDer: Uint8Array;
  /** More certificates for `certificates`, e.g. the issuing CA. */
  extraCertificatesDer?: readonly Uint8Array[];
  /** The content: required when attached; when given with `detached`, it is checked against the digest. */
  content?: Uint8Array;
  /** Leave the content out of the SignedData (the verifier is given it separately). */
  detached?: boolean;
}

/** Why a SignedData could not be built (bad arguments, or a signature that does not verify). */
export class CmsBuildError extends Error {
  override readonly name = "CmsBuildError";
  constructor(
    readonly code: "invalid-argument" | "bad-signature" | "certificate-mismatch",
    message: string,
  ) {
    super(message);
  }
}

function checkHash(hash: unknown): CmsHash {
  if (typeof hash !== "string" || !(CMS_HASHES as readonly string[]).includes(hash)) {
    throw new CmsBuildError("invalid-argument", `hash must be one of ${CMS_HASHES.join(", ")}, not ${String(hash)}`);
  }
  return hash as CmsHash;
}

function checkBytes(value: unknown, what: string, max = MAX_CMS_CONTENT_BYTES): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new CmsBuildError("invalid-argument", `${what} must be a Uint8Array`);
  if (value.length > max) throw new CmsBuildError("invalid-argument", `${what} is larger than ${max} bytes`);
  return value;
}

function digest(hash: CmsHash, data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash(hash).update(data).digest());
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** DER SET OF: the members' encodings in ascending order (X.690 §11.6). */
export function derSetOf(members: readonly Uint8Array[], tag: number = TAG.SET): Uint8Array {
  return tlv(tag, ...[...members].sort(compareBytes));
}

function attribute(type: Uint8Array, value: Uint8Array): Uint8Array {
  return seq(type, tlv(TAG.SET, value));
}

function digestAlgorithm(hash: CmsHash): Uint8Array {
  return seq(oid(DIGEST_OID[hash]));
}

function parseCertificate(der: Uint8Array, what: string) {
  checkBytes(der, what, 64 * 1024);
  try {
    return { fields: readCertificateFields(der), x509: new X509Certificate(der) };
  } catch (error) {
    throw new CmsBuildError("invalid-argument", `${what} is not an X.509 certificate: ${(error as Error).message}`);
  }
}

/** ESS signingCertificateV2 with one ESSCertIDv2 (SHA-256, so hashAlgorithm is left at its DEFAULT) and issuerSerial. */
function signingCertificateV2(certificateDer: Uint8Array): Uint8Array {
  const { fields } = parseCertificate(certificateDer, "certificateDer");
  const issuerSerial = seq(seq(tlv(contextTag(4, true), fields.issuerNameDer)), unsignedInteger(fields.serial));
  const essCertIdV2 = seq(octetString(digest("sha256", certificateDer)), issuerSerial);
  return seq(seq(essCertIdV2));
}

/** Step 1: the signed attributes and what to sign. */
export function prepareSignedAttributes(request: SignedAttributesRequest): PreparedSignedAttributes {
  const hash = checkHash(request.hash ?? "sha256");
  const content = checkBytes(request.content, "content");
  if (!(request.signingTime instanceof Date) || Number.isNaN(request.signingTime.getTime())) {
    throw new CmsBuildError("invalid-argument", "signingTime must be a valid Date");
  }
  const signingTime = new Date(Math.floor(request.signingTime.getTime() / 1000) * 1000);
  const contentDigest = digest(hash, content);
  const attributes = [
    attribute(OID_CONTENT_TYPE, OID_DATA),
    attribute(OID_SIGNING_TIME, time(signingTime)),
    attribute(OID_MESSAGE_DIGEST, octetString(contentDigest)),
  ];
  if (request.certificateDer !== undefined) attributes.push(attribute(OID_SIGNING_CERTIFICATE_V2, signingCertificateV2(request.certificateDer)));
  const signedAttrsDer = derSetOf(attributes);
  return {
    hash,
    signedAttrsDer,
    signedAttrsDigest: digest(hash, signedAttrsDer),
    contentDigest,
    signingTime,
    ...(request.certificateDer !== undefined ? { certificateDer: request.certificateDer.slice() } : {}),
  };
}

/** Step 2: the DER ContentInfo holding the SignedData. */
export function assembleSignedData(request: AssembleRequest): Uint8Array {
  const prepared = request.signedAttributes;
  if (prepared === null || typeof prepared !== "object") throw new CmsBuildError("invalid-argument", "signedAttributes is required");
  const hash = checkHash(prepared.hash);
  const signedAttrsDer = checkBytes(prepared.signedAttrsDer, "signedAttrsDer");
  if (signedAttrsDer[0] !== TAG.SET) throw new CmsBuildError("invalid-argument", "signedAttrsDer must be a DER SET (0x31)");
  if (!(prepared.contentDigest instanceof Uint8Array) || prepared.contentDigest.length !== DIGEST_LENGTH[hash]) {
    throw new CmsBuildError("invalid-argument", `contentDigest must be a ${hash} digest`);
  }
  const signature = checkBytes(request.signature, "signature", 1024);
  const detached = request.detached === true;
  const content = request.content === undefined ? undefined : checkBytes(request.content, "content");
  if (!detached && content === undefined) throw new CmsBuildError("invalid-argument", "content is required for an attached SignedData");
  if (content !== undefined && !bytesEqual(digest(hash, content), prepared.contentDigest)) {
    throw new CmsBuildError("invalid-argument", "content differs from the content the signed attributes were prepared for");
  }

  const signer = parseCertificate(request.certificateDer, "certificateDer");
  if (prepared.certificateDer !== undefined && !bytesEqual(prepared.certificateDer, request.certificateDer)) {
    throw new CmsBuildError("certificate-mismatch", "the signed attributes name a different certificate (signingCertificateV2)");
  }
  if (signer.x509.publicKey.asymmetricKeyType !== "rsa") throw new CmsBuildError("invalid-argument", "the signer's key is not RSA");
  if (!verify(hash, signedAttrsDer, signer.x509.publicKey, signature)) {
    throw new CmsBuildError("bad-signature", "the signature does not verify with the certificate's public key (wrong key or corrupted signature)");
  }

  const extra = (request.extraCertificatesDer ?? []).map((der, i) => {
    parseCertificate(der, `extraCertificatesDer[${i}]`);
    return der;
  });
  const certificates = [request.certificateDer, ...extra.filter((der) => !bytesEqual(der, request.certificateDer))];
  const unique = certificates.filter((der, i) => certificates.findIndex((other) => bytesEqual(other, der)) === i);

  const signerInfo = seq(
    INTEGER_1, // version 1: sid is issuerAndSerialNumber
    seq(signer.fields.issuerNameDer, unsignedInteger(signer.fields.serial)),
    digestAlgorithm(hash),
    // [0] IMPLICIT SignedAttributes: the same content as the signed SET, tag A0.
    concat([Uint8Array.of(contextTag(0, true)), signedAttrsDer.subarray(1)]),
    seq(OID_RSA_ENCRYPTION, DER_NULL),
    octetString(signature),
  );
  const encapContentInfo = content !== undefined && !detached ? seq(OID_DATA, tlv(contextTag(0, true), octetString(content))) : seq(OID_DATA);
  const signedData = seq(
    INTEGER_1, // version 1: id-data, no attribute certificates, only v1 SignerInfos
    tlv(TAG.SET, digestAlgorithm(hash)),
    encapContentInfo,
    derSetOf(unique, contextTag(0, true)),
    tlv(TAG.SET, signerInfo),
  );
  return seq(OID_SIGNED_DATA, tlv(contextTag(0, true), signedData));
}
