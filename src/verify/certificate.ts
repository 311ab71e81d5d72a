/**
 * A certificate read for verification: the fields and extensions the JPKI checks need, parsed
 * once from untrusted DER within a size limit. Extension values are decoded lazily by the checks
 * that need them, and each only once per parsed certificate (the verifier keeps parsed
 * certificates in its cache, so a certificate seen again costs no decoding); a malformed value of
 * an extension we rely on is `malformed-input`, every time it is asked for.
 *
 * The certificate and the extensions the checks read are read by the strict DER reader
 * (certificate-der.ts): most signers are new to a relying party, and the generic ASN.1 parser
 * took most of a verification's time. That parser (@peculiar/asn1-schema) still decodes the rare
 * forms the reader leaves to it (names in TeletexString or BMPString, unusual GeneralNames), after
 * the reader has checked that they are strict DER.
 */
import "reflect-metadata";
import { createPublicKey, verify as verifySignature, type KeyObject } from "node:crypto";
import { AsnConvert } from "@peculiar/asn1-schema";
import {
  AuthorityInfoAccessSyntax,
  AuthorityKeyIdentifier,
  CRLDistributionPoints,
  Name,
  SubjectAlternativeName,
  id_ad_ocsp,
} from "@peculiar/asn1-x509";
import { X509_OID } from "../profile/x509-oids.ts";
import { RepeatedExtension } from "../profile/der-values.ts";
import { VerificationFailure, failure, describeError } from "./errors.ts";
import { serialHex, toHex, u8, utf8StringValue } from "./der.ts";
import {
  SHORT_NAMES,
  authorityKeyIdentifier,
  basicConstraintsCa,
  checkDerValue,
  distributionPoints,
  extendedKeyUsageOids,
  keyUsageValue,
  ocspUris,
  otherNameEntries,
  policyOids,
  readCertificateDer,
  subjectKeyIdentifier,
  type CertificateFields,
} from "./certificate-der.ts";

/** The extension OIDs this module checks (shared with the issuer: src/profile/x509-oids.ts). */
export const OID = X509_OID;

/** Extensions a leaf or responder certificate may mark critical: we process them all. */
const UNDERSTOOD = new Set<string>([
  OID.keyUsage,
  OID.subjectAltName,
  OID.issuerAltName,
  OID.basicConstraints,
  OID.crlDistributionPoints,
  OID.certificatePolicies,
  OID.authorityKeyIdentifier,
  OID.subjectKeyIdentifier,
  OID.extKeyUsage,
  OID.authorityInfoAccess,
  OID.ocspNoCheck,
]);

/** RSA PKCS#1 v1.5 signature algorithms we accept, by OID. SHA-1 is refused. */
export const RSA_SIGNATURE_HASH: Readonly<Record<string, "sha256" | "sha384" | "sha512">> = {
  "1.2.840.113549.1.1.11": "sha256",
  "1.2.840.113549.1.1.12": "sha384",
  "1.2.840.113549.1.1.13": "sha512",
};

export const KU = {
  digitalSignature: 1,
  nonRepudiation: 2,
  keyCertSign: 32,
  cRLSign: 64,
} as const;

export interface ParsedCertificate {
  readonly der: Uint8Array;
  /** 1, 2 or 3. */
  readonly version: number;
  readonly issuerNameDer: Uint8Array;
  readonly subjectNameDer: Uint8Array;
  readonly spkiDer: Uint8Array;
  /** The subjectPublicKey BIT STRING's value without the unused-bits byte (what SKI and CertID hash). */
  readonly spkiKeyBits: Uint8Array;
  readonly serialHex: string;
  readonly subject: string;
  readonly issuer: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly tbsDer: Uint8Array;
  readonly signatureAlgorithm: string;
  readonly signature: Uint8Array;
  readonly extensions: ReadonlyMap<string, { readonly critical: boolean; readonly value: Uint8Array }>;
  readonly publicKey: KeyObject;
}

/** Largest certificate accepted. Real JPKI certificates are under 2 KiB. */
export const MAX_CERTIFICATE_BYTES = 16 * 1024;

/**
 * "C=JP, O=…, OU=…" in certificate order (RFC 4514 would reverse it; people read it this way),
 * from the generic parser's Name: for the names certificate-der.ts leaves to it (values in
 * TeletexString, BMPString and the like), written as they always were.
 */
export function formatName(name: Name): string {
  return name
    .map((rdn) =>
      rdn
        .map((atv) => {
          const key = SHORT_NAMES[atv.type] ?? atv.type;
          const v = atv.value;
          // IA5String for emailAddress and domainComponent (shown empty before it was listed here).
          const text = v.utf8String ?? v.printableString ?? v.ia5String ?? v.teletexString ?? v.universalString ?? v.bmpString ?? v.anyValue;
          return `${key}=${typeof text === "string" ? text : text ? `#${toHex(u8(text))}` : ""}`;
        })
        .join("+"),
    )
    .join(", ");
}

/**
 * Parses a certificate from untrusted bytes. `what` names it in messages ("certificate",
 * "trust anchor 2", "OCSP responder certificate"). This always parses: the verifier's
 * CertificateCache (certificate-cache.ts) is what keeps results for certificates seen again.
 */
export function parseCertificate(input: Uint8Array, what = "certificate"): ParsedCertificate {
  if (!(input instanceof Uint8Array)) throw new TypeError(`${what} must be a Uint8Array of DER`);
  return parseCertificateUncached(input, what);
}

function parseCertificateUncached(input: Uint8Array, what: string): ParsedCertificate {
  if (input.length === 0) failure("malformed-input", `${what} is empty`);
  if (input.length > MAX_CERTIFICATE_BYTES) {
    failure("malformed-input", `${what} is larger than ${MAX_CERTIFICATE_BYTES} bytes`, { limit: MAX_CERTIFICATE_BYTES });
  }
  // A private copy: every field below is a view into it, and the caller may reuse its buffer.
  const der = input.slice();
  let fields: CertificateFields;
  let publicKey: KeyObject;
  let subject: string;
  let issuer: string;
  try {
    fields = readCertificateDer(der);
    subject = fields.subject ?? formatName(AsnConvert.parse(fields.subjectNameDer, Name));
    issuer = fields.issuer ?? formatName(AsnConvert.parse(fields.issuerNameDer, Name));
    // Plain RSA keys are imported from their PKCS#1 form (the same key, ~5 µs instead of ~200 µs); any other key from the whole SPKI.
    publicKey = fields.rsaPublicKey
      ? createPublicKey({ key: view(fields.rsaPublicKey), format: "der", type: "pkcs1" })
      : createPublicKey({ key: view(fields.spkiDer), format: "der", type: "spki" });
  } catch (error) {
    if (error instanceof RepeatedExtension) failure("malformed-input", `${what} repeats extension ${error.oid}`);
    failure("malformed-input", `${what} is not a DER X.509 certificate: ${describeError(error)}`, undefined, error);
  }
  const parsed: ParsedCertificate = {
    der,
    version: fields.version,
    issuerNameDer: fields.issuerNameDer,
    subjectNameDer: fields.subjectNameDer,
    spkiDer: fields.spkiDer,
    spkiKeyBits: fields.spkiKeyBits,
    notBefore: fields.notBefore,
    notAfter: fields.notAfter,
    serialHex: serialHex(fields.serial),
    subject,
    issuer,
    tbsDer: fields.tbsDer,
    signatureAlgorithm: fields.signatureAlgorithm,
    signature: fields.signature,
    extensions: fields.extensions,
    publicKey,
  };
  // Not enumerable: a spread copy (`{ ...cert, extensions }`) must not carry the original's
  // derived values, and deepStrictEqual and inspect should not see them. The Map itself stays
  // writable when the certificate is frozen.
  Object.defineProperty(parsed, DERIVED, { value: new Map() });
  return parsed;
}

function view(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A derived value, or the failure deriving it raised: both are kept, so the answer never changes. */
type Memo = { readonly value: unknown } | { readonly failure: VerificationFailure };

/**
 * Where a parsed certificate keeps what was derived from it: a Map in a non-enumerable slot on the
 * object itself, made with it. Not a WeakMap keyed by the certificate: with a stream of
 * certificates each seen once (a relying party's usual load), V8 kept a WeakMap's young entries
 * alive through scavenges and promoted them, to die in the old generation. Measured 2026-12-07 on
 * a cold CMS loop (16-entry certificate cache): the old generation grew ≈2 MB per scavenge with the
 * WeakMap and ≈0.2 MB with the slot, and garbage collection fell from 19 % to 11 % of the time.
 */
const DERIVED = Symbol("derived from the certificate");
type WithDerived = { readonly [DERIVED]?: Map<unknown, Memo> };
/** Derived values of objects of this shape made elsewhere than parseCertificate (without the slot), such as a test's spread copy. */
const derivedElsewhere = new WeakMap<ParsedCertificate, Map<unknown, Memo>>();

function derivedValues(cert: ParsedCertificate): Map<unknown, Memo> {
  const own = (cert as WithDerived)[DERIVED];
  if (own) return own;
  let m = derivedElsewhere.get(cert);
  if (!m) {
    m = new Map();
    derivedElsewhere.set(cert, m);
  }
  return m;
}

/**
 * `compute(cert)` once per parsed certificate and `key`. The values are pure functions of the
 * certificate's bytes (or, for a key object, of those and the owner's fixed settings), so keeping
 * them on the certificate object is safe; they go with it.
 */
function memo<T>(cert: ParsedCertificate, key: unknown, compute: () => T): T {
  const m = derivedValues(cert);
  const hit = m.get(key);
  if (hit) {
    if ("failure" in hit) throw hit.failure;
    return hit.value as T;
  }
  try {
    const value = compute();
    m.set(key, { value });
    return value;
  } catch (error) {
    if (error instanceof VerificationFailure) m.set(key, { failure: error });
    throw error;
  }
}

/**
 * The value of extension `oid` read by `read` (certificate-der.ts), or undefined when the
 * certificate lacks it. `read` answers undefined for a form it leaves to the generic parser:
 * `type` then decodes it, once the value is known to be strict DER. Either failing is
 * `malformed-input`.
 */
function decode<T, R>(cert: ParsedCertificate, oid: string, what: string, read: (value: Uint8Array) => R | undefined, type?: new () => T, fromSchema?: (decoded: T) => R): R | undefined {
  const ext = cert.extensions.get(oid);
  if (!ext) return undefined;
  try {
    const fast = read(ext.value);
    if (fast !== undefined || !type || !fromSchema) return fast;
    checkDerValue(ext.value);
    return fromSchema(AsnConvert.parse(ext.value, type, { berOptions: { maxNodes: 1000, maxDepth: 16 } }));
  } catch (error) {
    return failure("malformed-input", `the ${what} extension of the certificate is malformed: ${describeError(error)}`, { extension: oid }, error);
  }
}

/**
 * The memo keys of the decoders below: symbols, so that no string a caller gives derivedOnce can
 * be one of them (and derivedOnce's key is used as it is, without a prefix made on every call).
 */
const KEY = {
  unknownCritical: Symbol("unknownCritical"),
  keyUsage: Symbol("keyUsage"),
  isCa: Symbol("isCa"),
  policies: Symbol("policies"),
  eku: Symbol("eku"),
  aki: Symbol("aki"),
  ski: Symbol("ski"),
  ocspUrls: Symbol("ocspUrls"),
  crlDistributionPoints: Symbol("crlDistributionPoints"),
  otherNames: Symbol("otherNames"),
} as const;

/** The first critical extension we do not process, or undefined. */
export function unknownCriticalExtension(cert: ParsedCertificate): string | undefined {
  return memo(cert, KEY.unknownCritical, () => {
    for (const [oid, e] of cert.extensions) if (e.critical && !UNDERSTOOD.has(oid)) return oid;
    return undefined;
  });
}

export function keyUsageOf(cert: ParsedCertificate): number | undefined {
  return memo(cert, KEY.keyUsage, () => decode(cert, OID.keyUsage, "keyUsage", keyUsageValue));
}

export function isCa(cert: ParsedCertificate): boolean {
  return memo(cert, KEY.isCa, () => decode(cert, OID.basicConstraints, "basicConstraints", basicConstraintsCa) === true);
}

export function policiesOf(cert: ParsedCertificate): readonly string[] {
  return memo(cert, KEY.policies, () => Object.freeze(decode(cert, OID.certificatePolicies, "certificatePolicies", policyOids) ?? []));
}

export function extendedKeyUsagesOf(cert: ParsedCertificate): readonly string[] | undefined {
  return memo(cert, KEY.eku, () => {
    const eku = decode(cert, OID.extKeyUsage, "extendedKeyUsage", extendedKeyUsageOids);
    return eku ? Object.freeze(eku) : undefined;
  });
}

export function authorityKeyIdOf(cert: ParsedCertificate): Uint8Array | undefined {
  return memo(cert, KEY.aki, () => {
    const aki = decode(cert, OID.authorityKeyIdentifier, "authorityKeyIdentifier", authorityKeyIdentifier, AuthorityKeyIdentifier, (a) => ({
      keyId: a.keyIdentifier ? u8(a.keyIdentifier.buffer) : undefined,
    }));
    return aki?.keyId;
  });
}

export function subjectKeyIdOf(cert: ParsedCertificate): Uint8Array | undefined {
  return memo(cert, KEY.ski, () => decode(cert, OID.subjectKeyIdentifier, "subjectKeyIdentifier", subjectKeyIdentifier));
}

/** OCSP responder URLs from authorityInfoAccess, in order. */
export function ocspUrlsOf(cert: ParsedCertificate): readonly string[] {
  return memo(cert, KEY.ocspUrls, () =>
    Object.freeze(
      decode(cert, OID.authorityInfoAccess, "authorityInfoAccess", ocspUris, AuthorityInfoAccessSyntax, (aia) =>
        aia.filter((a) => a.accessMethod === id_ad_ocsp && a.accessLocation.uniformResourceIdentifier).map((a) => a.accessLocation.uniformResourceIdentifier!),
      ) ?? [],
    ),
  );
}

export interface CrlDistributionPoints {
  /** Where to fetch the CRL. */
  readonly uris: readonly string[];
  /** The DER of each directoryName fullName (matched byte for byte against a partition CRL's IDP). */
  readonly directoryNames: readonly Uint8Array[];
}

/** The cRLDistributionPoints fullName entries: URIs (to fetch) and directoryNames (to match an IDP). */
export function crlDistributionPointsOf(cert: ParsedCertificate): CrlDistributionPoints {
  return memo(cert, KEY.crlDistributionPoints, () => {
    const points = decode(cert, OID.crlDistributionPoints, "cRLDistributionPoints", distributionPoints, CRLDistributionPoints, (dps) => {
      const uris: string[] = [];
      const directoryNames: Uint8Array[] = [];
      for (const dp of dps) {
        // A point limited to some reasons, or served by another CRL issuer, cannot give a full answer.
        if (dp.reasons || dp.cRLIssuer) continue;
        for (const gn of dp.distributionPoint?.fullName ?? []) {
          if (gn.uniformResourceIdentifier) uris.push(gn.uniformResourceIdentifier);
          if (gn.directoryName) directoryNames.push(u8(AsnConvert.serialize(gn.directoryName)));
        }
      }
      return { uris, directoryNames };
    });
    return Object.freeze({ uris: Object.freeze(points?.uris ?? []), directoryNames: Object.freeze(points?.directoryNames ?? []) });
  });
}

/** The subjectAltName otherNames with UTF8String values (the JPKI personal data). */
export function otherNamesOf(cert: ParsedCertificate): readonly { readonly oid: string; readonly value: string }[] {
  return memo(cert, KEY.otherNames, () => {
    const entries =
      decode(cert, OID.subjectAltName, "subjectAltName", otherNameEntries, SubjectAlternativeName, (san) =>
        san.flatMap((gn) => (gn.otherName ? [{ oid: gn.otherName.typeId, value: u8(gn.otherName.value) }] : [])),
      ) ?? [];
    const out: { oid: string; value: string }[] = [];
    for (const e of entries) {
      const value = utf8StringValue(e.value);
      if (value === undefined) failure("malformed-input", `subjectAltName otherName ${e.oid} is not a UTF8String`);
      out.push(Object.freeze({ oid: e.oid, value }));
    }
    return Object.freeze(out);
  });
}

/**
 * A value derived from the certificate alone (its four attributes, its result summary), computed
 * once per parsed certificate like the extension decoders above.
 */
export function derivedOnce<T>(cert: ParsedCertificate, key: string, compute: () => T): T {
  return memo(cert, key, compute);
}

/**
 * A mutable record kept on the certificate for `owner` (a token of one verifier: what it found
 * depends on its trust anchors), made by `create` on first use. Kept with the certificate, for the
 * reason given at {@link DERIVED}; the certificate holds the token, so pass a small object of the
 * owner's, not the owner itself, which the certificate would then keep alive.
 */
export function keptFor<T>(cert: ParsedCertificate, owner: object, create: () => T): T {
  return memo(cert, owner, create);
}

/**
 * Whether `signature` over `data` verifies with `key` under `algorithmOid` (RSA PKCS#1 v1.5 with
 * SHA-256/384/512). An algorithm outside that set is `unsupported-algorithm`.
 */
export function rsaSignatureValid(algorithmOid: string, data: Uint8Array, key: KeyObject, signature: Uint8Array, what: string): boolean {
  const hash = RSA_SIGNATURE_HASH[algorithmOid];
  if (!hash) failure("unsupported-algorithm", `${what} uses signature algorithm ${algorithmOid}; only RSA PKCS#1 v1.5 with SHA-256/384/512 is accepted`, { algorithm: algorithmOid });
  if (key.asymmetricKeyType !== "rsa") failure("unsupported-algorithm", `${what}: the key is ${key.asymmetricKeyType ?? "unknown"}, not RSA`);
  try {
    return verifySignature(hash, data, key, signature);
  } catch {
    return false;
  }
}
