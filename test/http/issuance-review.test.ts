// Review of the issuance API: what a client may learn about other municipalities' residents,
// what a certificate already recorded is answered with, and the refusals' wording.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { FastifyInstance } from "fastify";
import { buildApp } from "../../src/http/app.ts";
import { backends, openTestContext, type TestContext } from "../helpers/context.ts";
import { testPublicKeys } from "../helpers/keys.ts";

const NOW = "2026-11-25T03:00:00Z";
const spki = (key: { export(o: { type: "spki"; format: "der" }): Buffer }) => key.export({ type: "spki", format: "der" }).toString("base64");

for (const backend of backends()) {
  describe(`issuance API review on ${backend}`, () => {
    let t: TestContext;
    let app: FastifyInstance;
    let machida: { id: string; apiKey: string };
    const [key] = testPublicKeys(1);

    const post = async (type: string, body: unknown, apiKey: string = machida.apiKey) => {
      const res = await app.inject({ method: "POST", url: `/api/ca/${type}/certificates`, headers: { authorization: `Bearer ${apiKey}` }, payload: body as object });
      return { status: res.statusCode, body: res.json() as any };
    };
    const addResident = (overrides: Record<string, unknown> = {}) =>
      t.context.registry.add({ name: "町田 花子", birth: "1988-02-29", gender: "2", address: "東京都町田市森野２丁目２番２２号", municipality: "132098", ...overrides });
    const card = (id: string, residentId: string, status: "active" | "returned", expires = "2036-02-29") =>
      t.context.store.db
        .insertInto("cards")
        .values({ id, resident_id: residentId, status, produced_date: "2026-11-25", expires, handed_over_date: null, created_at: NOW, updated_at: NOW })
        .execute();

    before(async () => {
      t = await openTestContext(backend, { now: NOW });
      app = await buildApp(t.context);
      machida = await t.context.issuanceClients.add({ name: "町田市 交付システム", municipality: "132098" });
    });
    after(async () => {
      await app.close();
      await t.cleanup();
    });

    test("a certificate recorded is answered 201 even if the request-id housekeeping fails afterwards", async () => {
      const resident = await addResident();
      const issuance = t.context.issuance as unknown as { forgetRequestIds: () => Promise<number> };
      const original = issuance.forgetRequestIds;
      issuance.forgetRequestIds = async () => {
        throw new Error("the store is busy");
      };
      const before = await t.context.ca.count();
      let res: Awaited<ReturnType<typeof post>>;
      try {
        res = await post("auth", { residentId: resident.id, subjectPublicKey: spki(key!), requestId: "sweep-fails-1" });
      } finally {
        issuance.forgetRequestIds = original;
      }
      const recorded = (await t.context.ca.count()) - before;
      // Either nothing was issued (and the client may retry), or what was recorded was handed out.
      if (recorded === 1) {
        assert.equal(res.status, 201, JSON.stringify(res.body));
        assert.equal((await t.context.ca.certificate("auth", res.body.serial)).residentId, resident.id);
      } else {
        assert.equal(recorded, 0);
        assert.equal(res.status, 500);
      }
      const retry = await post("auth", { residentId: resident.id, subjectPublicKey: spki(key!), requestId: "sweep-fails-1" });
      assert.ok(retry.status === 200 || retry.status === 201, JSON.stringify(retry.body));
      assert.equal((await t.context.ca.count()) - before, 1, "one certificate in all");
    });

    test("a renewal for another municipality's resident is answered 404 like an unknown one, not with their certificate's expiry", async () => {
      const elsewhere = await addResident({ name: "千代田 太郎", gender: "1", birth: "1990-06-01", municipality: "131016", address: "東京都千代田区霞が関２－１－２" });
      await t.context.ca.issue({ type: "auth", residentId: elsewhere.id, subjectPublicKey: key! });
      const before = await t.context.ca.count();
      const res = await post("auth", { residentId: elsewhere.id, subjectPublicKey: spki(key!), renewal: true });
      assert.equal(res.status, 404, JSON.stringify(res.body));
      assert.equal(res.body.error.field, "residentId");
      assert.doesNotMatch(res.body.error.message, /2031/);
      const unknown = await post("auth", { residentId: "R-0000000000", subjectPublicKey: spki(key!), renewal: true });
      assert.equal(unknown.status, 404, JSON.stringify(unknown.body));
      assert.equal(res.body.error.message.replaceAll(elsewhere.id, "ID"), unknown.body.error.message.replaceAll("R-0000000000", "ID"), "the same answer");
      assert.equal(await t.context.ca.count(), before);
    });

    test("a card of another municipality's resident: 404 like an unknown resident, whatever the card", async () => {
      const elsewhere = await addResident({ name: "千代田 次郎", gender: "1", municipality: "131016", address: "東京都千代田区霞が関２－１－２" });
      await card("C-CHIYODA001", elsewhere.id, "active");
      await card("C-CHIYODA002", elsewhere.id, "returned");
      const answers = [];
      for (const cardId of ["C-CHIYODA001", "C-CHIYODA002", "C-NONE000001"]) {
        const res = await post("auth", { residentId: elsewhere.id, subjectPublicKey: spki(key!), cardId });
        assert.equal(res.status, 404, `${cardId}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.error.field, "residentId", cardId);
        answers.push(res.body.error.message);
      }
      const unknown = await post("auth", { residentId: "R-0000000000", subjectPublicKey: spki(key!), cardId: "C-CHIYODA001" });
      assert.equal(unknown.status, 404, JSON.stringify(unknown.body));
      for (const message of answers) assert.equal(message.replaceAll(elsewhere.id, "ID"), unknown.body.error.message.replaceAll("R-0000000000", "ID"));
    });
  });
}
