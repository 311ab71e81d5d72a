import { verifyAudit } from "../../services/audit.ts";
import { withContext } from "../open-context.ts";
import { type Command, CliError, json, optionalString } from "../command.ts";

export const auditVerify: Command = {
  path: ["audit", "verify"],
  summary: "監査証跡の検証 / verify the audit trail's hash chain",
  usage: "[--json]",
  help: ["  Exits 1 and names the first bad record when a record was edited, removed or reordered."],
  options: {},
  async run(values, io) {
    const result = await withContext(values, io, (ctx) => verifyAudit(ctx.store.db));
    if (values.json) json(io, result);
    else if (result.ok) io.stdout(`監査証跡は正常です / audit trail intact: ${result.records} records, head ${result.head.slice(0, 16)}…\n`);
    if (!result.ok) {
      io.stderr(`openjpki audit verify: 監査証跡が改ざんされています / audit trail broken at record ${result.firstBad}: ${result.problem}\n`);
      return 1;
    }
    return 0;
  },
};

export const auditList: Command = {
  path: ["audit", "list"],
  summary: "監査証跡の一覧 / list the latest audit records",
  usage: "[--limit N] [--json]",
  help: ["  --limit N          how many of the latest records (default 50, at most 10000)"],
  options: { limit: { type: "string" } },
  async run(values, io) {
    const limitText = optionalString(values, "limit") ?? "50";
    const limit = Number(limitText);
    if (!/^\d+$/.test(limitText) || limit < 1 || limit > 10_000) throw new CliError("--limit must be a whole number from 1 to 10000", 2);
    const rows = await withContext(values, io, (ctx) =>
      ctx.store.db.selectFrom("audit_log").selectAll().orderBy("seq", "desc").limit(limit).execute(),
    );
    const records = rows.reverse().map((r) => ({
      ...r,
      seq: Number(r.seq),
      before: r.before === null ? null : JSON.parse(r.before),
      after: r.after === null ? null : JSON.parse(r.after),
    }));
    if (values.json) return json(io, { records });
    for (const r of records) io.stdout(`${String(r.seq).padStart(6)}  ${r.at}  ${r.actor}  ${r.action}  ${r.subject}\n`);
  },
};
