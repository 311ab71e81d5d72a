import { withContext } from "../open-context.ts";
import { type Command, json, optionalString, requireString } from "../command.ts";

export const verifierAdd: Command = {
  path: ["verifier", "add"],
  summary: "検証者を登録 / register a verifier allowed to fetch revocation data",
  usage: '--name "…" [--json]',
  help: ["  --name TEXT        the verifier's name (a service provider or platform operator)", "  The API key is printed once; only its hash is stored."],
  options: { name: { type: "string" } },
  async run(values, io) {
    const name = requireString(values, "name");
    const verifier = await withContext(values, io, (ctx) => ctx.verifiers.add(name));
    if (values.json) return json(io, verifier);
    io.stdout(
      `登録しました / registered ${verifier.id} (${verifier.name})\n` +
        `API キー / API key (shown once; send it in X-OpenJPKI-Verifier-Key):\n${verifier.apiKey}\n`,
    );
  },
};

export const verifierList: Command = {
  path: ["verifier", "list"],
  summary: "検証者の一覧 / list registered verifiers",
  usage: "[--json]",
  help: [],
  options: {},
  async run(values, io) {
    const verifiers = await withContext(values, io, (ctx) => ctx.verifiers.list());
    if (values.json) return json(io, { verifiers });
    if (verifiers.length === 0) io.stdout("登録された検証者はいません / no verifiers\n");
    for (const v of verifiers) io.stdout(`${v.id}  ${v.name}  ${v.createdAt}${v.active ? "" : "  (inactive)"}\n`);
  },
};

export const verifierReport: Command = {
  path: ["verifier", "report"],
  summary: "失効情報の照会件数と手数料 / lookups and fees per verifier",
  usage: "[--month YYYY-MM] [--json]",
  help: ["  --month YYYY-MM    only that month (Japan time)"],
  options: { month: { type: "string" } },
  async run(values, io) {
    const month = optionalString(values, "month");
    const { rows, fees } = await withContext(values, io, async (ctx) => ({
      rows: await ctx.verifiers.report(month),
      fees: ctx.settings.lookupFeeYen,
    }));
    const totalYen = rows.reduce((sum, r) => sum + r.feeYen, 0);
    if (values.json) return json(io, { month: month ?? null, feePerLookupYen: fees, rows, totalYen });
    io.stdout(`手数料 / fee per lookup: 署名用 sign ${fees.sign} 円, 利用者証明用 auth ${fees.auth} 円\n`);
    for (const r of rows) {
      io.stdout(`${r.month}  ${r.verifierId} ${r.verifierName}  ${r.type} ${r.kind}  ${r.lookups} 件  ${r.feeYen} 円\n`);
    }
    io.stdout(`合計 / total: ${totalYen} 円\n`);
  },
};
