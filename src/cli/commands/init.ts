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
    io.stdout(keys.kind === "hsm" ? `新しい CA 鍵 / new CA keys: HSM token ${keys.token} (${keys.module})\n` : "新しい CA 鍵 / new CA keys: software (encrypted at rest)\n");
  },
};
