// SQLite migrations are atomic: each run of migrations commits with kysely's record of them, or
// not at all. A process killed in the middle of one (a `kill -9`, a power cut) leaves the store as
// it was before, and the next open finishes the job; processes opening a new store at the same
// time take turns instead of failing on each other's half-made tables.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { Kysely, Migrator, SqliteDialect } from "kysely";
import { openStore, type SqliteLockWaits } from "../../src/store/database.ts";
import { migrationProvider, type MigrationEncoders } from "../../src/store/migrations.ts";

const OPEN_STORE_PROCESS = fileURLToPath(new URL("./fixtures/open-store-process.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** The same bytes as the child process's encoder (any bytes do). */
const ENCODERS: MigrationEncoders = { crlEntry: ({ serialHex }) => new Uint8Array(Buffer.from(`30${serialHex}`, "hex")) };

const ALL_MIGRATIONS = Object.keys(await migrationProvider("sqlite").getMigrations()).sort();

interface HaltAt {
  /** A regular expression for the statement's SQL. */
  sql: string;
  /** Its first parameter. */
  param?: string;
  /** Which matching statement (1 = the first). */
  nth?: number;
}

interface Child {
  /** Resolves once the process has loaded everything and waits for `go`. */
  ready: Promise<void>;
  /** Start opening the store. */
  go(): void;
  /** Resolves when the process has stopped at its halt point. */
  halted: Promise<void>;
  /** Resolves with the first line the store said for the operator (StoreOptions.log). */
  logged: Promise<string>;
  kill(): void;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }>;
}

interface ChildOptions {
  haltAt?: HaltAt;
  lockWaits?: SqliteLockWaits;
}

/** A process that opens the store at `path` when told to (test/store/fixtures/open-store-process.ts). */
function openInOtherProcess(path: string, { haltAt, lockWaits }: ChildOptions = {}): Child {
  const child = spawn(process.execPath, ["--import", "tsx", OPEN_STORE_PROCESS, path], {
    cwd: ROOT,
    env: {
      ...process.env,
      ...(haltAt ? { OPENJPKI_TEST_HALT_AT: JSON.stringify(haltAt) } : {}),
      ...(lockWaits ? { OPENJPKI_TEST_SQLITE_LOCK_WAITS: JSON.stringify(lockWaits) } : {}),
    },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let output = "";
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const lines = createInterface({ input: child.stdout });
  lines.on("line", (line) => (output += `${line}\n`));
  const seen = (wanted: (line: string) => boolean, what: string) =>
    new Promise<string>((resolve, reject) => {
      lines.on("line", (line) => {
        if (wanted(line)) resolve(line);
      });
      child.on("exit", () => reject(new Error(`the process ended before ${what}: ${output}`)));
    });
  const ready = seen((line) => line === "ready", '"ready"').then(() => undefined);
  const halted = seen((line) => line === "halted", '"halted"').then(() => undefined);
  halted.catch(() => {}); // awaited only by the tests that halt
  const logged = seen((line) => line.startsWith("log "), "a log line").then((line) => line.slice("log ".length));
  logged.catch(() => {}); // awaited only by the tests that wait for another process
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, output }));
  });
  return { ready, go: () => child.stdin.end("go\n"), halted, logged, kill: () => child.kill("SIGKILL"), done };
}

/** Start a process opening `path` and stop it at `haltAt`, mid-migration, holding the write lock. */
async function haltedAt(path: string, haltAt: HaltAt): Promise<Child> {
  const child = openInOtherProcess(path, { haltAt });
  await child.ready;
  child.go();
  await child.halted;
  return child;
}

/** Kill a process as a crash or a `kill -9` would. */
async function kill(child: Child): Promise<void> {
  child.kill();
  const { signal, output } = await child.done;
  assert.equal(signal, "SIGKILL", output);
}

/** Start a process opening `path`, stop it at `haltAt` and kill it there. */
async function killedAt(path: string, haltAt: HaltAt): Promise<void> {
  await kill(await haltedAt(path, haltAt));
}

/** The migrations kysely has recorded as done, read without migrating anything. */
function recordedMigrations(path: string): string[] {
  const db = new Database(path, { readonly: true });
  try {
    const table = db.prepare("select name from sqlite_master where type = 'table' and name = 'kysely_migration'").get();
    if (!table) return [];
    return (db.prepare("select name from kysely_migration order by name").all() as { name: string }[]).map((r) => r.name);
  } finally {
    db.close();
  }
}

function tables(path: string): string[] {
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare("select name from sqlite_master where type = 'table' and name not like 'kysely%' order by name").all() as { name: string }[]).map((r) => r.name);
  } finally {
    db.close();
  }
}

/** Open the store here (which migrates it); it must reach the latest migration. */
async function reopens(path: string): Promise<void> {
  const store = await openStore({ sqlitePath: path, encoders: ENCODERS });
  await store.close();
  assert.deepEqual(recordedMigrations(path), ALL_MIGRATIONS);
}

function withDir(body: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), "openjpki-migrate-"));
    try {
      await body(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

// Each test has a store of its own; run together, they take the time of the slowest.
describe("SQLite migrations killed midway", { concurrency: true }, () => {
  test(
    "killed in 0001 (a first `init`), between two of its tables: nothing is left, and the next open makes the store",
    withDir(async (dir) => {
      const path = join(dir, "s.sqlite");
      await killedAt(path, { sql: '^create table "municipalities"' });
      assert.deepEqual(recordedMigrations(path), []);
      assert.deepEqual(tables(path), [], "no table of the half-run migration is left");
      await reopens(path);
    }),
  );

  test(
    "killed after 0016's change and before kysely recorded it: both are undone, and the next open redoes them",
    withDir(async (dir) => {
      const path = join(dir, "s.sqlite");
      await killedAt(path, { sql: '^insert into "kysely_migration"', param: "0016-certificate-der" });
      assert.ok(!tables(path).includes("certificate_der"), "0016's table is gone with its unrecorded run");
      await reopens(path);
    }),
  );

  test(
    "killed in 0014's backfill of a store with many revocations: the store stays at 0013, and the next open backfills them all",
    withDir(async (dir) => {
      const path = join(dir, "s.sqlite");
      const revoked = 12_000; // more than two of the backfill's 5,000-row pages
      await storeAt0013WithRevocations(path, revoked);
      // The third batch of entries: the table, its index and two batches are written by then.
      await killedAt(path, { sql: '^insert into "crl_entries"', nth: 3 });
      assert.equal(recordedMigrations(path).at(-1), "0013-issuance-clients");
      assert.ok(!tables(path).includes("crl_entries"), "the half-filled table is gone");
      await reopens(path);
      const db = new Database(path, { readonly: true });
      try {
        assert.equal((db.prepare("select count(*) as n from crl_entries").get() as { n: number }).n, revoked);
        assert.equal((db.prepare("select count(*) as n from certificate_der").get() as { n: number }).n, revoked);
        const one = db.prepare("select entry from crl_entries where serial_hex = ?").get(serial(7)) as { entry: Buffer };
        assert.deepEqual(new Uint8Array(one.entry), ENCODERS.crlEntry({ serialHex: serial(7), revokedAt: "", reason: "", invalidityDate: null }));
      } finally {
        db.close();
      }
    }),
  );
});

describe("SQLite stores opened by several processes at once", () => {
  test(
    "three processes opening the same new store together all succeed, and it is migrated once",
    withDir(async (dir) => {
      const path = join(dir, "new", "s.sqlite");
      const children = [0, 1, 2].map(() => openInOtherProcess(path));
      await Promise.all(children.map((c) => c.ready));
      for (const child of children) child.go();
      const results = await Promise.all(children.map((c) => c.done));
      for (const result of results) assert.equal(result.code, 0, result.output);
      assert.deepEqual(recordedMigrations(path), ALL_MIGRATIONS);
      await reopens(path);
    }),
  );
});

// A process upgrading a large store holds the write lock for minutes (all pending migrations are
// one transaction). Another opening the store meanwhile used to fail after the ordinary 5 s wait
// with "database is locked". Here the ordinary wait is shortened to 0.3 s and the upgrade is halted
// mid-way for longer than that, so opening must wait it out as it would wait out a real one.
describe("a SQLite store opened while another process upgrades it", { concurrency: true }, () => {
  const UPGRADING: HaltAt = { sql: '^insert into "crl_entries"' }; // 0014's backfill, mid-way

  test(
    "opening says it waits, waits past the ordinary wait, and succeeds once the upgrading process lets go",
    withDir(async (dir) => {
      const path = join(dir, "s.sqlite");
      await storeAt0013WithRevocations(path, 10);
      const opener = openInOtherProcess(path, { lockWaits: { busyMs: 300, openingMs: 60_000 } }); // loads meanwhile
      const upgrading = await haltedAt(path, UPGRADING);
      try {
        await opener.ready;
        opener.go();
        assert.match(await opener.logged, /^別のプロセスがデータベース .*s\.sqlite を更新中です。終わるまで最長 1 分待ちます \/ another process is upgrading the database .*s\.sqlite; waiting up to 1 minute for it to finish$/);
      } finally {
        await kill(upgrading); // its transaction is rolled back: the lock is free
      }
      const opened = await opener.done;
      assert.equal(opened.code, 0, opened.output);
      assert.deepEqual(recordedMigrations(path), ALL_MIGRATIONS, "the opener did the upgrade the killed process had begun");
    }),
  );

  test(
    "an upgrade that outlasts the opening wait fails the open with what holds the store and what to do",
    withDir(async (dir) => {
      const path = join(dir, "s.sqlite");
      await storeAt0013WithRevocations(path, 10);
      const opener = openInOtherProcess(path, { lockWaits: { busyMs: 200, openingMs: 500 } }); // loads meanwhile
      const upgrading = await haltedAt(path, UPGRADING);
      try {
        await opener.ready;
        opener.go();
        const { code, output } = await opener.done;
        assert.equal(code, 1, output);
        assert.match(output, /別のプロセスがデータベース .* を 0\.5 秒を超えて更新（アップグレード）中のため、開けませんでした/);
        assert.match(output, /another process has held the database .*s\.sqlite for more than 0\.5 s, upgrading it: try again once it has finished\. If it has hung, stop that process/);
        assert.doesNotMatch(output, /database migration/, "not reported as a failed migration: none ran");
      } finally {
        await kill(upgrading);
      }
      await reopens(path);
    }),
  );
});

function serial(i: number): string {
  return i.toString(16).toUpperCase().padStart(32, "0");
}

/** A store migrated up to 0013 (before the CRL entries) holding `count` revoked certificates. */
async function storeAt0013WithRevocations(path: string, count: number): Promise<void> {
  const raw = new Database(path);
  raw.pragma("journal_mode = WAL");
  const db = new Kysely<any>({ dialect: new SqliteDialect({ database: raw }) });
  try {
    const { error } = await new Migrator({ db, provider: migrationProvider("sqlite") }).migrateTo("0013-issuance-clients");
    if (error) throw error;
    raw.exec(`
      insert into authorities values ('sign-1', 'sign', 1, x'30', 'pem', '2035-01-01', '2025-01-01', 1);
      insert into municipalities values ('131016', '東京都', 'Tokyo', '千代田区', 'Chiyoda');
      insert into residents (id, name, name_substitutes, birth, gender, address, address_substitutes, municipality_code, nationality, residence_end, guardianship, status, created_at, updated_at)
        values ('r-1', '日本 花子', '[]', '1990-01-01', 'female', '千代田区', '[]', '131016', 'JP', null, 0, 'resident', '2025-01-01', '2025-01-01');
    `);
    const insert = raw.prepare(`insert into certificates (ca_type, serial_hex, authority_id, resident_id, card_id, subject_cn, municipality_code, not_before, not_after,
      expires, issued_at, der, status, revoked_at, revocation_reason, invalidity_date, revoked_by)
      values ('sign', ?, 'sign-1', 'r-1', null, ?, '131016', '2025-01-01', '2030-01-01', '2030-01-01', '2025-01-01', ?, 'revoked', '2025-06-01T00:00:00Z', 'keyCompromise', null, 'test')`);
    raw.transaction(() => {
      for (let i = 1; i <= count; i++) insert.run(serial(i), `cn-${i}`, Buffer.alloc(64, i & 0xff));
    })();
  } finally {
    await db.destroy();
  }
}
