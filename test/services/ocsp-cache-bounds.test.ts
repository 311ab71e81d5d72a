// The OCSP responder's memory caches under requests for serials the store does not know: they
// must neither push out the answers of known certificates nor grow memory past a small bound,
// and a serial answered "unknown" must be answered "good" as soon as it is issued.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { fixedClock } from "../../src/services/clock.ts";
import { OcspResponder, type OcspCacheLimits } from "../../src/services/ocsp-responder.ts";
import { certIdFor, ocspIssuerFromCertificate } from "../../src/pki/ocsp.ts";
import type { CaType } from "../../src/pki/jpki-profile.ts";
import type { Context } from "../../src/services/context.ts";
import { backends, openTestContext, TEST_KDF_ITERATIONS, TEST_PASSPHRASE, type TestContext } from "../helpers/context.ts";
import { KeyWrapping } from "../../src/services/keystore.ts";
import { readAnswer, requestDer } from "../helpers/ocsp.ts";

const T0 = new Date(Math.floor(Date.now() / 1000) * 1000);

/** A serial of our form (16 bytes, 32 upper-case hex digits) that no certificate has. */
function strangerSerial(): string {
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x3f) | 0x40;
  return serial.toString("hex").toUpperCase();
}

/** A certificate row written straight into the store (OCSP reads only its status), as issuing (by any process) leaves it. */
async function addRow(context: Context, type: CaType, serialHex: string, revoked = false): Promise<void> {
  const resident = await context.registry.add({ name: `応答 花子${serialHex.slice(0, 4)}`, birth: "1980-04-01", gender: "2", address: "東京都千代田区霞が関２－１－２", municipality: "131016" });
  await context.store.db
    .insertInto("certificates")
    .values({
      ca_type: type, serial_hex: serialHex, authority_id: `${type}-1`, resident_id: resident.id, card_id: null, subject_cn: `ROW${serialHex}`,
      municipality_code: "131016", not_before: "2025-01-01T00:00:00.000Z", not_after: "2031-03-31T14:59:59.000Z", expires: "2031-03-31",
      issued_at: "2025-01-01T00:00:00.000Z", status: revoked ? "revoked" : "valid",
      revoked_at: revoked ? "2025-06-01T00:00:00.000Z" : null, revocation_reason: revoked ? "keyCompromise" : null, invalidity_date: null,
      revoked_by: revoked ? "operator" : null,
    })
    .execute();
}

function requestFor(context: Context, type: CaType, serialHex: string, hash: "sha1" | "sha256" = "sha1"): Uint8Array {
  return requestDer(certIdFor(ocspIssuerFromCertificate(context.ca.authority(type).certificateDer), Buffer.from(serialHex, "hex"), hash));
}

const pathOf = (request: Uint8Array) => Buffer.from(request).toString("base64");

/** A responder of its own over the test store, with small caches. */
async function responderWith(context: Context, limits: OcspCacheLimits): Promise<OcspResponder> {
  const responder = new OcspResponder(context.store, context.ca, context.settings, new KeyWrapping(TEST_PASSPHRASE, TEST_KDF_ITERATIONS), fixedClock(T0), limits);
  await responder.ensureResponders();
  return responder;
}

for (const backend of backends()) {
  describe(`OCSP responder caches and unknown serials (${backend})`, () => {
    let t: TestContext;
    before(async () => {
      t = await openTestContext(backend, { now: T0.toISOString() });
    });
    after(async () => {
      await t.cleanup();
    });

    test("unknown serials evict no known certificate's cached answer or GET path", async () => {
      const { context } = t;
      const responder = await responderWith(context, { answers: 4, unknownAnswers: 2 });
      const known = [strangerSerial(), strangerSerial()];
      for (const serial of known) await addRow(context, "sign", serial);
      const knownPaths = known.map((serial) => pathOf(requestFor(context, "sign", serial)));
      const first = [];
      for (const path of knownPaths) first.push(await responder.answerGet(path, "sign"));
      await responder.flush();

      // Many more unknown serials than the cache holds, by GET and by POST, in every form.
      for (let i = 0; i < 40; i++) {
        const request = requestFor(context, "sign", strangerSerial(), i % 3 === 0 ? "sha256" : "sha1");
        const answer = i % 2 === 0 ? await responder.answerGet(pathOf(request), "sign") : await responder.answer(request, "sign");
        assert.equal(readAnswer(answer.der).status, "unknown");
      }

      const storeReads: string[] = [];
      const get = responder.responses.get.bind(responder.responses);
      responder.responses.get = (type, serialHex) => (storeReads.push(serialHex), get(type, serialHex));
      for (const [i, path] of knownPaths.entries()) {
        const again = await responder.answerGet(path, "sign");
        assert.equal(readAnswer(again.der).status, "good");
        assert.equal(again.der, first[i]!.der, "the very answer cached before, from memory");
      }
      assert.deepEqual(storeReads, [], "no known answer was pushed out to the store");
      const sizes = responder.cacheSizes();
      assert.equal(sizes.answers, 2, "the known answers' cache holds the known certificates only");
      assert.equal(sizes.paths, 2);
      assert.equal(sizes.states, 2);

      // A long spelling of a known request (leading slashes are skipped) is answered, from the cache, but its path is not kept.
      const long = await responder.answerGet("/".repeat(600) + knownPaths[0]!, "sign");
      assert.equal(long.der, first[0]!.der);
      assert.equal(responder.cacheSizes().paths, 2, "a path of 600+ characters is not mapped");
    });

    test("a POST body answered before is found by its bytes, as a GET path is (one entry for both forms), not parsed again", async () => {
      const { context } = t;
      const responder = await responderWith(context, { answers: 4, unknownAnswers: 2 });
      const serial = strangerSerial();
      await addRow(context, "auth", serial);
      const certId = certIdFor(ocspIssuerFromCertificate(context.ca.authority("auth").certificateDer), Buffer.from(serial, "hex"), "sha1");
      const request = requestDer(certId);
      const parsed: Uint8Array[] = [];
      const answerAndKey = (responder as unknown as { answerAndKey(der: Uint8Array, ...rest: unknown[]): Promise<unknown> }).answerAndKey.bind(responder);
      (responder as unknown as { answerAndKey: typeof answerAndKey }).answerAndKey = (der, ...rest) => (parsed.push(der), answerAndKey(der, ...rest));

      const first = await responder.answer(request, "auth");
      assert.equal(readAnswer(first.der).status, "good");
      assert.equal(responder.cacheSizes().paths, 1, "the body is mapped");
      // Another buffer with the same bytes, then the GET path of the same request: both from the map.
      assert.equal((await responder.answer(new Uint8Array(request), "auth")).der, first.der);
      assert.equal((await responder.answerGet(pathOf(request), "auth")).der, first.der);
      assert.equal(parsed.length, 1, "parsed once");
      assert.equal(responder.cacheSizes().paths, 1);

      // Another CA named in the URL, a nonce, a read that must come from the primary: not from the map.
      assert.equal((await responder.answer(request, "sign")).lookups, 0, "unauthorized for the signing CA's URL");
      assert.equal(readAnswer((await responder.answer(requestDer(certId, { nonce: true }), "auth")).der).status, "good");
      assert.equal(readAnswer((await responder.answer(request, "auth", { primary: true })).der).status, "good");
      assert.equal(parsed.length, 4);
      assert.equal(responder.cacheSizes().paths, 1, "a nonce request is not mapped");

      // A revocation is seen through the map, as for GET.
      await context.ca.revoke({ type: "auth", serialHex: serial, reason: "keyCompromise", by: "operator" });
      assert.equal(readAnswer((await responder.answer(request, "auth")).der).status, "revoked");
    });

    test("memory taken by unknown serials stays within its own small bound", async () => {
      const { context } = t;
      const responder = await responderWith(context, { answers: 1000, unknownAnswers: 3 });
      for (let i = 0; i < 50; i++) {
        const request = requestFor(context, "auth", strangerSerial());
        await (i % 2 === 0 ? responder.answerGet(pathOf(request), "auth") : responder.answer(request, "auth"));
      }
      const sizes = responder.cacheSizes();
      assert.equal(sizes.answers, 0, "no unknown answer in the known answers' cache");
      assert.equal(sizes.paths, 0);
      assert.equal(sizes.states, 0);
      assert.ok(sizes.unknownAnswers <= 3, `unknown answers kept: ${sizes.unknownAnswers}`);
      assert.ok(sizes.unknownPaths <= 3, `unknown paths kept: ${sizes.unknownPaths}`);
    });

    test("a serial answered 'unknown' (and kept as such) is answered 'good' on the next request once issued, then 'revoked'", async () => {
      const { context } = t;
      for (const responder of [context.ocsp, await responderWith(context, { answers: 4, unknownAnswers: 2 })]) {
        const serial = strangerSerial();
        const request = requestFor(context, "sign", serial);
        const path = pathOf(request);
        // Twice each way: the second answer comes from the memory cache (unknown answers are kept too).
        for (let i = 0; i < 2; i++) {
          assert.equal(readAnswer((await responder.answerGet(path, "sign")).der).status, "unknown");
          assert.equal(readAnswer((await responder.answer(request, "sign")).der).status, "unknown");
        }

        await addRow(context, "sign", serial); // issued (by this or any other process): no revocation version moves
        assert.equal(readAnswer((await responder.answerGet(path, "sign")).der).status, "good", "GET right after issuance");
        assert.equal(readAnswer((await responder.answer(request, "sign")).der).status, "good", "POST right after issuance");
        assert.equal(readAnswer((await responder.answerGet(path, "sign")).der).status, "good", "and from the cache after that");

        await context.ca.revoke({ type: "sign", serialHex: serial, reason: "keyCompromise", by: "operator" });
        assert.equal(readAnswer((await responder.answerGet(path, "sign")).der).status, "revoked");
        assert.equal(readAnswer((await responder.answer(request, "sign")).der).status, "revoked");
      }
    });
  });
}
