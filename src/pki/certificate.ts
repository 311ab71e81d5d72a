import "reflect-metadata";
import { createHash, randomBytes, type KeyObject } from "node:crypto";
import { AsnConvert, OctetString } from "@peculiar/asn1-schema";
import {
  AlgorithmIdentifier,
  Certificate,
  Extension,
  Extensions,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  Version,
} from "@peculiar/asn1-x509";
import { buildName, toArrayBuffer, type DistinguishedName } from "./asn1.ts";
import type { Signer } from "./signer.ts";

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
  const tbs = buildTbsCertificate(template);
  const tbsDer = new Uint8Array(AsnConvert.serialize(tbs));
  const signature = await signer.sign(tbsDer);
  const certificate = new Certificate({
    tbsCertificate: tbs,
    tbsCertificateRaw: toArrayBuffer(tbsDer),
    signatureAlgorithm: sha256WithRsa(),
    signatureValue: toArrayBuffer(signature),
  });
  return new Uint8Array(AsnConvert.serialize(certificate));
}

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
  const spki = AsnConvert.parse(publicKey.export({ type: "spki", format: "der" }), SubjectPublicKeyInfo);
  return new Uint8Array(createHash("sha1").update(new Uint8Array(spki.subjectPublicKey)).digest());
}
