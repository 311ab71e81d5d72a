/**
 * A benchmark killed midway (SIGKILL, the OOM killer: no handler runs) must not leave its
 * long-running peer servers behind, holding ports: startDaemon starts them as leaders of their
 * own process group (so the cleanup can stop a whole group), which also takes them out of the
 * runner's reach when the runner dies without cleaning up.
 */
import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { readdirSync } from "node:fs";
import { Cleanup, pollUntil, sleep } from "../../bench/harness.ts";
import { privateNetworkAvailable } from "../../bench/netns.ts";

const alive = (pid: number): boolean => {
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
};

const PROC = fileURLToPath(new URL("../../bench/proc.ts", import.meta.url));
const TSX_IMPORT = import.meta.resolve("tsx");

describe("bench daemons when the runner is killed", () => {
  const cleanup = new Cleanup();
  const dir = cleanup.tempDir("proc-review");
  let daemonPid = 0;
  after(async () => {
    if (daemonPid > 0 && alive(daemonPid)) process.kill(daemonPid, "SIGKILL");
    await cleanup.runAll();
  });

  it("a daemon does not outlive a runner killed with SIGKILL", async () => {
    const pidFile = join(dir, "daemon.pid");
    // A stand-in runner: starts a daemon the way the suites do, then waits to be killed.
    const script =
      `import { startDaemon } from ${JSON.stringify(PROC)};` +
      `import { Cleanup } from ${JSON.stringify(fileURLToPath(new URL("../../bench/harness.ts", import.meta.url)))};` +
      `startDaemon(new Cleanup(), "sh", ["-c", ${JSON.stringify(`echo $$ > ${pidFile}; exec sleep 120`)}], { cwd: ${JSON.stringify(dir)} });` +
      `setInterval(() => {}, 1000);`;
    const runner = spawn(process.execPath, ["--import", TSX_IMPORT, "--input-type=module", "-e", script], { stdio: "ignore" });
    await pollUntil(async () => {
      await sleep(20);
      daemonPid = Number(readFileSync(pidFile, { encoding: "utf8", flag: "a+" }).trim());
      return daemonPid > 0;
    }, 20_000);
    assert.ok(daemonPid > 0, "the daemon should have written its pid");
    runner.kill("SIGKILL");
    const gone = await pollUntil(async () => (await sleep(20), !alive(daemonPid)), 5000);
    assert.ok(gone, `the daemon (pid ${daemonPid}) must not outlive its runner`);
  });

  it("a private namespace's processes do not outlive a runner killed with SIGKILL", { skip: privateNetworkAvailable() ? false : "needs unshare --net --pid (root)" }, async () => {
    // A sleep with an unusual duration marks the namespace's process on the host.
    const marker = `${100 + Math.floor(Math.random() * 800)}.${process.pid}`;
    const script =
      `import { runInPrivateNamespace } from ${JSON.stringify(fileURLToPath(new URL("../../bench/netns.ts", import.meta.url)))};` +
      `import { Cleanup } from ${JSON.stringify(fileURLToPath(new URL("../../bench/harness.ts", import.meta.url)))};` +
      `void runInPrivateNamespace(new Cleanup(), "sleep ${marker}", ${JSON.stringify(dir)});` +
      `setInterval(() => {}, 1000);`;
    const marked = (): number[] =>
      readdirSync("/proc")
        .filter((name) => /^\d+$/.test(name))
        .filter((name) => {
          try {
            return readFileSync(`/proc/${name}/cmdline`, "utf8") === `sleep\0${marker}\0` && alive(Number(name));
          } catch {
            return false;
          }
        })
        .map(Number);
    const runner = spawn(process.execPath, ["--import", TSX_IMPORT, "--input-type=module", "-e", script], { stdio: "ignore" });
    let pids: number[] = [];
    await pollUntil(async () => (await sleep(20), (pids = marked()).length > 0), 20_000);
    assert.ok(pids.length > 0, "the namespace's command should be running");
    runner.kill("SIGKILL");
    const gone = await pollUntil(async () => (await sleep(20), marked().length === 0), 5000);
    for (const pid of marked()) process.kill(pid, "SIGKILL");
    assert.ok(gone, `the namespace's command (pid ${pids.join(", ")}) must not outlive its runner`);
  });
});
