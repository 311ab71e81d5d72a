/**
 * CARD: APDU round trips and card signatures, measured by bench/card.ts's `runCardBench(seconds)`
 * (also runnable on its own). Imported only when CARD runs: it brings in the card and the
 * private pcscd helpers.
 */
import { headline, metric, type BenchResult, type Metric, type Suite } from "../harness.ts";

const TITLE = "virtual card: APDU round trips/s (in-process, vpcd) and card signatures/s vs crypto.sign";

export const cardSuite: Suite = {
  ids: ["CARD"],
  async run(ctx): Promise<BenchResult[]> {
    const seconds = ctx.options.quick ? 1 : 3;
    ctx.progress(`CARD: bench/card.ts runCardBench(${seconds}) (in-process card, then vpcd if pcscd is available)`);
    const { runCardBench } = await import("../card.ts");
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
    if (metrics.length === 0) return [{ id: "CARD", title: TITLE, status: "unavailable", reason: "every card measurement was skipped (see notes)", metrics, notes }];
    return [{ id: "CARD", title: TITLE, status: "measured", metrics, notes }];
  },
};
