import type { Kysely } from "kysely";
import type { CertificateTable, Database } from "../store/schema.ts";
import type { RevocationReason } from "../rules/revocation.ts";
import type { CaType } from "../pki/jpki-profile.ts";
import { ServiceError } from "./errors.ts";

/** Who or what caused a revocation, kept with the record (issue: registry event, counter, hotline). */
export type RevocationCause = `registry:${string}` | "counter" | "hotline" | "operator" | `renewal:${string}`;

export interface RevocationRequest {
  type: CaType;
  serialHex: string;
  reason: RevocationReason;
  at: Date;
  invalidityDate?: Date;
  by: RevocationCause;
}

export interface RevocationOutcome {
  type: CaType;
  serialHex: string;
  status: "revoked" | "hold";
  reason: RevocationReason;
  revokedAt: string;
}

/**
 * Apply one revocation to a certificate record, inside the caller's transaction.
 *
 * A hold (certificateHold) is a status of its own; a held certificate can later be revoked
 * with a final reason but never released (J-LIS practice). The revocation time of a held
 * certificate stays the time of the hold, so signatures made while the card was missing stay
 * suspect. A revoked certificate stays revoked: a second revocation is a conflict.
 */
export async function applyRevocation(db: Kysely<Database>, request: RevocationRequest): Promise<RevocationOutcome> {
  const serialHex = request.serialHex.toUpperCase();
  const row = await db
    .selectFrom("certificates")
    .select(["status", "revoked_at", "revocation_reason"])
    .where("ca_type", "=", request.type)
    .where("serial_hex", "=", serialHex)
    .executeTakeFirst();
  if (!row) throw new ServiceError("not-found", `no ${request.type} certificate with serial ${serialHex}`, "serial");
  if (row.status === "revoked") {
    throw new ServiceError("conflict", `${request.type} certificate ${serialHex} is already revoked (${row.revocation_reason})`, "serial");
  }
  if (row.status === "hold" && request.reason === "certificateHold") {
    throw new ServiceError("conflict", `${request.type} certificate ${serialHex} is already on hold`, "serial");
  }
  const status: CertificateTable["status"] = request.reason === "certificateHold" ? "hold" : "revoked";
  const revokedAt = row.status === "hold" && row.revoked_at ? row.revoked_at : wholeSeconds(request.at).toISOString();
  const updated = await db
    .updateTable("certificates")
    .set({
      status,
      revoked_at: revokedAt,
      revocation_reason: request.reason,
      invalidity_date: request.invalidityDate ? wholeSeconds(request.invalidityDate).toISOString() : null,
      revoked_by: request.by,
    })
    .where("ca_type", "=", request.type)
    .where("serial_hex", "=", serialHex)
    // Optimistic check: a concurrent revocation of the same certificate makes this match nothing.
    .where("status", "=", row.status)
    .executeTakeFirst();
  if (Number(updated.numUpdatedRows) !== 1) {
    throw new ServiceError("conflict", `${request.type} certificate ${serialHex} changed while being revoked; try again`, "serial");
  }
  return { type: request.type, serialHex, status, reason: request.reason, revokedAt };
}

/** The holder's certificates of `type` that an event can still act on (valid, or on hold). */
export async function actionableCertificates(
  db: Kysely<Database>,
  residentId: string,
  type: CaType,
  statuses: CertificateTable["status"][],
): Promise<{ serialHex: string; status: CertificateTable["status"] }[]> {
  const rows = await db
    .selectFrom("certificates")
    .select(["serial_hex", "status"])
    .where("resident_id", "=", residentId)
    .where("ca_type", "=", type)
    .where("status", "in", statuses)
    .execute();
  return rows.map((r) => ({ serialHex: r.serial_hex, status: r.status }));
}

function wholeSeconds(date: Date): Date {
  return new Date(Math.floor(date.getTime() / 1000) * 1000);
}
