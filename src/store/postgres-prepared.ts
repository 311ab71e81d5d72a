import type { Pool, PoolClient, QueryResult } from "pg";
import type { PostgresCursor, PostgresPool, PostgresPoolClient, PostgresQueryResult } from "kysely";

/**
 * Named prepared statements for kysely on PostgreSQL.
 *
 * kysely sends every query as an unnamed statement, so PostgreSQL parses and plans it on every
 * call. For the lookups by key that each issuance makes, that was most of the server's work:
 * 74 + 136 µs to parse and plan the resident read against 23 µs to run it, 54 + 88 µs against
 * 9 µs for the holder's certificates (from the server's statement log, 8,000 issuances). A named
 * statement is parsed once per connection, and after a few runs PostgreSQL keeps its generic plan.
 *
 * - Only statements that repeat are named: a text gets a name on its third use, and only the
 *   first 256 texts ever do, so each server connection holds a bounded number of prepared
 *   statements (they live until the connection closes).
 * - Only plain data statements (select, insert, update, delete, with), and only once `enable()`
 *   is called, after the migrations: a statement prepared while a migration changes its table
 *   would be stale.
 * - If PostgreSQL refuses a named statement because its table changed under it (another node
 *   migrating: "cached plan must not change result type", SQLSTATE 0A000), that text runs
 *   unnamed on that connection from then on, and the query is retried once.
 */
export interface PreparedStatementOptions {
  /** Uses of a text before it gets a name. Default 3. */
  repeatsBeforeNaming?: number;
  /** Most texts ever named in this process. Default 256. */
  maxNamed?: number;
}

const DATA_STATEMENT = /^\s*(select|insert|update|delete|with)\b/i;
const STALE_PLAN = "0A000";

export class PreparedStatementPool implements PostgresPool {
  readonly #pool: Pool;
  readonly #clients = new WeakMap<PoolClient, PostgresPoolClient>();
  /** SQL text → uses so far, for texts not named yet. */
  readonly #uses = new Map<string, number>();
  /** SQL text → its statement name. */
  readonly #names = new Map<string, string>();
  readonly #repeatsBeforeNaming: number;
  readonly #maxNamed: number;
  #enabled = false;

  constructor(pool: Pool, options: PreparedStatementOptions = {}) {
    this.#pool = pool;
    this.#repeatsBeforeNaming = options.repeatsBeforeNaming ?? 3;
    this.#maxNamed = options.maxNamed ?? 256;
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

  #wrap(client: PoolClient): PostgresPoolClient {
    /** Texts whose named statement went stale on this connection. */
    const stale = new Set<string>();
    const query = async <R>(sql: string, parameters: readonly unknown[]): Promise<PostgresQueryResult<R>> => {
      const values = [...parameters];
      const name = stale.has(sql) ? undefined : this.#nameFor(sql);
      if (name === undefined) return asKysely(await client.query(sql, values));
      try {
        return asKysely(await client.query({ name, text: sql, values }));
      } catch (error) {
        if ((error as { code?: string }).code !== STALE_PLAN) throw error;
        stale.add(sql);
        return asKysely(await client.query(sql, values));
      }
    };
    return {
      query: ((sqlOrCursor: string | PostgresCursor<unknown>, parameters?: readonly unknown[]) =>
        typeof sqlOrCursor === "string" ? query(sqlOrCursor, parameters ?? []) : client.query(sqlOrCursor as never)) as PostgresPoolClient["query"],
      release: (destroy?: boolean) => client.release(destroy),
    };
  }

  #nameFor(sql: string): string | undefined {
    const named = this.#names.get(sql);
    if (named !== undefined || !this.#enabled || this.#names.size >= this.#maxNamed || !DATA_STATEMENT.test(sql)) return named;
    const uses = (this.#uses.get(sql) ?? 0) + 1;
    if (uses < this.#repeatsBeforeNaming) {
      // Bounded too: one-off texts (an IN list of a new length, say) must not pile up; the
      // repeated ones soon count up again after a reset.
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

function asKysely<R>(result: QueryResult): PostgresQueryResult<R> {
  return result as unknown as PostgresQueryResult<R>;
}
