import { publishFile } from "../publish-file.ts";
import { withContext } from "../open-context.ts";
import { type Command, json, oneOf, optionalString, requireString } from "../command.ts";

export const crl: Command = {
  path: ["crl"],
  summary: "CRL を作成 / build and sign a CRL (full, or one municipality's partition)",
  usage: "--type sign|auth [--municipality CODE] --out FILE [--json]",
  help: [
    "  --type sign|auth      which CA",
    "  --municipality CODE   only that municipality's partition (the certificates' CRL distribution point)",
    "  --out FILE            where to write the DER CRL",
  ],
  options: { type: { type: "string" }, municipality: { type: "string" }, out: { type: "string" } },
  async run(values, io) {
    const type = oneOf(values, "type", ["sign", "auth"] as const);
    const municipality = optionalString(values, "municipality");
    const out = requireString(values, "out");
    const built = await withContext(values, io, async (ctx) => {
      if (municipality) await ctx.registry.municipality(municipality);
      return ctx.crls.build(type, municipality);
    });
    await publishFile(out, built.der);
    const summary = {
      id: `${type}-${built.scope}-${built.crlNumber}`,
      type,
      scope: built.scope,
      crlNumber: built.crlNumber.toString(),
      thisUpdate: built.thisUpdate.toISOString(),
      nextUpdate: built.nextUpdate.toISOString(),
      bytes: built.der.length,
      out,
    };
    if (values.json) return json(io, summary);
    io.stdout(`CRL を作成しました / wrote CRL #${summary.crlNumber} (${summary.scope}, ${summary.bytes} bytes) to ${out}\n`);
  },
};
