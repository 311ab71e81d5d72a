/**
 * Child process for CRL-1M: open the context on a populated store, build the full signing CRL
 * from the revocation store (`context.crls.build`) and write the DER to disk. Runs in its own
 * process so its peak RSS (measured by /usr/bin/time around it) is the CRL build's alone.
 *
 *   node --import tsx bench/children/crl-build.ts <dataDir> <out.der>
 * Prints one JSON line: { buildMs, writeMs, bytes, rssBeforeKb, maxRssKb }.
 */
import { writeFileSync } from "node:fs";
import { Context } from "../../src/services/context.ts";
import { BENCH_ENV } from "../fixtures/context.ts";

const [dataDir, outFile] = process.argv.slice(2);
if (!dataDir || !outFile) throw new Error("usage: crl-build.ts <dataDir> <out.der>");

const context = await Context.open({ dataDir, env: { ...BENCH_ENV } });
try {
  const rssBeforeKb = Math.round(process.memoryUsage().rss / 1024);
  const t0 = performance.now();
  const crl = await context.crls.build("sign", undefined);
  const t1 = performance.now();
  writeFileSync(outFile, crl.der);
  const t2 = performance.now();
  const result = { buildMs: t1 - t0, writeMs: t2 - t1, bytes: crl.der.length, rssBeforeKb, maxRssKb: process.resourceUsage().maxRSS };
  process.stdout.write(JSON.stringify(result) + "\n");
} finally {
  await context.close();
}
