/**
 * What the report says about a benchmark must be the truth: a benchmark measured in a window the
 * anchors call invalid (foreign CPU > 10 % of its own) says so in the summary table and the chart
 * (the figures that go into the notes), not only in the long text; and NaN (nothing measured)
 * never reaches the SVG.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { metric, atLeast, atMost, type BenchResult } from "../../bench/harness.ts";
import { renderSummary, renderSvg, type Report } from "../../bench/report.ts";

function report(results: BenchResult[]): Report {
  return {
    machine: { date: "2026-12-07T00:00:00.000Z", nproc: 2, cpuModel: "test CPU", memoryGiB: 24, node: "v20.20.2", openssl: "OpenSSL 3.0.19", kernel: "6.1" },
    options: { quick: true, fullScale: false },
    startedAt: "2026-12-07T00:00:00.000Z",
    durationS: 100,
    results,
  };
}

const window = (valid: boolean) => ({ label: "X ours", wallS: 4, ownCpuS: 7, foreignCpuS: valid ? 0.2 : 3, valid, foreignTop: [] });

describe("benchmark report: noisy windows and missing figures", () => {
  it("marks a benchmark measured in an invalid window in the summary table and the chart", () => {
    const noisy: BenchResult = { id: "NOISY", title: "t", status: "measured", metrics: [metric("rps / H_node", 0.6, "×", "ratio", atLeast(0.5))], notes: [], cpu: [window(true), window(false)] };
    const clean: BenchResult = { id: "CLEAN", title: "t", status: "measured", metrics: [metric("rps / H_node", 0.6, "×", "ratio", atLeast(0.5))], notes: [], cpu: [window(true)] };
    const summary = renderSummary(report([noisy, clean]));
    const row = (id: string) => summary.split("\n").find((line) => line.startsWith(`| ${id} |`)) ?? "";
    assert.match(row("NOISY"), /noisy/, `the noisy benchmark's row must say so: ${row("NOISY")}`);
    assert.doesNotMatch(row("CLEAN"), /noisy/);
    assert.match(renderSvg(report([noisy, clean])), /NOISY: rps \/ H_node \(noisy\)/);
  });

  it("draws no NaN into the chart when a targeted figure was not measured", () => {
    const empty: BenchResult = { id: "EMPTY", title: "t", status: "measured", metrics: [metric("p99", Number.NaN, "ms", "limit", atMost(10))], notes: [] };
    assert.doesNotMatch(renderSvg(report([empty])), /NaN/);
  });
});
