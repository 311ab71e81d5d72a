import { chmodSync, closeSync, mkdirSync, openSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { CompiledQuery, Kysely, Migrator, sql, PostgresDialect, SqliteAdapter, SqliteDialect, SqliteDriver, type DatabaseConnection, type DialectAdapter, type Driver, type SqliteDatabase } from "kysely";
import type { Database } from "./schema.ts";
import { PreparedStatementPool } from "./postgres-prepared.ts";
import { connectionLostLine, rateLimitedLog } from "./rate-limited-log.ts";
import { migrationProvider, type MigrationEncoders } from "./migrations.ts";
import { ReplicaReads } from "./replica-reads.ts";

export type Dialect = "sqlite" | "postgres";

export interface StoreOptions {
  /** SQLite file (the embedded default), or `:memory:`. */
  sqlitePath?: string;
  /** A PostgreSQL connection string; wins over sqlitePath. */
  postgresUrl?: string;
  /** PostgreSQL only: a schema to work in (created if missing). Tests use one each. */
  postgresSchema?: string;
  /**
   * PostgreSQL only: a hot standby of the primary for the OCSP status reads, used only while it
   * is at most `maxLagMs` behind (src/store/replica-reads.ts).
   */
  postgresReplica?: { url: string; maxLagMs: number };
  /** Encoders for data migrations (see MigrationEncoders); needed only when old rows must be converted. */
  encoders?: MigrationEncoders;
  /**
   * Where news for the operator goes (PostgreSQL connections lost and replaced, a SQLite store
   * waited for while another process upgrades it); unsaid without it.
   */
  log?: (line: string) => void;
  /** SQLite only: how long to wait for another connection's write lock (tests shorten it). */
  sqliteLockWaits?: SqliteLockWaits;
}

export interface SqliteLockWaits {
  /** In ordinary work (busy_timeout): a write transaction is short. Default 5 s. */
  busyMs: number;
  /**
   * While the store opens, once `busyMs` has passed: another process holding the write lock that
   * long is most likely upgrading the store, which takes minutes on a large one. Default 10 minutes.
   */
  openingMs: number;
}

const DEFAULT_LOCK_WAITS: SqliteLockWaits = { busyMs: 5_000, openingMs: 10 * 60_000 };

/** What the OCSP hot path needs to know about one certificate. */
export interface CertificateStatusRow {
  status: "valid" | "revoked" | "hold";
  revoked_at: string | null;
  revocation_reason: string | null;
}

/**
 * A certificate's status with its CA's revocation version read in the same statement, so from
 * one snapshot: "good" seen with version V holds for every snapshot, of any server, whose version
 * is V (every revocation bumps it). The OCSP responder caches "good" under this version, never
 * under one read separately, so no mix of sources (primary, standby) can pin a stale "good".
 */
export interface CertificateStatusWithVersion extends CertificateStatusRow {
  /** null when the CA has no revocation yet (version 0). */
  version: number | string | null;
}

export interface StatusReadOptions {
  /** Read from the primary even when a standby qualifies (in-process checks such as logins). */
  primary?: boolean;
}

export interface Store {
  readonly db: Kysely<Database>;
  readonly dialect: Dialect;
  /**
   * The status of one certificate by primary key. The OCSP responder asks this on every request,
   * so it skips the query builder: on SQLite it is one prepared statement, compiled once, on the
   * read-only connection; on PostgreSQL it goes straight to the pool of named statements.
   */
  certificateStatus(type: "sign" | "auth", serialHex: string, options?: StatusReadOptions): Promise<CertificateStatusWithVersion | undefined>;
  /**
   * Each CA's revocation version (bumped by every revocation in its transaction). The OCSP
   * responder asks it once per event-loop turn under load, so it takes the same committed-data
   * fast path as certificateStatus.
   */
  revocationVersions(): Promise<RevocationVersionRow[]>;
  /**
   * One round trip to the database, failing after `timeoutMs` (for /healthz: a load balancer
   * must learn in bounded time that a node's database hangs or is gone).
   */
  ping(timeoutMs: number): Promise<void>;
  /** Set when the status reads may go to a standby (StoreOptions.postgresReplica): where they went. */
  readonly replicaReads?: ReplicaReads;
  close(): Promise<void>;
}

export interface RevocationVersionRow {
  ca_type: "sign" | "auth";
  version: number | string;
}

/** Open the store and bring its schema up to date. */
export async function openStore(options: StoreOptions): Promise<Store> {
  if (options.postgresReplica && !options.postgresUrl) {
    throw new Error("a PostgreSQL standby (OPENJPKI_DATABASE_REPLICA_URL) needs the PostgreSQL primary too (OPENJPKI_DATABASE_URL)");
  }
  const { db, dialect, certificateStatus, revocationVersions, ping, close, migrated } = options.postgresUrl ? await openPostgres(options) : await openSqlite(options);
  // Kysely looks for its migration tables in every schema unless told which: with a schema per
  // PostgreSQL test run, one run would see another's tables and skip creating its own.
  // A schema named only in the URL (`options=-c search_path=…`, as an operator may write it) counts too.
  // Else the schema the connections create in (current_schema(): the first of a search_path such
  // as "openjpki,public", or public): left unnamed, kysely took another schema's migration tables
  // (a staging store in the same database, another application) for the store's and failed.
  const migrationSchema = options.postgresUrl
    ? (options.postgresSchema ?? searchPathSchemaOf(options.postgresUrl) ?? (await currentSchema(db).catch(async (error: unknown) => {
        await close();
        throw error;
      })))
    : undefined;
  const provider = migrationProvider(dialect, options.encoders);
  // kysely orders the migrations done by the time each was recorded (the migrating process's
  // clock), and with its order check on, a store whose newest record is older than one before it
  // (a node whose clock was behind ran the upgrade, or the clock was set back) was refused for
  // good as "corrupted". Our migrations are named in the order they run, which is all that matters;
  // a migration done that this version does not know is still refused (NewerStoreSchema).
  const migrator = new Migrator({ db, provider, allowUnorderedMigrations: true, ...(migrationSchema ? { migrationTableSchema: migrationSchema } : {}) });
  const { error, results } = options.postgresUrl
    ? await holdingSchemaLock(options.postgresUrl, "shared", async (client) => {
        // The pool connects lazily, so its schema need only exist before the first migration runs.
        if (options.postgresSchema) await client.query(`create schema if not exists ${options.postgresSchema}`);
        return migrator.migrateToLatest();
      })
    : await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === "Error");
  if (error || failed) {
    // A store upgraded by a newer version: said as such, not as kysely's "corrupted migrations".
    const newer = error && !failed ? await newerMigrations(db, provider, migrationSchema).catch(() => undefined) : undefined;
    await close();
    if (newer) throw new NewerStoreSchema(newer.unknown, newer.lastKnown, { cause: error });
    // Its message says what happened (no migration of ours ran) and what to do.
    if (error instanceof UpgradeWaitTimedOut) throw error;
    throw new MigrationFailed(failed?.migrationName, error);
  }
  // Only now may PostgreSQL statements be prepared by name: one prepared while a migration
  // changed its table would be stale.
  let replicaReads: ReplicaReads | undefined;
  try {
    replicaReads = await migrated();
  } catch (error) {
    await close();
    throw error;
  }
  return { db, dialect, certificateStatus, revocationVersions, ping, close, ...(replicaReads ? { replicaReads } : {}) };
}

const STATUS_SQL =
  "select status, revoked_at, revocation_reason, (select version from revocation_versions where ca_type = ?) as version from certificates where ca_type = ? and serial_hex = ?";
const VERSIONS_SQL = "select ca_type, version from revocation_versions";

async function openSqlite(options: StoreOptions) {
  const { default: SQLite } = await import("better-sqlite3");
  const path = options.sqlitePath ?? ":memory:";
  if (path !== ":memory:") {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    keepToOwner(path);
  }
  const database = new SQLite(path);
  const waits = options.sqliteLockWaits ?? DEFAULT_LOCK_WAITS;
  // First, so that everything after it waits for another process's lock rather than failing at
  // once: switching a new file to WAL needs a lock that a process migrating it holds.
  database.pragma(`busy_timeout = ${waits.busyMs}`);
  // WAL keeps readers off the writer's back; FULL sync makes a commit durable before it returns,
  // which is what "issuing and recording are one transaction" relies on.
  database.pragma("journal_mode = WAL");
  database.pragma("synchronous = FULL");
  database.pragma("foreign_keys = ON");
  // The one transaction before `migrated` is the migrations': it waits out another process's upgrade.
  let opening: UpgradeWait | undefined = new UpgradeWait(database, path, waits, options.log);
  const takeWriteLock = (begin: () => Promise<unknown>) => (opening ? opening.begin(begin) : begin());
  const db = new Kysely<Database>({ dialect: new WriteLockingSqliteDialect(statementCache(database), () => database.inTransaction, takeWriteLock) });
  // The fast paths (status, revocation versions) bypass kysely, and so kysely's lock on the one
  // connection: on that connection they could run inside another caller's open transaction and
  // see a revocation that is later rolled back. A second, read-only connection sees only committed
  // data (WAL lets it read while the writer writes; each read ends its own read transaction, so
  // it sees every commit made before it). An in-memory database cannot be shared: there both go
  // through kysely, which waits for an open transaction to end.
  const shared = path === ":memory:";
  const reader = shared ? database : new SQLite(path, { readonly: true, fileMustExist: true });
  if (!shared) reader.pragma(`busy_timeout = ${waits.busyMs}`);
  // One committed-data read per SQL text, prepared lazily (the tables exist only after the
  // migrations have run).
  const committedRead = <R>(text: string) => {
    let statement: import("better-sqlite3").Statement<unknown[], R> | undefined;
    return async (...parameters: unknown[]): Promise<R[]> => {
      if (shared) return (await db.executeQuery<R>(CompiledQuery.raw(text, parameters))).rows;
      statement ??= reader.prepare<unknown[], R>(text);
      return statement.all(...parameters);
    };
  };
  const statusRows = committedRead<CertificateStatusWithVersion>(STATUS_SQL);
  const certificateStatus = async (type: "sign" | "auth", serialHex: string) => (await statusRows(type, type, serialHex))[0];
  const revocationVersions = committedRead<RevocationVersionRow>(VERSIONS_SQL);
  // In process and synchronous: it cannot hang, only fail (a lock held past busy_timeout, a broken file).
  const selectOne = committedRead("select 1"); // prepared once, on the first check
  const ping = async (_timeoutMs: number) => void (await selectOne());
  const close = async () => {
    if (!shared) reader.close();
    await db.destroy();
  };
  const migrated = async (): Promise<ReplicaReads | undefined> => {
    opening = undefined;
    return undefined;
  };
  return { db, dialect: "sqlite" as const, certificateStatus, revocationVersions, ping, close, migrated };
}

/**
 * The store holds residents' personal data, staff password hashes, session and cookie secrets:
 * it is made readable by its owner only (0600), whatever the umask or the directory's mode, and
 * SQLite gives its -wal and -shm files the same mode. A store an earlier version left readable by
 * others is closed to them, if this process owns it (one shared on purpose under another owner is
 * left as it is).
 */
function keepToOwner(path: string): void {
  try {
    closeSync(openSync(path, "wx", 0o600)); // an empty file is an empty SQLite database
  } catch (error) {
    if ((error as { code?: unknown }).code !== "EEXIST") throw error;
  }
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    let info: import("node:fs").Stats;
    try {
      info = statSync(file);
    } catch (error) {
      if ((error as { code?: unknown }).code === "ENOENT") continue;
      throw error;
    }
    if ((info.mode & 0o077) !== 0 && info.uid === process.getuid?.()) chmodSync(file, info.mode & 0o700);
  }
}

/**
 * Opening waits for another process's upgrade instead of failing. All pending migrations run in
 * one BEGIN IMMEDIATE transaction (TransactionalDdlSqliteAdapter), which on a large store holds
 * the write lock for minutes; with only the ordinary busy_timeout, every other process opening the
 * store meanwhile (a CLI command, another server) failed after 5 s with "database is locked". The
 * migrations' BEGIN first waits the ordinary time; if the lock is still held, the operator is told
 * once, and it waits up to `openingMs` more. The long timeout is set for that one BEGIN only:
 * ordinary work keeps failing fast behind a stuck writer.
 */
class UpgradeWait {
  readonly #database: import("better-sqlite3").Database;
  readonly #path: string;
  readonly #waits: SqliteLockWaits;
  readonly #log: ((line: string) => void) | undefined;

  constructor(database: import("better-sqlite3").Database, path: string, waits: SqliteLockWaits, log?: (line: string) => void) {
    this.#database = database;
    this.#path = path;
    this.#waits = waits;
    this.#log = log;
  }

  async begin(begin: () => Promise<unknown>): Promise<void> {
    try {
      await begin();
      return;
    } catch (error) {
      if (!isBusy(error)) throw error;
    }
    // A BEGIN that found the lock taken started no transaction: it may simply be run again.
    const [ja, en] = waitText(this.#waits.openingMs);
    this.#log?.(`別のプロセスがデータベース ${this.#path} を更新中です。終わるまで最長 ${ja}待ちます / another process is upgrading the database ${this.#path}; waiting up to ${en} for it to finish`);
    this.#database.pragma(`busy_timeout = ${this.#waits.openingMs}`);
    try {
      await begin();
    } catch (error) {
      throw isBusy(error) ? new UpgradeWaitTimedOut(this.#path, this.#waits.openingMs, error) : error;
    } finally {
      this.#database.pragma(`busy_timeout = ${this.#waits.busyMs}`);
    }
  }
}

/** Another process held the store's write lock for longer than opening waits for it (UpgradeWait). */
export class UpgradeWaitTimedOut extends Error {
  constructor(path: string, waitedMs: number, cause: unknown) {
    const [ja, en] = waitText(waitedMs);
    super(
      `別のプロセスがデータベース ${path} を ${ja}を超えて更新（アップグレード）中のため、開けませんでした。そのプロセスが終わってからやり直してください。` +
        `止まっている場合は、そのプロセスを終了してからやり直してください（\`fuser ${path}\` で開いているプロセスが分かります。途中の更新は取り消され、次に開いたときにやり直されます） / ` +
        `another process has held the database ${path} for more than ${en}, upgrading it: try again once it has finished. ` +
        `If it has hung, stop that process and try again (\`fuser ${path}\` lists the processes that have the file open; its unfinished upgrade is rolled back and redone by the next open)`,
      { cause },
    );
    this.name = "UpgradeWaitTimedOut";
  }
}

/**
 * A store that a newer version of OpenJPKI has upgraded: this version does not know some of the
 * migrations done on it, so it cannot know the schema, and opens nothing (the store is unchanged).
 */
export class NewerStoreSchema extends Error {
  override readonly name = "NewerStoreSchema";
  constructor(
    readonly unknownMigrations: string[],
    readonly lastKnownMigration: string,
    options?: { cause?: unknown },
  ) {
    const list = unknownMigrations.join(", ");
    super(
      `このデータベースは新しい版の OpenJPKI で更新されています（この版が知らない移行: ${list}。この版が知っている最後の移行は ${lastKnownMigration}）。` +
        `この版では開けません（データベースは変更していません）。更新した版の OpenJPKI を使ってください / ` +
        `the store was upgraded by a newer version of OpenJPKI (migrations this version does not know: ${list}; the last it knows is ${lastKnownMigration}): ` +
        `this version cannot open it (nothing was changed); run the version that upgraded it`,
      options,
    );
  }
}

/**
 * A migration failed (a table of another application in the way, no right to create tables, a
 * full disk…). The migrations run in one transaction on both back ends, so the store was left as
 * it was.
 */
export class MigrationFailed extends Error {
  override readonly name = "MigrationFailed";
  constructor(migrationName: string | undefined, cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause ?? "");
    const which = migrationName ? ` ${migrationName}` : "";
    const whichJa = migrationName ? ` ${migrationName} ` : "";
    super(`データベースの移行${whichJa}に失敗しました（ストアは変更していません）/ database migration${which} failed (the store was left as it was): ${why}`, { cause });
  }
}

/** The migrations recorded in the store that the provider does not know, if any (a newer version's). */
async function newerMigrations(db: Kysely<Database>, provider: ReturnType<typeof migrationProvider>, schema: string | undefined): Promise<{ unknown: string[]; lastKnown: string } | undefined> {
  const known = Object.keys(await provider.getMigrations()).sort();
  const from = (schema ? db.withSchema(schema) : db) as unknown as Kysely<{ kysely_migration: { name: string } }>;
  const done = await from.selectFrom("kysely_migration").select("name").execute();
  const unknown = done.map((r) => r.name).filter((name) => !known.includes(name)).sort();
  return unknown.length > 0 ? { unknown, lastKnown: known.at(-1) ?? "(none)" } : undefined;
}

/** SQLITE_BUSY, or one of its extended codes (SQLITE_BUSY_RECOVERY while another process recovers the WAL). */
function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" && /^SQLITE_BUSY(_|$)/.test(code);
}

/** A wait for people to read: in minutes, or in seconds when shorter (the tests' waits). */
function waitText(ms: number): [ja: string, en: string] {
  const minutes = ms / 60_000;
  return minutes >= 1 ? [`${minutes} 分`, `${minutes} minute${minutes === 1 ? "" : "s"}`] : [`${ms / 1000} 秒`, `${ms / 1000} s`];
}

/**
 * Transactions that take SQLite's write lock when they begin (BEGIN IMMEDIATE). Several
 * connections write to one store (the server and CLI commands such as `ocsp refresh`); a
 * deferred transaction that read first and writes later would fail at once with SQLITE_BUSY
 * if another connection committed in between, where an immediate one waits its turn
 * (busy_timeout) and then reads current data.
 */
class WriteLockingSqliteDialect extends SqliteDialect {
  readonly #database: SqliteDatabase;
  readonly #inTransaction: () => boolean;
  readonly #takeWriteLock: TakeWriteLock;

  constructor(database: SqliteDatabase, inTransaction: () => boolean, takeWriteLock: TakeWriteLock) {
    super({ database });
    this.#database = database;
    this.#inTransaction = inTransaction;
    this.#takeWriteLock = takeWriteLock;
  }

  override createDriver(): Driver {
    return new WriteLockingSqliteDriver({ database: this.#database }, this.#inTransaction, this.#takeWriteLock);
  }

  override createAdapter(): DialectAdapter {
    return new TransactionalDdlSqliteAdapter();
  }
}

/**
 * SQLite's DDL is transactional, but kysely's SQLite adapter says it is not, and its Migrator
 * then runs every statement of every migration, and its own "done" record, as separate commits:
 * a process killed midway (`kill -9`, a power cut) left a half-made migration that the next open
 * ran again and failed on for good ("table … already exists"). Said to be transactional, the
 * Migrator runs all pending migrations with their records in one transaction (kysely 0.28:
 * `#runMigrations`), so a crash leaves the store as it was before and the next open does it all.
 * That transaction is BEGIN IMMEDIATE (the driver above), and it is what makes migrating processes
 * take turns: kysely reads which migrations are done inside it, so a second process opening the
 * store at the same time waits (UpgradeWait) for the first to commit and then finds nothing to do.
 * kysely's migration lock stays a no-op here, as in its own SQLite adapter: the write lock is the lock.
 */
class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

/** Runs `begin` (BEGIN IMMEDIATE): how long it may wait for the lock is the caller's to decide (UpgradeWait). */
type TakeWriteLock = (begin: () => Promise<unknown>) => Promise<unknown>;

class WriteLockingSqliteDriver extends SqliteDriver {
  readonly #inTransaction: () => boolean;
  readonly #takeWriteLock: TakeWriteLock;

  constructor(config: ConstructorParameters<typeof SqliteDriver>[0], inTransaction: () => boolean, takeWriteLock: TakeWriteLock) {
    super(config);
    this.#inTransaction = inTransaction;
    this.#takeWriteLock = takeWriteLock;
  }

  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await this.#takeWriteLock(() => connection.executeQuery(CompiledQuery.raw("begin immediate")));
  }

  /**
   * SQLite rolls a transaction back by itself when a statement fails for want of disk or memory
   * (SQLITE_FULL, IOERR, NOMEM). kysely's ROLLBACK then failed ("cannot rollback - no transaction
   * is active") and its error replaced the real one: a full disk was reported as that.
   */
  override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    if (!this.#inTransaction()) return;
    await super.rollbackTransaction(connection);
  }
}

/** Statements kept per connection (most queries are a handful of shapes, repeated). */
const STATEMENT_CACHE_SIZE = 500;

/**
 * Kysely prepares every query afresh; preparing costs more than running a lookup by key. This
 * hands kysely a view of the connection whose `prepare` returns the statement already compiled
 * for the same SQL (least recently used dropped beyond the limit). A statement still iterating
 * (a stream) is never handed out twice: a fresh one is prepared instead.
 */
export function statementCache(database: import("better-sqlite3").Database): SqliteDatabase {
  const statements = new Map<string, import("better-sqlite3").Statement>();
  return {
    close: () => database.close(),
    prepare(sql: string) {
      const cached = statements.get(sql);
      if (cached && !cached.busy) {
        // Re-inserted to mark it recently used (a Map iterates in insertion order).
        statements.delete(sql);
        statements.set(sql, cached);
        return cached;
      }
      const statement = database.prepare(sql);
      if (!cached) {
        statements.set(sql, statement);
        if (statements.size > STATEMENT_CACHE_SIZE) statements.delete(statements.keys().next().value!);
      }
      return statement;
    },
  };
}

/** Schema names are spliced into SQL (DDL takes no parameters): plain identifiers only. */
function checkSchemaName(schema: string): void {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw new TypeError(`postgres schema name ${JSON.stringify(schema)} is not a plain identifier`);
  }
}

/**
 * Dropping a schema and migrating another must not overlap. kysely's migrator lists the tables of
 * every schema, and its PostgreSQL introspection resolves each schema by name
 * (`has_schema_privilege`, `pg_get_serial_sequence`): a schema dropped while that query runs makes
 * the migration fail with `schema "…" does not exist` (seen in CI, where test files migrate and
 * drop schemas of their own in parallel). Migrations hold this session-level advisory lock shared,
 * drops hold it exclusively; the key is arbitrary and fixed ("OJPK").
 */
export const SCHEMA_CHANGE_LOCK = 0x4f4a504b;

export async function holdingSchemaLock<T>(postgresUrl: string, mode: "shared" | "exclusive", work: (client: import("pg").Client) => Promise<T>): Promise<T> {
  const { default: pg } = await import("pg");
  const client = new pg.Client({ connectionString: postgresUrl });
  // A lost connection fails the work in hand; its "error" event must not also end the process.
  client.on("error", () => {});
  await client.connect();
  try {
    await client.query(mode === "shared" ? "select pg_advisory_lock_shared($1)" : "select pg_advisory_lock($1)", [SCHEMA_CHANGE_LOCK]);
    return await work(client);
  } finally {
    // A session-level advisory lock ends with its session.
    await client.end();
  }
}

/** Drop a PostgreSQL schema and everything in it (the per-run schemas of tests and benchmarks). */
export async function dropPostgresSchema(postgresUrl: string, schema: string): Promise<void> {
  checkSchemaName(schema);
  await holdingSchemaLock(postgresUrl, "exclusive", (client) => client.query(`drop schema if exists ${schema} cascade`));
}

async function openPostgres(options: StoreOptions) {
  const { default: pg } = await import("pg");
  const schema = options.postgresSchema;
  // Checked here, before any connection: openStore creates the schema under the schema lock.
  if (schema !== undefined) checkSchemaName(schema);
  const pool = new pg.Pool({
    connectionString: options.postgresUrl,
    max: 10,
    // A server that accepts but never answers (hung, or its address moved to nothing) fails a
    // checkout after 10 s instead of holding it forever. Waiting for a free connection counts
    // too: ten statements holding the pool for more than 10 s (lock waits behind another node's
    // migration, an overload) fail the requests queued behind them rather than piling them up.
    connectionTimeoutMillis: 10_000,
    // TCP keepalive, first probe after 10 s idle (the OS default is 2 h): a connection checked out
    // and idle (a transaction between statements) to a server that vanished without closing it
    // is found. A hung server's kernel still answers probes; /healthz's timeout covers that.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  });
  const lostLog = options.log && rateLimitedLog(options.log);
  const prepared = new PreparedStatementPool(pool, lostLog ? { onConnectionLost: (error) => lostLog(connectionLostLine(error)) } : {});
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: prepared }) });
  let replicaReads: ReplicaReads | undefined;
  // The fast paths skip the query builder but not the prepared-statement pool: named once they
  // repeat, and prepared again if another node's migration changes their table.
  const statusSql = STATUS_SQL.replace("?", "$1").replace("?", "$1").replace("?", "$2");
  const certificateStatus = async (type: "sign" | "auth", serialHex: string, options: StatusReadOptions = {}) => {
    const onPrimary = () => prepared.query<CertificateStatusWithVersion>(statusSql, [type, serialHex]);
    // The standby gets its values as literals (one round trip with the replay positions around
    // the statement), so only values that cannot be anything but a CA type and a serial go there.
    if (!replicaReads || options.primary || (type !== "sign" && type !== "auth") || !/^[0-9A-F]{32}$/.test(serialHex)) return (await onPrimary())[0];
    const literalSql = STATUS_SQL.replace("?", `'${type}'`).replace("?", `'${type}'`).replace("?", `'${serialHex}'`);
    const { rows, from } = await replicaReads.read<CertificateStatusWithVersion>(literalSql);
    // "unknown" from the standby is asked of the primary too: a certificate issued moments ago,
    // perhaps by this node, may not be there yet, and an "unknown" answer may be kept by HTTP caches.
    // Through the router, so that the floor rises past what the primary showed (a certificate
    // issued and revoked within the lag bound, seen revoked here, is not "good" on the next read).
    return rows[0] ?? (from === "standby" ? (await replicaReads.readOnPrimary<CertificateStatusWithVersion>(literalSql))[0] : undefined);
  };
  const revocationVersions = async () =>
    replicaReads ? (await replicaReads.read<RevocationVersionRow>(VERSIONS_SQL)).rows : prepared.query<RevocationVersionRow>(VERSIONS_SQL);
  // The health check has a pool of its own (one connection): in the main pool it would queue
  // behind real work, and a node merely busy for 2 s would be reported down and taken out of
  // rotation just when it is loaded.
  const healthPool = new pg.Pool({ connectionString: options.postgresUrl, max: 1, idleTimeoutMillis: 60_000, connectionTimeoutMillis: 10_000 });
  // Lost connections, idle or checked out, emit "error"; unheard, that would end the process.
  // An idle one is dropped by the pool, a checked-out one fails its check: the next opens another.
  healthPool.on("error", () => {});
  healthPool.on("connect", (client) => client.on("error", () => {}));
  const checkOnce = async (timeoutMs: number) => {
    const client = await healthPool.connect();
    try {
      // A query that times out leaves its connection waiting for the answer: released with the
      // error, the pool discards it. (pg reads query_timeout from a query's config; its types omit it.)
      await client.query({ text: "select 1", query_timeout: timeoutMs } as import("pg").QueryConfig);
      client.release();
    } catch (error) {
      client.release(error as Error);
      throw error;
    }
  };
  // The timer also bounds the wait for a connection (a hung server accepts and never answers).
  const ping = (timeoutMs: number) => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer from PostgreSQL within ${timeoutMs} ms`)), timeoutMs)));
    return Promise.race([checkOnce(timeoutMs), late]).finally(() => clearTimeout(timer));
  };
  const replica = options.postgresReplica;
  const migrated = async () => {
    prepared.enable();
    if (!replica) return undefined;
    const standbySchema = schema ?? searchPathSchemaOf(options.postgresUrl!);
    replicaReads = await ReplicaReads.open(pool, {
      replicaUrl: replica.url,
      maxLagMs: replica.maxLagMs,
      ...(standbySchema ? { schema: standbySchema } : {}),
      ...(options.log ? { log: options.log } : {}),
    });
    // This process's own revocations show on its next status read: the standby must first pass a
    // primary position noted after the commit.
    prepared.onRevocationCommitted = () => replicaReads?.noteRevocationCommitted();
    return replicaReads;
  };
  const close = async () => {
    await replicaReads?.close();
    await healthPool.end();
    await db.destroy();
  };
  return { db, dialect: "postgres" as const, certificateStatus, revocationVersions, ping, close, migrated };
}

/** The schema unqualified tables are made in on the store's connections, if there is one. */
async function currentSchema(db: Kysely<Database>): Promise<string | undefined> {
  const { rows } = await sql<{ schema: string | null }>`select current_schema() as schema`.execute(db);
  return rows[0]?.schema ?? undefined;
}

/** The one schema a connection string's `options=-c search_path=NAME` names, if it names exactly one plain one. */
export function searchPathSchemaOf(url: string): string | undefined {
  let options: string | null;
  try {
    options = new URL(url).searchParams.get("options");
  } catch {
    return undefined; // not a URL (a key=value string): pg reports its own errors
  }
  const match = /(?:^|\s)-c\s*search_path=([a-z_][a-z0-9_]{0,62})(?:\s|$)/i.exec(options ?? "");
  // PostgreSQL folds an unquoted name in search_path to lower case (FooBar is the schema foobar).
  return match?.[1]?.toLowerCase();
}

/** Binary columns come back as Buffer (better-sqlite3, pg); hand out plain Uint8Array views. */
export function bytes(value: Uint8Array): Uint8Array {
  return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
}

/** A unique or primary-key constraint refused the write, on either back end. */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "23505" || code === "SQLITE_CONSTRAINT_PRIMARYKEY" || code === "SQLITE_CONSTRAINT_UNIQUE";
}
