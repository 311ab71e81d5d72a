/**
 * On PostgreSQL a schema drop and a migration never overlap (src/store/database.ts): kysely's
 * migrator lists every schema's tables, and a schema dropped under that query failed a parallel
 * test file's migration in CI. Migrations take the advisory lock shared, drops exclusively. The
 * test holds the lock itself and checks that the other side waits for it; no timings, only the
 * server's own view of who is waiting (pg_locks).
 */
import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { dropPostgresSchema, openStore, SCHEMA_CHANGE_LOCK as LOCK } from "../../src/store/database.ts";

const url = process.env.DATABASE_URL;

/** Resolves once a session other than `holder` waits for the advisory lock. */
async function someoneWaits(holder: pg.Client): Promise<boolean> {
  for (let i = 0; i < 500; i++) {
    const { rows } = await holder.query(
      "select count(*)::int as n from pg_locks where locktype = 'advisory' and objid = $1 and not granted and pid <> pg_backend_pid()",
      [LOCK],
    );
    if (rows[0].n > 0) return true;
    await sleep(20);
  }
  return false;
}

async function settledYet(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  void promise.then(() => (settled = true), () => (settled = true));
  await sleep(50);
  return settled;
}

describe("PostgreSQL: schema drops and migrations do not overlap", { skip: url ? false : "DATABASE_URL not set" }, () => {
  const schemas: string[] = [];
  const newSchema = () => {
    const name = `t_${randomBytes(6).toString("hex")}`;
    schemas.push(name);
    return name;
  };
  after(async () => {
    for (const schema of schemas) await dropPostgresSchema(url!, schema);
  });

  it("a migration waits while a drop holds the lock", async () => {
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    try {
      await holder.query("select pg_advisory_lock($1)", [LOCK]);
      const opening = openStore({ postgresUrl: url!, postgresSchema: newSchema() });
      assert.ok(await someoneWaits(holder), "the migration asked for the lock");
      assert.equal(await settledYet(opening), false, "and did not run while the drop held it");
      await holder.query("select pg_advisory_unlock($1)", [LOCK]);
      const store = await opening;
      await store.close();
    } finally {
      await holder.end();
    }
  });

  it("a drop waits while a migration holds the lock, and migrations share it", async () => {
    const schema = newSchema();
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    try {
      await holder.query("select pg_advisory_lock_shared($1)", [LOCK]);
      // Another migration is not held up by this shared holder.
      const store = await openStore({ postgresUrl: url!, postgresSchema: schema });
      await store.close();
      const dropping = dropPostgresSchema(url!, schema);
      assert.ok(await someoneWaits(holder), "the drop asked for the lock");
      assert.equal(await settledYet(dropping), false, "and did not run while a migration held it");
      await holder.query("select pg_advisory_unlock_shared($1)", [LOCK]);
      await dropping;
      const { rows } = await holder.query("select count(*)::int as n from pg_namespace where nspname = $1", [schema]);
      assert.equal(rows[0].n, 0, "then the schema is gone");
    } finally {
      await holder.end();
    }
  });
});
