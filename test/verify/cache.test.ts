// The verifier's caches (parsed certificates and their checked path, CRLs, OCSP answers without a
// nonce, delegated responders) must never change an outcome: every case here first fills the
// caches with a valid verification, then changes one thing and expects the answer a fresh
// verifier would give.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes, sign } from "node:crypto";
import "reflect-metadata";
import { AsnConvert } from "@peculiar/asn1-schema";
import { Certificate } from "@peculiar/asn1-x509";
import { signTbsCertificate } from "../../src/pki/certificate.ts";
import { assembleSignedData, prepareSignedAttributes } from "../../src/pki/cms-signed-data.ts";
import type { VerificationResult, Verifier } from "../../src/verify/index.ts";
import { CertificateCache } from "../../src/verify/certificate-cache.ts";
import { DAY, NOW_DATE, SoftwareSigner, crlFake, keys, makeWorld, ocspFake, responderCertificate, verifierFor, type Holder, type World } from "./fixtures.ts";

function assertValid(r: VerificationResult): asserts r is Extract<VerificationResult, { valid: true }> {
  assert.equal(r.valid, true, r.valid ? "" : `${r.code}: ${r.message}`);
}
function assertCode(r: VerificationResult, code: string, pattern?: RegExp): asserts r is Extract<VerificationResult, { valid: false }> {
  assert.equal(r.valid, false, `expected ${code}, got valid`);
  if (r.valid) return;
  assert.equal(r.code, code, `expected ${code}, got ${r.code}: ${r.message}`);
  if (pattern) assert.match(r.message, pattern);
}

let w: World;

before(async () => {
  w = await makeWorld();
});
after(() => w.cleanup());

/** A login challenge signed with the holder's authentication key. */
function login(h: Holder, data = new Uint8Array(randomBytes(32))) {
  return { certificateDer: h.auth.der, data, signature: new Uint8Array(sign("sha256", data, h.authKey.privateKey)), expectedType: "auth" as const };
}

/** An attached CMS signed with the holder's signing key. */
function document(h: Holder, content = new TextEncoder().encode("令和8年分 確定申告書")): Uint8Array {
  const signedAttributes = prepareSignedAttributes({ content, signingTime: NOW_DATE, certificateDer: h.sign.der });
  const signature = new Uint8Array(sign(signedAttributes.hash, signedAttributes.signedAttrsDer, h.signKey.privateKey));
  return assembleSignedData({ signedAttributes, signature, certificateDer: h.sign.der, content });
}

/** The certificate re-signed by the real CA with a change to its TBSCertificate: same serial, other bytes. */
async function resigned(der: Uint8Array, change: (c: Certificate) => void): Promise<Uint8Array> {
  const cert = AsnConvert.parse(der, Certificate);
  change(cert);
  const tbs = new Uint8Array(AsnConvert.serialize(cert.tbsCertificate));
  const type = cert.tbsCertificate.extensions!.some((e) => e.extnID === "2.5.29.17") ? "sign" : "auth";
  return signTbsCertificate(tbs, type === "sign" ? w.signers.sign : w.signers.auth);
}

describe("revocation after the caches are filled", () => {
  test("CRL: a revocation shows once a newer CRL replaces the cached one; the cached one answers until its nextUpdate", async () => {
    const h = await w.issueHolder({ name: "高橋 三郎" });
    const crl = crlFake(w);
    let now = NOW_DATE;
    const v = verifierFor(w, { crl: { fetch: crl.fetch } }, { now: () => now });
    assertValid(await v.verifyRawSignature(login(h)));
    await w.t.context.ca.revoke({ type: "auth", serialHex: h.auth.serialHex, reason: "keyCompromise", by: "operator" });

    const stillCached = await v.verifyRawSignature(login(h));
    assertValid(stillCached); // what the CRL in hand says, as RFC 5280 allows until nextUpdate
    assert.equal(stillCached.revocation.cached, true);
    assert.equal(crl.calls.length, 1);

    now = new Date(NOW_DATE.getTime() + 2 * DAY);
    crl.knobs.shiftMs = 2 * DAY;
    const r = await v.verifyRawSignature(login(h));
    assertCode(r, "revoked");
    assert.equal(r.detail?.reason, "keyCompromise");
    assert.equal(r.detail?.method, "crl");
    assert.equal(crl.calls.length, 2);
  });

  test("OCSP with a nonce: every verification asks, so a revocation shows at once", async () => {
    const h = await w.issueHolder({ name: "伊藤 四郎" });
    const ocsp = ocspFake(w);
    const v = verifierFor(w, { ocsp: { fetch: ocsp.fetch } });
    const first = await v.verifyCms(document(h));
    assertValid(first);
    assert.equal(first.revocation.cached, undefined);
    await w.t.context.ca.revoke({ type: "sign", serialHex: h.sign.serialHex, reason: "affiliationChanged", by: "operator" });
    const r = await v.verifyCms(document(h));
    assertCode(r, "revoked");
    assert.equal(r.detail?.method, "ocsp");
    assert.equal(ocsp.calls.length, 2);
  });

  test("OCSP without a nonce: the answer is reused until its nextUpdate, then asked again", async () => {
    const h = await w.issueHolder({ name: "渡辺 五郎" });
    const ocsp = ocspFake(w, { dropNonce: true });
    let now = NOW_DATE;
    const v = verifierFor(w, { ocsp: { fetch: ocsp.fetch, useNonce: false } }, { now: () => now });
    const first = await v.verifyRawSignature(login(h));
    assertValid(first);
    assert.equal(first.revocation.cached, false);
    await w.t.context.ca.revoke({ type: "auth", serialHex: h.auth.serialHex, reason: "keyCompromise", by: "operator" });
    const second = await v.verifyRawSignature(login(h));
    assertValid(second);
    assert.equal(second.revocation.cached, true);
    assert.equal(ocsp.calls.length, 1);

    now = new Date(NOW_DATE.getTime() + 2 * DAY); // past the cached answer's nextUpdate (one day)
    ocsp.knobs.shiftMs = 2 * DAY;
    assertCode(await v.verifyRawSignature(login(h)), "revoked");
    assert.equal(ocsp.calls.length, 2);
    // A revoked answer is kept too, and keeps answering revoked.
    assertCode(await v.verifyRawSignature(login(h)), "revoked");
    assert.equal(ocsp.calls.length, 2);
  });

  test("OCSP without a nonce: an unknown answer is not kept", async () => {
    const ocsp = ocspFake(w, { dropNonce: true, unknown: true });
    const v = verifierFor(w, { ocsp: { fetch: ocsp.fetch, useNonce: false } });
    assertCode(await v.verifyRawSignature(login(w.holder)), "unknown-certificate");
    ocsp.knobs.unknown = false;
    assertValid(await v.verifyRawSignature(login(w.holder)));
    assert.equal(ocsp.calls.length, 2);
  });
});

describe("time is judged on every call", () => {
  test("a cached certificate is expired or not yet valid at a time outside its validity, and valid again inside it", async () => {
    const crl = crlFake(w);
    let now = NOW_DATE;
    const v = verifierFor(w, { crl: { fetch: crl.fetch } }, { now: () => now });
    const cert = AsnConvert.parse(w.holder.auth.der, Certificate).tbsCertificate.validity;
    assertValid(await v.verifyRawSignature(login(w.holder)));
    assertCode(await v.verifyRawSignature({ ...login(w.holder), at: new Date(cert.notAfter.getTime().getTime() + 1000) }), "expired");
    assertCode(await v.verifyRawSignature({ ...login(w.holder), at: new Date(cert.notBefore.getTime().getTime() - 1000) }), "not-yet-valid");
    // Through the clock: past notAfter (the fake makes a CRL current at that time).
    now = new Date(cert.notAfter.getTime().getTime() + DAY);
    crl.knobs.shiftMs = now.getTime() - NOW_DATE.getTime();
    const late = await v.verifyRawSignature(login(w.holder));
    assertCode(late, "expired");
    assert.equal(late.detail?.certificate, "certificate");
    now = NOW_DATE;
    crl.knobs.shiftMs = 0;
    assertValid(await v.verifyRawSignature(login(w.holder)));
  });

  test("a delegated responder checked once is still refused once it has expired", async () => {
    const [, , , , , rk] = keys(6);
    const responder = await responderCertificate(w, "sign", rk!); // valid for 30 days from NOW
    const ocsp = ocspFake(w, { signer: new SoftwareSigner(rk!.privateKey), responderCertificateDer: responder });
    let now = NOW_DATE;
    const v = verifierFor(w, { ocsp: { fetch: ocsp.fetch } }, { now: () => now });
    assertValid(await v.verifyCms(document(w.holder)));
    assertValid(await v.verifyCms(document(w.holder)));
    now = new Date(NOW_DATE.getTime() + 31 * DAY);
    ocsp.knobs.shiftMs = 31 * DAY;
    assertCode(await v.verifyCms(document(w.holder)), "revocation-unavailable", /responder certificate is not valid now/);
  });
});

describe("a certificate is known by its exact bytes", () => {
  test("the same serial re-signed by the CA with another validity is judged on its own (expired), not as the cached one", async () => {
    const crl = crlFake(w);
    const v = verifierFor(w, { crl: { fetch: crl.fetch } });
    assertValid(await v.verifyCertificate(w.holder.auth.der, { expectedType: "auth" }));
    const expired = await resigned(w.holder.auth.der, (c) => {
      c.tbsCertificate.validity.notAfter.utcTime = new Date(NOW_DATE.getTime() - DAY);
      c.tbsCertificate.validity.notBefore.utcTime = new Date(NOW_DATE.getTime() - 10 * DAY);
    });
    const r = await v.verifyCertificate(expired, { expectedType: "auth" });
    assertCode(r, "expired");
    assert.equal(r.certificate?.serialHex, w.holder.auth.serialHex);
    assertValid(await v.verifyCertificate(w.holder.auth.der, { expectedType: "auth" }));
  });

  test("the same serial signed by another key, or with one flipped bit, is bad-signature; the cached original stays valid", async () => {
    const crl = crlFake(w);
    const v = verifierFor(w, { crl: { fetch: crl.fetch } });
    assertValid(await v.verifyCertificate(w.holder.sign.der, { expectedType: "sign" }));
    const cert = AsnConvert.parse(w.holder.sign.der, Certificate);
    const [, , , , other] = keys(6);
    const forged = await signTbsCertificate(new Uint8Array(AsnConvert.serialize(cert.tbsCertificate)), new SoftwareSigner(other!.privateKey));
    assertCode(await v.verifyCertificate(forged, { expectedType: "sign" }), "bad-signature");
    const flipped = w.holder.sign.der.slice();
    flipped[flipped.length - 3] ^= 0x01; // inside the CA's signature
    assertCode(await v.verifyCertificate(flipped, { expectedType: "sign" }), "bad-signature");
    assertValid(await v.verifyCertificate(w.holder.sign.der, { expectedType: "sign" }));
  });

  test("a failure is not kept: the wrong type first, then the right one", async () => {
    const v = verifierFor(w, { crl: { fetch: crlFake(w).fetch } });
    assertCode(await v.verifyCertificate(w.holder.auth.der, { expectedType: "sign" }), "wrong-certificate-type");
    assertValid(await v.verifyCertificate(w.holder.auth.der, { expectedType: "auth" }));
    assertCode(await v.verifyCertificate(w.holder.auth.der, { expectedType: "sign" }), "wrong-certificate-type");
  });

  test("with a cache of one certificate, alternating holders evict each other and every answer stays right", async () => {
    const h = await w.issueHolder({ name: "中村 六郎" });
    await w.t.context.ca.revoke({ type: "auth", serialHex: h.auth.serialHex, reason: "keyCompromise", by: "operator" });
    const v = verifierFor(w, { crl: { fetch: crlFake(w).fetch } }, { limits: { certificateCacheEntries: 1 } });
    for (let i = 0; i < 3; i++) {
      assertValid(await v.verifyRawSignature(login(w.holder)));
      assertCode(await v.verifyRawSignature(login(h)), "revoked");
    }
  });
});

describe("the document's own signature is checked on every call", () => {
  let v: Verifier;
  before(() => {
    v = verifierFor(w, { crl: { fetch: crlFake(w).fetch } });
  });

  test("login: a tampered signature or other data is bad-signature with the chain cached", async () => {
    const good = login(w.holder);
    assertValid(await v.verifyRawSignature(good));
    const tampered = good.signature.slice();
    tampered[17] ^= 0x40;
    assertCode(await v.verifyRawSignature({ ...good, signature: tampered }), "bad-signature");
    assertCode(await v.verifyRawSignature({ ...good, data: new Uint8Array(32) }), "bad-signature");
    // Another holder's signature over the same challenge, presented with this certificate.
    const other = await w.issueHolder({ name: "小林 七郎" });
    assertCode(await v.verifyRawSignature({ ...good, signature: login(other, good.data).signature }), "bad-signature");
    assertValid(await v.verifyRawSignature(good));
  });

  test("CMS: a tampered signature, signed attribute or content is bad-signature with the signer cached", async () => {
    const der = document(w.holder);
    assertValid(await v.verifyCms(der));
    const sig = der.slice();
    sig[sig.length - 20] ^= 0x01; // the signature is the SignerInfo's last field
    assertCode(await v.verifyCms(sig), "bad-signature");
    const content = der.slice();
    const at = Buffer.from(content).indexOf(Buffer.from("確定申告書"));
    content[at] ^= 0x01;
    assertCode(await v.verifyCms(content), "bad-signature", /digest differs/);
    const time = der.slice();
    const t = Buffer.from(time).lastIndexOf(Buffer.from("261125030000Z", "latin1")); // the signed attributes follow the certificate
    assert.ok(t > 0);
    time[t + 1] = 0x37; // signingTime 2026 → 2027: a signed attribute
    assertCode(await v.verifyCms(time), "bad-signature", /CMS signature does not verify/);
    assertValid(await v.verifyCms(der));
  });
});

describe("the certificate cache keeps a certificate from its second sighting on", () => {
  test("seen once, it is parsed and not kept; seen again, parsed once more and kept; then it is served", () => {
    const cache = new CertificateCache(4);
    const first = cache.get(w.holder.auth.der);
    const second = cache.get(w.holder.auth.der);
    const third = cache.get(w.holder.auth.der);
    assert.notEqual(second, first, "the first sighting is not kept");
    assert.equal(third, second, "the second sighting is kept and served");
    assert.deepEqual(third, first);
  });

  test("a sighting forgotten by the bounded record of hashes counts as a first one again", () => {
    const cache = new CertificateCache(1);
    cache.get(w.holder.auth.der);
    cache.get(w.holder.sign.der); // the record of hashes holds one: the auth certificate's is forgotten
    const again = cache.get(w.holder.auth.der);
    assert.notEqual(cache.get(w.holder.auth.der), again, "a first sighting again: not kept");
    assert.equal(cache.get(w.holder.auth.der), cache.get(w.holder.auth.der));
  });
});
