/**
 * A noisy benchmark window names the foreign processes that used the CPU, so "noise" can be told
 * apart from a leftover of our own (bench/machine.ts). No timings are asserted: the test waits
 * until a foreign spinner has used some CPU, then checks who the window says it was.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Cleanup, sleep } from "../../bench/harness.ts";
import { cpuWindow, describeQuietness, waitQuiet } from "../../bench/machine.ts";

/** utime + stime of a process, in ticks. */
function ticksOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

/** The pid a process wrote to `file`, once it has. */
async function pidWrittenTo(file: string): Promise<number | undefined> {
  for (let i = 0; i < 100; i++) {
    try {
      const text = readFileSync(file, "utf8").trim();
      if (/^\d+$/.test(text)) return Number(text);
    } catch {
      // not written yet
    }
    await sleep(20);
  }
  return undefined;
}

describe("benchmark CPU windows", () => {
  const cleanup = new Cleanup();
  const dir = cleanup.tempDir("machine-test");
  let spinner: number | undefined;
  after(async () => {
    if (spinner !== undefined) {
      try {
        process.kill(spinner, "SIGKILL");
      } catch {
        // gone already
      }
    }
    await cleanup.runAll();
  });

  before(async () => {
    const pidFile = join(dir, "spinner.pid");
    // setsid -f forks: the spinner's parent is not this process, so it is foreign to the window.
    // No pipes: the spinner would hold them open and spawnSync would wait for it.
    const started = spawnSync("setsid", ["-f", "sh", "-c", `echo $$ > ${pidFile}; while :; do :; done`], { stdio: "ignore" });
    assert.equal(started.status, 0, "setsid -f started the spinner");
    spinner = await pidWrittenTo(pidFile);
    assert.ok(spinner !== undefined, "the spinner wrote its pid");
  });

  it("names a process outside our tree that used CPU in the window, and does not count it as ours", async () => {
    assert.ok(spinner !== undefined);
    const close = cpuWindow("test window");
    const before = ticksOf(spinner);
    for (let i = 0; i < 500 && ticksOf(spinner) - before < 20; i++) await sleep(20);
    const window = close();
    assert.ok(ticksOf(spinner) - before >= 20, "the spinner got some CPU (the machine is not starved)");

    const named = window.foreignTop.find((p) => p.pid === spinner);
    assert.ok(named, `the spinner is named among the foreign processes: ${JSON.stringify(window.foreignTop)}`);
    assert.equal(named.command, "sh");
    assert.ok(named.cpuS >= 0.15, `its CPU is attributed to it (${named.cpuS} s)`);
    assert.ok(window.foreignCpuS >= 0.15, "and counted as foreign");
    assert.ok(window.ownCpuS < window.foreignCpuS, "not as ours: this test mostly sleeps");
  });

  it("waiting for a quiet machine gives up at its limit and says who kept the machine busy", async () => {
    assert.ok(spinner !== undefined);
    // A limit of 0 takes exactly one 1 s sample. On a loaded machine (parallel test files) the
    // spinner may get too little of one sample, or be outrun by other processes: a few samples.
    let quietness = await waitQuiet(0);
    for (let i = 0; i < 5 && !quietness.top.some((p) => p.pid === spinner); i++) quietness = await waitQuiet(0);
    const named = quietness.top.find((p) => p.pid === spinner);
    assert.ok(named, `the spinner is named: ${JSON.stringify(quietness)}`);
    assert.ok(named.cpuS > 0, `with the CPU it used (${named.cpuS} s)`);
    assert.ok(quietness.busy > 0 && quietness.busy <= 1, `a fraction of all CPUs (${quietness.busy})`);
    assert.ok(quietness.ownCpuS < named.cpuS, "the test's own CPU is not the spinner's");
    assert.match(describeQuietness(quietness), new RegExp(`^\\d+ % busy, ours [0-9.]+s: .*sh\\[${spinner}\\] [0-9.]+s`));
  });
});
