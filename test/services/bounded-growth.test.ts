// What anyone may send without logging in must not grow the store without limit: a refused
// filing keeps no document (only its size and SHA-256), and expired one-time challenges are
// deleted as new ones are issued — while a used one is still refused as used for its lifetime;
// expired OpenID Connect rows likewise.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { sql } from "kysely";
import { asSchemaChange, backends, openTestContext, type Backend, type TestContext } from "../helpers/context.ts";
import { signXmlOnCard } from "../../src/services/document-signing.ts";
import { ServiceError } from "../../src/services/errors.ts";
import { migrationProvider } from "../../src/store/migrations.ts";

const RETURN = `<?xml version="1.0" encoding="UTF-8"?><Return xmlns="urn:openjpki:demo:return"><Year>2026</Year><Income>5400000</Income></Return>`;

const refused = (reason: string) => (e: unknown) => {
  assert.ok(e instanceof ServiceError, String(e));
  assert.equal(e.reason, reason, e.message);
  return true;
};

/** Bytes the filings table takes: the SQLite file's pages in use, or the PostgreSQL relation with its TOAST. */
async function storeBytes(t: TestContext, backend: Backend): Promise<number> {
  const db = t.context.store.db;
  if (backend === "postgres") {
    const { rows } = await sql<{ size: string }>`select pg_total_relation_size('filings') as size`.execute(db);
    return Number(rows[0]!.size);
  }
  const pages = await sql<{ page_count: number }>`pragma page_count`.execute(db);
  const free = await sql<{ freelist_count: number }>`pragma freelist_count`.execute(db);
  const size = await sql<{ page_size: number }>`pragma page_size`.execute(db);
  return (Number(pages.rows[0]!.page_count) - Number(free.rows[0]!.freelist_count)) * Number(size.rows[0]!.page_size);
}

for (const backend of backends()) {
  describe(`bounded growth (${backend})`, () => {
    let t: TestContext;
    let now = new Date("2026-11-25T03:00:00Z");

    before(async () => {
      t = await openTestContext(backend, { clock: () => new Date(now) });
    });
    after(() => t.cleanup());

    test("a refused filing keeps no document body: only its size and SHA-256, and the store does not grow by it", async () => {
      // Random text: PostgreSQL's TOAST would compress a repeated one to nothing.
      const document = new Uint8Array(Buffer.from(`<r>${randomBytes(187 * 1024).toString("base64")}</r>`, "utf8"));
      const sha256 = createHash("sha256").update(document).digest("hex");
      const before = await storeBytes(t, backend);
      const filings = [];
      for (let i = 0; i < 8; i++) {
        const filing = await t.context.filings.submit({ format: "xml", document });
        assert.equal(filing.status, "refused");
        assert.ok(filing.reason);
        filings.push(filing);
      }
      const grown = (await storeBytes(t, backend)) - before;
      // Eight documents of 250 KiB would be 2 MiB; the records are a few hundred bytes each.
      assert.ok(grown < 128 * 1024, `the store grew by ${grown} bytes for 8 refusals`);
      for (const filing of filings) assert.deepEqual(filing.received, { bytes: document.length, sha256 });
      const ids = filings.map((f) => f.id);
      for (const id of ids) {
        const stored = await t.context.filings.get(id);
        assert.equal(stored.status, "refused");
        assert.equal(stored.document.length, 0);
        assert.deepEqual(stored.received, { bytes: document.length, sha256 });
      }
      const { rows } = await sql<{ total: number | string | null }>`select sum(length(document)) as total from filings where status = 'refused'`.execute(t.context.store.db);
      assert.equal(Number(rows[0]!.total ?? 0), 0);
      assert.ok((await t.context.filings.list()).some((f) => f.id === ids[0] && f.status === "refused"), "the refusal is still listed");
    });

    test("an accepted filing keeps its document", async () => {
      const resident = await t.context.registry.add({
        name: "町田 花子", birth: "1990-01-02", gender: "2", address: "東京都町田市森野２－２－２２", municipality: "132098",
      });
      const card = await t.context.cards.issue({ residentId: resident.id, authPin: "1234", signPin: "ABC123" });
      const signed = await signXmlOnCard(t.context.cards, { cardId: card.id, pin: "ABC123", xml: RETURN });
      const document = new Uint8Array(Buffer.from(signed.xml, "utf8"));
      const filing = await t.context.filings.submit({ format: "xml", document });
      assert.equal(filing.status, "accepted", JSON.stringify(filing.verification));
      const stored = await t.context.filings.get(filing.id);
      assert.deepEqual(Buffer.from(stored.document), Buffer.from(document));
      assert.deepEqual(stored.received, { bytes: document.length, sha256: createHash("sha256").update(document).digest("hex") });
    });

    test("migration 0018 empties the refusals stored before it and records every filing's size and SHA-256", async () => {
      const db = t.context.store.db;
      const body = new Uint8Array(Buffer.from("<old>refused long ago</old>"));
      await asSchemaChange(backend, async () => {
        await db.schema.dropIndex("challenges_expires").execute();
        await db.schema.alterTable("filings").dropColumn("received_bytes").execute();
        await db.schema.alterTable("filings").dropColumn("received_sha256").execute();
        await sql`insert into filings (id, format, document, status, reason, signer_serial, verification, submitted_at)
                  values ('F-OLD', 'xml', ${body}, 'refused', 'malformed-input', null, '{"valid":false,"code":"malformed-input","message":"old"}', '2026-01-01T00:00:00.000Z')`.execute(db);
        const migrations = await migrationProvider(t.context.store.dialect).getMigrations();
        await migrations["0018-bounded-challenges-and-refusals"]!.up(db);
      });
      const old = await t.context.filings.get("F-OLD");
      assert.equal(old.document.length, 0);
      assert.deepEqual(old.received, { bytes: body.length, sha256: createHash("sha256").update(body).digest("hex") });
      const accepted = (await t.context.filings.list()).filter((f) => f.status === "accepted");
      assert.ok(accepted.length >= 1);
      for (const f of accepted) {
        const stored = await t.context.filings.get(f.id);
        assert.ok(stored.document.length > 0);
        assert.equal(stored.received?.bytes, stored.document.length);
      }
    });

    test("expired OpenID Connect rows (anyone can start an authorization) are deleted as new ones are stored", async () => {
      const db = t.context.store.db;
      const ids = async () => (await db.selectFrom("oidc_payloads").select("id").where("model", "=", "Interaction").orderBy("id").execute()).map((r) => r.id);
      const interactions = t.context.oidc.adapterFor("Interaction");
      const start = now.getTime();
      await interactions.upsert("i-short", { uid: "u-short" }, 60);
      await interactions.upsert("i-long", { uid: "u-long" }, 3600);
      now = new Date(start + 30_000);
      await interactions.upsert("i-next", { uid: "u-next" }, 600);
      assert.deepEqual(await ids(), ["i-long", "i-next", "i-short"], "nothing has expired yet");
      now = new Date(start + 120_000);
      assert.equal(await interactions.find("i-short"), undefined, "an expired row is not found");
      await interactions.upsert("i-later", { uid: "u-later" }, 600);
      assert.deepEqual(await ids(), ["i-later", "i-long", "i-next"], "the expired one is gone");
      assert.deepEqual(await interactions.find("i-long"), { uid: "u-long" });
    });

    test("issuing challenges deletes the long-expired ones; a used one is refused as used for its whole lifetime", async () => {
      const db = t.context.store.db;
      const count = async () => Number((await db.selectFrom("challenges").select((eb) => eb.fn.countAll().as("n")).executeTakeFirstOrThrow()).n);
      await db.deleteFrom("challenges").execute();

      const start = now.getTime();
      const at = (seconds: number) => {
        now = new Date(start + seconds * 1000);
      };
      const used = await t.context.challenges.issue("login");
      await t.context.challenges.consume(used.id, "login");
      const late = await t.context.challenges.issue("kiosk");
      for (let i = 0; i < 40; i++) await t.context.challenges.issue(i % 2 === 0 ? "login" : "pin-reset-app");
      assert.equal(await count(), 42);

      // Within its lifetime, with issues (and so sweeps) in between: still refused as used.
      at(120);
      await t.context.challenges.issue("pin-reset-kiosk");
      await assert.rejects(t.context.challenges.consume(used.id, "login"), refused("challenge-used"));
      at(299);
      await t.context.challenges.issue("login");
      await assert.rejects(t.context.challenges.consume(used.id, "login"), refused("challenge-used"));
      assert.equal(await count(), 44);

      // Just expired: told so.
      at(301);
      await assert.rejects(t.context.challenges.consume(late.id, "kiosk"), refused("challenge-expired"));
      await assert.rejects(t.context.challenges.consume(used.id, "login"), refused("challenge-used"));

      // Long expired: the next issue deletes them; only the ones still live (or lately expired) stay.
      at(300 + 600 + 61);
      const fresh = await t.context.challenges.issue("login");
      // Left: the one issued at 120 s (expired at 420 s, kept until 1020 s), the one at 299 s, and the fresh one.
      assert.equal(await count(), 3);
      await assert.rejects(t.context.challenges.consume(late.id, "kiosk"), refused("challenge-unknown"));
      await assert.rejects(t.context.challenges.consume(used.id, "login"), refused("challenge-unknown"));
      assert.ok(await t.context.challenges.consume(fresh.id, "login"));

      at(3600);
      await t.context.challenges.issue("login");
      assert.equal(await count(), 1);
    });

    test("the delete of expired challenges has an index on expires_at", async () => {
      const db = t.context.store.db;
      const { rows } =
        backend === "postgres"
          ? await sql<{ name: string }>`select indexname as name from pg_indexes where schemaname = current_schema() and tablename = 'challenges'`.execute(db)
          : await sql<{ name: string }>`select name from sqlite_master where type = 'index' and tbl_name = 'challenges'`.execute(db);
      assert.ok(rows.some((r) => r.name === "challenges_expires"), JSON.stringify(rows));
    });
  });
}
