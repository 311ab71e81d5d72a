/**
 * CRL-1M (and CRL-100K): a full CRL from the revocation store to signed DER on disk, against
 * `openssl ca -gencrl` (and `cfssl gencrl`) on the same serials, revocation times and reasons.
 *
 * The store is a real one (Context.open on SQLite), filled with bench rows in big
 * transactions; the CRL is built in a child process (`children/crl-build.ts`) so its peak RSS
 * is measured alone by /usr/bin/time, like openssl's. The pure encoder (`buildCrl` over
 * pre-encoded entries, in memory) is reported too: it is the floor the store path can reach.
 */
import { appendFileSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildCrl, encodeCrlEntry } from "../../src/pki/crl.ts";
import { keyIdentifier } from "../../src/pki/certificate.ts";
import { readCertificateFields } from "../../src/pki/certificate-fields.ts";
import { atMost, headline, metric, type BenchResult, type Metric, type Suite, type SuiteContext } from "../harness.ts";
import { cpuWindow, waitQuiet, type CpuWindow } from "../machine.ts";
import { run, runMeasured, type MeasuredRun } from "../proc.ts";
import { addBenchResident, openBenchContext } from "../fixtures/context.ts";
import { insertRows, makeRows, serialHex, type BenchRow } from "../fixtures/store.ts";
import { exportCa, indexLine, opensslCaConfig } from "../fixtures/pki.ts";

const CHILD = fileURLToPath(new URL("../children/crl-build.ts", import.meta.url));
const TSX_IMPORT = import.meta.resolve("tsx");
const NOT_AFTER = new Date("2031-03-31T14:59:59Z");

export const crlSuite: Suite = {
  ids: ["CRL-100K", "CRL-1M"],
  async run(ctx: SuiteContext): Promise<BenchResult[]> {
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
        await waitQuiet(ctx.options.quick ? 3000 : 15000);
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
        const verify = await run("sh", ["-c", `openssl crl -inform DER -in ${JSON.stringify(oursFile)} -CAfile ${JSON.stringify(ca.caPem)} -noout 2>&1`], { cwd: dir }).then(
          (out) => out,
          (error: Error) => error.message,
        );
        const entries = countEntries(new Uint8Array(readFileSync(oursFile)));

        ctx.progress(`${idOf(n)}: openssl ca -gencrl on the same entries`);
        close = cpuWindow(`${idOf(n)} openssl ca -gencrl`);
        const openssl = await runMeasured(ctx.cleanup, "openssl", ["ca", "-gencrl", "-config", "ca.cnf", "-out", `openssl-${n}.pem`], { cwd: dir });
        cpu.push(close());
        if (openssl.status !== 0) throw new Error(`openssl ca -gencrl failed: ${openssl.stderr}`);
        await run("openssl", ["crl", "-in", `openssl-${n}.pem`, "-outform", "DER", "-out", `openssl-${n}.der`], { cwd: dir });
        const opensslBytes = statSync(join(dir, `openssl-${n}.der`)).size;

        let cfsslRun: MeasuredRun | undefined;
        if (cfssl) {
          ctx.progress(`${idOf(n)}: cfssl gencrl on the same serials`);
          close = cpuWindow(`${idOf(n)} cfssl gencrl`);
          cfsslRun = await runMeasured(ctx.cleanup, "cfssl", ["gencrl", serialsFile, ca.caPem, ca.caKey], { cwd: dir, stdoutFile: join(dir, `cfssl-${n}.b64`) });
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
          headline(metric("ours peak RSS (child process)", child.maxRssKb / 1024, "MB")),
          metric("ours RSS growth during the build (peak − before)", (child.maxRssKb - ours.rssBeforeKb) / 1024, "MB"),
          headline(metric("openssl peak RSS", openssl.maxRssKb / 1024, "MB")),
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
            metric("cfssl peak RSS", cfsslRun.maxRssKb / 1024, "MB"),
          );
        }
        const notes = [
          `${n.toLocaleString("en-US")} revoked bench rows (16-byte random serials; reasons keyCompromise, affiliationChanged, superseded, cessationOfOperation, unspecified in turn — unspecified carries no reasonCode, as in openssl's index); each row's der column is a 2-byte placeholder, which the CRL path never reads.`,
          `ours: context.crls.build("sign") reads the store in keyset pages of 10,000 and encodes into one buffer, then writeFileSync; RSS includes Node + tsx + the context (${Math.round(ours.rssBeforeKb / 1024)} MB before the build).`,
          `openssl crl -CAfile on ours: ${/verify OK/.test(verify) ? "verify OK" : verify.trim().slice(0, 200)}; ${entries} entries listed.`,
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
  },
};

const idOf = (n: number): string => (n >= 1_000_000 ? `CRL-${n / 1_000_000}M` : `CRL-${n / 1000}K`);

function appendPeerFiles(indexFile: string, serialsFile: string, rows: readonly BenchRow[]): void {
  const CHUNK = 50_000;
  for (let i = 0; i < rows.length; i += CHUNK) {
    const slice = rows.slice(i, i + CHUNK);
    appendFileSync(indexFile, slice.map((r) => indexLine(serialHex(r.serial), NOT_AFTER, { at: r.revokedAt, reason: r.reason })).join("\n") + "\n");
    appendFileSync(serialsFile, slice.map((r) => BigInt("0x" + serialHex(r.serial)).toString()).join("\n") + "\n");
  }
}

/** Count the revokedCertificates entries of a DER CRL (a minimal TLV walk; no per-entry parsing). */
function countEntries(der: Uint8Array): number {
  const tlvAt = (at: number): { start: number; end: number; tag: number } => {
    const tag = der[at]!;
    let len = der[at + 1]!;
    let start = at + 2;
    if (len & 0x80) {
      const k = len & 0x7f;
      len = 0;
      for (let i = 0; i < k; i++) len = len * 256 + der[at + 2 + i]!;
      start += k;
    }
    return { tag, start, end: start + len };
  };
  const tbs = tlvAt(tlvAt(0).start);
  let at = tbs.start;
  const fields: { tag: number; start: number; end: number }[] = [];
  while (at < tbs.end) {
    const t = tlvAt(at);
    fields.push(t);
    at = t.end;
  }
  // version, signature, issuer, thisUpdate, nextUpdate, then revokedCertificates (a SEQUENCE) if any.
  const revoked = fields[5];
  if (!revoked || revoked.tag !== 0x30) return 0;
  let n = 0;
  for (at = revoked.start; at < revoked.end; at = tlvAt(at).end) n++;
  return n;
}

async function hasCfssl(): Promise<boolean> {
  return run("cfssl", ["version"]).then(
    () => true,
    () => false,
  );
}
