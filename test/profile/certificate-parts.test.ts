// The certificate fields both the issuer and the verifier take byte for byte
// (src/profile/certificate-parts.ts): equal to @peculiar/asn1-x509 on our certificates and the
// real J-LIS roots, and refused, as DerReadError, on anything that is not strictly one certificate.
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { readFileSync, readdirSync } from "node:fs";
import "reflect-metadata";
import { AsnConvert } from "@peculiar/asn1-schema";
import { Certificate } from "@peculiar/asn1-x509";
import { readCertificateParts } from "../../src/profile/certificate-parts.ts";
import { DerReadError } from "../../src/profile/der-reader.ts";
import { generateKey, makeCa, makeLeaf, type TestCa, type TestCert } from "../helpers/test-pki.ts";

const JLIS_DIR = "/work/shared/jpki-ca-certs";
const hex = (b: Uint8Array | ArrayBuffer) => Buffer.from(b instanceof ArrayBuffer ? new Uint8Array(b) : b).toString("hex");

let ca: TestCa;
let leaf: TestCert;

before(async () => {
  ca = await makeCa("C=JP, O=Parts Test, CN=Parts Test CA", await generateKey());
  leaf = await makeLeaf(ca, { serialHex: "8f0102030405060708", key: await generateKey(), cn: "holder" }); // top bit set: a leading 00 in DER
});

function jlisRoots(): Uint8Array[] {
  return readdirSync(JLIS_DIR)
    .filter((f) => f.endsWith(".pem"))
    .map((f) => new Uint8Array(new X509Certificate(readFileSync(`${JLIS_DIR}/${f}`)).raw));
}

describe("readCertificateParts", () => {
  test("equals @peculiar/asn1-x509 on our CA and leaf and on the J-LIS roots", () => {
    const inputs = [ca.der, leaf.der, ...jlisRoots()];
    assert.ok(inputs.length >= 4, "the J-LIS roots are there");
    for (const der of inputs) {
      const parts = readCertificateParts(der);
      const lib = AsnConvert.parse(der, Certificate).tbsCertificate;
      assert.equal(hex(parts.serial), hex(lib.serialNumber));
      assert.equal(hex(parts.issuerNameDer), hex(AsnConvert.serialize(lib.issuer)));
      assert.equal(hex(parts.subjectNameDer), hex(AsnConvert.serialize(lib.subject)));
      assert.equal(hex(parts.spkiDer), hex(AsnConvert.serialize(lib.subjectPublicKeyInfo)));
      assert.equal(hex(parts.spkiKeyBits), hex(lib.subjectPublicKeyInfo.subjectPublicKey));
    }
    assert.equal(hex(readCertificateParts(leaf.der).serial), "008f0102030405060708");
  });

  test("every truncation and trailing bytes are refused", () => {
    const der = leaf.der;
    for (let n = 0; n < der.length; n++) assert.throws(() => readCertificateParts(der.subarray(0, n)), DerReadError, `prefix of ${n} bytes`);
    assert.throws(() => readCertificateParts(Uint8Array.from([...der, 0x00])), /Certificate: trailing bytes/);
  });

  test("the outline is checked: signature fields, nothing after them, a non-empty key", () => {
    const ok = outline({});
    assert.equal(hex(readCertificateParts(ok).spkiKeyBits), "aa");
    assert.throws(() => readCertificateParts(outline({ signatureValueTag: 0x04 })), /Certificate: signatureValue has tag 0x04, expected 0x03/);
    assert.throws(() => readCertificateParts(outline({ after: [0x05, 0x00] })), /Certificate: unexpected element with tag 0x05 at the end/);
    assert.throws(() => readCertificateParts(outline({ keyBitString: [0x00] })), /an empty subjectPublicKey/);
    assert.throws(() => readCertificateParts(outline({ keyBitString: [0x01, 0xaa] })), /unused bits/);
    assert.throws(() => readCertificateParts(outline({ serial: [0x00, 0x01] })), /INTEGER not minimally encoded/);
    assert.throws(() => readCertificateParts(outline({ afterKey: [0x05, 0x00] })), /SubjectPublicKeyInfo: unexpected element/);
    // A certificate wrapped in one more SEQUENCE is not a certificate.
    assert.throws(() => readCertificateParts(Uint8Array.from([0x30, ok.length, ...ok])), DerReadError);
  });
});

/** One TLV (short lengths only: the outlines here are small). */
function tlv(tag: number, ...parts: number[][]): number[] {
  const body = parts.flat();
  assert.ok(body.length < 0x80);
  return [tag, body.length, ...body];
}

/** A certificate's outline with empty Names and algorithms: just the structure the reader checks. */
function outline(o: { serial?: number[]; keyBitString?: number[]; afterKey?: number[]; signatureValueTag?: number; after?: number[] }): Uint8Array {
  const empty = tlv(0x30);
  const spki = tlv(0x30, empty, tlv(0x03, o.keyBitString ?? [0x00, 0xaa]), o.afterKey ?? []);
  const tbs = tlv(0x30, tlv(0xa0, [0x02, 0x01, 0x02]), tlv(0x02, o.serial ?? [0x01]), empty, empty, empty, empty, spki);
  return Uint8Array.from(tlv(0x30, tbs, empty, tlv(o.signatureValueTag ?? 0x03, [0x00, 0xbb]), o.after ?? []));
}
