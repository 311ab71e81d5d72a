/**
 * The benchmark suite: `npm run bench` (full), `npm run bench -- --quick` (under 3 minutes).
 *
 *   --quick          smaller sizes and shorter load points
 *   --only ID[,ID]   run only these benchmarks (e.g. --only OCSP-SIGN,CRL-100K)
 *   --json           print the JSON report on stdout instead of the table (progress stays on stderr)
 *   --full-scale     also the benchmarks that need 10 M rows (CRL-SHARDED: loads 10 M CRL entries first; not with --quick)
 *   --store DIR|URL  run the scale suite (SCALE-OCSP, SCALE-REVOKE, SCALE-CRL) against a store filled
 *                    by bench/generate.ts; --schema NAME for PostgreSQL (default openjpki_scale)
 *   --scale          with --store: only the scale suite
 *
 * Every figure is reported with its ratio to baselines measured in this same run (openssl speed,
 * and the peers openssl / cfssl on the same data), and whether it meets its target. Results go
 * to bench/results/ (git-ignored): report-<timestamp>.json, latest.json, latest.svg.
 */
import { fileURLToPath } from "node:url";
import { Cleanup, type BenchResult, type RunOptions, type Suite, type SuiteContext } from "./harness.ts";
import { describeQuietness, machineInfo, QUIET_BELOW, waitQuiet } from "./machine.ts";
import { measureBaselines, type Baselines } from "./baselines.ts";
import { renderText, writeReport, type Report } from "./report.ts";
import { crlSuite } from "./suites/crl.ts";
import { ocspSuite } from "./suites/ocsp.ts";
import { refreshSuite } from "./suites/refresh.ts";
import { issueSuite } from "./suites/issue.ts";
import { cardSuite } from "./suites/card.ts";
import { verifySuite } from "./suites/verify.ts";
import { scaleSuite } from "./suites/scale.ts";

const SUITES: readonly Suite[] = [crlSuite, ocspSuite, refreshSuite, issueSuite, verifySuite, cardSuite, scaleSuite];
const BASELINE_OPTIONS = {
  quick: { seconds: 2, repeats: 1, retries: 1 },
  full: { seconds: 3, repeats: 2, retries: 2 },
} as const;
const RESULTS_DIR = fileURLToPath(new URL("./results/", import.meta.url));
/** How long Ctrl+C waits for the asynchronous cleanup (closing stores, dropping PostgreSQL schemas) before giving up on it. */
const CLEANUP_LIMIT_MS = 30_000;

function parseArgs(argv: readonly string[]): RunOptions {
  const options: RunOptions = { quick: false, fullScale: false, json: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--quick") options.quick = true;
    else if (arg === "--json") options.json = true;
    else if (arg === "--full-scale") options.fullScale = true;
    else if (arg === "--scale") options.only = new Set(scaleSuite.ids);
    else if (arg === "--store" || arg === "--schema") {
      const value = argv[++i];
      if (!value) throw new Error(`${arg} needs a value`);
      if (arg === "--store") options.store = value;
      else options.storeSchema = value;
    }
    else if (arg === "--only" || arg.startsWith("--only=")) {
      const list = arg.includes("=") ? arg.slice(7) : argv[++i];
      if (!list) throw new Error("--only needs a list of benchmark ids");
      options.only = new Set(list.split(",").map((s) => s.trim().toUpperCase()).filter(Boolean));
    } else if (arg === "--help" || arg === "-h") {
      process.stdout.write(`usage: npm run bench -- [--quick] [--only ID[,ID]] [--json] [--full-scale] [--store DIR|URL [--schema NAME]] [--scale]\nids: ${SUITES.flatMap((s) => s.ids).join(", ")}\n`);
      process.exit(0);
    } else throw new Error(`unknown option ${arg}`);
  }
  if (options.only?.has("SCALE-OCSP") && !options.store) throw new Error("--scale needs --store DIR|URL (a store filled by bench/generate.ts)");
  if (options.only) {
    const known = new Set(SUITES.flatMap((s) => s.ids));
    const unknown = [...options.only].filter((id) => !known.has(id));
    if (unknown.length > 0) throw new Error(`unknown benchmark id(s) ${unknown.join(", ")}; known: ${[...known].join(", ")}`);
  }
  return options;
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const cleanup = new Cleanup();
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) {
      // A second Ctrl+C does not wait for the asynchronous cleanup (a hung database close, say).
      process.stderr.write(`\n${signal} again: killing children and removing temporary files now\n`);
      process.exit(130); // the "exit" handler runs cleanup.runSync()
    }
    interrupted = true;
    process.stderr.write(`\n${signal}: stopping, cleaning up… (again to stop at once)\n`);
    const limit = setTimeout(() => {
      process.stderr.write(`cleanup took over ${CLEANUP_LIMIT_MS / 1000} s; stopping without it\n`);
      process.exit(130);
    }, CLEANUP_LIMIT_MS);
    void cleanup.runAll().finally(() => {
      clearTimeout(limit);
      process.exit(130);
    });
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  process.on("exit", () => cleanup.runSync());

  const t0 = performance.now();
  const startedAt = new Date().toISOString();
  const progress = (line: string) => process.stderr.write(`[${((performance.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${line}\n`);
  const machine = machineInfo();
  progress(`${machine.nproc} × ${machine.cpuModel}; ${machine.node}; ${machine.openssl}${machine.cfssl ? `; cfssl ${machine.cfssl}` : "; cfssl not installed"}`);

  // Before a measuring window: wait until the machine is quiet (a quick run takes one 1-second
  // sample), and say who kept it busy if it is not.
  const settle = async (fullMs: number, when = "before the next window") => {
    const quietness = await waitQuiet(options.quick ? 1000 : fullMs, QUIET_BELOW);
    if (quietness.busy >= QUIET_BELOW) {
      progress(`machine not quiet ${when} (${describeQuietness(quietness)}): figures may be noisy; see foreign CPU in the report`);
    }
    return quietness;
  };
  await settle(20_000, "at start");

  let baselines: Baselines | undefined;
  let measuring: Promise<Baselines> | undefined;
  const getBaselines = () =>
    (measuring ??= (async () => {
      progress("baselines: openssl speed rsa2048 (1 process, then 2 concurrent -elapsed)");
      baselines = await measureBaselines(options.quick ? BASELINE_OPTIONS.quick : BASELINE_OPTIONS.full);
      progress(`baselines: R_sign1 ${Math.round(baselines.signPerS1)}/s, R_sign2 ${Math.round(baselines.signPerS2)}/s, R_ver1 ${Math.round(baselines.verifyPerS1)}/s`);
      return baselines;
    })());
  await getBaselines();

  const ctx: SuiteContext = { options, baselines: getBaselines, progress, cleanup, settle };
  const results: BenchResult[] = [];
  for (const suite of SUITES) {
    if (interrupted) break; // the cleanup is running: start nothing new
    if (options.only && !suite.ids.some((id) => options.only!.has(id))) continue;
    try {
      for (const r of await suite.run(ctx)) if (!options.only || options.only.has(r.id)) results.push(r);
    } catch (error) {
      progress(`${suite.ids.join("/")}: FAILED: ${(error as Error).stack ?? String(error)}`);
      for (const id of suite.ids) {
        if (!options.only || options.only.has(id)) {
          results.push({ id, title: "failed", status: "failed", reason: (error as Error).message.split("\n")[0]!, metrics: [], notes: [] });
        }
      }
    }
    cleanup.killChildren();
  }
  if (interrupted) {
    // The signal handler's cleanup ends the process; a partial run must not overwrite latest.json.
    process.exitCode = 130;
    return;
  }
  await cleanup.runAll();

  // A full run takes minutes: measure the baselines again to see whether the machine itself
  // changed speed meanwhile (a quick run has no time for it; it stays under 3 minutes).
  let baselinesAtEnd: Baselines | undefined;
  if (baselines && !options.quick) {
    await settle(8000, "before the end's baselines");
    progress("baselines again at the end (has the machine changed speed during the run?)");
    baselinesAtEnd = await measureBaselines(BASELINE_OPTIONS.full);
    progress(`baselines at the end: R_sign1 ${Math.round(baselinesAtEnd.signPerS1)}/s, R_sign2 ${Math.round(baselinesAtEnd.signPerS2)}/s`);
  }

  const report: Report = {
    machine,
    options: { quick: options.quick, fullScale: options.fullScale, ...(options.only ? { only: [...options.only] } : {}) },
    startedAt,
    durationS: Math.round((performance.now() - t0) / 100) / 10,
    ...(baselines ? { baselines } : {}),
    ...(baselinesAtEnd ? { baselinesAtEnd } : {}),
    results,
  };
  const files = writeReport(report, RESULTS_DIR);
  if (options.json) process.stdout.write(JSON.stringify(report, null, 2) + "\n");
  else process.stdout.write(renderText(report) + "\n");
  progress(`done in ${report.durationS} s; wrote ${files.json}, ${files.latest}, ${files.svg}`);
}

main().catch((error: Error) => {
  process.stderr.write(`${error.stack ?? String(error)}\n`);
  process.exitCode = 1;
});
