// The verifier's hand-written DER readers (src/verify/der.ts, cms-der.ts, crl-der.ts, ocsp-der.ts),
// built on the shared reader (tested on its own in test/profile/der-reader.test.ts): strict on what
// they refuse (truncated, overlong, trailing garbage, indefinite lengths), and equal to the generic
// libraries (asn1js, @peculiar/asn1-x509, the BER CMS reader) on what they accept.
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { KeyObject, createHash, sign, webcrypto } from "node:crypto";
import { readFileSync } from "node:fs";
import "reflect-metadata";
import * as asn1js from "asn1js";
import { AsnConvert, OctetString } from "@peculiar/asn1-schema";
import { CertificateList, CRLReason } from "@peculiar/asn1-x509";
import { AlgorithmIdentifier, Extension } from "@peculiar/asn1-x509";
import { BasicOCSPResponse, CertID, OCSPRequest, OCSPResponse, Request, TBSRequest, id_pkix_ocsp_nonce } from "@peculiar/asn1-ocsp";
import { buildOcspRequest } from "../../src/verify/ocsp.ts";
import { parseCertificate } from "../../src/verify/certificate.ts";
import { TrustStore } from "../../src/verify/trust.ts";
import { DerReadError, TAG, readTlv } from "../../src/profile/der-reader.ts";
import { derTime } from "../../src/verify/der.ts";
import { readSignedDataDer } from "../../src/verify/cms-der.ts";
import { readSignedDataBer } from "../../src/verify/cms-ber.ts";
import type { SignedDataParts } from "../../src/verify/cms-parts.ts";
import { forEachRevokedEntry, readCertificateList, readRevokedEntry, reasonCodeValue, type RevokedEntry } from "../../src/verify/crl-der.ts";
import { VerificationFailure } from "../../src/verify/errors.ts";
import { readOcspResponse, type OcspResponseParts } from "../../src/verify/ocsp-der.ts";
import { buildCrl, type CrlEntry } from "../../src/pki/crl.ts";
import { buildOcspResponse, certIdFor, ocspIssuerFromCertificate, parseOcspRequest } from "../../src/pki/ocsp.ts";
import { assembleSignedData, prepareSignedAttributes } from "../../src/pki/cms-signed-data.ts";
import { generateKey, makeCa, makeLeaf, openssl, tempDir, type TestCa, type TestCert, type TestKey } from "../helpers/test-pki.ts";

const bytes = (...b: number[]) => Uint8Array.from(b);

/** A deterministic byte stream for the mutation tests (xorshift32). */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/** The same DER with the outermost length written in a longer (non-minimal) form. */
function overlongTop(der: Uint8Array): Uint8Array {
  const t = readTlv(der, 0);
  const length = t.end - t.contentStart;
  const lengthBytes = [(length >>> 24) & 0xff, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff];
  return Uint8Array.from([der[0]!, 0x84, ...lengthBytes, ...der.subarray(t.contentStart)]);
}

describe("derTime", () => {
  test("derTime equals asn1js on UTCTime and GeneralizedTime, and refuses what DER does not allow", () => {
    const cases: [number, string][] = [
      [TAG.UTC_TIME, "261125030000Z"],
      [TAG.UTC_TIME, "491231235959Z"],
      [TAG.UTC_TIME, "500101000000Z"],
      [TAG.UTC_TIME, "240229120000Z"],
      [TAG.GENERALIZED_TIME, "20501231235959Z"],
      [TAG.GENERALIZED_TIME, "99991231235959Z"],
    ];
    for (const [tag, text] of cases) {
      const der = Uint8Array.from([tag, text.length, ...Buffer.from(text, "latin1")]);
      const lib = asn1js.fromBER(der).result as asn1js.UTCTime;
      assert.equal(derTime(der, readTlv(der, 0)).toISOString(), lib.toDate().toISOString(), text);
    }
    for (const [tag, text] of [
      [TAG.UTC_TIME, "2611250300Z"], // no seconds
      [TAG.UTC_TIME, "261125030000+0900"],
      [TAG.GENERALIZED_TIME, "20261125030000.5Z"],
      [TAG.UTC_TIME, "260230000000Z"], // 30 February
      [TAG.UTC_TIME, "261301000000Z"],
      [TAG.UTC_TIME, "261125240000Z"],
      [TAG.UTC_TIME, "26112503000AZ"],
      [TAG.OCTET_STRING, "261125030000Z"],
    ] as const) {
      const der = Uint8Array.from([tag, text.length, ...Buffer.from(text, "latin1")]);
      assert.throws(() => derTime(der, readTlv(der, 0)), DerReadError, text);
    }
  });
});

// ----- CMS -----

let ca: TestCa;
let leafKey: TestKey;
let leaf: TestCert;

before(async () => {
  const caKey = await generateKey();
  leafKey = await generateKey();
  ca = await makeCa("C=JP, O=Reader Test, CN=Reader Test CA", caKey);
  leaf = await makeLeaf(ca, { serialHex: "8f0102030405060708", key: leafKey, cn: "signer" }); // top bit set: a leading 00 in DER
});

function leafPrivateKey(): KeyObject {
  return KeyObject.from(leafKey.keys.privateKey as unknown as webcrypto.CryptoKey);
}

/** A SignedData made by the project's own CMS builder (src/pki/cms-signed-data.ts). */
function projectCms(content: Uint8Array): Uint8Array {
  const signedAttributes = prepareSignedAttributes({ content, signingTime: new Date("2026-11-25T03:00:00Z"), certificateDer: leaf.der });
  const signature = new Uint8Array(sign(signedAttributes.hash, signedAttributes.signedAttrsDer, leafPrivateKey()));
  return assembleSignedData({ signedAttributes, signature, certificateDer: leaf.der, content });
}

/** Parts as plain data (hex strings), so two readers' results compare with deepEqual. */
function plain(p: SignedDataParts): unknown {
  const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
  return {
    eContentType: p.eContentType,
    content: p.content ? hex(p.content) : null,
    certificates: p.certificates.map(hex),
    signers: p.signers.map((s) => ({
      sid: "keyId" in s.sid ? { keyId: hex(s.sid.keyId) } : { issuer: hex(s.sid.issuerDer), serial: hex(s.sid.serial) },
      digestAlgorithm: s.digestAlgorithm,
      signedAttrs: s.signedAttrs ? { der: hex(s.signedAttrs.der), attributes: s.signedAttrs.attributes.map((a) => ({ type: a.type, values: a.values.map(hex) })) } : null,
      signatureAlgorithm: s.signatureAlgorithm,
      signature: hex(s.signature),
    })),
  };
}

describe("CMS SignedData reader", () => {
  test("on DER made here and by openssl, the strict reader gives what the asn1js reader gives", () => {
    const content = new TextEncoder().encode("令和8年分 確定申告書\n".repeat(40));
    const tmp = tempDir("der-cms");
    try {
      tmp.write("leaf.pem", leaf.pem);
      tmp.write("key.pem", leafPrivateKey().export({ type: "pkcs8", format: "pem" }) as string);
      tmp.write("content.txt", content);
      const inputs: Uint8Array[] = [projectCms(content)];
      for (const extra of [["-nodetach"], [], ["-nodetach", "-md", "sha512"], ["-nodetach", "-noattr"]]) {
        const r = openssl(["cms", "-sign", "-signer", "leaf.pem", "-inkey", "key.pem", "-binary", "-outform", "DER", ...extra, "-in", "content.txt", "-out", "o.der"], tmp.dir);
        assert.equal(r.status, 0, r.stderr);
        inputs.push(new Uint8Array(readFileSync(`${tmp.dir}/o.der`)));
      }
      for (const der of inputs) {
        const fast = readSignedDataDer(der);
        assert.deepEqual(plain(fast), plain(readSignedDataBer(der)));
        assert.equal(fast.signers.length, 1);
        assert.deepEqual(fast.certificates.map((c) => Buffer.from(c)), [Buffer.from(leaf.der)]);
        const sid = fast.signers[0]!.sid;
        assert.ok("serial" in sid);
        assert.equal(Buffer.from(sid.serial).toString("hex"), "8f0102030405060708");
      }
      // openssl's streaming output is BER (indefinite lengths): the strict reader refuses it, the BER reader takes it.
      const r = openssl(["cms", "-sign", "-stream", "-signer", "leaf.pem", "-inkey", "key.pem", "-binary", "-outform", "DER", "-nodetach", "-in", "content.txt", "-out", "s.der"], tmp.dir);
      assert.equal(r.status, 0, r.stderr);
      const ber = new Uint8Array(readFileSync(`${tmp.dir}/s.der`));
      assert.throws(() => readSignedDataDer(ber), DerReadError);
      assert.deepEqual(Buffer.from(readSignedDataBer(ber).content!), Buffer.from(content));
    } finally {
      tmp.dispose();
    }
  });

  test("every truncation, trailing garbage and an overlong length are refused", () => {
    const der = projectCms(new TextEncoder().encode("x".repeat(300)));
    for (let n = 0; n < der.length; n++) assert.throws(() => readSignedDataDer(der.subarray(0, n)), DerReadError, `prefix of ${n} bytes`);
    assert.throws(() => readSignedDataDer(Uint8Array.from([...der, 0x00])), /trailing bytes/);
    assert.throws(() => readSignedDataDer(Uint8Array.from([...der, 0x05, 0x00])), /trailing bytes/);
    const overlong = overlongTop(der);
    assert.throws(() => readSignedDataDer(overlong), /not minimally encoded/);
    assert.deepEqual(plain(readSignedDataBer(overlong)), plain(readSignedDataDer(der)), "BER still reads it (the verifier falls back)");
  });

  test("random single-byte changes give parts, DerReadError or malformed-input, never anything else", () => {
    const der = projectCms(new TextEncoder().encode("mutation"));
    const next = prng(20261125);
    for (let i = 0; i < 3000; i++) {
      const m = der.slice();
      m[next() % m.length] = next() & 0xff;
      try {
        readSignedDataDer(m);
      } catch (error) {
        assert.ok(error instanceof DerReadError || (error instanceof VerificationFailure && error.code === "malformed-input"), String(error));
      }
    }
  });

  test("a ContentInfo of another type is malformed-input from both readers", () => {
    const der = projectCms(new TextEncoder().encode("x"));
    const m = der.slice();
    const at = Buffer.from(m).indexOf(Buffer.from([0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02]));
    m[at + 8] = 0x03; // id-envelopedData
    for (const read of [readSignedDataDer, readSignedDataBer]) assert.throws(() => read(m), (e: unknown) => e instanceof VerificationFailure && /not a SignedData/.test(e.message));
  });
});

// ----- CRL -----

async function crlOf(entries: CrlEntry[], issuingDistributionPoint?: Uint8Array): Promise<Uint8Array> {
  return buildCrl({
    issuerNameDer: ca.nameDer,
    authorityKeyIdentifier: ca.subjectKeyIdentifier,
    signer: ca.key.signer,
    thisUpdate: new Date("2026-11-25T00:00:00Z"),
    nextUpdate: new Date("2026-11-26T00:00:00Z"),
    crlNumber: 7n,
    ...(issuingDistributionPoint ? { issuingDistributionPoint: { fullNameDirectoryNameDer: issuingDistributionPoint } } : {}),
    entries,
  });
}

const REASONS = ["unspecified", "keyCompromise", "affiliationChanged", "certificateHold", "cessationOfOperation"] as const;

function sampleEntries(n: number): CrlEntry[] {
  const next = prng(n);
  return Array.from({ length: n }, (_, i) => ({
    serial: Uint8Array.from({ length: 1 + (i % 19) }, (_, k) => (k === 0 && i % 3 === 0 ? 0x80 | next() : next()) & 0xff),
    revokedAt: new Date(Date.UTC(2020 + (i % 40), i % 12, 1 + (i % 28), i % 24, i % 60, (i * 7) % 60)),
    reason: REASONS[i % REASONS.length]!,
    ...(i % 4 === 1 ? { invalidityDate: new Date(Date.UTC(2019, 5, 1)) } : {}),
  }));
}

function readAll(der: Uint8Array): { entries: (RevokedEntry & { offset: number })[]; parts: ReturnType<typeof readCertificateList> } {
  const budget = { remaining: 1e7 };
  const parts = readCertificateList(der, budget);
  const entries: (RevokedEntry & { offset: number })[] = [];
  if (parts.revoked) forEachRevokedEntry(der, parts.revoked, budget, (e, offset) => entries.push({ ...e, offset }));
  return { entries, parts };
}

describe("CRL reader", () => {
  test("on a CRL made by src/pki, equals @peculiar/asn1-x509's CertificateList field by field", async () => {
    const der = await crlOf(sampleEntries(300), ca.nameDer);
    const lib = AsnConvert.parse(der, CertificateList);
    const { parts, entries } = readAll(der);
    assert.deepEqual(Buffer.from(parts.tbsDer), Buffer.from(lib.tbsCertListRaw!));
    assert.equal(parts.signatureAlgorithm, lib.signatureAlgorithm.algorithm);
    assert.deepEqual(Buffer.from(parts.signature), Buffer.from(lib.signature));
    assert.deepEqual(Buffer.from(parts.issuerNameDer), Buffer.from(AsnConvert.serialize(lib.tbsCertList.issuer)));
    assert.equal(parts.thisUpdate.toISOString(), lib.tbsCertList.thisUpdate.getTime().toISOString());
    assert.equal(parts.nextUpdate?.toISOString(), lib.tbsCertList.nextUpdate?.getTime().toISOString());
    assert.deepEqual(
      parts.extensions.map((e) => [e.oid, e.critical, Buffer.from(e.value).toString("hex")]),
      (lib.tbsCertList.crlExtensions ?? []).map((e) => [e.extnID, e.critical, Buffer.from(e.extnValue.buffer).toString("hex")]),
    );
    const libEntries = lib.tbsCertList.revokedCertificates ?? [];
    assert.equal(entries.length, libEntries.length);
    entries.forEach((e, i) => {
      const l = libEntries[i]!;
      let serial = Buffer.from(l.userCertificate);
      while (serial.length > 1 && serial[0] === 0) serial = serial.subarray(1);
      assert.equal(e.serialHex, serial.toString("hex").toUpperCase());
      assert.equal(e.revokedAt.toISOString(), l.revocationDate.getTime().toISOString());
      const libReason = l.crlEntryExtensions?.find((x) => x.extnID === "2.5.29.21");
      const ours = e.extensions.find((x) => x.oid === "2.5.29.21");
      assert.equal(ours ? reasonCodeValue(ours.value) : undefined, libReason ? AsnConvert.parse(libReason.extnValue.buffer, CRLReason).reason : undefined);
      assert.deepEqual(readRevokedEntry(der, e.offset), { serialHex: e.serialHex, revokedAt: e.revokedAt, extensions: e.extensions });
    });
  });

  test("an empty CRL has no revoked list", async () => {
    const { parts, entries } = readAll(await crlOf([]));
    assert.equal(parts.revoked, undefined);
    assert.equal(entries.length, 0);
  });

  test("every truncation, trailing garbage, an overlong length and a spent node budget are refused", async () => {
    const der = await crlOf(sampleEntries(20));
    for (let n = 0; n < der.length; n++) assert.throws(() => readAll(der.subarray(0, n)), DerReadError, `prefix of ${n} bytes`);
    assert.throws(() => readAll(Uint8Array.from([...der, 0])), /CertificateList: trailing bytes/);
    assert.throws(() => readAll(overlongTop(der)), /not minimally encoded/);
    const budget = { remaining: 40 };
    const parts = readCertificateList(der, budget);
    assert.throws(() => forEachRevokedEntry(der, parts.revoked!, budget, () => {}), /too many ASN.1 elements/);
  });

  test("random single-byte changes give entries or DerReadError, never anything else", async () => {
    const der = await crlOf(sampleEntries(10));
    const next = prng(7);
    for (let i = 0; i < 3000; i++) {
      const m = der.slice();
      m[next() % m.length] = next() & 0xff;
      try {
        readAll(m);
      } catch (error) {
        assert.ok(error instanceof DerReadError, String(error));
      }
    }
  });

  test("reasonCode: one ENUMERATED of 0–10 only", () => {
    assert.equal(reasonCodeValue(bytes(0x0a, 0x01, 0x06)), 6);
    assert.throws(() => reasonCodeValue(bytes(0x0a, 0x01, 0x0b)), /out of range/);
    assert.throws(() => reasonCodeValue(bytes(0x0a, 0x02, 0x00, 0x01)), /out of range/);
    assert.throws(() => reasonCodeValue(bytes(0x02, 0x01, 0x01)), /ENUMERATED/);
    assert.throws(() => reasonCodeValue(bytes(0x0a, 0x01, 0x01, 0x00)), /ENUMERATED/);
  });
});

// ----- OCSP -----

/** Our reader's parts and @peculiar/asn1-ocsp's parse of the same response, as comparable plain data. */
function ocspPlain(p: OcspResponseParts): unknown {
  const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
  const b = p.basic!;
  return {
    tbs: hex(b.tbsDer),
    responderId: "byKey" in b.responderId ? { byKey: hex(b.responderId.byKey) } : { byName: hex(b.responderId.byName) },
    producedAt: b.producedAt.toISOString(),
    responses: b.responses.map((r) => ({
      hashAlgorithm: r.hashAlgorithm,
      name: hex(r.issuerNameHash),
      key: hex(r.issuerKeyHash),
      serial: hex(r.serial),
      status: r.status.kind === "revoked" ? { revoked: r.status.revokedAt.toISOString(), reason: r.status.reasonCode ?? null } : r.status.kind,
      thisUpdate: r.thisUpdate.toISOString(),
      nextUpdate: r.nextUpdate?.toISOString() ?? null,
    })),
    extensions: b.extensions.map((e) => [e.oid, e.critical, hex(e.value)]),
    signatureAlgorithm: b.signatureAlgorithm,
    signature: hex(b.signature),
    certificates: b.certificates.map(hex),
  };
}

function libraryOcspPlain(der: Uint8Array): unknown {
  const hex = (b: ArrayBuffer | Uint8Array) => Buffer.from(b instanceof Uint8Array ? b : new Uint8Array(b)).toString("hex");
  const response = AsnConvert.parse(der, OCSPResponse);
  const basicDer = response.responseBytes!.response.buffer;
  const basic = AsnConvert.parse(basicDer, BasicOCSPResponse);
  const data = basic.tbsResponseData;
  return {
    tbs: hex(basic.tbsResponseDataRaw!),
    responderId: data.responderID.byKey ? { byKey: hex(data.responderID.byKey.buffer) } : { byName: hex(AsnConvert.serialize(data.responderID.byName!)) },
    producedAt: data.producedAt.toISOString(),
    responses: data.responses.map((r) => ({
      hashAlgorithm: r.certID.hashAlgorithm.algorithm,
      name: hex(r.certID.issuerNameHash.buffer),
      key: hex(r.certID.issuerKeyHash.buffer),
      serial: hex(r.certID.serialNumber),
      status: r.certStatus.revoked
        ? { revoked: r.certStatus.revoked.revocationTime.toISOString(), reason: r.certStatus.revoked.revocationReason?.reason ?? null }
        : r.certStatus.good !== undefined
          ? "good"
          : "unknown",
      thisUpdate: r.thisUpdate.toISOString(),
      nextUpdate: r.nextUpdate?.toISOString() ?? null,
    })),
    extensions: (data.responseExtensions ?? []).map((e) => [e.extnID, e.critical, hex(e.extnValue.buffer)]),
    signatureAlgorithm: basic.signatureAlgorithm.algorithm,
    signature: hex(basic.signature),
    // The library re-encodes what it parsed; for DER certificates that is the input, byte for byte.
    certificates: (basic.certs ?? []).map((c) => hex(AsnConvert.serialize(c))),
  };
}

describe("OCSP response reader", () => {
  let ours: Uint8Array[];

  before(async () => {
    const issuer = ocspIssuerFromCertificate(ca.der);
    const base = { signer: ca.key.signer, producedAt: new Date("2026-11-25T03:00:00Z") };
    const id = (serial: number) => certIdFor(issuer, Uint8Array.of(serial));
    ours = [
      await buildOcspResponse({ ...base, responses: [{ certId: id(1), status: { kind: "good" }, thisUpdate: new Date("2026-11-25T02:00:00Z"), nextUpdate: new Date("2026-11-26T02:00:00Z") }], nonce: Uint8Array.of(0x04, 0x10, ...new Array(16).fill(9)) }),
      await buildOcspResponse({ ...base, responses: [{ certId: id(2), status: { kind: "revoked", revokedAt: new Date("2026-01-02T03:04:05Z"), reason: "affiliationChanged" }, thisUpdate: new Date("2026-11-25T02:00:00Z") }] }),
      await buildOcspResponse({ ...base, responses: [{ certId: id(3), status: { kind: "unknown" }, thisUpdate: new Date("2026-11-25T02:00:00Z") }], responderCertificateDer: leaf.der }),
    ];
  });

  test("on our responder's answers and openssl's (byName) answers, equals @peculiar/asn1-ocsp field by field", () => {
    const tmp = tempDir("der-ocsp");
    const inputs = [...ours];
    try {
      tmp.write("ca.pem", ca.pem);
      tmp.write("ca.key", KeyObject.from(ca.key.keys.privateKey as unknown as webcrypto.CryptoKey).export({ type: "pkcs8", format: "pem" }) as string);
      tmp.write("leaf.pem", leaf.pem);
      for (const [line, name] of [
        ["V\t340101000000Z\t\t8F0102030405060708\tunknown\t/C=JP/CN=signer\n", "good"],
        ["R\t340101000000Z\t251201000000Z,keyCompromise\t8F0102030405060708\tunknown\t/C=JP/CN=signer\n", "revoked"],
      ] as const) {
        tmp.write("index.txt", line);
        let r = openssl(["ocsp", "-issuer", "ca.pem", "-cert", "leaf.pem", "-reqout", "req.der"], tmp.dir);
        assert.equal(r.status, 0, r.stderr);
        r = openssl(["ocsp", "-index", "index.txt", "-CA", "ca.pem", "-rsigner", "ca.pem", "-rkey", "ca.key", "-reqin", "req.der", "-respout", `${name}.der`, "-ndays", "1"], tmp.dir);
        assert.equal(r.status, 0, r.stderr);
        inputs.push(new Uint8Array(readFileSync(`${tmp.dir}/${name}.der`)));
      }
    } finally {
      tmp.dispose();
    }
    for (const der of inputs) {
      const parts = readOcspResponse(der, { remaining: 2000 });
      assert.equal(parts.status, 0);
      assert.deepEqual(ocspPlain(parts), libraryOcspPlain(der));
    }
    const byName = readOcspResponse(inputs[3]!, { remaining: 2000 }).basic!;
    assert.ok("byName" in byName.responderId, "openssl answers byName");
    assert.equal(byName.extensions.length, 1, "openssl echoes the request's nonce");
  });

  test("a non-successful status is read without a body", () => {
    assert.deepEqual(readOcspResponse(bytes(0x30, 0x03, 0x0a, 0x01, 0x03), { remaining: 10 }), { status: 3 });
  });

  test("every truncation, trailing garbage, an overlong length and a spent node budget are refused", () => {
    for (const der of ours) {
      for (let n = 0; n < der.length; n++) assert.throws(() => readOcspResponse(der.subarray(0, n), { remaining: 2000 }), DerReadError, `prefix of ${n} bytes`);
      assert.throws(() => readOcspResponse(Uint8Array.from([...der, 0]), { remaining: 2000 }), /OCSPResponse: trailing bytes/);
      assert.throws(() => readOcspResponse(overlongTop(der), { remaining: 2000 }), /not minimally encoded/);
      assert.throws(() => readOcspResponse(der, { remaining: 10 }), /too many ASN.1 elements/);
    }
  });

  test("random single-byte changes give parts or DerReadError, never anything else", () => {
    const next = prng(5019);
    for (const der of ours) {
      for (let i = 0; i < 1500; i++) {
        const m = der.slice();
        m[next() % m.length] = next() & 0xff;
        try {
          readOcspResponse(m, { remaining: 2000 });
        } catch (error) {
          assert.ok(error instanceof DerReadError, String(error));
        }
      }
    }
  });
});

describe("OCSP request writer", () => {
  test("writes what @peculiar/asn1-ocsp writes, with and without a nonce, and the responder's parser reads it", () => {
    const anchor = new TrustStore({ sign: [ca.der], auth: [] }).anchors[0]!;
    const cert = parseCertificate(leaf.der);
    const issuer = ocspIssuerFromCertificate(ca.der);
    const sha1 = (b: Uint8Array) => new Uint8Array(createHash("sha1").update(b).digest());
    for (const nonce of [undefined, Uint8Array.from({ length: 16 }, (_, i) => i * 13)]) {
      const tbs = new TBSRequest({
        requestList: [
          new Request({
            reqCert: new CertID({
              hashAlgorithm: new AlgorithmIdentifier({ algorithm: "1.3.14.3.2.26", parameters: null }),
              issuerNameHash: new OctetString(sha1(issuer.nameDer)),
              issuerKeyHash: new OctetString(sha1(issuer.spkiKeyBits)),
              serialNumber: Uint8Array.from(Buffer.from("008f0102030405060708", "hex")).buffer,
            }),
          }),
        ],
      });
      if (nonce) tbs.requestExtensions = [new Extension({ extnID: id_pkix_ocsp_nonce, critical: false, extnValue: new OctetString(AsnConvert.serialize(new OctetString(nonce))) })];
      const expected = Buffer.from(AsnConvert.serialize(new OCSPRequest({ tbsRequest: tbs })));
      const ours = buildOcspRequest(cert, anchor, nonce);
      assert.deepEqual(Buffer.from(ours), expected);
      const parsed = parseOcspRequest(ours);
      assert.equal(Buffer.from(parsed.requests[0]!.serial).toString("hex"), "8f0102030405060708");
      assert.equal(parsed.nonce === undefined, nonce === undefined);
    }
  });
});
