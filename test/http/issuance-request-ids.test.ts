// Request ids on the issuance API: a municipal system that lost an answer (a timeout, a crash
// between our commit and its read) retries with the same requestId and gets the certificate
// already issued, not a second one — also when the retries race each other, and in a batch.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { FastifyInstance } from "fastify";
import { buildApp } from "../../src/http/app.ts";
import { backends, openTestContext, type TestContext } from "../helpers/context.ts";
import { testPublicKeys } from "../helpers/keys.ts";

let clockNow = new Date("2026-11-25T03:00:00Z");
const spki = (key: { export(o: { type: "spki"; format: "der" }): Buffer }) => key.export({ type: "spki", format: "der" }).toString("base64");

for (const backend of backends()) {
  describe(`issuance request ids on ${backend}`, () => {
    let t: TestContext;
    let app: FastifyInstance;
    let machida: { id: string; apiKey: string };
    let resident: { id: string };
    const [key, otherKey] = testPublicKeys(2);

    const post = async (url: string, body: unknown, apiKey = machida.apiKey) => {
      const res = await app.inject({ method: "POST", url, headers: { authorization: `Bearer ${apiKey}` }, payload: body as object });
      return { status: res.statusCode, body: res.json() as any };
    };
    const issued = (serial: string) => t.context.store.db.selectFrom("certificates").select("serial_hex").where("serial_hex", "=", serial).execute();
    const count = () => t.context.ca.count();

    before(async () => {
      t = await openTestContext(backend, { clock: () => clockNow });
      app = await buildApp(t.context);
      machida = await t.context.issuanceClients.add({ name: "町田市 交付システム", municipality: "132098" });
      resident = await t.context.registry.add({ name: "町田 花子", birth: "1988-02-29", gender: "2", address: "東京都町田市森野２丁目２番２２号", municipality: "132098" });
    });
    after(async () => {
      await app.close();
      await t.cleanup();
    });

    test("a retry with the same id and contents gets the first certificate (200, replayed), and nothing more is issued", async () => {
      const body = { residentId: resident.id, subjectPublicKey: spki(key!), requestId: "0b7e6a4c-5d1f-4c1e-9d6a-0d0c5f2b7a11" };
      const first = await post("/api/ca/sign/certificates", body);
      assert.equal(first.status, 201, JSON.stringify(first.body));
      assert.equal(first.body.replayed, undefined);
      const before = await count();
      const retry = await post("/api/ca/sign/certificates", body);
      assert.equal(retry.status, 200, JSON.stringify(retry.body));
      assert.equal(retry.body.replayed, true);
      assert.equal(retry.body.serial, first.body.serial);
      assert.equal(retry.body.certificate, first.body.certificate, "the same DER");
      assert.deepEqual({ ...retry.body, replayed: undefined }, { ...first.body, replayed: undefined });
      assert.equal(await count(), before, "no second certificate");
      const audits = await t.context.store.db.selectFrom("audit_log").select("seq").where("action", "=", "certificate.issue").where("subject", "=", `sign:${first.body.serial}`).execute();
      assert.equal(audits.length, 1);
    });

    test("a retry whose certificate was revoked or held since is refused (409 replayed-certificate-not-valid), not handed out for a card", async () => {
      for (const [requestId, reason] of [["revoked-since", "keyCompromise"], ["held-since", "certificateHold"]] as const) {
        const body = { residentId: resident.id, subjectPublicKey: spki(otherKey!), requestId };
        const first = await post("/api/ca/sign/certificates", body);
        assert.equal(first.status, 201, JSON.stringify(first.body));
        await t.context.ca.revoke({ type: "sign", serialHex: first.body.serial, reason, by: "hotline" });
        const before = await count();
        const retry = await post("/api/ca/sign/certificates", body);
        assert.equal(retry.status, 409, JSON.stringify(retry.body));
        assert.equal(retry.body.error.reason, "replayed-certificate-not-valid");
        assert.equal(retry.body.error.field, "requestId");
        assert.match(retry.body.error.message, new RegExp(`${first.body.serial}.* / .*${reason === "certificateHold" ? "is on hold" : "has been revoked \\(keyCompromise\\)"}`));
        assert.equal(retry.body.certificate, undefined);
        assert.equal(await count(), before, "nothing issued");
      }
    });

    test("the same id with other contents is refused (409 request-id-reused) and issues nothing; other clients' ids are their own", async () => {
      const body = { residentId: resident.id, subjectPublicKey: spki(key!), requestId: "reused-1" };
      assert.equal((await post("/api/ca/auth/certificates", body)).status, 201);
      const before = await count();
      for (const [what, url, other] of [
        ["another key", "/api/ca/auth/certificates", { ...body, subjectPublicKey: spki(otherKey!) }],
        ["another type", "/api/ca/sign/certificates", body],
        ["a card expiry added", "/api/ca/auth/certificates", { ...body, cardExpiry: "2029-03-31" }],
      ] as const) {
        const res = await post(url, other);
        assert.equal(res.status, 409, `${what}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.error.reason, "request-id-reused", what);
        assert.equal(res.body.error.field, "requestId", what);
        assert.match(res.body.error.message, /別の内容/, what);
      }
      assert.equal(await count(), before, "nothing issued");
      const sagamihara = await t.context.issuanceClients.add({ name: "町田市 別システム", municipality: "132098" });
      const theirs = await post("/api/ca/auth/certificates", body, sagamihara.apiKey);
      assert.equal(theirs.status, 201, "another client's id space");
    });

    test("retries racing each other: one certificate, every answer carries it", async () => {
      const body = { residentId: resident.id, subjectPublicKey: spki(key!), requestId: "race-1" };
      const before = await count();
      const answers = await Promise.all(Array.from({ length: 8 }, () => post("/api/ca/auth/certificates", body)));
      assert.deepEqual(
        answers.map((a) => a.status).sort(),
        [200, 200, 200, 200, 200, 200, 200, 201],
        JSON.stringify(answers.map((a) => a.body)),
      );
      assert.equal(new Set(answers.map((a) => a.body.serial)).size, 1);
      assert.equal(await count(), before + 1);
      assert.equal((await issued(answers[0]!.body.serial)).length, 1);
    });

    test("in a batch: a repeated id is issued once, and a later batch retry is answered item by item", async () => {
      const requests = [
        { residentId: resident.id, subjectPublicKey: spki(key!), requestId: "batch-a" },
        { residentId: resident.id, subjectPublicKey: spki(key!), requestId: "batch-a" },
        { residentId: resident.id, subjectPublicKey: spki(otherKey!), requestId: "batch-b" },
      ];
      const before = await count();
      const first = await post("/api/ca/auth/certificates/batch", { requests });
      assert.equal(first.status, 200);
      assert.deepEqual(first.body.results.map((r: any) => r.status).sort(), [200, 201, 201]);
      assert.equal(first.body.results[0].certificate.serial, first.body.results[1].certificate.serial);
      assert.equal(await count(), before + 2);
      const retry = await post("/api/ca/auth/certificates/batch", { requests });
      assert.deepEqual(retry.body.results.map((r: any) => [r.status, r.certificate.replayed]), [[200, true], [200, true], [200, true]]);
      assert.deepEqual(
        retry.body.results.map((r: any) => r.certificate.serial),
        first.body.results.map((r: any) => r.certificate.serial),
      );
      assert.equal(await count(), before + 2);
    });

    test(`ids are kept ${30} days: then forgotten, and the same id issues anew`, async () => {
      const body = { residentId: resident.id, subjectPublicKey: spki(key!), requestId: "kept-30-days" };
      const first = await post("/api/ca/auth/certificates", body);
      assert.equal(first.status, 201);
      const issuedAt = clockNow;
      try {
        clockNow = new Date(issuedAt.getTime() + 29 * 86_400_000);
        assert.equal(await t.context.issuance.forgetRequestIds(), 0);
        assert.equal((await post("/api/ca/auth/certificates", body)).body.serial, first.body.serial, "still answered on day 29");
        clockNow = new Date(issuedAt.getTime() + 31 * 86_400_000);
        assert.ok((await t.context.issuance.forgetRequestIds()) >= 1);
        const later = await post("/api/ca/auth/certificates", body);
        assert.equal(later.status, 201);
        assert.notEqual(later.body.serial, first.body.serial);
      } finally {
        clockNow = issuedAt;
      }
    });

    test("a malformed request id is refused naming the field", async () => {
      for (const requestId of ["", "has space", "x".repeat(65), "日本語"]) {
        const res = await post("/api/ca/auth/certificates", { residentId: resident.id, subjectPublicKey: spki(key!), requestId });
        assert.equal(res.status, 400, requestId);
        assert.equal(res.body.error.field, "requestId", requestId);
      }
    });
  });
}
