// Partitioning the certificate-keyed tables (`openjpki store partition`): done once on PostgreSQL,
// and refused as a ServiceError where it cannot be done.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { partitionCertificateTables, type PartitioningProgress } from "../../src/services/store-partitioning.ts";
import { ServiceError } from "../../src/services/errors.ts";
import { backends, openTestContext, type TestContext } from "../helpers/context.ts";

const cannotPartition = (message: RegExp) => (error: unknown) =>
  error instanceof ServiceError && error.code === "refused" && error.reason === "cannot-partition" && message.test(error.message);

for (const backend of backends()) {
  describe(`partitionCertificateTables on ${backend}`, () => {
    let t: TestContext;
    before(async () => {
      t = await openTestContext(backend);
    });
    after(() => t.cleanup());

    test("a count out of range is refused, before anything is changed", async () => {
      await assert.rejects(partitionCertificateTables(t.context.store, { hashPartitions: 0 }), cannotPartition(/from 1 to 256, not 0/));
    });

    if (backend === "sqlite") {
      test("the SQLite store is refused: it has no partitions", async () => {
        await assert.rejects(partitionCertificateTables(t.context.store, { hashPartitions: 16 }), cannotPartition(/partitioning needs PostgreSQL/));
      });
    } else {
      test("partitions the four tables, telling each step; a second run finds them partitioned", async () => {
        const steps: PartitioningProgress[] = [];
        const first = await partitionCertificateTables(t.context.store, { hashPartitions: 2, onProgress: (p) => steps.push(p) });
        assert.equal(first.alreadyPartitioned, false);
        assert.deepEqual(first.tables.map((table) => [table.table, table.partitions.length]), [["certificates", 4], ["certificate_der", 4], ["crl_entries", 4], ["ocsp_responses", 4]]);
        assert.deepEqual(steps.filter((s) => s.phase === "done").map((s) => s.table), ["certificates", "certificate_der", "crl_entries", "ocsp_responses"]);
        const second = await partitionCertificateTables(t.context.store, { hashPartitions: 2 });
        assert.equal(second.alreadyPartitioned, true);
      });
    }
  });
}
