// Review of the CA's issuance and the issuance clients at the service level: the refusals the
// rules make at the edge of a day, issuance-client names as one line of text, and refusals
// written in Japanese and English.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { ServiceError } from "../../src/services/errors.ts";
import { backends, openTestContext, type TestContext } from "../helpers/context.ts";
import { testPublicKeys } from "../helpers/keys.ts";

const JAPANESE = /[\u3040-\u30ff\u4e00-\u9fff].* \/ /s;
const spki = (key: { export(o: { type: "spki"; format: "der" }): Buffer }) => key.export({ type: "spki", format: "der" }).toString("base64");

for (const backend of backends()) {
  describe(`issuance review on ${backend}`, () => {
    // 23:59:59.5 JST on 2026-11-25: the last second of the day.
    let clockNow = new Date("2026-11-25T03:00:00Z");
    let t: TestContext;
    const [key] = testPublicKeys(1);
    const addResident = (overrides: Record<string, unknown> = {}) =>
      t.context.registry.add({ name: "町田 花子", birth: "1988-02-29", gender: "2", address: "東京都町田市森野２丁目２番２２号", municipality: "132098", ...overrides });

    before(async () => {
      t = await openTestContext(backend, { clock: () => clockNow });
    });
    after(() => t.cleanup());

    test("in the last second of the cap's day: refused as not eligible (422), not an internal error", async () => {
      const resident = await addResident();
      const before = await t.context.ca.count();
      clockNow = new Date("2026-11-25T14:59:59.500Z");
      try {
        await assert.rejects(
          t.context.ca.issue({ type: "auth", residentId: resident.id, subjectPublicKey: key!, cardExpiry: "2026-11-25" }),
          (e: unknown) => e instanceof ServiceError && e.code === "not-eligible" && e.field === "cardExpiry" && JAPANESE.test(e.message),
        );
        // A second earlier there is a second left: issued, valid to 23:59:59 JST.
        clockNow = new Date("2026-11-25T14:59:58.900Z");
        const record = await t.context.ca.issue({ type: "auth", residentId: resident.id, subjectPublicKey: key!, cardExpiry: "2026-11-25" });
        assert.equal(record.notAfter, "2026-11-25T14:59:59.000Z");
      } finally {
        clockNow = new Date("2026-11-25T03:00:00Z");
      }
      assert.equal(await t.context.ca.count(), before + 1);
    });

    test("a card past its expiry is refused naming cardId (the client sent no cardExpiry)", async () => {
      const resident = await addResident();
      await t.context.store.db
        .insertInto("cards")
        .values({ id: "C-EXPIRED001", resident_id: resident.id, status: "active", produced_date: "2016-11-25", expires: "2026-11-01", handed_over_date: null, created_at: "2016-11-25T00:00:00Z", updated_at: "2016-11-25T00:00:00Z" })
        .execute();
      const client = await t.context.issuanceClients.add({ name: "町田市", municipality: "132098" });
      await assert.rejects(
        t.context.issuance.issue(client, "auth", { residentId: resident.id, subjectPublicKey: spki(key!), cardId: "C-EXPIRED001" }),
        (e: unknown) => e instanceof ServiceError && e.code === "invalid-input" && e.field === "cardId" && /2026-11-01/.test(e.message) && JAPANESE.test(e.message),
      );
    });

    test("an issuance client's name is one line of text: control and bidi characters are refused naming the field", async () => {
      for (const name of ["町田市\n[OK] I-0000000000 131016 forged line", "町田市\u001b[2J", "\u202e町田市"]) {
        await assert.rejects(
          t.context.issuanceClients.add({ name, municipality: "132098" }),
          (e: unknown) => e instanceof ServiceError && e.code === "invalid-input" && e.field === "name" && JAPANESE.test(e.message),
          JSON.stringify(name),
        );
      }
      assert.equal((await t.context.issuanceClients.add({ name: " 町田市　交付システム ", municipality: "132098" })).name, "町田市　交付システム");
    });

    test("a verifier's name is one line of text too: control and bidi characters are refused naming the field", async () => {
      for (const name of ["検証者\n[OK] V-0000000000 forged line", "検証者\u001b[2J", "\u202e検証者", ""]) {
        await assert.rejects(
          t.context.verifiers.add(name),
          (e: unknown) => e instanceof ServiceError && e.code === "invalid-input" && e.field === "name" && JAPANESE.test(e.message),
          JSON.stringify(name),
        );
      }
      assert.equal((await t.context.verifiers.add(" 電子申請サービス ")).name, "電子申請サービス");
    });

    test("a deactivated client's key stops working in this process once deactivate() returns, even with lookups racing it", async () => {
      let stale = 0;
      for (let i = 0; i < 20; i++) {
        const client = await t.context.issuanceClients.add({ name: `競合 ${i}`, municipality: "132098" });
        let done = false;
        const lookups = (async () => {
          while (!done) {
            await t.context.issuanceClients.authenticate(client.apiKey);
            await new Promise((resolve) => setImmediate(resolve));
          }
        })();
        await new Promise((resolve) => setTimeout(resolve, 2));
        await t.context.issuanceClients.deactivate(client.id);
        if (await t.context.issuanceClients.authenticate(client.apiKey)) stale++;
        done = true;
        await lookups;
        if (await t.context.issuanceClients.authenticate(client.apiKey)) stale++;
      }
      assert.equal(stale, 0, "a lookup that read the row before the commit put the client back in the cache");
    });

    test("the issuance refusals are written in Japanese and English, naming the field", async () => {
      const client = await t.context.issuanceClients.add({ name: "町田市 交付", municipality: "132098" });
      const resident = await addResident();
      const deceased = await addResident({ name: "町田 一郎", gender: "1" });
      await t.context.events.endRegistration(deceased.id, { kind: "death" });
      const good = { residentId: resident.id, subjectPublicKey: spki(key!) };
      const cases: [string, () => Promise<unknown>, string | undefined][] = [
        ["inactive client", () => t.context.issuance.issue({ ...client, active: false }, "auth", good), undefined],
        ["bad type", () => t.context.issuance.issue(client, "both" as "auth", good), "type"],
        ["bad residentId", () => t.context.issuance.issue(client, "auth", { ...good, residentId: "R 1" }), "residentId"],
        ["not base64", () => t.context.issuance.issue(client, "auth", { ...good, subjectPublicKey: "!!!!" }), "subjectPublicKey"],
        ["EC key", () => t.context.issuance.issue(client, "auth", { ...good, subjectPublicKey: spki(generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey) }), "subjectPublicKey"],
        ["renewal not boolean", () => t.context.issuance.issue(client, "auth", { ...good, renewal: "yes" as unknown as boolean }), "renewal"],
        ["bad requestId", () => t.context.issuance.issue(client, "auth", { ...good, requestId: "has space" }), "requestId"],
        ["unknown card", () => t.context.issuance.issue(client, "auth", { ...good, cardId: "C-0000000000" }), "cardId"],
        ["unknown resident", () => t.context.issuance.issue(client, "auth", { ...good, residentId: "R-0000000000" }), "residentId"],
        ["deceased", () => t.context.issuance.issue(client, "auth", { ...good, residentId: deceased.id }), "residentId"],
        ["empty batch", () => t.context.issuance.issueBatch(client, "auth", []), "requests"],
        ["unknown serial", () => t.context.ca.certificate("auth", "ABCDEF"), "serial"],
        ["bad client id", () => t.context.issuanceClients.deactivate("nonsense"), "id"],
        ["unknown client", () => t.context.issuanceClients.deactivate("I-0000000000"), "id"],
      ];
      for (const [what, call, field] of cases) {
        await assert.rejects(call(), (e: unknown) => {
          assert.ok(e instanceof ServiceError, `${what}: ${String(e)}`);
          assert.equal(e.field, field, what);
          assert.match(e.message, JAPANESE, what);
          return true;
        });
      }
    });
  });
}
