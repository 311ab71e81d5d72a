/**
 * The few fields of an X.509 certificate that CRL and OCSP encoding need, taken from its DER
 * byte for byte (re-encoding a parsed Name can change it, and CertID hashes and CRL issuer
 * matching are over the exact bytes) by the reader shared with the verifier.
 */
import { createHash } from "node:crypto";
import { readCertificateParts, type CertificateParts } from "../profile/certificate-parts.ts";
import { DerReadError } from "../profile/der-reader.ts";

export interface CertificateFields {
  /** DER of the subject Name. */
  readonly subjectNameDer: Uint8Array;
  /** DER of the issuer Name. */
  readonly issuerNameDer: Uint8Array;
  /** The serial number, unsigned big-endian (the sign pad removed). */
  readonly serial: Uint8Array;
  /** The subjectPublicKey BIT STRING's value, without the unused-bits byte (what CertID and SKI hash). */
  readonly spkiKeyBits: Uint8Array;
}

/** Reads the subject, issuer, serial and public-key bits of a certificate; throws TypeError if it isn't one. */
export function readCertificateFields(der: Uint8Array): CertificateFields {
  let parts: CertificateParts;
  try {
    parts = readCertificateParts(der);
  } catch (err) {
    if (err instanceof DerReadError) throw new TypeError(`not an X.509 certificate: ${err.message}`, { cause: err });
    throw err;
  }
  const serial = parts.serial.length > 1 && parts.serial[0] === 0 ? parts.serial.subarray(1) : parts.serial;
  return {
    subjectNameDer: parts.subjectNameDer.slice(),
    issuerNameDer: parts.issuerNameDer.slice(),
    serial: serial.slice(),
    spkiKeyBits: parts.spkiKeyBits.slice(),
  };
}

/** SHA-1 of the subjectPublicKey bits: the byKey ResponderID (RFC 6960 §4.2.1) and the usual key identifier. */
export function keyHashSha1(spkiKeyBits: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha1").update(spkiKeyBits).digest());
}
