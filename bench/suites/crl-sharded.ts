/**
 * CRL-SHARDED (anchors §5): 10 M revoked certificates spread over 128 shards, every shard
 * regenerated and signed; `t / t(openssl ca -gencrl, 1 M entries, same run)` ≤ 8, peak RSS
 * ≤ 1.5 GB, each shard ≤ 70 MB.
 *
 * The faithful shard is the municipality partition: a leaf's CRL distribution point names its
 * municipality's CRL (/crl/{type}/{code}.crl), so that is what a relying party fetches. The bench
 * registers 128 synthetic municipalities (codes 9xxxx + a valid JIS X 0402 check digit), loads
 * N revoked entries of the signing CA spread evenly over them, then builds all 128 partitions
 * with `context.crls.build("sign", code)` in child processes (`children/crl-build.ts`, peak RSS
 * by /usr/bin/time): once in one process, once split over two processes (how a deployment with
 * two cores would regenerate them). openssl's 1 M `-gencrl` runs in the same run as the baseline.
 *
 * The store holds only what a CRL build reads: the loader writes the pre-encoded entries
 * (crl_entries) directly, without certificate rows (bench/generate.ts writes both, ≈2× slower).
 * Only with --full-scale, never in --quick: loading 10 M entries takes minutes.
 * BENCH_CRL_SHARDED_ROWS=N changes N for a trial run; the report says which N was used.
 */
import { readFileSync, readdirSync, statSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { sql } from "kysely";
import { isValidMunicipalityCode } from "../../src/config/municipalities.ts";
import { atMost, headline, metric, type BenchResult, type Metric, type SuiteContext } from "../harness.ts";
import { cpuWindow, type CpuWindow } from "../machine.ts";
import { runMeasured, type MeasuredRun } from "../proc.ts";
import { openBenchContext } from "../fixtures/context.ts";
import { insertCrlEntries, makeRows, type BenchRow } from "../fixtures/store.ts";
import { exportCa, opensslCaConfig } from "../fixtures/pki.ts";
import { ProgressBar } from "../generate.ts";
import { appendPeerFiles, countEntries, opensslVerifyCrl } from "./crl-files.ts";

const CHILD = fileURLToPath(new URL("../children/crl-build.ts", import.meta.url));
const TSX_IMPORT = import.meta.resolve("tsx");

export const SHARDS = 128;
export const SHARDED_ROWS = Number(process.env.BENCH_CRL_SHARDED_ROWS ?? 10_000_000);
const OPENSSL_ROWS = 1_000_000;
const ROWS_PER_TRANSACTION = 50_000;
const MB = 1_000_000; // the anchors' "70 MB" shard limit is Let's Encrypt's, in decimal megabytes
/** The anchors' 1.5 GB peak memory (decimal), in the KiB-based MiB that /usr/bin/time's maximum RSS gives. */
const RSS_LIMIT_MIB = 1.5e9 / 2 ** 20;

/** 128 synthetic municipalities: codes 90001…90128 with their JIS X 0402 check digit. */
export function syntheticMunicipalities(count: number): { code: string; prefecture_ja: string; prefecture_romaji: string; city_ja: string; city_romaji: string }[] {
  return Array.from({ length: count }, (_, i) => {
    const five = `9${String(i + 1).padStart(4, "0")}`;
    const sum = [...five].reduce((acc, d, k) => acc + Number(d) * (6 - k), 0);
    const code = `${five}${(11 - (sum % 11)) % 10}`;
    if (!isValidMunicipalityCode(code)) throw new Error(`synthetic municipality code ${code} fails its check digit`);
    return { code, prefecture_ja: "ベンチ県", prefecture_romaji: "Bench-ken", city_ja: `ベンチ${i + 1}市`, city_romaji: `Bench${i + 1}-shi` };
  });
}

interface ChildResult {
  buildMs: number;
  writeMs: number;
  elapsedMs: number;
  partitions: number;
  bytes: number;
  largestBytes: number;
  largest: string;
  rssBeforeKb: number;
}

export async function crlSharded(ctx: SuiteContext): Promise<BenchResult> {
  const n = SHARDED_ROWS;
  if (!Number.isSafeInteger(n) || n < SHARDS) throw new Error(`BENCH_CRL_SHARDED_ROWS must be an integer ≥ ${SHARDS}`);
  const bench = await openBenchContext(ctx.cleanup, "crl-sharded");
  const dir = ctx.cleanup.tempDir("crl-sharded-peers");
  try {
    const { context } = bench;
    const db = context.store.db;
    const municipalities = syntheticMunicipalities(SHARDS);
    await db.insertInto("municipalities").values(municipalities).execute();
    const codes = municipalities.map((m) => m.code);

    // The loader's connection only: a big page cache keeps random-key inserts off the disk.
    await sql`pragma cache_size = -1048576`.execute(db);
    ctx.progress(`CRL-SHARDED: loading ${n.toLocaleString("en-US")} revoked entries over ${SHARDS} municipalities (SQLite, ${ROWS_PER_TRANSACTION.toLocaleString("en-US")} per transaction)`);
    const bar = new ProgressBar(n, 0);
    const t0 = performance.now();
    for (let done = 0; done < n; ) {
      const batch = makeRows(Math.min(ROWS_PER_TRANSACTION, n - done), 1, done);
      // Row k goes to municipality k mod 128, so every partition gets the same share.
      const byShard: BenchRow[][] = Array.from({ length: SHARDS }, () => []);
      for (const [i, row] of batch.entries()) byShard[(done + i) % SHARDS]!.push(row);
      await db.transaction().execute(async (trx) => {
        for (const [s, rows] of byShard.entries()) await insertCrlEntries(trx, rows, { type: "sign", municipality: codes[s]! });
      });
      done += batch.length;
      bar.update(done);
    }
    bar.end();
    const loadRate = n / ((performance.now() - t0) / 1000);
    await sql`pragma wal_checkpoint(TRUNCATE)`.execute(db);
    const storeBytes = statSync(join(bench.dataDir, "openjpki.sqlite")).size;

    // openssl's baseline: 1 M entries of the same kind (fresh serials) in its index.
    ctx.progress(`CRL-SHARDED: writing openssl's index of ${OPENSSL_ROWS.toLocaleString("en-US")} entries`);
    const ca = await exportCa(context, "sign", dir);
    writeFileSync(join(dir, "crlnumber"), "01\n");
    const indexFile = join(dir, "index.txt");
    writeFileSync(indexFile, "");
    writeFileSync(join(dir, "ca.cnf"), opensslCaConfig(ca, indexFile));
    for (let i = 0; i < OPENSSL_ROWS; i += 100_000) appendPeerFiles(indexFile, undefined, makeRows(Math.min(100_000, OPENSSL_ROWS - i), 1, i));

    const cpu: CpuWindow[] = [];
    const child = (outDir: string, part: readonly string[]) =>
      runMeasured(ctx.cleanup, process.execPath, ["--import", TSX_IMPORT, CHILD, bench.dataDir, outDir, "--partitions", part.join(",")], { cwd: dir, timeoutMs: 1_800_000 });
    const parse = (run: MeasuredRun): ChildResult => {
      if (run.status !== 0) throw new Error(`CRL child failed: ${run.stderr.slice(0, 2000)}`);
      return JSON.parse(run.stdout.trim().split("\n").at(-1)!) as ChildResult;
    };

    await ctx.settle(15_000);
    ctx.progress(`CRL-SHARDED: all ${SHARDS} partitions in one process`);
    const oneDir = join(dir, "one");
    mkdirSync(oneDir);
    let close = cpuWindow("CRL-SHARDED 1 process");
    const oneRun = await child(oneDir, codes);
    cpu.push(close());
    const one = parse(oneRun);

    await ctx.settle(15_000);
    ctx.progress(`CRL-SHARDED: ${SHARDS / 2} partitions each in two processes at once`);
    const twoDir = join(dir, "two");
    mkdirSync(twoDir);
    close = cpuWindow("CRL-SHARDED 2 processes");
    const twoRuns = await Promise.all([child(twoDir, codes.filter((_, i) => i % 2 === 0)), child(twoDir, codes.filter((_, i) => i % 2 === 1))]);
    cpu.push(close());
    const two = twoRuns.map(parse);

    await ctx.settle(15_000);
    ctx.progress(`CRL-SHARDED: openssl ca -gencrl on ${OPENSSL_ROWS.toLocaleString("en-US")} entries`);
    close = cpuWindow("CRL-SHARDED openssl ca -gencrl 1M");
    const openssl = await runMeasured(ctx.cleanup, "openssl", ["ca", "-gencrl", "-config", "ca.cnf", "-out", "openssl-1m.pem"], { cwd: dir, timeoutMs: 600_000 });
    cpu.push(close());
    if (openssl.status !== 0) throw new Error(`openssl ca -gencrl failed: ${openssl.stderr}`);

    ctx.progress("CRL-SHARDED: checking the partitions");
    let listed = 0;
    let largest = { file: "", bytes: 0 };
    for (const file of readdirSync(oneDir)) {
      const der = new Uint8Array(readFileSync(join(oneDir, file)));
      listed += countEntries(der);
      if (der.length > largest.bytes) largest = { file, bytes: der.length };
    }
    const verify = await opensslVerifyCrl(join(oneDir, largest.file), ca.caPem, dir);
    const listedTwo = readdirSync(twoDir).reduce((sum, file) => sum + countEntries(new Uint8Array(readFileSync(join(twoDir, file)))), 0);

    const oneMs = one.buildMs + one.writeMs;
    // The two processes run side by side: the slower one decides.
    const twoMs = Math.max(...two.map((r) => r.buildMs + r.writeMs));
    const twoRss = twoRuns.reduce((sum, r) => sum + r.maxRssKb, 0);
    const metrics: Metric[] = [
      headline(metric(`ours: ${SHARDS} partitions regenerated and signed, 1 process (store → DER on disk)`, oneMs, "ms")),
      headline(metric(`ours: the same over 2 processes at once`, twoMs, "ms")),
      headline(metric(`openssl ca -gencrl, ${OPENSSL_ROWS.toLocaleString("en-US")} entries`, openssl.wallMs, "ms")),
      metric("t(1 process) / t(openssl 1 M)", oneMs / openssl.wallMs, "×", "ratio", atMost(8)),
      metric("t(2 processes) / t(openssl 1 M)", twoMs / openssl.wallMs, "×", "ratio", atMost(8)),
      headline(metric("peak RSS, 1 process", oneRun.maxRssKb / 1024, "MiB", "limit", atMost(RSS_LIMIT_MIB))),
      metric("peak RSS, 2 processes (sum)", twoRss / 1024, "MiB", "limit", atMost(RSS_LIMIT_MIB)),
      metric("openssl peak RSS (1 M)", openssl.maxRssKb / 1024, "MiB"),
      headline(metric("largest partition", largest.bytes / MB, "MB", "limit", atMost(70))),
      metric("all partitions together", one.bytes / MB, "MB"),
      metric("entries listed over all partitions", listed, ""),
      metric("child process wall, 1 process (node start + context open + builds + writes)", oneRun.wallMs, "ms"),
      metric("child process wall, 2 processes (the slower)", Math.max(...twoRuns.map((r) => r.wallMs)), "ms"),
      metric("µs per entry, 1 process", (oneMs * 1000) / n, "µs"),
      metric("load rate (setup, not timed): pre-encoded entries into crl_entries", loadRate, "rows/s"),
      metric("SQLite file after the load", storeBytes / MB, "MB"),
    ];
    const notes = [
      `${n.toLocaleString("en-US")} revoked entries of the signing CA${n === 10_000_000 ? "" : " (BENCH_CRL_SHARDED_ROWS: not the definition's 10 M)"}, 16-byte random serials, reasons in turn, spread evenly over ${SHARDS} synthetic municipalities (${codes[0]}…${codes.at(-1)}); each partition is one municipality's CRL (critical IDP naming its CRLDP), as a leaf's cRLDistributionPoints points at it.`,
      "The store holds only crl_entries rows (what a CRL build reads), written directly by the loader; no certificate rows.",
      `Each child: Context.open on the loaded SQLite store, then context.crls.build("sign", code) and writeFileSync per partition, one after the other (one CRL in memory at a time). Timed: the builds and writes (child start-up and context open excluded, as in CRL-1M); RSS before the builds ${Math.round(one.rssBeforeKb / 1024)} MiB (Node + tsx + the context).`,
      `Largest partition ${largest.file.replace(/\.der$/, "")}: ${largest.bytes.toLocaleString("en-US")} B; openssl crl -CAfile: ${verify}.`,
      `Entries listed: ${listed.toLocaleString("en-US")} (1 process), ${listedTwo.toLocaleString("en-US")} (2 processes); expected ${n.toLocaleString("en-US")}.`,
    ];
    if (listed !== n || listedTwo !== n) notes.push(`WARNING: the partitions list ${listed} / ${listedTwo} entries, expected ${n}.`);
    return { id: "CRL-SHARDED", title: `${n.toLocaleString("en-US")} revoked over ${SHARDS} municipality partitions, all regenerated and signed`, status: "measured", metrics, notes, cpu };
  } finally {
    await bench.destroy();
    ctx.cleanup.removeDir(dir);
  }
}
