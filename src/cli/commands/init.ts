import { withContext } from "../open-context.ts";
import { type Command, json } from "../command.ts";

export const init: Command = {
  path: ["init"],
  summary: "データディレクトリを作成・更新 / create or migrate the data directory",
  usage: "[--data DIR] [--json]",
  help: [],
  options: {},
  async run(values, io) {
    const summary = await withContext(values, io, async (ctx) => ({
      id: ctx.dataDir,
      dataDir: ctx.dataDir,
      store: ctx.store.dialect,
      createdRoots: ctx.initialisation.createdRoots,
      caKeys: ctx.initialisation.caKeys,
    }));
    if (values.json) return json(io, summary);
    io.stdout(`データディレクトリ / data directory: ${summary.dataDir} (${summary.store})\n`);
    const keys = summary.caKeys;
    const where = keys.kind === "hsm" ? `HSM token ${keys.token} (${keys.module})` : "software (encrypted at rest)";
    io.stdout(
      summary.createdRoots.length > 0
        ? `CA 鍵を作成しました / created the CA keys of the ${summary.createdRoots.join(" and ")} CA: ${where}\n`
        : `CA 鍵は作成済みです（変更なし）/ the CAs and their keys were already there (nothing created); new keys would go to: ${where}\n`,
    );
  },
};
