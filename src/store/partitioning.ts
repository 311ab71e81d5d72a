import { sql, type Kysely } from "kysely";
import type { Database } from "./schema.ts";
import type { Dialect } from "./database.ts";

/**
 * The PostgreSQL layout for a national deployment (docs/scale.md §3.4): the certificates table
 * list-partitioned by CA and hash-subpartitioned by serial.
 *
 * Why: the hottest query (OCSP status by CA + serial) then prunes to one partition of a few
 * million rows; serials are random, so hash partitions stay even; vacuum, reindex and backups
 * work on pieces of ~1/2N of the table instead of one 400 GB relation. A municipality's CRL keeps
 * using its partial index (now one per hash partition; PostgreSQL merges them in serial order).
 *
 * It is a deliberate operator step (`openjpki store partition`), not a migration: small
 * deployments and the embedded SQLite store gain nothing from it, and converting a populated
 * table rewrites every row. It runs in one transaction, so a crash leaves the old table intact.
 *
 * One constraint cannot follow: a unique index on a partitioned table must contain the partition
 * key, so "subject CN unique per CA" moves to a small side table kept by triggers. Its primary
 * key has the old constraint's name, so a colliding CN still fails with 23505 on
 * `certificates_subject_cn`, which the issuer already retries.
 */

export const MAX_HASH_PARTITIONS = 256;

export interface PartitionReport {
  /** true when the table was already partitioned and nothing was done */
  alreadyPartitioned: boolean;
  hashPartitionsPerCa: number;
  rowsMoved: number;
  partitions: string[];
}

export class PartitioningError extends Error {
  override readonly name = "PartitioningError";
}

const CA_TYPES = ["sign", "auth"] as const;

export async function partitionCertificates(
  db: Kysely<Database>,
  dialect: Dialect,
  options: { hashPartitions: number },
): Promise<PartitionReport> {
  const n = options.hashPartitions;
  if (!Number.isInteger(n) || n < 1 || n > MAX_HASH_PARTITIONS) {
    throw new PartitioningError(`hash partitions must be an integer from 1 to ${MAX_HASH_PARTITIONS}, not ${n}`);
  }
  if (dialect !== "postgres") {
    throw new PartitioningError("パーティション分割は PostgreSQL のみ / partitioning needs PostgreSQL (the SQLite store is one file and has no partitions)");
  }
  return db.transaction().execute(async (trx) => {
    const existing = await partitionsOf(trx);
    if (existing) return { alreadyPartitioned: true, hashPartitionsPerCa: existing.length / CA_TYPES.length, rowsMoved: 0, partitions: existing };

    // The indexes to recreate, read before the old table goes: whatever the migrations made so far
    // (including ones added after this code was written), except the two constraints rebuilt below.
    const indexes = await sql<{ indexname: string; indexdef: string }>`
      select indexname, indexdef from pg_indexes
       where schemaname = current_schema() and tablename = 'certificates'`.execute(trx);

    await sql`alter table certificates rename to certificates_unpartitioned`.execute(trx);
    // (Renaming a constraint's index renames the constraint: the names are free for the new table.)
    for (const { indexname } of indexes.rows) {
      await sql`alter index ${sql.id(indexname)} rename to ${sql.id(`${indexname}_old`)}`.execute(trx);
    }

    // LIKE copies every column the migrations defined (types, NOT NULL, defaults, checks), so this
    // stays right when a later migration adds a column.
    await sql`create table certificates (like certificates_unpartitioned including defaults including constraints including generated)
               partition by list (ca_type)`.execute(trx);
    const partitions: string[] = [];
    for (const type of CA_TYPES) {
      const parent = `certificates_${type}`;
      await sql`create table ${sql.id(parent)} partition of certificates for values in (${sql.lit(type)}) partition by hash (serial_hex)`.execute(trx);
      for (let i = 0; i < n; i++) {
        const name = `${parent}_${String(i).padStart(3, "0")}`;
        await sql`create table ${sql.id(name)} partition of ${sql.id(parent)} for values with (modulus ${sql.lit(n)}, remainder ${sql.lit(i)})`.execute(trx);
        partitions.push(name);
      }
    }

    await sql`create table certificate_subjects (
                ca_type text not null, subject_cn text not null,
                constraint certificates_subject_cn primary key (ca_type, subject_cn))`.execute(trx);
    await sql`insert into certificate_subjects (ca_type, subject_cn) select ca_type, subject_cn from certificates_unpartitioned`.execute(trx);
    const moved = await sql`insert into certificates select * from certificates_unpartitioned`.execute(trx);
    await sql`drop table certificates_unpartitioned`.execute(trx);

    await sql`alter table certificates add constraint certificates_pk primary key (ca_type, serial_hex)`.execute(trx);
    for (const { indexname, indexdef } of indexes.rows) {
      if (indexname === "certificates_pk" || indexname === "certificates_subject_cn") continue;
      // indexdef is PostgreSQL's own rendering: "CREATE [UNIQUE] INDEX name ON schema.certificates USING …".
      if (/^CREATE UNIQUE/i.test(indexdef)) {
        throw new PartitioningError(`unique index ${indexname} cannot be carried to a partitioned table; add it to the side tables first`);
      }
      await sql.raw(indexdef.replace(/ ON (\S+\.)?certificates /, " ON certificates ")).execute(trx);
    }

    // Keep the side table in step with the certificates (a CN is never changed once issued).
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

    return { alreadyPartitioned: false, hashPartitionsPerCa: n, rowsMoved: Number(moved.numAffectedRows ?? 0n), partitions };
  });
}

/** The leaf partitions of certificates, or undefined when it is a plain table. */
export async function partitionsOf(db: Kysely<Database>): Promise<string[] | undefined> {
  const kind = await sql<{ relkind: string }>`
    select c.relkind from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = current_schema() and c.relname = 'certificates'`.execute(db);
  if (kind.rows[0]?.relkind !== "p") return undefined;
  const leaves = await sql<{ name: string }>`
    select c.relname as name from pg_partition_tree('certificates') t join pg_class c on c.oid = t.relid
     where t.isleaf order by c.relname`.execute(db);
  return leaves.rows.map((r) => r.name);
}
