/**
 * The fields of an X.509 certificate that are hashed or compared byte for byte, sliced out of its
 * DER: the issuer and subject Names (CRL issuer matching, CertID name hashes), the
 * SubjectPublicKeyInfo and its key bits (CertID key hashes, key identifiers), and the serial.
 * Re-encoding a parsed value could change these bytes, so they are read in place. The issuer's
 * CRL and OCSP builders take them from here (src/pki/certificate-fields.ts); the verifier reads the
 * whole certificate strictly with src/verify/certificate-der.ts, which needs more than this outline.
 */
import { DerCursor, DerReadError, TAG, encodingOf } from "./der-reader.ts";
import { bitStringBytes, integerContent } from "./der-values.ts";

/** Views into the certificate's DER (copy what you keep). */
export interface CertificateParts {
  /** The serialNumber INTEGER's content as written (minimal; a leading 00 when the top bit is set). */
  readonly serial: Uint8Array;
  readonly issuerNameDer: Uint8Array;
  readonly subjectNameDer: Uint8Array;
  readonly spkiDer: Uint8Array;
  /** The subjectPublicKey BIT STRING's value without the unused-bits byte (what SKI and CertID hash). */
  readonly spkiKeyBits: Uint8Array;
  /** The Validity SEQUENCE (notBefore, notAfter), for a reader of strict DER times. */
  readonly validityDer: Uint8Array;
  /** The AlgorithmIdentifier inside the signed part and the one outside it (RFC 5280 §4.1.1.2: the same). */
  readonly innerSignatureAlgorithmDer: Uint8Array;
  readonly outerSignatureAlgorithmDer: Uint8Array;
}

/** Reads a Certificate's outline and the TBSCertificate up to its public key; throws `DerReadError` otherwise. */
export function readCertificateParts(der: Uint8Array): CertificateParts {
  const cert = DerCursor.only(der, TAG.SEQUENCE, "Certificate", { remaining: 64 });
  const tbs = cert.enter(TAG.SEQUENCE, "tbsCertificate", "TBSCertificate");
  const outerAlgorithm = cert.next(TAG.SEQUENCE, "signatureAlgorithm");
  cert.skip(TAG.BIT_STRING, "signatureValue");
  cert.end();
  tbs.optional(TAG.CONTEXT_0, "version");
  const serial = integerContent(der, tbs.next(TAG.INTEGER, "serialNumber"));
  const innerAlgorithm = tbs.next(TAG.SEQUENCE, "signature");
  const issuer = tbs.next(TAG.SEQUENCE, "issuer");
  const validity = tbs.next(TAG.SEQUENCE, "validity");
  const subject = tbs.next(TAG.SEQUENCE, "subject");
  const spkiTlv = tbs.next(TAG.SEQUENCE, "subjectPublicKeyInfo");
  const spki = tbs.into(spkiTlv, "SubjectPublicKeyInfo");
  spki.skip(TAG.SEQUENCE, "algorithm");
  const spkiKeyBits = bitStringBytes(der, spki.next(TAG.BIT_STRING, "subjectPublicKey"));
  spki.end();
  if (spkiKeyBits.length === 0) throw new DerReadError("SubjectPublicKeyInfo: an empty subjectPublicKey");
  return {
    serial,
    issuerNameDer: encodingOf(der, issuer),
    subjectNameDer: encodingOf(der, subject),
    spkiDer: encodingOf(der, spkiTlv),
    spkiKeyBits,
    validityDer: encodingOf(der, validity),
    innerSignatureAlgorithmDer: encodingOf(der, innerAlgorithm),
    outerSignatureAlgorithmDer: encodingOf(der, outerAlgorithm),
  };
}
