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
    }));
    if (values.json) return json(io, summary);
    io.stdout(`データディレクトリ / data directory: ${summary.dataDir} (${summary.store})\n`);
  },
};
