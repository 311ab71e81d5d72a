import "reflect-metadata";
import { createHash, randomBytes, type KeyObject } from "node:crypto";
import { AsnConvert, OctetString } from "@peculiar/asn1-schema";
import {
  AlgorithmIdentifier,
  Extension,
  Extensions,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  Version,
} from "@peculiar/asn1-x509";
import { buildName, toArrayBuffer, type DistinguishedName } from "./asn1.ts";
import type { Signer } from "./signer.ts";
import { bitString, seq } from "./der.ts";

const SHA256_WITH_RSA = "1.2.840.113549.1.1.11";

export interface ExtensionSpec {
  oid: string;
  critical: boolean;
  /** The DER of the extension value (what goes inside extnValue's OCTET STRING). */
  value: ArrayBuffer;
}

export interface CertificateTemplate {
  serial: Uint8Array;
  issuer: DistinguishedName;
  subject: DistinguishedName;
  notBefore: Date;
  notAfter: Date;
  subjectPublicKey: KeyObject;
  /** In the order they are to appear in the certificate. */
  extensions: ExtensionSpec[];
}

/**
 * Build the TBSCertificate apart from signing it, so the key that signs can live anywhere
 * (software key store, HSM) behind the Signer interface.
 */
export function buildTbsCertificate(template: CertificateTemplate): TBSCertificate {
  const spkiDer = template.subjectPublicKey.export({ type: "spki", format: "der" });
  return new TBSCertificate({
    version: Version.v3,
    serialNumber: toArrayBuffer(template.serial),
    signature: sha256WithRsa(),
    issuer: buildName(template.issuer),
    validity: new Validity({ notBefore: wholeSeconds(template.notBefore), notAfter: wholeSeconds(template.notAfter) }),
    subject: buildName(template.subject),
    subjectPublicKeyInfo: AsnConvert.parse(spkiDer, SubjectPublicKeyInfo),
    extensions: new Extensions(
      template.extensions.map(
        (e) => new Extension({ extnID: e.oid, critical: e.critical, extnValue: new OctetString(e.value) }),
      ),
    ),
  });
}

export async function signCertificate(template: CertificateTemplate, signer: Signer): Promise<Uint8Array> {
  return signTbsCertificate(new Uint8Array(AsnConvert.serialize(buildTbsCertificate(template))), signer);
}

/** Sign TBSCertificate DER (however it was built) and return the certificate's DER. */
export async function signTbsCertificate(tbsDer: Uint8Array, signer: Signer): Promise<Uint8Array> {
  return assembleCertificate(tbsDer, await signer.sign(tbsDer));
}

/**
 * Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING }:
 * assembled around the TBS bytes that were signed, rather than encoding the TBS a second time.
 */
export function assembleCertificate(tbsDer: Uint8Array, signature: Uint8Array): Uint8Array {
  return seq(tbsDer, SHA256_WITH_RSA_DER, bitString(signature));
}

/** AlgorithmIdentifier { sha256WithRSAEncryption, NULL } as DER. */
export const SHA256_WITH_RSA_DER = Uint8Array.of(0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00);

function sha256WithRsa(): AlgorithmIdentifier {
  // RFC 4055: the parameters of sha256WithRSAEncryption are an explicit NULL.
  return new AlgorithmIdentifier({ algorithm: SHA256_WITH_RSA, parameters: new Uint8Array([0x05, 0x00]).buffer });
}

function wholeSeconds(date: Date): Date {
  return new Date(Math.floor(date.getTime() / 1000) * 1000);
}

/**
 * A random positive serial of 127 bits. The top byte is forced into 0x40–0x7F so the
 * INTEGER is positive and minimally encoded at a fixed 16 bytes.
 */
export function randomSerial(): Uint8Array {
  const serial = new Uint8Array(randomBytes(16));
  serial[0] = (serial[0]! & 0x3f) | 0x40;
  return serial;
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING contents. */
export function keyIdentifier(publicKey: KeyObject): Uint8Array {
  const spki = new Uint8Array(publicKey.export({ type: "spki", format: "der" }));
  // SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier, subjectPublicKey BIT STRING }:
  // walk the two headers by hand (the key came from Node, so the DER is well formed).
  let offset = headerLength(spki, 0); // into the outer SEQUENCE
  offset += headerLength(spki, offset) + contentLength(spki, offset); // past the AlgorithmIdentifier
  if (spki[offset] !== 0x03) throw new TypeError("SubjectPublicKeyInfo without a BIT STRING");
  const start = offset + headerLength(spki, offset) + 1; // after the unused-bits byte
  const end = offset + headerLength(spki, offset) + contentLength(spki, offset);
  return new Uint8Array(createHash("sha1").update(spki.subarray(start, end)).digest());
}

function headerLength(der: Uint8Array, offset: number): number {
  const first = der[offset + 1]!;
  return first < 0x80 ? 2 : 2 + (first & 0x7f);
}

function contentLength(der: Uint8Array, offset: number): number {
  const first = der[offset + 1]!;
  if (first < 0x80) return first;
  let length = 0;
  for (let i = 0; i < (first & 0x7f); i++) length = length * 256 + der[offset + 2 + i]!;
  return length;
}
