// The OCSP status fast paths read only committed data, on every back end: a revocation still
// inside an open transaction (which may yet roll back) must not show, neither in the certificate's
// status nor in its CA's revocation version (which tells the responder its cached answers hold).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { openStore } from "../../src/store/database.ts";
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
        const authVersion = async () => Number((await context.store.revocationVersions()).find((row) => row.ca_type === "auth")?.version ?? 0);
        const before = await authVersion();
        const seenInside: (string | number | undefined)[] = [];
        await assert.rejects(
          context.store.db.transaction().execute(async (trx) => {
            await trx.updateTable("certificates").set({ status: "revoked", revoked_at: NOW, revocation_reason: "keyCompromise" }).where("ca_type", "=", "auth").where("serial_hex", "=", issued.serialHex).execute();
            await trx
              .insertInto("revocation_versions")
              .values({ ca_type: "auth", version: before + 1 })
              .onConflict((oc) => oc.column("ca_type").doUpdateSet({ version: before + 1 }))
              .execute();
            const bumped = await trx.selectFrom("revocation_versions").select("version").where("ca_type", "=", "auth").executeTakeFirstOrThrow();
            assert.equal(Number(bumped.version), before + 1, "the transaction itself sees its bump");
            seenInside.push((await context.store.certificateStatus("auth", issued.serialHex))?.status, await authVersion());
            throw new Error("roll back");
          }),
          /roll back/,
        );
        assert.deepEqual(seenInside, ["valid", before]);
        assert.equal((await context.store.certificateStatus("auth", issued.serialHex))?.status, "valid");
        assert.equal(await authVersion(), before);
        await context.ca.revoke({ type: "auth", serialHex: issued.serialHex, reason: "keyCompromise", by: "operator" });
        assert.equal((await context.store.certificateStatus("auth", issued.serialHex))?.status, "revoked");
        assert.ok((await authVersion()) > before, "a committed revocation bumps the version the fast path reads");
      } finally {
        await t.cleanup();
      }
    });
  });
}

describe("fast paths on an in-memory SQLite store (one connection shared with the writer)", () => {
  test("a read asked for during an open transaction waits for it, and never shows what it rolled back", async () => {
    const store = await openStore({ sqlitePath: ":memory:" });
    try {
      const versions = async () => (await store.revocationVersions()).map((row) => [row.ca_type, Number(row.version)]);
      await store.db.insertInto("revocation_versions").values({ ca_type: "auth", version: 1 }).execute();
      let seen: Promise<unknown> | undefined;
      await assert.rejects(
        store.db.transaction().execute(async (trx) => {
          await trx.updateTable("revocation_versions").set({ version: 2 }).where("ca_type", "=", "auth").execute();
          seen = versions(); // not awaited here: it must wait for this transaction to end
          await new Promise((resolve) => setImmediate(resolve));
          throw new Error("roll back");
        }),
        /roll back/,
      );
      assert.deepEqual(await seen, [["auth", 1]]);
    } finally {
      await store.close();
    }
  });
});
