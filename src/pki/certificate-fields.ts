/**
 * The few fields of an X.509 certificate that CRL and OCSP encoding need, taken from its DER
 * byte for byte (re-encoding a parsed Name can change it, and CertID hashes and CRL issuer
 * matching are over the exact bytes).
 */
import { createHash } from "node:crypto";
import { DerCursor, DerError, TAG, contextTag } from "./der.ts";

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
  try {
    const top = new DerCursor(der, { remaining: 64 });
    const cert = top.read(TAG.SEQUENCE);
    top.expectEnd();
    const c = top.enter(cert);
    const tbs = c.enter(c.read(TAG.SEQUENCE));
    tbs.readOptional(contextTag(0, true)); // version
    const serialTlv = tbs.read(TAG.INTEGER);
    let serial = tbs.content(serialTlv);
    if (serial.length > 1 && serial[0] === 0) serial = serial.subarray(1);
    tbs.read(TAG.SEQUENCE); // signature
    const issuer = tbs.read(TAG.SEQUENCE);
    tbs.read(TAG.SEQUENCE); // validity
    const subject = tbs.read(TAG.SEQUENCE);
    const spki = tbs.enter(tbs.read(TAG.SEQUENCE));
    spki.read(TAG.SEQUENCE); // algorithm
    const bits = spki.content(spki.read(TAG.BIT_STRING));
    if (bits.length < 1 || bits[0] !== 0) throw new DerError("public key BIT STRING has unused bits");
    return {
      subjectNameDer: tbs.encoding(subject).slice(),
      issuerNameDer: tbs.encoding(issuer).slice(),
      serial: serial.slice(),
      spkiKeyBits: bits.slice(1),
    };
  } catch (err) {
    if (err instanceof DerError) throw new TypeError(`not an X.509 certificate: ${err.message}`, { cause: err });
    throw err;
  }
}

/** SHA-1 of the subjectPublicKey bits: the byKey ResponderID (RFC 6960 §4.2.1) and the usual key identifier. */
export function keyHashSha1(spkiKeyBits: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha1").update(spkiKeyBits).digest());
}
