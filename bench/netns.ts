/**
 * Peers that cannot bind to loopback only (`openssl ocsp -port` listens on every interface)
 * run in a private network namespace that holds nothing but `lo`, together with the load
 * client that measures them (as in the anchors file).
 *
 * The namespace has its own PID namespace too, whose first process is the script: when the script
 * exits, the kernel kills every process left inside (and if `unshare` itself is killed,
 * `--kill-child` kills the script first). A process group is not enough: `openssl ocsp -multi`
 * makes its master the leader of a new group, and its workers outlive it (reparented to init).
 * Before this, one such worker spun at 100 % of a core after every full run's OCSP-SIGN suite, so
 * every later benchmark of the run (REVOKE-LATENCY, OCSP-REFRESH, ISSUE, VERIFY-CMS, VERIFY-AUTH,
 * CARD) had one core and was flagged noisy; survivors of earlier runs took the other core as well.
 */
import { spawn, spawnSync, type StdioOptions } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { asGroupLeader, type Cleanup } from "./harness.ts";
import { loadCommand, runLoad, type LoadResult, type LoadSpec } from "./load.ts";
import { dieWithParent, startDaemon, stopDaemon } from "./proc.ts";

let canUnshare: boolean | undefined;

/** `unshare` arguments for a command in a private network and PID namespace that dies whole with its first process. */
const PRIVATE_NAMESPACES = ["--net", "--pid", "--fork", "--kill-child"];

/** Whether private network and PID namespaces work here (as root: CAP_SYS_ADMIN), with `ip` to bring up `lo`. */
export function privateNetworkAvailable(): boolean {
  canUnshare ??= spawnSync("unshare", [...PRIVATE_NAMESPACES, "sh", "-c", "ip link set lo up"], { stdio: "ignore" }).status === 0;
  return canUnshare;
}

/**
 * Run a shell script as the first process of a private network and PID namespace; resolves
 * with its exit code once it and everything it started are gone.
 */
export function runInPrivateNamespace(cleanup: Cleanup, script: string, cwd: string): Promise<number | null> {
  // The script's stdout goes to our stderr: stdout is the report's (`--json` must stay parseable),
  // and `openssl ocsp` prints an "ACCEPT …" line there when it starts listening.
  const stdio: StdioOptions = ["ignore", process.stderr, "inherit"];
  // If this process dies outright, unshare gets SIGKILL, and --kill-child takes the namespace down with it.
  const [file, args] = dieWithParent("unshare", [...PRIVATE_NAMESPACES, "sh", "-c", script], "KILL");
  const child = cleanup.child(asGroupLeader(spawn(file, args, { cwd, stdio, detached: true })));
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => resolve(code));
  });
}

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Start `server` (listening on spec.port), run the load against it, stop it. In a private
 * network namespace when available; otherwise in the host's network, where `openssl ocsp`
 * listens on every interface while it runs (the result says `isolated: false`, and the notes say so).
 */
export async function loadAgainstServer(
  cleanup: Cleanup,
  dir: string,
  name: string,
  server: { cmd: string; args: string[] },
  spec: LoadSpec,
): Promise<LoadResult & { isolated: boolean }> {
  if (!privateNetworkAvailable()) {
    const daemon = startDaemon(cleanup, server.cmd, server.args, { cwd: dir });
    try {
      return { ...(await runLoad(cleanup, spec)), isolated: false };
    } finally {
      await stopDaemon(daemon);
    }
  }
  const specFile = join(dir, `${name}.spec.json`);
  const outFile = join(dir, `${name}.out.json`);
  writeFileSync(specFile, JSON.stringify(spec));
  const script = [
    "ip link set lo up || exit 90",
    `${[server.cmd, ...server.args].map(quote).join(" ")} 2> ${quote(join(dir, `${name}.server.err`))} &`,
    "SRV=$!",
    loadCommand(specFile, outFile).map(quote).join(" "),
    "RC=$?",
    // Stop the server's own group too (openssl -multi leads one) and reap it: what the namespace's
    // end kills is never reaped into our process tree, so its CPU would count as foreign.
    "kill -TERM -$SRV $SRV 2>/dev/null; sleep 0.2; kill -KILL -$SRV $SRV 2>/dev/null; wait",
    "exit $RC",
  ].join("\n");
  const code = await runInPrivateNamespace(cleanup, script, dir);
  if (!existsSync(outFile)) throw new Error(`${name}: the namespace's script exited with ${code} before the load client wrote its result (90: lo could not be brought up)`);
  const out = JSON.parse(readFileSync(outFile, "utf8")) as LoadResult & { error?: string };
  if (out.error) throw new Error(`${name}: ${out.error}`);
  return { ...out, isolated: true };
}
