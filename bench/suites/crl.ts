/**
 * CRL-1M (and CRL-100K): a full CRL from the revocation store to signed DER on disk, against
 * `openssl ca -gencrl` (and `cfssl gencrl`) on the same serials, revocation times and reasons.
 * CRL-SHARDED (only with --full-scale, never in --quick) is in `crl-sharded.ts`.
 *
 * The store is a real one (Context.open on SQLite), filled with bench rows (certificates and
 * their pre-encoded CRL entries) in big transactions; the CRL is built in a child process
 * (`children/crl-build.ts`) so its peak RSS is measured alone by /usr/bin/time, like openssl's.
 * The pure encoder (`buildCrl` over pre-encoded entries, in memory) is reported too: it is the
 * floor the store path can reach.
 */
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildCrl, encodeCrlEntry } from "../../src/pki/crl.ts";
import { keyIdentifier } from "../../src/pki/certificate.ts";
import { readCertificateFields } from "../../src/pki/certificate-fields.ts";
import { atMost, headline, metric, unavailable, type BenchResult, type Metric, type Suite, type SuiteContext } from "../harness.ts";
import { cpuWindow, type CpuWindow } from "../machine.ts";
import { run, runMeasured, type MeasuredRun } from "../proc.ts";
import { addBenchResident, openBenchContext } from "../fixtures/context.ts";
import { insertRows, makeRows, type BenchRow } from "../fixtures/store.ts";
import { exportCa, opensslCaConfig } from "../fixtures/pki.ts";
import { appendPeerFiles, countEntries, opensslVerifyCrl } from "./crl-files.ts";
import { crlSharded, SHARDED_ROWS } from "./crl-sharded.ts";

const CHILD = fileURLToPath(new URL("../children/crl-build.ts", import.meta.url));
const TSX_IMPORT = import.meta.resolve("tsx");

export const crlSuite: Suite = {
  ids: ["CRL-100K", "CRL-1M", "CRL-SHARDED"],
  async run(ctx: SuiteContext): Promise<BenchResult[]> {
    const results = await fullCrls(ctx);
    // A quick run builds the 100 k CRL only: say so, rather than leave CRL-1M out of the report.
    if (ctx.options.quick && (!ctx.options.only || ctx.options.only.has("CRL-1M"))) {
      results.push(unavailable("CRL-1M", "full CRL of 1,000,000 revoked entries from the store", "not in --quick (it inserts 1,000,000 rows first); CRL-100K is the quick run's CRL figure"));
    }
    if (!ctx.options.only || ctx.options.only.has("CRL-SHARDED")) {
      if (ctx.options.fullScale && !ctx.options.quick) results.push(await crlSharded(ctx));
      else {
        const why = ctx.options.quick ? "not in --quick" : "runs only with --full-scale";
        results.push(unavailable("CRL-SHARDED", `${SHARDED_ROWS.toLocaleString("en-US")} revoked over 128 municipality partitions`, `${why}: it loads ${SHARDED_ROWS.toLocaleString("en-US")} CRL entries first (minutes)`));
      }
    }
    return results;
  },
};

/** CRL-100K and CRL-1M: one store grown to each size in turn. */
async function fullCrls(ctx: SuiteContext): Promise<BenchResult[]> {
  const sizes = ctx.options.quick ? [100_000] : [100_000, 1_000_000];
  const wanted = sizes.filter((n) => !ctx.options.only || ctx.options.only.has(idOf(n)));
  if (wanted.length === 0) return [];
  const bench = await openBenchContext(ctx.cleanup, "crl");
  const dir = ctx.cleanup.tempDir("crl-peers");
  try {
    const { context } = bench;
    const residentId = await addBenchResident(context);
    const ca = await exportCa(context, "sign", dir);
    writeFileSync(join(dir, "crlnumber"), "01\n");
    const indexFile = join(dir, "index.txt");
    const serialsFile = join(dir, "serials.txt");
    writeFileSync(indexFile, "");
    writeFileSync(serialsFile, "");
    writeFileSync(join(dir, "ca.cnf"), opensslCaConfig(ca, indexFile));
    const caFields = readCertificateFields(context.ca.authority("sign").certificateDer);
    const signer = context.ca.authority("sign").signer;
    const aki = keyIdentifier(context.ca.authority("sign").publicKey);
    const cfssl = await hasCfssl();

    const all: BenchRow[] = [];
    const results: BenchResult[] = [];
    for (const n of wanted) {
      // Grow the store (and the peers' files) to n revoked rows.
      const rows = makeRows(n - all.length, 1, all.length);
      ctx.progress(`${idOf(n)}: inserting ${rows.length.toLocaleString("en-US")} revoked rows into the store`);
      const insertRate = await insertRows(context.store.db, rows, { type: "sign", residentId, municipality: "131016" });
      appendPeerFiles(indexFile, serialsFile, rows);
      for (const r of rows) all.push(r);

      const cpu: CpuWindow[] = [];
      await ctx.settle(15000);
      ctx.progress(`${idOf(n)}: building the CRL from the store (child process)`);
      const oursFile = join(dir, `ours-${n}.der`);
      let close = cpuWindow(`${idOf(n)} ours (store → DER on disk)`);
      const child = await runMeasured(ctx.cleanup, process.execPath, ["--import", TSX_IMPORT, CHILD, bench.dataDir, oursFile], {
        cwd: dir,
        timeoutMs: 600_000,
      });
      cpu.push(close());
      if (child.status !== 0) throw new Error(`CRL child failed: ${child.stderr.slice(0, 2000)}`);
      const ours = JSON.parse(child.stdout.trim().split("\n").at(-1)!) as { buildMs: number; writeMs: number; bytes: number; rssBeforeKb: number };
      const verify = await opensslVerifyCrl(oursFile, ca.caPem, dir);
      const entries = countEntries(new Uint8Array(readFileSync(oursFile)));

      ctx.progress(`${idOf(n)}: openssl ca -gencrl on the same entries`);
      close = cpuWindow(`${idOf(n)} openssl ca -gencrl`);
      const openssl = await runMeasured(ctx.cleanup, "openssl", ["ca", "-gencrl", "-config", "ca.cnf", "-out", `openssl-${n}.pem`], { cwd: dir, timeoutMs: 600_000 });
      cpu.push(close());
      if (openssl.status !== 0) throw new Error(`openssl ca -gencrl failed: ${openssl.stderr}`);
      await run("openssl", ["crl", "-in", `openssl-${n}.pem`, "-outform", "DER", "-out", `openssl-${n}.der`], { cwd: dir });
      const opensslBytes = statSync(join(dir, `openssl-${n}.der`)).size;

      let cfsslRun: MeasuredRun | undefined;
      if (cfssl) {
        ctx.progress(`${idOf(n)}: cfssl gencrl on the same serials`);
        close = cpuWindow(`${idOf(n)} cfssl gencrl`);
        cfsslRun = await runMeasured(ctx.cleanup, "cfssl", ["gencrl", serialsFile, ca.caPem, ca.caKey], { cwd: dir, stdoutFile: join(dir, `cfssl-${n}.b64`), timeoutMs: 600_000 });
        cpu.push(close());
        if (cfsslRun.status !== 0) cfsslRun = undefined;
      }

      ctx.progress(`${idOf(n)}: pure encoder (pre-encoded entries in memory)`);
      const encoded = all.map((r) => encodeCrlEntry({ serial: r.serial, revokedAt: r.revokedAt, reason: r.reason }));
      const thisUpdate = new Date();
      const tp = performance.now();
      const pure = await buildCrl({
        issuerNameDer: caFields.subjectNameDer,
        authorityKeyIdentifier: aki,
        signer,
        thisUpdate,
        nextUpdate: new Date(thisUpdate.getTime() + 86_400_000),
        crlNumber: 1n,
        entries: encoded,
      });
      const pureMs = performance.now() - tp;

      const oursMs = ours.buildMs + ours.writeMs;
      const oursBpe = ours.bytes / n;
      const opensslBpe = opensslBytes / n;
      const metrics: Metric[] = [
        headline(metric("ours: store → signed DER on disk", oursMs, "ms")),
        headline(metric("openssl ca -gencrl", openssl.wallMs, "ms")),
        metric("t / t(openssl)", oursMs / openssl.wallMs, "×", "ratio", atMost(0.5)),
        headline(metric("ours peak RSS (child process)", child.maxRssKb / 1024, "MiB")),
        metric("ours RSS growth during the build (peak − before)", (child.maxRssKb - ours.rssBeforeKb) / 1024, "MiB"),
        headline(metric("openssl peak RSS", openssl.maxRssKb / 1024, "MiB")),
        metric("RSS / RSS(openssl)", child.maxRssKb / openssl.maxRssKb, "×", "ratio", atMost(1.0)),
        metric("ours bytes/entry", oursBpe, "B"),
        metric("openssl bytes/entry (same entries)", opensslBpe, "B"),
        metric("bytes/entry difference to openssl (abs)", Math.abs(oursBpe - opensslBpe), "B", "limit", atMost(0.5)),
        headline(metric("pure encoder (pre-encoded entries → signed DER, in memory)", pureMs, "ms")),
        metric("pure encoder t / t(openssl)", pureMs / openssl.wallMs, "×"),
        metric("child process wall (node start + context open + build + write)", child.wallMs, "ms"),
        metric("store insert rate (setup, not timed)", insertRate, "rows/s"),
      ];
      if (cfsslRun) {
        metrics.push(
          headline(metric("cfssl gencrl", cfsslRun.wallMs, "ms")),
          metric("t / t(cfssl)", oursMs / cfsslRun.wallMs, "×", "ratio"),
          metric("cfssl peak RSS", cfsslRun.maxRssKb / 1024, "MiB"),
        );
      }
      const notes = [
        `${n.toLocaleString("en-US")} revoked bench rows (16-byte random serials; reasons keyCompromise, affiliationChanged, superseded, cessationOfOperation, unspecified in turn — unspecified carries no reasonCode, as in openssl's index); the rows carry no DER (certificate_der), which the CRL path never reads.`,
        `ours: context.crls.build("sign") reads the entries pre-encoded at revocation (crl_entries) in keyset pages of 20,000, each page concatenated by SQLite, copies them into one buffer, signs, then writeFileSync; RSS includes Node + tsx + the context (${Math.round(ours.rssBeforeKb / 1024)} MiB before the build).`,
        `openssl crl -CAfile on ours: ${verify}; ${entries} entries listed.`,
        `pure encoder DER: ${pure.length.toLocaleString("en-US")} bytes.`,
      ];
      if (cfsslRun) notes.push("cfssl gencrl: same serials, but no reason codes and revocationDate = now (its CLI takes serials only), entries in input order.");
      else notes.push(cfssl ? "cfssl gencrl failed." : "cfssl not installed: cfssl comparison unavailable.");
      if (entries !== n) notes.push(`WARNING: the CRL lists ${entries} entries, expected ${n}.`);
      results.push({ id: idOf(n), title: `full CRL of ${n.toLocaleString("en-US")} revoked entries from the store`, status: "measured", metrics, notes, cpu });
    }
    return results;
  } finally {
    await bench.destroy();
    ctx.cleanup.removeDir(dir);
  }
}

const idOf = (n: number): string => (n >= 1_000_000 ? `CRL-${n / 1_000_000}M` : `CRL-${n / 1000}K`);

async function hasCfssl(): Promise<boolean> {
  return run("cfssl", ["version"]).then(
    () => true,
    () => false,
  );
}
