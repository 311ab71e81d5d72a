// The OCSP status fast path reads only committed data, on every back end: a revocation still
// inside an open transaction (which may yet roll back) must not show.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { backends, openTestContext } from "../helpers/context.ts";
import { testPublicKeys } from "../helpers/keys.ts";

const NOW = "2026-11-25T03:00:00Z";

for (const backend of backends()) {
  describe(`certificate status fast path on ${backend}`, () => {
    test("an uncommitted revocation is not visible, and a rolled-back one never was", async () => {
      const t = await openTestContext(backend, { now: NOW });
      try {
        const { context } = t;
        const resident = await context.registry.add({ name: "佐藤 花子", birth: "1985-07-15", gender: "2", address: "東京都町田市中町１－２０－２３", municipality: "132098" });
        const issued = await context.ca.issue({ type: "auth", residentId: resident.id, subjectPublicKey: testPublicKeys(1)[0]! });
        const seenInside: (string | undefined)[] = [];
        await assert.rejects(
          context.store.db.transaction().execute(async (trx) => {
            await trx.updateTable("certificates").set({ status: "revoked", revoked_at: NOW, revocation_reason: "keyCompromise" }).where("ca_type", "=", "auth").where("serial_hex", "=", issued.serialHex).execute();
            seenInside.push((await context.store.certificateStatus("auth", issued.serialHex))?.status);
            throw new Error("roll back");
          }),
          /roll back/,
        );
        assert.deepEqual(seenInside, ["valid"]);
        assert.equal((await context.store.certificateStatus("auth", issued.serialHex))?.status, "valid");
        await context.ca.revoke({ type: "auth", serialHex: issued.serialHex, reason: "keyCompromise", by: "operator" });
        assert.equal((await context.store.certificateStatus("auth", issued.serialHex))?.status, "revoked");
      } finally {
        await t.cleanup();
      }
    });
  });
}
