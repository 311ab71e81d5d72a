import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { Context } from "../../src/services/context.ts";
import { dropPostgresSchema, holdingSchemaLock } from "../../src/store/database.ts";
import { fixedClock, type Clock } from "../../src/services/clock.ts";
import type { Settings } from "../../src/config/defaults.ts";
import type { IssuedCard } from "../../src/services/cards.ts";

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

/**
 * Run DDL a test makes by hand (dropping a table to replay a migration) as a schema change: on
 * PostgreSQL under the exclusive schema-change lock, since another test file's migrator lists the
 * tables of every schema and fails on one dropped under it (src/store/database.ts).
 */
export async function asSchemaChange<T>(backend: Backend, work: () => Promise<T>): Promise<T> {
  return backend === "postgres" ? holdingSchemaLock(process.env.DATABASE_URL!, "exclusive", work) : work();
}

/** A passphrase good enough for tests; production keeps it in a 0600 file or the environment. */
export const TEST_PASSPHRASE = "openjpki-test-passphrase-0123456789";

/**
 * PBKDF2 iterations for the CA keys of test stores: production's 600,000 cost ≈0.2 s per derivation,
 * four for each store a test opens. Stored keys are read at the count they were written with, so a
 * CLI run on a test store stays quick too. The strong default is tested in test/services/ca-key-kdf.test.ts.
 */
export const TEST_KDF_ITERATIONS = 1_000;

export async function openTestContext(
  backend: Backend,
  options: { clock?: Clock; now?: string; settings?: Partial<Settings>; dataDir?: string; env?: NodeJS.ProcessEnv; schema?: string } = {},
): Promise<TestContext> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), "openjpki-test-"));
  const schema = backend === "postgres" ? (options.schema ?? `t_${randomBytes(6).toString("hex")}`) : undefined;
  const clock = options.clock ?? (options.now ? fixedClock(options.now) : undefined);
  const context = await Context.open({
    dataDir,
    env: { OPENJPKI_CA_PASSPHRASE: TEST_PASSPHRASE, ...options.env },
    ...(backend === "postgres" ? { databaseUrl: process.env.DATABASE_URL!, databaseSchema: schema! } : {}),
    ...(clock ? { clock } : {}),
    ...(options.settings ? { settings: options.settings } : {}),
    caKdfIterations: TEST_KDF_ITERATIONS,
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

/** The PINs of the card {@link openTestContextWithCard} issues. */
export const CARD_PINS = { auth: "1234", sign: "ABC123" } as const;

export interface TestContextWithCard extends TestContext {
  card: IssuedCard;
}

/** A SQLite test context with one adult resident of Machida and a card issued to them at the counter. */
export async function openTestContextWithCard(now: string): Promise<TestContextWithCard> {
  const t = await openTestContext("sqlite", { now });
  const resident = await t.context.registry.add({
    name: "町田 一郎", birth: "1980-05-05", gender: "1", address: "東京都町田市森野２－２－２２", municipality: "132098",
  });
  const card = await t.context.cards.issue({ residentId: resident.id, authPin: CARD_PINS.auth, signPin: CARD_PINS.sign });
  return { ...t, card };
}
