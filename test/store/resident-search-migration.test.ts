// Migration 0027 gives every resident already in the register a search key, so a store upgraded
// in place finds its existing residents in the counter's search (a default of "" would find none).
import { test } from "node:test";
import assert from "node:assert/strict";
import Database from "better-sqlite3";
import { Kysely, Migrator, SqliteDialect } from "kysely";
import { migrationProvider } from "../../src/store/migrations.ts";
import { residentSearchText } from "../../src/store/resident-search.ts";

test("0027 writes the search key of the residents registered before it, across its keyset pages", async () => {
  const raw = new Database(":memory:");
  const db = new Kysely<any>({ dialect: new SqliteDialect({ database: raw }) });
  try {
    const migrator = new Migrator({ db, provider: migrationProvider("sqlite") });
    const before = await migrator.migrateTo("0026-filings-content");
    if (before.error) throw before.error;
    raw.exec(`insert into municipalities values ('132098', '東京都', 'Tokyo', '町田市', 'Machida')`);
    const insert = raw.prepare(`insert into residents (id, name, name_substitutes, birth, gender, address, address_substitutes, municipality_code, nationality,
      residence_end, guardianship, status, created_at, updated_at) values (?, ?, '', '1980-04-01', '2', ?, '', '132098', 'JP', null, 0, 'registered', ?, ?)`);
    const count = 2_345; // more than two pages of the backfill
    raw.transaction(() => {
      for (let i = 0; i < count; i++) {
        const at = new Date(Date.UTC(2025, 0, 1, 0, 0, i)).toISOString();
        insert.run(`R-${String(i).padStart(6, "0")}`, `町田　花子${i}`, `東京都町田市森野２－${i}`, at, at);
      }
    })();
    const after = await migrator.migrateToLatest();
    if (after.error) throw after.error;
    const rows = raw.prepare("select id, name, address, search_text from residents order by id").all() as { id: string; name: string; address: string; search_text: string }[];
    assert.equal(rows.length, count);
    const wrong = rows.filter((r) => r.search_text !== residentSearchText(r));
    assert.deepEqual(wrong.map((r) => r.id), [], "every resident's key written");
    assert.equal(rows.at(-1)!.search_text, "町田花子2344\nr-002344\n東京都町田市森野2-2344", "NFKC, no spaces, lower case, one part per line");
  } finally {
    await db.destroy();
  }
});
