import { execFileSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { freePort } from "./net.ts";

/** Debian's PostgreSQL 15 server programs (the machine's PostgreSQL; `.ci/run` relies on it). */
const BIN = "/usr/lib/postgresql/15/bin";

/** One PostgreSQL server of a private cluster, on its own free port. */
export interface PrivateServer {
  readonly port: number;
  /** Its connection string (user postgres, database postgres). */
  readonly url: string;
  start(): void;
  /** `immediate` (a crash: standbys may be left anywhere) or `fast` (a clean shutdown: standbys receive everything first). */
  stop(mode?: "immediate" | "fast"): void;
  /** Freeze or thaw every process of the server (SIGSTOP/SIGCONT): a server that hangs, connections and queries alike. */
  freeze(): void;
  thaw(): void;
  /** A standby becomes a primary on a new timeline (pg_ctl promote, waiting until it accepts writes). */
  promote(): void;
  /** A standby streams from another server from now on (primary_conninfo, reloaded). */
  follow(upstream: PrivateServer): Promise<void>;
  /** The timeline a standby is streaming, or undefined while it streams none. */
  streamingTimeline(): Promise<number | undefined>;
}

export interface PrivateCluster {
  readonly primary: PrivateServer;
  readonly standbys: readonly PrivateServer[];
  stop(): void;
}

/**
 * A private PostgreSQL primary with streaming hot standbys, in a temporary directory, on free
 * ports: initdb, then pg_basebackup -R per standby (≈1–2 s each). The server refuses to run as
 * root, so as root (CI) it runs as the `postgres` user that Debian's package creates.
 */
export async function privateCluster(standbyCount: number): Promise<PrivateCluster> {
  if (!existsSync(join(BIN, "initdb"))) throw new Error(`PostgreSQL 15 server programs not found in ${BIN}`);
  const asRoot = userInfo().uid === 0;
  const dir = mkdtempSync(join(tmpdir(), "openjpki-replication-"));
  if (asRoot) {
    const { uid, gid } = postgresUser();
    chownSync(dir, uid, gid);
  }
  const run = (program: string, args: string[]) =>
    execFileSync(asRoot ? "runuser" : join(BIN, program), asRoot ? ["-u", "postgres", "--", join(BIN, program), ...args] : args, { stdio: "pipe", cwd: dir });
  const servers: PrivateServer[] = [];
  const stopAll = () => {
    for (const server of [...servers].reverse()) server.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  // A free port may be taken by another test file before the server binds it: try others.
  const startOnFreePort = async (data: string) => {
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      try {
        const server = privateServer(run, dir, data, port);
        server.start();
        servers.push(server);
        return server;
      } catch (error) {
        if (attempt >= 3) throw error;
      }
    }
  };
  try {
    const primaryDir = join(dir, "primary");
    run("initdb", ["-D", primaryDir, "-U", "postgres", "--auth=trust", "--no-sync", "--no-instructions"]);
    const primary = await startOnFreePort(primaryDir);
    const standbys: PrivateServer[] = [];
    for (let i = 1; i <= standbyCount; i++) {
      const standbyDir = join(dir, `standby${i}`);
      run("pg_basebackup", ["-h", "127.0.0.1", "-p", String(primary.port), "-U", "postgres", "-D", standbyDir, "-R", "--checkpoint=fast", "--no-sync"]);
      standbys.push(await startOnFreePort(standbyDir));
    }
    return { primary, standbys, stop: stopAll };
  } catch (error) {
    stopAll();
    throw error;
  }
}

function privateServer(run: (program: string, args: string[]) => Buffer, socketDir: string, data: string, port: number): PrivateServer {
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const options = `-p ${port} -k ${socketDir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off`;
  const signal = (name: NodeJS.Signals) => {
    const postmaster = Number(readFileSync(join(data, "postmaster.pid"), "utf8").split("\n")[0]);
    const children = execFileSync("pgrep", ["-P", String(postmaster)], { encoding: "utf8" }).trim().split("\n").filter(Boolean).map(Number);
    for (const pid of [postmaster, ...children]) process.kill(pid, name);
  };
  const query = async <R extends pg.QueryResultRow>(text: string): Promise<R[]> => {
    const client = new pg.Client({ connectionString: url });
    client.on("error", () => {});
    await client.connect();
    try {
      return (await client.query<R>(text)).rows;
    } finally {
      await client.end();
    }
  };
  return {
    port,
    url,
    start: () => run("pg_ctl", ["-D", data, "-l", `${data}.log`, "-w", "-t", "60", "start", "-o", options]),
    stop(mode = "immediate") {
      try {
        run("pg_ctl", ["-D", data, "-m", mode, "-w", "stop"]);
      } catch {
        // already stopped
      }
    },
    freeze: () => signal("SIGSTOP"),
    thaw: () => signal("SIGCONT"),
    promote: () => run("pg_ctl", ["-D", data, "-w", "-t", "60", "promote"]),
    async follow(upstream) {
      await query(`alter system set primary_conninfo = 'host=127.0.0.1 port=${upstream.port} user=postgres application_name=standby'`);
      await query("select pg_reload_conf()");
    },
    async streamingTimeline() {
      const rows = await query<{ tli: number | null }>("select (select received_tli from pg_stat_wal_receiver where status = 'streaming') as tli");
      return rows[0]?.tli ?? undefined;
    },
  };
}

/** Wait until a standby streams the given timeline (after a promotion it must first learn the new one). */
export async function streamingTimeline(standby: PrivateServer, timeline: number, withinMs = 20_000): Promise<void> {
  for (const end = Date.now() + withinMs; Date.now() < end; await sleep(50)) {
    if ((await standby.streamingTimeline().catch(() => undefined)) === timeline) return;
  }
  throw new Error(`the standby on port ${standby.port} did not stream timeline ${timeline} within ${withinMs} ms`);
}

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

/** A private primary with one streaming hot standby (privateCluster(1)). */
export async function privateReplication(): Promise<PrivateReplication> {
  const cluster = await privateCluster(1);
  const standby = cluster.standbys[0]!;
  return {
    primaryUrl: cluster.primary.url,
    standbyUrl: standby.url,
    stopStandby: () => standby.stop(),
    startStandby: () => standby.start(),
    freezeStandby: () => standby.freeze(),
    thawStandby: () => standby.thaw(),
    stop: () => cluster.stop(),
  };
}

function postgresUser(): { uid: number; gid: number } {
  const id = (flag: string) => Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8" }).trim());
  return { uid: id("-u"), gid: id("-g") };
}
