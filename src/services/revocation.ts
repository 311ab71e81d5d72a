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
  await bumpRevocationVersion(db, request.type);
  return { type: request.type, serialHex, status, reason: request.reason, revokedAt };
}

/** Every revocation bumps its CA's version in the same transaction; caches compare against it. */
async function bumpRevocationVersion(db: Kysely<Database>, type: CaType): Promise<void> {
  await db
    .insertInto("revocation_versions")
    .values({ ca_type: type, version: 1 })
    .onConflict((oc) => oc.column("ca_type").doUpdateSet((eb) => ({ version: eb("revocation_versions.version", "+", 1) })))
    .execute();
}

export async function revocationVersion(db: Kysely<Database>, type: CaType): Promise<number> {
  const row = await db.selectFrom("revocation_versions").select("version").where("ca_type", "=", type).executeTakeFirst();
  return row ? Number(row.version) : 0;
}

export interface RevokedEntry {
  serialHex: string;
  revokedAt: string;
  reason: RevocationReason;
  invalidityDate: string | null;
}

/**
 * The revoked and held certificates of one CA (optionally one municipality's partition) that
 * have not expired at `at`, read in keyset pages so memory stays bounded for millions of rows.
 * Yields whole pages: a CRL of millions of entries should not pay for one await per entry.
 */
export async function* revokedEntryPages(
  db: Kysely<Database>,
  type: CaType,
  options: { municipality?: string; at: Date; pageSize?: number },
): AsyncGenerator<RevokedEntry[]> {
  const pageSize = options.pageSize ?? 20_000;
  const notExpired = options.at.toISOString();
  let after = "";
  for (;;) {
    let query = db
      .selectFrom("certificates")
      .select(["serial_hex", "revoked_at", "revocation_reason", "invalidity_date"])
      .where("ca_type", "=", type)
      .where("status", "in", ["revoked", "hold"])
      .where("not_after", ">=", notExpired)
      .where("serial_hex", ">", after)
      .orderBy("serial_hex")
      .limit(pageSize);
    if (options.municipality) query = query.where("municipality_code", "=", options.municipality);
    const rows = await query.execute();
    if (rows.length > 0) {
      yield rows.map((row) => ({
        serialHex: row.serial_hex,
        revokedAt: row.revoked_at!,
        reason: row.revocation_reason as RevocationReason,
        invalidityDate: row.invalidity_date,
      }));
    }
    if (rows.length < pageSize) return;
    after = rows[rows.length - 1]!.serial_hex;
  }
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
