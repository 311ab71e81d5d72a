// A full disk (SQLite's SQLITE_FULL, here through max_page_count) is reported as that. SQLite rolls
// the transaction back by itself; kysely's own ROLLBACK then failed ("no transaction is active")
// and replaced the real error, so every write on a full disk was an unexplained 500.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "kysely";
import { openStore } from "../../src/store/database.ts";

test("a write that fills the disk fails naming it, and the store works once there is room", async () => {
  const dir = mkdtempSync(join(tmpdir(), "openjpki-full-"));
  const store = await openStore({ sqlitePath: join(dir, "store.sqlite") });
  try {
    const pages = Number((await sql<{ page_count: number }>`pragma page_count`.execute(store.db)).rows[0]!.page_count);
    await sql.raw(`pragma max_page_count = ${pages + 4}`).execute(store.db);
    const fill = () =>
      store.db.transaction().execute(async (trx) => {
        await sql`create table if not exists filler (b blob)`.execute(trx);
        for (let i = 0; i < 20; i++) await sql`insert into filler values (randomblob(100000))`.execute(trx);
      });
    await assert.rejects(fill(), /database or disk is full/);
    await sql.raw("pragma max_page_count = 1073741823").execute(store.db);
    await fill();
    assert.equal(Number((await sql<{ n: number }>`select count(*) as n from filler`.execute(store.db)).rows[0]!.n), 20);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
