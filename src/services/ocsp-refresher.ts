/**
 * Batch pre-signing of OCSP answers into the durable response store.
 *
 * One run walks a CA's unexpired certificates in serial order (keyset pages) and signs an answer
 * for each one that is due: no stored answer, an answer signed for another state (revoked since),
 * by another responder generation, or whose nextUpdate falls within the refresh window.
 *
 * - Signatures run on libuv's thread pool (the responder's Signer), many in flight, so both cores
 *   sign while the main thread encodes, reads pages and writes batches.
 * - Answers are written in batches, one transaction (one durable commit) each.
 * - Memory is bounded: one page of candidates, the signatures in flight and at most two batches.
 * - A crash loses at most the batches not yet committed: the next run finds the committed ones
 *   fresh and skips them, so it resumes where the last commit left off.
 */
import type { CaType } from "../pki/jpki-profile.ts";
import type { SignedOcspResponseParts } from "../pki/ocsp.ts";
import type { OcspPreSigner, OcspResponder } from "./ocsp-responder.ts";
import type { RefreshCandidate, StoredOcspResponse } from "./ocsp-response-store.ts";
import { certificateState } from "./ocsp-state.ts";

export interface RefreshOptions {
  type: CaType;
  /** Re-sign answers whose nextUpdate is less than this far ahead (milliseconds). */
  withinMs: number;
  /** Answers per durable write. Default 1,000. */
  batchSize?: number;
  /** Signatures in flight. Default 1,024: the thread pool keeps signing while a batch commits (the commit blocks the main thread for tens of milliseconds on SQLite). */
  inFlight?: number;
  /** Certificates read per page. Default 2,000. */
  pageSize?: number;
  /** Called after each page of certificates and each committed batch. */
  onProgress?: (progress: RefreshProgress) => void;
  /** Stop taking certificates: the signatures in flight are finished and committed, and the run resolves with `stopped`. */
  signal?: AbortSignal;
}

export interface RefreshProgress {
  type: CaType;
  /** Certificates looked at so far. */
  scanned: number;
  /** Answers signed and committed so far. */
  written: number;
  /** Certificates whose stored answer was still good. */
  fresh: number;
}

export interface RefreshSummary extends RefreshProgress {
  /** Durable writes (transactions). */
  batches: number;
  seconds: number;
  /** thisUpdate of the first answers this run signed, and nextUpdate of the last (each page is signed at its own time). */
  thisUpdate: Date;
  nextUpdate: Date;
  /** Set when the run was stopped through `signal` before it finished. */
  stopped: boolean;
}

export class OcspRefresher {
  constructor(private readonly responder: OcspResponder) {}

  /** Sign and store every due answer of one CA. */
  async refresh(options: RefreshOptions): Promise<RefreshSummary> {
    const t0 = performance.now();
    const pageSize = options.pageSize ?? 2000;
    const store = this.responder.responses;
    const progress: RefreshProgress = { type: options.type, scanned: 0, written: 0, fresh: 0 };
    const writer = new BatchWriter<StoredOcspResponse>(options.batchSize ?? 1000, (rows) => store.putMany(rows), (count) => {
      progress.written += count;
      options.onProgress?.({ ...progress });
    });
    const slots = new Slots(options.inFlight ?? 1024);
    let failure: unknown;

    // A run over millions of certificates takes hours: each page gets a signer (and "now") of its
    // own, so answers carry the time they were signed, and a responder rollover mid-run is followed.
    const first = await this.responder.preSigner(options.type);
    let signer = first;
    let after = "";
    let stopped = false;
    scan: for (;;) {
      if (after !== "") signer = await this.responder.preSigner(options.type);
      const refreshBefore = signer.thisUpdate.getTime() + options.withinMs;
      const page = await store.candidates(options.type, { after, limit: pageSize, notExpiredAt: signer.thisUpdate });
      for (const candidate of page) {
        progress.scanned++;
        const state = certificateState(candidate.status);
        if (!isDue(candidate, state.key, signer.generation, refreshBefore)) {
          progress.fresh++;
          continue;
        }
        await slots.acquire();
        await writer.waitIfBehind();
        if (failure !== undefined || writer.failure !== undefined) {
          slots.release();
          break scan;
        }
        if (options.signal?.aborted) {
          slots.release();
          stopped = true;
          break scan;
        }
        const by = signer;
        by.sign(candidate.serialHex, state).then(
          (parts) => writer.add(answerRow(by, candidate.serialHex, state.key, parts)),
          (error: unknown) => void (failure ??= error),
        ).finally(() => slots.release());
      }
      options.onProgress?.({ ...progress });
      if (page.length < pageSize) break;
      after = page[page.length - 1]!.serialHex;
    }
    await slots.drain();
    await writer.close();
    if (failure !== undefined) throw failure;
    if (writer.failure !== undefined) throw writer.failure;
    return {
      ...progress,
      batches: writer.batches,
      seconds: (performance.now() - t0) / 1000,
      thisUpdate: first.thisUpdate,
      nextUpdate: signer.nextUpdate,
      stopped,
    };
  }
}

/** At most `limit` operations at once: acquire() waits for a free slot. One waiter (the scan loop). */
class Slots {
  #used = 0;
  #freed: (() => void) | undefined;

  constructor(private readonly limit: number) {}

  async acquire(): Promise<void> {
    while (this.#used >= this.limit) await new Promise<void>((resolve) => (this.#freed = resolve));
    this.#used++;
  }

  release(): void {
    this.#used--;
    const freed = this.#freed;
    this.#freed = undefined;
    freed?.();
  }

  /** Wait until every slot is free again. */
  async drain(): Promise<void> {
    while (this.#used > 0) await new Promise<void>((resolve) => (this.#freed = resolve));
  }
}

/**
 * Collects rows and writes them in batches of `size`, one write at a time, in order. After a
 * failed write nothing more is written; the failure is kept for the caller to throw.
 */
class BatchWriter<T> {
  batches = 0;
  failure: unknown;
  #rows: T[] = [];
  #chain: Promise<void> = Promise.resolve();
  #queued = 0;

  constructor(
    private readonly size: number,
    private readonly write: (rows: T[]) => Promise<void>,
    private readonly committed: (count: number) => void,
  ) {}

  add(row: T): void {
    this.#rows.push(row);
    if (this.#rows.length >= this.size) this.#flush();
  }

  /** Back-pressure: wait while two batches are waiting to be written (bounds memory). */
  async waitIfBehind(): Promise<void> {
    while (this.#queued >= 2) await this.#chain;
  }

  /** Write what is left and wait for every write. */
  async close(): Promise<void> {
    if (this.#rows.length > 0) this.#flush();
    await this.#chain;
  }

  #flush(): void {
    const rows = this.#rows;
    this.#rows = [];
    this.#queued++;
    this.#chain = this.#chain
      .then(async () => {
        if (this.failure !== undefined) return;
        await this.write(rows);
        this.batches++;
        this.committed(rows.length);
      })
      .catch((error: unknown) => void (this.failure ??= error))
      .finally(() => void this.#queued--);
  }
}

/** Whether a certificate needs a new answer: none stored, or for another state or responder, or expiring within the window. */
function isDue(candidate: RefreshCandidate, stateKey: string, generation: number, refreshBefore: number): boolean {
  const stored = candidate.stored;
  return !stored || stored.state !== stateKey || stored.generation !== generation || stored.nextUpdate.getTime() <= refreshBefore;
}

function answerRow(signer: OcspPreSigner, serialHex: string, state: string, parts: SignedOcspResponseParts): StoredOcspResponse {
  return { type: signer.type, serialHex, state, generation: signer.generation, thisUpdate: signer.thisUpdate, nextUpdate: signer.nextUpdate, parts };
}
