import { execFileSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { freePort } from "./net.ts";

/** Debian's PostgreSQL 15 server programs (the machine's PostgreSQL; `.ci/run` relies on it). */
const BIN = "/usr/lib/postgresql/15/bin";

export interface PrivateReplication {
  /** Connection strings of the private primary and of its streaming hot standby. */
  readonly primaryUrl: string;
  readonly standbyUrl: string;
  /** Stop or start the standby's server (a standby that is down). */
  stopStandby(): void;
  startStandby(): void;
  /** Freeze or thaw every process of the standby (SIGSTOP/SIGCONT): a standby that hangs, connections and queries alike. */
  freezeStandby(): void;
  thawStandby(): void;
  stop(): void;
}

/**
 * A private PostgreSQL primary with a streaming hot standby, in a temporary directory, on free
 * ports: initdb, then pg_basebackup -R (≈2 s in all). The server refuses to run as root, so as
 * root (CI) it runs as the `postgres` user that Debian's package creates.
 */
export async function privateReplication(): Promise<PrivateReplication> {
  if (!existsSync(join(BIN, "initdb"))) throw new Error(`PostgreSQL 15 server programs not found in ${BIN}`);
  const asRoot = userInfo().uid === 0;
  const dir = mkdtempSync(join(tmpdir(), "openjpki-replication-"));
  if (asRoot) {
    const { uid, gid } = postgresUser();
    chownSync(dir, uid, gid);
  }
  const run = (program: string, args: string[]) =>
    execFileSync(asRoot ? "runuser" : join(BIN, program), asRoot ? ["-u", "postgres", "--", join(BIN, program), ...args] : args, { stdio: "pipe", cwd: dir });
  const primaryDir = join(dir, "primary");
  const standbyDir = join(dir, "standby");
  const serverOptions = (port: number) => `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off`;
  const start = (data: string, port: number) => run("pg_ctl", ["-D", data, "-l", `${data}.log`, "-w", "-t", "60", "start", "-o", serverOptions(port)]);
  const stopServer = (data: string) => {
    try {
      run("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
    } catch {
      // already stopped
    }
  };
  // A free port may be taken by another test file before the server binds it: try others.
  const startOnFreePort = async (data: string) => {
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      try {
        start(data, port);
        return port;
      } catch (error) {
        if (attempt >= 3) throw error;
      }
    }
  };
  let primaryPort: number;
  let standbyPort: number;
  try {
    run("initdb", ["-D", primaryDir, "-U", "postgres", "--auth=trust", "--no-sync", "--no-instructions"]);
    primaryPort = await startOnFreePort(primaryDir);
    run("pg_basebackup", ["-h", "127.0.0.1", "-p", String(primaryPort), "-U", "postgres", "-D", standbyDir, "-R", "--checkpoint=fast", "--no-sync"]);
    standbyPort = await startOnFreePort(standbyDir);
  } catch (error) {
    stopServer(standbyDir);
    stopServer(primaryDir);
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const signalStandby = (signal: NodeJS.Signals) => {
    const postmaster = Number(readFileSync(join(standbyDir, "postmaster.pid"), "utf8").split("\n")[0]);
    const children = execFileSync("pgrep", ["-P", String(postmaster)], { encoding: "utf8" }).trim().split("\n").filter(Boolean).map(Number);
    for (const pid of [postmaster, ...children]) process.kill(pid, signal);
  };
  return {
    primaryUrl: `postgres://postgres@127.0.0.1:${primaryPort}/postgres`,
    standbyUrl: `postgres://postgres@127.0.0.1:${standbyPort}/postgres`,
    stopStandby: () => stopServer(standbyDir),
    startStandby: () => start(standbyDir, standbyPort),
    freezeStandby: () => signalStandby("SIGSTOP"),
    thawStandby: () => signalStandby("SIGCONT"),
    stop() {
      stopServer(standbyDir);
      stopServer(primaryDir);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function postgresUser(): { uid: number; gid: number } {
  const id = (flag: string) => Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8" }).trim());
  return { uid: id("-u"), gid: id("-g") };
}
