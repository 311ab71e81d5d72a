// The SQLite connection under kysely: statements are prepared once per SQL text, and
// transactions take the write lock when they begin, so a second process writing to the same
// store makes a transaction wait instead of failing it.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRequire } from "node:module";
import Database from "better-sqlite3";
import { sql } from "kysely";
import { openStore, statementCache } from "../../src/store/database.ts";

const require = createRequire(import.meta.url);

/** A statement cache over a fresh in-memory database, closed afterwards. */
function withStatementCache(body: (cache: ReturnType<typeof statementCache>) => void): void {
  const raw = new Database(":memory:");
  try {
    body(statementCache(raw));
  } finally {
    raw.close();
  }
}

describe("SQLite statement cache", () => {
  test("the same SQL gets the same prepared statement; different SQL, different statements", () =>
    withStatementCache((cache) => {
      const a = cache.prepare("select 1 as one");
      assert.equal(cache.prepare("select 1 as one"), a);
      assert.notEqual(cache.prepare("select 2 as two"), a);
      assert.deepEqual(a.all([]), [{ one: 1 }]);
    }),
  );

  test("a statement still iterating is not handed out again", () =>
    withStatementCache((cache) => {
      const text = "select value from json_each('[1,2,3]')";
      const first = cache.prepare(text);
      const rows = first.iterate([]);
      assert.deepEqual(rows.next().value, { value: 1 });
      const second = cache.prepare(text);
      assert.notEqual(second, first, "the busy statement was handed out twice");
      assert.deepEqual(second.all([]), [{ value: 1 }, { value: 2 }, { value: 3 }]);
      assert.deepEqual([...rows], [{ value: 2 }, { value: 3 }]);
      assert.equal(cache.prepare(text), first, "once done, the cached statement is used again");
    }),
  );

  test("at most 500 statements are kept, the least recently used go first", () =>
    withStatementCache((cache) => {
      const kept = cache.prepare("select 0 as n");
      const dropped = cache.prepare("select -1 as n");
      for (let i = 1; i <= 498; i++) cache.prepare(`select ${i} as n`);
      assert.equal(cache.prepare("select 0 as n"), kept); // used again: now the most recent
      cache.prepare("select 499 as n"); // 501 distinct: the least recently used is dropped
      assert.equal(cache.prepare("select 0 as n"), kept);
      assert.notEqual(cache.prepare("select -1 as n"), dropped);
    }),
  );

  test("a cached SELECT * sees a column added after it was first prepared", async () => {
    const dir = mkdtempSync(join(tmpdir(), "openjpki-stmt-"));
    const store = await openStore({ sqlitePath: join(dir, "s.sqlite") });
    try {
      await sql`create table t (a integer)`.execute(store.db);
      await sql`insert into t (a) values (1)`.execute(store.db);
      const read = () => sql<Record<string, unknown>>`select * from t`.execute(store.db);
      assert.deepEqual((await read()).rows, [{ a: 1 }]);
      await sql`alter table t add column b text default 'x'`.execute(store.db);
      assert.deepEqual((await read()).rows, [{ a: 1, b: "x" }]);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("SQLite transactions take the write lock when they begin", () => {
  test("another process's write waits for a transaction that read first, and both commit", async () => {
    const dir = mkdtempSync(join(tmpdir(), "openjpki-lock-"));
    const path = join(dir, "s.sqlite");
    const store = await openStore({ sqlitePath: path });
    try {
      await sql`create table counter (id integer primary key, n integer not null)`.execute(store.db);
      await sql`insert into counter (id, n) values (1, 0)`.execute(store.db);
      let other: ReturnType<typeof runOtherProcess> | undefined;
      await store.db.transaction().execute(async (trx) => {
        const { rows } = await sql<{ n: number }>`select n from counter where id = 1`.execute(trx);
        // Another process (a CLI command, say) increments the counter while this transaction is open.
        other = runOtherProcess(path, "update counter set n = n + 10 where id = 1");
        await other.ready;
        await new Promise((resolve) => setTimeout(resolve, 200));
        // A deferred transaction would fail here with SQLITE_BUSY (its snapshot is stale);
        // an immediate one holds the lock, so the other process is still waiting.
        await sql`update counter set n = ${rows[0]!.n + 1} where id = 1`.execute(trx);
      });
      const result = await other!.done;
      assert.equal(result.code, 0, result.output);
      const { rows } = await sql<{ n: number }>`select n from counter where id = 1`.execute(store.db);
      assert.equal(rows[0]!.n, 11, "both increments are kept: the other process waited, then read the committed value");
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/**
 * A separate node process writing to the store with better-sqlite3 and a 5 s busy timeout;
 * `ready` once it has opened the store and is about to write.
 */
function runOtherProcess(path: string, statement: string): { ready: Promise<void>; done: Promise<{ code: number | null; output: string }> } {
  const script = `
    const Database = require(${JSON.stringify(require.resolve("better-sqlite3"))});
    const db = new Database(${JSON.stringify(path)});
    db.pragma("busy_timeout = 5000");
    const update = db.prepare(${JSON.stringify(statement)});
    require("node:fs").writeSync(1, "ready\\n");
    update.run();
    db.close();
  `;
  const child = spawn(process.execPath, ["-e", script], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (c: Buffer) => {
      output += c.toString();
      if (output.includes("ready")) resolve();
    });
    child.on("exit", () => reject(new Error(`the other process ended before it was ready: ${output}`)));
  });
  const done = new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    child.stderr.on("data", (c: Buffer) => (output += c.toString()));
    child.on("error", reject);
    child.on("exit", (code) => resolve({ code, output }));
  });
  return { ready, done };
}
