import { withContext } from "../open-context.ts";
import { CliError, type Command, json } from "../command.ts";
import { MAX_HASH_PARTITIONS, PartitioningError, partitionCertificates } from "../../store/partitioning.ts";

export const storePartition: Command = {
  path: ["store", "partition"],
  summary: "証明書テーブルを分割 / partition the certificates table (PostgreSQL, for national scale)",
  usage: "[--hash-partitions N] [--json]",
  help: [
    `  --hash-partitions N   hash partitions by serial under each CA (1–${MAX_HASH_PARTITIONS}, default 16)`,
    "  Converts the certificates table of the PostgreSQL store (OPENJPKI_DATABASE_URL) to list(CA) × hash(serial)",
    "  partitions in one transaction (docs/scale.md §3.4). Run it once, with the servers stopped; running it again does nothing.",
  ],
  options: { "hash-partitions": { type: "string" } },
  async run(values, io) {
    const raw = typeof values["hash-partitions"] === "string" ? values["hash-partitions"] : "16";
    if (!/^\d{1,3}$/.test(raw) || Number(raw) < 1 || Number(raw) > MAX_HASH_PARTITIONS) throw new CliError(`--hash-partitions must be a whole number from 1 to ${MAX_HASH_PARTITIONS}, not ${JSON.stringify(raw)}`, 2);
    const hashPartitions = Number(raw);
    const report = await withContext(values, io, async (ctx) => {
      try {
        return await partitionCertificates(ctx.store.db, ctx.store.dialect, { hashPartitions });
      } catch (error) {
        if (error instanceof PartitioningError) throw new CliError(error.message, 2);
        throw error;
      }
    });
    if (values.json) return json(io, report);
    io.stdout(
      report.alreadyPartitioned
        ? `既に分割済みです / already partitioned (${report.partitions.length} partitions); nothing done\n`
        : `分割しました / partitioned: ${report.partitions.length} partitions (${report.hashPartitionsPerCa} per CA), ${report.rowsMoved} rows moved\n`,
    );
  },
};
