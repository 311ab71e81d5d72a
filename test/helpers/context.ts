import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { Context } from "../../src/services/context.ts";
import { dropPostgresSchema } from "../../src/store/database.ts";
import { fixedClock, type Clock } from "../../src/services/clock.ts";
import type { Settings } from "../../src/config/defaults.ts";

export type Backend = "sqlite" | "postgres";

/**
 * The back ends the store-level suites run on: always SQLite, and PostgreSQL too when
 * DATABASE_URL is set (CI sets it). Each PostgreSQL run works in a fresh schema.
 */
export function backends(): Backend[] {
  return process.env.DATABASE_URL ? ["sqlite", "postgres"] : ["sqlite"];
}

export interface TestContext {
  context: Context;
  dataDir: string;
  cleanup(): Promise<void>;
}

/** A passphrase good enough for tests; production keeps it in a 0600 file or the environment. */
export const TEST_PASSPHRASE = "openjpki-test-passphrase-0123456789";

export async function openTestContext(
  backend: Backend,
  options: { clock?: Clock; now?: string; settings?: Partial<Settings>; dataDir?: string } = {},
): Promise<TestContext> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), "openjpki-test-"));
  const schema = backend === "postgres" ? `t_${randomBytes(6).toString("hex")}` : undefined;
  const clock = options.clock ?? (options.now ? fixedClock(options.now) : undefined);
  const context = await Context.open({
    dataDir,
    env: { OPENJPKI_CA_PASSPHRASE: TEST_PASSPHRASE },
    ...(backend === "postgres" ? { databaseUrl: process.env.DATABASE_URL!, databaseSchema: schema! } : {}),
    ...(clock ? { clock } : {}),
    ...(options.settings ? { settings: options.settings } : {}),
  });
  return {
    context,
    dataDir,
    async cleanup() {
      await context.close();
      if (schema) await dropPostgresSchema(process.env.DATABASE_URL!, schema);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

