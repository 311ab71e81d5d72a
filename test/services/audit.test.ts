// The audit trail's hash chain: every change recorded; edits, removals, reordering and a cut
// tail are caught and the first bad record is named. On each back end.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { appendAudit, verifyAudit, verifyAuditForPage } from "../../src/services/audit.ts";
import { backends, openTestContext, type TestContext } from "../helpers/context.ts";
import { testPublicKeys } from "../helpers/keys.ts";
import { cli } from "../helpers/cli.ts";

for (const backend of backends()) {
  describe(`audit trail on ${backend}`, () => {
    let t: TestContext;
    before(async () => {
      t = await openTestContext(backend, { now: "2026-11-25T03:00:00Z" });
    });
    after(() => t.cleanup());

    test("state changes write audit records in their own transaction", async () => {
      const r = await t.context.registry.add({ name: "監査 太郎", birth: "1970-01-01", gender: "1", address: "東京都町田市森野１", municipality: "132098" });
      const cert = await t.context.ca.issue({ type: "sign", residentId: r.id, subjectPublicKey: testPublicKeys(1)[0]! });
      await t.context.events.changeAttributes(r.id, { address: "東京都町田市森野２" });
      const rows = await t.context.store.db.selectFrom("audit_log").select(["action", "subject"]).orderBy("seq").execute();
      assert.deepEqual(rows.map((x) => x.action), ["resident.add", "certificate.issue", "resident.change"]);
      assert.equal(rows[1]!.subject, `sign:${cert.serialHex}`);
      const verified = await verifyAudit(t.context.store.db);
      assert.deepEqual(verified.ok && verified.records, 3);
    });

    test("concurrent appends keep one unbroken chain", async () => {
      const db = t.context.store.db;
      await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          db.transaction().execute((trx) => appendAudit(trx, { actor: `clerk-${i % 3}` }, { action: "test.concurrent", subject: String(i) }, new Date())),
        ),
      );
      const verified = await verifyAudit(db);
      assert.equal(verified.ok, true);
      assert.equal(verified.records, 53);
    });

    test("an edited record is caught and named", async () => {
      const db = t.context.store.db;
      await db.updateTable("audit_log").set({ actor: "intruder" }).where("seq", "=", 2).execute();
      const verified = await verifyAudit(db);
      assert.equal(verified.ok, false);
      assert.equal(!verified.ok && verified.firstBad, 2);
      assert.match(!verified.ok ? verified.problem : "", /edited/);
      await db.updateTable("audit_log").set({ actor: "operator:cli" }).where("seq", "=", 2).execute();
      assert.equal((await verifyAudit(db)).ok, true, "restoring the content restores the chain");
    });

    test("the audit page walks the whole chain every 10 minutes and the records since on each view; a break is never remembered", async () => {
      const db = t.context.store.db;
      const at = (minutes: number) => new Date(Date.parse("2026-11-25T04:00:00Z") + minutes * 60_000);
      const first = await verifyAuditForPage(db, at(0));
      assert.ok(first.ok);
      assert.deepEqual(first.wholeChainCheckedAt, at(0));

      // An old record edited: within the 10 minutes only the records since the walk are checked…
      await db.updateTable("audit_log").set({ actor: "intruder" }).where("seq", "=", 2).execute();
      const soon = await verifyAuditForPage(db, at(1));
      assert.equal(soon.ok, true);
      assert.deepEqual(soon.wholeChainCheckedAt, at(0), "says when the whole chain was walked");
      // …and a record written since, then edited, is caught at once.
      const seq = await appendAudit(db, { actor: "operator:cli" }, { action: "test.page", subject: "x" }, at(2));
      await db.updateTable("audit_log").set({ actor: "intruder" }).where("seq", "=", seq).execute();
      const fresh = await verifyAuditForPage(db, at(2));
      assert.equal(!fresh.ok && fresh.firstBad, seq);
      await db.updateTable("audit_log").set({ actor: "operator:cli" }).where("seq", "=", seq).execute();
      // A break is not remembered: the next view walks the whole chain and finds the old edit.
      const next = await verifyAuditForPage(db, at(3));
      assert.equal(!next.ok && next.firstBad, 2);
      await db.updateTable("audit_log").set({ actor: "operator:cli" }).where("seq", "=", 2).execute();
      assert.ok((await verifyAuditForPage(db, at(4))).ok);

      // Ten minutes after a whole walk, the next view walks it whole again.
      await db.updateTable("audit_log").set({ actor: "intruder" }).where("seq", "=", 2).execute();
      assert.ok((await verifyAuditForPage(db, at(13))).ok, "within 10 minutes of the walk at 4");
      const due = await verifyAuditForPage(db, at(14));
      assert.equal(!due.ok && due.firstBad, 2);
      await db.updateTable("audit_log").set({ actor: "operator:cli" }).where("seq", "=", 2).execute();
      assert.ok((await verifyAudit(db)).ok);
    });

    test("a removed record, a reordering and a cut-off tail are caught", async () => {
      const db = t.context.store.db;
      const all = await db.selectFrom("audit_log").selectAll().orderBy("seq").execute();
      // Reorder: swap the content of records 10 and 11 (keeping their seq).
      const [a, b] = [all[9]!, all[10]!];
      const { seq: _sa, ...contentA } = a;
      const { seq: _sb, ...contentB } = b;
      await db.updateTable("audit_log").set(contentB).where("seq", "=", a.seq).execute();
      await db.updateTable("audit_log").set(contentA).where("seq", "=", b.seq).execute();
      let verified = await verifyAudit(db);
      assert.equal(!verified.ok && verified.firstBad, 10);
      await db.updateTable("audit_log").set(contentA).where("seq", "=", a.seq).execute();
      await db.updateTable("audit_log").set(contentB).where("seq", "=", b.seq).execute();

      await db.deleteFrom("audit_log").where("seq", "=", 20).execute();
      verified = await verifyAudit(db);
      assert.equal(!verified.ok && verified.firstBad, 20);
      assert.match(!verified.ok ? verified.problem : "", /missing/);
      await db.insertInto("audit_log").values(all[19]!).execute();

      await db.deleteFrom("audit_log").where("seq", ">", 50).execute();
      verified = await verifyAudit(db);
      assert.equal(!verified.ok && verified.firstBad, 51);
      assert.match(!verified.ok ? verified.problem : "", /removed from the end/);
    });

    if (backend === "sqlite") {
      test("openjpki audit verify exits 1 and names the record", async () => {
        const r = await cli(["audit", "verify", "--data", t.dataDir], { OPENJPKI_CA_PASSPHRASE: "openjpki-test-passphrase-0123456789" });
        assert.equal(r.code, 1);
        assert.match(r.stderr, /audit trail broken at record 51/);
      });
    }
  });
}
