/**
 * Tells the OCSP responder cheaply whether any certificate's status may have changed.
 *
 * Every revocation bumps its CA's row in `revocation_versions` in the same transaction as the
 * status change (src/services/revocation.ts; the CRL cache relies on the same rule). If a CA's
 * version is the same as when a cached answer's state was last read from its certificate row,
 * no status of that CA has changed since, so the answer still holds without reading the row again.
 *
 * The versions are read once for all the requests that arrived before the read started: callers
 * in the same turn of the event loop share one read, made after all of them asked, so each of
 * them sees every revocation committed before its own request came in. A read never starts
 * before a caller asks: one already running is not joined (it may predate the caller).
 */
import type { CaType } from "../pki/jpki-profile.ts";
import type { Store } from "../store/database.ts";

export type RevocationVersions = Readonly<Record<CaType, number>>;

interface Waiting {
  promise: Promise<RevocationVersions>;
  resolve(versions: RevocationVersions): void;
  reject(error: unknown): void;
}

export class RevocationWatch {
  /** Callers waiting for a read that has not started yet. */
  #waiting: Waiting | undefined;
  #reading = false;

  constructor(private readonly store: Pick<Store, "revocationVersions">) {}

  /** The CAs' revocation versions, read after this call. */
  current(): Promise<RevocationVersions> {
    if (!this.#waiting) {
      let resolve!: Waiting["resolve"];
      let reject!: Waiting["reject"];
      const promise = new Promise<RevocationVersions>((res, rej) => ((resolve = res), (reject = rej)));
      this.#waiting = { promise, resolve, reject };
      if (!this.#reading) setImmediate(() => void this.read());
    }
    return this.#waiting.promise;
  }

  private async read(): Promise<void> {
    const waiting = this.#waiting;
    this.#waiting = undefined;
    if (!waiting) return;
    this.#reading = true;
    try {
      // Committed data only, read past the query builder (and its lock on SQLite's one writing
      // connection, which a commit in progress holds): this runs once per event-loop turn.
      const rows = await this.store.revocationVersions();
      const versions = { sign: 0, auth: 0 };
      for (const row of rows) versions[row.ca_type] = Number(row.version);
      waiting.resolve(versions);
    } catch (error) {
      waiting.reject(error);
    } finally {
      this.#reading = false;
      // Callers that came while this read ran get a read of their own.
      if (this.#waiting) setImmediate(() => void this.read());
    }
  }
}
