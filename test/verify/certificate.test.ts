// The relying-party library on certificates: path to the right root, type, validity, revocation
// (OCSP and CRL) and every fail-closed case. Certificates come from the project's own CA.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { X509Certificate, createHash } from "node:crypto";
import { createVerifier, VERIFY_ERROR_CODES, type VerificationResult } from "../../src/verify/index.ts";
import { signCertificate, randomSerial, signTbsCertificate } from "../../src/pki/certificate.ts";
import "reflect-metadata";
import { AsnConvert } from "@peculiar/asn1-schema";
import { Certificate } from "@peculiar/asn1-x509";
import { leafTemplate, rootTemplate } from "../../src/pki/jpki-profile.ts";
import { toOtherNames } from "../../src/profile/attributes.ts";
import { DAY, NOW_DATE, SoftwareSigner, crlFake, keys, makeWorld, ocspFake, responderCertificate, verifierFor, type World } from "./fixtures.ts";

const JLIS_DIR = "/work/shared/jpki-ca-certs";

function assertInvalid(r: VerificationResult, code: string, pattern?: RegExp): asserts r is Extract<VerificationResult, { valid: false }> {
  assert.equal(r.valid, false, `expected ${code}, got valid`);
  if (r.valid) return;
  assert.equal(r.code, code, `expected ${code}, got ${r.code}: ${r.message}`);
  if (pattern) assert.match(r.message, pattern);
}

function assertValid(r: VerificationResult): asserts r is Extract<VerificationResult, { valid: true }> {
  assert.equal(r.valid, true, r.valid ? "" : `${r.code}: ${r.message}`);
}

function pemToDer(text: string): Uint8Array[] {
  return [...text.matchAll(/-----BEGIN CERTIFICATE-----([^-]+)-----END CERTIFICATE-----/g)].map((m) => new Uint8Array(Buffer.from(m[1]!.replace(/\s+/g, ""), "base64")));
}

let w: World;

before(async () => {
  w = await makeWorld();
});
after(() => w.cleanup());

describe("valid certificates", () => {
  test("a signing certificate verifies, with its four attributes in Western and era form (OCSP)", async () => {
    const ocsp = ocspFake(w);
    const r = await verifierFor(w, { ocsp: { fetch: ocsp.fetch } }).verifyCertificate(w.holder.sign.der, { expectedType: "sign" });
    assertValid(r);
    assert.equal(r.type, "sign");
    assert.equal(r.certificate.serialHex, w.holder.sign.serialHex);
    assert.deepEqual(r.attributes, {
      name: "山田\u3000太郎",
      address: "東京都町田市森野２－２－２２",
      gender: { code: "1", ja: "男", en: "male" },
      birth: { western: "1990-01-02", era: "平成2年1月2日", eraEn: "Heisei 2 (1990)" },
      nameSubstitutes: "00000",
      addressSubstitutes: "0".repeat([..."東京都町田市森野２－２－２２"].length),
    });
    assert.equal(r.revocation.method, "ocsp");
    assert.equal(r.revocation.status, "good");
    assert.match(r.revocation.url, /\/ocsp\/sign$/);
    assert.ok(r.revocation.producedAt && r.revocation.nextUpdate);
    const rootSha = createHash("sha256").update(w.roots.sign).digest("hex").toUpperCase();
    assert.equal(r.path.root.sha256Hex, rootSha);
    assert.equal(r.path.root.type, "sign");
    assert.equal(r.verifiedAt, NOW_DATE.toISOString());
    assert.deepEqual(ocsp.calls.length, 1);
  });

  test("an authentication certificate verifies and carries no attributes (CRL)", async () => {
    const crl = crlFake(w);
    const r = await verifierFor(w, { crl: { fetch: crl.fetch } }).verifyCertificate(w.holder.auth.der, { expectedType: "auth" });
    assertValid(r);
    assert.equal(r.type, "auth");
    assert.equal(r.attributes, undefined);
    assert.equal(r.revocation.method, "crl");
    assert.match(r.revocation.url, /\/crl\/auth\/132098\.crl$/);
  });

  test("OCSP without a nonce, and prefer: crl picks the CRL first", async () => {
    const ocsp = ocspFake(w, { dropNonce: true });
    const crl = crlFake(w);
    const v = verifierFor(w, { ocsp: { fetch: ocsp.fetch, useNonce: false }, crl: { fetch: crl.fetch }, prefer: "crl" });
    const r = await v.verifyCertificate(w.holder.sign.der, { expectedType: "sign" });
    assertValid(r);
    assert.equal(r.revocation.method, "crl");
    assert.equal(ocsp.calls.length, 0);
    const r2 = await verifierFor(w, { ocsp: { fetch: ocsp.fetch, useNonce: false } }).verifyCertificate(w.holder.sign.der, { expectedType: "sign" });
    assertValid(r2);
  });

  test("a delegated OCSP responder with id-kp-OCSPSigning issued by the root is accepted", async () => {
    const [, , , , , rk] = keys(6);
    const responder = await responderCertificate(w, "sign", rk!);
    const ocsp = ocspFake(w, { signer: new SoftwareSigner(rk!.privateKey), responderCertificateDer: responder });
    const r = await verifierFor(w, { ocsp: { fetch: ocsp.fetch } }).verifyCertificate(w.holder.sign.der, { expectedType: "sign" });
    assertValid(r);
  });
});

describe("type and path", () => {
  const ocspOnly = () => ({ ocsp: { fetch: ocspFake(w).fetch } });

  test("an authentication certificate presented for a signature is wrong-certificate-type", async () => {
    const r = await verifierFor(w, ocspOnly()).verifyCertificate(w.holder.auth.der, { expectedType: "sign" });
    assertInvalid(r, "wrong-certificate-type");
    assert.equal(r.certificate?.serialHex, w.holder.auth.serialHex);
  });

  test("a signing certificate presented for login is wrong-certificate-type", async () => {
    const r = await verifierFor(w, ocspOnly()).verifyCertificate(w.holder.sign.der, { expectedType: "auth" });
    assertInvalid(r, "wrong-certificate-type");
  });

  test("with only the authentication root trusted, a signing certificate is untrusted-root", async () => {
    const v = createVerifier({ trustAnchors: { sign: [], auth: [w.roots.auth] }, revocation: ocspOnly(), now: () => NOW_DATE });
    assertInvalid(await v.verifyCertificate(w.holder.sign.der, { expectedType: "sign" }), "untrusted-root");
  });

  test("the real J-LIS roots load as trust anchors, and our certificates are untrusted-root against them", async () => {
    const files = readdirSync(JLIS_DIR).filter((f) => f.endsWith(".pem"));
    const sign = files.filter((f) => f.startsWith("sign")).flatMap((f) => pemToDer(readFileSync(`${JLIS_DIR}/${f}`, "utf8")));
    const auth = files.filter((f) => f.startsWith("auth")).flatMap((f) => pemToDer(readFileSync(`${JLIS_DIR}/${f}`, "utf8")));
    assert.ok(sign.length >= 2 && auth.length >= 2);
    const v = createVerifier({ trustAnchors: { sign, auth }, revocation: ocspOnly(), now: () => NOW_DATE });
    const r = await v.verifyCertificate(w.holder.sign.der, { expectedType: "sign" });
    assertInvalid(r, "untrusted-root");
    assertInvalid(await v.verifyCertificate(w.holder.auth.der, { expectedType: "auth" }), "untrusted-root");
  });

  test("two root generations with the same DN: the issuer is chosen by key identifier and signature", async () => {
    const [, , , , gen2Key] = keys(6);
    const naming = w.t.context.ca.naming;
    const gen2Signer = new SoftwareSigner(gen2Key!.privateKey);
    const gen2Root = await signCertificate(
      rootTemplate({ type: "sign", naming, publicKey: gen2Key!.publicKey, serial: randomSerial(), notBefore: NOW_DATE, notAfter: new Date(NOW_DATE.getTime() + 3650 * DAY) }),
      gen2Signer,
    );
    assert.equal(new X509Certificate(gen2Root).subject, new X509Certificate(w.roots.sign).subject, "same DN");
    const [leafKey] = keys(1);
    const template = leafTemplate({
      type: "sign",
      naming,
      issuerPublicKey: gen2Key!.publicKey,
      subjectPublicKey: leafKey!.publicKey,
      serial: randomSerial(),
      subjectCn: "GEN2LEAF0000000000000001",
      notBefore: NOW_DATE,
      notAfter: new Date(NOW_DATE.getTime() + 365 * DAY),
      municipality: { prefectureRomaji: "Tokyo-to", cityRomaji: "Machida-shi" },
      otherNames: toOtherNames({ name: "山田\u3000花子", nameSubstitutes: "00000", birth: "2019-05-01", gender: "2", address: "東京都町田市", addressSubstitutes: "000000" }),
      urls: { ocsp: "http://x/ocsp/sign", caIssuers: "http://x/ca/sign.crt", crl: "http://x/crl/sign/132098.crl", cps: "http://x/cps" },
    });
    const gen2Leaf = await signCertificate(template, gen2Signer);
    // A forgery: the AKI says generation 2, but generation 1 signed it.
    const forged = await signCertificate(template, w.signers.sign);
    const revocation = { crl: { fetch: async () => new Uint8Array() } };

    // Without revocation data the path is still decided first: check where it fails.
    const both = createVerifier({ trustAnchors: { sign: [w.roots.sign, gen2Root], auth: [w.roots.auth] }, revocation, now: () => NOW_DATE });
    const r1 = await both.verifyCertificate(gen2Leaf, { expectedType: "sign" });
    assertInvalid(r1, "revocation-unavailable"); // got past the path: chosen generation 2
    assertInvalid(await both.verifyCertificate(forged, { expectedType: "sign" }), "bad-signature");
    const onlyGen1 = createVerifier({ trustAnchors: { sign: [w.roots.sign], auth: [] }, revocation, now: () => NOW_DATE });
    assertInvalid(await onlyGen1.verifyCertificate(gen2Leaf, { expectedType: "sign" }), "untrusted-root");

    // With a CRL signed by generation 2, the valid result names generation 2 as the root.
    const { buildCrl } = await import("../../src/pki/crl.ts");
    const { readCertificateFields, keyHashSha1 } = await import("../../src/pki/certificate-fields.ts");
    const f = readCertificateFields(gen2Root);
    const crl2 = await buildCrl({ issuerNameDer: f.subjectNameDer, authorityKeyIdentifier: keyHashSha1(f.spkiKeyBits), signer: gen2Signer, thisUpdate: NOW_DATE, nextUpdate: new Date(NOW_DATE.getTime() + DAY), crlNumber: 1n, entries: [] });
    const v2 = createVerifier({ trustAnchors: { sign: [w.roots.sign, gen2Root], auth: [] }, revocation: { crl: { fetch: async () => crl2 } }, now: () => NOW_DATE });
    const ok = await v2.verifyCertificate(gen2Leaf, { expectedType: "sign" });
    assertValid(ok);
    assert.equal(ok.path.root.sha256Hex, createHash("sha256").update(gen2Root).digest("hex").toUpperCase());
    assert.equal(ok.path.root.keyIdentifierHex, keyHashSha1(f.spkiKeyBits).reduce((s, b) => s + b.toString(16).padStart(2, "0"), "").toUpperCase());
    const gen1 = await v2.verifyCertificate(w.holder.sign.der, { expectedType: "sign" });
    assertInvalid(gen1, "revocation-unavailable"); // gen-1 leaf: its CRL (gen-2 signed) is refused
    assert.match(gen1.message, /not signed by the certificate's root/);
  });

  test("validity: before notBefore is not-yet-valid, after notAfter is expired", async () => {
    const v = verifierFor(w, ocspOnly());
    const cert = new X509Certificate(w.holder.auth.der);
    assertInvalid(await v.verifyCertificate(w.holder.auth.der, { expectedType: "auth", at: new Date(new Date(cert.validFrom).getTime() - 1000) }), "not-yet-valid");
    const r = await v.verifyCertificate(w.holder.auth.der, { expectedType: "auth", at: new Date(new Date(cert.validTo).getTime() + 1000) });
    assertInvalid(r, "expired");
    assert.equal(r.detail?.certificate, "certificate");
    // And through the clock: a verifier whose now() is past the expiry.
    const late = verifierFor(w, ocspOnly(), { now: () => new Date(new Date(cert.validTo).getTime() + DAY) });
    assertInvalid(await late.verifyCertificate(w.holder.auth.der, { expectedType: "auth" }), "expired");
  });

  test("certificates the generic parser would misread are malformed-input: month 13, inner and outer signature algorithms differing", async () => {
    const v = verifierFor(w, ocspOnly());
    const parsed = AsnConvert.parse(w.holder.sign.der, Certificate);
    const tbs = new Uint8Array(parsed.tbsCertificateRaw!);
    // notAfter, the second UTCTime (17 0D YYMMDDhhmmssZ) of the TBS: month "13", re-signed by the CA.
    const utcTimes = [...Buffer.from(tbs).toString("hex").matchAll(/170d(3[0-9]){12}5a/g)].map((m) => m.index! / 2);
    assert.equal(utcTimes.length, 2);
    const month13 = tbs.slice();
    month13.set(Buffer.from("13", "ascii"), utcTimes[1]! + 2 + 2);
    const monthThirteen = await signTbsCertificate(month13, w.signers.sign);
    assertInvalid(await v.verifyCertificate(monthThirteen, { expectedType: "sign" }), "malformed-input", /month|date|time/i);
    // The TBS names sha1WithRSAEncryption while the outer algorithm (and the CA's signature) is sha256WithRSAEncryption.
    parsed.tbsCertificate.signature.algorithm = "1.2.840.113549.1.1.5";
    const mixed = await signTbsCertificate(new Uint8Array(AsnConvert.serialize(parsed.tbsCertificate)), w.signers.sign);
    assertInvalid(await v.verifyCertificate(mixed, { expectedType: "sign" }), "malformed-input", /signature algorithm inside the certificate differs/);
  });

  test("a garbage certificate is malformed-input", async () => {
    const v = verifierFor(w, ocspOnly());
    assertInvalid(await v.verifyCertificate(Uint8Array.of(0x30, 0x03, 1, 2, 3), { expectedType: "sign" }), "malformed-input");
    assertInvalid(await v.verifyCertificate(new Uint8Array(100_000), { expectedType: "sign" }), "malformed-input");
  });
});

describe("revocation", () => {
  test("revoked (affiliationChanged) via OCSP and via CRL, with reason and time", async () => {
    const h = await w.issueHolder({ name: "佐藤 一郎" });
    await w.t.context.ca.revoke({ type: "sign", serialHex: h.sign.serialHex, reason: "affiliationChanged", by: "operator" });
    for (const revocation of [{ ocsp: { fetch: ocspFake(w).fetch } }, { crl: { fetch: crlFake(w).fetch } }]) {
      const r = await verifierFor(w, revocation).verifyCertificate(h.sign.der, { expectedType: "sign" });
      assertInvalid(r, "revoked");
      assert.equal(r.detail?.reason, "affiliationChanged");
      assert.equal(r.detail?.reasonCode, 3);
      assert.equal(r.detail?.revokedAt, NOW_DATE.toISOString());
      assert.equal(r.detail?.method, "ocsp" in revocation ? "ocsp" : "crl");
    }
    // The authentication certificate is untouched.
    assertValid(await verifierFor(w, { ocsp: { fetch: ocspFake(w).fetch } }).verifyCertificate(h.auth.der, { expectedType: "auth" }));
  });

  test("a certificate on hold is on-hold (OCSP and CRL)", async () => {
    const h = await w.issueHolder({ name: "鈴木 次郎" });
    await w.t.context.ca.revoke({ type: "auth", serialHex: h.auth.serialHex, reason: "certificateHold", by: "hotline" });
    for (const revocation of [{ ocsp: { fetch: ocspFake(w).fetch } }, { crl: { fetch: crlFake(w).fetch } }]) {
      const r = await verifierFor(w, revocation).verifyCertificate(h.auth.der, { expectedType: "auth" });
      assertInvalid(r, "on-hold");
      assert.equal(r.detail?.reason, "certificateHold");
    }
  });

  test("OCSP unknown is unknown-certificate", async () => {
    const r = await verifierFor(w, { ocsp: { fetch: ocspFake(w, { unknown: true }).fetch } }).verifyCertificate(w.holder.sign.der, { expectedType: "sign" });
    assertInvalid(r, "unknown-certificate");
  });

  test("the CRL is cached per URL until nextUpdate, per verifier", async () => {
    const crl = crlFake(w);
    let now = NOW_DATE;
    const v = verifierFor(w, { crl: { fetch: crl.fetch } }, { now: () => now });
    assertValid(await v.verifyCertificate(w.holder.auth.der, { expectedType: "auth" }));
    const second = await v.verifyCertificate(w.holder.auth.der, { expectedType: "auth" });
    assertValid(second);
    assert.equal(second.revocation.cached, true);
    assert.equal(crl.calls.length, 1);
    // Another verifier has its own cache.
    assertValid(await verifierFor(w, { crl: { fetch: crl.fetch } }).verifyCertificate(w.holder.auth.der, { expectedType: "auth" }));
    assert.equal(crl.calls.length, 2);
    // Past nextUpdate the cached CRL is dropped and fetched again (the fake makes a current one).
    now = new Date(NOW_DATE.getTime() + 2 * DAY);
    crl.knobs.shiftMs = 2 * DAY;
    assertValid(await v.verifyCertificate(w.holder.auth.der, { expectedType: "auth" }));
    assert.equal(crl.calls.length, 3);
  });

  describe("fails closed: revocation-unavailable", () => {
    const cases: [string, () => Parameters<typeof verifierFor>[1], RegExp][] = [
      ["no method configured", () => ({}), /no revocation method/],
      ["the OCSP fetch throws", () => ({ ocsp: { fetch: ocspFake(w, { fail: true }).fetch } }), /fetch failed: connection refused/],
      ["the OCSP response is garbage", () => ({ ocsp: { fetch: ocspFake(w, { raw: Uint8Array.of(1, 2, 3) }).fetch } }), /malformed OCSP response/],
      ["the OCSP responder says tryLater", () => ({ ocsp: { fetch: ocspFake(w, { raw: Uint8Array.of(0x30, 0x03, 0x0a, 0x01, 0x03) }).fetch } }), /tryLater/],
      ["the OCSP signature is tampered", () => ({ ocsp: { fetch: ocspFake(w, { tamper: true }).fetch } }), /signature does not verify/],
      ["the OCSP response is signed by the other root", () => ({ ocsp: { fetch: ocspFake(w, { signer: w.signers.auth }).fetch } }), /signed neither by the issuing root/],
      ["the OCSP nonce is not echoed", () => ({ ocsp: { fetch: ocspFake(w, { dropNonce: true }).fetch } }), /does not echo/],
      ["the OCSP nonce differs", () => ({ ocsp: { fetch: ocspFake(w, { wrongNonce: true }).fetch } }), /nonce does not match/],
      ["the OCSP answer is stale", () => ({ ocsp: { fetch: ocspFake(w, { shiftMs: -3 * DAY }).fetch } }), /stale/],
      ["the OCSP answer is from the future", () => ({ ocsp: { fetch: ocspFake(w, { shiftMs: 2 * 3600_000 }).fetch } }), /in the future/],
      ["the OCSP answer is for another certificate", () => ({ ocsp: { fetch: ocspFake(w, { otherSerial: true }).fetch } }), /no answer for serial/],
      ["the CRL fetch throws", () => ({ crl: { fetch: crlFake(w, { fail: true }).fetch } }), /fetch failed: HTTP 503/],
      ["the CRL is stale", () => ({ crl: { fetch: crlFake(w, { shiftMs: -3 * DAY }).fetch } }), /stale/],
      ["the CRL is not signed by the root", () => ({ crl: { fetch: crlFake(w, { signer: w.signers.auth }).fetch } }), /not signed by the certificate's root/],
      ["the CRL is garbage", () => ({ crl: { fetch: crlFake(w, { raw: Uint8Array.of(0x30, 0x01, 0x00) }).fetch } }), /malformed CRL/],
      ["the CRL is another municipality's partition", () => ({ crl: { fetch: crlFake(w, { partitionCity: { prefectureRomaji: "Kanagawa-ken", cityRomaji: "Yokohama-shi" } }).fetch } }), /does not cover/],
      ["both methods fail", () => ({ ocsp: { fetch: ocspFake(w, { fail: true }).fetch }, crl: { fetch: crlFake(w, { fail: true }).fetch } }), /ocsp .*; crl /],
    ];
    for (const [name, revocation, pattern] of cases) {
      test(name, async () => {
        const r = await verifierFor(w, revocation()).verifyCertificate(w.holder.sign.der, { expectedType: "sign" });
        assertInvalid(r, "revocation-unavailable", pattern);
        assert.ok(Array.isArray(r.detail?.attempts));
      });
    }

    test("a delegated responder without id-kp-OCSPSigning is refused", async () => {
      const [, , , , , rk] = keys(6);
      const responder = await responderCertificate(w, "sign", rk!, false);
      const ocsp = ocspFake(w, { signer: new SoftwareSigner(rk!.privateKey), responderCertificateDer: responder });
      const r = await verifierFor(w, { ocsp: { fetch: ocsp.fetch } }).verifyCertificate(w.holder.sign.der, { expectedType: "sign" });
      assertInvalid(r, "revocation-unavailable", /OCSPSigning/);
    });

    test("a full CRL (no issuingDistributionPoint) is accepted; OCSP failing falls back to it", async () => {
      const r = await verifierFor(w, { ocsp: { fetch: ocspFake(w, { fail: true }).fetch }, crl: { fetch: crlFake(w, { partitionCity: null }).fetch } }).verifyCertificate(w.holder.sign.der, { expectedType: "sign" });
      assertValid(r);
      assert.equal(r.revocation.method, "crl");
    });
  });
});

describe("options", () => {
  test("bad options are TypeErrors; outcomes never are", async () => {
    const ok = { trustAnchors: { sign: [w.roots.sign], auth: [w.roots.auth] }, revocation: {} };
    assert.throws(() => createVerifier(undefined as never), TypeError);
    assert.throws(() => createVerifier({ ...ok, trustAnchors: { sign: [], auth: [] } }), TypeError);
    assert.throws(() => createVerifier({ ...ok, trustAnchors: { sign: [Uint8Array.of(1, 2)], auth: [] } }), TypeError);
    assert.throws(() => createVerifier({ ...ok, trustAnchors: { sign: [w.holder.sign.der], auth: [] } }), /not a CA certificate/);
    assert.throws(() => createVerifier({ ...ok, trustAnchors: { sign: [w.roots.sign], auth: [w.roots.sign] } }), /one type/);
    assert.throws(() => createVerifier({ ...ok, revocation: { ocsp: {} as never } }), TypeError);
    assert.throws(() => createVerifier({ ...ok, revocation: { prefer: "both" as never } }), TypeError);
    assert.throws(() => createVerifier({ ...ok, limits: { crlBytes: -1 } }), TypeError);
    const v = createVerifier(ok);
    await assert.rejects(v.verifyCertificate(w.holder.sign.der, { expectedType: "both" as never }), TypeError);
    await assert.rejects(v.verifyCertificate("x" as never, { expectedType: "sign" }), TypeError);
    await assert.rejects(v.verifyCertificate(w.holder.sign.der, { expectedType: "sign", at: new Date("x") }), TypeError);
    assert.ok(VERIFY_ERROR_CODES.includes("revocation-unavailable"));
  });
});
