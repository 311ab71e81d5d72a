/**
 * The machine and its noise. Shared 2-core machines are noisy, so every measured window records
 * its own CPU (this process and all its descendants: servers, load clients, openssl) and the
 * foreign CPU (everything else on the box), as the anchors file asks. A window whose foreign CPU
 * exceeds 10 % of its own is flagged invalid, and names the processes that used it: "noise" once
 * turned out to be a peer's worker of ours that had escaped its cleanup (bench/netns.ts).
 */
import { readFileSync, readdirSync } from "node:fs";
import { availableParallelism, totalmem } from "node:os";
import { execFileSync } from "node:child_process";
import { sleep } from "./harness.ts";

export const TICKS_PER_SECOND = 100; // USER_HZ on Linux
/** A 1 s sample below this busy fraction (of all CPUs) counts as a quiet machine. */
export const QUIET_BELOW = 0.12;

export interface MachineInfo {
  date: string;
  nproc: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  openssl: string;
  cfssl?: string;
  kernel: string;
}

export function machineInfo(): MachineInfo {
  const cpuinfo = safeRead("/proc/cpuinfo");
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? "unknown";
  const info: MachineInfo = {
    date: new Date().toISOString(),
    nproc: availableParallelism(),
    cpuModel: model,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    openssl: tryExec("openssl", ["version"]) ?? "not installed",
    kernel: safeRead("/proc/sys/kernel/osrelease").trim(),
  };
  const cfssl = tryExec("cfssl", ["version"]);
  if (cfssl) info.cfssl = cfssl.split("\n")[0]!.trim();
  return info;
}

export interface CpuWindow {
  label: string;
  wallS: number;
  /** CPU of this process and its descendants (servers, clients, openssl) in the window. */
  ownCpuS: number;
  /** Busy CPU of the whole machine minus our own. */
  foreignCpuS: number;
  /** foreign ≤ 10 % of own. */
  valid: boolean;
  /** The foreign processes that used the most CPU in the window (alive at both ends; ≥ 0.05 s), most first. */
  foreignTop: ForeignProcess[];
}

export interface ForeignProcess {
  pid: number;
  command: string;
  cpuS: number;
}

interface ProcessTicks {
  ppid: number;
  command: string;
  /** utime + stime. */
  self: number;
  /** utime + stime + cutime + cstime: with the children it has reaped. */
  withChildren: number;
}

interface Snapshot {
  t: number;
  busy: number;
  processes: Map<number, ProcessTicks>;
  ownTree: Set<number>;
}

const FOREIGN_TOP = 3;
const FOREIGN_MIN_TICKS = 5;

/** Start a CPU accounting window; call the returned function to close it. */
export function cpuWindow(label: string): () => CpuWindow {
  const start = snapshot();
  return () => {
    const end = snapshot();
    const ownCpuS = (ownTicks(end) - ownTicks(start)) / TICKS_PER_SECOND;
    const busyS = (end.busy - start.busy) / TICKS_PER_SECOND;
    const foreignCpuS = Math.max(0, busyS - ownCpuS);
    return {
      label,
      wallS: round((end.t - start.t) / 1000, 2),
      ownCpuS: round(ownCpuS, 2),
      foreignCpuS: round(foreignCpuS, 2),
      valid: foreignCpuS <= 0.1 * Math.max(ownCpuS, 0.01),
      foreignTop: foreignTop(start, end),
    };
  };
}

/** How busy the machine was over the last 1 s sample of `waitQuiet`, and who kept it busy. */
export interface Quietness {
  /** Busy fraction of all CPUs, 0 to 1. */
  busy: number;
  /** CPU seconds of this process and its descendants in that sample (the rest is foreign). */
  ownCpuS: number;
  /** The processes outside our tree that used the most CPU in that sample, most first. */
  top: ForeignProcess[];
}

/**
 * Wait until the machine is quiet (< `threshold` busy over a 1 s sample), at most `maxMs`.
 * Returns the last sample, so the runner can say the run started noisy and name who was busy
 * (a leftover of an earlier run shows up here before it spoils a window).
 */
export async function waitQuiet(maxMs: number, threshold = QUIET_BELOW): Promise<Quietness> {
  const deadline = Date.now() + maxMs;
  for (;;) {
    // The process scans stay outside the sample: our own reading of /proc is not "busy".
    const a = snapshot();
    const aTicks = systemTicks();
    await sleep(1000);
    const bTicks = systemTicks();
    const b = snapshot();
    const busy = (bTicks.busy - aTicks.busy) / Math.max(1, bTicks.total - aTicks.total);
    if (busy < threshold || Date.now() >= deadline) {
      return { busy, ownCpuS: round((ownTicks(b) - ownTicks(a)) / TICKS_PER_SECOND, 2), top: foreignTop(a, b) };
    }
  }
}

/** "sh[26578] 0.95s, postgres[812] 0.1s": who used the foreign CPU. */
export function describeProcesses(processes: readonly ForeignProcess[]): string {
  return processes.map((p) => `${p.command}[${p.pid}] ${p.cpuS}s`).join(", ");
}

/** "47 % busy, ours 0.01s: sh[26578] 0.95s, postgres[812] 0.1s": a not-quiet sample for a progress line. */
export function describeQuietness(q: Quietness): string {
  const who = describeProcesses(q.top);
  return `${Math.round(q.busy * 100)} % busy, ours ${q.ownCpuS}s${who ? `: ${who}` : ""}`;
}

function snapshot(): Snapshot {
  const processes = readProcesses();
  return { t: performance.now(), busy: systemTicks().busy, processes, ownTree: ownTree(processes) };
}

function systemTicks(): { busy: number; total: number } {
  const line = safeRead("/proc/stat").split("\n")[0] ?? "";
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  const busy = user! + nice! + system! + irq! + softirq! + steal!;
  return { busy, total: busy + idle! + iowait! };
}

/** The fields of a /proc/PID/stat (or /proc/PID/task/TID/stat) line that the benchmarks use; CPU in ticks. */
export interface ProcStat {
  command: string;
  ppid: number;
  utime: number;
  stime: number;
  cutime: number;
  cstime: number;
}

export function parseStat(line: string): ProcStat | undefined {
  // The command sits in parentheses and may itself hold spaces and parentheses: split after the last ")".
  const open = line.indexOf("(");
  const close = line.lastIndexOf(")");
  if (open < 0 || close < 0) return undefined;
  const fields = line.slice(close + 2).split(" ");
  // fields[0] is state (field 3); ppid is field 4, utime..cstime are fields 14..17.
  return {
    command: line.slice(open + 1, close),
    ppid: Number(fields[1]),
    utime: Number(fields[11]),
    stime: Number(fields[12]),
    cutime: Number(fields[13]),
    cstime: Number(fields[14]),
  };
}

/** Every process's parent, command and CPU ticks, from /proc/PID/stat. */
function readProcesses(): Map<number, ProcessTicks> {
  const processes = new Map<number, ProcessTicks>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const stat = parseStat(safeRead(`/proc/${name}/stat`));
    if (!stat) continue;
    const self = stat.utime + stat.stime;
    processes.set(Number(name), { ppid: stat.ppid, command: stat.command, self, withChildren: self + stat.cutime + stat.cstime });
  }
  return processes;
}

/** This process and every live descendant. */
function ownTree(processes: Map<number, ProcessTicks>): Set<number> {
  const children = new Map<number, number[]>();
  for (const [pid, p] of processes) {
    const list = children.get(p.ppid);
    if (list) list.push(pid);
    else children.set(p.ppid, [pid]);
  }
  const tree = new Set<number>();
  const stack = [process.pid];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    tree.add(pid);
    for (const child of children.get(pid) ?? []) stack.push(child);
  }
  return tree;
}

/**
 * utime+stime+cutime+cstime of this process and every live descendant. A descendant that exits
 * inside the window moves its ticks into its parent's cutime, so the sum stays continuous.
 */
function ownTicks(s: Snapshot): number {
  let total = 0;
  for (const pid of s.ownTree) total += s.processes.get(pid)?.withChildren ?? 0;
  return total;
}

/** The processes outside our tree at both ends of the window that used the most CPU in it. */
function foreignTop(start: Snapshot, end: Snapshot): ForeignProcess[] {
  const used: ForeignProcess[] = [];
  for (const [pid, after] of end.processes) {
    const before = start.processes.get(pid);
    if (!before || before.command !== after.command || start.ownTree.has(pid) || end.ownTree.has(pid)) continue;
    const ticks = after.self - before.self;
    if (ticks >= FOREIGN_MIN_TICKS) used.push({ pid, command: after.command, cpuS: round(ticks / TICKS_PER_SECOND, 2) });
  }
  return used.sort((a, b) => b.cpuS - a.cpuS).slice(0, FOREIGN_TOP);
}

function safeRead(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

function tryExec(cmd: string, args: string[]): string | undefined {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 5000 }).trim();
  } catch {
    return undefined;
  }
}

const round = (n: number, digits: number): number => Math.round(n * 10 ** digits) / 10 ** digits;
