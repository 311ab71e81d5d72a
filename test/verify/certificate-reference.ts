/**
 * TEST REFERENCE: src/verify/certificate.ts as it was before the strict reader
 * (certificate-der.ts), decoding certificates with @peculiar/asn1-schema. The differential test
 * (certificate-der.test.ts) runs both over many certificates and demands the same answers.
 *
 * A certificate read for verification: the fields and extensions the JPKI checks need, parsed
 * once from untrusted DER within a size limit. Extension values are decoded lazily by the checks
 * that need them, and each only once per parsed certificate (the verifier keeps parsed
 * certificates in its cache, so a certificate seen again costs no decoding); a malformed value of
 * an extension we rely on is `malformed-input`, every time it is asked for.
 */
import "reflect-metadata";
import { createPublicKey, type KeyObject } from "node:crypto";
import { AsnConvert } from "@peculiar/asn1-schema";
import {
  AuthorityInfoAccessSyntax,
  AuthorityKeyIdentifier,
  BasicConstraints,
  Certificate,
  CertificatePolicies,
  CRLDistributionPoints,
  ExtendedKeyUsage,
  KeyUsage,
  Name,
  SubjectAlternativeName,
  SubjectKeyIdentifier,
  id_ad_ocsp,
} from "@peculiar/asn1-x509";
import { X509_OID } from "../../src/profile/x509-oids.ts";
import { VerificationFailure, failure, describeError } from "../../src/verify/errors.ts";
import { serialHex, toHex, u8, utf8StringValue, derTime } from "../../src/verify/der.ts";
import { readCertificateParts, type CertificateParts } from "../../src/profile/certificate-parts.ts";
import { DerCursor, DerReadError, TAG, bytesEqual } from "../../src/profile/der-reader.ts";

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

export interface ParsedCertificate extends RawCertificateParts {
  readonly der: Uint8Array;
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

const SHORT_NAMES: Readonly<Record<string, string>> = {
  "2.5.4.6": "C",
  "2.5.4.10": "O",
  "2.5.4.11": "OU",
  "2.5.4.3": "CN",
  "2.5.4.7": "L",
  "2.5.4.8": "ST",
  "2.5.4.5": "serialNumber",
};

/** "C=JP, O=…, OU=…" in certificate order (RFC 4514 would reverse it; people read it this way). */
export function formatName(name: Name): string {
  return name
    .map((rdn) =>
      rdn
        .map((atv) => {
          const key = SHORT_NAMES[atv.type] ?? atv.type;
          const v = atv.value;
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
  const der = input.slice();
  let cert: Certificate;
  let raw: RawCertificateParts;
  let publicKey: KeyObject;
  try {
    cert = AsnConvert.parse(der, Certificate, { berOptions: { maxNodes: 2000, maxDepth: 32 } });
    raw = rawCertificateParts(der);
    publicKey = createPublicKey({ key: Buffer.from(raw.spkiDer), format: "der", type: "spki" });
  } catch (error) {
    failure("malformed-input", `${what} is not a DER X.509 certificate: ${describeError(error)}`, undefined, error);
  }
  const tbs = cert.tbsCertificate;
  if (!cert.tbsCertificateRaw) failure("malformed-input", `${what}: no TBSCertificate bytes`);
  const extensions = new Map<string, { critical: boolean; value: Uint8Array }>();
  for (const e of tbs.extensions ?? []) {
    if (extensions.has(e.extnID)) failure("malformed-input", `${what} repeats extension ${e.extnID}`);
    extensions.set(e.extnID, { critical: e.critical, value: u8(e.extnValue.buffer) });
  }
  let serialBytes = u8(tbs.serialNumber);
  if (serialBytes.length > 1 && serialBytes[0] === 0) serialBytes = serialBytes.subarray(1);
  return {
    der,
    ...raw,
    serialHex: serialHex(serialBytes),
    subject: formatName(tbs.subject),
    issuer: formatName(tbs.issuer),
    tbsDer: u8(cert.tbsCertificateRaw),
    signatureAlgorithm: cert.signatureAlgorithm.algorithm,
    signature: u8(cert.signatureValue),
    extensions,
    publicKey,
  };
}

/** A derived value, or the failure deriving it raised: both are kept, so the answer never changes. */
type Memo = { readonly value: unknown } | { readonly failure: VerificationFailure };
const memos = new WeakMap<ParsedCertificate, Map<string, Memo>>();

/**
 * `compute(cert)` once per parsed certificate. The values are pure functions of the certificate's
 * bytes, so keeping them on the certificate object is safe; a WeakMap lets them go with it.
 */
function memo<T>(cert: ParsedCertificate, key: string, compute: () => T): T {
  let m = memos.get(cert);
  if (!m) {
    m = new Map();
    memos.set(cert, m);
  }
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

function decode<T>(cert: ParsedCertificate, oid: string, type: new () => T, what: string): T | undefined {
  const ext = cert.extensions.get(oid);
  if (!ext) return undefined;
  try {
    return AsnConvert.parse(ext.value, type, { berOptions: { maxNodes: 1000, maxDepth: 16 } });
  } catch (error) {
    return failure("malformed-input", `the ${what} extension of the certificate is malformed: ${describeError(error)}`, { extension: oid }, error);
  }
}

/** The first critical extension we do not process, or undefined. */
export function unknownCriticalExtension(cert: ParsedCertificate): string | undefined {
  return memo(cert, "unknownCritical", () => {
    for (const [oid, e] of cert.extensions) if (e.critical && !UNDERSTOOD.has(oid)) return oid;
    return undefined;
  });
}

export function keyUsageOf(cert: ParsedCertificate): number | undefined {
  return memo(cert, "keyUsage", () => decode(cert, OID.keyUsage, KeyUsage, "keyUsage")?.toNumber());
}

export function isCa(cert: ParsedCertificate): boolean {
  return memo(cert, "isCa", () => decode(cert, OID.basicConstraints, BasicConstraints, "basicConstraints")?.cA === true);
}

export function policiesOf(cert: ParsedCertificate): readonly string[] {
  return memo(cert, "policies", () =>
    Object.freeze((decode(cert, OID.certificatePolicies, CertificatePolicies, "certificatePolicies") ?? []).map((p) => p.policyIdentifier)),
  );
}

export function extendedKeyUsagesOf(cert: ParsedCertificate): readonly string[] | undefined {
  return memo(cert, "eku", () => {
    const eku = decode(cert, OID.extKeyUsage, ExtendedKeyUsage, "extendedKeyUsage");
    return eku ? Object.freeze([...eku]) : undefined;
  });
}

export function authorityKeyIdOf(cert: ParsedCertificate): Uint8Array | undefined {
  return memo(cert, "aki", () => {
    const aki = decode(cert, OID.authorityKeyIdentifier, AuthorityKeyIdentifier, "authorityKeyIdentifier");
    return aki?.keyIdentifier ? u8(aki.keyIdentifier.buffer) : undefined;
  });
}

export function subjectKeyIdOf(cert: ParsedCertificate): Uint8Array | undefined {
  return memo(cert, "ski", () => {
    const ski = decode(cert, OID.subjectKeyIdentifier, SubjectKeyIdentifier, "subjectKeyIdentifier");
    return ski ? u8(ski.buffer) : undefined;
  });
}

/** OCSP responder URLs from authorityInfoAccess, in order. */
export function ocspUrlsOf(cert: ParsedCertificate): readonly string[] {
  return memo(cert, "ocspUrls", () => {
    const aia = decode(cert, OID.authorityInfoAccess, AuthorityInfoAccessSyntax, "authorityInfoAccess") ?? [];
    return Object.freeze(aia.filter((a) => a.accessMethod === id_ad_ocsp && a.accessLocation.uniformResourceIdentifier).map((a) => a.accessLocation.uniformResourceIdentifier!));
  });
}

export interface CrlDistributionPoints {
  /** Where to fetch the CRL. */
  readonly uris: readonly string[];
  /** The DER of each directoryName fullName (matched byte for byte against a partition CRL's IDP). */
  readonly directoryNames: readonly Uint8Array[];
}

/** The cRLDistributionPoints fullName entries: URIs (to fetch) and directoryNames (to match an IDP). */
export function crlDistributionPointsOf(cert: ParsedCertificate): CrlDistributionPoints {
  return memo(cert, "crlDistributionPoints", () => {
    const dps = decode(cert, OID.crlDistributionPoints, CRLDistributionPoints, "cRLDistributionPoints") ?? [];
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
    return Object.freeze({ uris: Object.freeze(uris), directoryNames: Object.freeze(directoryNames) });
  });
}

/** The subjectAltName otherNames with UTF8String values (the JPKI personal data). */
export function otherNamesOf(cert: ParsedCertificate): readonly { readonly oid: string; readonly value: string }[] {
  return memo(cert, "otherNames", () => {
    const san = decode(cert, OID.subjectAltName, SubjectAlternativeName, "subjectAltName") ?? [];
    const out: { oid: string; value: string }[] = [];
    for (const gn of san) {
      if (!gn.otherName) continue;
      const value = utf8StringValue(u8(gn.otherName.value));
      if (value === undefined) failure("malformed-input", `subjectAltName otherName ${gn.otherName.typeId} is not a UTF8String`);
      out.push(Object.freeze({ oid: gn.otherName.typeId, value }));
    }
    return Object.freeze(out);
  });
}

// ----- from src/verify/der.ts as it was -----

export type RawCertificateParts = Pick<CertificateParts, "issuerNameDer" | "subjectNameDer" | "spkiDer" | "spkiKeyBits"> & {
  /** The validity, read as strict DER times (the generic parser reads a GeneralizedTime without Z in local time, and rolls month 13 over). */
  readonly notBefore: Date;
  readonly notAfter: Date;
};

/**
 * Copies issuer, subject and SubjectPublicKeyInfo out of a certificate's DER (see
 * src/profile/certificate-parts.ts) and reads its validity strictly. The signature algorithm
 * inside the signed part must be the one outside it (RFC 5280 §4.1.1.2).
 */
export function rawCertificateParts(der: Uint8Array): RawCertificateParts {
  const parts = readCertificateParts(der);
  if (!bytesEqual(parts.innerSignatureAlgorithmDer, parts.outerSignatureAlgorithmDer)) {
    throw new DerReadError("the signature algorithm inside the certificate differs from the one outside it");
  }
  const times = DerCursor.only(parts.validityDer, TAG.SEQUENCE, "Validity");
  const notBefore = derTime(parts.validityDer, times.any("notBefore"));
  const notAfter = derTime(parts.validityDer, times.any("notAfter"));
  times.end();
  return {
    issuerNameDer: parts.issuerNameDer.slice(),
    subjectNameDer: parts.subjectNameDer.slice(),
    spkiDer: parts.spkiDer.slice(),
    spkiKeyBits: parts.spkiKeyBits.slice(),
    notBefore,
    notAfter,
  };
}

