/**
 * What every benchmark suite shares: the result model, the run options, progress output, and
 * the cleanup registry (temporary directories and child processes are removed on exit, on
 * error and on Ctrl+C).
 */
import { request, type Agent } from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ChildProcess } from "node:child_process";
import type { Baselines } from "./baselines.ts";
import type { CpuWindow, Quietness } from "./machine.ts";

export interface RunOptions {
  quick: boolean;
  fullScale: boolean;
  json: boolean;
  only?: ReadonlySet<string>;
  /** The scale suite's store (a SQLite data directory or a PostgreSQL URL filled by bench/generate.ts). */
  store?: string;
  /** PostgreSQL schema of that store (default openjpki_scale). */
  storeSchema?: string;
}

/** A target on a metric: the metric must be `op` the value. */
export interface Target {
  op: ">=" | "<=";
  value: number;
}

export interface Metric {
  name: string;
  value: number;
  unit: string;
  /** Ratios and limits that carry a target are plotted in the chart (as a score against it); figures are not. */
  kind: "figure" | "ratio" | "limit";
  target?: Target;
  met?: boolean;
  /** An absolute figure worth a row in the summary table. */
  headline?: boolean;
}

export type BenchStatus = "measured" | "unavailable" | "failed";

export interface BenchResult {
  id: string;
  title: string;
  status: BenchStatus;
  /** For unavailable / failed: one line saying why. */
  reason?: string;
  metrics: Metric[];
  notes: string[];
  /** CPU accounting of the measured windows (own vs foreign CPU). */
  cpu?: CpuWindow[];
}

export interface SuiteContext {
  options: RunOptions;
  baselines: () => Promise<Baselines>;
  progress: (line: string) => void;
  cleanup: Cleanup;
  /**
   * Before a measuring window: wait until the machine is quiet, at most `fullMs` in a full run.
   * A quick run takes one 1-second sample only (it has 3 minutes; on a busy machine waiting longer
   * rarely helps, and every window's noise note says how busy it was). A machine still busy at
   * the end is reported on the progress line, naming the processes that kept it busy.
   */
  settle: (fullMs: number) => Promise<Quietness>;
}

export interface Suite {
  /** The benchmark ids this suite produces (for --only). */
  ids: readonly string[];
  run(ctx: SuiteContext): Promise<BenchResult[]>;
}

export function metric(name: string, value: number, unit: string, kind: Metric["kind"] = "figure", target?: Target): Metric {
  const m: Metric = { name, value, unit, kind };
  if (target) {
    m.target = target;
    m.met = Number.isFinite(value) && (target.op === ">=" ? value >= target.value : value <= target.value);
  }
  return m;
}

/** Mark a figure for the summary table. */
export function headline(m: Metric): Metric {
  m.headline = true;
  return m;
}

export const atLeast = (value: number): Target => ({ op: ">=", value });
export const atMost = (value: number): Target => ({ op: "<=", value });

/** A benchmark not measured in this run (a missing tool, not in --quick), with the reason. */
export function unavailable(id: string, title: string, reason: string): BenchResult {
  return { id, title, status: "unavailable", reason, metrics: [], notes: [] };
}

/** Removes what the run created, once, whatever way the run ends. */
export class Cleanup {
  readonly #dirs = new Set<string>();
  readonly #children = new Set<ChildProcess>();
  readonly #hooks: (() => Promise<void> | void)[] = [];

  tempDir(prefix: string): string {
    const dir = mkdtempSync(join(tmpdir(), `openjpki-bench-${prefix}-`));
    this.#dirs.add(dir);
    return dir;
  }

  removeDir(dir: string): void {
    rmSync(dir, { recursive: true, force: true });
    this.#dirs.delete(dir);
  }

  /** Track a child; it is killed (with its process group when detached) if still running at the end. */
  child<T extends ChildProcess>(child: T): T {
    this.#children.add(child);
    child.once("exit", () => this.#children.delete(child));
    return child;
  }

  onExit(hook: () => Promise<void> | void): void {
    this.#hooks.push(hook);
  }

  /** Kill the tracked children still running (by pid, or by their own process group). */
  killChildren(): void {
    for (const child of this.#children) killTree(child);
    this.#children.clear();
  }

  async runAll(): Promise<void> {
    this.killChildren();
    for (const hook of this.#hooks.splice(0).reverse()) {
      try {
        await hook();
      } catch {
        // best effort: cleanup must not hide the run's own error
      }
    }
    for (const dir of this.#dirs) rmSync(dir, { recursive: true, force: true });
    this.#dirs.clear();
  }

  /** Synchronous last resort for process exit (no awaiting possible). */
  runSync(): void {
    this.killChildren();
    for (const dir of this.#dirs) rmSync(dir, { recursive: true, force: true });
    this.#dirs.clear();
  }
}

/** Signal the process group `pid` leads; false if no process of it is left. */
export function signalGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM a child; detached children lead their own process group, which is signalled whole. */
export function killTree(child: ChildProcess, signal: NodeJS.Signals = "SIGTERM"): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  if ((child as ChildProcess & { detachedGroup?: boolean }).detachedGroup) signalGroup(child.pid, signal);
  else child.kill(signal);
}

/** Mark a child spawned with `detached: true` so killTree signals its whole process group. */
export function asGroupLeader<T extends ChildProcess>(child: T): T {
  (child as ChildProcess & { detachedGroup?: boolean }).detachedGroup = true;
  return child;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

export const fmt = (n: number, digits = 0): string =>
  Number.isFinite(n) ? n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits }) : "n/a";

/**
 * GET over a loopback keep-alive agent and return the body (probes and checks, not load). A server
 * that goes silent for `timeoutMs` (socket idle) fails the call instead of hanging the run.
 */
export function httpGet(agent: Agent, port: number, path: string, timeoutMs = 5000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, agent, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve(Buffer.concat(chunks)));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${path}: no answer within ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end();
  });
}

/** Poll `check` back to back until it is true (→ the time it became true) or `ms` pass (→ undefined). */
export async function pollUntil(check: () => Promise<boolean>, ms = 5000): Promise<number | undefined> {
  const deadline = performance.now() + ms;
  while (performance.now() < deadline) {
    if (await check()) return performance.now();
  }
  return undefined;
}

/**
 * How many rounds a repeated load point takes: the anchors ask for the best of 3 and the median
 * of each point; a quick run has time for one.
 */
export const roundsFor = (options: RunOptions): number => (options.quick ? 1 : 3);

/** " (round 2 of 3)" for a progress line; "" when the point has one round. */
export const roundLabel = (round: number, rounds: number): string => (rounds > 1 ? ` (round ${round} of ${rounds})` : "");

/** A point measured in rounds: the best round (highest rate) gives the figures, the others the spread. */
export interface Rounds<T> {
  best: T;
  all: T[];
  /** Median of the rounds' rates. */
  median: number;
}

export function bestOf<T>(all: readonly T[], rate: (r: T) => number): Rounds<T> {
  // A round without a rate (no measured window) cannot be the best, nor count in the median.
  const finite = all.filter((r) => Number.isFinite(rate(r)));
  if (finite.length === 0) throw new Error(`bestOf: none of ${all.length} round(s) measured a rate`);
  let best: T = finite[0] as T;
  for (const r of finite) if (rate(r) > rate(best)) best = r;
  const sorted = finite.map(rate).sort((a, b) => a - b);
  const mid = sorted.length / 2;
  const median = sorted.length % 2 === 1 ? sorted[Math.floor(mid)]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { best, all: [...all], median };
}

/** "3 rounds: 27,316 / 28,100 / 26,020 req/s; best 28,100, median 27,316, spread 7.4 %" (one round: just the figure). */
export function describeRounds<T>(rounds: Rounds<T>, rate: (r: T) => number, unit: string): string {
  const rates = rounds.all.map(rate);
  if (rates.length === 1) return `1 round: ${fmt(rates[0]!)} ${unit}`;
  const best = rate(rounds.best);
  const finite = rates.filter(Number.isFinite);
  const spread = best > 0 ? (best - Math.min(...finite)) / best : Number.NaN;
  return `${rates.length} rounds: ${rates.map((r) => fmt(r)).join(" / ")} ${unit}; best ${fmt(best)}, median ${fmt(rounds.median)}, spread ${(100 * spread).toFixed(1)} %`;
}
