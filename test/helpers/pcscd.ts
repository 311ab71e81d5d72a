/**
 * A private pcscd for interoperability tests, isolated from any pcscd on the machine.
 *
 * pcscd's socket and pid file are fixed at /run/pcscd, and vpcd listens on two
 * consecutive TCP ports. So pcscd is started as
 *   unshare -m --propagation private sh -c 'mount -t tmpfs … && exec pcscd --foreground --auto-exit -c DIR'
 * i.e. in its own mount namespace with a private tmpfs under /run/pcscd, reading its own
 * reader.conf.d whose vpcd entry listens on two free ports (never 35963). `exec` keeps
 * the child's pid equal to pcscd's, so
 *  - external clients (opensc-tool, pkcs15-tool, pkcs11-tool, …) run inside the same
 *    namespace through `nsenter --mount=/proc/PID/ns/mnt` ({@link PcscdHarness.exec});
 *  - in-process clients (node pcsclite) reach the socket through a symlink to
 *    /proc/PID/root/run/pcscd/pcscd.comm named in PCSCLITE_CSOCK_NAME ({@link PcscdHarness.env}).
 * `--auto-exit` makes pcscd quit by itself 60 s after its last client if this process dies
 * without cleaning up; {@link PcscdHarness.stop} and a process "exit" hook stop it otherwise.
 * Needs root (for unshare and mount), as in CI.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

const VPCD_DRIVER = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so";
export const OPENSC_PKCS11_MODULE = ["/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so", "/usr/lib/x86_64-linux-gnu/pkcs11/opensc-pkcs11.so"].find((p) =>
  existsSync(p),
) ?? "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so";

function which(cmd: string): string | null {
  const r = spawnSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8", timeout: 5000 });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** Why the interop tests cannot run here, or null when they can. */
export function pcscdUnavailableReason(extraTools: string[] = []): string | null {
  const missing: string[] = [];
  for (const tool of ["pcscd", "unshare", "nsenter", "mount", ...extraTools]) if (!which(tool)) missing.push(tool);
  if (!existsSync(VPCD_DRIVER)) missing.push(`vpcd driver (${VPCD_DRIVER})`);
  if (missing.length > 0) {
    return `skipped: ${missing.join(", ")} not installed (apt-get install pcscd vsmartcard-vpcd opensc pcsc-tools)`;
  }
  if (process.getuid?.() !== 0) return "skipped: the private pcscd needs root (unshare -m and mount)";
  return null;
}

export interface ExecResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  stdoutBytes: Buffer;
  timedOut: boolean;
}

export interface ExecOptions {
  timeoutMs?: number;
  input?: string | Uint8Array;
  env?: Record<string, string>;
  cwd?: string;
}

export interface PcscdHarness {
  /** pcscd's pid (also the namespace holder). Changes on restart(). */
  readonly pid: number;
  /** vpcd's port for slot 0 (slot 1 is port + 1). */
  readonly vpcdPort: number;
  /** The PC/SC name of slot 0's reader. */
  readonly readerName: string;
  /** A scratch directory removed by stop(). */
  readonly dir: string;
  /** Environment for in-process PC/SC clients (PCSCLITE_CSOCK_NAME → this pcscd's socket). */
  readonly env: { PCSCLITE_CSOCK_NAME: string };
  /** Run a command inside pcscd's mount namespace, with a timeout (default 30 s). */
  exec(command: string, args: string[], opts?: ExecOptions): Promise<ExecResult>;
  /** pcscd's log so far (with debug: every APDU, PINs included). */
  log(): string;
  /** Kill pcscd and start a new one on the same ports (the vpcd card must reconnect). */
  restart(): Promise<void>;
  /** Stop pcscd and remove the scratch directory. Safe to call twice. */
  stop(): Promise<void>;
}

export interface StartPcscdOptions {
  /** Log every APDU (`--debug --apdu`). Also on when OPENJPKI_PCSCD_DEBUG=1. */
  debug?: boolean;
  /** How long to wait for pcscd to come up (ms). Default 10000. */
  startTimeoutMs?: number;
}

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen({ port, host: "0.0.0.0", exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Two consecutive free TCP ports (vpcd's slot 0 and slot 1), away from the default 35963. */
async function findPortPair(): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = 20000 + 2 * Math.floor(Math.random() * 15000);
    if (port === 35962 || port === 35963 || port === 35964) continue;
    if ((await portIsFree(port)) && (await portIsFree(port + 1))) return port;
  }
  throw new Error("no two consecutive free TCP ports found for vpcd");
}

/** Inodes of the sockets listening on `port` (from /proc/net/tcp; connecting would look like a card to vpcd). */
function listeningInodes(port: number): string[] {
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  const inodes: string[] = [];
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length > 9 && cols[1]?.endsWith(`:${hex}`) && cols[3] === "0A") inodes.push(cols[9]!);
    }
  }
  return inodes;
}

function isListening(port: number): boolean {
  return listeningInodes(port).length > 0;
}

/** Whether process `pid` itself owns a socket listening on `port` (and not some other program). */
function ownsListener(pid: number, port: number): boolean {
  const inodes = new Set(listeningInodes(port));
  if (inodes.size === 0) return false;
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m && inodes.has(m[1]!)) return true;
      } catch {
        // fd closed meanwhile
      }
    }
  } catch {
    return false;
  }
  return false;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const child of live) {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
    }
  });
}

export async function startPcscd(opts: StartPcscdOptions = {}): Promise<PcscdHarness> {
  const reason = pcscdUnavailableReason();
  if (reason) throw new Error(reason);
  installExitHook();
  const debug = opts.debug ?? process.env.OPENJPKI_PCSCD_DEBUG === "1";
  const startTimeout = opts.startTimeoutMs ?? 10_000;
  const dir = mkdtempSync(join(tmpdir(), "openjpki-pcscd-"));
  const confDir = join(dir, "reader.conf.d");
  const socketLink = join(dir, "pcscd.comm");
  mkdirSync(confDir);
  let port = 0;
  /** Picks two free ports and writes vpcd's reader.conf.d entry for them. */
  const configure = async (): Promise<void> => {
    port = await findPortPair();
    const channel = `0x${port.toString(16).toUpperCase()}`;
    writeFileSync(
      join(confDir, "vpcd"),
      `FRIENDLYNAME "Virtual PCD"\nDEVICENAME   /dev/null:${channel}\nLIBPATH      ${VPCD_DRIVER}\nCHANNELID    ${channel}\n`,
    );
  };

  let child: ChildProcess | null = null;
  let logText = "";
  const MAX_LOG = 8 * 1024 * 1024; // keep the most recent 8 MiB of pcscd's (debug) output
  const appendLog = (d: Buffer): void => {
    logText += d.toString("utf8");
    if (logText.length > MAX_LOG) logText = logText.slice(logText.length - MAX_LOG / 2);
  };

  const launch = async (): Promise<void> => {
    // /run/pcscd may not exist on the host: then a tmpfs over the whole /run (private to the namespace).
    const target = existsSync("/run/pcscd") ? "/run/pcscd" : "/run";
    const flags = ["--foreground", "--auto-exit", "-c", confDir, ...(debug ? ["--debug", "--apdu"] : [])];
    const script = `mount -t tmpfs -o mode=0755 openjpki-pcscd ${target} && mkdir -p /run/pcscd && exec pcscd ${flags.map((f) => `'${f}'`).join(" ")}`;
    const c = spawn("unshare", ["-m", "--propagation", "private", "sh", "-c", script], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    child = c;
    live.add(c);
    c.stdout!.on("data", appendLog);
    c.stderr!.on("data", appendLog);
    c.once("exit", () => live.delete(c));
    const socket = `/proc/${c.pid}/root/run/pcscd/pcscd.comm`;
    const deadline = Date.now() + startTimeout;
    while (Date.now() < deadline) {
      if (c.exitCode !== null || c.signalCode !== null) {
        throw new Error(`pcscd exited during start-up (${c.exitCode ?? c.signalCode}):\n${logText}`);
      }
      if (existsSync(socket) && ownsListener(c.pid!, port)) break;
      await sleep(25);
    }
    if (!existsSync(socket) || !ownsListener(c.pid!, port)) {
      throw new Error(`pcscd did not come up (or vpcd could not listen on port ${port}) within ${startTimeout} ms:\n${logText}`);
    }
    try {
      unlinkSync(socketLink);
    } catch {
      // first start
    }
    symlinkSync(socket, socketLink);
  };

  const kill = async (): Promise<void> => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((r) => c.once("exit", () => r()));
    c.kill("SIGTERM");
    const timer = setTimeout(() => c.kill("SIGKILL"), 3000);
    await exited;
    clearTimeout(timer);
    // vpcd's listening sockets go with the process; wait until the kernel agrees.
    for (let i = 0; i < 100 && (isListening(port) || isListening(port + 1)); i++) await sleep(20);
  };

  // Another program may grab the ports between the check and pcscd's bind: then try new ones.
  for (let attempt = 1; ; attempt++) {
    await configure();
    try {
      await launch();
      break;
    } catch (e) {
      await kill();
      if (attempt >= 3) {
        rmSync(dir, { recursive: true, force: true });
        throw e;
      }
    }
  }

  let stopped = false;
  const harness: PcscdHarness = {
    get pid() {
      return child!.pid!;
    },
    get vpcdPort() {
      return port;
    },
    readerName: "Virtual PCD 00 00",
    dir,
    env: { PCSCLITE_CSOCK_NAME: socketLink },
    exec(command, args, execOpts = {}) {
      return runCommand("nsenter", [`--mount=/proc/${child!.pid}/ns/mnt`, "--", command, ...args], execOpts);
    },
    log: () => logText,
    async restart() {
      await kill();
      await launch();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return harness;
}

/** Run a command with a hard timeout (SIGKILL), collecting its output. Never rejects on exit status. */
export function runCommand(command: string, args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    const c = spawn(command, args, {
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...process.env, ...opts.env },
      cwd: opts.cwd,
    });
    live.add(c);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      c.kill("SIGKILL");
    }, timeoutMs);
    c.stdout.on("data", (d: Buffer) => out.push(d));
    c.stderr.on("data", (d: Buffer) => err.push(d));
    c.once("error", (e) => {
      clearTimeout(timer);
      live.delete(c);
      reject(e);
    });
    c.once("close", (code, signal) => {
      clearTimeout(timer);
      live.delete(c);
      const stdoutBytes = Buffer.concat(out);
      resolve({
        code,
        signal,
        stdout: stdoutBytes.toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
        stdoutBytes,
        timedOut,
      });
    });
    c.stdin.on("error", () => undefined);
    c.stdin.end(opts.input ?? "");
  });
}
