/**
 * A quick run does not build the 1 M CRL; the report must say so (status "unavailable" with the
 * reason) instead of leaving CRL-1M out as if it had never been asked for.
 */
import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import { Cleanup, type SuiteContext } from "../../bench/harness.ts";
import { crlSuite } from "../../bench/suites/crl.ts";

describe("bench CRL suite in a quick run", () => {
  const cleanup = new Cleanup();
  after(() => cleanup.runAll());

  it("reports CRL-1M as unavailable in --quick", async () => {
    const ctx: SuiteContext = {
      options: { quick: true, fullScale: false, json: false, only: new Set(["CRL-1M"]) },
      baselines: () => Promise.reject(new Error("no baselines needed")),
      progress: () => {},
      cleanup,
      settle: () => Promise.resolve({ busy: 0, ownCpuS: 0, top: [] }),
    };
    const results = await crlSuite.run(ctx);
    const crl1m = results.find((r) => r.id === "CRL-1M");
    assert.ok(crl1m, `CRL-1M must be in the results: ${JSON.stringify(results.map((r) => r.id))}`);
    assert.equal(crl1m.status, "unavailable");
    assert.match(crl1m.reason ?? "", /not in --quick/);
  });
});
