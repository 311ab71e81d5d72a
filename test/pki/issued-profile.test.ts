// The JPKI end-entity and root profile (spec §1.1–1.3), asserted field by field on the DER
// our CA issues, and cross-checked with OpenSSL.
import "reflect-metadata";
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, X509Certificate } from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AsnConvert } from "@peculiar/asn1-schema";
import {
  AuthorityInfoAccessSyntax,
  AuthorityKeyIdentifier,
  BasicConstraints,
  Certificate,
  CertificatePolicies,
  CRLDistributionPoints,
  IssueAlternativeName,
  KeyUsage,
  KeyUsageFlags,
  Name,
  SubjectAlternativeName,
  SubjectKeyIdentifier,
} from "@peculiar/asn1-x509";
import { fromOtherNames } from "../../src/profile/attributes.ts";
import { openTestContext, type TestContext } from "../helpers/context.ts";
import { testPublicKeys } from "../helpers/keys.ts";
import type { CertificateRecord } from "../../src/services/certificate-authority.ts";
import type { Resident } from "../../src/services/registry.ts";

const NOW = "2026-11-25T03:00:00Z"; // 12:00 JST

function parse(der: Uint8Array) {
  return AsnConvert.parse(der, Certificate);
}

function extension(cert: Certificate, oid: string) {
  const found = cert.tbsCertificate.extensions?.find((e) => e.extnID === oid);
  assert.ok(found, `extension ${oid} present`);
  return { critical: found.critical, value: found.extnValue.buffer };
}

/** [type OID, ASN.1 string kind, value] for each RDN, to check encodings as well as values. */
function rdns(name: Name): [string, string, string][] {
  return Array.from(name, (rdn) => {
    assert.equal(rdn.length, 1, "one attribute per RDN");
    const { type, value } = rdn[0]!;
    const kind = value.printableString !== undefined ? "printable" : value.utf8String !== undefined ? "utf8" : "other";
    return [type, kind, value.toString()];
  });
}

function pem(der: Uint8Array) {
  return `-----BEGIN CERTIFICATE-----\n${Buffer.from(der).toString("base64").replace(/(.{64})/g, "$1\n")}\n-----END CERTIFICATE-----\n`;
}

describe("JPKI certificate profile", () => {
  let t: TestContext;
  let resident: Resident;
  let sign: CertificateRecord;
  let auth: CertificateRecord;
  const [signKey, authKey] = testPublicKeys(2);

  before(async () => {
    t = await openTestContext("sqlite", { now: NOW });
    resident = await t.context.registry.add({
      name: "山田 太郎",
      birth: "1990-01-02",
      gender: "1",
      address: "東京都町田市森野２－２－２２",
      municipality: "132098",
    });
    auth = await t.context.ca.issue({ type: "auth", residentId: resident.id, subjectPublicKey: authKey! });
    sign = await t.context.ca.issue({ type: "sign", residentId: resident.id, subjectPublicKey: signKey! });
  });
  after(() => t.cleanup());

  test("§1.1 roots: self-signed RSA-2048, C/O/OU/OU with C printable and the rest UTF8, J-LIS extension set and order", () => {
    for (const type of ["sign", "auth"] as const) {
      const der = t.context.ca.authority(type).certificateDer;
      const cert = parse(der);
      const purpose = type === "sign" ? "digital signature" : "user authentication";
      assert.deepEqual(rdns(cert.tbsCertificate.subject), [
        ["2.5.4.6", "printable", "JP"],
        ["2.5.4.10", "utf8", "OpenJPKI"],
        ["2.5.4.11", "utf8", `OpenJPKI for ${purpose}`],
        ["2.5.4.11", "utf8", "OpenJPKI Demonstration Operator"],
      ]);
      assert.deepEqual(AsnConvert.serialize(cert.tbsCertificate.issuer), AsnConvert.serialize(cert.tbsCertificate.subject));
      assert.deepEqual(
        Array.from(cert.tbsCertificate.extensions!, (e) => [e.extnID, e.critical]),
        [
          ["2.5.29.15", true],
          ["2.5.29.17", false],
          ["2.5.29.19", true],
          ["2.5.29.31", false],
          ["2.5.29.14", false],
        ],
      );
      const ku = AsnConvert.parse(extension(cert, "2.5.29.15").value, KeyUsage).toNumber();
      assert.equal(ku, KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign);
      assert.equal(AsnConvert.parse(extension(cert, "2.5.29.19").value, BasicConstraints).cA, true);
      const x = new X509Certificate(der);
      assert.equal(x.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
      assert.ok(x.verify(x.publicKey), "self-signed");
      // notAfter at 23:59:59 JST, the day before the 10th anniversary of the (JST) creation date.
      assert.equal(new Date(x.validTo).toISOString(), "2036-11-24T14:59:59.000Z");
    }
  });

  test("§1.2 signing certificate: subject C=JP, L=prefecture, L=municipality, CN=opaque id", () => {
    const cert = parse(sign.der);
    const subject = rdns(cert.tbsCertificate.subject);
    assert.deepEqual(subject.slice(0, 3), [
      ["2.5.4.6", "printable", "JP"],
      ["2.5.4.7", "utf8", "Tokyo-to"],
      ["2.5.4.7", "utf8", "Machida-shi"],
    ]);
    assert.equal(subject[3]![0], "2.5.4.3");
    assert.equal(subject[3]![1], "utf8");
    assert.match(subject[3]![2], /^20261125120000[0-9A-Z]{9}$/, "JST timestamp + random, no personal data");
    assert.equal(subject.length, 4);
  });

  test("§1.2 issuer matches the root DN byte for byte; version 3; sha256WithRSAEncryption; positive serial ≥ 64 bits", () => {
    const cert = parse(sign.der);
    const root = parse(t.context.ca.authority("sign").certificateDer);
    assert.deepEqual(
      Buffer.from(AsnConvert.serialize(cert.tbsCertificate.issuer)),
      Buffer.from(AsnConvert.serialize(root.tbsCertificate.subject)),
    );
    assert.equal(cert.tbsCertificate.version, 2);
    assert.equal(cert.signatureAlgorithm.algorithm, "1.2.840.113549.1.1.11");
    const serial = new Uint8Array(cert.tbsCertificate.serialNumber);
    assert.ok(serial[0]! < 0x80 && serial[0]! > 0, "positive and minimally encoded");
    assert.ok(serial.length * 8 - 1 >= 64);
    assert.equal(Buffer.from(serial).toString("hex").toUpperCase(), sign.serialHex);
  });

  test("§1.2 extensions in the real order: KU, SAN, CP, IAN, CRLDP, AIA (ours), AKI, SKI", () => {
    assert.deepEqual(
      Array.from(parse(sign.der).tbsCertificate.extensions!, (e) => [e.extnID, e.critical]),
      [
        ["2.5.29.15", true],
        ["2.5.29.17", false],
        ["2.5.29.32", true],
        ["2.5.29.18", false],
        ["2.5.29.31", false],
        ["1.3.6.1.5.5.7.1.1", false],
        ["2.5.29.35", false],
        ["2.5.29.14", false],
      ],
    );
    assert.deepEqual(
      Array.from(parse(auth.der).tbsCertificate.extensions!, (e) => e.extnID),
      ["2.5.29.15", "2.5.29.32", "2.5.29.18", "2.5.29.31", "1.3.6.1.5.5.7.1.1", "2.5.29.35", "2.5.29.14"],
      "the authentication certificate carries no subjectAltName",
    );
  });

  test("§1.2 keyUsage: signing digitalSignature+nonRepudiation, authentication digitalSignature", () => {
    const ku = (der: Uint8Array) => AsnConvert.parse(extension(parse(der), "2.5.29.15").value, KeyUsage).toNumber();
    assert.equal(ku(sign.der), KeyUsageFlags.digitalSignature | KeyUsageFlags.nonRepudiation);
    assert.equal(ku(auth.der), KeyUsageFlags.digitalSignature);
  });

  test("§1.3 the six otherNames in card order decode to the resident's data", () => {
    const san = AsnConvert.parse(extension(parse(sign.der), "2.5.29.17").value, SubjectAlternativeName);
    const list = Array.from(san, (g) => {
      assert.ok(g.otherName);
      const value = new Uint8Array(g.otherName.value);
      assert.equal(value[0], 0x0c, "UTF8String");
      const lengthBytes = value[1]! < 0x80 ? 0 : value[1]! & 0x7f;
      return { oid: g.otherName.typeId, value: Buffer.from(value.subarray(2 + lengthBytes)).toString("utf8") };
    });
    assert.deepEqual(
      list.map((o) => o.oid),
      ["5.5.1", "5.5.4", "5.5.3", "5.5.5", "5.5.2", "5.5.6"].map((s) => `1.2.392.200149.8.${s}`),
    );
    assert.deepEqual(list.map((o) => o.value), ["山田　太郎", "419900102", "1", "東京都町田市森野２－２－２２", "00000", "00000000000000"]);
    const decoded = fromOtherNames(list);
    assert.equal(decoded.name, resident.name);
    assert.equal(decoded.birth, "1990-01-02");
    assert.equal(decoded.gender, "1");
    assert.equal(decoded.address, resident.address);
  });

  test("§1.2 certificatePolicies critical with the JPKI policy OIDs and a CPS on this server", () => {
    const policy = (der: Uint8Array) => {
      const ext = extension(parse(der), "2.5.29.32");
      assert.equal(ext.critical, true);
      return Array.from(AsnConvert.parse(ext.value, CertificatePolicies), (p) => p.policyIdentifier);
    };
    assert.deepEqual(policy(sign.der), ["1.2.392.200149.8.5.1.1.20"]);
    assert.deepEqual(policy(auth.der), ["1.2.392.200149.8.5.1.3.30"]);
  });

  test("§1.2 issuerAltName, CRL distribution point per municipality, AIA, AKI = root SKI, SKI = SHA-1 of the key", () => {
    const cert = parse(sign.der);
    const ian = AsnConvert.parse(extension(cert, "2.5.29.18").value, IssueAlternativeName);
    assert.deepEqual(rdns(ian[0]!.directoryName!).map((r) => r[2]), [
      "JP",
      "OpenJPKI 公的個人認証サービス（模擬）",
      "OpenJPKI 公的個人認証サービス（模擬）署名用",
      "OpenJPKI 模擬運営者",
    ]);
    const dp = AsnConvert.parse(extension(cert, "2.5.29.31").value, CRLDistributionPoints)[0]!;
    const [dirName, uri] = dp.distributionPoint!.fullName!;
    assert.deepEqual(rdns(dirName!.directoryName!).map((r) => r[2]), [
      "JP",
      "OpenJPKI",
      "OpenJPKI for digital signature",
      "CRL Distribution Points",
      "Tokyo-to",
      "Machida-shi CRLDP",
    ]);
    assert.equal(uri!.uniformResourceIdentifier, "http://127.0.0.1:8080/crl/sign/132098.crl");
    const aia = AsnConvert.parse(extension(cert, "1.3.6.1.5.5.7.1.1").value, AuthorityInfoAccessSyntax);
    assert.deepEqual(
      Array.from(aia, (a) => [a.accessMethod, a.accessLocation.uniformResourceIdentifier]),
      [
        ["1.3.6.1.5.5.7.48.1", "http://127.0.0.1:8080/ocsp/sign"],
        ["1.3.6.1.5.5.7.48.2", "http://127.0.0.1:8080/ca/sign.crt"],
      ],
    );
    const root = parse(t.context.ca.authority("sign").certificateDer);
    const rootSki = Buffer.from(AsnConvert.parse(extension(root, "2.5.29.14").value, SubjectKeyIdentifier).buffer);
    const aki = AsnConvert.parse(extension(cert, "2.5.29.35").value, AuthorityKeyIdentifier);
    assert.deepEqual(Buffer.from(aki.keyIdentifier!.buffer), rootSki);
    const ski = Buffer.from(AsnConvert.parse(extension(cert, "2.5.29.14").value, SubjectKeyIdentifier).buffer);
    const bits = new Uint8Array(cert.tbsCertificate.subjectPublicKeyInfo.subjectPublicKey);
    assert.deepEqual(ski, createHash("sha1").update(bits).digest());
  });

  test("§2.1 validity: notBefore is issuance, notAfter 23:59:59 JST on the 5th birthday after issuance", () => {
    const x = new X509Certificate(sign.der);
    assert.equal(new Date(x.validFrom).toISOString(), "2026-11-25T03:00:00.000Z");
    assert.equal(new Date(x.validTo).toISOString(), "2031-01-02T14:59:59.000Z");
    assert.equal(sign.expires, "2031-01-02");
    assert.equal(auth.expires, "2031-01-02");
  });

  test("OpenSSL parses both certificates and verifies them against their own root only", () => {
    const dir = mkdtempSync(join(tmpdir(), "openjpki-openssl-"));
    const files: Record<string, Uint8Array> = {
      "sign-ca.pem": t.context.ca.authority("sign").certificateDer,
      "auth-ca.pem": t.context.ca.authority("auth").certificateDer,
      "sign.pem": sign.der,
      "auth.pem": auth.der,
    };
    for (const [name, der] of Object.entries(files)) writeFileSync(join(dir, name), pem(der));
    const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    assert.match(openssl("verify", "-CAfile", "sign-ca.pem", "sign.pem"), /sign\.pem: OK/);
    assert.match(openssl("verify", "-CAfile", "auth-ca.pem", "auth.pem"), /auth\.pem: OK/);
    assert.throws(() => openssl("verify", "-CAfile", "auth-ca.pem", "sign.pem"), "a signing certificate never chains to the auth root");
    const text = openssl("x509", "-in", "sign.pem", "-noout", "-text", "-nameopt", "utf8");
    assert.match(text, /othername: 1\.2\.392\.200149\.8\.5\.5\.1::山田　太郎/);
    assert.match(text, /X509v3 Key Usage: critical\s+Digital Signature, Non Repudiation/);
    assert.match(text, /X509v3 Certificate Policies: critical\s+Policy: 1\.2\.392\.200149\.8\.5\.1\.1\.20/);
    assert.match(text, /Subject: C=JP, L=Tokyo-to, L=Machida-shi, CN=/);
  });
});
