// Revocation records and register events on each back end: one transaction, the rules' reasons.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { ServiceError } from "../../src/services/errors.ts";
import { backends, openTestContext, type TestContext } from "../helpers/context.ts";
import { testPublicKeys } from "../helpers/keys.ts";
import type { Resident } from "../../src/services/registry.ts";

let now = new Date("2026-11-25T03:00:00Z");
const clock = () => new Date(now);

for (const backend of backends()) {
  describe(`revocation and register events on ${backend}`, () => {
    let t: TestContext;
    const [k1, k2] = testPublicKeys(2);

    async function holderWithBoth(name = "中村 美咲"): Promise<{ resident: Resident; sign: string; auth: string }> {
      const resident = await t.context.registry.add({
        name, birth: "1980-04-01", gender: "2", address: "東京都町田市原町田１－１－１", municipality: "132098",
      });
      const auth = await t.context.ca.issue({ type: "auth", residentId: resident.id, subjectPublicKey: k1! });
      const sign = await t.context.ca.issue({ type: "sign", residentId: resident.id, subjectPublicKey: k2! });
      return { resident, sign: sign.serialHex, auth: auth.serialHex };
    }

    before(async () => {
      t = await openTestContext(backend, { clock });
    });
    after(() => t.cleanup());

    test("a move revokes the signing certificate (affiliationChanged) and keeps the authentication certificate", async () => {
      const { resident, sign, auth } = await holderWithBoth();
      now = new Date("2026-12-01T01:00:00Z");
      const outcome = await t.context.events.changeAttributes(resident.id, { address: "神奈川県横浜市中区日本大通１", municipality: "141003" });
      assert.deepEqual(outcome.revoked.map((r) => [r.type, r.serialHex, r.reason]), [["sign", sign, "affiliationChanged"]]);
      const signRecord = await t.context.ca.certificate("sign", sign);
      assert.equal(signRecord.status, "revoked");
      assert.equal(signRecord.revokedAt, "2026-12-01T01:00:00.000Z");
      assert.equal(signRecord.revokedBy, `registry:${outcome.id}`);
      assert.equal((await t.context.ca.certificate("auth", auth)).status, "valid");
      const moved = await t.context.registry.get(resident.id);
      assert.equal(moved.municipality.code, "141003");
      const events = await t.context.store.db.selectFrom("registry_events").selectAll().where("resident_id", "=", resident.id).execute();
      assert.equal(events.length, 1);
      assert.deepEqual(JSON.parse(events[0]!.detail).after, { address: "神奈川県横浜市中区日本大通１", municipality: "141003" });
    });

    test("a change that fails validation changes nothing and revokes nothing", async () => {
      const { resident, sign } = await holderWithBoth("小林 直樹");
      await assert.rejects(
        t.context.events.changeAttributes(resident.id, { name: "小林 直人", birth: "1980-02-30" }),
        (e: unknown) => e instanceof ServiceError && e.field === "birth",
      );
      assert.equal((await t.context.registry.get(resident.id)).name, "小林　直樹");
      assert.equal((await t.context.ca.certificate("sign", sign)).status, "valid");
      await assert.rejects(t.context.events.changeAttributes(resident.id, { name: "小林 直樹" }), /nothing changes/);
    });

    test("death revokes both (cessationOfOperation) and ends the register entry", async () => {
      const { resident, sign, auth } = await holderWithBoth("加藤 健");
      const outcome = await t.context.events.endRegistration(resident.id, { kind: "death" });
      assert.deepEqual(outcome.revoked.map((r) => [r.type, r.reason]).sort(), [
        ["auth", "cessationOfOperation"],
        ["sign", "cessationOfOperation"],
      ]);
      assert.equal((await t.context.ca.certificate("sign", sign)).status, "revoked");
      assert.equal((await t.context.ca.certificate("auth", auth)).status, "revoked");
      assert.equal((await t.context.registry.get(resident.id)).status, "deceased");
      await assert.rejects(t.context.events.endRegistration(resident.id, { kind: "death" }), /already deceased/);
      await assert.rejects(
        t.context.ca.issue({ type: "auth", residentId: resident.id, subjectPublicKey: k1! }),
        (e: unknown) => e instanceof ServiceError && e.code === "not-eligible",
      );
    });

    test("emigration with continued use revokes only the signing certificate", async () => {
      const { resident, sign, auth } = await holderWithBoth("吉田 亮");
      await t.context.events.endRegistration(resident.id, { kind: "emigration", continuedUse: true, departureDate: "2027-01-05", abroadAddress: "アメリカ合衆国" });
      const departed = now;
      now = new Date("2027-01-05T03:00:00Z");
      await t.context.events.applyDueDepartures();
      now = departed;
      assert.equal((await t.context.ca.certificate("sign", sign)).status, "revoked");
      assert.equal((await t.context.ca.certificate("auth", auth)).status, "valid");
    });

    test("a hold is its own status, is never released, and keeps its time when it becomes a revocation", async () => {
      const { sign } = await holderWithBoth("山本 さくら");
      now = new Date("2027-01-10T00:00:00Z");
      const held = await t.context.ca.revoke({ type: "sign", serialHex: sign, reason: "certificateHold", by: "hotline" });
      assert.equal(held.status, "hold");
      await assert.rejects(
        t.context.ca.revoke({ type: "sign", serialHex: sign, reason: "certificateHold", by: "hotline" }),
        (e: unknown) => e instanceof ServiceError && e.code === "conflict",
      );
      now = new Date("2027-01-12T00:00:00Z");
      const final = await t.context.ca.revoke({ type: "sign", serialHex: sign, reason: "keyCompromise", by: "counter" });
      assert.equal(final.status, "revoked");
      assert.equal(final.revokedAt, "2027-01-10T00:00:00.000Z");
      await assert.rejects(
        t.context.ca.revoke({ type: "sign", serialHex: sign, reason: "superseded", by: "counter" }),
        /already revoked/,
      );
    });

    test("two concurrent revocations of one certificate: exactly one wins", async () => {
      const { auth } = await holderWithBoth("井上 翔");
      const results = await Promise.allSettled([
        t.context.ca.revoke({ type: "auth", serialHex: auth, reason: "keyCompromise", by: "counter" }),
        t.context.ca.revoke({ type: "auth", serialHex: auth, reason: "cessationOfOperation", by: "operator" }),
      ]);
      assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
      const rejected = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
      assert.ok(rejected.reason instanceof ServiceError && rejected.reason.code === "conflict");
    });

    test("unknown serials are not-found", async () => {
      await assert.rejects(
        t.context.ca.revoke({ type: "sign", serialHex: "00", reason: "keyCompromise", by: "operator" }),
        (e: unknown) => e instanceof ServiceError && e.code === "not-found",
      );
    });
  });
}
