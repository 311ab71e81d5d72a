import { closeSync, fchmodSync, fsyncSync, openSync, realpathSync, renameSync, statSync, unlinkSync, writeFileSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { removeDeadWritersTemporaries, temporaryName } from "../../services/temporary-files.ts";
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
    await replaceFile(out, built.der);
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
 * short. The CRL goes to a temporary file in the same directory, is fsynced, renamed over `path`
 * and the directory fsynced; on failure the temporary file is removed and `path` is untouched.
 * A run killed before the rename leaves its temporary file: the next run removes it (its name
 * holds the dead run's pid). A symbolic link is followed (its target is replaced, the link kept),
 * the old file's mode is kept, and a path that is not a regular file (/dev/stdout, a pipe) is
 * written directly.
 */
async function replaceFile(path: string, data: Uint8Array): Promise<void> {
  let target = path;
  let mode: number | undefined;
  try {
    target = realpathSync(path);
    const info = statSync(target);
    if (!info.isFile()) {
      writeFileSync(target, data);
      return;
    }
    mode = info.mode & 0o7777;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  const dir = dirname(target);
  await removeDeadWritersTemporaries(target);
  const tmp = temporaryName(target);
  const fd = openSync(tmp, "wx", mode ?? 0o666);
  try {
    try {
      if (mode !== undefined) fchmodSync(fd, mode); // as the old file had it, whatever the umask
      for (let offset = 0; offset < data.length; ) offset += writeSync(fd, data, offset, data.length - offset);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, target);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      // already gone
    }
    throw e;
  }
  const dirFd = openSync(dir, "r");
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}
