import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import pg_ from "pg";
import { cli } from "../helpers/cli.ts";
import { dropPostgresSchema } from "../../src/store/database.ts";
import { TEST_PASSPHRASE } from "../helpers/context.ts";

test("store partition: names what is wrong with the count, and refuses the SQLite store", async () => {
  const data = mkdtempSync(join(tmpdir(), "openjpki-cli-store-"));
  const env = { OPENJPKI_CA_PASSPHRASE: TEST_PASSPHRASE };
  try {
    const bad = await cli(["store", "partition", "--data", data, "--hash-partitions", "many"], env);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--hash-partitions must be a whole number from 1 to 256, not "many"/);
    const zero = await cli(["store", "partition", "--data", data, "--hash-partitions", "0"], env);
    assert.equal(zero.code, 2);
    assert.match(zero.stderr, /from 1 to 256, not "0"/);
    const fresh = join(data, "fresh");
    const sqlite = await cli(["store", "partition", "--data", fresh], env);
    assert.equal(sqlite.code, 2);
    assert.match(sqlite.stderr, /partitioning needs PostgreSQL: set OPENJPKI_DATABASE_URL/);
    assert.equal(existsSync(fresh), false, "refused before a data directory (and its CAs) was made");
  } finally {
    rmSync(data, { recursive: true, force: true });
  }
});

const pg = process.env.DATABASE_URL ? test : test.skip;

pg("store partition on PostgreSQL: partitions the four certificate-keyed tables once, then says there is nothing to do", async () => {
  const data = mkdtempSync(join(tmpdir(), "openjpki-cli-store-"));
  const schema = `cli_part_${randomBytes(5).toString("hex")}`;
  // The store's schema through the connection string, as an operator would point the command at it.
  const url = new URL(process.env.DATABASE_URL!);
  url.searchParams.set("options", `-c search_path=${schema}`);
  const env = { OPENJPKI_CA_PASSPHRASE: TEST_PASSPHRASE, OPENJPKI_DATABASE_URL: url.toString() };
  const admin = new pg_.Client({ connectionString: process.env.DATABASE_URL });
  await admin.connect();
  try {
    await admin.query(`create schema ${schema}`);
    const first = await cli(["store", "partition", "--data", data, "--hash-partitions", "2"], env);
    assert.equal(first.code, 0, first.stderr);
    for (const table of ["certificates", "certificate_der", "crl_entries", "ocsp_responses"]) {
      assert.match(first.stdout, new RegExp(`${table}: 分割しました / partitioned: 4 partitions \\(2 per CA\\), 0 rows moved`));
      // Each step shows on stderr, with the time so far.
      assert.match(first.stderr, new RegExp(`\\[\\d+:\\d{2}\\] ${table}: .*moving .* rows into 4 partitions…`));
      assert.match(first.stderr, new RegExp(`\\[\\d+:\\d{2}\\] ${table}: 0 行を移動、索引を再作成中 / 0 rows moved; rebuilding indexes…`));
      assert.match(first.stderr, new RegExp(`\\[\\d+:\\d{2}\\] ${table}: 完了 / done`));
    }
    const second = await cli(["store", "partition", "--data", data, "--json"], env);
    assert.equal(second.code, 0, second.stderr);
    const report = JSON.parse(second.stdout) as { alreadyPartitioned: boolean; tables: { table: string; partitions: string[] }[] };
    assert.equal(report.alreadyPartitioned, true);
    assert.match(second.stderr, /ocsp_responses: 既に分割済み \/ already partitioned/);
    assert.deepEqual(report.tables.map((t) => [t.table, t.partitions.length]), [["certificates", 4], ["certificate_der", 4], ["crl_entries", 4], ["ocsp_responses", 4]]);
    const kinds = await admin.query<{ relname: string; relkind: string }>(
      `select c.relname, c.relkind from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = $1 and c.relname in ('certificates', 'certificate_der', 'crl_entries', 'ocsp_responses') order by c.relname`,
      [schema],
    );
    assert.deepEqual(kinds.rows.map((r) => r.relkind), ["p", "p", "p", "p"]);
  } finally {
    await dropPostgresSchema(process.env.DATABASE_URL!, schema);
    await admin.end();
    rmSync(data, { recursive: true, force: true });
  }
});
