/**
 * The benchmarks whose code does not exist yet, reported as pending with the reason, so the
 * report always lists the whole suite of issue 5. None at the moment: CRL-SHARDED, the last
 * one, is in crl-sharded.ts (run by the CRL suite with --full-scale).
 */
import type { BenchResult, Suite } from "../harness.ts";

export const pendingSuite: Suite = {
  ids: [],
  async run(): Promise<BenchResult[]> {
    return [];
  },
};
