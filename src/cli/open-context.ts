import { Context, type Settings } from "../services/context.ts";
import { fixedClock } from "../services/clock.ts";
import type { Io, Values } from "./command.ts";
import { CliError } from "./command.ts";

/**
 * Open the data directory for a command. `OPENJPKI_NOW` (an ISO-8601 instant) pins "now" for
 * the whole command: a testing aid, documented in the README, never set in production.
 */
export async function openContext(values: Values, io: Io, settings: Partial<Settings> = {}): Promise<Context> {
  const now = io.env.OPENJPKI_NOW;
  let clock;
  if (now) {
    try {
      clock = fixedClock(now);
    } catch {
      throw new CliError(`OPENJPKI_NOW: ${JSON.stringify(now)} is not an ISO-8601 instant`, 2);
    }
  }
  const context = await Context.open({
    ...(typeof values.data === "string" ? { dataDir: values.data } : {}),
    env: io.env,
    settings,
    ...(clock ? { clock } : {}),
    log: (line) => io.stderr(`${line}\n`),
    ...(io.caKdfIterations !== undefined ? { caKdfIterations: io.caKdfIterations } : {}),
  });
  const { createdRoots, passphrase, caKeys } = context.initialisation;
  if (createdRoots.length > 0) {
    const where = caKeys.kind === "hsm" ? `HSM トークン ${caKeys.token} 内の鍵 / keys in the HSM token ${caKeys.token}` : "ソフトウェア鍵 / software keys";
    io.stderr(
      `新しいデータディレクトリを作成しました / created data directory ${context.dataDir} with the ${createdRoots.join(" and ")} CA (${where})\n`,
    );
  }
  if (passphrase.origin === "generated") {
    io.stderr(
      `CA 鍵のパスフレーズを生成しました / generated the CA key passphrase in ${passphrase.path} (mode 0600); ` +
        `for production set OPENJPKI_CA_PASSPHRASE_FILE instead\n`,
    );
  }
  return context;
}

/** Run `body` with an open context and always close it. */
export async function withContext<T>(values: Values, io: Io, body: (context: Context) => Promise<T>): Promise<T> {
  const context = await openContext(values, io);
  try {
    return await body(context);
  } finally {
    await context.close();
  }
}
