/**
 * Child process for CRL-1M and CRL-SHARDED: open the context on a populated store, build signing
 * CRLs from the revocation store (`context.crls.build`) and write their DER to disk. Runs in its
 * own process so its peak RSS (measured by /usr/bin/time around it) is the CRL builds' alone.
 *
 *   node --import tsx bench/children/crl-build.ts <dataDir> <out.der>
 *       the full signing CRL; prints { buildMs, writeMs, bytes, rssBeforeKb, maxRssKb }
 *   node --import tsx bench/children/crl-build.ts <dataDir> <outDir> --partitions CODE,CODE,…
 *       those municipality partitions one after the other, each written to <outDir>/<CODE>.der
 *       before the next is built; prints { buildMs, writeMs, elapsedMs, partitions, bytes,
 *       largestBytes, largest, rssBeforeKb, maxRssKb }
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Context } from "../../src/services/context.ts";
import { BENCH_ENV } from "../fixtures/context.ts";

const [dataDir, out, flag, list] = process.argv.slice(2);
if (!dataDir || !out || (flag !== undefined && (flag !== "--partitions" || !list))) {
  throw new Error("usage: crl-build.ts <dataDir> <out.der> | crl-build.ts <dataDir> <outDir> --partitions CODE,CODE,…");
}

const context = await Context.open({ dataDir, env: { ...BENCH_ENV } });
try {
  const rssBeforeKb = Math.round(process.memoryUsage().rss / 1024);
  const result = list ? await partitions(list.split(","), out) : await full(out);
  process.stdout.write(JSON.stringify({ ...result, rssBeforeKb, maxRssKb: process.resourceUsage().maxRSS }) + "\n");
} finally {
  await context.close();
}

async function full(outFile: string) {
  const t0 = performance.now();
  const crl = await context.crls.build("sign", undefined);
  const t1 = performance.now();
  writeFileSync(outFile, crl.der);
  const t2 = performance.now();
  return { buildMs: t1 - t0, writeMs: t2 - t1, bytes: crl.der.length };
}

async function partitions(codes: readonly string[], outDir: string) {
  let buildMs = 0;
  let writeMs = 0;
  let bytes = 0;
  let largest = { code: "", bytes: 0 };
  const start = performance.now();
  for (const code of codes) {
    const t0 = performance.now();
    const crl = await context.crls.build("sign", code);
    const t1 = performance.now();
    writeFileSync(join(outDir, `${code}.der`), crl.der);
    const t2 = performance.now();
    buildMs += t1 - t0;
    writeMs += t2 - t1;
    bytes += crl.der.length;
    if (crl.der.length > largest.bytes) largest = { code, bytes: crl.der.length };
  }
  return { buildMs, writeMs, elapsedMs: performance.now() - start, partitions: codes.length, bytes, largestBytes: largest.bytes, largest: largest.code };
}
