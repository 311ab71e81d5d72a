/**
 * ISSUE: certificate issuance throughput with 8 concurrent callers, durably recorded.
 *
 * There is no HTTP issuance API yet, so ours is `context.ca.issue(...)` called directly by 8
 * concurrent async callers (authentication certificates, the profile closest to the anchors'
 * citizen profile); each call signs and records the certificate in one store transaction
 * (SQLite: WAL, synchronous=FULL, so one fsync per certificate). Peers on the same keys:
 * `openssl ca -batch -infiles` (one process, flat-file index) and `cfssl serve` over HTTP with
 * 8 connections. On PostgreSQL too when DATABASE_URL is set (a fresh schema, dropped after).
 */
import { generateKeyPair, type KeyObject } from "node:crypto";
import { promisify } from "node:util";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { atLeast, atMost, headline, metric, quantile, type BenchResult, type Metric, type Suite, type SuiteContext } from "../harness.ts";
import { cpuWindow, waitQuiet, type CpuWindow } from "../machine.ts";
import { freePort, run, runMeasured, startDaemon, stopDaemon } from "../proc.ts";
import { runLoad, type LoadResult } from "../load.ts";
import { addBenchResident, openBenchContext, type Backend } from "../fixtures/context.ts";
import { CFSSL_CONFIG, csrDer, exportCa, opensslCaConfig, pem } from "../fixtures/pki.ts";

const generateRsa = promisify(generateKeyPair);
const CALLERS = 8;
const KEY_POOL = 16;

interface OursFigure {
  backend: Backend;
  rate: number;
  p50Ms: number;
  p99Ms: number;
  n: number;
}

export const issueSuite: Suite = {
  ids: ["ISSUE"],
  async run(ctx: SuiteContext): Promise<BenchResult[]> {
    const n = ctx.options.quick ? 500 : 2000;
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
        const { context } = bench;
        const residents = await Promise.all(Array.from({ length: 50 }, (_, i) => addBenchResident(context, i)));
        const issueOne = (i: number) =>
          context.ca.issue({ type: "auth", residentId: residents[i % residents.length]!, subjectPublicKey: keys[i % KEY_POOL]!.publicKey });
        for (let i = 0; i < 20; i++) await issueOne(i); // warm-up (JIT, statements), not counted

        await waitQuiet(ctx.options.quick ? 2000 : 10_000);
        ctx.progress(`ISSUE: ours on ${backend}, ${n} certificates, ${CALLERS} concurrent callers of context.ca.issue`);
        const close = cpuWindow(`ISSUE ours (${backend})`);
        const latencies = new Float64Array(n);
        let next = 0;
        const t0 = performance.now();
        await Promise.all(
          Array.from({ length: CALLERS }, async () => {
            while (next < n) {
              const i = next++;
              const s = performance.now();
              await issueOne(i);
              latencies[i] = performance.now() - s;
            }
          }),
        );
        const seconds = (performance.now() - t0) / 1000;
        cpu.push(close());
        latencies.sort();
        const figure = { backend, rate: n / seconds, p50Ms: quantile(latencies, 0.5), p99Ms: quantile(latencies, 0.99), n };
        ours.push(figure);
        ctx.progress(`  → ${Math.round(figure.rate)} certificates/s, p50 ${figure.p50Ms.toFixed(1)} ms, p99 ${figure.p99Ms.toFixed(1)} ms`);

        if (!peers) peers = await runPeers(ctx, cpu, bench.context, keys, n);
      } finally {
        await bench.destroy();
      }
    }

    const sqlite = ours[0]!;
    const metrics: Metric[] = [
      headline(metric("ours (SQLite): certificates/s", sqlite.rate, "/s")),
      metric("rate / R_sign2", sqlite.rate / b.signPerS2, "×", "ratio", atLeast(0.5)),
      metric("rate / R_sign2 (hard floor)", sqlite.rate / b.signPerS2, "×", "limit", atLeast(0.25)),
      metric("ours (SQLite): p99 latency at concurrency 8", sqlite.p99Ms, "ms", "limit", atMost(25)),
      headline(metric("openssl ca -infiles: certificates/s", peers!.openssl, "/s")),
      metric("rate / openssl-ca-infiles", sqlite.rate / peers!.openssl, "×", "ratio", atLeast(4.8)),
    ];
    if (peers!.cfssl) {
      metrics.push(
        headline(metric("cfssl serve (8 connections): certificates/s", peers!.cfssl.rps, "/s")),
        metric("rate / cfssl-serve(c8)", sqlite.rate / peers!.cfssl.rps, "×", "ratio", atLeast(3.2)),
      );
    }
    const pg = ours.find((o) => o.backend === "postgres");
    if (pg) {
      metrics.push(
        headline(metric("ours (PostgreSQL): certificates/s", pg.rate, "/s")),
        metric("PostgreSQL: rate / R_sign2", pg.rate / b.signPerS2, "×", "ratio", atLeast(0.5)),
        metric("PostgreSQL: p99 latency", pg.p99Ms, "ms", "limit", atMost(25)),
      );
    }
    const notes = [
      "PENDING: the HTTP issuance API does not exist yet; ours is context.ca.issue() called in-process by 8 concurrent async callers (no HTTP, no JSON). The peers' cfssl figure does include HTTP.",
      `ours: ${n} authentication certificates (full JPKI profile), each signed and recorded in its own store transaction; SQLite in WAL mode with synchronous=FULL, i.e. one fsync (WAL commit) per certificate. p50 ${sqlite.p50Ms.toFixed(1)} ms.`,
      pg
        ? `PostgreSQL (${process.env.DATABASE_URL!.replace(/\/\/[^@]*@/, "//…@")}, fresh schema, dropped after): one transaction per certificate (commit = WAL flush with the server's default synchronous_commit); p50 ${pg.p50Ms.toFixed(1)} ms.`
        : "PostgreSQL: not run (DATABASE_URL not set).",
      `openssl ca -batch -infiles: ${n} CSRs in one process, same leaf extensions as the anchors' profile, no fsync; ${(peers!.opensslRun.wallMs / 1000).toFixed(2)} s wall, ${peers!.opensslRun.userS}+${peers!.opensslRun.sysS} s CPU.`,
      peers!.cfssl
        ? `cfssl serve: POST /api/v1/cfssl/sign, profile "citizen", 8 keep-alive connections, nothing persisted; p50/p99 ${peers!.cfssl.p50Ms}/${peers!.cfssl.p99Ms} ms, ${peers!.cfssl.failed} failed.`
        : "cfssl not installed: cfssl comparison unavailable.",
      `Subject keys: a pool of ${KEY_POOL} RSA-2048 keys reused across requests (key generation is excluded everywhere; the CA's signing cost does not depend on the subject key).`,
    ];
    return [{ id: "ISSUE", title: `issue ${n} certificates, 8 concurrent callers, durably recorded`, status: "measured", metrics, notes, cpu }];
  },
};

async function runPeers(
  ctx: SuiteContext,
  cpu: CpuWindow[],
  context: import("../../src/services/context.ts").Context,
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

    await waitQuiet(ctx.options.quick ? 2000 : 10_000);
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
        await waitQuiet(ctx.options.quick ? 2000 : 10_000);
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
