/**
 * Scale data generator: fills a store (SQLite or PostgreSQL) with N certificate rows, a fraction
 * of them revoked, for the scale benchmarks (`npm run bench -- --store …`).
 *
 *   node --import tsx bench/generate.ts --certificates 10000000 --revoked-fraction 0.05 --data DIR
 *   node --import tsx bench/generate.ts --certificates 10000000 --revoked-fraction 0.05 \
 *        --database-url postgresql://root@127.0.0.1:5432/test [--schema openjpki_scale] [--data DIR]
 *
 * The rows are bench rows (bench/fixtures/store.ts): random 16-byte serials, no DER (a real
 * certificate's 1.5–1.8 KB goes to certificate_der, apart from the row: see docs/scale.md),
 * valid until 2031, half signing and half authentication, spread over the seeded municipalities, every round(1/fraction)-th row
 * revoked with the reasons in turn; each revoked row also gets its pre-encoded CRL entry
 * (crl_entries), as a real revocation does. The store is opened with Context.open, so it has the
 * real schema, indexes, CA roots and OCSP responders.
 *
 * Batches of 50,000 rows, one transaction each; memory holds one batch. Restartable: the rows
 * already there (subject_cn BENCH…) are counted and the run continues from there, so Ctrl+C (which
 * stops after the current transaction) or a crash loses at most one batch. Progress (rate, ETA) on
 * stderr; one JSON line with the figures on stdout at the end.
 */
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { sql } from "kysely";
import { Context } from "../src/services/context.ts";
import { DEFAULT_MUNICIPALITIES } from "../src/config/municipalities.ts";
import type { CaType } from "../src/pki/jpki-profile.ts";
import { BENCH_ENV, addBenchResident } from "./fixtures/context.ts";
import { insertRows, makeRows } from "./fixtures/store.ts";

const BATCH = 50_000;

interface Options {
  certificates: number;
  revokedFraction: number;
  databaseUrl?: string;
  schema: string;
  data?: string;
}

function parseArgs(argv: readonly string[]): Options {
  const options: Options = { certificates: 0, revokedFraction: 0.05, schema: "openjpki_scale" };
  const value = (i: number, name: string): string => {
    const v = argv[i];
    if (v === undefined) throw new Error(`${name} needs a value`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--certificates") options.certificates = Number(value(++i, arg).replace(/_/g, ""));
    else if (arg === "--revoked-fraction") options.revokedFraction = Number(value(++i, arg));
    else if (arg === "--database-url") options.databaseUrl = value(++i, arg);
    else if (arg === "--schema") options.schema = value(++i, arg);
    else if (arg === "--data") options.data = resolve(value(++i, arg));
    else if (arg === "--help" || arg === "-h") {
      process.stdout.write(
        "usage: node --import tsx bench/generate.ts --certificates N [--revoked-fraction 0.05] (--data DIR | --database-url URL [--schema NAME] [--data DIR])\n",
      );
      process.exit(0);
    } else throw new Error(`unknown option ${arg}`);
  }
  if (!Number.isSafeInteger(options.certificates) || options.certificates <= 0) throw new Error("--certificates must be a positive integer");
  if (!(options.revokedFraction >= 0 && options.revokedFraction <= 1)) throw new Error("--revoked-fraction must be between 0 and 1");
  if (!options.databaseUrl && !options.data) throw new Error("give --data DIR (SQLite) or --database-url URL (PostgreSQL)");
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(options.schema)) throw new Error("--schema must be a plain lower-case identifier");
  return options;
}

/** Which CA and municipality batch `k` belongs to: alternating CAs, municipalities in turn. */
export function batchPlacement(k: number): { type: CaType; municipality: string } {
  return { type: k % 2 === 0 ? "sign" : "auth", municipality: DEFAULT_MUNICIPALITIES[Math.floor(k / 2) % DEFAULT_MUNICIPALITIES.length]!.code };
}

export const revokedEvery = (fraction: number): number => (fraction > 0 ? Math.max(1, Math.round(1 / fraction)) : Number.MAX_SAFE_INTEGER);

const hms = (s: number): string => {
  if (!Number.isFinite(s)) return "--:--";
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = Math.floor(s % 60);
  return `${h > 0 ? `${h}:` : ""}${String(m).padStart(h > 0 ? 2 : 1, "0")}:${String(sec).padStart(2, "0")}`;
};

/** A one-line progress bar on stderr (redrawn in place on a terminal, a line per 5 % otherwise). */
export class ProgressBar {
  readonly #t0 = performance.now();
  readonly #tty = process.stderr.isTTY === true;
  #lastPct = -5;

  constructor(
    private readonly total: number,
    private readonly start: number,
  ) {}

  update(done: number): void {
    const elapsed = (performance.now() - this.#t0) / 1000;
    const rate = (done - this.start) / Math.max(elapsed, 1e-3);
    const eta = (this.total - done) / rate;
    const pct = (100 * done) / this.total;
    const width = 30;
    const filled = Math.round((width * done) / this.total);
    const line =
      `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${pct.toFixed(1).padStart(5)} % ` +
      `${done.toLocaleString("en-US")}/${this.total.toLocaleString("en-US")} rows  ${Math.round(rate).toLocaleString("en-US")} rows/s  ` +
      `elapsed ${hms(elapsed)}  ETA ${hms(eta)}`;
    if (this.#tty) process.stderr.write(`\r${line}`);
    else if (pct - this.#lastPct >= 5 || done === this.total) {
      this.#lastPct = pct;
      process.stderr.write(`${line}\n`);
    }
  }

  end(): void {
    if (this.#tty) process.stderr.write("\n");
  }
}

async function countBenchRows(context: Context): Promise<number> {
  const row = await context.store.db
    .selectFrom("certificates")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("subject_cn", ">=", "BENCH")
    .where("subject_cn", "<", "BENCI")
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export interface StoreSize {
  /** Bytes of the certificates table with its indexes. */
  certificatesBytes: number;
  /** table and index name → bytes. */
  parts: Record<string, number>;
  /** SQLite: the database file (+ WAL) size; PostgreSQL: the schema's total. */
  totalBytes: number;
}

/** The size of the certificates table and its indexes on either back end. */
export async function storeSize(context: Context, dataDir: string): Promise<StoreSize> {
  const db = context.store.db;
  const parts: Record<string, number> = {};
  if (context.store.dialect === "sqlite") {
    await sql`pragma wal_checkpoint(TRUNCATE)`.execute(db);
    const file = join(dataDir, "openjpki.sqlite");
    const totalBytes = statSync(file).size + (existsSync(`${file}-wal`) ? statSync(`${file}-wal`).size : 0);
    try {
      const rows = await sql<{ name: string; bytes: number }>`select name, sum(pgsize) as bytes from dbstat where name like '%certificates%' group by name`.execute(db);
      for (const r of rows.rows) parts[r.name] = Number(r.bytes);
    } catch {
      // dbstat not compiled in: the file size alone
    }
    const certificatesBytes = Object.values(parts).reduce((s, b) => s + b, 0) || totalBytes;
    return { certificatesBytes, parts, totalBytes };
  }
  const rows = await sql<{ name: string; bytes: string }>`
    select c.relname as name, pg_relation_size(c.oid) as bytes
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = current_schema() and (c.relname = 'certificates' or c.oid in (select indexrelid from pg_index where indrelid = 'certificates'::regclass))`.execute(db);
  for (const r of rows.rows) parts[r.name] = Number(r.bytes);
  const total = await sql<{ t: string; s: string }>`select pg_total_relation_size('certificates') as t,
    (select sum(pg_total_relation_size(c.oid)) from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = current_schema() and c.relkind = 'r') as s`.execute(db);
  return { certificatesBytes: Number(total.rows[0]!.t), parts, totalBytes: Number(total.rows[0]!.s) };
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const tempData = options.data ? undefined : mkdtempSync(join(tmpdir(), "openjpki-generate-"));
  const dataDir = options.data ?? tempData!;
  const backend = options.databaseUrl ? `PostgreSQL schema ${options.schema}` : `SQLite ${join(dataDir, "openjpki.sqlite")}`;
  const context = await Context.open({
    dataDir,
    env: { ...BENCH_ENV },
    ...(options.databaseUrl ? { databaseUrl: options.databaseUrl, databaseSchema: options.schema } : {}),
  });
  let stop = false;
  const onSignal = () => {
    if (stop) process.exit(130);
    stop = true;
    process.stderr.write("\nstopping after the current batch (Ctrl+C again to abort now); rerun the same command to continue\n");
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    const start = await countBenchRows(context);
    process.stderr.write(`${backend}: ${start.toLocaleString("en-US")} bench rows present, target ${options.certificates.toLocaleString("en-US")}\n`);
    const before = await storeSize(context, dataDir);
    const residentId = await addBenchResident(context, 0);
    const every = revokedEvery(options.revokedFraction);
    const bar = new ProgressBar(options.certificates, start);
    const t0 = performance.now();
    let done = start;
    while (done < options.certificates && !stop) {
      const k = Math.floor(done / BATCH);
      const n = Math.min(BATCH - (done % BATCH), options.certificates - done);
      const rows = makeRows(n, every, done);
      await insertRows(context.store.db, rows, { ...batchPlacement(k), residentId });
      done += n;
      bar.update(done);
    }
    bar.end();
    const loadSeconds = (performance.now() - t0) / 1000;
    if (context.store.dialect === "postgres") {
      process.stderr.write("analyze certificates…\n");
      await sql`analyze certificates`.execute(context.store.db);
    }
    const after = await storeSize(context, dataDir);
    const inserted = done - start;
    const result = {
      backend: context.store.dialect,
      where: backend,
      dataDir,
      rows: done,
      inserted,
      revokedFraction: options.revokedFraction,
      loadSeconds: Math.round(loadSeconds * 10) / 10,
      rowsPerSecond: Math.round(inserted / Math.max(loadSeconds, 1e-3)),
      certificatesBytes: after.certificatesBytes,
      bytesPerRow: inserted > 0 ? Math.round(((after.certificatesBytes - before.certificatesBytes) / inserted) * 10) / 10 : undefined,
      parts: after.parts,
      totalBytes: after.totalBytes,
      complete: done >= options.certificates,
    };
    process.stdout.write(JSON.stringify(result) + "\n");
    if (!result.complete) process.stderr.write("interrupted: rerun the same command to continue from here\n");
  } finally {
    await context.close();
    if (tempData) rmSync(tempData, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error: Error) => {
    process.stderr.write(`${error.stack ?? String(error)}\n`);
    process.exitCode = 1;
  });
}
