/**
 * The OCSP status reads (a certificate's status, the CAs' revocation versions) sent to a
 * PostgreSQL hot standby when — and only when — the standby is provably recent enough.
 *
 * A responder must not say "good" about a revoked certificate for longer than a known bound, and
 * it caches "good" under the CA's revocation version (OcspResponder.stillHolds): a version read
 * from a newer source and a status read from an older one would pin a stale "good" until that
 * CA's next revocation. So every read here obeys two rules, whichever server answers it:
 *
 * - **Bounded staleness.** A standby read sees every commit made on the primary at least
 *   `maxLagMs` before the read began. A monitor notes the primary's WAL insert position every
 *   max-lag/5 (`pg_current_wal_insert_lsn()`: a commit is visible only once its record is
 *   inserted, with or without synchronous commit) and when it started asking; a standby read
 *   must find the standby's replay position — read in the same round trip, *before* the data
 *   statement takes its snapshot — at or past a position noted no more than `maxLagMs` ago.
 * - **Reads never go back in time.** Within this process, a read that starts after another one
 *   ended sees at least what that one saw: a standby read raises a floor to the replay position
 *   read *after* its data statement (an upper bound of its snapshot; behind a load balancer the
 *   next connection may reach a standby further behind), and a read on the primary, or a
 *   revocation committed by this process, raises it to the primary's insert position read after
 *   the statement or the commit.
 *
 * - **One history.** Positions compare only on one timeline: each note carries the primary's
 *   timeline, and a standby read counts only if the standby is streaming that timeline
 *   (`pg_stat_wal_receiver.received_tli`, which needs `pg_read_all_stats` on the standby). After a
 *   failover a standby left on the old timeline — its replay position perhaps past the new
 *   primary's — is passed over; the notes start again, and the floor carries its timeline too,
 *   so a primary read made on the new timeline before the monitor's next note still counts. If the
 *   primary's address later reaches a server on an older timeline, the monitor's next note
 *   replaces the floor (see #poll).
 *
 * The caching rule does not rest on these alone: the responder caches "good" under the version
 * read in the same statement as the status (Store.certificateStatus), true of that one snapshot.
 * Versions move by a random step (src/services/revocation.ts), so one lost in a failover is not
 * handed to the next revocation on the new primary.
 * Anything else — no recent note, a standby behind, down, slow (timeouts of about `maxLagMs`, at
 * most 1 s), of another cluster, with other tables, or not in recovery — sends the read to the
 * primary. So a standby can only
 * add at most `maxLagMs` to the time a revocation takes to show, never make it unbounded.
 * Clocks are monotonic (performance.now()).
 */
import { performance } from "node:perf_hooks";
import type { Pool, PoolClient } from "pg";
import { rateLimitedLog } from "./rate-limited-log.ts";

export interface ReplicaReadOptions {
  /** The standby's connection string. */
  replicaUrl: string;
  /** The most a standby read may lag the primary, in milliseconds (also its timeouts' scale). */
  maxLagMs: number;
  /** The schema the primary's connections work in (the standby's get the same search_path). */
  schema?: string;
  /** Where the operator is told of failed standby reads (rate-limited); unsaid without it. */
  log?: (line: string) => void;
}

/** Where reads went, and why some went to the primary (for tests, diagnostics and benchmarks). */
export interface ReplicaReadStats {
  standby: number;
  primary: number;
  /** Primary reads because no primary position was noted recently enough (or since a primary read or revocation). */
  noRecentPosition: number;
  /** Primary reads because the standby had not replayed far enough. */
  standbyBehind: number;
  /** Primary reads because the standby failed, timed out or is skipped after a failure. */
  standbyFailed: number;
}

export const MAX_LAG_LIMITS = { min: 50, max: 60_000 } as const;
/** The longest a standby connection or read may take before the primary answers instead. */
const MAX_TIMEOUT_MS = 1_000;
/** How long a start waits for a new store's tables to reach the standby. */
const START_WAIT_MS = 10_000;
/** The primary's position is noted at least this far apart. */
const MIN_POLL_MS = 10;
/** How the standby's connections name themselves (pg_stat_activity). */
export const STANDBY_APPLICATION_NAME = "openjpki-status-reads";
/** After a standby failure, how long reads go to the primary before it is tried again. */
const RETRY_AFTER_MS = 1_000;
/** Positions kept; the oldest one still recent enough is the one a standby read must reach. */
const POSITIONS_KEPT = 64;

/** A WAL position and the timeline it is on: positions compare only within one timeline. */
interface Position {
  lsn: bigint;
  timeline: number;
}

interface Noted extends Position {
  /** performance.now() when the primary was asked (its answer is at least as new as this instant). */
  askedAt: number;
}

/** What a standby must match, read from the primary at start. */
interface Identity {
  systemIdentifier: string;
  /** The OIDs of the tables the reads use, as the primary's search_path resolves them (a physical copy has the same). */
  tables: string;
}

interface IdentityRow {
  id: string;
  recovery: boolean;
  tables: string;
}

const IDENTITY_SQL =
  "select system_identifier::text as id, pg_is_in_recovery() as recovery, " +
  "concat_ws(',', to_regclass('certificates')::oid, to_regclass('revocation_versions')::oid) as tables from pg_control_system()";
/** The primary's insert position, and its WAL file name, which starts with the timeline the primary writes. */
const PRIMARY_POSITION_SQL = "select lsn::text, pg_walfile_name(lsn) as file from (select pg_current_wal_insert_lsn() as lsn) as position";
/** The replay position, and the timeline the standby streams (NULL when not streaming, or without pg_read_all_stats). */
const REPLAY_SQL = "select pg_last_wal_replay_lsn()::text as lsn, (select received_tli from pg_stat_wal_receiver where status = 'streaming') as tli";

export class ReplicaReads {
  readonly stats: ReplicaReadStats = { standby: 0, primary: 0, noRecentPosition: 0, standbyBehind: 0, standbyFailed: 0 };
  readonly #primary: Pool;
  readonly #standby: Pool;
  readonly #maxLagMs: number;
  readonly #pollMs: number;
  readonly #identity: Identity;
  /** XLOG_BLCKSZ and the WAL segment size, for positions just past a page header (see #reachable). */
  readonly #walBlock: bigint;
  readonly #walSegment: bigint;
  /** Standby connections checked to belong to the primary's cluster. */
  readonly #checked = new WeakSet<PoolClient>();
  /** Noted primary positions, oldest first. */
  #noted: Noted[] = [];
  /**
   * Standby reads must reach at least this (raised by each standby read's after-position, and by
   * the primary's position after each primary read). A position on a newer timeline replaces it.
   */
  #floor: Position = { lsn: 0n, timeline: 0 };
  /** performance.now() when the floor moved onto its timeline (see #poll: a primary back on an older one). */
  #floorTimelineSince = -Infinity;
  /** performance.now() after a primary read or revocation of this process whose position could not be read. */
  #primaryMark = -Infinity;
  /** This process's revocations whose primary position is still being read. */
  #pendingNotes = 0;
  #skipStandbyUntil = -Infinity;
  readonly #logFailure: ((line: string) => void) | undefined;
  #pollTimer: NodeJS.Timeout | undefined;
  #polling: Promise<void> | undefined;
  #closed = false;

  private constructor(primary: Pool, standby: Pool, identity: Identity, wal: { block: bigint; segment: bigint }, options: ReplicaReadOptions) {
    this.#primary = primary;
    this.#standby = standby;
    this.#identity = identity;
    this.#walBlock = wal.block;
    this.#walSegment = wal.segment;
    this.#maxLagMs = options.maxLagMs;
    this.#pollMs = Math.max(MIN_POLL_MS, Math.floor(options.maxLagMs / 5));
    this.#logFailure = options.log && rateLimitedLog(options.log);
  }

  /**
   * Start routing. The standby must answer now and be a standby of the primary's cluster (same
   * system identifier, in recovery): a wrong URL is an error at start, not a silent fallback.
   */
  static async open(primary: Pool, options: ReplicaReadOptions): Promise<ReplicaReads> {
    checkMaxLag(options.maxLagMs);
    const { default: pg } = await import("pg");
    const timeout = Math.min(options.maxLagMs, MAX_TIMEOUT_MS);
    const standby = new pg.Pool({
      connectionString: standbyUrl(options.replicaUrl, options.schema),
      max: 10,
      connectionTimeoutMillis: timeout,
      query_timeout: timeout,
      application_name: STANDBY_APPLICATION_NAME,
    });
    // An idle standby connection that breaks must not crash the process; the next read falls back.
    standby.on("error", () => {});
    try {
      const identity = (await primary.query<IdentityRow>(IDENTITY_SQL)).rows[0]!;
      const wal = (await primary.query<{ block: string; segment: string }>("select current_setting('wal_block_size') as block, (select setting from pg_settings where name = 'wal_segment_size') as segment")).rows[0]!;
      const startCheck = await standby.query<IdentityRow>(IDENTITY_SQL).catch((error: unknown) => {
        throw new StandbyRefused(`the PostgreSQL standby (OPENJPKI_DATABASE_REPLICA_URL) does not answer: ${(error as Error).message}`);
      });
      let row = startCheck.rows[0]!;
      // A store created just now (its migrations ran on the primary a moment ago) may not have
      // reached the standby yet: wait a little for its tables before calling them missing.
      for (let waited = 0; row.tables === "" && identity.tables !== "" && row.recovery && waited < START_WAIT_MS; waited += 50) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        row = (await standby.query<IdentityRow>(IDENTITY_SQL)).rows[0]!;
      }
      if (row.id !== identity.id) {
        throw new StandbyRefused(`the PostgreSQL standby (OPENJPKI_DATABASE_REPLICA_URL) is not a copy of the primary: system identifier ${row.id}, the primary's ${identity.id}`);
      }
      if (!row.recovery) throw new StandbyRefused("the PostgreSQL server named by OPENJPKI_DATABASE_REPLICA_URL is not a standby (it is not in recovery)");
      if (row.tables !== identity.tables) {
        throw new StandbyRefused(`the PostgreSQL standby (OPENJPKI_DATABASE_REPLICA_URL) resolves the store's tables to others than the primary (OIDs ${row.tables || "none"}, the primary's ${identity.tables}): give both the same schema (search_path)`);
      }
      const replay = (await standby.query<{ tli: number | null }>(REPLAY_SQL)).rows[0]!;
      if (replay.tli === null) {
        throw new StandbyRefused(
          "the PostgreSQL standby (OPENJPKI_DATABASE_REPLICA_URL) shows no streaming timeline (pg_stat_wal_receiver): it must stream from the primary, and its user needs pg_read_all_stats",
        );
      }
      const reads = new ReplicaReads(primary, standby, { systemIdentifier: identity.id, tables: identity.tables }, { block: BigInt(wal.block), segment: BigInt(wal.segment) }, options);
      await reads.#poll();
      reads.#schedulePoll();
      return reads;
    } catch (error) {
      await standby.end();
      throw error;
    }
  }

  /**
   * Rows of one read-only statement, from the standby when it qualifies, else from the primary,
   * and which answered. `sql` goes as text in one round trip with the positions around it, so it
   * must carry its values as literals the caller has validated.
   */
  async read<R>(sql: string): Promise<{ rows: R[]; from: "standby" | "primary" }> {
    const required = this.#requiredPosition();
    if (required !== undefined) {
      const rows = await this.#fromStandby<R>(sql, required);
      if (rows) {
        this.stats.standby += 1;
        return { rows, from: "standby" };
      }
    }
    return { rows: await this.readOnPrimary<R>(sql), from: "primary" };
  }

  /**
   * Rows of one read-only statement from the primary, whatever the standby could do, with the
   * floor raised as after every primary read (a standby read that follows must have replayed
   * what this one saw). For asking again what a standby did not know.
   */
  async readOnPrimary<R>(sql: string): Promise<R[]> {
    const rows = await this.#fromPrimary<R>(sql);
    this.stats.primary += 1;
    return rows;
  }

  /**
   * The primary's answer, with its insert position read after the statement (an upper bound of
   * what the statement saw) raised into the floor: the next standby reads must have replayed that
   * far. A position, not an instant: under steady load some primary read always ends after the
   * latest note, and "wait for a note after it" would keep every read on the primary.
   */
  async #fromPrimary<R>(sql: string): Promise<R[]> {
    const results = (await this.#primary.query(`${sql}; ${PRIMARY_POSITION_SQL}`)) as unknown as { rows: unknown[] }[];
    if (!Array.isArray(results) || results.length !== 2) throw new Error("the primary returned an unexpected number of results");
    this.#raiseFloor(primaryPositionOf(results[1]!.rows));
    return results[0]!.rows as R[];
  }

  /**
   * Raise the floor to a position; without one, wait for a note taken after now instead. A
   * position on a newer timeline than the floor's replaces it (after a failover, what the old
   * timeline's positions said no longer applies); one on an older timeline is ignored.
   */
  #raiseFloor(position: Position | undefined): void {
    if (position === undefined) this.#primaryMark = performance.now();
    else if (position.timeline > this.#floor.timeline) {
      this.#floor = position;
      this.#floorTimelineSince = performance.now();
    } else if (position.timeline === this.#floor.timeline && position.lsn > this.#floor.lsn) this.#floor = position;
  }

  /** The configured bound on how far behind the primary a standby read may be. */
  get maxLagMs(): number {
    return this.#maxLagMs;
  }

  /**
   * This process committed a revocation on the primary: standby reads go to the primary until
   * the primary's position after the commit is known, and then must have replayed that far.
   */
  noteRevocationCommitted(): void {
    this.#pendingNotes += 1;
    this.#primary
      .query(PRIMARY_POSITION_SQL)
      .then(({ rows }) => this.#raiseFloor(primaryPositionOf(rows)))
      .catch(() => this.#raiseFloor(undefined))
      .finally(() => (this.#pendingNotes -= 1));
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#pollTimer) clearTimeout(this.#pollTimer);
    await this.#polling?.catch(() => {});
    await this.#standby.end();
  }

  /** The position a standby read must reach now, or undefined when the read must go to the primary. */
  #requiredPosition(): { lsn: bigint; timeline: number } | undefined {
    const now = performance.now();
    if (now < this.#skipStandbyUntil) {
      this.stats.standbyFailed += 1;
      return undefined;
    }
    if (this.#pendingNotes > 0) {
      this.stats.noRecentPosition += 1;
      return undefined;
    }
    // The oldest noted position that is recent enough (and, rarely, noted after a primary read
    // whose position could not be read): the least a standby must have replayed.
    const earliest = Math.max(now - this.#maxLagMs, this.#primaryMark);
    const noted = this.#noted.find((n) => n.askedAt >= earliest);
    // A floor on a newer timeline than the notes (a primary read just after a failover, before
    // the monitor's next note): wait for a note on that timeline.
    if (!noted || this.#floor.timeline > noted.timeline) {
      this.stats.noRecentPosition += 1;
      return undefined;
    }
    return { lsn: this.#floor.timeline === noted.timeline && this.#floor.lsn > noted.lsn ? this.#floor.lsn : noted.lsn, timeline: noted.timeline };
  }

  async #fromStandby<R>(sql: string, required: { lsn: bigint; timeline: number }): Promise<R[] | undefined> {
    let client: PoolClient | undefined;
    try {
      client = await this.#standby.connect();
      if (!this.#checked.has(client)) {
        // A checked-out connection whose server goes away emits "error" besides failing its
        // query; unheard, that event would crash the process.
        client.on("error", () => {});
        await this.#check(client);
      }
      const results = (await client.query(`${REPLAY_SQL}; ${sql}; select pg_last_wal_replay_lsn()::text as lsn`)) as unknown as { rows: unknown[] }[];
      if (!Array.isArray(results) || results.length !== 3) throw new Error("the standby returned an unexpected number of results");
      const first = results[0]!.rows[0] as { lsn: string | null; tli: number | null } | undefined;
      const before = parseLsn(first?.lsn);
      const after = lsnOf(results[2]!.rows);
      client.release();
      client = undefined;
      if (before === undefined || after === undefined || first?.tli !== required.timeline || !this.#reachable(before, required.lsn)) {
        this.stats.standbyBehind += 1;
        return undefined;
      }
      this.#raiseFloor({ lsn: after, timeline: required.timeline });
      return results[1]!.rows as R[];
    } catch (error) {
      // Down, slow, or not what it should be: the primary answers until the standby is tried again.
      client?.release(true);
      this.#skipStandbyUntil = performance.now() + RETRY_AFTER_MS;
      this.stats.standbyFailed += 1;
      this.#logFailure?.(
        `PostgreSQL スタンバイから読めません。${RETRY_AFTER_MS / 1000} 秒はプライマリが答えます / a standby read failed, the primary answers for ${RETRY_AFTER_MS / 1000} s: ${error instanceof Error ? error.message : String(error)}`,
      );
      return undefined;
    }
  }

  /**
   * Whether a standby that has replayed to `replayed` holds everything up to the primary's
   * `required` insert position. On a page boundary the primary reports its insert position past
   * the new page's header (24 bytes; 40 at a segment's start) while the standby's replay stops at
   * the boundary, and no record ends inside a header, so those two are the same place.
   */
  #reachable(replayed: bigint, required: bigint): boolean {
    if (replayed >= required) return true;
    const header = required % this.#walSegment === 40n ? 40n : required % this.#walBlock === 24n ? 24n : 0n;
    return header > 0n && replayed >= required - header;
  }

  /** A connection (perhaps through a load balancer) must reach a standby of the primary's cluster, with the same tables. */
  async #check(client: PoolClient): Promise<void> {
    const { rows } = await client.query<IdentityRow>(IDENTITY_SQL);
    const row = rows[0];
    if (row?.id !== this.#identity.systemIdentifier || row.recovery !== true || row.tables !== this.#identity.tables) {
      throw new Error("not a standby of the primary's cluster, or other tables");
    }
    this.#checked.add(client);
  }

  async #poll(): Promise<void> {
    const askedAt = performance.now();
    const position = primaryPositionOf((await this.#primary.query(PRIMARY_POSITION_SQL)).rows);
    if (!position) throw new Error("the primary did not report its WAL position");
    // A failover: positions of the old timeline say nothing about the new one. (The floor is
    // left alone: a primary read may already have raised it onto the new timeline.)
    if (this.#noted.at(-1)?.timeline !== position.timeline) this.#noted = [];
    // The primary's address now reaches a server on an older timeline than the floor's, and this
    // was asked after the floor moved there: the newer timeline's server is no longer the primary
    // (the address moved back to the old primary, or to a restored cluster). What that server
    // showed says nothing about this history, and a floor left on its timeline would keep every
    // read on the primary until a restart; this primary's present position replaces it.
    // Positions of primary reads and of this node's revocations that ended while this poll ran
    // were ignored (an older timeline than the floor's): standby reads wait for the next note,
    // asked after now, which covers them.
    if (position.timeline < this.#floor.timeline && askedAt > this.#floorTimelineSince) {
      this.#floor = position;
      this.#floorTimelineSince = askedAt;
      this.#primaryMark = performance.now();
    }
    this.#noted.push({ askedAt, ...position });
    if (this.#noted.length > POSITIONS_KEPT) this.#noted.shift();
  }

  #schedulePoll(): void {
    if (this.#closed) return;
    this.#pollTimer = setTimeout(() => {
      // A failed note is only a missed one: reads fall back to the primary once the last one ages.
      this.#polling = this.#poll()
        .catch(() => {})
        .finally(() => {
          this.#polling = undefined;
          this.#schedulePoll();
        });
    }, this.#pollMs);
    this.#pollTimer.unref();
  }
}

/**
 * The standby's connection string with the session settings the rules need added to whatever
 * `options` it already has (node-postgres lets the URL's own `options` override a config field):
 * READ COMMITTED, so that each of the three statements of a read takes its own snapshot and the
 * first position read is a lower bound of the data statement's; and the primary's schema.
 */
export function standbyUrl(replicaUrl: string, schema: string | undefined): string {
  let url: URL;
  try {
    url = new URL(replicaUrl);
  } catch {
    throw new StandbyRefused("OPENJPKI_DATABASE_REPLICA_URL must be a postgres:// or postgresql:// URL");
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") throw new StandbyRefused("OPENJPKI_DATABASE_REPLICA_URL must be a postgres:// or postgresql:// URL");
  const settings = [url.searchParams.get("options"), "-c default_transaction_isolation=read\\ committed", schema ? `-c search_path=${schema}` : undefined];
  url.searchParams.set("options", settings.filter(Boolean).join(" "));
  return url.toString();
}

/** A standby refused at start (OPENJPKI_DATABASE_REPLICA_URL): the message says what is wrong with it. */
export class StandbyRefused extends Error {
  override readonly name = "StandbyRefused";
}

/** The allowed range of OPENJPKI_DATABASE_REPLICA_MAX_LAG_MS, checked with a message that names it. */
export function checkMaxLag(maxLagMs: number): void {
  if (!Number.isInteger(maxLagMs) || maxLagMs < MAX_LAG_LIMITS.min || maxLagMs > MAX_LAG_LIMITS.max) {
    throw new RangeError(`OPENJPKI_DATABASE_REPLICA_MAX_LAG_MS must be a whole number of milliseconds from ${MAX_LAG_LIMITS.min} to ${MAX_LAG_LIMITS.max}, not ${maxLagMs}`);
  }
}

function lsnOf(rows: unknown[]): bigint | undefined {
  return parseLsn((rows[0] as { lsn?: string | null } | undefined)?.lsn);
}

/** The row of PRIMARY_POSITION_SQL as a position; undefined if it is not what the primary should say. */
function primaryPositionOf(rows: unknown[]): Position | undefined {
  const row = rows[0] as { lsn?: string | null; file?: string | null } | undefined;
  const lsn = parseLsn(row?.lsn);
  const timeline = /^[0-9A-F]{24}$/i.test(row?.file ?? "") ? Number.parseInt(row!.file!.slice(0, 8), 16) : Number.NaN;
  return lsn === undefined || !(timeline >= 1) ? undefined : { lsn, timeline };
}

/** A pg_lsn's text form `XXXXXXXX/XXXXXXXX` as a number; undefined for NULL (not in recovery) or anything else. */
export function parseLsn(text: string | null | undefined): bigint | undefined {
  const match = /^([0-9A-F]{1,8})\/([0-9A-F]{1,8})$/i.exec(text ?? "");
  if (!match) return undefined;
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`);
}
