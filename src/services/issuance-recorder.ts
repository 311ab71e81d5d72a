/**
 * Group commit for issued certificates. Each issuance hands its certificate row and audit
 * record to `record()`, which resolves only once a transaction holding them has committed, so
 * no certificate leaves the CA unrecorded. Concurrent issuances share transactions: while one
 * batch commits, the next ones queue, and the next batch takes up to `maxBatch` of them — one
 * durable commit (one fsync on SQLite) and one audit-head update per batch instead of per
 * certificate. Issuances announce themselves when they start (`announce()`); a batch about to
 * commit waits for the announced ones still reading or signing, at most `maxWaitMs`, so that
 * concurrent issuances share one commit rather than queue behind each other's. A lone issuance
 * is committed at once.
 *
 * The register entry a certificate was built from must still be current when it is recorded:
 * the batch reads the residents again inside its transaction (on PostgreSQL with FOR SHARE, so
 * a concurrent move or death either waits for the batch — and then revokes what it recorded —
 * or commits first and is seen here), and refuses the entries whose resident changed.
 *
 * A request id a client gave is recorded in the same transaction, first come first served
 * (ON CONFLICT DO NOTHING, which on PostgreSQL waits for a concurrent holder of the id to
 * commit or roll back); a certificate whose id was taken is refused, not recorded.
 *
 * A batch that fails is replayed one entry per transaction, so a bad row (a colliding serial,
 * say) fails only its own caller, with the database's error, which the CA retries.
 */
import { sql, type Kysely } from "kysely";
import type { CertificateTable, Database, IssuanceRequestIdTable, ResidentTable } from "../store/schema.ts";
import type { Dialect } from "../store/database.ts";
import { appendAuditRecords, type AuditAppend } from "./audit.ts";
import type { Resident } from "./registry.ts";

export interface IssuanceRecord {
  row: CertificateTable;
  /** The certificate itself, recorded apart from its row (certificate_der) in the same transaction. */
  der: Uint8Array;
  audit: AuditAppend;
  /** The register entry as read when the certificate was built. */
  resident: ResidentSnapshot;
  /** The client's id for the request, recorded with the certificate; if already taken, nothing is recorded. */
  requestId?: IssuanceRequestIdTable;
}

/** The register fields a certificate is built from: its personal data, CRL partition and validity. */
export interface ResidentSnapshot {
  id: string;
  name: string;
  nameSubstitutes: string;
  birth: string;
  gender: string;
  address: string;
  addressSubstitutes: string;
  municipalityCode: string;
  residenceEnd: string | null;
  guardianship: boolean;
  /** registered, or emigrated with continued use (the CA refuses the rest). */
  status: string;
}

export function residentSnapshot(resident: Resident): ResidentSnapshot {
  return {
    id: resident.id,
    name: resident.name,
    nameSubstitutes: resident.nameSubstitutes,
    birth: resident.birth,
    gender: resident.gender,
    address: resident.address,
    addressSubstitutes: resident.addressSubstitutes,
    municipalityCode: resident.municipality.code,
    residenceEnd: resident.residenceEnd,
    guardianship: resident.guardianship,
    status: resident.status,
  };
}

const SNAPSHOT_COLUMNS = [
  "id",
  "status",
  "name",
  "name_substitutes",
  "birth",
  "gender",
  "address",
  "address_substitutes",
  "municipality_code",
  "residence_end",
  "guardianship",
] as const;

/** In the same standing (registered, or abroad with continued use), with exactly the fields the certificate was built from (compared by value: timestamps can repeat). */
function unchanged(row: Pick<ResidentTable, (typeof SNAPSHOT_COLUMNS)[number]> | undefined, was: ResidentSnapshot): boolean {
  return (
    row !== undefined &&
    row.status === was.status &&
    row.name === was.name &&
    row.name_substitutes === was.nameSubstitutes &&
    row.birth === was.birth &&
    row.gender === was.gender &&
    row.address === was.address &&
    row.address_substitutes === was.addressSubstitutes &&
    row.municipality_code === was.municipalityCode &&
    (row.residence_end ?? null) === was.residenceEnd &&
    (Number(row.guardianship) === 1) === was.guardianship
  );
}

/** The resident's register entry changed (or ended) between building the certificate and recording it. */
export class ResidentChangedError extends Error {
  override readonly name = "ResidentChangedError";
}

/** The client's request id was recorded (by another attempt of the same request) first: this certificate was not. */
export class RequestIdTakenError extends Error {
  override readonly name = "RequestIdTakenError";
  constructor(readonly clientId: string, readonly requestId: string) {
    super(`request id ${requestId} of issuance client ${clientId} was recorded by another request first`);
  }
}

export interface IssuanceRecorderOptions {
  dialect: Dialect;
  /** Most certificates per transaction (17 parameters each in one INSERT). */
  maxBatch?: number;
  /** Longest a ready batch waits for announced issuances to join it. */
  maxWaitMs?: number;
}

export const DEFAULT_MAX_BATCH = 128;
export const DEFAULT_MAX_WAIT_MS = 2;

/** An announced issuance: record its certificate once built and signed, or cancel if it never will be. */
export interface PendingIssuance {
  record(record: IssuanceRecord): Promise<void>;
  /** Nothing will be recorded (refused, failed); a no-op after record(). */
  cancel(): void;
}

interface Waiting {
  record: IssuanceRecord;
  resolve: () => void;
  reject: (error: unknown) => void;
}

export class IssuanceRecorder {
  readonly #db: Kysely<Database>;
  readonly #dialect: Dialect;
  readonly #maxBatch: number;
  readonly #maxWaitMs: number;
  #queue: Waiting[] = [];
  #draining = false;
  /** Announced issuances not yet handed to record() nor cancelled. */
  #announced = 0;
  /** Called whenever an announced issuance arrives or cancels (while a batch is gathering). */
  #onArrival: (() => void) | undefined;
  /** Batch sizes committed so far (for diagnostics and tests). */
  readonly stats = { batches: 0, records: 0, largestBatch: 0 };

  constructor(db: Kysely<Database>, options: IssuanceRecorderOptions) {
    const maxBatch = options.maxBatch ?? DEFAULT_MAX_BATCH;
    const maxWaitMs = options.maxWaitMs ?? DEFAULT_MAX_WAIT_MS;
    if (!Number.isInteger(maxBatch) || maxBatch < 1 || maxBatch > 1000) throw new RangeError(`maxBatch must be 1 to 1000, not ${maxBatch}`);
    if (!(maxWaitMs >= 0 && maxWaitMs <= 1000)) throw new RangeError(`maxWaitMs must be 0 to 1000, not ${maxWaitMs}`);
    this.#db = db;
    this.#dialect = options.dialect;
    this.#maxBatch = maxBatch;
    this.#maxWaitMs = maxWaitMs;
  }

  /** Announce an issuance that has started: batches about to commit wait (briefly) for it. */
  announce(): PendingIssuance {
    this.#announced++;
    let open = true;
    const settle = () => {
      if (!open) return;
      open = false;
      this.#announced--;
      this.#onArrival?.();
    };
    return {
      record: (record) => {
        const committed = this.record(record);
        settle();
        return committed;
      },
      cancel: settle,
    };
  }

  /** Resolves when the record is committed; rejects with ResidentChangedError or the store's error. */
  record(record: IssuanceRecord): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ record, resolve, reject });
      if (!this.#draining) void this.#drain();
      else this.#onArrival?.(); // a gathering batch may be full now
    });
  }

  /** Until every announced issuance has arrived, the batch is full, or maxWaitMs has passed. */
  #gather(): Promise<void> {
    const ready = () => this.#announced === 0 || this.#queue.length >= this.#maxBatch;
    if (ready() || this.#maxWaitMs === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#onArrival = undefined;
        resolve();
      };
      const timer = setTimeout(done, this.#maxWaitMs);
      this.#onArrival = () => {
        if (ready()) done();
      };
    });
  }

  async #drain(): Promise<void> {
    this.#draining = true;
    try {
      for (;;) {
        // Let the event loop run first: issuances whose signatures have just come back from the
        // thread pool join this batch. (On SQLite a transaction runs without yielding to the event
        // loop, so without this every batch would hold one certificate.)
        await new Promise((resolve) => setImmediate(resolve));
        if (this.#queue.length === 0) break;
        await this.#gather();
        await this.#commit(this.#queue.splice(0, this.#maxBatch));
      }
    } finally {
      this.#draining = false;
    }
  }

  async #commit(batch: Waiting[]): Promise<void> {
    let refused: Map<number, Error>;
    try {
      refused = await this.#write(batch.map((w) => w.record));
    } catch (error) {
      if (batch.length === 1) return batch[0]!.reject(error);
      for (const one of batch) await this.#commit([one]);
      return;
    }
    this.stats.batches++;
    this.stats.records += batch.length - refused.size;
    this.stats.largestBatch = Math.max(this.stats.largestBatch, batch.length);
    batch.forEach((w, i) => {
      const refusal = refused.get(i);
      if (refusal) w.reject(refusal);
      else w.resolve();
    });
  }

  /** One transaction: check the residents, claim the request ids, insert the accepted rows, chain their audit records. Returns why each refused index was. */
  async #write(records: IssuanceRecord[]): Promise<Map<number, Error>> {
    return this.#db.transaction().execute(async (trx) => {
      const ids = [...new Set(records.map((r) => r.resident.id))];
      const residents = trx.selectFrom("residents").select(SNAPSHOT_COLUMNS);
      const query =
        this.#dialect === "postgres"
          ? // One array parameter: the same statement text whatever the batch size, so it is
            // prepared once per connection (an IN list would be a new text for every size).
            residents.where(sql<boolean>`${sql.ref("residents.id")} = any(${ids}::text[])`).forShare()
          : residents.where("id", "in", ids);
      const current = new Map((await query.execute()).map((r) => [r.id, r]));
      const refused = new Map<number, Error>();
      records.forEach((r, i) => {
        if (!unchanged(current.get(r.resident.id), r.resident)) {
          refused.set(i, new ResidentChangedError(`the register entry of ${r.resident.id} changed while its certificate was being issued`));
        }
      });
      await claimRequestIds(trx, records, refused);
      const accepted = records.filter((_, i) => !refused.has(i));
      if (accepted.length > 0) {
        await trx.insertInto("certificates").values(accepted.map((r) => r.row)).execute();
        await trx
          .insertInto("certificate_der")
          .values(accepted.map((r) => ({ ca_type: r.row.ca_type, serial_hex: r.row.serial_hex, der: r.der })))
          .execute();
        await appendAuditRecords(trx, accepted.map((r) => r.audit));
      }
      return refused;
    });
  }
}

/** Record the request ids of the records not yet refused; refuse the records whose id another request holds. */
async function claimRequestIds(trx: Kysely<Database>, records: IssuanceRecord[], refused: Map<number, Error>): Promise<void> {
  const claiming = records.flatMap((r, i) => (r.requestId && !refused.has(i) ? [{ i, id: r.requestId }] : []));
  if (claiming.length === 0) return;
  const claimed = await trx
    .insertInto("issuance_request_ids")
    .values(claiming.map((c) => c.id))
    .onConflict((oc) => oc.columns(["client_id", "request_id"]).doNothing())
    .returning(["client_id", "request_id", "serial_hex"])
    .execute();
  // Keyed by serial too: two records of one batch with the same id both reach the insert, and only one row comes back.
  const won = new Set(claimed.map((c) => `${c.client_id}\n${c.request_id}\n${c.serial_hex}`));
  for (const { i, id } of claiming) {
    if (!won.has(`${id.client_id}\n${id.request_id}\n${id.serial_hex}`)) refused.set(i, new RequestIdTakenError(id.client_id, id.request_id));
  }
}
