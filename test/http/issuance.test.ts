// The HTTP issuance API (POST /api/ca/{sign|auth}/certificates, and …/batch) on each back end, through
// fastify inject: authentication by issuance-client key, municipality scope, input checks that
// name the field, the rules' refusals, and what gets recorded.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync, X509Certificate } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { buildApp } from "../../src/http/app.ts";
import { backends, openTestContext, type TestContext } from "../helpers/context.ts";
import { testPublicKeys } from "../helpers/keys.ts";

const NOW = "2026-11-25T03:00:00Z";
const spki = (key: { export(o: { type: "spki"; format: "der" }): Buffer }) => key.export({ type: "spki", format: "der" }).toString("base64");

for (const backend of backends()) {
  describe(`issuance API on ${backend}`, () => {
    let t: TestContext;
    let app: FastifyInstance;
    let machida: { id: string; apiKey: string };
    let resident: { id: string };
    const [key] = testPublicKeys(1);

    /** POST as the Machida client, as another key, or (null) without an Authorization header. */
    const post = async (type: string, body: unknown, apiKey: string | null = machida.apiKey) => {
      const res = await app.inject({
        method: "POST",
        url: `/api/ca/${type}/certificates`,
        headers: apiKey === null ? {} : { authorization: `Bearer ${apiKey}` },
        payload: body as object,
      });
      return { status: res.statusCode, headers: res.headers, body: res.json() as any };
    };
    const addResident = (overrides: Record<string, unknown> = {}) =>
      t.context.registry.add({ name: "町田 花子", birth: "1988-02-29", gender: "2", address: "東京都町田市森野２丁目２番２２号", municipality: "132098", ...overrides });
    const count = () => t.context.ca.count();

    before(async () => {
      t = await openTestContext(backend, { now: NOW });
      app = await buildApp(t.context);
      machida = await t.context.issuanceClients.add({ name: "町田市 交付システム", municipality: "132098" });
      resident = await addResident();
    });
    after(async () => {
      await app.close();
      await t.cleanup();
    });

    test("a registered client gets a signing certificate for its resident: 201, recorded, audited as the client", async () => {
      const res = await post("sign", { residentId: resident.id, subjectPublicKey: spki(key!) });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      assert.equal(res.headers["cache-control"], "no-store");
      assert.equal(res.body.type, "sign");
      assert.match(res.body.serial, /^[0-9A-F]{32}$/);
      assert.equal(res.body.expires, "2031-02-28");
      const x = new X509Certificate(Buffer.from(res.body.certificate, "base64"));
      assert.ok(x.verify(t.context.ca.authority("sign").publicKey), "signed by the signing CA");
      assert.equal(x.serialNumber, res.body.serial);
      assert.equal(x.publicKey.export({ type: "spki", format: "der" }).toString("base64"), spki(key!));
      assert.match(x.subject, /L=Machida-shi/);
      assert.ok(x.subjectAltName, "carries the personal-data otherNames");
      const stored = await t.context.ca.certificate("sign", res.body.serial);
      assert.equal(stored.residentId, resident.id);
      assert.deepEqual(Buffer.from(stored.der), Buffer.from(res.body.certificate, "base64"));
      const audit = await t.context.store.db.selectFrom("audit_log").selectAll().where("subject", "=", `sign:${res.body.serial}`).executeTakeFirstOrThrow();
      assert.equal(audit.actor, `issuance-client:${machida.id}`);
      assert.equal(audit.action, "certificate.issue");
    });

    test("an authentication certificate with the card's expiry as its cap", async () => {
      const res = await post("auth", { residentId: resident.id, subjectPublicKey: spki(key!), cardExpiry: "2029-03-31" });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      assert.equal(res.body.expires, "2029-03-31");
      assert.equal(res.body.notAfter, "2029-03-31T14:59:59.000Z");
    });

    test("without a valid key: 401 with WWW-Authenticate, nothing issued", async () => {
      const before = await count();
      const body = { residentId: resident.id, subjectPublicKey: spki(key!) };
      const other = await t.context.issuanceClients.add({ name: "retired", municipality: "132098" });
      await t.context.issuanceClients.deactivate(other.id);
      for (const apiKey of [null, "oji_wrong-key-wrong-key-wrong-key-wrong-key-abcde", machida.apiKey.slice(0, -2), other.apiKey]) {
        const res = await post("sign", body, apiKey);
        assert.equal(res.status, 401, `key ${apiKey}`);
        assert.equal(res.headers["www-authenticate"], 'Bearer realm="openjpki-issuance"');
        assert.equal(res.body.error.code, "issuance-client-required");
        // No key: how to send one. A key sent but not accepted (wrong or deactivated alike): that.
        assert.match(res.body.error.message, apiKey === null ? /send your API key as Authorization: Bearer/ : /this API key is not that of a registered, active issuance client/);
      }
      // A verifier's key (another kind of API key) is not an issuance key either.
      const verifier = await t.context.verifiers.add("a relying party");
      assert.equal((await post("sign", body, verifier.apiKey)).status, 401);
      assert.equal(await count(), before);
    });

    test("a body that is not JSON is 415 naming the type, a route that does not exist 404 in the API's error form", async () => {
      const before = await count();
      // curl -d sends a form; the pages' form parser would have read it and the schema refused a
      // residentId that was sent.
      const form = await app.inject({
        method: "POST",
        url: "/api/ca/sign/certificates",
        headers: { authorization: `Bearer ${machida.apiKey}`, "content-type": "application/x-www-form-urlencoded" },
        payload: `residentId=${resident.id}&subjectPublicKey=${encodeURIComponent(spki(key!))}`,
      });
      assert.equal(form.statusCode, 415);
      assert.equal(form.json().error.code, "unsupported-media-type");
      assert.match(form.json().error.message, /send the body as JSON \(Content-Type: application\/json\), not "application\/x-www-form-urlencoded"/);
      assert.equal(await count(), before);
      const missing = await app.inject({ method: "POST", url: "/api/ca/foo/certificates?x=1", headers: { authorization: `Bearer ${machida.apiKey}` }, payload: {} });
      assert.equal(missing.statusCode, 404);
      assert.deepEqual(missing.json(), { error: { code: "not-found", message: "POST /api/ca/foo/certificates: そのような URL はありません / no such route" } });
    });

    test("renewal lengthens a certificate only inside the holder's renewal window; \"true\" is not a boolean", async () => {
      const holder = await addResident({ birth: "1990-06-01" });
      const renew = (extra: Record<string, unknown> = {}) => post("auth", { residentId: holder.id, subjectPublicKey: spki(key!), renewal: true, ...extra });
      const nothing = await renew();
      assert.equal(nothing.status, 422, JSON.stringify(nothing.body));
      assert.equal(nothing.body.error.reason, "nothing-to-renew");
      const first = await post("auth", { residentId: holder.id, subjectPublicKey: spki(key!) });
      assert.equal(first.body.expires, "2031-06-01");
      const early = await renew();
      assert.equal(early.body.error.field, "renewal");
      assert.equal(early.body.error.reason, "renewal-too-early");
      assert.match(early.body.error.message, /expiring 2031-06-01 can be renewed from 2031-03-01/);
      for (const notBoolean of ["true", 1]) {
        const res = await post("auth", { residentId: holder.id, subjectPublicKey: spki(key!), renewal: notBoolean });
        assert.equal(res.status, 400, JSON.stringify(res.body));
        assert.equal(res.body.error.field, "renewal");
      }
    });

    test("a resident of another municipality is answered like an unknown one: 404 naming residentId", async () => {
      const before = await count();
      const elsewhere = await addResident({ municipality: "131016", address: "東京都千代田区霞が関２－１－２" });
      const res = await post("sign", { residentId: elsewhere.id, subjectPublicKey: spki(key!) });
      assert.equal(res.status, 404);
      assert.equal(res.body.error.field, "residentId");
      const unknown = await post("sign", { residentId: "R-0000000000", subjectPublicKey: spki(key!) });
      assert.equal(unknown.status, 404);
      assert.equal(unknown.body.error.field, "residentId");
      assert.equal(res.body.error.message.replaceAll(elsewhere.id, "ID"), unknown.body.error.message.replaceAll("R-0000000000", "ID"), "the same answer");
      const chiyoda = await t.context.issuanceClients.add({ name: "千代田区", municipality: "131016" });
      assert.equal((await post("sign", { residentId: elsewhere.id, subjectPublicKey: spki(key!) }, chiyoda.apiKey)).status, 201, "its own client may");
      assert.equal(await count(), before + 1);
    });

    test("a public key that is not an allowed RSA SubjectPublicKeyInfo: 400 naming subjectPublicKey", async () => {
      const before = await count();
      const cases: [string, string | number][] = [
        ["not base64", "not base64 at all!"],
        ["EC key", spki(generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey)],
        ["RSA-1024", spki(generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey)],
        ["truncated", spki(key!).slice(0, 100)],
        ["garbage", Buffer.alloc(300, 0x41).toString("base64")],
        ["too long", "A".repeat(5000)],
        ["a number", 12345],
      ];
      for (const [what, subjectPublicKey] of cases) {
        const res = await post("sign", { residentId: resident.id, subjectPublicKey });
        assert.equal(res.status, 400, what);
        assert.equal(res.body.error.field, "subjectPublicKey", what);
      }
      assert.equal(await count(), before);
    });

    test("requests the rules refuse: 422 not-eligible (deceased; under 15 for a signing certificate)", async () => {
      const deceased = await addResident({ name: "町田 一郎", gender: "1" });
      await t.context.events.endRegistration(deceased.id, { kind: "death" });
      const dead = await post("auth", { residentId: deceased.id, subjectPublicKey: spki(key!) });
      assert.equal(dead.status, 422);
      assert.equal(dead.body.error.code, "not-eligible");
      const child = await addResident({ name: "町田 次郎", birth: "2015-04-01", gender: "1" });
      const young = await post("sign", { residentId: child.id, subjectPublicKey: spki(key!) });
      assert.equal(young.status, 422);
      assert.equal(young.body.error.field, "type");
      assert.equal((await post("auth", { residentId: child.id, subjectPublicKey: spki(key!) })).status, 201, "an authentication certificate is fine");
    });

    test("other input errors name their field", async () => {
      const cases: [string, Record<string, unknown>, string][] = [
        ["no residentId", { subjectPublicKey: spki(key!) }, "residentId"],
        ["no key", { residentId: resident.id }, "subjectPublicKey"],
        ["residentId with spaces", { residentId: "R 1", subjectPublicKey: spki(key!) }, "residentId"],
        ["impossible cardExpiry", { residentId: resident.id, subjectPublicKey: spki(key!), cardExpiry: "2029-02-30" }, "cardExpiry"],
        ["cardExpiry not a date", { residentId: resident.id, subjectPublicKey: spki(key!), cardExpiry: "soon" }, "cardExpiry"],
        ["a misspelt property (refused, not dropped)", { residentId: resident.id, subjectPublicKey: spki(key!), cardExpiri: "2029-03-31" }, "cardExpiri"],
        ["unknown card", { residentId: resident.id, subjectPublicKey: spki(key!), cardId: "C-0000000000" }, "cardId"],
      ];
      for (const [what, body, field] of cases) {
        const res = await post("auth", body);
        assert.equal(res.status, 400, `${what}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.error.field, field, what);
      }
      const notJson = await app.inject({ method: "POST", url: "/api/ca/auth/certificates", headers: { authorization: `Bearer ${machida.apiKey}`, "content-type": "application/json" }, payload: "{" });
      assert.equal(notJson.statusCode, 400);
      const huge = await app.inject({ method: "POST", url: "/api/ca/auth/certificates", headers: { authorization: `Bearer ${machida.apiKey}`, "content-type": "application/json" }, payload: JSON.stringify({ residentId: resident.id, subjectPublicKey: "A".repeat(20_000) }) });
      assert.equal(huge.statusCode, 413, "bodies over 8 KiB are refused before parsing");
    });

    test("a card given with the request must be the resident's own, being produced or in use", async () => {
      const other = await addResident({ name: "町田 三郎", gender: "1" });
      const card = (id: string, residentId: string, status: "active" | "returned") =>
        t.context.store.db
          .insertInto("cards")
          .values({ id, resident_id: residentId, status, produced_date: "2026-11-25", expires: "2036-02-29", handed_over_date: null, created_at: NOW, updated_at: NOW })
          .execute();
      await card("C-OWN0000001", resident.id, "active");
      await card("C-OTHER00001", other.id, "active");
      await card("C-RETURNED01", resident.id, "returned");
      for (const cardId of ["C-OTHER00001", "C-RETURNED01"]) {
        const res = await post("auth", { residentId: resident.id, subjectPublicKey: spki(key!), cardId });
        assert.equal(res.status, 400, cardId);
        assert.equal(res.body.error.field, "cardId");
      }
      const ok = await post("auth", { residentId: resident.id, subjectPublicKey: spki(key!), cardId: "C-OWN0000001" });
      assert.equal(ok.status, 201, JSON.stringify(ok.body));
      assert.equal((await t.context.ca.certificate("auth", ok.body.serial)).cardId, "C-OWN0000001");

      // The card's expiry caps the certificate (spec §2.1), whatever expiry the client gives.
      await t.context.store.db
        .insertInto("cards")
        .values({ id: "C-SHORT00001", resident_id: resident.id, status: "active", produced_date: "2026-11-25", expires: "2027-06-30", handed_over_date: null, created_at: NOW, updated_at: NOW })
        .execute();
      for (const [cardExpiry, expires] of [[undefined, "2027-06-30"], ["2040-01-01", "2027-06-30"], ["2027-01-31", "2027-01-31"]] as const) {
        const capped = await post("auth", { residentId: resident.id, subjectPublicKey: spki(key!), cardId: "C-SHORT00001", ...(cardExpiry ? { cardExpiry } : {}) });
        assert.equal(capped.status, 201, JSON.stringify(capped.body));
        assert.equal(capped.body.expires, expires, `cardExpiry ${cardExpiry}`);
      }
    });

    /** POST a batch as the Machida client (or another key). */
    const postBatch = async (type: string, body: unknown, apiKey: string | null = machida.apiKey) => {
      const res = await app.inject({
        method: "POST",
        url: `/api/ca/${type}/certificates/batch`,
        headers: apiKey === null ? {} : { authorization: `Bearer ${apiKey}` },
        payload: body as object,
      });
      return { status: res.statusCode, headers: res.headers, body: res.json() as any };
    };

    test("a batch: each request answered in order as the single endpoint would, every certificate recorded", async () => {
      const before = await count();
      const other = await addResident({ name: "町田 四郎", gender: "1" });
      const elsewhere = await addResident({ name: "千代田 五郎", gender: "1", municipality: "131016", address: "東京都千代田区霞が関２－１－２" });
      const child = await addResident({ name: "町田 六郎", birth: "2016-05-05", gender: "1" });
      const requests = [
        { residentId: resident.id, subjectPublicKey: spki(key!) },
        { residentId: elsewhere.id, subjectPublicKey: spki(key!) },
        { residentId: child.id, subjectPublicKey: spki(key!) },
        { residentId: other.id, subjectPublicKey: spki(key!), cardExpiry: "2029-02-30" },
        { residentId: other.id, subjectPublicKey: spki(key!), cardExpiry: "2029-03-31" },
      ];
      const res = await postBatch("sign", { requests });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.headers["cache-control"], "no-store");
      assert.deepEqual(
        res.body.results.map((r: any) => [r.status, r.error?.code ?? null, r.error?.field ?? null]),
        [
          [201, null, null],
          [404, "not-found", "residentId"],
          [422, "not-eligible", "type"],
          [400, "invalid-input", "cardExpiry"],
          [201, null, null],
        ],
      );
      assert.equal(res.body.results[1].error.message, (await post("sign", requests[1])).body.error.message, "the single endpoint's answer");
      const issued = [res.body.results[0].certificate, res.body.results[4].certificate];
      assert.equal(issued[1].expires, "2029-03-31", "capped by the card's expiry");
      for (const [i, c] of issued.entries()) {
        const x = new X509Certificate(Buffer.from(c.certificate, "base64"));
        assert.ok(x.verify(t.context.ca.authority("sign").publicKey));
        const stored = await t.context.ca.certificate("sign", c.serial);
        assert.equal(stored.residentId, [resident.id, other.id][i]);
        assert.deepEqual(Buffer.from(stored.der), Buffer.from(c.certificate, "base64"));
        const audit = await t.context.store.db.selectFrom("audit_log").selectAll().where("subject", "=", `sign:${c.serial}`).executeTakeFirstOrThrow();
        assert.equal(audit.actor, `issuance-client:${machida.id}`);
      }
      assert.equal(await count(), before + 2, "only the issued ones are recorded");
    });

    test("a malformed batch is refused whole (400 naming the item's field), and needs a client key (401)", async () => {
      const before = await count();
      const good = { residentId: resident.id, subjectPublicKey: spki(key!) };
      // The schema's refusals say the problem in Japanese too: "field: 日本語 / English".
      const cases: [string, unknown, string, string][] = [
        ["no requests", {}, "requests", "必須の項目がありません"],
        ["empty", { requests: [] }, "requests", "1件以上で指定してください"],
        ["over 100", { requests: Array.from({ length: 101 }, () => good) }, "requests", "100件以内で指定してください"],
        ["an item without residentId", { requests: [good, { subjectPublicKey: spki(key!) }] }, "requests/1/residentId", "必須の項目がありません"],
        ["an item with a bad key", { requests: [good, good, { residentId: resident.id, subjectPublicKey: "not base64!" }] }, "requests/2/subjectPublicKey", ""],
        ["an item with a misspelt property", { requests: [good, { ...good, cardExpiri: "2029-03-31" }] }, "requests/1/cardExpiri", "この項目は受け付けません"],
        ["an unknown property beside requests", { requests: [good], extra: 1 }, "extra", "この項目は受け付けません"],
        ["a number for an id", { requests: [{ ...good, residentId: 7 }] }, "requests/0/residentId", "値の型が違います（文字列で指定してください）"],
      ];
      for (const [what, body, field, japanese] of cases) {
        const res = await postBatch("auth", body);
        assert.equal(res.status, 400, `${what}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.error.code, "invalid-input", what);
        assert.equal(res.body.error.field, field, what);
        assert.match(res.body.error.message, new RegExp(`^${field}: ${japanese}.* / \\S`), what);
      }
      const unauthorised = await postBatch("auth", { requests: [good] }, null);
      assert.equal(unauthorised.status, 401);
      assert.equal(unauthorised.headers["www-authenticate"], 'Bearer realm="openjpki-issuance"');
      assert.equal(await count(), before, "nothing issued");
    });

    test("the OpenAPI document describes both endpoints with bearer authentication", async () => {
      const doc = (await app.inject({ method: "GET", url: "/api/openapi.json" })).json() as any;
      for (const type of ["sign", "auth"]) {
        const op = doc.paths[`/api/ca/${type}/certificates`]?.post;
        assert.ok(op, `${type} endpoint documented`);
        assert.deepEqual(op.security, [{ issuanceClient: [] }]);
        assert.deepEqual(op.requestBody.content["application/json"].schema.required, ["residentId", "subjectPublicKey"]);
        const batch = doc.paths[`/api/ca/${type}/certificates/batch`]?.post;
        assert.ok(batch, `${type} batch endpoint documented`);
        assert.deepEqual(batch.security, [{ issuanceClient: [] }]);
        assert.equal(batch.requestBody.content["application/json"].schema.properties.requests.maxItems, 100);
      }
      assert.equal(doc.components.securitySchemes.issuanceClient.scheme, "bearer");
    });
  });
}
