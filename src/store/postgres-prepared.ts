import type { Pool, PoolClient, QueryResult } from "pg";
import type { PostgresCursor, PostgresPool, PostgresPoolClient, PostgresQueryResult } from "kysely";

/**
 * Named prepared statements for kysely on PostgreSQL.
 *
 * kysely sends every query as an unnamed statement, so PostgreSQL parses and plans it on every
 * call. For the lookups by key that each issuance makes, that was most of the server's work:
 * 74 + 136 µs to parse and plan the resident read against 23 µs to run it, 54 + 88 µs against
 * 9 µs for the holder's certificates (from the server's statement log, 8,000 issuances). A named
 * statement is parsed once per connection, and PostgreSQL reuses its plan where a generic one
 * costs no more than planning for each call's values.
 *
 * - Only statements that repeat are named: a text gets a name on its third use.
 * - Only small ones: at most 64 parameters. A prepared statement holds server memory for the
 *   connection's life (≈28 KB for a lookup by key, ≈0.7 MB for a 128-row insert, measured), and
 *   the multi-row inserts of group commits come in a text per batch size; their parsing costs
 *   little per row anyway.
 * - At most 128 texts per store, so each server connection holds a bounded number.
 * - Only plain data statements (select, insert, update, delete, with), and only once `enable()`
 *   is called, after the migrations: a statement prepared while a migration changes its table
 *   would be stale.
 * - A named statement that went bad on a connection — its table changed under it (another node
 *   migrating: "cached plan must not change result type") or it no longer exists there — is
 *   prepared again under a fresh name on that connection (at most 3 times, then that text runs
 *   unnamed there). Outside a transaction the query is retried at once. Inside one the server
 *   has already aborted the transaction, so the error goes to the caller, whose retry (the
 *   group commit replays its entries, say) then runs on the fresh statement.
 */
export interface PreparedStatementOptions {
  /** Uses of a text before it gets a name. Default 3. */
  repeatsBeforeNaming?: number;
  /** Most texts ever named per store. Default 128. */
  maxNamed?: number;
  /** Texts with more parameters stay unnamed. Default 64. */
  maxParameters?: number;
  /** Told of every connection the server or the network ends (after which the pool opens new ones). */
  onConnectionLost?: (error: Error) => void;
}

const DATA_STATEMENT = /^\s*(select|insert|update|delete|with)\b/i;
/** "cached plan must not change result type": the plan's table changed under it. */
const STALE_PLAN = { code: "0A000", routine: "RevalidateCachedQuery" };
/** invalid_sql_statement_name: the connection does not know the statement (closed after a client-side error, say). */
const UNKNOWN_STATEMENT = "26000";
const MAX_RENAMES = 3;
/** A statement that changes a CA's revocation version: every revocation runs one (src/services/revocation.ts). */
const WRITES_REVOCATION_VERSION = /^\s*(insert|update|with)\b[\s\S]*\brevocation_versions\b/i;

export class PreparedStatementPool implements PostgresPool {
  readonly #pool: Pool;
  readonly #clients = new WeakMap<PoolClient, PostgresPoolClient>();
  /** SQL text → uses so far, for texts not named yet. */
  readonly #uses = new Map<string, number>();
  /** SQL text → its statement name. */
  readonly #names = new Map<string, string>();
  readonly #repeatsBeforeNaming: number;
  readonly #maxNamed: number;
  readonly #maxParameters: number;
  #enabled = false;
  readonly #onConnectionLost: (error: Error) => void;
  readonly #reportedLost = new WeakSet<PoolClient>();
  /**
   * Called once a transaction (or a lone statement) that changed a revocation version has ended
   * on its connection — committed, or rolled back, which only costs a needless call. The replica
   * reads use it to give this process its own revocations at once (src/store/replica-reads.ts).
   */
  onRevocationCommitted: (() => void) | undefined;

  constructor(pool: Pool, options: PreparedStatementOptions = {}) {
    this.#pool = pool;
    // A connection the server or the network closes while idle in the pool (a restart, a
    // failover, pg_terminate_backend, an idle timeout) is dropped by the pool, which then emits
    // "error": unheard, that event would end the process. The next query opens a new connection.
    this.#onConnectionLost = options.onConnectionLost ?? (() => {});
    pool.on("error", (error, client) => this.#lost(error, client));
    this.#repeatsBeforeNaming = options.repeatsBeforeNaming ?? 3;
    this.#maxNamed = options.maxNamed ?? 128;
    this.#maxParameters = options.maxParameters ?? 64;
  }

  /** Start naming repeated statements (call once the schema is final). */
  enable(): void {
    this.#enabled = true;
  }

  /** How many SQL texts have a name (for tests and diagnostics). */
  get namedCount(): number {
    return this.#names.size;
  }

  async connect(): Promise<PostgresPoolClient> {
    const client = await this.#pool.connect();
    let wrapped = this.#clients.get(client);
    if (!wrapped) {
      wrapped = this.#wrap(client);
      this.#clients.set(client, wrapped);
    }
    return wrapped;
  }

  end(): Promise<void> {
    return this.#pool.end();
  }

  /**
   * One statement outside any transaction, on a connection borrowed from the pool for it: the
   * store's fast paths (the OCSP status read, the revocation versions) take this instead of the
   * query builder, and get the same naming and the same recovery from a stale statement (named
   * on their third use, like every other text). Not through kysely: its execution chain for this
   * very read was ≈10 % of the OCSP responder's busy time in a profile (docs/benchmarks.md).
   */
  async query<R>(sql: string, parameters: readonly unknown[] = []): Promise<R[]> {
    const client = await this.connect();
    try {
      return (await client.query<R>(sql, parameters)).rows;
    } finally {
      client.release();
    }
  }

  /** Told once per connection: an idle one's loss reaches both the pool's listener and its own. */
  #lost(error: Error, client: PoolClient): void {
    if (this.#reportedLost.has(client)) return;
    this.#reportedLost.add(client);
    this.#onConnectionLost(error);
  }

  #wrap(client: PoolClient): PostgresPoolClient {
    // The same while checked out: the query in flight fails with the error (its caller sees it),
    // the client emits it too, and the pool discards the broken client when it comes back.
    client.on("error", (error) => this.#lost(error, client));
    /** Texts whose statement went bad on this connection → how many times (the name's suffix). */
    const renamed = new Map<string, number>();
    const nameOnThisConnection = (sql: string, parameters: number): string | undefined => {
      const name = this.#nameFor(sql, parameters);
      const renames = renamed.get(sql);
      if (name === undefined || renames === undefined) return name;
      return renames > MAX_RENAMES ? undefined : `${name}_${renames}`;
    };
    let revocationPending = false;
    const noteRevocation = (sql: string) => {
      if (!this.onRevocationCommitted) return;
      if (!revocationPending && WRITES_REVOCATION_VERSION.test(sql)) revocationPending = true;
      if (revocationPending && client.getTransactionStatus() === "I") {
        revocationPending = false;
        this.onRevocationCommitted();
      }
    };
    const query = async <R>(sql: string, parameters: readonly unknown[]): Promise<PostgresQueryResult<R>> => {
      try {
        return await run<R>(sql, parameters);
      } finally {
        noteRevocation(sql);
      }
    };
    const run = async <R>(sql: string, parameters: readonly unknown[]): Promise<PostgresQueryResult<R>> => {
      const values = parameters as unknown[]; // read only: node-postgres copies the values it sends
      const name = nameOnThisConnection(sql, values.length);
      if (name === undefined) return asKysely(await client.query(sql, values));
      try {
        return asKysely(await client.query({ name, text: sql, values }));
      } catch (error) {
        const bad = badStatement(error);
        if (bad === undefined) throw error;
        renamed.set(sql, (renamed.get(sql) ?? 0) + 1);
        // A client-side error would only repeat; within a transaction the server has aborted it,
        // and only the caller can start again.
        if (bad === "client-side" || client.getTransactionStatus() !== "I") throw error;
        const again = nameOnThisConnection(sql, values.length);
        return asKysely(await (again === undefined ? client.query(sql, values) : client.query({ name: again, text: sql, values })));
      }
    };
    return {
      query: ((sqlOrCursor: string | PostgresCursor<unknown>, parameters?: readonly unknown[]) =>
        typeof sqlOrCursor === "string" ? query(sqlOrCursor, parameters ?? []) : client.query(sqlOrCursor as never)) as PostgresPoolClient["query"],
      release: (destroy?: boolean) => client.release(destroy),
    };
  }

  #nameFor(sql: string, parameters: number): string | undefined {
    const named = this.#names.get(sql);
    if (named !== undefined) return named;
    if (!this.#enabled || this.#names.size >= this.#maxNamed || parameters > this.#maxParameters || !DATA_STATEMENT.test(sql)) return undefined;
    const uses = (this.#uses.get(sql) ?? 0) + 1;
    if (uses < this.#repeatsBeforeNaming) {
      // Bounded too: one-off texts must not pile up; the repeated ones soon count up again after a reset.
      if (this.#uses.size >= this.#maxNamed * 16) this.#uses.clear();
      this.#uses.set(sql, uses);
      return undefined;
    }
    this.#uses.delete(sql);
    const name = `ojpki_${this.#names.size + 1}`;
    this.#names.set(sql, name);
    return name;
  }
}

/**
 * Why a named statement's failure makes the statement unusable on its connection, if it does: a
 * stale plan or a statement the server does not know ("server"), or an error raised before the
 * server saw the call ("client-side", no SQLSTATE: node-postgres then closes the statement on the
 * server but still believes it prepared there).
 */
function badStatement(error: unknown): "server" | "client-side" | undefined {
  const { code, routine } = (error ?? {}) as { code?: unknown; routine?: unknown };
  if (code === undefined) return "client-side";
  return (code === STALE_PLAN.code && routine === STALE_PLAN.routine) || code === UNKNOWN_STATEMENT ? "server" : undefined;
}

function asKysely<R>(result: QueryResult): PostgresQueryResult<R> {
  return result as unknown as PostgresQueryResult<R>;
}
