/**
 * Peers that cannot bind to loopback only (`openssl ocsp -port` listens on every interface)
 * run in a private network namespace that holds nothing but `lo`, together with the load
 * client that measures them (as in the anchors file). The namespace, the server and the
 * client live in one process group, killed whole at the end.
 */
import { spawn, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { asGroupLeader, type Cleanup } from "./harness.ts";
import { loadCommand, runLoad, type LoadResult, type LoadSpec } from "./load.ts";
import { startDaemon, stopDaemon } from "./proc.ts";

let canUnshare: boolean | undefined;

/** Whether private network namespaces work here (root, or user namespaces). */
export function privateNetworkAvailable(): boolean {
  canUnshare ??= spawnSync("unshare", ["-n", "sh", "-c", "ip link set lo up"], { stdio: "ignore" }).status === 0;
  return canUnshare;
}

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Start `server` (listening on spec.port), run the load against it, stop it. In a private
 * network namespace when available; otherwise on the host's loopback (and the result says so).
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
    "kill $SRV 2>/dev/null; sleep 0.2; kill -9 $SRV 2>/dev/null",
    "exit $RC",
  ].join("\n");
  const child = cleanup.child(asGroupLeader(spawn("unshare", ["-n", "sh", "-c", script], { cwd: dir, stdio: ["ignore", "inherit", "inherit"], detached: true })));
  await new Promise<void>((resolve) => child.once("exit", () => resolve()));
  try {
    process.kill(-child.pid!, "SIGKILL"); // anything left in the group (e.g. -multi workers)
  } catch {
    // all gone
  }
  const out = JSON.parse(readFileSync(outFile, "utf8")) as LoadResult & { error?: string };
  if (out.error) throw new Error(`${name}: ${out.error}`);
  return { ...out, isolated: true };
}
