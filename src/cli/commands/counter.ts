// `openjpki counter …`: the counter's reports and notices from the command line (fees of the
// day, the 有効期限通知書 run, a card's 交付通知書). Register in src/cli/main.ts with the others:
//   import { counterExpiryNotices, counterFees, counterIssuanceNotice } from "./commands/counter.ts";
import { CLI_OPERATOR } from "../../services/audit.ts";
import { feeSummary } from "../../services/counter/fees.ts";
import { expiryNoticeRun, expiryNoticesCsvStream, expiryNoticesPdf, issuanceNotice } from "../../services/counter/notices.ts";
import { withContext } from "../open-context.ts";
import { publishFile } from "../publish-file.ts";
import { type Command, type Io, CliError, json, oneOf, optionalString, requireString } from "../command.ts";

/**
 * `data` published to `file` ({@link publishFile}): the file appears, or replaces a previous one,
 * only whole, so a failure part way, or Ctrl-C, leaves a previous file as it was. Chunks (the
 * CSV) are written as they come, so the command holds a chunk, not the whole text. A failure
 * reading them is thrown as it is; one writing is the --out mistake.
 */
async function publishOut(file: string, data: Uint8Array | AsyncIterable<string>): Promise<void> {
  let readFailed = false;
  async function* watched(chunks: AsyncIterable<string>) {
    try {
      yield* chunks;
    } catch (error) {
      readFailed = true;
      throw error;
    }
  }
  try {
    await publishFile(file, data instanceof Uint8Array ? data : watched(data), { mode: 0o600 });
  } catch (error) {
    if (readFailed) throw error;
    throw new CliError(`--out: cannot write ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

/** A progress line on stderr that rewrites itself (only when there is enough to be worth it). */
function progress(io: Io, label: string): { update: (n: number) => void; done: () => void } {
  let shown = false;
  let last = 0;
  return {
    update(n: number) {
      const now = Date.now();
      if (n < 500 || now - last < 250) return;
      last = now;
      shown = true;
      io.stderr(`\r${label}: ${n}`);
    },
    done() {
      if (shown) io.stderr("\n");
    },
  };
}

export const counterFees: Command = {
  path: ["counter", "fees"],
  summary: "手数料の日計 / the day's fees per office",
  usage: "--date YYYY-MM-DD [--office ID] [--json]",
  help: ["  --date D           the Japan date", "  --office ID        one office (openjpki office list); default all"],
  options: { date: { type: "string" }, office: { type: "string" } },
  async run(values, io) {
    const date = requireString(values, "date");
    const office = optionalString(values, "office");
    const summary = await withContext(values, io, (ctx) => feeSummary(ctx.store.db, { date, ...(office ? { office } : {}) }));
    if (values.json) return json(io, summary);
    io.stdout(`${summary.date}${summary.office ? ` ${summary.office}` : ""}: 合計 ${summary.totalYen.toLocaleString("ja-JP")}円（有料 ${summary.charged}件・無料 ${summary.free}件）/ total ${summary.totalYen} yen, ${summary.charged} charged, ${summary.free} free\n`);
    for (const o of summary.byOffice) io.stdout(`  ${o.office ?? "(CLI)"}  ${o.totalYen}円  ${o.count}件\n`);
    for (const r of summary.byReason) io.stdout(`  ${r.reason}  ${r.totalYen}円  ${r.count}件\n`);
  },
};

export const counterExpiryNotices: Command = {
  path: ["counter", "expiry-notices"],
  summary: "有効期限通知書の対象者 / residents whose certificates expire in 2–3 months (CSV or PDF)",
  usage: "--date YYYY-MM-DD --out FILE [--format csv|pdf] [--municipality CODE] [--json]",
  help: [
    "  --date D           the run's date: certificates expiring from D + 2 months to the day before D + 3 months",
    "                     (runs on the 29th-31st shift by up to 3 days around short months, so monthly runs cover each day once)",
    "  --out FILE         where to write the list (CSV, UTF-8 with BOM) or the notices (PDF, one page per resident)",
    "  --format F         csv (default) or pdf",
    "  --municipality C   only residents of this municipality (6-digit code)",
  ],
  options: { date: { type: "string" }, out: { type: "string" }, format: { type: "string" }, municipality: { type: "string" } },
  async run(values, io) {
    const from = requireString(values, "date");
    const out = requireString(values, "out");
    const format = values.format === undefined ? "csv" : oneOf(values, "format", ["csv", "pdf"] as const);
    const municipality = optionalString(values, "municipality");
    const result = await withContext(values, io, async (ctx) => {
      const deps = { db: ctx.store.db, registry: ctx.registry, clock: ctx.clock };
      const reading = progress(io, "読み込み / certificates read");
      const input = { from, ...(municipality ? { municipality } : {}), onProgress: reading.update };
      if (format === "csv") {
        // Written as it is read: a run over every municipality is millions of rows.
        const csv = expiryNoticesCsvStream(deps, input);
        await publishOut(out, csv.chunks);
        reading.done();
        return { from: csv.from, windowStart: csv.windowStart, windowEnd: csv.windowEnd, count: csv.written() };
      }
      const run = await expiryNoticeRun(deps, input);
      reading.done();
      const pages = progress(io, `作成 / pages of ${run.residents.length}`);
      await publishOut(out, await expiryNoticesPdf(deps, run, CLI_OPERATOR, { onPage: pages.update }));
      pages.done();
      return { ...run, count: run.residents.length };
    });
    if (values.json) return json(io, { from: result.from, windowStart: result.windowStart, windowEnd: result.windowEnd, count: result.count, out, format });
    io.stdout(`${result.count}人（${result.windowStart}〜${result.windowEnd} に有効期限）を ${out} に書き出しました / wrote ${result.count} residents (${format})\n`);
  },
};

export const counterIssuanceNotice: Command = {
  path: ["counter", "issuance-notice"],
  summary: "交付通知書（PDF）/ a card's notice that it is ready for pickup",
  usage: "--card ID --out FILE [--json]",
  help: ["  --card ID          the card (C-…)", "  --out FILE         where to write the PDF"],
  options: { card: { type: "string" }, out: { type: "string" } },
  async run(values, io) {
    const card = requireString(values, "card");
    const out = requireString(values, "out");
    const notice = await withContext(values, io, (ctx) => issuanceNotice({ db: ctx.store.db, registry: ctx.registry, clock: ctx.clock }, card, CLI_OPERATOR));
    await publishOut(out, notice.pdf);
    if (values.json) return json(io, { card, out, bytes: notice.pdf.length });
    io.stdout(`交付通知書を ${out} に書き出しました / wrote the notice for ${card} to ${out}\n`);
  },
};

export const COUNTER_COMMANDS: readonly Command[] = [counterFees, counterExpiryNotices, counterIssuanceNotice];
