/**
 * OCSP-REFRESH: the batch refresher (`OcspRefresher`, what `openjpki ocsp refresh` runs) pre-signs
 * N answers (200,000; quick 20,000) for distinct certificates, 10 % revoked, and writes them into
 * the durable response store (`ocsp_responses`) in batches of 1,000, one transaction each. Ratio
 * to R_sign2. Also measured in the same run, as a ceiling: Node's async RSA signing alone (the
 * same thread pool, as many in flight), so the report shows what the encoding, the store reads
 * and the writes cost on top of the signatures. On PostgreSQL too when DATABASE_URL is set.
 */
import { generateKeyPair, sign } from "node:crypto";
import { promisify } from "node:util";
import { OcspRefresher, type RefreshSummary } from "../../src/services/ocsp-refresher.ts";
import { atLeast, headline, metric, type BenchResult, type Metric, type Suite, type SuiteContext } from "../harness.ts";
import { cpuWindow, type CpuWindow } from "../machine.ts";
import { addBenchResident, openBenchContext, type Backend } from "../fixtures/context.ts";
import { insertRows, makeRows } from "../fixtures/store.ts";

const generateRsa = promisify(generateKeyPair);
const IN_FLIGHT = 1024; // the refresher's default

interface Run {
  backend: Backend;
  summary: RefreshSummary;
  stored: number;
  storedRevoked: number;
  expectedRevoked: number;
  derBytes: number;
}

export const refreshSuite: Suite = {
  ids: ["OCSP-REFRESH"],
  async run(ctx: SuiteContext): Promise<BenchResult[]> {
    const n = ctx.options.quick ? 20_000 : 200_000;
    const backends: Backend[] = process.env.DATABASE_URL ? ["sqlite", "postgres"] : ["sqlite"];
    const cpu: CpuWindow[] = [];
    const b = await ctx.baselines();
    // The ceiling is measured before and after the runs, and averaged: on a shared machine the
    // load moves between windows, and the ratio refresher / ceiling is what the refresher adds.
    const ceilings = [await signCeiling(ctx, Math.min(n, 20_000), cpu)];
    const runs: Run[] = [];
    for (const backend of backends) runs.push(await refreshOnce(ctx, backend, n, cpu));
    ceilings.push(await signCeiling(ctx, Math.min(n, 20_000), cpu));
    const ceiling = (ceilings[0]! + ceilings[1]!) / 2;

    const sqlite = runs[0]!;
    const rate = sqlite.summary.written / sqlite.summary.seconds;
    const metrics: Metric[] = [
      headline(metric("answers signed and stored per second (SQLite)", rate, "/s")),
      metric("rate / R_sign2", rate / b.signPerS2, "×", "ratio", atLeast(0.8)),
      headline(metric("hours to refresh 200 M answers at this rate", 200e6 / rate / 3600, "h")),
      metric(`Node async RSA sign alone (${IN_FLIGHT} in flight, mean of before and after): signatures/s`, ceiling, "/s"),
      metric("ceiling / R_sign2", ceiling / b.signPerS2, "×", "ratio"),
      metric("refresher / Node sign ceiling", rate / ceiling, "×", "ratio"),
      metric("answers missing or wrong after the run", sqlite.summary.written - sqlite.stored + Math.abs(sqlite.storedRevoked - sqlite.expectedRevoked), ""),
    ];
    const pg = runs.find((r) => r.backend === "postgres");
    if (pg) {
      const pgRate = pg.summary.written / pg.summary.seconds;
      metrics.push(headline(metric("answers signed and stored per second (PostgreSQL)", pgRate, "/s")), metric("PostgreSQL: rate / R_sign2", pgRate / b.signPerS2, "×", "ratio", atLeast(0.8)));
    }
    return [
      {
        id: "OCSP-REFRESH",
        title: `batch pre-signing of ${n.toLocaleString("en-US")} OCSP answers into the durable response store`,
        status: "measured",
        metrics,
        notes: [
          ...runs.map(
            (r) =>
              `${r.backend}: ${r.summary.written.toLocaleString("en-US")} answers in ${r.summary.seconds.toFixed(2)} s, ${r.summary.batches} transactions ` +
              `(${r.backend === "sqlite" ? "WAL, synchronous=FULL: one fsync per commit" : "commit = WAL flush, default synchronous_commit"}); ` +
              `${r.stored.toLocaleString("en-US")} rows in ocsp_responses, ${r.storedRevoked.toLocaleString("en-US")} signed for a revoked state (${r.expectedRevoked.toLocaleString("en-US")} rows revoked); ${Math.round(r.derBytes)} bytes stored per answer (signed part + signature; the ~1 KB responder certificate is put back when serving).`,
          ),
          "The refresher reads the certificates in keyset pages of 2,000 joined with their stored answers, signs the due ones on libuv's thread pool (1,024 in flight; OcspResponseTemplate: the parts all answers share encoded once per page), and commits 1,000 answers per transaction while the next ones sign.",
          `Bench rows: the certificates carry no DER (certificate_der); the responder and the refresher read only status, time and reason. Baselines: R_sign1 ${Math.round(b.signPerS1)}/s, R_sign2 ${Math.round(b.signPerS2)}/s; Node sign ceiling ${ceilings.map((c) => Math.round(c)).join(" before, ")} after.`,
          ...(pg ? [] : ["PostgreSQL: not run (DATABASE_URL not set)."]),
        ],
        cpu,
      },
    ];
  },
};

async function refreshOnce(ctx: SuiteContext, backend: Backend, n: number, cpu: CpuWindow[]): Promise<Run> {
  const bench = await openBenchContext(ctx.cleanup, `refresh-${backend}`, { backend });
  try {
    const { context } = bench;
    ctx.progress(`OCSP-REFRESH (${backend}): inserting ${n.toLocaleString("en-US")} certificate rows (10 % revoked)`);
    const residentId = await addBenchResident(context);
    const rows = makeRows(n, 10);
    await insertRows(context.store.db, rows, { type: "sign", residentId, municipality: "131016" });
    await ctx.settle(10_000);
    ctx.progress(`OCSP-REFRESH (${backend}): pre-signing ${n.toLocaleString("en-US")} answers into the response store`);
    const close = cpuWindow(`OCSP-REFRESH ${backend}`);
    const summary = await new OcspRefresher(context.ocsp).refresh({ type: "sign", withinMs: 0 });
    cpu.push(close());
    ctx.progress(`  → ${Math.round(summary.written / summary.seconds)} answers/s, ${summary.batches} transactions`);
    const counts = await context.store.db
      .selectFrom("ocsp_responses")
      .select((eb) => [
        eb.fn.countAll<number | string>().as("stored"),
        eb.fn.sum<number | string>(eb.case().when("state", "like", "revoked:%").then(1).else(0).end()).as("revoked"),
        eb.fn.avg<number | string>(eb(eb.fn("length", ["tbs"]), "+", eb.fn("length", ["signature"]))).as("bytes"),
      ])
      .where("ca_type", "=", "sign")
      .executeTakeFirstOrThrow();
    return {
      backend,
      summary,
      stored: Number(counts.stored),
      storedRevoked: Number(counts.revoked),
      expectedRevoked: rows.filter((r) => r.revoked).length,
      derBytes: Number(counts.bytes),
    };
  } finally {
    await bench.destroy();
  }
}

/** Node's async RSA-2048 signing alone: `count` signatures of a 200-byte message, IN_FLIGHT at a time. */
async function signCeiling(ctx: SuiteContext, count: number, cpu: CpuWindow[]): Promise<number> {
  const { privateKey } = await generateRsa("rsa", { modulusLength: 2048 });
  const message = new Uint8Array(200);
  await ctx.settle(10_000);
  ctx.progress(`OCSP-REFRESH: Node async sign ceiling, ${count.toLocaleString("en-US")} signatures, ${IN_FLIGHT} in flight`);
  const close = cpuWindow("OCSP-REFRESH sign ceiling");
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next++ < count) await new Promise<void>((resolve, reject) => sign("sha256", message, privateKey, (err) => (err ? reject(err) : resolve())));
    }),
  );
  const rate = count / ((performance.now() - t0) / 1000);
  cpu.push(close());
  return rate;
}
