import { realpath, stat, writeFile } from "node:fs/promises";
import { replaceDurably } from "../../services/temporary-files.ts";
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

/**
 * Write `data` to `path` so that `path` holds either its old content or all of the new, even if
 * the process dies or the disk fills up midway: a published CRL must never be left empty or cut
 * short (replaceDurably: a temporary file beside it, fsynced, renamed over it). A symbolic link
 * is followed (its target is replaced, the link kept) and the old file's permission bits are kept
 * (not setuid, setgid or sticky); a path that is not a regular file (/dev/stdout, a pipe, a link
 * to one) is written through, as it is.
 */
async function publishFile(path: string, data: Uint8Array): Promise<void> {
  let existing;
  try {
    existing = await stat(path); // through links: what a write to `path` would reach
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    return replaceDurably(path, data, 0o666);
  }
  if (!existing.isFile()) return writeFile(path, data);
  return replaceDurably(await realpath(path), data, existing.mode & 0o777, { exactMode: true });
}
