/**
 * ISSUE: certificate issuance throughput through the HTTP issuance API, 8 concurrent clients,
 * durably recorded — through the single endpoint, then through the batch endpoint
 * (POST /api/ca/sign/certificates/batch, BATCH requests of one municipality per call, fresh
 * residents), each item of which goes through the same issuance as a single request.
 *
 * Ours: our server (`startServer`, in this process) answers POST /api/ca/sign/certificates from
 * a separate load process (bench/load.ts) with 8 keep-alive connections; each request is one
 * resident (residents bulk-created beforehand, bench/fixtures/residents.ts) and a public key,
 * authenticated by its municipality's issuance-client key, and yields a signing certificate
 * with the full citizen profile (name, address, date of birth, gender as otherNames). A response
 * is sent only after the certificate and its audit record committed (group commit: concurrent
 * issuances share a transaction; SQLite in WAL mode with synchronous=FULL). After the run the
 * store is checked: one certificate per certificate answered, the audit chain intact, a sample of
 * the run's certificates verified with the CA key. Peers on the same keys: `openssl ca -batch -infiles`
 * (one process, flat-file index) and `cfssl serve` over HTTP with 8 connections. On PostgreSQL
 * too when DATABASE_URL is set (a fresh schema, dropped after).
 */
import { generateKeyPair, X509Certificate, type KeyObject } from "node:crypto";
import { promisify } from "node:util";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { atLeast, atMost, headline, metric, type BenchResult, type Metric, type Suite, type SuiteContext } from "../harness.ts";
import { cpuWindow, type CpuWindow } from "../machine.ts";
import { describeThreadCpuPer, microsecondsPer, threadCpu, threadCpuSince, type ThreadCpu } from "../threads.ts";
import { freePort, run, runMeasured, startDaemon, stopDaemon } from "../proc.ts";
import { body64, runLoad, type LoadRequest, type LoadResult } from "../load.ts";
import { openBenchContext, type Backend } from "../fixtures/context.ts";
import { insertBenchResidents, type BenchResident } from "../fixtures/residents.ts";
import { CFSSL_CONFIG, csrDer, exportCa, opensslCaConfig, pem } from "../fixtures/pki.ts";
import { buildApp } from "../../src/http/app.ts";
import { verifyAudit } from "../../src/services/audit.ts";
import type { Context } from "../../src/services/context.ts";

const generateRsa = promisify(generateKeyPair);
const CONNECTIONS = 8;
const KEY_POOL = 16;
/**
 * Requests answered before the measured window, so it measures the server in its steady state:
 * V8 keeps optimising the issuance path (HTTP, JSON, query building, the template) over the
 * first thousand or two requests. Measured 2026-11-26 (Intel, 2 cores; a probe of 6,000
 * requests): 961–1,090 certificates/s after 400 warm-up requests, 1,180–1,334/s after 2,000.
 * The peers need none: `openssl ca` is one native process per run and cfssl is compiled Go.
 */
const WARMUP = 2000;
/**
 * Requests per call on the batch endpoint (POST …/certificates/batch), for mass issuance: with 8
 * connections, 64 certificates in flight, so the group commit takes ≈30–40 per transaction
 * (measured) and HTTP costs one request per 8 certificates. (16 per call was no faster and
 * doubled the latency per call.)
 */
const BATCH = 8;

interface OursFigure {
  backend: Backend;
  /** Requests per HTTP call: 1 on the single endpoint, BATCH on the batch endpoint. */
  batch: number;
  /** Certificates issued per second in the measured window (a municipality's last call may carry fewer than BATCH). */
  rate: number;
  load: LoadResult;
  averageBatch: number;
  /** The server's threads over the measured window (it runs in this process). */
  threads: ThreadCpu;
  checked: string;
}

export const issueSuite: Suite = {
  ids: ["ISSUE"],
  async run(ctx: SuiteContext): Promise<BenchResult[]> {
    const n = ctx.options.quick ? 2000 : 20_000;
    const cpu: CpuWindow[] = [];
    ctx.progress(`ISSUE: ${KEY_POOL} RSA-2048 key pairs for the ${n} requests (not timed)`);
    const keys = await Promise.all(Array.from({ length: KEY_POOL }, () => generateRsa("rsa", { modulusLength: 2048 })));
    const b = await ctx.baselines();

    const backends: Backend[] = process.env.DATABASE_URL ? ["sqlite", "postgres"] : ["sqlite"];
    const ours: OursFigure[] = [];
    let peers: { openssl: number; cfssl?: LoadResult; opensslRun: { wallMs: number; userS: number; sysS: number } } | undefined;
    for (const backend of backends) {
      const bench = await openBenchContext(ctx.cleanup, `issue-${backend}`, { backend });
      try {
        for (const [i, batch] of [1, BATCH].entries()) {
          // Fresh residents for each endpoint, numbered after the previous ones.
          ours.push(await measureOurs(ctx, cpu, bench.context, backend, keys.map((k) => k.publicKey), n, batch, i * (n + WARMUP)));
        }
        if (!peers) peers = await runPeers(ctx, cpu, bench.context, keys, n);
      } finally {
        await bench.destroy();
      }
    }

    const figure = (backend: Backend, batch: number) => ours.find((o) => o.backend === backend && o.batch === batch);
    const sqlite = figure("sqlite", 1)!;
    const sqliteBatch = figure("sqlite", BATCH)!;
    const metrics: Metric[] = [
      headline(metric("ours (SQLite, HTTP API): certificates/s", sqlite.rate, "/s")),
      metric("rate / R_sign2", sqlite.rate / b.signPerS2, "×", "ratio", atLeast(0.5)),
      metric("rate / R_sign2 (hard floor)", sqlite.rate / b.signPerS2, "×", "limit", atLeast(0.25)),
      metric("ours (SQLite): p99 latency at concurrency 8", sqlite.load.p99Ms, "ms", "limit", atMost(25)),
      metric("ours (SQLite): failed requests", sqlite.load.failed, "", "limit", atMost(0)),
      headline(metric(`ours (SQLite, batch API, ${BATCH} per request): certificates/s`, sqliteBatch.rate, "/s")),
      metric("batch: rate / R_sign2", sqliteBatch.rate / b.signPerS2, "×", "ratio", atLeast(0.5)),
      metric("batch: rate / R_sign2 (hard floor)", sqliteBatch.rate / b.signPerS2, "×", "limit", atLeast(0.25)),
      metric(`batch: p99 latency of a request (${BATCH} certificates)`, sqliteBatch.load.p99Ms, "ms"),
      metric("batch: failed requests", sqliteBatch.load.failed, "", "limit", atMost(0)),
      headline(metric("openssl ca -infiles: certificates/s", peers!.openssl, "/s")),
      metric("rate / openssl-ca-infiles", sqlite.rate / peers!.openssl, "×", "ratio", atLeast(4.8)),
      metric("batch: rate / openssl-ca-infiles", sqliteBatch.rate / peers!.openssl, "×", "ratio", atLeast(4.8)),
    ];
    if (peers!.cfssl) {
      metrics.push(
        headline(metric("cfssl serve (8 connections): certificates/s", peers!.cfssl.rps, "/s")),
        metric("rate / cfssl-serve(c8)", sqlite.rate / peers!.cfssl.rps, "×", "ratio", atLeast(3.2)),
        metric("batch: rate / cfssl-serve(c8)", sqliteBatch.rate / peers!.cfssl.rps, "×", "ratio", atLeast(3.2)),
      );
    }
    const pg = figure("postgres", 1);
    const pgBatch = figure("postgres", BATCH);
    if (pg && pgBatch) {
      metrics.push(
        headline(metric("ours (PostgreSQL, HTTP API): certificates/s", pg.rate, "/s")),
        metric("PostgreSQL: rate / R_sign2", pg.rate / b.signPerS2, "×", "ratio", atLeast(0.5)),
        metric("PostgreSQL: p99 latency", pg.load.p99Ms, "ms", "limit", atMost(25)),
        metric("PostgreSQL: failed requests", pg.load.failed, "", "limit", atMost(0)),
        headline(metric(`ours (PostgreSQL, batch API, ${BATCH} per request): certificates/s`, pgBatch.rate, "/s")),
        metric("PostgreSQL batch: rate / R_sign2", pgBatch.rate / b.signPerS2, "×", "ratio", atLeast(0.5)),
        metric("PostgreSQL batch: failed requests", pgBatch.load.failed, "", "limit", atMost(0)),
      );
    }
    const describe = (o: OursFigure) =>
      `p50 ${o.load.p50Ms} ms, p90 ${o.load.p90Ms} ms, max ${o.load.maxMs} ms; ${o.load.failed} failed${o.load.firstError ? ` (${o.load.firstError})` : ""}; ` +
      `${o.averageBatch.toFixed(1)} certificates per commit on average; ` +
      `server CPU per certificate: ${describeThreadCpuPer(o.threads, o.load.units)}; ` +
      `load client ${microsecondsPer(o.load.clientCpuS, o.load.units)} µs per certificate (${o.load.clientCpuS} s); ${o.checked}`;
    const notes = [
      `ours: POST /api/ca/sign/certificates through the HTTP issuance API from a separate load process, ${CONNECTIONS} keep-alive connections, ` +
        `${n} requests (after ${WARMUP} not counted), one resident each (bulk-created, spread over the 8 seeded municipalities, one issuance client per municipality), ` +
        "signing certificates with the full citizen profile (name, address, date of birth, gender). Wall time from the first request to the last response; a response is sent only after its certificate committed.",
      `ours, batch API: POST /api/ca/sign/certificates/batch with ${BATCH} requests of one municipality each (the same kind of request, for other, fresh residents), ${CONNECTIONS} connections, ` +
        `${sqliteBatch.load.units} certificates in ${sqliteBatch.load.ok} calls (after ${WARMUP} not counted; a municipality's last call may hold fewer); every item goes through the same issuance as a single request, and the answer is sent once all of them are recorded. ` +
        "For mass issuance (a renewal campaign, re-issuing after a CA key change: the hard floor's 200 M in 24 h); the p99 target applies to the single endpoint only.",
      `SQLite: WAL, synchronous=FULL (every commit fsyncs the WAL); group commit: concurrent issuances share one transaction (≤ 128). Single: ${describe(sqlite)} Batch: ${describe(sqliteBatch)}`,
      pg && pgBatch
        ? `PostgreSQL (${process.env.DATABASE_URL!.replace(/\/\/[^@]*@/, "//…@")}, fresh schema, dropped after; commit = WAL flush with the server's default synchronous_commit): Single: ${describe(pg)} Batch: ${describe(pgBatch)}`
        : "PostgreSQL: not run (DATABASE_URL not set).",
      `openssl ca -batch -infiles: ${n} CSRs in one process, same leaf extensions as the anchors' profile, no fsync; ${(peers!.opensslRun.wallMs / 1000).toFixed(2)} s wall, ${peers!.opensslRun.userS}+${peers!.opensslRun.sysS} s CPU.`,
      peers!.cfssl
        ? `cfssl serve: POST /api/v1/cfssl/sign, profile "citizen", 8 keep-alive connections, nothing persisted; p50/p99 ${peers!.cfssl.p50Ms}/${peers!.cfssl.p99Ms} ms, ${peers!.cfssl.failed} failed.`
        : "cfssl not installed: cfssl comparison unavailable.",
      `Subject keys: a pool of ${KEY_POOL} RSA-2048 keys reused across requests (key generation is excluded everywhere; the CA's signing cost does not depend on the subject key). The load client shares the 2 cores with the server.`,
    ];
    return [{ id: "ISSUE", title: `issue ${n} signing certificates over the HTTP API (single and batch endpoints), 8 concurrent clients, durably recorded`, status: "measured", metrics, notes, cpu }];
  },
};

/**
 * Residents and clients, the server, a warm-up, the measured load, then a check of what was
 * stored. `batch` 1 uses the single endpoint; more, the batch endpoint with that many requests
 * (of one municipality: a client may issue only for its own) per call.
 */
async function measureOurs(
  ctx: SuiteContext,
  cpu: CpuWindow[],
  context: Context,
  backend: Backend,
  keys: KeyObject[],
  n: number,
  batch: number,
  firstResident: number,
): Promise<OursFigure> {
  const endpoint = batch === 1 ? "single endpoint" : `batch endpoint, ${batch} per request`;
  ctx.progress(`ISSUE: ${n + WARMUP} residents and one issuance client per municipality on ${backend} (${endpoint})`);
  const residents = await insertBenchResidents(context.store.db, n + WARMUP, { first: firstResident });
  const bearer = new Map<string, string>();
  for (const code of new Set(residents.map((r) => r.municipality))) {
    bearer.set(code, `Bearer ${(await context.issuanceClients.add({ name: `bench ${code}`, municipality: code })).apiKey}`);
  }
  const spkis = keys.map((k) => body64(k.export({ type: "spki", format: "der" })));
  const item = (r: BenchResident, keyIndex: number) => ({ residentId: r.id, subjectPublicKey: spkis[keyIndex % spkis.length] });
  const request = (group: BenchResident[], keyIndex: number): LoadRequest => ({
    method: "POST",
    path: batch === 1 ? "/api/ca/sign/certificates" : "/api/ca/sign/certificates/batch",
    contentType: "application/json",
    headers: { Authorization: bearer.get(group[0]!.municipality)! },
    bodyBase64: Buffer.from(JSON.stringify(batch === 1 ? item(group[0]!, keyIndex) : { requests: group.map((r, k) => item(r, keyIndex + k)) })).toString("base64"),
  });
  const requests = (list: BenchResident[]) => groupsOf(list, batch).map((group, g) => request(group, g * batch));
  const warmRequests = requests(residents.slice(0, WARMUP));
  const measuredRequests = requests(residents.slice(WARMUP));
  // The HTTP application on its own (not startServer, which would close the context with it: the peers still need it).
  const app = await buildApp(context);
  await app.listen({ host: "127.0.0.1", port: 0 });
  try {
    const address = app.server.address();
    const port = typeof address === "object" && address ? address.port : 0;
    const check = batch === 1 ? ("http-ok" as const) : ("issuance-batch" as const);
    const common = { port, connections: CONNECTIONS, warmupSeconds: 0, check, timeoutMs: 10_000 };
    const storedBefore = await context.ca.count("sign");
    const warm = await runLoad(ctx.cleanup, { ...common, requests: warmRequests, maxRequests: warmRequests.length, maxSeconds: 60, waitReadyMs: 10_000 });
    if (warm.failed > 0) throw new Error(`ISSUE warm-up: ${warm.failed} requests failed (${warm.firstError})`);
    const stats = { ...context.ca.recordingStats };

    await ctx.settle(10_000);
    ctx.progress(`ISSUE: ours on ${backend}, ${n} signing certificates over HTTP (${endpoint}), ${CONNECTIONS} connections`);
    const close = cpuWindow(`ISSUE ours (${backend}, ${endpoint})`);
    const threadsAtStart = threadCpu();
    const load = await runLoad(ctx.cleanup, {
      ...common,
      requests: measuredRequests,
      maxRequests: measuredRequests.length,
      maxSeconds: ctx.options.quick ? 60 : 300,
    });
    const threads = threadCpuSince(threadsAtStart);
    cpu.push(close());
    const after = context.ca.recordingStats;
    const averageBatch = (after.records - stats.records) / Math.max(1, after.batches - stats.batches);
    const rate = load.units / load.seconds;
    ctx.progress(`  → ${Math.round(rate)} certificates/s, p50 ${load.p50Ms} ms, p99 ${load.p99Ms} ms per request, ${load.failed} failed, ${averageBatch.toFixed(1)} per commit`);
    // Every certificate answered, the warm-up's and those past the count included, plus the readiness probe's.
    const checked = await checkStore(context, storedBefore, warm.answeredUnits + load.answeredUnits, batch);
    return { backend, batch, rate, load, averageBatch, threads, checked };
  } finally {
    await app.close();
  }
}

/** Consecutive runs of `size` residents of one municipality (the last of each municipality may be shorter), in the residents' order. */
function groupsOf(residents: BenchResident[], size: number): BenchResident[][] {
  const open = new Map<string, BenchResident[]>();
  const groups: BenchResident[][] = [];
  for (const r of residents) {
    let group = open.get(r.municipality);
    if (!group || group.length === size) {
      group = [];
      open.set(r.municipality, group);
      groups.push(group);
    }
    group.push(r);
  }
  return groups;
}

/**
 * Every certificate answered is stored, the audit chain verifies, and a sample of this run's
 * certificates verifies with the CA key. `answered` counts what the load client received (warm-up
 * and measured run, including the calls still in flight when it reached its count); on top of it
 * the readiness probe's call (one real request before the warm-up, the load's first one again, so
 * its residents hold two certificates) issued up to `batch` more.
 */
async function checkStore(context: Context, storedBefore: number, answered: number, batch: number): Promise<string> {
  const stored = (await context.ca.count("sign")) - storedBefore;
  if (stored < answered || stored > answered + batch) throw new Error(`ISSUE: ${answered} certificates answered but ${stored} stored`);
  const audit = await verifyAudit(context.store.db);
  if (!audit.ok) throw new Error(`ISSUE: the audit chain does not verify: ${audit.problem}`);
  const sample = await context.store.db.selectFrom("certificates").select(["serial_hex"]).where("ca_type", "=", "sign").orderBy("issued_at", "desc").limit(50).execute();
  const caKey = context.ca.authority("sign").publicKey;
  for (const row of sample) {
    const x = new X509Certificate((await context.ca.certificate("sign", row.serial_hex)).der);
    if (!x.verify(caKey) || !x.subjectAltName) throw new Error("ISSUE: a stored certificate does not verify or lacks the personal-data SAN");
  }
  return `checked after the run: ${stored} certificates stored for ${answered} answered, audit chain of ${audit.records} records verifies, ${sample.length} sampled certificates verify with the CA key.`;
}

async function runPeers(
  ctx: SuiteContext,
  cpu: CpuWindow[],
  context: Context,
  keys: { publicKey: KeyObject; privateKey: KeyObject }[],
  n: number,
): Promise<{ openssl: number; cfssl?: LoadResult; opensslRun: { wallMs: number; userS: number; sysS: number } }> {
  const dir = ctx.cleanup.tempDir("issue-peers");
  try {
    const ca = await exportCa(context, "auth", dir);
    mkdirSync(join(dir, "csr"));
    mkdirSync(join(dir, "newcerts"));
    writeFileSync(join(dir, "index.txt"), "");
    writeFileSync(join(dir, "serial"), "1000\n");
    writeFileSync(join(dir, "ca.cnf"), opensslCaConfig(ca, "index.txt"));
    writeFileSync(join(dir, "cfssl.json"), JSON.stringify(CFSSL_CONFIG));
    const csrs: string[] = [];
    for (let i = 0; i < n; i++) {
      const k = keys[i % keys.length]!;
      const csr = pem("CERTIFICATE REQUEST", csrDer(k.privateKey, k.publicKey, [["C", "JP"], ["O", "Citizens"], ["CN", `Citizen ${i} Auth`]]));
      csrs.push(csr);
      writeFileSync(join(dir, "csr", `r${i}.csr`), csr);
    }
    const files = csrs.map((_, i) => `csr/r${i}.csr`);

    await ctx.settle(10_000);
    ctx.progress(`ISSUE: openssl ca -batch -infiles, ${n} CSRs, one process`);
    let close = cpuWindow("ISSUE openssl ca -infiles");
    const openssl = await runMeasured(ctx.cleanup, "openssl", ["ca", "-batch", "-notext", "-config", "ca.cnf", "-out", "all.pem", "-infiles", ...files], {
      cwd: dir,
      timeoutMs: 300_000,
    });
    cpu.push(close());
    if (openssl.status !== 0) throw new Error(`openssl ca -infiles failed: ${openssl.stderr.slice(0, 1000)}`);
    const opensslRate = n / (openssl.wallMs / 1000);
    ctx.progress(`  → ${Math.round(opensslRate)} certificates/s`);

    let cfssl: LoadResult | undefined;
    if (await run("cfssl", ["version"]).then(() => true, () => false)) {
      const port = await freePort();
      const daemon = startDaemon(
        ctx.cleanup,
        "cfssl",
        ["serve", "-ca", ca.caPem, "-ca-key", ca.caKey, "-config", "cfssl.json", "-address", "127.0.0.1", "-port", String(port), "-loglevel", "3"],
        { cwd: dir },
      );
      try {
        await ctx.settle(10_000);
        ctx.progress(`ISSUE: cfssl serve, POST /api/v1/cfssl/sign, ${n} CSRs over 8 connections`);
        close = cpuWindow("ISSUE cfssl serve c8");
        cfssl = await runLoad(ctx.cleanup, {
          port,
          requests: csrs.map((csr) => ({
            method: "POST",
            path: "/api/v1/cfssl/sign",
            contentType: "application/json",
            bodyBase64: Buffer.from(JSON.stringify({ certificate_request: csr, profile: "citizen" })).toString("base64"),
          })),
          connections: 8,
          maxRequests: n,
          maxSeconds: 60,
          warmupSeconds: 0,
          check: "cfssl-sign",
          waitReadyMs: 10_000,
        });
        cpu.push(close());
        ctx.progress(`  → ${Math.round(cfssl.rps)} certificates/s, ${cfssl.failed} failed${cfssl.firstError ? ` (${cfssl.firstError})` : ""}`);
      } finally {
        await stopDaemon(daemon);
      }
    }
    return { openssl: opensslRate, ...(cfssl ? { cfssl } : {}), opensslRun: { wallMs: openssl.wallMs, userS: openssl.userS, sysS: openssl.sysS } };
  } finally {
    ctx.cleanup.removeDir(dir);
  }
}
