/**
 * A full run measures the baselines again at its end; the text report says how far the machine's
 * signing speed moved and flags a drift beyond 10 %, since every ratio uses the start's baselines.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Baselines } from "../../bench/baselines.ts";
import { baselineDrift, renderText, type Report } from "../../bench/report.ts";

function baselines(signPerS1: number, signPerS2: number): Baselines {
  return {
    signPerS1,
    verifyPerS1: signPerS1 * 15,
    signPerS2,
    verifyPerS2: signPerS2 * 15,
    seconds: 3,
    runs: { oneProcess: [{ sign: signPerS1, verify: signPerS1 * 15 }], twoProcesses: [{ sign: signPerS2, verify: signPerS2 * 15 }] },
    cpu: [],
  };
}

function report(end?: Baselines): Report {
  return {
    machine: { date: "2026-11-26T00:00:00.000Z", nproc: 2, cpuModel: "test CPU", memoryGiB: 24, node: "v20.20.2", openssl: "OpenSSL 3.0.22", kernel: "6.1" },
    options: { quick: false, fullScale: false },
    startedAt: "2026-11-26T00:00:00.000Z",
    durationS: 600,
    baselines: baselines(4000, 8000),
    ...(end ? { baselinesAtEnd: end } : {}),
    results: [],
  };
}

describe("benchmark report: baselines at the end of a run", () => {
  it("computes end ÷ start for both signing baselines", () => {
    const drift = baselineDrift(baselines(4000, 8000), baselines(3000, 4400));
    assert.equal(drift.sign1, 0.75);
    assert.equal(drift.sign2, 0.55);
    assert.equal(drift.drifted, true);
    assert.equal(baselineDrift(baselines(4000, 8000), baselines(3800, 8400)).drifted, false, "5 % either way is not a drift");
    assert.equal(baselineDrift(baselines(4000, 8000), baselines(4000, 9200)).drifted, true, "a machine that got 15 % faster drifted too");
  });

  it("flags a machine that slowed down during the run", () => {
    const text = renderText(report(baselines(3000, 4400)));
    assert.match(text, /baselines again at the end: R_sign1 3,000\/s, R_sign2 4,400\/s \(0\.75 × and 0\.55 × the start's/);
    assert.match(text, /! drift: the machine's signing speed changed by more than 10 %/);
    assert.doesNotMatch(text, /noisy end baselines/, "its end windows were quiet");
  });

  it("shows the end measurement's own noisy windows, which would explain a drift", () => {
    const end = baselines(3000, 4400);
    end.cpu.push({ label: "openssl speed rsa2048 (1 process) #1", wallS: 3, ownCpuS: 3, foreignCpuS: 2.5, valid: false, foreignTop: [{ pid: 4242, command: "chromium", cpuS: 2.4 }] });
    assert.match(renderText(report(end)), /! noisy end baselines: openssl speed rsa2048 \(1 process\) #1 \(own 3s, foreign 2\.5s: chromium\[4242\] 2\.4s\)/);
  });

  it("reports a steady machine without a flag, and says nothing when the end was not measured", () => {
    const steady = renderText(report(baselines(3900, 8100)));
    assert.match(steady, /baselines again at the end: .*\(0\.98 × and 1\.01 × the start's/);
    assert.doesNotMatch(steady, /! drift/);
    assert.doesNotMatch(renderText(report()), /baselines again at the end/);
  });
});
