import { createHash } from "node:crypto";
import { sql, type Kysely, type Migration, type MigrationProvider } from "kysely";
import type { Dialect } from "./database.ts";
import { residentSearchText } from "./resident-search.ts";

/**
 * Versioned migrations, in code so they ship with the package. DDL differs by dialect
 * only in column types (blob/bytea, autoincrement/identity); each migration takes the
 * dialect and the same schema results on both.
 *
 * kysely runs the pending migrations and its records of them in one transaction, on SQLite as on
 * PostgreSQL (src/store/database.ts, TransactionalDdlSqliteAdapter): a crash midway leaves the
 * store as it was. So a migration works on the `db` it is given and opens no transaction of its
 * own (kysely refuses one inside another).
 */
/**
 * Data migrations that need encoding the store does not own (DER is `pki`'s job, and only
 * `services` combines the two) are handed their encoders by the caller.
 */
export interface MigrationEncoders {
  /** The DER revokedCertificates entry of a recorded revocation (0014 backfills them). */
  crlEntry(revocation: { serialHex: string; revokedAt: string; reason: string; invalidityDate: string | null }): Uint8Array;
}

function migrations(dialect: Dialect, encoders: MigrationEncoders | undefined): Record<string, Migration> {
  const binary = dialect === "postgres" ? "bytea" : "blob";
  return {
    "0001-foundation": {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable("authorities")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("ca_type", "text", (c) => c.notNull())
          .addColumn("generation", "integer", (c) => c.notNull())
          .addColumn("certificate_der", sql.raw(binary), (c) => c.notNull())
          .addColumn("private_key_pem", "text", (c) => c.notNull())
          .addColumn("not_after", "text", (c) => c.notNull())
          .addColumn("created_at", "text", (c) => c.notNull())
          .addColumn("active", "integer", (c) => c.notNull())
          .addUniqueConstraint("authorities_type_generation", ["ca_type", "generation"])
          .execute();

        await db.schema
          .createTable("municipalities")
          .addColumn("code", "text", (c) => c.primaryKey())
          .addColumn("prefecture_ja", "text", (c) => c.notNull())
          .addColumn("prefecture_romaji", "text", (c) => c.notNull())
          .addColumn("city_ja", "text", (c) => c.notNull())
          .addColumn("city_romaji", "text", (c) => c.notNull())
          .execute();

        await db.schema
          .createTable("residents")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("name", "text", (c) => c.notNull())
          .addColumn("name_substitutes", "text", (c) => c.notNull())
          .addColumn("birth", "text", (c) => c.notNull())
          .addColumn("gender", "text", (c) => c.notNull())
          .addColumn("address", "text", (c) => c.notNull())
          .addColumn("address_substitutes", "text", (c) => c.notNull())
          .addColumn("municipality_code", "text", (c) => c.notNull().references("municipalities.code"))
          .addColumn("nationality", "text", (c) => c.notNull())
          .addColumn("residence_end", "text")
          .addColumn("guardianship", "integer", (c) => c.notNull())
          .addColumn("status", "text", (c) => c.notNull())
          .addColumn("created_at", "text", (c) => c.notNull())
          .addColumn("updated_at", "text", (c) => c.notNull())
          .execute();
        await db.schema.createIndex("residents_municipality").on("residents").column("municipality_code").execute();

        await db.schema
          .createTable("certificates")
          .addColumn("ca_type", "text", (c) => c.notNull())
          .addColumn("serial_hex", "text", (c) => c.notNull())
          .addColumn("authority_id", "text", (c) => c.notNull().references("authorities.id"))
          .addColumn("resident_id", "text", (c) => c.notNull().references("residents.id"))
          .addColumn("card_id", "text")
          .addColumn("subject_cn", "text", (c) => c.notNull())
          .addColumn("municipality_code", "text", (c) => c.notNull())
          .addColumn("not_before", "text", (c) => c.notNull())
          .addColumn("not_after", "text", (c) => c.notNull())
          .addColumn("expires", "text", (c) => c.notNull())
          .addColumn("issued_at", "text", (c) => c.notNull())
          .addColumn("der", sql.raw(binary), (c) => c.notNull())
          .addColumn("status", "text", (c) => c.notNull())
          .addColumn("revoked_at", "text")
          .addColumn("revocation_reason", "text")
          .addColumn("invalidity_date", "text")
          .addColumn("revoked_by", "text")
          .addPrimaryKeyConstraint("certificates_pk", ["ca_type", "serial_hex"])
          .addUniqueConstraint("certificates_subject_cn", ["ca_type", "subject_cn"])
          .execute();
        await db.schema.createIndex("certificates_resident").on("certificates").columns(["resident_id", "ca_type"]).execute();
        await db.schema
          .createIndex("certificates_revoked")
          .on("certificates")
          .columns(["ca_type", "municipality_code", "status"])
          .execute();
      },
    },
    "0002-registry-events-and-crl-numbers": {
      async up(db: Kysely<any>) {
        // Each register event is recorded once; the revocations it caused point back to it.
        await db.schema
          .createTable("registry_events")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("resident_id", "text", (c) => c.notNull().references("residents.id"))
          .addColumn("kind", "text", (c) => c.notNull())
          .addColumn("detail", "text", (c) => c.notNull())
          .addColumn("effective_date", "text", (c) => c.notNull())
          .addColumn("recorded_at", "text", (c) => c.notNull())
          .execute();
        await db.schema.createIndex("registry_events_resident").on("registry_events").column("resident_id").execute();
        // CRL numbers must increase per CRL scope (the full CRL and each municipality partition).
        await db.schema
          .createTable("crl_numbers")
          .addColumn("ca_type", "text", (c) => c.notNull())
          .addColumn("scope", "text", (c) => c.notNull())
          .addColumn("last_number", "integer", (c) => c.notNull())
          .addPrimaryKeyConstraint("crl_numbers_pk", ["ca_type", "scope"])
          .execute();
      },
    },
    "0003-status-services": {
      async up(db: Kysely<any>) {
        // Bumped in the transaction of every revocation, so a CRL cached by any process knows it is stale.
        await db.schema
          .createTable("revocation_versions")
          .addColumn("ca_type", "text", (c) => c.primaryKey())
          .addColumn("version", "integer", (c) => c.notNull())
          .execute();
        await db.schema
          .createTable("ocsp_responders")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("ca_type", "text", (c) => c.notNull())
          .addColumn("generation", "integer", (c) => c.notNull())
          .addColumn("certificate_der", sql.raw(binary), (c) => c.notNull())
          .addColumn("private_key_pem", "text", (c) => c.notNull())
          .addColumn("not_after", "text", (c) => c.notNull())
          .addColumn("created_at", "text", (c) => c.notNull())
          .addUniqueConstraint("ocsp_responders_type_generation", ["ca_type", "generation"])
          .execute();
        await db.schema
          .createTable("verifiers")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("name", "text", (c) => c.notNull())
          .addColumn("key_hash", "text", (c) => c.notNull().unique())
          .addColumn("created_at", "text", (c) => c.notNull())
          .addColumn("active", "integer", (c) => c.notNull())
          .execute();
        // Lookups counted per verifier, certificate type, kind (ocsp/crl) and JST month.
        await db.schema
          .createTable("verifier_lookups")
          .addColumn("verifier_id", "text", (c) => c.notNull().references("verifiers.id"))
          .addColumn("ca_type", "text", (c) => c.notNull())
          .addColumn("kind", "text", (c) => c.notNull())
          .addColumn("month", "text", (c) => c.notNull())
          .addColumn("count", "integer", (c) => c.notNull())
          .addPrimaryKeyConstraint("verifier_lookups_pk", ["verifier_id", "ca_type", "kind", "month"])
          .execute();
      },
    },
    "0004-audit-trail": {
      async up(db: Kysely<any>) {
        // A hash chain: each record's hash covers its content and the previous record's hash.
        await db.schema
          .createTable("audit_log")
          .addColumn("seq", "integer", (c) => c.primaryKey())
          .addColumn("at", "text", (c) => c.notNull())
          .addColumn("actor", "text", (c) => c.notNull())
          .addColumn("office", "text")
          .addColumn("terminal", "text")
          .addColumn("action", "text", (c) => c.notNull())
          .addColumn("subject", "text", (c) => c.notNull())
          .addColumn("before", "text")
          .addColumn("after", "text")
          .addColumn("prev_hash", "text", (c) => c.notNull())
          .addColumn("hash", "text", (c) => c.notNull())
          .execute();
        // The chain's head, one row: appending locks it, so concurrent writers queue up, and
        // verification compares it with the last record (a removed tail shows).
        await db.schema
          .createTable("audit_head")
          .addColumn("id", "integer", (c) => c.primaryKey())
          .addColumn("seq", "integer", (c) => c.notNull())
          .addColumn("hash", "text", (c) => c.notNull())
          .execute();
      },
    },
    "0005-cards-and-terminals": {
      async up(db: Kysely<any>) {
        // The terminal CA and the terminals (counter, kiosk) whose keys it certified. Cards
        // trust the terminal CA's key from manufacture; keys are encrypted like the CA keys.
        await db.schema
          .createTable("terminal_keys")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("role", "text", (c) => c.notNull())
          .addColumn("office", "text")
          .addColumn("certificate_der", sql.raw(binary), (c) => c.notNull())
          .addColumn("private_key_pem", "text", (c) => c.notNull())
          .addColumn("created_at", "text", (c) => c.notNull())
          .execute();
        // Cards as the issuing side knows them; the chip itself lives in its own directory.
        await db.schema
          .createTable("cards")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("resident_id", "text", (c) => c.notNull().references("residents.id"))
          .addColumn("status", "text", (c) => c.notNull())
          .addColumn("produced_date", "text", (c) => c.notNull())
          .addColumn("expires", "text", (c) => c.notNull())
          .addColumn("handed_over_date", "text")
          .addColumn("created_at", "text", (c) => c.notNull())
          .addColumn("updated_at", "text", (c) => c.notNull())
          .execute();
        await db.schema.createIndex("cards_resident").on("cards").column("resident_id").execute();
      },
    },
    "0006-certificate-use": {
      async up(db: Kysely<any>) {
        // One-time challenges for card logins, kiosk sessions and app reservations.
        await db.schema
          .createTable("challenges")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("purpose", "text", (c) => c.notNull())
          .addColumn("challenge", "text", (c) => c.notNull())
          .addColumn("created_at", "text", (c) => c.notNull())
          .addColumn("expires_at", "text", (c) => c.notNull())
          .addColumn("used_at", "text")
          .execute();
        await db.schema
          .createTable("portal_sessions")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("serial_hex", "text", (c) => c.notNull())
          .addColumn("subject_cn", "text", (c) => c.notNull())
          .addColumn("created_at", "text", (c) => c.notNull())
          .addColumn("expires_at", "text", (c) => c.notNull())
          .execute();
        // JPKI暗証番号リセット: a reservation made in the app, used at a kiosk within 24 hours.
        await db.schema
          .createTable("pin_reset_reservations")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("target", "text", (c) => c.notNull())
          .addColumn("ca_type", "text", (c) => c.notNull())
          .addColumn("serial_hex", "text", (c) => c.notNull())
          .addColumn("created_at", "text", (c) => c.notNull())
          .addColumn("expires_at", "text", (c) => c.notNull())
          .addColumn("used_at", "text")
          .execute();
        await db.schema.createIndex("pin_reset_by_certificate").on("pin_reset_reservations").columns(["ca_type", "serial_hex"]).execute();
        // コンビニ交付: each document issued at a kiosk, with its fee.
        await db.schema
          .createTable("kiosk_issuances")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("resident_id", "text", (c) => c.notNull().references("residents.id"))
          .addColumn("municipality_code", "text", (c) => c.notNull())
          .addColumn("document", "text", (c) => c.notNull())
          .addColumn("fee_yen", "integer", (c) => c.notNull())
          .addColumn("kiosk", "text", (c) => c.notNull())
          .addColumn("verification_code", "text", (c) => c.notNull())
          .addColumn("pdf_sha256", "text", (c) => c.notNull())
          .addColumn("issued_at", "text", (c) => c.notNull())
          .execute();
      },
    },
    "0007-openid-connect": {
      async up(db: Kysely<any>) {
        // oidc-provider's stored models (sessions, codes, grants, clients, …) as JSON.
        await db.schema
          .createTable("oidc_payloads")
          .addColumn("model", "text", (c) => c.notNull())
          .addColumn("id", "text", (c) => c.notNull())
          .addColumn("payload", "text", (c) => c.notNull())
          .addColumn("grant_id", "text")
          .addColumn("user_code", "text")
          .addColumn("uid", "text")
          .addColumn("expires_at", "text")
          .addColumn("consumed_at", "text")
          .addPrimaryKeyConstraint("oidc_payloads_pk", ["model", "id"])
          .execute();
        await db.schema.createIndex("oidc_payloads_grant").on("oidc_payloads").column("grant_id").execute();
        await db.schema.createIndex("oidc_payloads_uid").on("oidc_payloads").column("uid").execute();
        // Server secrets that are not CA keys (OIDC signing key — encrypted —, cookie keys, subject salt).
        await db.schema
          .createTable("server_secrets")
          .addColumn("name", "text", (c) => c.primaryKey())
          .addColumn("value", "text", (c) => c.notNull())
          .addColumn("created_at", "text", (c) => c.notNull())
          .execute();
      },
    },
    "0008-filings": {
      async up(db: Kysely<any>) {
        // The e-Tax-style demo relying party: each submitted filing with what the verifier saw.
        await db.schema
          .createTable("filings")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("format", "text", (c) => c.notNull())
          .addColumn("document", sql.raw(binary), (c) => c.notNull())
          .addColumn("status", "text", (c) => c.notNull())
          .addColumn("reason", "text")
          .addColumn("signer_serial", "text")
          .addColumn("verification", "text", (c) => c.notNull())
          .addColumn("submitted_at", "text", (c) => c.notNull())
          .execute();
      },
    },
    "0009-counter": {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable("offices")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("municipality_code", "text", (c) => c.notNull().references("municipalities.code"))
          .addColumn("name_ja", "text", (c) => c.notNull())
          .addColumn("name_en", "text", (c) => c.notNull())
          .addColumn("address", "text")
          .addColumn("phone", "text")
          .addColumn("hours", "text")
          .execute();
        await db.schema
          .createTable("staff")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("login", "text", (c) => c.notNull().unique())
          .addColumn("name", "text", (c) => c.notNull())
          .addColumn("office_id", "text", (c) => c.notNull().references("offices.id"))
          .addColumn("role", "text", (c) => c.notNull())
          .addColumn("password_hash", "text", (c) => c.notNull())
          .addColumn("active", "integer", (c) => c.notNull())
          .addColumn("created_at", "text", (c) => c.notNull())
          .execute();
        await db.schema
          .createTable("staff_sessions")
          .addColumn("id_hash", "text", (c) => c.primaryKey())
          .addColumn("staff_id", "text", (c) => c.notNull().references("staff.id"))
          .addColumn("csrf_token", "text", (c) => c.notNull())
          .addColumn("created_at", "text", (c) => c.notNull())
          .addColumn("expires_at", "text", (c) => c.notNull())
          .execute();
        await db.schema
          .createTable("login_throttle")
          .addColumn("login", "text", (c) => c.primaryKey())
          .addColumn("failures", "integer", (c) => c.notNull())
          .addColumn("first_failure_at", "text", (c) => c.notNull())
          .addColumn("locked_until", "text")
          .execute();
        // Window procedures as applications with a state, one row each; steps go to the audit trail.
        await db.schema
          .createTable("applications")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("kind", "text", (c) => c.notNull())
          .addColumn("resident_id", "text", (c) => c.notNull().references("residents.id"))
          .addColumn("card_id", "text")
          .addColumn("office_id", "text")
          .addColumn("state", "text", (c) => c.notNull())
          .addColumn("detail", "text", (c) => c.notNull())
          .addColumn("fee_yen", "integer", (c) => c.notNull())
          .addColumn("created_by", "text", (c) => c.notNull())
          .addColumn("created_at", "text", (c) => c.notNull())
          .addColumn("updated_at", "text", (c) => c.notNull())
          .execute();
        await db.schema.createIndex("applications_resident").on("applications").column("resident_id").execute();
        // A card being worked on is claimed, so two clerks cannot run conflicting procedures at once.
        await db.schema.alterTable("cards").addColumn("busy_until", "text").execute();
        await db.schema.alterTable("cards").addColumn("busy_with", "text").execute();
      },
    },
    "0010-counter-proxy-fees": {
      async up(db: Kysely<any>) {
        // The proxy (代理人) two-visit procedure: one row per application waiting for the 照会書兼回答書.
        await db.schema
          .createTable("proxy_applications")
          .addColumn("application_id", "text", (c) => c.primaryKey().references("applications.id"))
          .addColumn("proxy_type", "text", (c) => c.notNull())
          .addColumn("letter_of_attorney", "integer", (c) => c.notNull())
          .addColumn("proxy_name", "text", (c) => c.notNull())
          .addColumn("proxy_relationship", "text", (c) => c.notNull())
          .addColumn("request", "text", (c) => c.notNull())
          .addColumn("answer_code_hash", "text", (c) => c.notNull())
          .addColumn("attempts", "integer", (c) => c.notNull())
          .addColumn("started_on", "text", (c) => c.notNull())
          .addColumn("expires_on", "text", (c) => c.notNull())
          .addColumn("proxy_identity", "text")
          .addColumn("completed_at", "text")
          .execute();
        // Fees, one row per charged (or free) procedure, by office and Japan date.
        await db.schema
          .createTable("fee_records")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("application_id", "text", (c) => c.notNull().references("applications.id"))
          .addColumn("office_id", "text")
          .addColumn("fee_date", "text", (c) => c.notNull())
          .addColumn("kind", "text", (c) => c.notNull())
          .addColumn("reason", "text", (c) => c.notNull())
          .addColumn("card_yen", "integer", (c) => c.notNull())
          .addColumn("certificates_yen", "integer", (c) => c.notNull())
          .addColumn("amount_yen", "integer", (c) => c.notNull())
          .addColumn("recorded_by", "text", (c) => c.notNull())
          .addColumn("recorded_at", "text", (c) => c.notNull())
          .execute();
        await db.schema.createIndex("fee_records_date_office").on("fee_records").columns(["fee_date", "office_id"]).execute();
        // A reissued card names the card it replaces; a replaced card can no longer have its suspension lifted.
        await db.schema.alterTable("cards").addColumn("replaces_card_id", "text").execute();
        await db.schema.alterTable("cards").addColumn("suspended_at", "text").execute();
        await db.schema.createIndex("certificates_expires").on("certificates").columns(["status", "expires"]).execute();
      },
    },
    "0011-pins-at-handover": {
      async up(db: Kysely<any>) {
        // A card produced without PINs: the resident sets them at the counter when it is handed over.
        await db.schema.alterTable("cards").addColumn("pins_pending", "integer").execute();
      },
    },
    "0012-crl-partition-index": {
      async up(db: Kysely<any>) {
        // A municipality's CRL reads only its revoked rows, in serial order, from this index
        // (without it SQLite walks every certificate of the CA to produce the order).
        await sql`create index certificates_revoked_by_municipality on certificates (ca_type, municipality_code, serial_hex) where status in ('revoked', 'hold')`.execute(db);
        await sql`create index certificates_revoked_by_serial on certificates (ca_type, serial_hex) where status in ('revoked', 'hold')`.execute(db);
      },
    },
    "0013-issuance-clients": {
      async up(db: Kysely<any>) {
        // Municipal systems allowed to issue certificates over the API, each for the residents
        // of one municipality. Only the SHA-256 of a client's API key is kept.
        await db.schema
          .createTable("issuance_clients")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("name", "text", (c) => c.notNull())
          .addColumn("municipality_code", "text", (c) => c.notNull().references("municipalities.code"))
          .addColumn("key_hash", "text", (c) => c.notNull().unique())
          .addColumn("created_at", "text", (c) => c.notNull())
          .addColumn("active", "integer", (c) => c.notNull())
          .execute();
      },
    },
    "0014-crl-entries": {
      async up(db: Kysely<any>) {
        // Each revoked or held certificate's CRL entry, pre-encoded (src/services/revocation.ts
        // writes it with the revocation), so a CRL build is a copy in serial order. On SQLite the
        // table is clustered by its key (the full CRL is one sequential read) and the partition
        // index carries the entry (a municipality's CRL never visits the table).
        await db.schema
          .createTable("crl_entries")
          .addColumn("ca_type", "text", (c) => c.notNull())
          .addColumn("serial_hex", "text", (c) => c.notNull())
          .addColumn("municipality_code", "text", (c) => c.notNull())
          .addColumn("not_after", "text", (c) => c.notNull())
          .addColumn("entry", sql.raw(binary), (c) => c.notNull())
          .addPrimaryKeyConstraint("crl_entries_pk", ["ca_type", "serial_hex"])
          .$call((table) => (dialect === "sqlite" ? table.modifyEnd(sql`without rowid`) : table))
          .execute();
        await db.schema
          .createIndex("crl_entries_by_municipality")
          .on("crl_entries")
          .columns(["ca_type", "municipality_code", "serial_hex", "not_after", "entry"])
          .execute();
        await backfillCrlEntries(db, encoders);
      },
    },
    "0015-ocsp-responses": {
      async up(db: Kysely<any>) {
        // Pre-signed OCSP answers, one per certificate, kept across restarts. `state` is the
        // certificate state an answer was signed for: the responder compares it with the
        // state it reads on every request, so an answer signed for "good" is never served
        // after a revocation. Only the signed part and the signature are kept (~0.5 KB): the
        // responder certificate (~1 KB, outside the signature) is put back when serving.
        await db.schema
          .createTable("ocsp_responses")
          .addColumn("ca_type", "text", (c) => c.notNull())
          .addColumn("serial_hex", "text", (c) => c.notNull())
          .addColumn("state", "text", (c) => c.notNull())
          .addColumn("responder_generation", "integer", (c) => c.notNull())
          .addColumn("this_update", "text", (c) => c.notNull())
          .addColumn("next_update", "text", (c) => c.notNull())
          .addColumn("tbs", sql.raw(binary), (c) => c.notNull())
          .addColumn("signature", sql.raw(binary), (c) => c.notNull())
          .addPrimaryKeyConstraint("ocsp_responses_pk", ["ca_type", "serial_hex"])
          .execute();
      },
    },
    "0016-certificate-der": {
      async up(db: Kysely<any>) {
        // The DER (≈1.6 KB) moves out of the certificate row (≈0.4 KB): status lookups, CRL and
        // OCSP work scan and cache only the hot rows, and at 200 M certificates those are ≈85 GB
        // instead of ≈415 GB (docs/scale.md §3.4). The DER is read by primary key alone
        // (downloads, a holder's view). Both are written in the issuance's one transaction.
        // Not left to TOAST: PostgreSQL only moves values out of rows over ≈2 KB, which many
        // certificate rows are not, and SQLite has no such thing.
        // A crash between the three steps leaves no half-split store: the migrations run in a
        // transaction on both dialects (src/store/database.ts, TransactionalDdlSqliteAdapter).
        await db.schema
          .createTable("certificate_der")
          .addColumn("ca_type", "text", (c) => c.notNull())
          .addColumn("serial_hex", "text", (c) => c.notNull())
          .addColumn("der", sql.raw(binary), (c) => c.notNull())
          .addPrimaryKeyConstraint("certificate_der_pk", ["ca_type", "serial_hex"])
          .execute();
        await sql`insert into certificate_der (ca_type, serial_hex, der) select ca_type, serial_hex, der from certificates`.execute(db);
        await db.schema.alterTable("certificates").dropColumn("der").execute();
      },
    },
    "0017-revocation-version-bigint": {
      async up(db: Kysely<any>) {
        // Versions grow by random steps (src/services/revocation.ts), past a 32-bit integer.
        // SQLite's integers are 64-bit already; PostgreSQL returns bigint as text, read with Number().
        if (dialect === "postgres") await sql`alter table revocation_versions alter column version type bigint`.execute(db);
      },
    },
    "0018-bounded-challenges-and-refusals": {
      async up(db: Kysely<any>) {
        // Expired challenges are deleted as new ones are issued (src/services/challenges.ts): by
        // expiry, so the delete reads only the rows it removes.
        // A refused filing keeps no document, only the size and SHA-256 of what was received
        // (src/services/filings.ts); the refusals stored before lose their bodies here.
        // In the migrations' transaction on both dialects (see 0016): never left half done.
        await db.schema.createIndex("challenges_expires").on("challenges").column("expires_at").execute();
        await db.schema.alterTable("filings").addColumn("received_bytes", "integer").execute();
        await db.schema.alterTable("filings").addColumn("received_sha256", "text").execute();
        await backfillFilingDigests(db);
      },
    },
    "0019-oidc-payloads-expiry": {
      async up(db: Kysely<any>) {
        // Expired OIDC rows are deleted as new ones are stored (src/services/oidc.ts), by expiry.
        await db.schema.createIndex("oidc_payloads_expires").on("oidc_payloads").column("expires_at").execute();
      },
    },
    "0020-crl-number-version": {
      async up(db: Kysely<any>) {
        // The revocation version a scope's last numbered CRL was read up to (src/services/crl-publisher.ts):
        // a CRL read from an older state may not take a higher number.
        await db.schema
          .alterTable("crl_numbers")
          .addColumn("last_version", dialect === "postgres" ? "bigint" : "integer", (c) => c.notNull().defaultTo(0))
          .execute();
      },
    },
    "0021-issuance-request-ids": {
      async up(db: Kysely<any>) {
        // A client's id for each request that carried one (src/services/issuance-requests.ts),
        // written in the certificate's own transaction: a request retried after a lost answer
        // gets the certificate already issued, not a second one. Kept 30 days and deleted by age
        // through the index (368 B a row with its indexes on PostgreSQL, UUID ids; docs/scale.md §3.2).
        await db.schema
          .createTable("issuance_request_ids")
          .addColumn("client_id", "text", (c) => c.notNull())
          .addColumn("request_id", "text", (c) => c.notNull())
          .addColumn("ca_type", "text", (c) => c.notNull())
          .addColumn("serial_hex", "text", (c) => c.notNull())
          .addColumn("request_sha256", "text", (c) => c.notNull())
          .addColumn("created_at", "text", (c) => c.notNull())
          .addPrimaryKeyConstraint("issuance_request_ids_pk", ["client_id", "request_id"])
          .execute();
        await db.schema.createIndex("issuance_request_ids_created").on("issuance_request_ids").column("created_at").execute();
      },
    },
    "0022-departures": {
      async up(db: Kysely<any>) {
        // An emigration is filed before the day of departure and takes effect on it
        // (src/services/register-events.ts): the entry stays registered until then. The
        // departures due are found through a partial index that holds only the pending ones.
        await db.schema.alterTable("residents").addColumn("departure_date", "text").execute();
        await db.schema.alterTable("residents").addColumn("continued_use", "integer", (c) => c.notNull().defaultTo(0)).execute();
        await db.schema.alterTable("residents").addColumn("abroad_address", "text").execute();
        await sql`create index residents_departures_pending on residents (departure_date) where status = 'registered' and departure_date is not null`.execute(db);
        // Emigrations recorded before this migration took effect on the day they were filed.
        await sql`update residents set departure_date = (select max(effective_date) from registry_events e where e.resident_id = residents.id and e.kind = 'emigration') where status = 'emigrated'`.execute(db);
        await sql`update residents set continued_use = 1 where status = 'emigrated' and id in (select resident_id from registry_events where kind = 'emigration' and detail like '%"continuedUse":true%')`.execute(db);
        // A card dies with the register entry (src/services/register-events.ts invalidateCards): so
        // far such cards stayed active.
        await sql`update cards set status = 'invalid' where status in ('active', 'suspended') and resident_id in (select id from residents where status = 'deceased' or (status = 'emigrated' and continued_use = 0))`.execute(db);
      },
    },
    "0023-verifier-lookups-bigint": {
      async up(db: Kysely<any>) {
        // A verifier's lookups in a month, counted before each answer goes out (src/services/verifiers.ts):
        // a relying party averaging 830 lookups a second passes 2^31 in a month, and on PostgreSQL an
        // integer column then failed every count, and so every answer to it, until the month ended.
        // SQLite's integers are 64-bit already; PostgreSQL returns bigint as text, read with Number().
        if (dialect === "postgres") await sql`alter table verifier_lookups alter column count type bigint`.execute(db);
      },
    },
    "0024-portal-sessions-expiry-index": {
      async up(db: Kysely<any>) {
        // Expired portal sessions are deleted by expiry once a minute (src/services/portal-login.ts):
        // by the index, not by reading every session.
        await db.schema.createIndex("portal_sessions_expires").on("portal_sessions").column("expires_at").execute();
      },
    },
    "0025-audit-seq-bigint": {
      async up(db: Kysely<any>) {
        // Every audited write takes the next sequence number: a national register passes 2^31 of
        // them in its lifetime, and on PostgreSQL an integer column would then refuse every audited
        // write. SQLite's integers are 64-bit already; the readers take seq with Number().
        if (dialect === "postgres") {
          await sql`alter table audit_log alter column seq type bigint`.execute(db);
          await sql`alter table audit_head alter column seq type bigint`.execute(db);
        }
      },
    },
    "0026-filings-content": {
      async up(db: Kysely<any>) {
        // The signed content of a detached CMS filing: kept with its SignedData, so an accepted
        // filing can be verified again from the store alone (null for XML and attached CMS).
        await db.schema.alterTable("filings").addColumn("content", sql.raw(binary)).execute();
      },
    },
    "0027-residents-search": {
      async up(db: Kysely<any>) {
        // The counter's resident search filters in SQL on a stored search key (src/store/resident-search.ts)
        // instead of reading the register into memory to compare there; the key is written with the
        // row and with each change of name or address. Newest-first listing (the search's order, and
        // the counter's and console's lists) had no index and sorted the whole register per page.
        await db.schema.alterTable("residents").addColumn("search_text", "text", (c) => c.notNull().defaultTo("")).execute();
        await backfillResidentSearchText(db);
        await db.schema.createIndex("residents_newest").on("residents").columns(["created_at", "id"]).execute();
        await db.schema.createIndex("residents_municipality_newest").on("residents").columns(["municipality_code", "created_at", "id"]).execute();
      },
    },
  };
}

/** The search key of each resident registered before 0027, in keyset pages. */
async function backfillResidentSearchText(db: Kysely<any>): Promise<void> {
  await forEachById<{ id: string; name: string; address: string }>(db, "residents", ["id", "name", "address"], 1000, async (row) => {
    await db.updateTable("residents").set({ search_text: residentSearchText(row) }).where("id", "=", row.id).execute();
  });
}

/** The size and SHA-256 of each filing stored before 0018, in keyset pages; refused ones are emptied. */
async function backfillFilingDigests(db: Kysely<any>): Promise<void> {
  await forEachById<{ id: string; status: string; document: Uint8Array }>(db, "filings", ["id", "status", "document"], 64, async (row) => {
    await db
      .updateTable("filings")
      .set({
        received_bytes: row.document.length,
        received_sha256: createHash("sha256").update(row.document).digest("hex"),
        ...(row.status === "accepted" ? {} : { document: new Uint8Array(0) }),
      })
      .where("id", "=", row.id)
      .execute();
  });
}

/** Every row of `table` in id order, read `page` at a time from where the last page stopped (a data migration's loop). */
async function forEachById<Row extends { id: string }>(db: Kysely<any>, table: string, columns: string[], page: number, each: (row: Row) => Promise<void>): Promise<void> {
  let after = "";
  for (;;) {
    const rows = (await db.selectFrom(table).select(columns).where("id", ">", after).orderBy("id").limit(page).execute()) as Row[];
    for (const row of rows) await each(row);
    if (rows.length < page) return;
    after = rows[rows.length - 1]!.id;
  }
}

/** The entries of the certificates revoked or held before 0014, in keyset pages. */
async function backfillCrlEntries(db: Kysely<any>, encoders: MigrationEncoders | undefined): Promise<void> {
  let after = { ca_type: "", serial_hex: "" };
  for (;;) {
    const rows: { ca_type: string; serial_hex: string; municipality_code: string; not_after: string; revoked_at: string; revocation_reason: string; invalidity_date: string | null }[] =
      await db
        .selectFrom("certificates")
        .select(["ca_type", "serial_hex", "municipality_code", "not_after", "revoked_at", "revocation_reason", "invalidity_date"])
        .where("status", "in", ["revoked", "hold"])
        .where((eb) => eb.or([eb("ca_type", ">", after.ca_type), eb.and([eb("ca_type", "=", after.ca_type), eb("serial_hex", ">", after.serial_hex)])]))
        .orderBy("ca_type")
        .orderBy("serial_hex")
        .limit(5000)
        .execute();
    for (let i = 0; i < rows.length; i += 500) {
      const values = rows.slice(i, i + 500).map((r) => ({
        ca_type: r.ca_type,
        serial_hex: r.serial_hex,
        municipality_code: r.municipality_code,
        not_after: r.not_after,
        entry: encoderFor(encoders).crlEntry({
          serialHex: r.serial_hex,
          revokedAt: r.revoked_at,
          reason: r.revocation_reason,
          invalidityDate: r.invalidity_date,
        }),
      }));
      await db.insertInto("crl_entries").values(values).execute();
    }
    if (rows.length < 5000) return;
    after = rows[rows.length - 1]!;
  }
}

function encoderFor(encoders: MigrationEncoders | undefined): MigrationEncoders {
  if (!encoders) throw new Error("migration 0014 must encode the CRL entries of existing revocations: open the store with its encoders (Context.open does)");
  return encoders;
}

export function migrationProvider(dialect: Dialect, encoders?: MigrationEncoders): MigrationProvider {
  return { getMigrations: async () => migrations(dialect, encoders) };
}
