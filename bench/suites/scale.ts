/**
 * SCALE-OCSP, SCALE-REVOKE, SCALE-CRL: do the OCSP and CRL figures hold on a big store? Runs only
 * with `--store DIR|URL` (a store filled by bench/generate.ts: a SQLite data directory, or a
 * PostgreSQL URL with `--schema NAME`, default openjpki_scale), and measures the same thing on a
 * small reference store (2,000 bench rows, a fresh context on the same back end) in the same run:
 *
 *   SCALE-OCSP    2,000 serials sampled at random from the big store (index seeks), answers
 *                 pre-signed, then GET /ocsp/sign/<base64> with 64 connections (bench/load.ts),
 *                 and context.ocsp.answer in-process (one row read by primary key per answer);
 *   SCALE-REVOKE  revoke → GET /ocsp/sign says revoked, on both stores (this revokes a few of
 *                 the big store's rows: they stay revoked);
 *   SCALE-CRL     one municipality partition of the signing CA (context.crls.build("sign", code))
 *                 and the CA's full CRL, from the big store; the partition's cost per entry
 *                 against the full CRL's tells whether the partition query is index-driven; the
 *                 query plan is printed (best of 3 builds each, after one untimed).
 */
import { Agent } from "node:http";
import { sql } from "kysely";
import { Context } from "../../src/services/context.ts";
import { startServer, type RunningServer } from "../../src/http/server.ts";
import { certIdFor, ocspIssuerFromCertificate } from "../../src/pki/ocsp.ts";
import { DEFAULT_MUNICIPALITIES } from "../../src/config/municipalities.ts";
import { atLeast, atMost, headline, httpGet, metric, pollUntil, quantile, type BenchResult, type Metric, type Suite, type SuiteContext } from "../harness.ts";
import { cpuWindow, type CpuWindow } from "../machine.ts";
import { loadPointTiming, runLoad, type LoadResult } from "../load.ts";
import { BENCH_ENV, addBenchResident, openBenchContext } from "../fixtures/context.ts";
import { insertRows, makeRows } from "../fixtures/store.ts";
import { ocspGetPath, ocspRequestDer } from "../fixtures/pki.ts";

const SAMPLE = 2000;
const CONNECTIONS = 64;
/** Timed CRL builds per scope in SCALE-CRL, after one untimed: the best is reported. */
const CRL_BUILDS = 3;

interface Sampled {
  serial: Uint8Array;
  revoked: boolean;
  path: string;
  request: Uint8Array;
}

interface Side {
  label: string;
  context: Context;
  server: RunningServer;
  port: number;
  sample: Sampled[];
}

export const scaleSuite: Suite = {
  ids: ["SCALE-OCSP", "SCALE-REVOKE", "SCALE-CRL"],
  async run(ctx: SuiteContext): Promise<BenchResult[]> {
    const store = ctx.options.store;
    if (!store) return [];
    const wants = (id: string) => !ctx.options.only || ctx.options.only.has(id);
    const isUrl = /^postgres(ql)?:\/\//.test(store);
    const schema = ctx.options.storeSchema ?? "openjpki_scale";
    const dataDir = isUrl ? ctx.cleanup.tempDir("scale-pg") : store;
    ctx.progress(`SCALE: opening ${isUrl ? `PostgreSQL schema ${schema}` : `SQLite store in ${store}`}`);
    const big = await Context.open({ dataDir, env: { ...BENCH_ENV }, settings: { openStatus: true }, ...(isUrl ? { databaseUrl: store, databaseSchema: schema } : {}) });
    let bigClosed: Promise<void> | undefined;
    const closeBig = () => (bigClosed ??= big.close());
    ctx.cleanup.onExit(closeBig); // also if opening the small store below fails
    // The reference store is on the same back end: a fresh schema next to the big one on PostgreSQL.
    if (isUrl) process.env.DATABASE_URL ??= store;
    const small = await openBenchContext(ctx.cleanup, "scale-small", { backend: isUrl ? "postgres" : "sqlite", settings: { openStatus: true } });
    const sides: Side[] = [];
    try {
      const facts = await storeFacts(big);
      ctx.progress(`SCALE: ${facts.rows.toLocaleString("en-US")} certificate rows (${facts.revoked.toLocaleString("en-US")} revoked) on ${big.store.dialect}`);
      if (facts.rows < 10_000) throw new Error(`the store has only ${facts.rows} certificate rows: fill it with bench/generate.ts first`);
      const residentId = await addBenchResident(small.context);
      await insertRows(small.context.store.db, makeRows(SAMPLE, 20), { type: "sign", residentId, municipality: "131016" });

      sides.push(await side(ctx, "big store", big, await sampleBig(big)));
      sides.push(await side(ctx, "small store", small.context, await sampleAll(small.context)));
      const where = `${big.store.dialect === "postgres" ? "PostgreSQL" : "SQLite"}, ${facts.rows.toLocaleString("en-US")} rows (${facts.revoked.toLocaleString("en-US")} revoked)`;

      const results: BenchResult[] = [];
      if (wants("SCALE-OCSP")) results.push(await ocspAtScale(ctx, sides, where));
      if (wants("SCALE-REVOKE")) results.push(await revokeAtScale(ctx, sides, where));
      if (wants("SCALE-CRL")) results.push(await crlAtScale(ctx, big, where));
      return results;
    } finally {
      for (const s of sides) await s.server.close().catch(() => undefined);
      await closeBig();
      await small.destroy();
    }
  },
};

async function storeFacts(context: Context): Promise<{ rows: number; revoked: number }> {
  const rows = await context.store.db
    .selectFrom("certificates")
    .select(["status", (eb) => eb.fn.countAll<number>().as("n")])
    .groupBy("status")
    .execute();
  const count = (pred: (s: string) => boolean) => rows.filter((r) => pred(r.status)).reduce((s, r) => s + Number(r.n), 0);
  return { rows: count(() => true), revoked: count((s) => s !== "valid") };
}

function sampled(context: Context, serialHex: string, status: string): Sampled {
  const issuer = ocspIssuerFromCertificate(context.ca.authority("sign").certificateDer);
  const serial = new Uint8Array(Buffer.from(serialHex, "hex"));
  const req = ocspRequestDer(certIdFor(issuer, serial));
  return { serial, revoked: status !== "valid", path: ocspGetPath("/ocsp/sign", req), request: req };
}

/** SAMPLE signing serials at random: each one index seek from a random 16-byte serial. */
async function sampleBig(context: Context): Promise<Sampled[]> {
  const seen = new Set<string>();
  const out: Sampled[] = [];
  for (let tries = 0; out.length < SAMPLE && tries < SAMPLE * 4; tries++) {
    const from = (0x40 + Math.floor(Math.random() * 0x40)).toString(16).toUpperCase() + [...Array(30)].map(() => "0123456789ABCDEF"[Math.floor(Math.random() * 16)]).join("");
    const row = await context.store.db
      .selectFrom("certificates")
      .select(["serial_hex", "status"])
      .where("ca_type", "=", "sign")
      .where("serial_hex", ">=", from)
      .orderBy("serial_hex")
      .limit(1)
      .executeTakeFirst();
    if (row && !seen.has(row.serial_hex)) {
      seen.add(row.serial_hex);
      out.push(sampled(context, row.serial_hex, row.status));
    }
  }
  return out;
}

async function sampleAll(context: Context): Promise<Sampled[]> {
  const rows = await context.store.db.selectFrom("certificates").select(["serial_hex", "status"]).where("ca_type", "=", "sign").limit(SAMPLE).execute();
  return rows.map((r) => sampled(context, r.serial_hex, r.status));
}

async function side(ctx: SuiteContext, label: string, context: Context, sample: Sampled[]): Promise<Side> {
  ctx.progress(`SCALE: ${label}: pre-signing ${sample.length} answers, starting the server`);
  await Promise.all(sample.map((s) => context.ocsp.answer(s.request, "sign")));
  const server = await startServer(context, { host: "127.0.0.1", port: 0, handleSignals: false });
  return { label, context, server, port: Number(new URL(server.url).port), sample };
}

/** In-process cached answers/s: the store lookup plus the cache, without HTTP. */
async function inProcessRate(s: Side, seconds: number): Promise<number> {
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) {
    for (let k = 0; k < 100; k++) await s.context.ocsp.answer(s.sample[n++ % s.sample.length]!.request, "sign");
  }
  return n / ((performance.now() - t0) / 1000);
}

async function ocspAtScale(ctx: SuiteContext, sides: Side[], where: string): Promise<BenchResult> {
  const cpu: CpuWindow[] = [];
  const timing = loadPointTiming(ctx.options.quick);
  const http: LoadResult[] = [];
  const inProc: number[] = [];
  for (const s of sides) {
    await ctx.settle(8000);
    ctx.progress(`SCALE-OCSP: ${s.label}, GET /ocsp/sign, ${CONNECTIONS} connections over ${s.sample.length} serials`);
    const close = cpuWindow(`SCALE-OCSP ${s.label}`);
    const r = await runLoad(ctx.cleanup, {
      port: s.port,
      requests: s.sample.map((x) => ({ method: "GET", path: x.path })),
      connections: CONNECTIONS,
      ...timing,
      check: "ocsp",
    });
    cpu.push(close());
    ctx.progress(`  → ${Math.round(r.rps)} req/s, p99 ${r.p99Ms} ms, ${r.failed} failed`);
    http.push(r);
    inProc.push(await inProcessRate(s, ctx.options.quick ? 1 : 3));
  }
  const [b, s] = [http[0]!, http[1]!];
  const metrics: Metric[] = [
    headline(metric("big store: req/s", b.rps, "req/s")),
    metric("big store: p99", b.p99Ms, "ms", "limit", atMost(5)),
    headline(metric("small store (2,000 rows): req/s", s.rps, "req/s")),
    metric("small store: p99", s.p99Ms, "ms"),
    metric("rps big / rps small (holds at size)", b.rps / s.rps, "×", "ratio", atLeast(0.9)),
    headline(metric("big store: context.ocsp.answer in-process (cached answer + 1 row read)", inProc[0]!, "/s")),
    metric("small store: context.ocsp.answer in-process", inProc[1]!, "/s"),
    metric("in-process big / small", inProc[0]! / inProc[1]!, "×", "ratio", atLeast(0.9)),
    metric("failed requests (both)", b.failed + s.failed, "", "limit", atMost(0)),
  ];
  return {
    id: "SCALE-OCSP",
    title: `pre-signed OCSP (GET, no nonce) on a big store: ${where}`,
    status: "measured",
    metrics,
    notes: [
      `${sides[0]!.sample.length} signing serials sampled by random index seeks (${sides[0]!.sample.filter((x) => x.revoked).length} revoked); the small store: 2,000 bench rows, 5 % revoked, a fresh context on the same back end (${sides[1]!.context.store.dialect}).`,
      "A cached answer is first confirmed by reading the certificate's row by primary key (ca_type, serial_hex); after that it is served while the CA's revocation version is unchanged (one read per event-loop turn, src/services/ocsp-revocation-watch.ts). The big store's pages for the sampled rows are in the OS page cache after the pre-signing pass.",
      `big: ${b.recorded} responses in ${b.seconds} s, p50/p99 ${b.p50Ms}/${b.p99Ms} ms, client CPU ${b.clientCpuS} s; small: ${s.recorded} in ${s.seconds} s, p50/p99 ${s.p50Ms}/${s.p99Ms} ms.`,
    ],
    cpu,
  };
}

/** The certStatus tag right after the CertID (which ends with the serial): 0x80 good, 0xA1 revoked. */
function statusOf(der: Buffer, serial: Uint8Array): number | undefined {
  const tail = Buffer.concat([Buffer.of(0x02, serial.length), serial]);
  const at = der.indexOf(tail);
  return at < 0 ? undefined : der[at + tail.length];
}

async function revokeAtScale(ctx: SuiteContext, sides: Side[], where: string): Promise<BenchResult> {
  const count = ctx.options.quick ? 20 : 100;
  const cpu: CpuWindow[] = [];
  const p99: number[] = [];
  const p50: number[] = [];
  const revokeP50: number[] = [];
  let timeouts = 0;
  for (const s of sides) {
    const candidates = s.sample.filter((x) => !x.revoked).slice(0, count);
    ctx.progress(`SCALE-REVOKE: ${s.label}, ${candidates.length} revocations, each followed by GET /ocsp/sign until it says revoked`);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const close = cpuWindow(`SCALE-REVOKE ${s.label}`);
    const ms: number[] = [];
    const rev: number[] = [];
    try {
      for (const c of candidates) {
        const serialHex = Buffer.from(c.serial).toString("hex").toUpperCase();
        const t0 = performance.now();
        await s.context.ca.revoke({ type: "sign", serialHex, reason: "keyCompromise", by: "hotline" });
        const t1 = performance.now();
        rev.push(t1 - t0);
        c.revoked = true;
        const seen = await pollUntil(async () => statusOf(await httpGet(agent, s.port, c.path), c.serial) === 0xa1);
        if (seen === undefined) timeouts++;
        else ms.push(seen - t1);
      }
    } finally {
      agent.destroy();
    }
    cpu.push(close());
    const sorted = Float64Array.from(ms).sort();
    p50.push(quantile(sorted, 0.5));
    p99.push(quantile(sorted, 0.99));
    revokeP50.push(quantile(Float64Array.from(rev).sort(), 0.5));
  }
  return {
    id: "SCALE-REVOKE",
    title: `revocation → OCSP says revoked, on a big store: ${where}`,
    status: "measured",
    metrics: [
      headline(metric("big store: revoke() returns → OCSP says revoked, p50", p50[0]!, "ms")),
      metric("big store: p99", p99[0]!, "ms", "limit", atMost(1000)),
      metric("small store: p50", p50[1]!, "ms"),
      metric("small store: p99", p99[1]!, "ms"),
      headline(metric("big store: context.ca.revoke() itself, p50", revokeP50[0]!, "ms")),
      metric("small store: context.ca.revoke() itself, p50", revokeP50[1]!, "ms"),
      metric("revocations not visible within 5 s", timeouts, "", "limit", atMost(0)),
    ],
    notes: [
      `${count} revocations per store of sampled certificates whose cached answer was good; one keep-alive connection polling back to back. The big store's revoked rows stay revoked (the generator's data changes by ${count} rows).`,
    ],
    cpu,
  };
}

async function crlAtScale(ctx: SuiteContext, big: Context, where: string): Promise<BenchResult> {
  const municipality = DEFAULT_MUNICIPALITIES[0]!.code;
  await ctx.settle(8000);
  ctx.progress(`SCALE-CRL: municipality partition ${municipality} of the signing CA, then the full signing CRL, from the big store`);
  const cpu: CpuWindow[] = [];
  // One untimed build of each first: the first build in a process prepares its statements,
  // optimises the encoder and reads the index pages from disk, which a single timing would
  // charge to whichever scope ran first (measured 2026-11-26, 10 M rows: the cold partition cost
  // 1.7 × the warm full CRL per entry). Their DER gives the sizes; then the best of CRL_BUILDS
  // timed builds of each.
  const partDer = (await big.crls.build("sign", municipality)).der;
  const fullDer = (await big.crls.build("sign", undefined)).der;
  const bestBuildMs = async (label: string, scope: string | undefined) => {
    const close = cpuWindow(label);
    let best = Number.POSITIVE_INFINITY;
    for (let i = 0; i < CRL_BUILDS; i++) {
      const t0 = performance.now();
      await big.crls.build("sign", scope);
      best = Math.min(best, performance.now() - t0);
    }
    cpu.push(close());
    return best;
  };
  const partMs = await bestBuildMs(`SCALE-CRL partition ${municipality}`, municipality);
  const fullMs = await bestBuildMs("SCALE-CRL full", undefined);
  const partEntries = await countRevoked(big, municipality);
  const fullEntries = await countRevoked(big);
  const plan = await queryPlan(big, municipality);
  const perEntry = (ms: number, n: number) => (n > 0 ? (ms * 1000) / n : Number.NaN);
  const metrics: Metric[] = [
    headline(metric(`partition ${municipality}: store → signed DER`, partMs, "ms")),
    metric("partition entries", partEntries, ""),
    metric("partition bytes", partDer.length, "B"),
    headline(metric("full signing CRL: store → signed DER", fullMs, "ms")),
    metric("full CRL entries", fullEntries, ""),
    metric("full CRL bytes", fullDer.length, "B"),
    metric("partition µs/entry", perEntry(partMs, partEntries), "µs"),
    metric("full CRL µs/entry", perEntry(fullMs, fullEntries), "µs"),
    metric("partition cost per entry / full CRL's (≈1 when the partition query is index-driven)", perEntry(partMs, partEntries) / perEntry(fullMs, fullEntries), "×", "ratio", atMost(1.5)),
  ];
  return {
    id: "SCALE-CRL",
    title: `municipality-partition and full CRL from a big store: ${where}`,
    status: "measured",
    metrics,
    notes: [
      `context.crls.build reads the pre-encoded entries (crl_entries, keyset pages of 20,000 in serial order, each page concatenated by the database) and signs once; in this process (RSS not isolated; CRL-1M measures that in a child).`,
      `Query plan of one partition page (${big.store.dialect}): ${plan}`,
    ],
    cpu,
  };
}

async function countRevoked(context: Context, municipality?: string): Promise<number> {
  let q = context.store.db
    .selectFrom("crl_entries")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("ca_type", "=", "sign")
    .where("not_after", ">=", new Date().toISOString());
  if (municipality) q = q.where("municipality_code", "=", municipality);
  return Number((await q.executeTakeFirstOrThrow()).n);
}

/** EXPLAIN of the first page of a partition's keyset query (the inner query of crlEntryRuns), as one line. */
async function queryPlan(context: Context, municipality: string): Promise<string> {
  const q = context.store.db
    .selectFrom("crl_entries")
    .select(["serial_hex", "entry"])
    .where("ca_type", "=", "sign")
    .where("municipality_code", "=", municipality)
    .where("serial_hex", ">", "")
    .where("not_after", ">=", new Date().toISOString())
    .orderBy("serial_hex")
    .limit(20_000)
    .compile();
  // Parameters cannot be bound through sql.raw: inline the literal values (ours, not user input).
  const params = q.parameters.map((p) => `'${String(p).replace(/'/g, "''")}'`);
  let i = 0;
  const inlined = q.sql.replace(/\?|\$\d+/g, () => params[i++] ?? "NULL");
  const explain = context.store.dialect === "sqlite" ? `explain query plan ${inlined}` : `explain ${inlined}`;
  const rows = await sql.raw<Record<string, unknown>>(explain).execute(context.store.db);
  return rows.rows.map((r) => String(r.detail ?? r["QUERY PLAN"] ?? JSON.stringify(r)).trim()).join(" | ");
}
