import type { Store } from "../store/database.ts";
import { PartitioningError, partitionStore, type PartitioningProgress, type PartitionReport } from "../store/partitioning.ts";
import { ServiceError } from "./errors.ts";

export { MAX_HASH_PARTITIONS } from "../store/partitioning.ts";
export type { PartitioningProgress, PartitionReport } from "../store/partitioning.ts";

/**
 * Convert the certificate-keyed tables (certificates, crl_entries, ocsp_responses) of a
 * PostgreSQL store to list(CA) × hash(serial) partitions, in one transaction; tables already
 * partitioned are left as they are. A store that cannot be partitioned (SQLite, a count out of
 * range, an index that cannot be carried over) is a ServiceError "refused" with the reason
 * "cannot-partition"; nothing is changed then.
 */
export async function partitionCertificateTables(
  store: Store,
  options: { hashPartitions: number; onProgress?: (progress: PartitioningProgress) => void },
): Promise<PartitionReport> {
  try {
    return await partitionStore(store.db, store.dialect, options);
  } catch (error) {
    if (error instanceof PartitioningError) throw new ServiceError("refused", error.message, undefined, { cause: error, reason: "cannot-partition" });
    throw error;
  }
}
