// `openjpki ocsp refresh`: pre-sign the OCSP answers that are due into the durable response store.
// Register in src/cli/main.ts with the others:  import { ocspRefresh } from "./commands/ocsp.ts";
import type { CaType } from "../../services/vocabulary.ts";
import { OcspRefresher, type RefreshProgress, type RefreshSummary } from "../../services/ocsp-refresher.ts";
import { withContext } from "../open-context.ts";
import { type Command, type Io, CliError, json, optionalString } from "../command.ts";

const TYPES = ["sign", "auth"] as const;
/** Below this many certificates a run is over before a progress bar would say anything. */
const PROGRESS_MIN = 1000;

function withinHours(values: Record<string, unknown>): number | undefined {
  const text = optionalString(values as never, "within");
  if (text === undefined) return undefined;
  const hours = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || !Number.isFinite(hours)) throw new CliError(`--within must be a number of hours, not ${JSON.stringify(text)}`, 2);
  return hours;
}

const hms = (seconds: number): string => {
  if (!Number.isFinite(seconds)) return "--:--";
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = Math.floor(seconds % 60);
  return `${h > 0 ? `${h}:` : ""}${String(m).padStart(h > 0 ? 2 : 1, "0")}:${String(s).padStart(2, "0")}`;
};

/**
 * A progress bar on stderr: redrawn in place on a terminal, one line per 5 % otherwise (logs).
 * Shows certificates looked at, answers written, the signing rate and the time left.
 */
function progressBar(io: Io, type: CaType, total: number): { update: (p: RefreshProgress) => void; done: () => void } {
  // Redraw in place only on the real process's terminal (tests and pipes pass their own Io).
  const tty = io.env === process.env && process.stderr.isTTY === true;
  const t0 = performance.now();
  let lastPct = -5;
  let shown = false;
  return {
    update(p) {
      if (total < PROGRESS_MIN) return;
      const elapsed = (performance.now() - t0) / 1000;
      // Done = answered: still fresh, or signed and committed (the scan runs ahead of both).
      const done = p.fresh + p.written;
      const pct = Math.min(100, (100 * done) / total);
      const rate = p.written / Math.max(elapsed, 1e-3);
      const eta = (elapsed * (total - done)) / Math.max(done, 1);
      const filled = Math.round((30 * pct) / 100);
      const line =
        `${type} [${"#".repeat(filled)}${".".repeat(30 - filled)}] ${pct.toFixed(1).padStart(5)} % ` +
        `${done.toLocaleString("en-US")}/${total.toLocaleString("en-US")} certificates, ` +
        `${p.written.toLocaleString("en-US")} signed (${Math.round(rate).toLocaleString("en-US")}/s), ` +
        `${p.fresh.toLocaleString("en-US")} still fresh, elapsed ${hms(elapsed)}, ETA ${hms(eta)}`;
      if (tty) {
        shown = true;
        io.stderr(`\r${line}`);
      } else if (pct - lastPct >= 5) {
        lastPct = pct;
        io.stderr(`${line}\n`);
      }
    },
    done() {
      if (shown) io.stderr("\n");
    },
  };
}

export const ocspRefresh: Command = {
  path: ["ocsp", "refresh"],
  summary: "OCSP 応答の事前署名 / pre-sign due OCSP answers into the response store",
  usage: "[--type sign|auth] [--within HOURS] [--json]",
  help: [
    "  --type sign|auth   one CA (default: both)",
    "  --within HOURS     also re-sign answers whose nextUpdate is less than HOURS away",
    "                     (default: half the answers' validity, settings.ocspValiditySeconds)",
    "  Signs an answer for every unexpired certificate that has none, whose stored answer was signed",
    "  for another status (revoked since) or by an older responder certificate, or that expires within",
    "  the window. Batches are committed as they are signed: an interrupted run (Ctrl+C stops cleanly,",
    "  a crash loses at most the batch being written) keeps what it wrote, and the next run carries on.",
  ],
  options: { type: { type: "string" }, within: { type: "string" } },
  async run(values, io) {
    const type = optionalString(values, "type");
    if (type !== undefined && !(TYPES as readonly string[]).includes(type)) {
      throw new CliError(`--type must be one of ${TYPES.join(", ")}, not ${JSON.stringify(type)}`, 2);
    }
    const hours = withinHours(values);
    const types: CaType[] = type ? [type as CaType] : [...TYPES];
    const summaries = await withContext(values, io, async (ctx) => {
      const withinMs = hours !== undefined ? hours * 3_600_000 : ctx.settings.ocspValiditySeconds * 500;
      const refresher = new OcspRefresher(ctx.ocsp);
      const done: RefreshSummary[] = [];
      // Ctrl+C stops cleanly: what is signed is committed, and the next run carries on from there.
      const stop = new AbortController();
      const onInterrupt = () => stop.abort();
      process.once("SIGINT", onInterrupt);
      try {
        for (const t of types) {
          if (stop.signal.aborted) break;
          const total = await ctx.ocsp.responses.countCertificates(t, ctx.clock());
          const bar = progressBar(io, t, total);
          try {
            done.push(await refresher.refresh({ type: t, withinMs, onProgress: bar.update, signal: stop.signal }));
          } finally {
            bar.done();
          }
        }
      } finally {
        process.off("SIGINT", onInterrupt);
      }
      return done;
    });
    const report = summaries.map((s) => ({
      type: s.type,
      ...(s.stopped ? { stopped: true } : {}),
      certificates: s.scanned,
      signed: s.written,
      fresh: s.fresh,
      batches: s.batches,
      seconds: Number(s.seconds.toFixed(3)),
      perSecond: s.seconds > 0 ? Math.round(s.written / s.seconds) : 0,
      thisUpdate: s.thisUpdate.toISOString(),
      nextUpdate: s.nextUpdate.toISOString(),
    }));
    if (values.json) return json(io, { refreshed: report });
    for (const r of report) {
      io.stdout(
        `${r.type}: ${r.signed} 件署名 / signed ${r.signed} answers (${r.perSecond}/s), ${r.fresh} 件は有効 / still fresh, ` +
          `${r.certificates} certificates; nextUpdate ${r.nextUpdate}` +
          `${r.stopped ? " — 中断 / interrupted: run it again to finish" : ""}\n`,
      );
    }
  },
};
