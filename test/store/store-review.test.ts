// Review cases for the store: migration bookkeeping across binaries and clocks, file modes of the
// SQLite store, foreign keys through partitioning, the resident list's bounds.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, statSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { sql } from "kysely";
import SQLite from "better-sqlite3";
import pg from "pg";
import { openStore, dropPostgresSchema, holdingSchemaLock, NewerStoreSchema } from "../../src/store/database.ts";
import { migrationProvider } from "../../src/store/migrations.ts";
import { partitionStore } from "../../src/store/partitioning.ts";
import { Context } from "../../src/services/context.ts";
import { ServiceError } from "../../src/services/errors.ts";
import { appendAudit, CLI_OPERATOR } from "../../src/services/audit.ts";
import { cli } from "../helpers/cli.ts";
import { backends, openTestContext, TEST_PASSPHRASE, type Backend } from "../helpers/context.ts";

const url = process.env.DATABASE_URL;

/** A store of the backend, opened (and closed, and removed) around `work`; `reopen` opens it again. */
async function withStore(
  backend: Backend,
  work: (reopen: () => ReturnType<typeof openStore>, raw: (statement: string) => Promise<void>) => Promise<void>,
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "openjpki-review-"));
  const schema = `t_${randomBytes(6).toString("hex")}`;
  const sqlitePath = join(dir, "openjpki.sqlite");
  const options = backend === "postgres" ? { postgresUrl: url!, postgresSchema: schema } : { sqlitePath };
  // A statement run on the store without opening it as a store (no migrations).
  const raw = async (statement: string) => {
    if (backend === "sqlite") {
      const database = new SQLite(sqlitePath);
      database.exec(statement);
      database.close();
      return;
    }
    const client = new pg.Client({ connectionString: url, options: `-c search_path=${schema}` });
    await client.connect();
    await client.query(statement).finally(() => client.end());
  };
  try {
    await work(() => openStore(options), raw);
  } finally {
    if (backend === "postgres") await dropPostgresSchema(url!, schema);
    rmSync(dir, { recursive: true, force: true });
  }
}

const lastKnownMigration = async () => Object.keys(await migrationProvider("sqlite").getMigrations()).sort().at(-1)!;

for (const backend of backends()) {
  describe(`migration records on ${backend}`, () => {
    test("a store whose last migration was recorded by a node with a clock behind the others still opens", async () => {
      await withStore(backend, async (reopen) => {
        const first = await reopen();
        // As if the newest migration had been run by another node (or after the clock was set
        // back): its record carries an earlier time than the ones before it.
        const last = await lastKnownMigration();
        await sql`update kysely_migration set timestamp = '2000-01-01T00:00:00.000Z' where name = ${last}`.execute(first.db);
        await first.close();
        const again = await reopen();
        await again.close();
      });
    });

    test("a store upgraded by a newer version is refused, naming it, and left as it is", async () => {
      await withStore(backend, async (reopen, raw) => {
        const first = await reopen();
        await sql`insert into kysely_migration (name, timestamp) values ('9999-from-the-future', '2030-01-01T00:00:00.000Z')`.execute(first.db);
        await first.close();
        const last = await lastKnownMigration();
        await assert.rejects(reopen(), (error: unknown) => {
          assert.ok(error instanceof NewerStoreSchema, String(error));
          assert.match(error.message, /新しい版/);
          assert.match(error.message, /newer version of OpenJPKI/);
          assert.match(error.message, /9999-from-the-future/);
          assert.ok(error.message.includes(last), error.message);
          assert.doesNotMatch(error.message, /corrupted/);
          return true;
        });
        // Nothing was changed: without the newer version's record, this version opens it as before.
        await raw("delete from kysely_migration where name = '9999-from-the-future'");
        await (await reopen()).close();
      });
    });
  });
}

describe("PostgreSQL store in a schema the connection string does not name alone", { skip: url ? false : "DATABASE_URL not set" }, () => {
  test("opens beside another schema's migration tables (search_path=mine,public)", async () => {
    const mine = `t_${randomBytes(6).toString("hex")}`;
    const other = `t_${randomBytes(6).toString("hex")}`;
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      await admin.query(`create schema ${mine}`);
      // Another application's (or another OpenJPKI store's) kysely tables in the same database.
      await admin.query(`create schema ${other}`);
      await admin.query(`create table ${other}.kysely_migration (name varchar(255) primary key, timestamp varchar(255) not null)`);
      await admin.query(`create table ${other}.kysely_migration_lock (id varchar(255) primary key, is_locked integer not null default 0)`);
      const withPath = new URL(url!);
      withPath.searchParams.set("options", `-c search_path=${mine},public`);
      const store = await openStore({ postgresUrl: withPath.toString() });
      try {
        const made = await admin.query(`select count(*)::int as n from ${mine}.kysely_migration`);
        assert.ok(made.rows[0].n > 0, "the store's migrations are recorded in its own schema");
        const untouched = await admin.query(`select count(*)::int as n from ${other}.kysely_migration`);
        assert.equal(untouched.rows[0].n, 0);
      } finally {
        await store.close();
      }
    } finally {
      await dropPostgresSchema(url!, mine);
      await dropPostgresSchema(url!, other);
      await admin.end();
    }
  });
});

describe("PostgreSQL store named in the connection string with capitals", { skip: url ? false : "DATABASE_URL not set" }, () => {
  test("keeps its migration records in the schema PostgreSQL folds the name to, not in a second, quoted one", async () => {
    const hex = randomBytes(6).toString("hex");
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      await admin.query(`create schema r_${hex}`);
      const withPath = new URL(url!);
      withPath.searchParams.set("options", `-c search_path=R_${hex}`);
      const store = await openStore({ postgresUrl: withPath.toString() });
      await store.close();
      const schemas = await admin.query(`select nspname from pg_namespace where lower(nspname) = $1 order by nspname`, [`r_${hex}`]);
      assert.deepEqual(schemas.rows.map((r) => r.nspname), [`r_${hex}`]);
      const recorded = await admin.query(`select count(*)::int as n from r_${hex}.kysely_migration`);
      assert.ok(recorded.rows[0].n > 0);
    } finally {
      await holdingSchemaLock(url!, "exclusive", (client) => client.query(`drop schema if exists "R_${hex}" cascade; drop schema if exists r_${hex} cascade`));
      await admin.end();
    }
  });
});

describe("a newer store through Context.open", () => {
  test("is a ServiceError (said without a stack trace), not a 'corrupted migrations' crash", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "openjpki-review-"));
    try {
      const store = await openStore({ sqlitePath: join(dataDir, "openjpki.sqlite") });
      await sql`insert into kysely_migration (name, timestamp) values ('9999-from-the-future', '2030-01-01T00:00:00.000Z')`.execute(store.db);
      await store.close();
      await assert.rejects(
        Context.open({ dataDir, env: { OPENJPKI_CA_PASSPHRASE: TEST_PASSPHRASE } }),
        (error: unknown) => error instanceof ServiceError && error.code === "refused" && /9999-from-the-future/.test(error.message),
      );
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

for (const backend of backends()) {
  describe(`a migration that fails, through Context.open on ${backend}`, () => {
    test("is a ServiceError naming the migration and why, and the store is left as it was", async () => {
      const dataDir = mkdtempSync(join(tmpdir(), "openjpki-review-"));
      const schema = `t_${randomBytes(6).toString("hex")}`;
      // Another application's table where the first migration makes one of the same name.
      const inTheWay = "create table authorities (id integer primary key, note text)";
      const admin = backend === "postgres" ? new pg.Client({ connectionString: url }) : undefined;
      try {
        if (admin) {
          await admin.connect();
          await admin.query(`create schema ${schema}; set search_path = ${schema}; ${inTheWay}`);
        } else {
          const database = new SQLite(join(dataDir, "openjpki.sqlite"));
          database.exec(inTheWay);
          database.close();
        }
        await assert.rejects(
          Context.open({ dataDir, env: { OPENJPKI_CA_PASSPHRASE: TEST_PASSPHRASE }, ...(admin ? { databaseUrl: url!, databaseSchema: schema } : {}) }),
          (error: unknown) => {
            assert.ok(error instanceof ServiceError, String((error as Error).stack));
            assert.equal(error.code, "service-unavailable");
            assert.match(error.message, /データベースの移行 0001-foundation に失敗しました/);
            assert.match(error.message, /database migration 0001-foundation failed \(the store was left as it was\): .*already exists/);
            return true;
          },
        );
        // Left as it was: no migration recorded, the table in the way untouched.
        if (admin) {
          const tables = await admin.query(`select table_name from information_schema.tables where table_schema = $1 and table_name not like 'kysely%' order by 1`, [schema]);
          assert.deepEqual(tables.rows.map((r) => r.table_name), ["authorities"]);
          assert.equal((await admin.query("select count(*)::int as n from kysely_migration")).rows[0].n, 0);
        } else {
          const database = new SQLite(join(dataDir, "openjpki.sqlite"), { readonly: true });
          const tables = database.prepare("select name from sqlite_master where type = 'table' and name not like 'kysely%' order by 1").pluck().all();
          assert.deepEqual(tables, ["authorities"]);
          assert.equal(database.prepare("select count(*) from kysely_migration").pluck().get(), 0);
          database.close();
        }
      } finally {
        await admin?.end();
        if (admin) await dropPostgresSchema(url!, schema);
        rmSync(dataDir, { recursive: true, force: true });
      }
    });
  });
}

describe("standby settings that cannot work", () => {
  test("are said in one line by the CLI (a ServiceError), not as a crash with a stack trace", async () => {
    const data = mkdtempSync(join(tmpdir(), "openjpki-review-"));
    const env = { OPENJPKI_CA_PASSPHRASE: TEST_PASSPHRASE };
    try {
      const cases: [NodeJS.ProcessEnv, RegExp][] = [
        [{ OPENJPKI_DATABASE_REPLICA_URL: "postgresql://127.0.0.1:1/x", OPENJPKI_DATABASE_REPLICA_MAX_LAG_MS: "fast" }, /MAX_LAG_MS must be a whole number of milliseconds, not "fast"/],
        [{ OPENJPKI_DATABASE_REPLICA_URL: "postgresql://127.0.0.1:1/x", OPENJPKI_DATABASE_REPLICA_MAX_LAG_MS: "5" }, /from 50 to 60000, not 5/],
        [{ OPENJPKI_DATABASE_REPLICA_MAX_LAG_MS: "100" }, /MAX_LAG_MS is set without OPENJPKI_DATABASE_REPLICA_URL/],
        [{ OPENJPKI_DATABASE_REPLICA_URL: "postgresql://127.0.0.1:1/x" }, /needs the PostgreSQL primary too \(OPENJPKI_DATABASE_URL\)/],
      ];
      for (const [extra, message] of cases) {
        const result = await cli(["init", "--data", data], { ...env, ...extra });
        assert.equal(result.code, 1, result.stderr);
        assert.match(result.stderr, message);
        assert.doesNotMatch(result.stderr, /\n\s+at /, "no stack trace");
        assert.match(result.stderr, /[ぁ-んァ-ヶ一-龠]/, "said in Japanese too");
      }
    } finally {
      rmSync(data, { recursive: true, force: true });
    }
  });

  test("a standby URL that is not a PostgreSQL URL, with a PostgreSQL primary, is a ServiceError naming it", { skip: url ? false : "DATABASE_URL not set" }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "openjpki-review-"));
    const schema = `t_${randomBytes(6).toString("hex")}`;
    try {
      await assert.rejects(
        Context.open({ dataDir, databaseUrl: url!, databaseSchema: schema, env: { OPENJPKI_CA_PASSPHRASE: TEST_PASSPHRASE, OPENJPKI_DATABASE_REPLICA_URL: "host=127.0.0.1 dbname=x" } }),
        (error: unknown) => error instanceof ServiceError && error.field === "OPENJPKI_DATABASE_REPLICA_URL" && /must be a postgres:\/\/ or postgresql:\/\/ URL/.test(error.message),
      );
    } finally {
      await dropPostgresSchema(url!, schema);
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe("SQLite store file modes", () => {
  const modeOf = (path: string) => statSync(path).mode & 0o777;

  test("a new store and its WAL files are readable by the owner only, whatever the umask and the directory", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "openjpki-review-"));
    const old = process.umask(0o022);
    try {
      // A data directory made beforehand by someone else (a package, an operator) with the usual mode.
      chmodSync(dataDir, 0o755);
      const t = await openTestContext("sqlite", { dataDir });
      try {
        for (const file of ["openjpki.sqlite", "openjpki.sqlite-wal", "openjpki.sqlite-shm"]) {
          assert.equal(modeOf(join(dataDir, file)).toString(8), "600", file);
        }
      } finally {
        await t.context.close();
      }
    } finally {
      process.umask(old);
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test("an existing store readable by others (made by an earlier version) is closed to them when opened", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "openjpki-review-"));
    const path = join(dataDir, "store", "openjpki.sqlite");
    try {
      mkdirSync(join(dataDir, "store"));
      const first = await openStore({ sqlitePath: path });
      await first.close();
      chmodSync(path, 0o644);
      const again = await openStore({ sqlitePath: path });
      try {
        assert.equal(modeOf(path).toString(8), "600");
        assert.equal(modeOf(`${path}-wal`).toString(8), "600");
      } finally {
        await again.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe("PostgreSQL partitioning", { skip: url ? false : "DATABASE_URL not set" }, () => {
  test("keeps the certificates' foreign keys (to their authority and their resident)", async () => {
    const t = await openTestContext("postgres");
    try {
      const db = t.context.store.db;
      const foreignKeys = async () =>
        (
          await sql<{ conname: string; def: string }>`
            select conname, pg_get_constraintdef(oid) as def from pg_constraint
             where connamespace = current_schema()::regnamespace and contype = 'f' and conrelid = 'certificates'::regclass
             order by conname`.execute(db)
        ).rows;
      const before = await foreignKeys();
      assert.equal(before.length, 2);
      await partitionStore(db, "postgres", { hashPartitions: 2 });
      assert.deepEqual(await foreignKeys(), before);
      // And they hold: a certificate of a resident who does not exist is refused.
      const authority = await db.selectFrom("authorities").select("id").where("ca_type", "=", "auth").executeTakeFirstOrThrow();
      await assert.rejects(
        db
          .insertInto("certificates")
          .values({
            ca_type: "auth", serial_hex: "0A", authority_id: authority.id, resident_id: "R-nobody", card_id: null, subject_cn: "nobody",
            municipality_code: "132098", not_before: "2026-01-01T00:00:00Z", not_after: "2031-01-01T00:00:00Z", expires: "2031-01-01",
            issued_at: "2026-01-01T00:00:00Z", status: "valid", revoked_at: null, revocation_reason: null, invalidity_date: null, revoked_by: null,
          } as never)
          .execute(),
        (e: { code?: string }) => e.code === "23503",
      );
    } finally {
      await t.cleanup();
    }
  });
});

for (const backend of backends()) {
  describe(`verifier lookup counts on ${backend}`, () => {
    test("count past 2^31 in a month (a busy relying party) and are reported exactly", async () => {
      const t = await openTestContext(backend, { now: "2026-11-25T03:00:00Z" });
      try {
        const verifier = await t.context.verifiers.add("全国プラットフォーム");
        await t.context.verifiers.count(verifier.id, "auth", "ocsp", 1);
        await t.context.store.db.updateTable("verifier_lookups").set({ count: 2_147_483_640 }).where("verifier_id", "=", verifier.id).execute();
        await t.context.verifiers.count(verifier.id, "auth", "ocsp", 100);
        const [row] = await t.context.verifiers.report("2026-11");
        assert.equal(row?.lookups, 2_147_483_740);
      } finally {
        await t.cleanup();
      }
    });

    test("audit sequence numbers pass 2^31 (a national register's lifetime of audited writes): audited writes go on", async () => {
      const t = await openTestContext(backend, { now: "2026-11-25T03:00:00Z" });
      try {
        const db = t.context.store.db;
        // Start the chain just below 2^31: the head says so many records were written before.
        await db.deleteFrom("audit_log").execute();
        await db.deleteFrom("audit_head").execute();
        await db.insertInto("audit_head").values({ id: 1, seq: 2_147_483_646, hash: "0".repeat(64) }).execute();
        const first = await appendAudit(db, CLI_OPERATOR, { action: "test.big", subject: "a" }, new Date("2026-11-25T03:00:00Z"));
        const second = await appendAudit(db, CLI_OPERATOR, { action: "test.big", subject: "b" }, new Date("2026-11-25T03:00:01Z"));
        assert.deepEqual([first, second], [2_147_483_647, 2_147_483_648]);
        const rows = await db.selectFrom("audit_log").select("seq").orderBy("seq").execute();
        assert.deepEqual(rows.map((r) => Number(r.seq)), [2_147_483_647, 2_147_483_648]);
      } finally {
        await t.cleanup();
      }
    });
  });
}

describe("the resident list", () => {
  test("past its limit it holds the newest residents (oldest first), not the oldest ones; a bad limit is refused", async () => {
    let tick = Date.parse("2026-04-01T00:00:00Z");
    const t = await openTestContext("sqlite", { clock: () => new Date((tick += 1000)) });
    try {
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const r = await t.context.registry.add({ name: `町田 ${"一二三四五"[i]}郎`, birth: "1980-05-05", gender: "1", address: "東京都町田市森野２－２－２２", municipality: "132098" });
        ids.push(r.id);
      }
      assert.deepEqual((await t.context.registry.list({ limit: 3 })).map((r) => r.id), ids.slice(2));
      assert.deepEqual((await t.context.registry.list()).map((r) => r.id), ids);
      for (const limit of [0, -1, 1.5, Number.NaN]) {
        await assert.rejects(t.context.registry.list({ limit }), (e: unknown) => e instanceof ServiceError && e.code === "invalid-input", String(limit));
      }
    } finally {
      await t.cleanup();
    }
  });
});
