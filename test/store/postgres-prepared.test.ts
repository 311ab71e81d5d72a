/**
 * Named prepared statements on PostgreSQL (src/store/postgres-prepared.ts): repeated data
 * statements are parsed once per connection, one-off and non-data statements never are, the
 * number named is capped, nothing is named before enable(), and a statement whose table changed
 * under it (another node migrating) falls back to an unnamed one instead of failing. Checked
 * against the server's own list of the connection's prepared statements (pg_prepared_statements).
 */
import { describe, it, after, before } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import pg from "pg";
import { CompiledQuery, Kysely, PostgresDialect, sql } from "kysely";
import { dropPostgresSchema } from "../../src/store/database.ts";
import { PreparedStatementPool, type PreparedStatementOptions } from "../../src/store/postgres-prepared.ts";

const url = process.env.DATABASE_URL;

interface Tables {
  items: { id: number; label: string };
}

describe("PostgreSQL: named prepared statements for repeated queries", { skip: url ? false : "DATABASE_URL not set" }, () => {
  const schema = `t_${randomBytes(6).toString("hex")}`;
  const opened: Kysely<Tables>[] = [];

  before(async () => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query(`create schema ${schema}`);
    await client.query(`create table ${schema}.items (id int primary key, label text not null)`);
    await client.query(`insert into ${schema}.items values (1, 'one'), (2, 'two'), (3, 'three')`);
    await client.end();
  });
  after(async () => {
    for (const db of opened) await db.destroy();
    await dropPostgresSchema(url!, schema);
  });

  /** A kysely over one connection (max 1), so every query below runs on the same server session. */
  function open(options: PreparedStatementOptions = {}, enable = true) {
    const pool = new PreparedStatementPool(new pg.Pool({ connectionString: url, max: 1, options: `-c search_path=${schema}` }), options);
    if (enable) pool.enable();
    const db = new Kysely<Tables>({ dialect: new PostgresDialect({ pool }) });
    opened.push(db);
    return { pool, db };
  }

  /** The connection's named statements (this inspection's own text left out: it may be named too). */
  async function preparedOnConnection(db: Kysely<Tables>): Promise<{ name: string; statement: string }[]> {
    const { rows } = await db.executeQuery<{ name: string; statement: string }>(
      CompiledQuery.raw("select name, statement from pg_prepared_statements where name like 'ojpki_%' and statement not like '%pg_prepared_statements%' order by name"),
    );
    return rows;
  }

  const byId = (db: Kysely<Tables>, id: number) => db.selectFrom("items").select(["id", "label"]).where("id", "=", id).executeTakeFirst();

  it("names a data statement on its third use, then runs it by name with the right answers", async () => {
    const { pool, db } = open();
    assert.deepEqual(await byId(db, 1), { id: 1, label: "one" });
    assert.deepEqual(await byId(db, 2), { id: 2, label: "two" });
    assert.deepEqual(await preparedOnConnection(db), [], "not after two uses");
    assert.deepEqual(await byId(db, 3), { id: 3, label: "three" });
    assert.deepEqual(await byId(db, 9), undefined);
    assert.deepEqual(await byId(db, 2), { id: 2, label: "two" });
    const prepared = await preparedOnConnection(db);
    assert.equal(prepared.length, 1);
    assert.match(prepared[0]!.statement, /^select "id", "label" from "items" where "id" = \$1$/);
    assert.equal(pool.namedCount, 1);
  });

  it("never names transaction control or schema statements, and nothing before enable()", async () => {
    const { pool, db } = open({}, false);
    for (let i = 0; i < 4; i++) await byId(db, 1);
    assert.equal(pool.namedCount, 0, "before enable()");
    pool.enable();
    for (let i = 0; i < 4; i++) {
      await db.transaction().execute(async (trx) => void (await sql`create temporary table if not exists scratch (x int)`.execute(trx)));
    }
    assert.deepEqual(await preparedOnConnection(db), [], "begin, commit and DDL stay unnamed");
  });

  it("names at most maxNamed texts", async () => {
    const { pool, db } = open({ maxNamed: 2, repeatsBeforeNaming: 1 });
    for (let id = 1; id <= 3; id++) {
      await db.selectFrom("items").select("label").where("id", "=", id).where("label", "<>", `x${"y".repeat(id)}`).execute();
      await db.selectFrom("items").select("label").where("id", "=", id).where("label", "<>", "z").limit(id).execute();
    }
    assert.equal(pool.namedCount, 2);
    assert.equal((await preparedOnConnection(db)).length, 2);
  });

  it("a named statement whose table changed runs unnamed instead of failing", async () => {
    const { db } = open({ repeatsBeforeNaming: 1 });
    const all = () => db.selectFrom("items").selectAll().where("id", "=", 1).executeTakeFirstOrThrow();
    assert.deepEqual(await all(), { id: 1, label: "one" });
    assert.equal((await preparedOnConnection(db)).length, 1);
    // Another session changes the table (a migration on another node): the prepared plan's result
    // type no longer matches, which PostgreSQL refuses with SQLSTATE 0A000.
    const other = new pg.Client({ connectionString: url });
    await other.connect();
    try {
      await other.query(`alter table ${schema}.items add column note text`);
    } finally {
      await other.end();
    }
    assert.deepEqual(await all(), { id: 1, label: "one", note: null });
    assert.deepEqual(await all(), { id: 1, label: "one", note: null }, "and again");
  });
});
