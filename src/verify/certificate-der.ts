/**
 * The verifier's strict reader of X.509 certificates (RFC 5280 §4.1) and of the extensions its
 * checks decode, on the shared DER reader (src/profile/der-reader.ts). A generic ASN.1 parser
 * (@peculiar/asn1-schema) built a tree of objects for every certificate and took most of a cold
 * verification's time (≈2 ms of ≈2.7 ms: every signer of a relying party is new to it). Reading
 * in place costs a few microseconds.
 *
 * Only DER is read: definite, minimal lengths; no constructed strings; BOOLEAN and BIT STRING in
 * their DER forms; a version field only when it is not the default; extensions only in a v3
 * certificate; an RSA PKCS#1 signature algorithm's parameters NULL (or absent, RFC 4055), other
 * algorithms' a strict DER tree. Anything else throws `DerReadError`, which the caller turns into
 * `malformed-input`.
 *
 * Accepted though DER would not write them (each harmless to the checks, which compare names and
 * keys by their exact bytes, and all under the issuer's signature): an explicit `critical FALSE`
 * (BOOLEAN 00: some issuers write the DEFAULT), keyUsage bits with trailing zero bits kept, a
 * multi-valued RDN not in SET OF order, an empty RDN, and PrintableString or IA5String bytes
 * outside their alphabets (shown as they are). JPKI's certificates and J-LIS's roots use none.
 *
 * Names and extension values whose form the checks read by hand are decoded here. Rare forms
 * (a name in TeletexString or BMPString, a distribution point limited to some reasons, a
 * GeneralName other than the ones JPKI writes) make the decoder answer `undefined`: the caller
 * then checks that the value is strict DER ({@link checkDerTree}) and decodes it with the generic
 * parser, as before, so their meaning is unchanged.
 */
import { DerCursor, DerReadError, TAG, bytesEqual, contentOf, encodingOf, readOnly, readTlv, type NodeBudget, type Tlv } from "../profile/der-reader.ts";
import { X509_OID } from "../profile/x509-oids.ts";
import { bitStringBytes, booleanValue, integerContent, oidText, readExplicitExtensions } from "../profile/der-values.ts";
import { derTime, readAlgorithmOid, UTF8_DECODER } from "./der.ts";

/** Most ASN.1 elements one certificate may hold (as read here: names, extensions' framing). */
const CERTIFICATE_MAX_NODES = 2_000;
/** Most ASN.1 elements in one extension value walked by {@link checkDerTree}. */
const EXTENSION_MAX_NODES = 1_000;

interface CertificateExtension {
  readonly critical: boolean;
  /** The extnValue OCTET STRING's content: the extension's own DER (a view into the certificate). */
  readonly value: Uint8Array;
}

/** Views into the certificate's DER: the caller keeps the bytes unchanged (parseCertificate reads a private copy). */
export interface CertificateFields {
  readonly tbsDer: Uint8Array;
  readonly signatureAlgorithm: string;
  readonly signature: Uint8Array;
  /** 1, 2 or 3. */
  readonly version: number;
  /** The serialNumber INTEGER's content as written (minimal). */
  readonly serial: Uint8Array;
  readonly issuerNameDer: Uint8Array;
  readonly subjectNameDer: Uint8Array;
  /** "C=JP, O=…" (see readName), or undefined when a value is in a form read only by the generic parser. */
  readonly issuer: string | undefined;
  readonly subject: string | undefined;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly spkiDer: Uint8Array;
  readonly spkiKeyBits: Uint8Array;
  /**
   * The key bits as a PKCS#1 RSAPublicKey when the key is plain RSA (rsaEncryption with NULL
   * parameters) and they are one in strict DER: importing that is ~40 times cheaper than the
   * SubjectPublicKeyInfo (OpenSSL 3 looks for a decoder for every SPKI it reads).
   */
  readonly rsaPublicKey: Uint8Array | undefined;
  readonly extensions: ReadonlyMap<string, CertificateExtension>;
}

const ISSUER_UNIQUE_ID = 0x81; // [1] IMPLICIT BIT STRING
const SUBJECT_UNIQUE_ID = 0x82; // [2] IMPLICIT BIT STRING
const EXTENSIONS = 0xa3; // [3] EXPLICIT Extensions

/** Reads a whole Certificate strictly. Throws `DerReadError` for anything that is not one in DER. */
export function readCertificateDer(der: Uint8Array): CertificateFields {
  const budget: NodeBudget = { remaining: CERTIFICATE_MAX_NODES };
  const cert = DerCursor.only(der, TAG.SEQUENCE, "Certificate", budget);
  const tbsTlv = cert.next(TAG.SEQUENCE, "tbsCertificate");
  const outerAlgorithm = cert.next(TAG.SEQUENCE, "signatureAlgorithm");
  const signature = bitStringBytes(der, cert.next(TAG.BIT_STRING, "signatureValue"));
  cert.end();
  const signatureAlgorithm = readAlgorithmOid(cursorAt(der, outerAlgorithm, budget), "signatureAlgorithm");
  checkAlgorithmParameters(der, outerAlgorithm, signatureAlgorithm, budget);

  const tbs = cert.into(tbsTlv, "TBSCertificate");
  let version = 1;
  const versionTlv = tbs.optional(TAG.CONTEXT_0, "version");
  if (versionTlv) {
    const v = tbs.into(versionTlv, "version");
    const n = integerContent(der, v.next(TAG.INTEGER, "version"));
    v.end();
    // DER leaves out a field equal to its DEFAULT, so an explicit v1 (0) is not DER.
    if (n.length !== 1 || (n[0] !== 1 && n[0] !== 2)) throw new DerReadError("TBSCertificate: version is not v2 or v3");
    version = n[0]! + 1;
  }
  const serial = integerContent(der, tbs.next(TAG.INTEGER, "serialNumber"));
  const innerAlgorithm = tbs.next(TAG.SEQUENCE, "signature");
  // RFC 5280 §4.1.1.2: the algorithm inside the signed part must be the one outside it.
  if (!sameBytes(der, innerAlgorithm, outerAlgorithm)) throw new DerReadError("the signature algorithm inside the certificate differs from the one outside it");
  const issuerTlv = tbs.next(TAG.SEQUENCE, "issuer");
  const issuer = readName(tbs, issuerTlv, "issuer");
  const validity = tbs.enter(TAG.SEQUENCE, "validity", "Validity");
  const notBefore = derTime(der, validity.any("notBefore"));
  const notAfter = derTime(der, validity.any("notAfter"));
  validity.end();
  const subjectTlv = tbs.next(TAG.SEQUENCE, "subject");
  const subject = readName(tbs, subjectTlv, "subject");
  const spkiTlv = tbs.next(TAG.SEQUENCE, "subjectPublicKeyInfo");
  const spki = tbs.into(spkiTlv, "SubjectPublicKeyInfo");
  const keyAlgorithm = spki.next(TAG.SEQUENCE, "algorithm");
  const spkiKeyBits = bitStringBytes(der, spki.next(TAG.BIT_STRING, "subjectPublicKey"));
  spki.end();
  if (spkiKeyBits.length === 0) throw new DerReadError("SubjectPublicKeyInfo: an empty subjectPublicKey");
  const rsaPublicKey = isRsaEncryption(der, keyAlgorithm) ? rsaPublicKeyDer(spkiKeyBits) : undefined;
  uniqueIdentifier(tbs, ISSUER_UNIQUE_ID, version);
  uniqueIdentifier(tbs, SUBJECT_UNIQUE_ID, version);
  const list = readExplicitExtensions(tbs, EXTENSIONS, "extensions");
  if (list.length > 0 && version !== 3) throw new DerReadError("TBSCertificate: extensions in a certificate that is not v3");
  const extensions = new Map<string, CertificateExtension>();
  for (const e of list) extensions.set(e.oid, { critical: e.critical, value: e.value });
  tbs.end();
  return {
    tbsDer: encodingOf(der, tbsTlv),
    signatureAlgorithm,
    signature,
    version,
    serial,
    issuerNameDer: encodingOf(der, issuerTlv),
    subjectNameDer: encodingOf(der, subjectTlv),
    issuer,
    subject,
    notBefore,
    notAfter,
    spkiDer: encodingOf(der, spkiTlv),
    spkiKeyBits,
    rsaPublicKey,
    extensions,
  };
}

/** RSA PKCS#1 v1.5 signature algorithms (sha1/224/256/384/512WithRSAEncryption): their parameters are NULL (RFC 4055 §5). */
const RSA_PKCS1_SIGNATURES = new Set(["1.2.840.113549.1.1.5", "1.2.840.113549.1.1.14", "1.2.840.113549.1.1.11", "1.2.840.113549.1.1.12", "1.2.840.113549.1.1.13"]);

/**
 * A signature AlgorithmIdentifier's parameters in DER: NULL (or absent) for RSA PKCS#1 v1.5
 * (what JPKI signs with), and any other algorithm's walked as a strict DER tree (RSASSA-PSS, ECDSA).
 */
function checkAlgorithmParameters(bytes: Uint8Array, algorithm: Tlv, oid: string, budget: NodeBudget): void {
  const c = cursorAt(bytes, algorithm, budget);
  const alg = c.enter(TAG.SEQUENCE, "signatureAlgorithm");
  alg.skip(TAG.OID, "signatureAlgorithm algorithm");
  if (RSA_PKCS1_SIGNATURES.has(oid)) {
    // NULL, or absent, which RFC 4055 §5 has readers accept too.
    const nul = alg.done ? undefined : alg.next(TAG.NULL, "signatureAlgorithm parameters");
    if (nul && nul.end !== nul.contentStart) throw new DerReadError("signatureAlgorithm: a NULL with content");
  } else if (!alg.done) {
    checkDerTree(bytes, alg.any("signatureAlgorithm parameters"), budget, 1);
  }
  alg.end();
}

/** AlgorithmIdentifier { rsaEncryption, NULL }, as every RSA key of JPKI names itself. */
const RSA_ENCRYPTION_DER = Uint8Array.of(0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00);

function isRsaEncryption(bytes: Uint8Array, t: Tlv): boolean {
  return bytesEqual(encodingOf(bytes, t), RSA_ENCRYPTION_DER);
}

/**
 * `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }` read strictly, both
 * positive; `undefined` when the bits are anything else (the caller then lets OpenSSL judge the
 * whole SubjectPublicKeyInfo, as before).
 */
function rsaPublicKeyDer(bits: Uint8Array): Uint8Array | undefined {
  try {
    const key = DerCursor.only(bits, TAG.SEQUENCE, "RSAPublicKey");
    const n = integerContent(bits, key.next(TAG.INTEGER, "modulus"));
    const e = integerContent(bits, key.next(TAG.INTEGER, "publicExponent"));
    key.end();
    if (n[0]! & 0x80 || e[0]! & 0x80) return undefined;
    return bits;
  } catch {
    return undefined;
  }
}

/** issuerUniqueID or subjectUniqueID, when present: only in v2 and v3, a DER BIT STRING (never read). */
function uniqueIdentifier(tbs: DerCursor, tag: number, version: number): void {
  const id = tbs.optional(tag, "uniqueIdentifier");
  if (!id) return;
  if (version < 2) throw new DerReadError("TBSCertificate: a unique identifier in a v1 certificate");
  bitStringValue(tbs.bytes, id);
}

/** A cursor whose one child is `t` (to read an element already stepped over). */
function cursorAt(bytes: Uint8Array, t: Tlv, budget: NodeBudget): DerCursor {
  return new DerCursor(bytes, t.start, "Certificate", budget, 0, t.end);
}

function sameBytes(bytes: Uint8Array, a: Tlv, b: Tlv): boolean {
  return bytesEqual(encodingOf(bytes, a), encodingOf(bytes, b));
}

/** A BIT STRING's content (unused-bits byte first) in DER: at most 7 unused bits, all zero, none in an empty string. */
function bitStringValue(bytes: Uint8Array, t: Tlv): Uint8Array {
  const n = t.end - t.contentStart;
  if (n < 1) throw new DerReadError("BIT STRING without its unused-bits byte");
  const unused = bytes[t.contentStart]!;
  if (unused > 7 || (n === 1 && unused !== 0)) throw new DerReadError("BIT STRING with a bad unused-bits count");
  if (unused > 0 && (bytes[t.end - 1]! & ((1 << unused) - 1)) !== 0) throw new DerReadError("BIT STRING with unused bits set");
  return bytes.subarray(t.contentStart, t.end);
}

// ----- Names -----

/** Attribute types shown by a short name in formatted names; others by their OID. */
export const SHORT_NAMES: Readonly<Record<string, string>> = {
  "2.5.4.6": "C",
  "2.5.4.10": "O",
  "2.5.4.11": "OU",
  "2.5.4.3": "CN",
  "2.5.4.7": "L",
  "2.5.4.8": "ST",
  "2.5.4.5": "serialNumber",
};

const PRINTABLE_STRING = 0x13;

/**
 * Reads a Name (`SEQUENCE OF SET OF AttributeTypeAndValue`) strictly and formats it
 * "C=JP, O=…, OU=…" in certificate order, RDN members joined by "+". A value that is not a
 * UTF8String or PrintableString (or not valid UTF-8) gives `undefined`: the caller formats that
 * name with the generic parser, whose output for those forms is kept as it was.
 */
function readName(parent: DerCursor, nameTlv: Tlv, what: string): string | undefined {
  return walkName(parent, nameTlv, what, true);
}

/**
 * Reads a Name as `readName` does; with `format` false it only answers whether readName would
 * format it ("" when it would, `undefined` when not), without making the text.
 */
function walkName(parent: DerCursor, nameTlv: Tlv, what: string, format: boolean): string | undefined {
  const bytes = parent.bytes;
  const rdns = parent.into(nameTlv, what);
  let text = "";
  let readable = true;
  let firstRdn = true;
  while (!rdns.done) {
    const set = rdns.enter(TAG.SET, "RelativeDistinguishedName");
    if (!firstRdn && format) text += ", ";
    firstRdn = false;
    let firstAtv = true;
    while (!set.done) {
      const atv = set.enter(TAG.SEQUENCE, "AttributeTypeAndValue");
      const type = oidText(bytes, atv.next(TAG.OID, "type"));
      const value = atv.any("value");
      atv.end();
      checkDerTree(bytes, value, atv.budget, 0);
      if (!readable) continue;
      let s: string | undefined;
      if (value.tag === TAG.UTF8_STRING) {
        // ASCII is valid UTF-8: only other bytes need the decoder to tell.
        s = format || !isAscii(bytes, value) ? utf8Text(bytes, value) : "";
      } else if (value.tag === PRINTABLE_STRING) {
        s = format ? latin1(bytes, value) : "";
      }
      if (s === undefined) {
        readable = false;
        continue;
      }
      if (!format) continue;
      if (!firstAtv) text += "+";
      firstAtv = false;
      text += `${SHORT_NAMES[type] ?? type}=${s}`;
    }
  }
  return readable ? text : undefined;
}

/** A UTF8String's text, or undefined when its bytes are not UTF-8. */
function utf8Text(bytes: Uint8Array, t: Tlv): string | undefined {
  try {
    return UTF8_DECODER.decode(contentOf(bytes, t));
  } catch {
    return undefined;
  }
}

function isAscii(bytes: Uint8Array, t: Tlv): boolean {
  for (let i = t.contentStart; i < t.end; i++) if (bytes[i]! >= 0x80) return false;
  return true;
}

/** Bytes as characters 0–255, which is how the generic parser reads PrintableString and IA5String. */
function latin1(bytes: Uint8Array, t: Tlv): string {
  // One call over a view rather than a string per character (a 40-character URI made 40 of them).
  // Spreading the bytes as arguments is bounded: a certificate is at most MAX_CERTIFICATE_BYTES (16 KB).
  return String.fromCharCode.apply(null, bytes.subarray(t.contentStart, t.end) as unknown as number[]);
}

// ----- a strict walk of any value -----

/**
 * Walks every element inside `t` (constructed ones recursively), so that a value handed to the
 * generic parser is strict DER too: definite minimal lengths (readTlv), no constructed strings,
 * a bounded number of elements and depth.
 */
function checkDerTree(bytes: Uint8Array, t: Tlv, budget: NodeBudget | undefined, depth: number): void {
  if ((t.tag & 0x20) === 0) return;
  if ((t.tag & 0xc0) === 0 && t.tag !== TAG.SEQUENCE && t.tag !== TAG.SET) throw new DerReadError(`a constructed universal element with tag 0x${t.tag.toString(16)} (BER, not DER)`);
  if (depth > 16) throw new DerReadError("value nested too deeply");
  let p = t.contentStart;
  while (p < t.end) {
    const child = readTlv(bytes, p, t.end);
    if (budget && --budget.remaining < 0) throw new DerReadError("too many ASN.1 elements");
    checkDerTree(bytes, child, budget, depth + 1);
    p = child.end;
  }
}

/** Checks that an extension value is exactly one strict DER element (before the generic parser reads it). */
export function checkDerValue(value: Uint8Array): void {
  const t = readTlv(value, 0);
  if (t.end !== value.length) throw new DerReadError("trailing bytes after the value");
  checkDerTree(value, t, { remaining: EXTENSION_MAX_NODES }, 0);
}

function only(value: Uint8Array, tag: number, what: string): DerCursor {
  return DerCursor.only(value, tag, what, { remaining: EXTENSION_MAX_NODES });
}

// ----- the extensions the checks read -----

/** keyUsage: bit n (0 = digitalSignature) as 2^n. At most 4 octets of bits (9 are named). */
export function keyUsageValue(value: Uint8Array): number {
  const t = readOnly(value, TAG.BIT_STRING, "KeyUsage");
  const content = bitStringValue(value, t);
  if (content.length > 5) throw new DerReadError("KeyUsage longer than 32 bits");
  let n = 0;
  for (let i = 1; i < content.length; i++) {
    const b = content[i]!;
    for (let bit = 0; bit < 8; bit++) if (b & (0x80 >> bit)) n += 2 ** ((i - 1) * 8 + bit);
  }
  return n;
}

/** basicConstraints: whether cA is TRUE. */
export function basicConstraintsCa(value: Uint8Array): boolean {
  const c = only(value, TAG.SEQUENCE, "BasicConstraints");
  const flag = c.optional(TAG.BOOLEAN, "cA");
  const ca = flag ? booleanValue(value, flag) : false;
  const pathLen = c.optional(TAG.INTEGER, "pathLenConstraint");
  if (pathLen) {
    const n = integerContent(value, pathLen);
    if (n[0]! & 0x80) throw new DerReadError("BasicConstraints: a negative pathLenConstraint");
  }
  c.end();
  return ca;
}

/** certificatePolicies: the policy OIDs, in order (qualifiers are checked for form, not read). */
export function policyOids(value: Uint8Array): string[] {
  const list = only(value, TAG.SEQUENCE, "CertificatePolicies");
  const out: string[] = [];
  while (!list.done) {
    const info = list.enter(TAG.SEQUENCE, "PolicyInformation");
    out.push(oidText(value, info.next(TAG.OID, "policyIdentifier")));
    const qualifiers = info.optional(TAG.SEQUENCE, "policyQualifiers");
    if (qualifiers) {
      const q = info.into(qualifiers, "policyQualifiers");
      while (!q.done) {
        const pq = q.enter(TAG.SEQUENCE, "PolicyQualifierInfo");
        oidText(value, pq.next(TAG.OID, "policyQualifierId"));
        checkDerTree(value, pq.any("qualifier"), pq.budget, 0);
        pq.end();
      }
    }
    info.end();
  }
  return out;
}

/** extKeyUsage: the purpose OIDs, in order. */
export function extendedKeyUsageOids(value: Uint8Array): string[] {
  const list = only(value, TAG.SEQUENCE, "ExtendedKeyUsage");
  const out: string[] = [];
  while (!list.done) out.push(oidText(value, list.next(TAG.OID, "KeyPurposeId")));
  return out;
}

/** subjectKeyIdentifier: the key identifier (a view). */
export function subjectKeyIdentifier(value: Uint8Array): Uint8Array {
  return contentOf(value, readOnly(value, TAG.OCTET_STRING, "SubjectKeyIdentifier"));
}

/**
 * authorityKeyIdentifier: `{ keyId }`, keyId undefined when absent; `undefined` when it also
 * names the issuer's issuer and serial (never in JPKI), which the generic parser reads.
 */
export function authorityKeyIdentifier(value: Uint8Array): { keyId: Uint8Array | undefined } | undefined {
  const c = only(value, TAG.SEQUENCE, "AuthorityKeyIdentifier");
  const keyId = c.optional(0x80, "keyIdentifier");
  if (!c.done) return undefined;
  return { keyId: keyId ? contentOf(value, keyId) : undefined };
}

const GN_URI = 0x86; // [6] IMPLICIT IA5String
const GN_DIRECTORY_NAME = 0xa4; // [4] EXPLICIT Name
const GN_OTHER_NAME = 0xa0; // [0] IMPLICIT OtherName

/**
 * subjectAltName: its otherNames as (OID, the value inside [0] EXPLICIT), when every GeneralName
 * is an otherName (JPKI's personal data); `undefined` otherwise.
 */
export function otherNameEntries(value: Uint8Array): { oid: string; value: Uint8Array }[] | undefined {
  const list = only(value, TAG.SEQUENCE, "GeneralNames");
  const out: { oid: string; value: Uint8Array }[] = [];
  while (!list.done) {
    if (list.peekTag() !== GN_OTHER_NAME) return undefined;
    const on = list.enter(GN_OTHER_NAME, "otherName", "OtherName");
    const oid = oidText(value, on.next(TAG.OID, "type-id"));
    const wrapped = on.enter(TAG.CONTEXT_0, "value");
    const inner = wrapped.any("value");
    wrapped.end();
    on.end();
    checkDerTree(value, inner, list.budget, 0);
    out.push({ oid, value: encodingOf(value, inner) });
  }
  return out;
}

/**
 * cRLDistributionPoints as the verifier uses them: for each point not limited to some reasons
 * and without a cRLIssuer, its fullName URIs and directoryNames (the Name's DER). `undefined`
 * when a point has reasons, a cRLIssuer or a relative name, or a fullName holds another kind of
 * GeneralName, or a directoryName has values in rare string forms.
 */
export function distributionPoints(value: Uint8Array): { uris: string[]; directoryNames: Uint8Array[] } | undefined {
  const list = only(value, TAG.SEQUENCE, "CRLDistributionPoints");
  const uris: string[] = [];
  const directoryNames: Uint8Array[] = [];
  while (!list.done) {
    const dp = list.enter(TAG.SEQUENCE, "DistributionPoint");
    const dpName = dp.optional(TAG.CONTEXT_0, "distributionPoint");
    if (!dp.done) return undefined;
    if (!dpName) continue;
    const choice = dp.into(dpName, "DistributionPointName");
    if (choice.peekTag() !== TAG.CONTEXT_0) return undefined;
    const names = choice.enter(TAG.CONTEXT_0, "fullName");
    choice.end();
    while (!names.done) {
      const tag = names.peekTag();
      if (tag === GN_URI) {
        const uri = latin1(value, names.next(GN_URI, "uniformResourceIdentifier"));
        if (uri) uris.push(uri);
      } else if (tag === GN_DIRECTORY_NAME) {
        const wrapper = names.enter(GN_DIRECTORY_NAME, "directoryName");
        const nameTlv = wrapper.next(TAG.SEQUENCE, "Name");
        wrapper.end();
        if (walkName(wrapper, nameTlv, "Name", false) === undefined) return undefined;
        directoryNames.push(encodingOf(value, nameTlv));
      } else {
        return undefined;
      }
    }
  }
  return { uris, directoryNames };
}


/** authorityInfoAccess: the OCSP URIs in order, when every accessLocation is a URI; `undefined` otherwise. */
export function ocspUris(value: Uint8Array): string[] | undefined {
  const list = only(value, TAG.SEQUENCE, "AuthorityInfoAccessSyntax");
  const out: string[] = [];
  while (!list.done) {
    const ad = list.enter(TAG.SEQUENCE, "AccessDescription");
    const method = oidText(value, ad.next(TAG.OID, "accessMethod"));
    if (ad.peekTag() !== GN_URI) return undefined;
    const uri = latin1(value, ad.next(GN_URI, "accessLocation"));
    ad.end();
    if (method === X509_OID.ocsp && uri) out.push(uri);
  }
  return out;
}
