/**
 * Named prepared statements on PostgreSQL (src/store/postgres-prepared.ts): repeated data
 * statements are parsed once per connection; one-off, large and non-data statements never are;
 * the number named is capped; nothing is named before enable() (openStore calls it after its
 * migrations); and a statement that went bad on a connection (its table changed under it, or the
 * server no longer has it) is prepared again under a fresh name instead of failing for good.
 * Checked against the server's own list of the connection's prepared statements.
 */
import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import pg from "pg";
import { CompiledQuery, Kysely, PostgresDialect, sql, type QueryResult } from "kysely";
import { dropPostgresSchema, openStore } from "../../src/store/database.ts";
import { PreparedStatementPool, type PreparedStatementOptions } from "../../src/store/postgres-prepared.ts";

const url = process.env.DATABASE_URL;

interface Tables {
  items: { id: number; label: string; note?: string | null };
}

/** The connection's named statements (this inspection's own text left out: it may be named too). */
async function preparedOnConnection(db: { executeQuery<R>(query: CompiledQuery<R>): Promise<QueryResult<R>> }): Promise<{ name: string; statement: string }[]> {
  const { rows } = await db.executeQuery<{ name: string; statement: string }>(
    CompiledQuery.raw("select name, statement from pg_prepared_statements where name like 'ojpki_%' and statement not like '%pg_prepared_statements%' order by name"),
  );
  return rows;
}

/** Change the table from another session, as a migration on another node would. */
async function elsewhere(statement: string): Promise<void> {
  const other = new pg.Client({ connectionString: url });
  await other.connect();
  try {
    await other.query(statement);
  } finally {
    await other.end();
  }
}

describe("PostgreSQL: named prepared statements for repeated queries", { skip: url ? false : "DATABASE_URL not set" }, () => {
  const schemas: string[] = [];
  const opened: { destroy(): Promise<void> }[] = [];

  /** A fresh schema with a small table. */
  async function newSchema(): Promise<string> {
    const schema = `t_${randomBytes(6).toString("hex")}`;
    schemas.push(schema);
    await elsewhere(
      `create schema ${schema}; create table ${schema}.items (id int primary key, label text not null); insert into ${schema}.items values (1, 'one'), (2, 'two'), (3, 'three')`,
    );
    return schema;
  }

  after(async () => {
    for (const db of opened) await db.destroy();
    for (const schema of schemas) await dropPostgresSchema(url!, schema);
  });

  /** A kysely over one connection (max 1 unless asked), so the queries below share one server session. */
  async function open(options: PreparedStatementOptions = {}, { enable = true, connections = 1 } = {}) {
    const schema = await newSchema();
    const pool = new PreparedStatementPool(new pg.Pool({ connectionString: url, max: connections, options: `-c search_path=${schema}` }), options);
    if (enable) pool.enable();
    const db = new Kysely<Tables>({ dialect: new PostgresDialect({ pool }) });
    opened.push(db);
    return { pool, db, schema };
  }

  const byId = (db: Kysely<Tables>, id: number) => db.selectFrom("items").select(["id", "label"]).where("id", "=", id).executeTakeFirst();

  it("tells of each idle connection the server ends once (the pool's listener and the connection's both hear it)", async () => {
    const lost: string[] = [];
    const { db } = await open({ onConnectionLost: (error) => lost.push(error.message) }, { connections: 3 });
    // Three connections at once, so that the pool keeps three idle, and their server processes.
    const pids = (await Promise.all(Array.from({ length: 3 }, () => db.transaction().execute(async (trx) => (await sql<{ pid: number }>`select pg_backend_pid() as pid, pg_sleep(0.05)`.execute(trx)).rows[0]!.pid)))).sort();
    assert.equal(new Set(pids).size, 3);
    await elsewhere(`select pg_terminate_backend(pid) from pg_stat_activity where pid in (${pids.join(",")})`);
    for (let i = 0; i < 50 && lost.length < 3; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    await new Promise((resolve) => setTimeout(resolve, 100)); // any second report of the same connection would arrive by now
    assert.equal(lost.length, 3, lost.join("\n"));
    assert.match(lost[0]!, /terminating connection due to administrator command/);
  });

  it("names a data statement on its third use, then runs it by name with the right answers", async () => {
    const { pool, db } = await open();
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

  it("names nothing before enable(), and never transaction control or schema statements", async () => {
    const { pool, db } = await open({}, { enable: false });
    for (let i = 0; i < 4; i++) await byId(db, 1);
    assert.equal(pool.namedCount, 0, "before enable()");
    pool.enable();
    for (let i = 0; i < 4; i++) {
      await db.transaction().execute(async (trx) => void (await sql`create temporary table if not exists scratch (x int)`.execute(trx)));
    }
    assert.deepEqual(await preparedOnConnection(db), [], "begin, commit and DDL stay unnamed");
    for (let i = 0; i < 3; i++) await byId(db, 1);
    assert.equal((await preparedOnConnection(db)).length, 1, "and the select is named once enabled");
  });

  it("names at most maxNamed texts, and none with more than maxParameters parameters", async () => {
    const { pool, db } = await open({ maxNamed: 2, repeatsBeforeNaming: 1, maxParameters: 4 });
    const ids = [1, 2, 3, 4, 5];
    await db.selectFrom("items").select("label").where("id", "in", ids).execute(); // 5 parameters: unnamed
    await db.selectFrom("items").select("id").execute();
    await db.selectFrom("items").select("label").execute();
    await db.selectFrom("items").select(["id", "label"]).execute(); // a third text: over the cap
    assert.equal(pool.namedCount, 2);
    const named = (await preparedOnConnection(db)).map((p) => p.statement);
    assert.deepEqual(named, ['select "id" from "items"', 'select "label" from "items"']);
  });

  it("a statement whose table changed is prepared again under a fresh name (outside a transaction: at once)", async () => {
    const { db, schema } = await open({ repeatsBeforeNaming: 1 });
    const first = () => db.selectFrom("items").selectAll().where("id", "=", 1).executeTakeFirstOrThrow();
    assert.deepEqual(await first(), { id: 1, label: "one" });
    await elsewhere(`alter table ${schema}.items add column note text`);
    // Without the fallback PostgreSQL refuses the old plan: "cached plan must not change result type".
    assert.deepEqual(await first(), { id: 1, label: "one", note: null });
    assert.deepEqual(await first(), { id: 1, label: "one", note: null }, "and again");
    assert.deepEqual(
      (await preparedOnConnection(db)).map((p) => p.name),
      ["ojpki_1", "ojpki_1_1"],
    );
  });

  it("inside a transaction the stale statement's error reaches the caller, and the caller's retry works", async () => {
    const { db, schema } = await open({ repeatsBeforeNaming: 1 });
    const inTransaction = () => db.transaction().execute((trx) => trx.selectFrom("items").selectAll().where("id", "=", 2).executeTakeFirstOrThrow());
    assert.deepEqual(await inTransaction(), { id: 2, label: "two" });
    await elsewhere(`alter table ${schema}.items add column note text`);
    // The server aborted the transaction: retrying within it could only fail ("current transaction is aborted").
    await assert.rejects(inTransaction(), (error: { code?: string }) => error.code === "0A000");
    assert.deepEqual(await inTransaction(), { id: 2, label: "two", note: null });
  });

  it("a statement the server no longer has is prepared again instead of failing on every later use", async () => {
    const { db } = await open({ repeatsBeforeNaming: 1 });
    assert.deepEqual(await byId(db, 1), { id: 1, label: "one" });
    await sql`deallocate ojpki_1`.execute(db); // node-postgres still believes it is prepared
    assert.deepEqual(await byId(db, 2), { id: 2, label: "two" });
    assert.deepEqual(await byId(db, 3), { id: 3, label: "three" });
    assert.deepEqual((await preparedOnConnection(db)).map((p) => p.name), ["ojpki_1_1"]);
  });

  it("one name serves every connection of the pool, each preparing it for itself", async () => {
    const { db } = await open({ repeatsBeforeNaming: 1 }, { connections: 2 });
    // Two transactions at once hold both connections; each runs the same text three times.
    const answers = await Promise.all(
      [1, 2].map((id) =>
        db.transaction().execute(async (trx) => {
          const rows = [await byId(trx, id), await byId(trx, id), await byId(trx, 3)];
          return { rows, prepared: (await preparedOnConnection(trx)).map((p) => p.name) };
        }),
      ),
    );
    for (const [i, answer] of answers.entries()) {
      assert.deepEqual(answer.rows, [{ id: i + 1, label: i === 0 ? "one" : "two" }, { id: i + 1, label: i === 0 ? "one" : "two" }, { id: 3, label: "three" }]);
      assert.deepEqual(answer.prepared, ["ojpki_1"]);
    }
  });

  it("openStore names repeated statements once its migrations have run", async () => {
    const schema = `t_${randomBytes(6).toString("hex")}`;
    schemas.push(schema);
    const store = await openStore({ postgresUrl: url!, postgresSchema: schema });
    opened.push({ destroy: () => store.close() });
    const prepared = await store.db.transaction().execute(async (trx) => {
      for (let i = 0; i < 3; i++) await trx.selectFrom("residents").select("id").where("id", "=", `R-${i}`).execute();
      return preparedOnConnection(trx);
    });
    assert.deepEqual(prepared.map((p) => p.statement), ['select "id" from "residents" where "id" = $1']);
  });

  it("the store's fast paths (OCSP status, revocation versions) are named too, and survive their tables changing", async () => {
    const schema = `t_${randomBytes(6).toString("hex")}`;
    schemas.push(schema);
    const store = await openStore({ postgresUrl: url!, postgresSchema: schema });
    opened.push({ destroy: () => store.close() });
    const versions = async () => (await store.revocationVersions()).map((r) => [r.ca_type, Number(r.version)]).sort();
    const before = await versions();
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(await versions(), before);
      assert.equal(await store.certificateStatus("sign", "00"), undefined);
    }
    // pg_prepared_statements lists the asking session's own statements: the reads above ran one
    // after the other, so the pool handed them all the one idle connection this query gets too.
    const named = await preparedOnConnection(store.db);
    assert.ok(named.some((r) => r.statement === "select ca_type, version from revocation_versions"), "the versions read is named");
    assert.ok(named.some((r) => r.statement.includes("from certificates where ca_type = $1")), "the status read is named");
    // Another node's migration changes both tables' result types: a statement prepared by a
    // fixed name would now fail on every call ("cached plan must not change result type").
    await elsewhere(`alter table ${schema}.revocation_versions alter column version type numeric; alter table ${schema}.certificates alter column revocation_reason type varchar(64)`);
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(await versions(), before);
      assert.equal(await store.certificateStatus("sign", "00"), undefined);
    }
    // Recovered by preparing again under a fresh name, not by falling back to unnamed statements.
    const renamed = (await preparedOnConnection(store.db)).filter((r) => /^ojpki_\d+_1$/.test(r.name)).map((r) => r.statement);
    assert.ok(renamed.includes("select ca_type, version from revocation_versions"), "the versions read is prepared again under a fresh name");
    assert.ok(renamed.some((s) => s.includes("from certificates where ca_type = $1")), "the status read is prepared again under a fresh name");
  });
});
