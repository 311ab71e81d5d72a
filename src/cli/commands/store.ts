import { ServiceError } from "../../services/errors.ts";
import { MAX_HASH_PARTITIONS, partitionCertificateTables, type PartitioningProgress } from "../../services/store-partitioning.ts";
import { withContext } from "../open-context.ts";
import { CliError, type Command, type Io, json } from "../command.ts";

export const storePartition: Command = {
  path: ["store", "partition"],
  summary: "証明書のテーブルを分割 / partition the certificate tables (PostgreSQL, for national scale)",
  usage: "[--hash-partitions N] [--json]",
  help: [
    `  --hash-partitions N   hash partitions by serial under each CA (1–${MAX_HASH_PARTITIONS}, default 16)`,
    "  Converts the certificates, crl_entries and ocsp_responses tables of the PostgreSQL store (OPENJPKI_DATABASE_URL)",
    "  to list(CA) × hash(serial) partitions in one transaction (docs/scale.md §3.4). Run it with the servers stopped;",
    "  tables already partitioned are left as they are, so running it again does nothing.",
  ],
  options: { "hash-partitions": { type: "string" } },
  async run(values, io) {
    const raw = typeof values["hash-partitions"] === "string" ? values["hash-partitions"] : "16";
    if (!/^\d{1,3}$/.test(raw) || Number(raw) < 1 || Number(raw) > MAX_HASH_PARTITIONS) throw new CliError(`--hash-partitions must be a whole number from 1 to ${MAX_HASH_PARTITIONS}, not ${JSON.stringify(raw)}`, 2);
    const hashPartitions = Number(raw);
    // Refused before the store is opened: opening a new SQLite data directory would create CAs first.
    if (!io.env.OPENJPKI_DATABASE_URL) {
      throw new CliError("partitioning needs PostgreSQL: set OPENJPKI_DATABASE_URL (the embedded SQLite store has no partitions)", 2);
    }
    const report = await withContext(values, io, async (ctx) => {
      try {
        return await partitionCertificateTables(ctx.store, { hashPartitions, onProgress: progressLines(io) });
      } catch (error) {
        if (error instanceof ServiceError && error.reason === "cannot-partition") throw new CliError(error.message, 2);
        throw error;
      }
    });
    if (values.json) return json(io, report);
    if (report.alreadyPartitioned) {
      io.stdout(`既に分割済みです / already partitioned (${report.tables.map((t) => `${t.table} ${t.partitions.length}`).join(", ")} partitions); nothing done\n`);
      return;
    }
    for (const t of report.tables) {
      io.stdout(
        t.alreadyPartitioned
          ? `${t.table}: 既に分割済み / already partitioned (${t.partitions.length} partitions)\n`
          : `${t.table}: 分割しました / partitioned: ${t.partitions.length} partitions (${t.hashPartitionsPerCa} per CA), ${t.rowsMoved} rows moved\n`,
      );
    }
  },
};

/**
 * One line on stderr per step, with the time taken so far: a conversion is a few statements that
 * each run for minutes on a large table, so there is no finer progress to show than the step.
 */
function progressLines(io: Io): (progress: PartitioningProgress) => void {
  const started = performance.now();
  const elapsed = () => {
    const s = Math.round((performance.now() - started) / 1000);
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
  };
  const count = (n: number) => n.toLocaleString("en-US");
  const describe = (p: PartitioningProgress): string => {
    switch (p.phase) {
      case "moving": {
        const ja = p.estimatedRows === undefined ? "" : `約 ${count(p.estimatedRows)} 行を `;
        const en = p.estimatedRows === undefined ? "the" : `≈${count(p.estimatedRows)}`;
        return `${ja}${p.partitions} 区画へ移動中 / moving ${en} rows into ${p.partitions} partitions…`;
      }
      case "indexing":
        return `${count(p.rowsMoved)} 行を移動、索引を再作成中 / ${count(p.rowsMoved)} rows moved; rebuilding indexes…`;
      case "done":
        return "完了 / done";
      case "already-partitioned":
        return "既に分割済み / already partitioned";
    }
  };
  return (p) => io.stderr(`[${elapsed()}] ${p.table}: ${describe(p)}\n`);
}
