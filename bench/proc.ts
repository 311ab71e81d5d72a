/**
 * Child processes for the peers (openssl, cfssl) and for our own out-of-process parts: measured
 * runs under /usr/bin/time (wall, CPU, peak RSS), long-running servers tracked for cleanup.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from "node:child_process";
import { createServer } from "node:net";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { asGroupLeader, signalGroup, type Cleanup } from "./harness.ts";

export interface MeasuredRun {
  status: number | null;
  wallMs: number;
  userS: number;
  sysS: number;
  maxRssKb: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** Send stdout to this file instead of collecting it (large outputs). */
  stdoutFile?: string;
  timeoutMs?: number;
}

/**
 * Run `cmd args` to completion under `/usr/bin/time`, which reports its CPU and peak RSS.
 * GNU time passes no signal on to the command it runs, so the pair runs as its own process group
 * and is stopped (timeout, cleanup) as a group: killing `time` alone would leave the command
 * running and holding the output pipe, so neither the limit nor the cleanup would bound it.
 */
export function runMeasured(cleanup: Cleanup, cmd: string, args: string[], options: RunOptions): Promise<MeasuredRun> {
  const timeFile = join(options.cwd, `.time-${process.hrtime.bigint()}`);
  const shell = options.stdoutFile
    ? ["sh", "-c", `exec "$@" > ${JSON.stringify(options.stdoutFile)}`, "sh", cmd, ...args]
    : [cmd, ...args];
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = cleanup.child(
      asGroupLeader(
        spawn("/usr/bin/time", ["-f", "%e %U %S %M", "-o", timeFile, ...shell], {
          cwd: options.cwd,
          env: options.env ?? process.env,
          stdio: ["ignore", "pipe", "pipe"],
          detached: true,
        }),
      ),
    );
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on("data", (c: Buffer) => out.push(c));
    child.stderr!.on("data", (c: Buffer) => err.push(c));
    let timedOut = false;
    const timer = options.timeoutMs
      ? setTimeout(() => {
          // The group, even when `time` (its leader) has exited: the command may outlive it.
          if (child.pid !== undefined) timedOut = signalGroup(child.pid, "SIGKILL");
        }, options.timeoutMs)
      : undefined;
    child.on("error", reject);
    child.on("close", (status) => {
      const wallMs = performance.now() - t0;
      if (timer) clearTimeout(timer);
      let fields: number[] = [];
      try {
        const text = readFileSync(timeFile, "utf8").trim().split("\n").at(-1) ?? "";
        fields = text.split(/\s+/).map(Number);
        rmSync(timeFile, { force: true });
      } catch {
        // the time file is missing only if /usr/bin/time itself failed
      }
      resolve({
        status,
        wallMs,
        userS: fields[1] ?? Number.NaN,
        sysS: fields[2] ?? Number.NaN,
        maxRssKb: fields[3] ?? Number.NaN,
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8") + (timedOut ? `\n${cmd}: killed after its time limit of ${options.timeoutMs} ms` : ""),
      });
    });
  });
}

/** Run a command and collect its output; reject on a non-zero exit. */
export function run(cmd: string, args: string[], options: SpawnOptions & { input?: string } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...options, stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on("data", (c: Buffer) => out.push(c));
    child.stderr!.on("data", (c: Buffer) => err.push(c));
    child.on("error", reject);
    child.on("close", (status) => {
      if (status === 0) resolve(Buffer.concat(out).toString("utf8"));
      else reject(new Error(`${cmd} ${args.join(" ")} exited with ${status}: ${Buffer.concat(err).toString("utf8").slice(0, 2000)}`));
    });
    child.stdin!.end(options.input ?? "");
  });
}

let setprivWorks: boolean | undefined;

/**
 * `cmd args` prefixed so that the kernel sends `signal` to the command when this process dies
 * (`setpriv --pdeathsig`, util-linux), when setpriv is there. A detached child (its own process
 * group, so the cleanup can stop it whole) is out of reach of the terminal's Ctrl+C and of every
 * handler when the runner is killed outright (SIGKILL, the OOM killer): without this, a peer
 * server (cfssl serve, H_node) would keep running and hold its port after such a run.
 */
export function dieWithParent(cmd: string, args: readonly string[], signal: "TERM" | "KILL"): [string, string[]] {
  setprivWorks ??= spawnSync("setpriv", ["--pdeathsig", "TERM", "true"], { stdio: "ignore" }).status === 0;
  return setprivWorks ? ["setpriv", ["--pdeathsig", signal, cmd, ...args]] : [cmd, [...args]];
}

/** Start a long-running server as the leader of its own process group (killed whole at cleanup, and when this process dies). */
export function startDaemon(cleanup: Cleanup, cmd: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): ChildProcess {
  // TERM, not KILL: `openssl ocsp -multi`'s master stops its workers on TERM.
  const [file, argv] = dieWithParent(cmd, args, "TERM");
  const child = spawn(file, argv, { cwd: options.cwd, env: options.env ?? process.env, stdio: ["ignore", "ignore", "pipe"], detached: true });
  child.stderr!.resume();
  return cleanup.child(asGroupLeader(child));
}

/** Stop a daemon by its process group and wait for it to exit (SIGKILL after 3 s). */
export async function stopDaemon(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const pid = child.pid;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  if (!signalGroup(pid, "SIGTERM")) return;
  const timer = setTimeout(() => signalGroup(pid, "SIGKILL"), 3000);
  await exited;
  clearTimeout(timer);
}

/** A free TCP port on 127.0.0.1 (bound and released; the caller binds it right after). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
