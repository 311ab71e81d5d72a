/**
 * The run's outputs: a text table on stdout, a JSON report (bench/results/report-<timestamp>.json
 * and latest.json) and a small hand-written SVG chart of every ratio against its target
 * (bench/results/latest.svg).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fmt, type BenchResult, type Metric } from "./harness.ts";
import type { Baselines } from "./baselines.ts";
import { describeProcesses, type CpuWindow, type MachineInfo } from "./machine.ts";

export interface Report {
  machine: MachineInfo;
  options: { quick: boolean; fullScale: boolean; only?: string[] };
  startedAt: string;
  durationS: number;
  baselines?: Baselines;
  /**
   * The same baselines measured again after the last benchmark (full runs): a shared VM can get
   * slower or faster during a run in ways no CPU accounting inside it shows (another tenant on
   * the host's cores). Ratios are taken against the start's; this says whether the machine was
   * the same at both ends (a dip in between shows only in the windows' ratios to their peers).
   */
  baselinesAtEnd?: Baselines;
  results: BenchResult[];
}

/** End ÷ start of the baselines beyond which a run's ratios are flagged as drifting. */
export const BASELINE_DRIFT_LIMIT = 0.1;

/** R_sign1 and R_sign2 at the end of the run ÷ at its start. */
export function baselineDrift(start: Baselines, end: Baselines): { sign1: number; sign2: number; drifted: boolean } {
  const sign1 = end.signPerS1 / start.signPerS1;
  const sign2 = end.signPerS2 / start.signPerS2;
  const drifted = Math.abs(sign1 - 1) > BASELINE_DRIFT_LIMIT || Math.abs(sign2 - 1) > BASELINE_DRIFT_LIMIT;
  return { sign1, sign2, drifted };
}

const digitsFor = (m: Metric): number =>
  m.unit === "×" ? 3 : Math.abs(m.value) < 0.1 && m.value !== 0 ? 4 : Math.abs(m.value) < 10 ? 2 : Math.abs(m.value) < 100 ? 1 : 0;
const value = (m: Metric): string => `${fmt(m.value, digitsFor(m))} ${m.unit}`.trim();
const target = (m: Metric): string => (m.target ? `${m.target.op} ${fmt(m.target.value, m.unit === "×" ? 2 : 1)} ${m.unit}`.trim() : "");
const verdict = (m: Metric): string => (m.target ? (m.met ? "MET" : "NOT MET") : "");

export function renderText(report: Report): string {
  const lines: string[] = [];
  const b = report.baselines;
  lines.push(`OpenJPKI benchmarks — ${report.startedAt} — ${report.machine.nproc} × ${report.machine.cpuModel}, ${report.machine.node}, ${report.machine.openssl}`);
  if (b) {
    lines.push(
      `baselines (openssl speed rsa2048, ${b.seconds} s, best of ${b.runs.oneProcess.length}): R_sign1 ${fmt(b.signPerS1)}/s, R_ver1 ${fmt(b.verifyPerS1)}/s, ` +
        `R_sign2 ${fmt(b.signPerS2)}/s, R_ver2 ${fmt(b.verifyPerS2)}/s`,
    );
    const noisy = b.cpu.filter((w) => !w.valid);
    if (noisy.length > 0) lines.push(`  ! noisy baselines: ${noisy.map(describeNoise).join("; ")}`);
    const end = report.baselinesAtEnd;
    if (end) {
      const drift = baselineDrift(b, end);
      lines.push(
        `baselines again at the end: R_sign1 ${fmt(end.signPerS1)}/s, R_sign2 ${fmt(end.signPerS2)}/s ` +
          `(${fmt(drift.sign1, 2)} × and ${fmt(drift.sign2, 2)} × the start's; ratios below use the start's)`,
      );
      const noisyAtEnd = end.cpu.filter((w) => !w.valid);
      if (noisyAtEnd.length > 0) lines.push(`  ! noisy end baselines: ${noisyAtEnd.map(describeNoise).join("; ")}`);
      if (drift.drifted) {
        lines.push(`  ! drift: the machine's signing speed changed by more than ${BASELINE_DRIFT_LIMIT * 100} % during the run; compare benchmarks with their same-window peers, not across the run`);
      }
    }
  }
  for (const r of report.results) {
    lines.push("");
    lines.push(`${r.id} — ${r.title} [${r.status}]${r.reason ? `: ${r.reason}` : ""}`);
    const width = Math.max(20, ...r.metrics.map((m) => m.name.length));
    for (const m of r.metrics) {
      lines.push(`  ${m.name.padEnd(width)}  ${value(m).padStart(16)}  ${target(m).padEnd(12)} ${verdict(m)}`.trimEnd());
    }
    for (const n of r.notes) lines.push(`  · ${n}`);
    const invalid = (r.cpu ?? []).filter((w) => !w.valid);
    if (invalid.length > 0) {
      lines.push(`  ! noisy: foreign CPU > 10 % of own in ${invalid.map(describeNoise).join("; ")}`);
    }
  }
  lines.push("");
  lines.push(renderSummary(report));
  return lines.join("\n");
}

/** "label (own 4.39s, foreign 16.42s: openssl[9133] 10.2s, postgres[2205] 3.1s)": who the foreign CPU was. */
function describeNoise(w: CpuWindow): string {
  const who = describeProcesses(w.foreignTop ?? []);
  return `${w.label} (own ${w.ownCpuS}s, foreign ${w.foreignCpuS}s${who ? `: ${who}` : ""})`;
}

/** Whether any of a benchmark's windows had foreign CPU above 10 % of its own (invalid, per the anchors). */
const noisy = (r: BenchResult): boolean => (r.cpu ?? []).some((w) => !w.valid);

/** A Markdown table of every metric with a target, plus the status of the rest. */
export function renderSummary(report: Report): string {
  const rows = ["| id | metric | measured | target | met? |", "|---|---|---|---|---|"];
  for (const r of report.results) {
    if (r.status !== "measured") {
      rows.push(`| ${r.id} | — | ${r.status} | — | ${r.reason ?? ""} |`);
      continue;
    }
    // A window with foreign CPU > 10 % of its own is invalid (anchors §5): the verdict says so.
    const flag = noisy(r) ? " (noisy: foreign CPU > 10 % of own in a window)" : "";
    for (const m of r.metrics.filter((x) => x.target || x.kind === "ratio" || x.headline)) {
      rows.push(`| ${r.id} | ${m.name} | ${value(m)} | ${target(m) || "—"} | ${m.target ? (m.met ? "yes" : "**no**") : "—"}${flag} |`);
    }
  }
  return rows.join("\n");
}

export function writeReport(report: Report, dir: string): { json: string; latest: string; svg: string } {
  mkdirSync(dir, { recursive: true });
  const stamp = report.startedAt.replace(/[:.]/g, "-");
  const json = join(dir, `report-${stamp}.json`);
  const latest = join(dir, "latest.json");
  const svg = join(dir, "latest.svg");
  const text = JSON.stringify(report, null, 2);
  writeFileSync(json, text);
  writeFileSync(latest, text);
  writeFileSync(svg, renderSvg(report));
  return { json, latest, svg };
}

const escapeXml = (s: string): string => s.replace(/[<>&"]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;" })[c]!);

/**
 * One bar per targeted ratio. The bar is the ratio's "score" against its target on a log scale
 * (score 1 = exactly the target, at the dashed line; right of it is better, for ≥ and ≤ alike).
 */
export function renderSvg(report: Report): string {
  const bars: { label: string; score: number; text: string; met: boolean; noisy: boolean }[] = [];
  for (const r of report.results) {
    for (const m of r.metrics) {
      if (!m.target || m.kind === "figure") continue;
      const ratio = m.target.op === ">=" ? m.value / m.target.value : m.value === 0 ? 100 : m.target.value / m.value;
      // Not measured (NaN): the smallest bar, never a NaN width.
      const score = Number.isFinite(ratio) || ratio === Infinity ? ratio : 0;
      bars.push({ label: `${r.id}: ${m.name}`, score, text: `${value(m)} (target ${target(m)})`, met: m.met ?? false, noisy: noisy(r) });
    }
  }
  const rowH = 22;
  const left = 360;
  const plotW = 360;
  const width = left + plotW + 250;
  const height = 60 + rowH * Math.max(1, bars.length);
  const minLog = Math.log10(0.1);
  const maxLog = Math.log10(10);
  const x = (score: number) => left + ((Math.min(maxLog, Math.max(minLog, Math.log10(Math.max(score, 1e-6)))) - minLog) / (maxLog - minLog)) * plotW;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="100%" height="100%" fill="white"/>`);
  out.push(
    `<text x="10" y="18" font-size="14" font-weight="bold">OpenJPKI: ratios against targets (${escapeXml(report.startedAt.slice(0, 10))}, ${report.machine.nproc} × ${escapeXml(report.machine.cpuModel)}${report.options.quick ? ", quick" : ""})</text>`,
  );
  out.push(`<text x="${left}" y="38" fill="#555">score = ratio ÷ target (≥) or target ÷ ratio (≤), log scale 0.1–10; dashed line = target</text>`);
  bars.forEach((b, i) => {
    const y = 50 + i * rowH;
    const suffix = b.noisy ? " (noisy)" : ""; // kept when the label is cut
    const room = 58 - suffix.length;
    out.push(`<text x="${left - 8}" y="${y + 14}" text-anchor="end">${escapeXml((b.label.length > room ? b.label.slice(0, room - 1) + "…" : b.label) + suffix)}</text>`);
    out.push(`<rect x="${left}" y="${y + 3}" width="${Math.max(1, x(b.score) - left).toFixed(1)}" height="${rowH - 8}" fill="${b.met ? "#2e8b57" : "#c0392b"}"/>`);
    out.push(`<text x="${left + plotW + 8}" y="${y + 14}">${escapeXml(b.text)}</text>`);
  });
  const tx = x(1).toFixed(1);
  out.push(`<line x1="${tx}" y1="44" x2="${tx}" y2="${height - 4}" stroke="#000" stroke-dasharray="4 3"/>`);
  out.push("</svg>");
  return out.join("\n") + "\n";
}

