import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "kysely";
import { openTestContext } from "../helpers/context.ts";
import { PARTITIONED_TABLES, partitionStore, partitionsOf, PartitioningError } from "../../src/store/partitioning.ts";
import { OcspRefresher } from "../../src/services/ocsp-refresher.ts";
import { testPublicKeys } from "../helpers/keys.ts";
import type { Context } from "../../src/services/context.ts";

const NOW = "2026-11-25T01:00:00Z";
const pg = process.env.DATABASE_URL ? test : test.skip;

const keys = testPublicKeys(8);
let nextKey = 0;
const spki = () => keys[nextKey++ % keys.length]!;
const addTestResident = (context: Context, i: number) =>
  context.registry.add({ name: `佐藤 花子${"一二三四五六七八九十"[i]}`, birth: "1985-07-15", gender: "2", address: "東京都町田市中町１－２０－２３", municipality: "132098" });

test("partitioning refuses the SQLite store, naming why", async () => {
  const t = await openTestContext("sqlite", { now: NOW });
  try {
    await assert.rejects(partitionStore(t.context.store.db, "sqlite", { hashPartitions: 4 }), (e: unknown) => e instanceof PartitioningError && /PostgreSQL/.test(e.message));
  } finally {
    await t.cleanup();
  }
});

pg("partitioning a populated PostgreSQL store keeps every row, index, constraint and service working (certificates, CRL entries, OCSP answers)", async () => {
  const t = await openTestContext("postgres", { now: NOW });
  const { context } = t;
  try {
    await assert.rejects(partitionStore(context.store.db, "postgres", { hashPartitions: 0 }), /from 1 to 256/);
    const residents = [];
    for (let i = 0; i < 3; i++) residents.push(await addTestResident(context, i));
    const issued = [];
    for (const r of residents) {
      issued.push(await context.ca.issue({ type: "sign", residentId: r.id, subjectPublicKey: spki() }));
      issued.push(await context.ca.issue({ type: "auth", residentId: r.id, subjectPublicKey: spki() }));
    }
    await context.ca.revoke({ type: "sign", serialHex: issued[0]!.serialHex, reason: "keyCompromise", by: "operator" });
    // Pre-signed answers in the response store for every certificate, so all four tables hold rows.
    const refresher = new OcspRefresher(context.ocsp);
    await refresher.refresh({ type: "sign", withinMs: 0 });
    await refresher.refresh({ type: "auth", withinMs: 0 });
    const count = async (table: string) => Number((await sql<{ n: string }>`select count(*) as n from ${sql.id(table)}`.execute(context.store.db)).rows[0]!.n);
    const before = new Map<string, number>();
    for (const table of PARTITIONED_TABLES) before.set(table, await count(table));
    assert.deepEqual(Object.fromEntries(before), { certificates: 6, certificate_der: 6, crl_entries: 1, ocsp_responses: 6 });
    const answerBefore = await context.store.db.selectFrom("ocsp_responses").selectAll().where("ca_type", "=", "sign").where("serial_hex", "=", issued[0]!.serialHex).executeTakeFirstOrThrow();

    const steps: string[] = [];
    const report = await partitionStore(context.store.db, "postgres", { hashPartitions: 4, onProgress: (p) => steps.push(`${p.table} ${p.phase}${p.phase === "indexing" ? ` ${p.rowsMoved}` : ""}`) });
    assert.equal(report.alreadyPartitioned, false);
    assert.deepEqual(steps, PARTITIONED_TABLES.flatMap((t) => [`${t} moving`, `${t} indexing ${before.get(t)}`, `${t} done`]));
    assert.deepEqual(report.tables.map((t) => t.table), [...PARTITIONED_TABLES]);
    for (const t of report.tables) {
      assert.equal(t.alreadyPartitioned, false);
      assert.equal(t.rowsMoved, before.get(t.table), t.table);
      assert.equal(await count(t.table), before.get(t.table), t.table);
      assert.equal(t.partitions.length, 8, t.table);
      assert.deepEqual(await partitionsOf(context.store.db, t.table), [...t.partitions].sort());
    }
    const again = await partitionStore(context.store.db, "postgres", { hashPartitions: 4 });
    assert.equal(again.alreadyPartitioned, true);
    assert.ok(again.tables.every((t) => t.alreadyPartitioned && t.rowsMoved === 0));

    // Each certificate's DER came along with its row.
    for (const record of issued) assert.deepEqual(Buffer.from((await context.ca.certificate(record.type, record.serialHex)).der), Buffer.from(record.der));

    // The stored answer is the same row, found through the pruned lookup; the CRL entry's index is back.
    const answerAfter = await context.store.db.selectFrom("ocsp_responses").selectAll().where("ca_type", "=", "sign").where("serial_hex", "=", issued[0]!.serialHex).executeTakeFirstOrThrow();
    assert.deepEqual(answerAfter, answerBefore);
    const crlIndexes = await sql<{ indexname: string }>`select indexname from pg_indexes where schemaname = current_schema() and tablename = 'crl_entries'`.execute(context.store.db);
    assert.deepEqual(crlIndexes.rows.map((r) => r.indexname).sort(), ["crl_entries_by_municipality", "crl_entries_pk"]);
    const answerPlan = await sql<{ "QUERY PLAN": string }>`explain select tbs from ocsp_responses where ca_type = 'auth' and serial_hex = ${issued[1]!.serialHex}`.execute(context.store.db);
    const answerPlanText = answerPlan.rows.map((r) => r["QUERY PLAN"]).join("\n");
    assert.match(answerPlanText, /ocsp_responses_auth_\d{3}/);
    assert.doesNotMatch(answerPlanText, /ocsp_responses_sign_/);

    // Rows are spread over the hash partitions of their CA, and the OCSP lookup prunes to one.
    const placed = await sql<{ part: string; ca_type: string }>`select tableoid::regclass::text as part, ca_type from certificates`.execute(context.store.db);
    for (const row of placed.rows) assert.match(row.part, new RegExp(`certificates_${row.ca_type}_\\d{3}$`));
    const plan = await sql<{ "QUERY PLAN": string }>`explain select status from certificates where ca_type = 'sign' and serial_hex = ${issued[0]!.serialHex}`.execute(context.store.db);
    const planText = plan.rows.map((r) => r["QUERY PLAN"]).join("\n");
    assert.equal((planText.match(/certificates_sign_\d{3}/g) ?? []).length > 0, true, planText);
    assert.doesNotMatch(planText, /certificates_auth_/);

    // The indexes the migrations made are back, on the partitioned table.
    const indexes = await sql<{ indexname: string }>`select indexname from pg_indexes where schemaname = current_schema() and tablename = 'certificates'`.execute(context.store.db);
    const names = indexes.rows.map((r) => r.indexname);
    for (const name of ["certificates_pk", "certificates_resident", "certificates_revoked", "certificates_revoked_by_municipality"]) assert.ok(names.includes(name), `${name} in ${names}`);

    // Status, CRL and issuance still work; the revoked certificate is in the CRL, the others not.
    assert.equal((await context.store.certificateStatus("sign", issued[0]!.serialHex))?.status, "revoked");
    assert.equal((await context.store.certificateStatus("auth", issued[1]!.serialHex))?.status, "valid");
    const crl = await context.crls.build("sign", undefined);
    const dir = mkdtempSync(join(tmpdir(), "openjpki-part-"));
    try {
      writeFileSync(join(dir, "crl.der"), crl.der);
      const text = execFileSync("openssl", ["crl", "-inform", "DER", "-in", join(dir, "crl.der"), "-noout", "-text"], { encoding: "utf8" });
      assert.match(text, new RegExp(`Serial Number: ${issued[0]!.serialHex.toUpperCase()}`));
      assert.doesNotMatch(text, new RegExp(issued[2]!.serialHex.toUpperCase()));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const fourth = await addTestResident(context, 9);
    const later = await context.ca.issue({ type: "auth", residentId: fourth.id, subjectPublicKey: spki() });
    assert.equal((await context.ca.certificate("auth", later.serialHex)).serialHex, later.serialHex);

    // Subject CNs stay unique per CA through the side table, failing as the unique constraint did.
    const row = await context.store.db.selectFrom("certificates").selectAll().where("ca_type", "=", "auth").where("serial_hex", "=", later.serialHex).executeTakeFirstOrThrow();
    await assert.rejects(
      context.store.db.insertInto("certificates").values({ ...row, serial_hex: "01" }).execute(),
      (e: { code?: string; constraint?: string }) => e.code === "23505" && e.constraint === "certificates_subject_cn",
    );
    // The same CN under the other CA is allowed, as before.
    await context.store.db.insertInto("certificates").values({ ...row, ca_type: "sign", serial_hex: "02" }).execute();
    await context.store.db.deleteFrom("certificates").where("ca_type", "=", "sign").where("serial_hex", "=", "02").execute();
    const subjects = await sql<{ n: string }>`select count(*) as n from certificate_subjects`.execute(context.store.db);
    const certificates = await sql<{ n: string }>`select count(*) as n from certificates`.execute(context.store.db);
    assert.equal(subjects.rows[0]!.n, certificates.rows[0]!.n);
  } finally {
    await t.cleanup();
  }
});
