import { existsSync, mkdirSync, rmSync } from "node:fs";
import { resolve, join } from "node:path";
import { MigrationFailed, NewerStoreSchema, openStore, UpgradeWaitTimedOut, type Store } from "../store/database.ts";
import { checkMaxLag, StandbyRefused } from "../store/replica-reads.ts";
import { DEFAULT_MUNICIPALITIES, isValidMunicipalityCode, type Municipality } from "../config/municipalities.ts";
import { DEFAULT_DATA_DIR, DEFAULT_SETTINGS, type Settings } from "../config/defaults.ts";
import { publicBaseUrlFrom } from "./public-url.ts";
import type { CaType } from "../pki/jpki-profile.ts";
import { resolveCaPassphrase, type PassphraseSource } from "./keystore.ts";
import { ServiceError } from "./errors.ts";
import { Registry } from "./registry.ts";
import { CertificateAuthorities } from "./certificate-authority.ts";
import { CaKeys, type CaKeyLocation } from "./ca-keys.ts";
import { RegisterEvents } from "./register-events.ts";
import { CrlPublisher } from "./crl-publisher.ts";
import { OcspResponder } from "./ocsp-responder.ts";
import { Verifiers } from "./verifiers.ts";
import { Terminals } from "./terminals.ts";
import { Cards } from "./cards.ts";
import { Challenges } from "./challenges.ts";
import { PortalLogin } from "./portal-login.ts";
import { PinReset } from "./pin-reset.ts";
import { ownVerifier } from "./trust.ts";
import { Oidc } from "./oidc.ts";
import { Filings } from "./filings.ts";
import { Kiosk } from "./kiosk.ts";
import { StaffDirectory } from "./counter/staff.ts";
import { CounterProcedures } from "./counter/procedures.ts";
import { IssuanceClients } from "./issuance-clients.ts";
import { IssuanceRequests } from "./issuance-requests.ts";
import { feeScheduleFrom } from "../config/fees.ts";
import type { Verifier } from "../verify/index.ts";
import { systemClock, type Clock } from "./clock.ts";
import { encodeRecordedRevocation } from "../pki/crl.ts";
import type { MigrationEncoders } from "../store/migrations.ts";
import type { RevocationReason } from "../rules/revocation.ts";

/** The settings a context is opened with (ContextOptions.settings overrides the defaults). */
export type { Settings } from "../config/defaults.ts";

/** What the store's data migrations need encoded (the store itself does not import pki). */
export const MIGRATION_ENCODERS: MigrationEncoders = {
  crlEntry: (revocation) => encodeRecordedRevocation({ ...revocation, reason: revocation.reason as RevocationReason }),
};

export interface ContextOptions {
  /** The data directory (SQLite store, CA passphrase, cards). */
  dataDir?: string;
  /** Use PostgreSQL instead of the embedded SQLite store. */
  databaseUrl?: string;
  /** PostgreSQL schema to work in (tests use a fresh one each). */
  databaseSchema?: string;
  settings?: Partial<Settings>;
  clock?: Clock;
  env?: NodeJS.ProcessEnv;
  /** Where news for the operator goes (the CLI: stderr), such as database connections lost and replaced. */
  log?: (line: string) => void;
  /**
   * PBKDF2 iterations for new software CA keys and the other keys kept under the CA passphrase
   * (OCSP responders, terminals, OIDC signing; default 600,000, ≈0.2 s per derivation): tests
   * lower it, as every store they open derives its keys. Not settable from the environment, so an
   * operator cannot weaken stored keys by mistake.
   */
  caKdfIterations?: number;
}

/** What a first run did, so the CLI and server can say it. */
export interface Initialisation {
  createdRoots: CaType[];
  passphrase: Omit<PassphraseSource, "passphrase">;
  /** Where new CA keys are made: software, or an HSM token. */
  caKeys: CaKeyLocation;
}

/** The parts a Context is made of, wired in `Context.open`. */
export interface ContextParts {
  dataDir: string;
  store: Store;
  settings: Settings;
  clock: Clock;
  registry: Registry;
  ca: CertificateAuthorities;
  /** The CA keys' store (software or an HSM token), closed with the context. */
  caKeys: CaKeys;
  events: RegisterEvents;
  crls: CrlPublisher;
  ocsp: OcspResponder;
  verifiers: Verifiers;
  terminals: Terminals;
  cards: Cards;
  challenges: Challenges;
  portal: PortalLogin;
  pinReset: PinReset;
  oidc: Oidc;
  filings: Filings;
  kiosk: Kiosk;
  staff: StaffDirectory;
  counter: CounterProcedures;
  issuanceClients: IssuanceClients;
  issuance: IssuanceRequests;
  initialisation: Initialisation;
}

// The class below gets its fields from ContextParts (declaration merging), set once in the constructor.
export interface Context extends Readonly<ContextParts> {}

/**
 * Everything a command or the server needs, opened from a data directory. This is the one
 * place that wires the store, the registry, the CAs and the workflows together.
 */
export class Context {
  private constructor(parts: ContextParts) {
    Object.assign(this, parts);
  }

  static async open(options: ContextOptions = {}): Promise<Context> {
    const env = options.env ?? process.env;
    const dataDir = resolve(options.dataDir ?? env.OPENJPKI_DATA ?? DEFAULT_DATA_DIR);
    makeDataDir(dataDir);
    const settings: Settings = {
      ...DEFAULT_SETTINGS,
      ...(env.OPENJPKI_PUBLIC_URL ? { publicBaseUrl: publicUrlFromEnvironment(env.OPENJPKI_PUBLIC_URL) } : {}),
      ...(env.OPENJPKI_OCSP_VALIDITY_SECONDS ? { ocspValiditySeconds: ocspValidityFromEnvironment(env.OPENJPKI_OCSP_VALIDITY_SECONDS) } : {}),
      ...options.settings,
    };
    const clock = options.clock ?? systemClock;
    const databaseUrl = options.databaseUrl ?? env.OPENJPKI_DATABASE_URL;
    const replica = replicaFrom(env);
    if (replica && !databaseUrl) {
      throw new ServiceError(
        "invalid-input",
        "PostgreSQL のスタンバイ（OPENJPKI_DATABASE_REPLICA_URL）にはプライマリ（OPENJPKI_DATABASE_URL）も必要です / a PostgreSQL standby (OPENJPKI_DATABASE_REPLICA_URL) needs the PostgreSQL primary too (OPENJPKI_DATABASE_URL)",
        "OPENJPKI_DATABASE_REPLICA_URL",
      );
    }
    const store = await openStoreNamed(databaseUrl, {
      ...(databaseUrl
        ? { postgresUrl: databaseUrl, ...(options.databaseSchema ? { postgresSchema: options.databaseSchema } : {}) }
        : { sqlitePath: join(dataDir, "openjpki.sqlite") }),
      ...(replica ? { postgresReplica: replica } : {}),
      encoders: MIGRATION_ENCODERS,
      ...(options.log ? { log: options.log } : {}),
    });
    let caKeys: CaKeys | undefined;
    let source: Omit<PassphraseSource, "passphrase"> | undefined;
    try {
      await seedMunicipalities(store, DEFAULT_MUNICIPALITIES);
      const { passphrase, ...passphraseSource } = await resolveCaPassphrase(dataDir, env);
      source = passphraseSource;
      const registry = new Registry(store.db, clock);
      caKeys = await CaKeys.open(env, passphrase, options.caKdfIterations !== undefined ? { kdfIterations: options.caKdfIterations } : {});
      // The services' own keys, under the same passphrase at the same count; they hold this, not the passphrase.
      const keyWrapping = caKeys.wrapping; // one per context: the CA keys' and the services' other keys alike
      const ca = new CertificateAuthorities(store.db, registry, settings, caKeys, clock, { dialect: store.dialect });
      const createdRoots = await ca.ensureRoots();
      const events = new RegisterEvents(store.db, clock);
      const crls = new CrlPublisher(store.db, store.dialect, ca, registry, settings, clock);
      const ocsp = new OcspResponder(store, ca, settings, keyWrapping, clock);
      await ocsp.ensureResponders();
      const verifiers = new Verifiers(store.db, settings, clock);
      const terminals = new Terminals(store.db, keyWrapping, clock);
      const cards = new Cards(store.db, dataDir, registry, ca, terminals, settings, clock);
      const challenges = new Challenges(store.db, clock);
      let verifier: Verifier | undefined;
      const ownTrust = () => (verifier ??= ownVerifier(ca, ocsp, clock));
      const portal = new PortalLogin(store.db, challenges, ownTrust, clock);
      const kiosk = new Kiosk(store.db, challenges, ownTrust, registry, settings, clock);
      const pinReset = new PinReset(store.db, challenges, ownTrust, terminals, settings, clock, kiosk);
      const oidc = new Oidc(store.db, portal, keyWrapping, clock);
      const filings = new Filings(store.db, ownTrust, clock);
      const staff = new StaffDirectory(store.db, clock);
      await staff.seedOffices();
      const counter = new CounterProcedures(store.db, cards, ca, registry, clock, feeScheduleFrom(env));
      const issuanceClients = new IssuanceClients(store.db, registry, clock);
      const issuance = new IssuanceRequests(store.db, ca, clock);
      return new Context({
        dataDir, store, settings, clock, registry, ca, events, crls, ocsp, verifiers, terminals, cards, challenges, portal, pinReset, oidc, filings, kiosk, staff, counter, issuanceClients, issuance,
        caKeys,
        initialisation: { createdRoots, passphrase: source, caKeys: caKeys.location },
      });
    } catch (error) {
      await caKeys?.close();
      await store.close();
      throw source?.origin === "generated" ? passphraseMismatch(error, source.path!) : error;
    }
  }

  #closing: Promise<void> | undefined;

  /** Close the store and the CA keys' token (once; later calls wait for the first). */
  close(): Promise<void> {
    return (this.#closing ??= this.store.close().finally(() => this.caKeys.close()));
  }
}

/** The data directory, made if missing; a path that cannot be one is named as such. */
function makeDataDir(dataDir: string): void {
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  } catch (error) {
    const code = (error as { code?: string }).code;
    const why = code === "EEXIST" || code === "ENOTDIR" ? "exists and is not a directory" : (error as Error).message;
    throw new ServiceError("invalid-input", `data directory ${dataDir}: ${why}`, "data");
  }
}

/** Longest OCSP answer validity accepted: a week (RFC 5019 caches keep an answer until its nextUpdate). */
const MAX_OCSP_VALIDITY_SECONDS = 7 * 24 * 3600;

/**
 * thisUpdate → nextUpdate of the OCSP answers, from the environment so that `serve` and
 * `openjpki ocsp refresh` (which pre-signs for that long, and refreshes at half of it) agree.
 */
function ocspValidityFromEnvironment(text: string): number {
  const seconds = Number(text);
  if (!/^\d+$/.test(text) || seconds < 60 || seconds > MAX_OCSP_VALIDITY_SECONDS) {
    throw new ServiceError(
      "invalid-input",
      `OPENJPKI_OCSP_VALIDITY_SECONDS must be a whole number of seconds from 60 to ${MAX_OCSP_VALIDITY_SECONDS} (a week), not ${JSON.stringify(text)}`,
      "OPENJPKI_OCSP_VALIDITY_SECONDS",
    );
  }
  return seconds;
}

function publicUrlFromEnvironment(text: string): string {
  const url = publicBaseUrlFrom(text);
  if (!url) throw new ServiceError("invalid-input", `OPENJPKI_PUBLIC_URL must be an http(s) base URL such as http://127.0.0.1:8080, not ${JSON.stringify(text)}`, "OPENJPKI_PUBLIC_URL");
  return url;
}

/**
 * Whether opening a context would find an existing store rather than create one: a PostgreSQL
 * URL is set, or the data directory holds the SQLite file. For commands that only read a store
 * (a verifier taking its trust anchors from it) and must not make CAs where there are none.
 */
export function storeExists(options: { dataDir?: string | undefined; env?: NodeJS.ProcessEnv }): { exists: boolean; dataDir: string } {
  const env = options.env ?? process.env;
  const dataDir = resolve(options.dataDir ?? env.OPENJPKI_DATA ?? DEFAULT_DATA_DIR);
  return { exists: Boolean(env.OPENJPKI_DATABASE_URL) || existsSync(join(dataDir, "openjpki.sqlite")), dataDir };
}

/** Open the store; a PostgreSQL server that cannot be reached is named (without its password). */
async function openStoreNamed(databaseUrl: string | undefined, options: Parameters<typeof openStore>[0]): Promise<Store> {
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//i.test(databaseUrl)) {
    // pg would read another scheme's URL as a host name to look up ("getaddrinfo ENOTFOUND").
    throw new ServiceError(
      "invalid-input",
      `OPENJPKI_DATABASE_URL は postgres:// または postgresql:// の URL です / OPENJPKI_DATABASE_URL must be a postgres:// or postgresql:// URL (PostgreSQL is the only server store), not ${JSON.stringify(withoutPassword(databaseUrl))}`,
      "OPENJPKI_DATABASE_URL",
    );
  }
  try {
    return await openStore(options);
  } catch (error) {
    // Its message says what holds the store and what to do: no stack trace for the operator.
    if (error instanceof UpgradeWaitTimedOut) throw new ServiceError("service-unavailable", error.message, undefined, { cause: error });
    if (error instanceof NewerStoreSchema) throw new ServiceError("refused", error.message, undefined, { cause: error, reason: "newer-store-schema" });
    if (error instanceof MigrationFailed) throw new ServiceError("service-unavailable", error.message, undefined, { cause: error, reason: "migration-failed" });
    if (error instanceof StandbyRefused) {
      throw new ServiceError("service-unavailable", `PostgreSQL のスタンバイを使えません / ${error.message}`, "OPENJPKI_DATABASE_REPLICA_URL", { cause: error });
    }
    if (!databaseUrl || error instanceof ServiceError || typeof (error as { code?: unknown }).code !== "string") throw error;
    throw new ServiceError(
      "service-unavailable",
      `PostgreSQL ${withoutPassword(databaseUrl)} (OPENJPKI_DATABASE_URL) に接続できません / cannot open the store there: ${(error as Error).message}`,
      undefined,
      { cause: error },
    );
  }
}

function withoutPassword(databaseUrl: string): string {
  try {
    const url = new URL(databaseUrl);
    if (url.password) url.password = "***";
    return url.toString();
  } catch {
    return "(the URL given)";
  }
}

/**
 * A store whose CA keys were made under another passphrase, opened from a data directory that
 * had none (a second node pointed at the first one's PostgreSQL): the passphrase just generated
 * can never open them, so it is removed and the message says what to give this node instead.
 */
function passphraseMismatch(error: unknown, generatedPath: string): unknown {
  if (!(error instanceof ServiceError) || error.code !== "bad-passphrase") return error;
  rmSync(generatedPath, { force: true });
  return new ServiceError(
    "bad-passphrase",
    `このストアの CA 鍵は別のパスフレーズで暗号化されています / the CA keys in this store were made under another passphrase, ` +
      `and this data directory had none (the one generated in ${generatedPath} was removed again): ` +
      `give this node the passphrase of the node that made them (OPENJPKI_CA_PASSPHRASE_FILE, or copy its ca-passphrase file here)`,
    undefined,
    { cause: error },
  );
}

async function seedMunicipalities(store: Store, municipalities: readonly Municipality[]): Promise<void> {
  for (const m of municipalities) {
    if (!isValidMunicipalityCode(m.code)) throw new Error(`configured municipality code ${m.code} fails its check digit`);
  }
  await store.db
    .insertInto("municipalities")
    .values(
      municipalities.map((m) => ({
        code: m.code,
        prefecture_ja: m.prefectureJa,
        prefecture_romaji: m.prefectureRomaji,
        city_ja: m.cityJa,
        city_romaji: m.cityRomaji,
      })),
    )
    .onConflict((oc) => oc.column("code").doNothing())
    .execute();
}

/** The default bound on how far behind the primary a standby read may be (REVOKE-LATENCY allows 1 s). */
export const DEFAULT_REPLICA_MAX_LAG_MS = 250;

/** OPENJPKI_DATABASE_REPLICA_URL and OPENJPKI_DATABASE_REPLICA_MAX_LAG_MS, checked. */
function replicaFrom(env: NodeJS.ProcessEnv): { url: string; maxLagMs: number } | undefined {
  const url = env.OPENJPKI_DATABASE_REPLICA_URL;
  const lag = env.OPENJPKI_DATABASE_REPLICA_MAX_LAG_MS;
  const refuse = (ja: string, en: string) => new ServiceError("invalid-input", `${ja} / ${en}`, "OPENJPKI_DATABASE_REPLICA_MAX_LAG_MS");
  if (!url) {
    if (lag) throw refuse("OPENJPKI_DATABASE_REPLICA_MAX_LAG_MS はスタンバイ（OPENJPKI_DATABASE_REPLICA_URL）を使うときだけ設定します", "OPENJPKI_DATABASE_REPLICA_MAX_LAG_MS is set without OPENJPKI_DATABASE_REPLICA_URL");
    return undefined;
  }
  if (lag !== undefined && !/^\d{1,6}$/.test(lag)) {
    throw refuse("OPENJPKI_DATABASE_REPLICA_MAX_LAG_MS はミリ秒の整数です", `OPENJPKI_DATABASE_REPLICA_MAX_LAG_MS must be a whole number of milliseconds, not ${JSON.stringify(lag)}`);
  }
  const maxLagMs = lag === undefined ? DEFAULT_REPLICA_MAX_LAG_MS : Number(lag);
  try {
    checkMaxLag(maxLagMs);
  } catch (error) {
    throw refuse("OPENJPKI_DATABASE_REPLICA_MAX_LAG_MS が範囲外です", (error as Error).message);
  }
  return { url, maxLagMs };
}
