/**
 * The durable store of pre-signed OCSP answers (table `ocsp_responses`): one answer per
 * certificate, for the RFC 5019 request form (SHA-1 CertID, no nonce), with the certificate
 * state it was signed for. An answer is kept as its signed part and signature (about 0.5 KB);
 * the responder certificate (about 1 KB, outside the signature) is put back when it is served.
 * Same queries on SQLite and PostgreSQL.
 */
import type { Kysely } from "kysely";
import type { CaType } from "../pki/jpki-profile.ts";
import type { SignedOcspResponseParts } from "../pki/ocsp.ts";
import { bytes, type CertificateStatusRow } from "../store/database.ts";
import type { Database, OcspResponseTable } from "../store/schema.ts";

export interface StoredOcspResponse {
  type: CaType;
  serialHex: string;
  /** The certificate state key the answer was signed for (see ocsp-state.ts). */
  state: string;
  /** The responder certificate generation that signed it. */
  generation: number;
  thisUpdate: Date;
  nextUpdate: Date;
  /** The signed answer without the responder certificate (ocspResponseFromParts puts it back). */
  parts: SignedOcspResponseParts;
}

/** A certificate the refresher looks at: its current status, and what the store holds for it. */
export interface RefreshCandidate {
  serialHex: string;
  status: CertificateStatusRow;
  stored?: { state: string; generation: number; nextUpdate: Date };
}

/** Rows per INSERT: 8 parameters each, well under SQLite's (32,766) and PostgreSQL's (65,535) limits. */
const ROWS_PER_STATEMENT = 500;

export class OcspResponseStore {
  constructor(private readonly db: Kysely<Database>) {}

  /** The stored answer for one certificate, if any (whatever its state or age: the caller decides). */
  async get(type: CaType, serialHex: string): Promise<StoredOcspResponse | undefined> {
    const row = await this.db
      .selectFrom("ocsp_responses")
      .selectAll()
      .where("ca_type", "=", type)
      .where("serial_hex", "=", serialHex)
      .executeTakeFirst();
    return row && fromRow(row);
  }

  /**
   * Write answers in one transaction (one durable commit: SQLite syncs its WAL, PostgreSQL its
   * log), replacing what was stored for the same certificates. Either all are stored or none.
   */
  async putMany(responses: readonly StoredOcspResponse[]): Promise<void> {
    if (responses.length === 0) return;
    await this.db.transaction().execute(async (trx) => {
      for (let i = 0; i < responses.length; i += ROWS_PER_STATEMENT) {
        await trx
          .insertInto("ocsp_responses")
          .values(responses.slice(i, i + ROWS_PER_STATEMENT).map(toRow))
          .onConflict((oc) =>
            oc.columns(["ca_type", "serial_hex"]).doUpdateSet((eb) => ({
              state: eb.ref("excluded.state"),
              responder_generation: eb.ref("excluded.responder_generation"),
              this_update: eb.ref("excluded.this_update"),
              next_update: eb.ref("excluded.next_update"),
              tbs: eb.ref("excluded.tbs"),
              signature: eb.ref("excluded.signature"),
            })),
          )
          .execute();
      }
    });
  }

  /**
   * One page of the CA's certificates not expired at `notExpiredAt`, in serial order after
   * `after`, each with its current status and its stored answer's state, generation and
   * nextUpdate (the refresher decides which are due). Keyset paging keeps memory bounded.
   */
  async candidates(type: CaType, options: { after: string; limit: number; notExpiredAt: Date }): Promise<RefreshCandidate[]> {
    const rows = await this.db
      .selectFrom("certificates as c")
      .leftJoin("ocsp_responses as r", (join) => join.onRef("r.ca_type", "=", "c.ca_type").onRef("r.serial_hex", "=", "c.serial_hex"))
      .select(["c.serial_hex", "c.status", "c.revoked_at", "c.revocation_reason", "r.state", "r.responder_generation", "r.next_update"])
      .where("c.ca_type", "=", type)
      .where("c.serial_hex", ">", options.after)
      .where("c.not_after", ">", options.notExpiredAt.toISOString())
      .orderBy("c.serial_hex")
      .limit(options.limit)
      .execute();
    return rows.map((row) => ({
      serialHex: row.serial_hex,
      status: { status: row.status, revoked_at: row.revoked_at, revocation_reason: row.revocation_reason },
      ...(row.state !== null && row.responder_generation !== null && row.next_update !== null
        ? { stored: { state: row.state, generation: Number(row.responder_generation), nextUpdate: new Date(row.next_update) } }
        : {}),
    }));
  }

  /** How many of the CA's certificates are not expired at `at` (the refresher's total, for progress). */
  async countCertificates(type: CaType, at: Date): Promise<number> {
    const row = await this.db
      .selectFrom("certificates")
      .select((eb) => eb.fn.countAll<number | string>().as("n"))
      .where("ca_type", "=", type)
      .where("not_after", ">", at.toISOString())
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }
}

function toRow(r: StoredOcspResponse): OcspResponseTable {
  return {
    ca_type: r.type,
    serial_hex: r.serialHex,
    state: r.state,
    responder_generation: r.generation,
    this_update: r.thisUpdate.toISOString(),
    next_update: r.nextUpdate.toISOString(),
    tbs: r.parts.tbs,
    signature: r.parts.signature,
  };
}

function fromRow(row: OcspResponseTable): StoredOcspResponse {
  return {
    type: row.ca_type,
    serialHex: row.serial_hex,
    state: row.state,
    generation: Number(row.responder_generation),
    thisUpdate: new Date(row.this_update),
    nextUpdate: new Date(row.next_update),
    parts: { tbs: bytes(row.tbs), signature: bytes(row.signature) },
  };
}
