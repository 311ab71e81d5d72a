import { sql, type Kysely } from "kysely";
import type { Database } from "./schema.ts";
import type { Dialect } from "./database.ts";

/**
 * The PostgreSQL layout for a national deployment (docs/scale.md §3.4): the tables keyed by
 * certificate — `certificates`, their DER `certificate_der`, the pre-encoded CRL entries
 * `crl_entries` and the pre-signed answers `ocsp_responses` — list-partitioned by CA and
 * hash-subpartitioned by serial.
 *
 * Why: the hottest query (OCSP status by CA + serial) then prunes to one partition of a few
 * million rows; serials are random, so hash partitions stay even; vacuum, reindex and backups
 * work on pieces of ~1/2N of the table instead of one 400 GB relation. A municipality's CRL keeps
 * using its index on crl_entries (now one per hash partition; PostgreSQL merges them in serial
 * order), and the response store's lookups prune like the status read.
 *
 * It is a deliberate operator step (`openjpki store partition`), not a migration: small
 * deployments and the embedded SQLite store gain nothing from it, and converting a populated
 * table rewrites every row. It runs in one transaction, so a crash leaves the old tables intact;
 * a table already partitioned is left as it is (a store partitioned before crl_entries and
 * ocsp_responses were included gets those two on the next run).
 *
 * One constraint cannot follow: a unique index on a partitioned table must contain the partition
 * key, so "subject CN unique per CA" moves to a small side table kept by triggers. Its primary
 * key has the old constraint's name, so a colliding CN still fails with 23505 on
 * `certificates_subject_cn`, which the issuer already retries.
 */

export const MAX_HASH_PARTITIONS = 256;

/** The tables partitioned, each keyed (ca_type, serial_hex) with primary key `<table>_pk`. */
export const PARTITIONED_TABLES = ["certificates", "certificate_der", "crl_entries", "ocsp_responses"] as const;
export type PartitionedTable = (typeof PARTITIONED_TABLES)[number];

export interface TablePartitioning {
  table: PartitionedTable;
  /** true when the table was already partitioned and nothing was done to it */
  alreadyPartitioned: boolean;
  hashPartitionsPerCa: number;
  rowsMoved: number;
  partitions: string[];
}

export interface PartitionReport {
  /** true when every table was already partitioned and nothing was done */
  alreadyPartitioned: boolean;
  tables: TablePartitioning[];
}

/** What a conversion is doing, for a caller that shows progress (a 10 M-row table takes minutes). */
export type PartitioningProgress =
  | { table: PartitionedTable; phase: "moving"; estimatedRows: number | undefined; partitions: number }
  | { table: PartitionedTable; phase: "indexing"; rowsMoved: number }
  | { table: PartitionedTable; phase: "done" | "already-partitioned" };

export class PartitioningError extends Error {
  override readonly name = "PartitioningError";
}

const CA_TYPES = ["sign", "auth"] as const;

export async function partitionStore(
  db: Kysely<Database>,
  dialect: Dialect,
  options: { hashPartitions: number; onProgress?: (progress: PartitioningProgress) => void },
): Promise<PartitionReport> {
  const n = options.hashPartitions;
  if (!Number.isInteger(n) || n < 1 || n > MAX_HASH_PARTITIONS) {
    throw new PartitioningError(`hash partitions must be an integer from 1 to ${MAX_HASH_PARTITIONS}, not ${n}`);
  }
  if (dialect !== "postgres") {
    throw new PartitioningError("パーティション分割は PostgreSQL のみ / partitioning needs PostgreSQL (the SQLite store is one file and has no partitions)");
  }
  return db.transaction().execute(async (trx) => {
    const tables: TablePartitioning[] = [];
    for (const table of PARTITIONED_TABLES) {
      const existing = await partitionsOf(trx, table);
      if (existing) {
        tables.push({ table, alreadyPartitioned: true, hashPartitionsPerCa: existing.length / CA_TYPES.length, rowsMoved: 0, partitions: existing });
        options.onProgress?.({ table, phase: "already-partitioned" });
        continue;
      }
      // "Subject CN unique per CA" cannot stay a unique index on the partitioned table; it moves to the side table below.
      const converted = await convertTable(trx, table, n, table === "certificates" ? ["certificates_subject_cn"] : [], options.onProgress);
      if (table === "certificates") await keepSubjectsUnique(trx);
      options.onProgress?.({ table, phase: "done" });
      tables.push({ table, alreadyPartitioned: false, hashPartitionsPerCa: n, ...converted });
    }
    return { alreadyPartitioned: tables.every((t) => t.alreadyPartitioned), tables };
  });
}

/**
 * Rebuild one plain table as LIST (ca_type) → HASH (serial_hex) partitions with the same columns,
 * rows and indexes. `dropped` names unique indexes the caller re-creates in another form.
 */
async function convertTable(
  trx: Kysely<Database>,
  table: PartitionedTable,
  n: number,
  dropped: readonly string[],
  onProgress: ((progress: PartitioningProgress) => void) | undefined,
): Promise<{ rowsMoved: number; partitions: string[] }> {
  const old = `${table}_unpartitioned`;
  const primaryKey = `${table}_pk`;
  // The indexes to recreate, read before the old table goes: whatever the migrations made so far
  // (including ones added after this code was written).
  const indexes = await sql<{ indexname: string; indexdef: string }>`
    select indexname, indexdef from pg_indexes
     where schemaname = current_schema() and tablename = ${table}`.execute(trx);

  // Its foreign keys (a certificate's authority and resident): LIKE copies none, and the old
  // table's go with it, so they are read here and added back once the rows are in.
  const foreignKeys = await sql<{ conname: string; def: string }>`
    select conname, pg_get_constraintdef(oid) as def from pg_constraint
     where conrelid = ${table}::regclass and contype = 'f' order by conname`.execute(trx);
  // A foreign key of another table pointing here would hold the old table: name it rather than fail on the drop.
  const referencing = await sql<{ conname: string; source: string }>`
    select conname, conrelid::regclass::text as source from pg_constraint
     where confrelid = ${table}::regclass and contype = 'f' and conrelid <> ${table}::regclass order by conname`.execute(trx);
  if (referencing.rows.length > 0) {
    const names = referencing.rows.map((r) => `${r.conname} (${r.source})`).join(", ");
    throw new PartitioningError(`${table} is referenced by foreign keys of other tables (${names}); they cannot follow it to the partitioned table`);
  }

  await sql`alter table ${sql.id(table)} rename to ${sql.id(old)}`.execute(trx);
  // (Renaming a constraint's index renames the constraint: the names are free for the new table.)
  for (const { indexname } of indexes.rows) {
    await sql`alter index ${sql.id(indexname)} rename to ${sql.id(`${indexname}_old`)}`.execute(trx);
  }

  // LIKE copies every column the migrations defined (types, NOT NULL, defaults, checks), so this
  // stays right when a later migration adds a column.
  await sql`create table ${sql.id(table)} (like ${sql.id(old)} including defaults including constraints including generated)
             partition by list (ca_type)`.execute(trx);
  const partitions: string[] = [];
  for (const type of CA_TYPES) {
    const parent = `${table}_${type}`;
    await sql`create table ${sql.id(parent)} partition of ${sql.id(table)} for values in (${sql.lit(type)}) partition by hash (serial_hex)`.execute(trx);
    for (let i = 0; i < n; i++) {
      const name = `${parent}_${String(i).padStart(3, "0")}`;
      await sql`create table ${sql.id(name)} partition of ${sql.id(parent)} for values with (modulus ${sql.lit(n)}, remainder ${sql.lit(i)})`.execute(trx);
      partitions.push(name);
    }
  }

  // The planner's row estimate (free; -1 before the table was ever analysed) rather than a count, which would read the table once more.
  const estimate = await sql<{ rows: string }>`select reltuples::bigint::text as rows from pg_class where oid = ${old}::regclass`.execute(trx);
  const estimatedRows = Number(estimate.rows[0]?.rows ?? -1);
  onProgress?.({ table, phase: "moving", estimatedRows: estimatedRows >= 0 ? estimatedRows : undefined, partitions: partitions.length });
  const moved = await sql`insert into ${sql.id(table)} select * from ${sql.id(old)}`.execute(trx);
  await sql`drop table ${sql.id(old)}`.execute(trx);
  const rowsMoved = Number(moved.numAffectedRows ?? 0n);
  onProgress?.({ table, phase: "indexing", rowsMoved });

  await sql`alter table ${sql.id(table)} add constraint ${sql.id(primaryKey)} primary key (ca_type, serial_hex)`.execute(trx);
  // pg_get_constraintdef is PostgreSQL's own rendering ("FOREIGN KEY (resident_id) REFERENCES residents(id)").
  for (const { conname, def } of foreignKeys.rows) {
    await sql`alter table ${sql.id(table)} add constraint ${sql.id(conname)} ${sql.raw(def)}`.execute(trx);
  }
  const on = new RegExp(` ON (\\S+\\.)?${table} `);
  for (const { indexname, indexdef } of indexes.rows) {
    if (indexname === primaryKey || dropped.includes(indexname)) continue;
    // indexdef is PostgreSQL's own rendering: "CREATE [UNIQUE] INDEX name ON schema.table USING …".
    if (/^CREATE UNIQUE/i.test(indexdef)) {
      throw new PartitioningError(`unique index ${indexname} cannot be carried to a partitioned table; add it to the side tables first`);
    }
    await sql.raw(indexdef.replace(on, ` ON ${table} `)).execute(trx);
  }
  return { rowsMoved, partitions };
}

/**
 * The side table that keeps subject CNs unique per CA, filled from the certificates and kept in
 * step by a trigger (a CN is never changed once issued). Its primary key has the old unique
 * constraint's name, so a collision fails as it did before.
 */
async function keepSubjectsUnique(trx: Kysely<Database>): Promise<void> {
  await sql`create table certificate_subjects (
              ca_type text not null, subject_cn text not null,
              constraint certificates_subject_cn primary key (ca_type, subject_cn))`.execute(trx);
  await sql`insert into certificate_subjects (ca_type, subject_cn) select ca_type, subject_cn from certificates`.execute(trx);
  await sql`create function certificate_subjects_track() returns trigger language plpgsql as $$
    begin
      if tg_op = 'INSERT' then
        insert into certificate_subjects (ca_type, subject_cn) values (new.ca_type, new.subject_cn);
        return new;
      elsif tg_op = 'DELETE' then
        delete from certificate_subjects where ca_type = old.ca_type and subject_cn = old.subject_cn;
        return old;
      elsif new.subject_cn is distinct from old.subject_cn or new.ca_type is distinct from old.ca_type then
        raise exception 'the subject CN of an issued certificate does not change' using errcode = 'check_violation';
      end if;
      return new;
    end $$`.execute(trx);
  await sql`create trigger certificate_subjects_track before insert or update or delete on certificates
             for each row execute function certificate_subjects_track()`.execute(trx);
}

/** The leaf partitions of a table, or undefined when it is a plain table. */
export async function partitionsOf(db: Kysely<Database>, table: PartitionedTable): Promise<string[] | undefined> {
  const kind = await sql<{ relkind: string }>`
    select c.relkind from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = current_schema() and c.relname = ${table}`.execute(db);
  if (kind.rows[0]?.relkind !== "p") return undefined;
  const leaves = await sql<{ name: string }>`
    select c.relname as name from pg_partition_tree(${table}::regclass) t join pg_class c on c.oid = t.relid
     where t.isleaf order by c.relname`.execute(db);
  return leaves.rows.map((r) => r.name);
}
