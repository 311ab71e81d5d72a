/**
 * CARD: APDU round trips and card signatures, measured by bench/card.ts (owned by the card
 * work; this suite only calls its exported `runCardBench(seconds)`). If that file or function
 * is missing, CARD is reported as pending. The file is inspected before it is imported, so a
 * script-style file that runs on import is never executed from here.
 */
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { headline, metric, pending, type BenchResult, type Metric, type Suite } from "../harness.ts";

const CARD_PATH = fileURLToPath(new URL("../card.ts", import.meta.url));
const TITLE = "virtual card: APDU round trips/s (in-process, vpcd) and card signatures/s vs crypto.sign";

interface CardRow {
  name: string;
  perSecond: number | null;
  meanMs: number | null;
  note?: string;
}

export const cardSuite: Suite = {
  ids: ["CARD"],
  async run(ctx): Promise<BenchResult[]> {
    if (!existsSync(CARD_PATH)) return [pending("CARD", TITLE, "bench/card.ts does not exist yet (being written by the card work)")];
    if (!/export\s+async\s+function\s+runCardBench\b/.test(readFileSync(CARD_PATH, "utf8"))) {
      return [pending("CARD", TITLE, "bench/card.ts exports no runCardBench(seconds) yet")];
    }
    const seconds = ctx.options.quick ? 1 : 3;
    ctx.progress(`CARD: bench/card.ts runCardBench(${seconds}) (in-process card, then vpcd if pcscd is available)`);
    const { runCardBench } = (await import(CARD_PATH)) as { runCardBench: (seconds: number) => Promise<CardRow[]> };
    const rows = await runCardBench(seconds);
    const metrics: Metric[] = [];
    const notes = [`figures from bench/card.ts runCardBench(${seconds}); ${seconds} s per measurement`];
    for (const r of rows) {
      const isRatio = /ratio/i.test(r.name);
      if (r.perSecond === null) notes.push(`${r.name}: skipped${r.note ? ` (${r.note})` : ""}`);
      else {
        metrics.push(headline(metric(isRatio ? r.name : `${r.name}: per second`, r.perSecond, isRatio ? "×" : "/s", isRatio ? "ratio" : "figure")));
        if (r.meanMs !== null) metrics.push(metric(`${r.name}: mean`, r.meanMs, "ms"));
        if (r.note) notes.push(`${r.name}: ${r.note}`);
      }
    }
    return [{ id: "CARD", title: TITLE, status: metrics.length > 0 ? "measured" : "pending", metrics, notes }];
  },
};
