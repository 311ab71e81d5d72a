/**
 * The benchmark's bounds hold for the commands it measures and the probes it sends: a time limit
 * on a run under /usr/bin/time stops the command itself (GNU time passes no signal on, so killing
 * `time` alone left the command running and the limit bounded nothing), and so does the cleanup;
 * a probe of a server that stops answering fails instead of hanging the run.
 */
import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Socket } from "node:net";
import { Agent } from "node:http";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Cleanup, httpGet, pollUntil, sleep } from "../../bench/harness.ts";
import { runMeasured } from "../../bench/proc.ts";

/** Whether `pid` still runs: a zombie (exited, not yet reaped by whoever adopted it) counts as gone. */
const alive = (pid: number): boolean => {
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
};

/** The pid the command wrote to `file`, once it has (it may start late on a loaded machine). */
async function pidFrom(file: string): Promise<number> {
  let pid = 0;
  await pollUntil(async () => {
    await sleep(10);
    pid = Number(readFileSync(file, { encoding: "utf8", flag: "a+" }).trim());
    return pid > 0;
  }, 10_000);
  assert.ok(pid > 0, `the command should have written its pid to ${file}`);
  return pid;
}

const gone = (pid: number) => pollUntil(async () => (await sleep(10), !alive(pid)), 5000);

/** A shell that records its pid and then becomes a long sleep (the "command" under time). */
const sleeper = (pidFile: string): string[] => ["-c", `echo $$ > ${JSON.stringify(pidFile)}; exec sleep 60`];

describe("bench child processes and probes", () => {
  const cleanup = new Cleanup();
  const dir = cleanup.tempDir("proc-test");
  after(() => cleanup.runAll());

  it("a time limit stops the measured command, not only /usr/bin/time", async () => {
    const pidFile = join(dir, "limited.pid");
    const run = await runMeasured(cleanup, "sh", sleeper(pidFile), { cwd: dir, timeoutMs: 3000 });
    const pid = await pidFrom(pidFile);
    assert.notEqual(run.status, 0);
    assert.match(run.stderr, /killed after its time limit of 3000 ms/);
    assert.ok(await gone(pid), `the command (pid ${pid}) must be gone`);
  });

  it("the cleanup stops a measured command that is still running", async () => {
    const pidFile = join(dir, "cleaned.pid");
    const running = runMeasured(cleanup, "sh", sleeper(pidFile), { cwd: dir });
    const pid = await pidFrom(pidFile);
    cleanup.killChildren();
    // Killing only `time` left the command holding the output pipe, so the run did not end until the command did.
    const run = await Promise.race([running, sleep(5000).then(() => undefined)]);
    assert.ok(run, "the run must end once the cleanup has stopped it");
    assert.notEqual(run.status, 0);
    assert.ok(await gone(pid), `the command (pid ${pid}) must be gone`);
  });

  it("a probe of a server that accepts but never answers fails after its timeout", async () => {
    const sockets: Socket[] = [];
    const server = createServer((socket) => void sockets.push(socket)); // reads nothing, writes nothing
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      await assert.rejects(httpGet(agent, port, "/ocsp/sign/x", 300), /GET \/ocsp\/sign\/x: no answer within 300 ms/);
    } finally {
      agent.destroy();
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("pollUntil gives the time the check first held, or undefined once its time is up", async () => {
    let calls = 0;
    const t0 = performance.now();
    const seen = await pollUntil(async () => ++calls === 3, 2000);
    assert.ok(seen !== undefined && seen >= t0);
    assert.equal(calls, 3);
    assert.equal(await pollUntil(async () => (await sleep(5), false), 50), undefined);
  });
});
