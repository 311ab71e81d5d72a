import { randomInt } from "node:crypto";
import { sql, type Kysely } from "kysely";
import type { CertificateTable, Database } from "../store/schema.ts";
import type { Dialect } from "../store/database.ts";
import type { RevocationReason } from "../rules/revocation.ts";
import type { CaType } from "../pki/jpki-profile.ts";
import { countEncodedCrlEntries, encodeRecordedRevocation } from "../pki/crl.ts";
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
 *
 * The certificate's CRL entry is encoded here, once, and kept in `crl_entries` in the same
 * transaction, so a CRL build copies stored bytes instead of encoding every entry again.
 */
export async function applyRevocation(db: Kysely<Database>, request: RevocationRequest): Promise<RevocationOutcome> {
  const serialHex = request.serialHex.toUpperCase();
  // RFC 5280 §5.3.2: when the key became, or is suspected to have become, compromised — a time
  // already past. A later one would tell relying parties to trust signatures made after it is known.
  if (request.invalidityDate && request.invalidityDate.getTime() > request.at.getTime()) {
    throw new ServiceError(
      "invalid-input",
      `invalidityDate: 無効になった日時 ${request.invalidityDate.toISOString()} が失効の日時（${request.at.toISOString()}）より後です。過去の日時を指定してください / invalidityDate ${request.invalidityDate.toISOString()} is after the revocation (${request.at.toISOString()}): it must be a time already past`,
      "invalidityDate",
    );
  }
  const row = await db
    .selectFrom("certificates")
    .select(["status", "revoked_at", "revocation_reason", "municipality_code", "not_after"])
    .where("ca_type", "=", request.type)
    .where("serial_hex", "=", serialHex)
    .executeTakeFirst();
  if (!row) throw new ServiceError("not-found", `serial: シリアル番号 ${serialHex} の証明書（${request.type}）はありません / no ${request.type} certificate with serial ${serialHex}`, "serial");
  if (row.status === "revoked") {
    throw new ServiceError("conflict", `証明書（${request.type}）${serialHex} はすでに失効しています（${row.revocation_reason}）/ ${request.type} certificate ${serialHex} is already revoked (${row.revocation_reason})`, "serial", { reason: "already-revoked" });
  }
  if (row.status === "hold" && request.reason === "certificateHold") {
    throw new ServiceError("conflict", `証明書（${request.type}）${serialHex} はすでに一時保留中です / ${request.type} certificate ${serialHex} is already on hold`, "serial", { reason: "already-on-hold" });
  }
  const status: CertificateTable["status"] = request.reason === "certificateHold" ? "hold" : "revoked";
  const revokedAt = row.status === "hold" && row.revoked_at ? row.revoked_at : wholeSeconds(request.at).toISOString();
  const invalidityDate = request.invalidityDate ? wholeSeconds(request.invalidityDate).toISOString() : null;
  const updated = await db
    .updateTable("certificates")
    .set({
      status,
      revoked_at: revokedAt,
      revocation_reason: request.reason,
      invalidity_date: invalidityDate,
      revoked_by: request.by,
    })
    .where("ca_type", "=", request.type)
    .where("serial_hex", "=", serialHex)
    // Optimistic check: a concurrent revocation of the same certificate makes this match nothing.
    .where("status", "=", row.status)
    .executeTakeFirst();
  if (Number(updated.numUpdatedRows) !== 1) {
    throw new ServiceError("conflict", `証明書（${request.type}）${serialHex} の状態が失効の処理中に変わりました。やり直してください / ${request.type} certificate ${serialHex} changed while being revoked; try again`, "serial", { reason: "changed-meanwhile" });
  }
  const entry = encodeRecordedRevocation({ serialHex, revokedAt, reason: request.reason, invalidityDate });
  await db
    .insertInto("crl_entries")
    .values({ ca_type: request.type, serial_hex: serialHex, municipality_code: row.municipality_code, not_after: row.not_after, entry })
    // A hold later made final replaces the hold's entry (same revocation time, the final reason).
    .onConflict((oc) => oc.columns(["ca_type", "serial_hex"]).doUpdateSet({ entry }))
    .execute();
  await bumpRevocationVersion(db, request.type);
  return { type: request.type, serialHex, status, reason: request.reason, revokedAt };
}

/**
 * Every revocation moves its CA's version in the same transaction; caches compare against it for
 * equality only. It only ever grows, so a "good" cached under an old version can never look
 * current again. It grows by a random step, not by one: a failover that loses the last committed
 * revocations (asynchronous replication) would otherwise hand the next revocation on the new
 * primary the number a responder already saw with a lost one, and that responder's cached
 * "good" for the newly revoked certificate would still look current. With steps below 2^24 that
 * takes a one-in-16-million coincidence per failover, and the version stays an exact JavaScript
 * number (below 2^53, a bigint column on PostgreSQL) for 2^29 ≈ 540 million revocations.
 */
async function bumpRevocationVersion(db: Kysely<Database>, type: CaType): Promise<void> {
  const step = randomInt(1, MAX_STEP);
  await db
    .insertInto("revocation_versions")
    .values({ ca_type: type, version: step })
    .onConflict((oc) => oc.column("ca_type").doUpdateSet({ version: sql<number>`revocation_versions.version + ${step}` }))
    .execute();
}
const MAX_STEP = 2 ** 24;

export async function revocationVersion(db: Kysely<Database>, type: CaType): Promise<number> {
  const row = await db.selectFrom("revocation_versions").select("version").where("ca_type", "=", type).executeTakeFirst();
  return row ? Number(row.version) : 0;
}

/**
 * The pre-encoded CRL entries of one CA (or of one municipality's partition) whose certificates
 * have not expired at `at`, in serial order, as runs of DER: one run per page of the store.
 *
 * Each page is concatenated by the database itself (`string_agg`/`group_concat` over the page,
 * in serial order), so a CRL of millions of entries costs one row and one Buffer per page here,
 * not an object, a string and a Buffer per entry; keyset paging keeps memory to one page and lets
 * other statements (revocations) run between pages. The database also reports the page's entry
 * count and byte total; a page whose bytes or entries do not add up is refused, so a damaged row
 * fails the build instead of being published.
 */
export async function* crlEntryRuns(
  db: Kysely<Database>,
  type: CaType,
  options: { dialect: Dialect; municipality?: string; at: Date; pageSize?: number },
): AsyncGenerator<Uint8Array> {
  const pageSize = options.pageSize ?? 20_000;
  if (!Number.isSafeInteger(pageSize) || pageSize < 1) throw new RangeError("pageSize must be a positive integer");
  const notExpired = options.at.toISOString();
  // The two back ends spell byte concatenation differently.
  const postgres = options.dialect === "postgres";
  let after = "";
  for (;;) {
    const page = sql`select serial_hex, entry from crl_entries
      where ca_type = ${type} ${options.municipality === undefined ? sql`` : sql`and municipality_code = ${options.municipality}`}
        and serial_hex > ${after} and not_after >= ${notExpired}
      order by serial_hex limit ${pageSize}`;
    // The aggregate's own ORDER BY is what both databases document as fixing the order.
    const query = postgres
      ? sql<PageRow>`select string_agg(entry, ''::bytea order by serial_hex) as entries, max(serial_hex) as last,
          count(*)::integer as n, coalesce(sum(octet_length(entry)), 0)::integer as bytes from (${page}) as page`
      : sql<PageRow>`select cast(group_concat(entry, x'' order by serial_hex) as blob) as entries, max(serial_hex) as last,
          count(*) as n, coalesce(sum(length(entry)), 0) as bytes from (${page})`;
    const row = (await query.execute(db)).rows[0];
    const n = Number(row?.n ?? 0);
    if (!row || n === 0) return;
    const entries = row.entries;
    if (!(entries instanceof Uint8Array) || entries.length !== Number(row.bytes) || row.last === null || countEncodedCrlEntries(entries) !== n) {
      throw new TypeError(`the CRL entries of ${type} after serial ${after || "(start)"} did not come back whole from the store`);
    }
    yield new Uint8Array(entries.buffer, entries.byteOffset, entries.byteLength);
    if (n < pageSize) return;
    after = row.last;
  }
}

interface PageRow {
  entries: Uint8Array | null;
  last: string | null;
  n: number | string;
  bytes: number | string;
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
