// Registered issuance clients (src/services/issuance-clients.ts) on each store back end: keys
// shown once and stored hashed, scope to one municipality, deactivation, audit records.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { ServiceError } from "../../src/services/errors.ts";
import { backends, openTestContext, type TestContext } from "../helpers/context.ts";

for (const backend of backends()) {
  describe(`issuance clients on ${backend}`, () => {
    let t: TestContext;
    before(async () => {
      t = await openTestContext(backend, { now: "2026-11-25T03:00:00Z" });
    });
    after(() => t.cleanup());

    test("a new client gets a key shown once; only its SHA-256 is stored; the key authenticates it", async () => {
      const client = await t.context.issuanceClients.add({ name: "  町田市 交付システム ", municipality: "132098" });
      assert.match(client.id, /^I-[0-9A-F]{10}$/);
      assert.equal(client.name, "町田市 交付システム");
      assert.equal(client.municipality, "132098");
      assert.match(client.apiKey, /^oji_[A-Za-z0-9_-]{43}$/);
      const row = await t.context.store.db.selectFrom("issuance_clients").selectAll().where("id", "=", client.id).executeTakeFirstOrThrow();
      assert.equal(row.key_hash, createHash("sha256").update(client.apiKey).digest("hex"));
      assert.ok(!JSON.stringify(row).includes(client.apiKey.slice(4)), "the key itself is nowhere in the row");
      const authenticated = await t.context.issuanceClients.authenticate(client.apiKey);
      assert.deepEqual(authenticated, { id: client.id, name: client.name, municipality: "132098", createdAt: client.createdAt, active: true });
      assert.equal(await t.context.issuanceClients.authenticate(client.apiKey.slice(0, -1) + (client.apiKey.endsWith("A") ? "B" : "A")), undefined);
      assert.equal(await t.context.issuanceClients.authenticate(client.apiKey.slice(4)), undefined, "without its prefix");
      assert.equal(await t.context.issuanceClients.authenticate(""), undefined);
      const audit = await t.context.store.db.selectFrom("audit_log").selectAll().where("subject", "=", client.id).execute();
      assert.deepEqual(audit.map((a) => a.action), ["issuance-client.add"]);
    });

    test("input is validated with errors that name the field", async () => {
      for (const [input, field] of [
        [{ name: "", municipality: "132098" }, "name"],
        [{ name: "x".repeat(201), municipality: "132098" }, "name"],
        [{ name: "ok", municipality: "999999" }, "municipality"],
      ] as const) {
        await assert.rejects(t.context.issuanceClients.add(input), (e: unknown) => e instanceof ServiceError && e.field === field, JSON.stringify(input));
      }
    });

    test("a deactivated client's key stops working; it stays in the list as inactive", async () => {
      const client = await t.context.issuanceClients.add({ name: "新宿区", municipality: "131041" });
      const deactivated = await t.context.issuanceClients.deactivate(client.id);
      assert.equal(deactivated.active, false);
      assert.equal(await t.context.issuanceClients.authenticate(client.apiKey), undefined);
      const listed = (await t.context.issuanceClients.list()).find((c) => c.id === client.id);
      assert.equal(listed?.active, false);
      await assert.rejects(t.context.issuanceClients.deactivate(client.id), (e: unknown) => e instanceof ServiceError && e.code === "conflict");
      await assert.rejects(t.context.issuanceClients.deactivate("I-0000000000"), (e: unknown) => e instanceof ServiceError && e.code === "not-found");
      await assert.rejects(t.context.issuanceClients.deactivate("nonsense"), (e: unknown) => e instanceof ServiceError && e.field === "id");
    });
  });
}
