/**
 * The benchmarks whose code does not exist yet, reported as pending with the reason, so the
 * report always lists the whole suite of issue 5.
 */
import { pending, type BenchResult, type Suite } from "../harness.ts";

export const pendingSuite: Suite = {
  ids: ["CRL-SHARDED"],
  async run(ctx): Promise<BenchResult[]> {
    return [
      pending(
        "CRL-SHARDED",
        "10 M revoked over 128 shards",
        ctx.options.fullScale
          ? "not implemented: the CRL publisher has municipality partitions but no serial shards, and 10 M bench rows take long to load"
          : "needs 10 M rows (--full-scale) and serial shards, which the CRL publisher does not have yet (only municipality partitions)",
      ),
    ];
  },
};
