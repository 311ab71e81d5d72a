// VERIFY-CMS / VERIFY-AUTH judge their target on "cold" verifications: the verifier's certificate
// cache (limits.certificateCacheEntries) is smaller than the number of distinct certificates,
// which are verified in turn, and the suite counts a verification as a cache hit when its result
// carries the very same certificate description object as that document's previous result. These
// tests hold the two facts that measurement rests on: cycling more certificates than the cache
// holds never hits it, and the description object is shared exactly when the cache answered.
import { CacheAnswers, warmUpCalls } from "../../bench/cache-answers.ts";
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes, sign } from "node:crypto";
import { assembleSignedData, prepareSignedAttributes } from "../../src/pki/cms-signed-data.ts";
import type { VerificationResult, Verifier } from "../../src/verify/index.ts";
import { NOW_DATE, crlFake, makeWorld, verifierFor, type Holder, type World } from "../verify/fixtures.ts";

let w: World;
let holders: Holder[];

before(async () => {
  w = await makeWorld();
  holders = [w.holder];
  for (let i = 0; i < 3; i++) holders.push(await w.issueHolder({ name: `試験 花子${i}` }));
});
after(() => w.cleanup());

function login(v: Verifier, h: Holder): Promise<VerificationResult> {
  const data = new Uint8Array(randomBytes(32));
  return v.verifyRawSignature({ certificateDer: h.auth.der, data, signature: new Uint8Array(sign("sha256", data, h.authKey.privateKey)), hash: "sha256", expectedType: "auth" });
}

function cms(v: Verifier, h: Holder): Promise<VerificationResult> {
  const content = new Uint8Array(randomBytes(64));
  const signedAttributes = prepareSignedAttributes({ content, signingTime: NOW_DATE, certificateDer: h.sign.der });
  const signature = new Uint8Array(sign(signedAttributes.hash, signedAttributes.signedAttrsDer, h.signKey.privateKey));
  return v.verifyCms(assembleSignedData({ signedAttributes, signature, certificateDer: h.sign.der, content }), { expectedType: "sign" });
}

/** Verify every holder in turn, three times; how many second and third visits shared the first description object. */
async function repeatsOver(v: Verifier, one: (v: Verifier, h: Holder) => Promise<VerificationResult>): Promise<{ repeats: number; seenBefore: number }> {
  const answers = new CacheAnswers(); // the bench's own counting
  for (let pass = 0; pass < 3; pass++) {
    for (const [i, h] of holders.entries()) {
      const r = await one(v, h);
      assert.equal(r.valid, true, r.valid ? "" : `${r.code}: ${r.message}`);
      if (r.valid) answers.record(i, r.certificate);
    }
  }
  return { repeats: answers.repeats, seenBefore: answers.seenBefore };
}

describe("cold verification for the VERIFY benchmarks", () => {
  for (const [kind, one] of [["login", login], ["CMS", cms]] as const) {
    test(`${kind}: a certificate cache smaller than the cycle never answers; the default cache answers from the third visit on`, async () => {
      const crl = crlFake(w);
      const cold = verifierFor(w, { crl: { fetch: crl.fetch } }, { limits: { certificateCacheEntries: holders.length - 1 } });
      assert.deepEqual(await repeatsOver(cold, one), { repeats: 0, seenBefore: 2 * holders.length });
      const warm = verifierFor(w, { crl: { fetch: crl.fetch } });
      // A certificate is kept from its second sighting (certificate-cache.ts): the third visits are answered from the cache.
      assert.deepEqual(await repeatsOver(warm, one), { repeats: holders.length, seenBefore: 2 * holders.length });
    });
  }

  test("a warm-up of whole passes leaves the cold run no certificate it just saw twice", async () => {
    // Three documents, a cache of two: 200 calls would end a pass short, with two just seen.
    const three = holders.slice(0, 3);
    const calls = warmUpCalls(three.length);
    assert.ok(calls >= 200 && calls >= 2 * three.length && calls % three.length === 0, `${calls} calls`);
    const crl = crlFake(w);
    const cold = verifierFor(w, { crl: { fetch: crl.fetch } }, { limits: { certificateCacheEntries: three.length - 1 } });
    const answers = new CacheAnswers();
    for (let i = 0; i < calls; i++) {
      const r = await login(cold, three[i % three.length]!);
      if (r.valid) answers.prime(i % three.length, r.certificate);
    }
    for (let pass = 0; pass < 3; pass++) {
      for (const [i, h] of three.entries()) {
        const r = await login(cold, h);
        assert.equal(r.valid, true, r.valid ? "" : `${r.code}: ${r.message}`);
        if (r.valid) answers.record(i, r.certificate);
      }
    }
    assert.deepEqual({ repeats: answers.repeats, seenBefore: answers.seenBefore }, { repeats: 0, seenBefore: 3 * three.length });
  });
});
