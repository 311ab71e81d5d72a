/**
 * The benchmark's private namespaces leave nothing behind: a peer that escapes its process
 * group (`openssl ocsp -multi` makes its master a group leader, and its workers outlive it)
 * must still be gone once the namespace's script returns, or it takes a core from every later
 * benchmark of the run (it did: see bench/netns.ts).
 */
import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { Cleanup } from "../../bench/harness.ts";
import { privateNetworkAvailable, runInPrivateNamespace } from "../../bench/netns.ts";

/** Host pids of openssl processes whose command line contains `marker`. */
function processesWith(marker: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const commandLine = readFileSync(`/proc/${name}/cmdline`, "utf8");
      if (commandLine.startsWith("openssl\0") && commandLine.includes(marker)) pids.push(Number(name));
    } catch {
      // exited while we looked
    }
  }
  return pids;
}

const available = privateNetworkAvailable();

describe("bench private namespaces", { skip: available ? false : "private network and PID namespaces need root (unshare --net --pid) and ip" }, () => {
  const cleanup = new Cleanup();
  const dir = cleanup.tempDir("netns-test");
  const marker = `index-${randomBytes(6).toString("hex")}.txt`;
  after(async () => {
    // A failing run must not leave them spinning.
    for (const pid of processesWith(marker)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone already
      }
    }
    await cleanup.runAll();
  });

  it("leaves no process of openssl ocsp -multi behind, though its master and workers leave the script's process group", async () => {
    const made = spawnSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem", "-out", "cert.pem", "-subj", "/CN=responder", "-days", "1"], { cwd: dir });
    assert.equal(made.status, 0, made.stderr.toString());
    writeFileSync(join(dir, marker), "");
    // The script starts the responder with two workers, waits until all three run, records how
    // many it saw and what process group the master took, and exits without stopping them.
    const script = [
      "ip link set lo up || exit 90",
      `openssl ocsp -index ${marker} -port 8888 -rsigner cert.pem -rkey key.pem -CA cert.pem -nmin 10 -multi 2 > server.out 2> server.err &`,
      `for i in $(seq 100); do [ "$(pgrep -f '^openssl ocsp -index ${marker}' | wc -l)" -ge 3 ] && break; sleep 0.1; done`,
      `pgrep -f '^openssl ocsp -index ${marker}' | wc -l > seen`,
      // Host process groups (pgrep and ps read the host's /proc; $! would be a namespace pid).
      `pgrep -f '^openssl ocsp -index ${marker}' | xargs ps -o pgid= -p | sort -u > server-groups`,
      "ps -o pgid= -p \"$(cut -d' ' -f4 /proc/self/stat)\" > script-group",
      "exit 0",
    ].join("\n");
    assert.equal(await runInPrivateNamespace(cleanup, script, dir), 0);
    assert.equal(readFileSync(join(dir, "seen"), "utf8").trim(), "3", "the responder should have run a master and two workers");
    const serverGroups = readFileSync(join(dir, "server-groups"), "utf8").trim().split(/\s+/);
    const scriptGroup = readFileSync(join(dir, "script-group"), "utf8").trim();
    assert.match(scriptGroup, /^\d+$/);
    assert.equal(serverGroups.length, 1, "master and workers share one process group");
    assert.notEqual(serverGroups[0], scriptGroup, "openssl -multi leaves the script's process group");
    assert.deepEqual(processesWith(marker), [], "no responder process may outlive the namespace's script");
  });

  it("sends what the script prints to stderr, so stdout stays the report's (`--json`)", () => {
    // openssl ocsp prints "ACCEPT [::]:8888 PID=…" on stdout when it starts; this once came
    // before the JSON report and made it unparseable. A child process, to see its real stdout.
    const netns = new URL("../../bench/netns.ts", import.meta.url).href;
    const harness = new URL("../../bench/harness.ts", import.meta.url).href;
    const code = [
      `const { runInPrivateNamespace } = await import(${JSON.stringify(netns)});`,
      `const { Cleanup } = await import(${JSON.stringify(harness)});`,
      `const cleanup = new Cleanup();`,
      `const rc = await runInPrivateNamespace(cleanup, "echo from-the-namespace-${marker}", ${JSON.stringify(dir)});`,
      `await cleanup.runAll();`,
      `process.stdout.write("rc=" + rc);`,
    ].join("\n");
    const child = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], { encoding: "utf8", timeout: 60_000 });
    assert.equal(child.status, 0, child.stderr);
    assert.equal(child.stdout, "rc=0", "nothing but the caller's own output on stdout");
    assert.match(child.stderr, new RegExp(`from-the-namespace-${marker}`));
  });
});
