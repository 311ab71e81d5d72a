import { KeyObject, X509Certificate } from "node:crypto";
import type { Kysely } from "kysely";
import type { CertificateTable, Database } from "../store/schema.ts";
import { bytes, isUniqueViolation, type Dialect } from "../store/database.ts";
import { hex } from "../pki/asn1.ts";
import { randomSerial, signCertificate, signTbsCertificate } from "../pki/certificate.ts";
import { rootTemplate, type CaNaming, type CaType } from "../pki/jpki-profile.ts";
import { LeafTemplate } from "../pki/leaf-template.ts";
import { subjectPublicKeyOf, SubjectPublicKeyError, type SubjectPublicKey } from "../pki/leaf-public-key.ts";
import type { Signer } from "../pki/signer.ts";
import { certificateValidity, renewalFrom, renewalMode, type CertificateValidity } from "../rules/validity.ts";
import { addDays, addMonthsClamped, compareJapanDates, endOfJapanDay, japanDateOf, type JapanDate } from "../rules/japan-date.ts";
import type { RevocationReason } from "../rules/revocation.ts";
import { toOtherNames } from "../profile/attributes.ts";
import type { Settings } from "../config/defaults.ts";
import { rewrapKeyTable } from "./keystore.ts";
import { ServiceError } from "./errors.ts";
import { inputErrorAs } from "./input-errors.ts";
import type { CaKeys } from "./ca-keys.ts";
import { newSubjectCn } from "./ids.ts";
import type { Clock } from "./clock.ts";
import { issuanceStanding, type Registry, type Resident } from "./registry.ts";
import { appendAudit, CLI_OPERATOR, type Actor } from "./audit.ts";
import { IssuanceRecorder, ResidentChangedError, residentSnapshot, type PendingIssuance } from "./issuance-recorder.ts";
import { applyRevocation, type RevocationOutcome, type RevocationRequest } from "./revocation.ts";

export const CA_TYPES: readonly CaType[] = ["sign", "auth"];

export interface Authority {
  id: string;
  type: CaType;
  certificateDer: Uint8Array;
  publicKey: KeyObject;
  signer: Signer;
}

export interface IssueRequest {
  type: CaType;
  residentId: string;
  /** A KeyObject (card, CLI), or SubjectPublicKeyInfo DER already read by `readRsaSubjectPublicKey` (the API). */
  subjectPublicKey: KeyObject | SubjectPublicKey;
  cardId?: string;
  /** Issued as a renewal while fewer than 3 months remained on the replaced certificate. */
  renewal?: boolean;
  cardExpiry?: JapanDate;
  actor?: Actor;
  /** Issue only for a resident registered in this municipality (an issuance client's scope). */
  municipality?: string;
  /** An issuance client's id for the request, recorded with the certificate (RequestIdTakenError if another attempt recorded it first). */
  requestId?: { clientId: string; requestId: string; requestSha256: string };
}

export interface CertificateAuthoritiesOptions {
  dialect: Dialect;
  /** Group commit: most certificates recorded per transaction. */
  maxBatch?: number;
  /** Group commit: longest a ready batch waits for issuances still signing to join it. */
  maxWaitMs?: number;
}

/** A certificate as the store records it, without the certificate itself. */
export interface CertificateSummary {
  type: CaType;
  serialHex: string;
  residentId: string;
  cardId: string | null;
  subjectCn: string;
  municipalityCode: string;
  notBefore: string;
  notAfter: string;
  expires: JapanDate;
  issuedAt: string;
  status: CertificateTable["status"];
  revokedAt: string | null;
  revocationReason: RevocationReason | null;
  invalidityDate: string | null;
  revokedBy: string | null;
}

/** A certificate with its DER. */
export interface CertificateRecord extends CertificateSummary {
  der: Uint8Array;
}

/**
 * The two certificate authorities, signing and user authentication: separate self-signed
 * roots, each issuing end-entity certificates directly (no intermediate), as J-LIS does.
 */
export class CertificateAuthorities {
  readonly #authorities = new Map<CaType, Authority>();
  readonly #leaves = new Map<CaType, LeafTemplate>();
  readonly #recorder: IssuanceRecorder;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly registry: Registry,
    private readonly settings: Settings,
    private readonly keys: CaKeys,
    private readonly clock: Clock,
    options: CertificateAuthoritiesOptions,
  ) {
    this.#recorder = new IssuanceRecorder(db, options);
  }

  /** How issuances were grouped into transactions so far. */
  get recordingStats(): Readonly<IssuanceRecorder["stats"]> {
    return this.#recorder.stats;
  }

  /** Create the roots that do not exist yet (first run) and load both. Returns the types created. */
  async ensureRoots(): Promise<CaType[]> {
    const created: CaType[] = [];
    for (const type of CA_TYPES) {
      const existing = await this.activeRow(type);
      if (!existing) {
        await this.createRoot(type);
        created.push(type);
      }
      await this.load(type);
    }
    return created;
  }

  authority(type: CaType): Authority {
    const authority = this.#authorities.get(type);
    if (!authority) throw new ServiceError("ca-unavailable", `${type} の認証局が読み込まれていません / the ${type} CA is not loaded`);
    return authority;
  }

  get naming(): CaNaming {
    return this.settings.caNaming;
  }

  private async activeRow(type: CaType) {
    return this.db
      .selectFrom("authorities")
      .selectAll()
      .where("ca_type", "=", type)
      .where("active", "=", 1)
      .orderBy("generation", "desc")
      .executeTakeFirst();
  }

  private async createRoot(type: CaType): Promise<void> {
    const key = await this.keys.create(type, 1);
    const now = this.clock();
    const firstDay = japanDateOf(now);
    // J-LIS roots end at 23:59:59 JST on the day before the 10th anniversary of their creation.
    const lastDay = addDays(addMonthsClamped(firstDay, 12 * this.settings.rootValidityYears), -1);
    const der = await signCertificate(
      rootTemplate({ type, naming: this.naming, publicKey: key.publicKey, serial: randomSerial(), notBefore: now, notAfter: endOfJapanDay(lastDay) }),
      key.signer,
    );
    await this.db
      .insertInto("authorities")
      .values({
        id: `${type}-1`,
        ca_type: type,
        generation: 1,
        certificate_der: der,
        private_key_pem: key.stored,
        not_after: endOfJapanDay(lastDay).toISOString(),
        created_at: now.toISOString(),
        active: 1,
      })
      // Two processes starting on a fresh store at once: the second insert loses and loads the first.
      .onConflict((oc) => oc.doNothing())
      .execute();
  }

  /**
   * Stored software CA keys (every generation) encrypted at fewer PBKDF2 iterations than new keys
   * get — the 2,048 of versions before 2026-12 — encrypted again at the current count. Each is
   * replaced by one statement guarded on the old value, so a crash leaves either form (both open
   * under the same passphrase) and two nodes doing it at once change it once. Token keys are the
   * HSM's and are left alone.
   */
  async rewrapStoredKeys(): Promise<{ id: string; rewrapped: boolean }[]> {
    return rewrapKeyTable(this.db, "authorities", (row) =>
      this.keys.rewrap(row.private_key_pem, `${row.ca_type} CA (${row.id})`, new X509Certificate(bytes(row.certificate_der)).publicKey),
    );
  }

  private async load(type: CaType): Promise<void> {
    const row = await this.activeRow(type);
    if (!row) throw new ServiceError("ca-unavailable", `${type} の認証局がストアにありません / no ${type} CA in the store`);
    const certificateDer = bytes(row.certificate_der);
    const publicKey = new X509Certificate(certificateDer).publicKey;
    const signer = await this.keys.load(row.private_key_pem, `${type} CA`, publicKey);
    this.#authorities.set(type, { id: row.id, type, certificateDer, publicKey, signer });
    const base = this.settings.publicBaseUrl;
    this.#leaves.set(
      type,
      new LeafTemplate({ type, naming: this.naming, issuerPublicKey: publicKey, urls: { ocsp: `${base}/ocsp/${type}`, caIssuers: `${base}/ca/${type}.crt`, cps: `${base}/cps` } }),
    );
  }

  /**
   * Issue one certificate for a registered resident. The rules decide eligibility and expiry;
   * the certificate is built from the CA's DER template and signed outside any transaction (so
   * concurrent issuances sign in parallel), then recorded with its audit record by the group
   * recorder, and handed out only after that commit: a crash before it loses a certificate that
   * never left this process, so no released certificate is ever unrecorded. If the resident's
   * register entry changed meanwhile (a move, a death), the certificate is thrown away and
   * built again from the new entry.
   */
  async issue(request: IssueRequest): Promise<CertificateRecord> {
    const authority = this.authority(request.type);
    const subjectPublicKey = this.subjectPublicKey(request.subjectPublicKey);
    for (let attempt = 1; ; attempt++) {
      // Announced before anything is read, so a batch about to commit can wait for this one.
      const pending = this.#recorder.announce();
      try {
        const now = this.clock();
        // Both reads at once (one round trip on PostgreSQL): the resident, and for a signing
        // certificate the holder's current authentication certificate, which caps it.
        // A renewal's refusal is held until the resident is known to be in the caller's
        // municipality: it tells the expiry of the certificate held, which is not the caller's to learn.
        const [resident, authExpiry, renewalRefusal] = await Promise.all([
          this.registry.get(request.residentId),
          request.type === "sign" ? this.currentExpiry(this.db, "auth", request.residentId, japanDateOf(now), request.cardId) : undefined,
          request.renewal ? this.checkRenewable(request.type, request.residentId, japanDateOf(now), request.cardId).then(() => undefined, (error: unknown) => error) : undefined,
        ]);
        if (request.municipality !== undefined && resident.municipality.code !== request.municipality) {
          throw new ServiceError("not-found", `residentId: 住民ID ${request.residentId} の住民は市区町村 ${request.municipality} にいません / no resident ${request.residentId} in municipality ${request.municipality}`, "residentId");
        }
        const standing = issuanceStanding(resident, japanDateOf(now));
        if (standing === "ended") {
          throw new ServiceError("not-eligible", `residentId: 住民 ${resident.id} は ${resident.status} のため証明書を発行できません / resident ${resident.id} is ${resident.status}: no certificate can be issued`, "residentId");
        }
        if (standing === "departure-pending") {
          throw new ServiceError(
            "conflict",
            `国外転出日（${resident.departureDate}）を過ぎ、転出を処理中です。少し待ってからやり直してください / resident ${resident.id} left the country on ${resident.departureDate} and the emigration is being applied; try again in a minute`,
            "residentId",
            { reason: "departure-pending" },
          );
        }
        if (renewalRefusal !== undefined) throw renewalRefusal;
        return await this.issueOnce({ authority, resident, authExpiry, now, subjectPublicKey, request, pending });
      } catch (error) {
        // A colliding random serial or CN (vanishingly rare) is retried with fresh ones; a
        // changed register entry is read again (and the checks above run again).
        if (attempt < 3 && (isUniqueViolation(error) || error instanceof ResidentChangedError)) continue;
        if (error instanceof ResidentChangedError) throw new ServiceError("conflict", `residentId: 発行中に住民票の記載が変わりました。やり直してください / ${error.message}; try again`, "residentId");
        throw error;
      } finally {
        pending.cancel();
      }
    }
  }

  private subjectPublicKey(key: KeyObject | SubjectPublicKey): SubjectPublicKey {
    if (!(key instanceof KeyObject)) return key;
    try {
      return subjectPublicKeyOf(key);
    } catch (error) {
      if (error instanceof SubjectPublicKeyError) throw new ServiceError("invalid-input", publicKeyMessage(error), "subjectPublicKey");
      throw error;
    }
  }

  private async issueOnce(args: {
    authority: Authority;
    resident: Resident;
    authExpiry: JapanDate | undefined;
    now: Date;
    subjectPublicKey: SubjectPublicKey;
    request: IssueRequest;
    pending: PendingIssuance;
  }): Promise<CertificateRecord> {
    const { authority, resident, authExpiry, now, subjectPublicKey, request, pending } = args;
    const validity = this.validity(resident, japanDateOf(now), request, authExpiry);
    const period = request.type === "sign" ? validity.sign : validity.auth;
    if (!("expires" in period)) {
      const reason = "reason" in period ? period.reason : "unknown";
      throw new ServiceError(
        "not-eligible",
        reason === "under-15"
          ? "15歳未満の方には署名用電子証明書を発行できません / no signing certificate for people under 15"
          : "成年被後見人の方には署名用電子証明書を発行できません / no signing certificate for adults under guardianship",
        "type",
      );
    }
    const serial = randomSerial();
    const subjectCn = newSubjectCn(now);
    const municipality = resident.municipality;
    const notAfter = endOfJapanDay(period.expires);
    // A cap that is today leaves the rest of the day; in its very last second nothing is left
    // (notBefore, in whole seconds, would reach notAfter), which is the rules' refusal, not a fault.
    if (notAfter.getTime() <= Math.floor(now.getTime() / 1000) * 1000) {
      throw new ServiceError(
        "not-eligible",
        `有効期間の終わり（${period.expires} 23:59:59 JST）を過ぎたため発行できません / a certificate expiring on ${period.expires} can no longer be issued: its last second (23:59:59 JST) has come`,
        request.cardExpiry === period.expires ? "cardExpiry" : "residentId",
        { reason: "no-validity-left" },
      );
    }
    const tbs = this.#leaves.get(request.type)!.tbsCertificate({
      serial,
      subjectCn,
      notBefore: now,
      notAfter,
      municipality,
      crlUrl: `${this.settings.publicBaseUrl}/crl/${request.type}/${municipality.code}.crl`,
      subjectPublicKey,
      // The register entry carries the four attributes (and their substitute flags) under the profile's names.
      ...(request.type === "sign" ? { otherNames: otherNamesOf(resident) } : {}),
    });
    const der = await signTbsCertificate(tbs, authority.signer);
    const row: CertificateTable = {
      ca_type: request.type,
      serial_hex: hex(serial),
      authority_id: authority.id,
      resident_id: resident.id,
      card_id: request.cardId ?? null,
      subject_cn: subjectCn,
      municipality_code: municipality.code,
      not_before: new Date(Math.floor(now.getTime() / 1000) * 1000).toISOString(),
      not_after: notAfter.toISOString(),
      expires: period.expires,
      issued_at: now.toISOString(),
      status: "valid",
      revoked_at: null,
      revocation_reason: null,
      invalidity_date: null,
      revoked_by: null,
    };
    await pending.record({
      row,
      der,
      audit: {
        actor: request.actor ?? CLI_OPERATOR,
        entry: { action: "certificate.issue", subject: `${request.type}:${row.serial_hex}`, after: { resident: resident.id, card: row.card_id, expires: row.expires } },
        at: now,
      },
      resident: residentSnapshot(resident),
      ...(request.requestId
        ? {
            requestId: {
              client_id: request.requestId.clientId,
              request_id: request.requestId.requestId,
              ca_type: row.ca_type,
              serial_hex: row.serial_hex,
              request_sha256: request.requestId.requestSha256,
              created_at: row.issued_at,
            },
          }
        : {}),
    });
    return toRecord({ ...row, der });
  }

  private validity(resident: Resident, issued: JapanDate, request: IssueRequest, authExpiry?: JapanDate): CertificateValidity {
    try {
      return certificateValidity({
        birth: resident.birth,
        issued,
        renewal: request.renewal ?? false,
        guardianship: resident.guardianship,
        ...(request.cardExpiry ? { cardExpiry: request.cardExpiry } : {}),
        ...(resident.residenceEnd ? { residenceEnd: resident.residenceEnd } : {}),
        ...(authExpiry ? { authExpiry } : {}),
      });
    } catch (error) {
      throw inputErrorAs(error, "not-eligible");
    }
  }

  /**
   * A renewal (更新) runs to the 6th birthday, so it is only one while the holder has a valid
   * certificate of that type whose renewal window is open (from three months before its expiry):
   * a client's word alone does not lengthen a certificate.
   */
  private async checkRenewable(type: CaType, residentId: string, today: JapanDate, cardId: string | undefined): Promise<void> {
    const current = await this.currentExpiry(this.db, type, residentId, today, cardId);
    if (current === undefined) {
      throw new ServiceError("not-eligible", `renewal: 更新する有効な証明書がありません / the resident holds no valid ${type} certificate to renew`, "renewal", { reason: "nothing-to-renew" });
    }
    if (renewalMode(current, today) !== "renewal") {
      throw new ServiceError("not-eligible", `renewal: 更新は ${renewalFrom(current)} から / the ${type} certificate expiring ${current} can be renewed from ${renewalFrom(current)}`, "renewal", { reason: "renewal-too-early" });
    }
  }

  /**
   * The latest expiry among the holder's valid, unexpired certificates of `type`: the
   * authentication certificate's caps a signing certificate, and a renewal needs one. For a
   * certificate going on a card, only that card's count: the signing certificate ends with the
   * authentication certificate beside it, not with one the holder has elsewhere.
   */
  private async currentExpiry(db: Kysely<Database>, type: CaType, residentId: string, today: JapanDate, cardId?: string): Promise<JapanDate | undefined> {
    // Status is filtered here, not in SQL: given `status = ?`, SQLite's planner walks the
    // (status, expires) index — every valid certificate of the store — instead of this resident's few.
    const rows = await db
      .selectFrom("certificates")
      .select(["expires", "status", "card_id"])
      .where("resident_id", "=", residentId)
      .where("ca_type", "=", type)
      .execute();
    const current = rows
      .filter((r) => r.status === "valid" && compareJapanDates(r.expires, today) >= 0 && (cardId === undefined || r.card_id === cardId))
      .map((r) => r.expires);
    return current.sort(compareJapanDates).at(-1);
  }

  async certificate(type: CaType, serialHex: string): Promise<CertificateRecord> {
    const row = await this.db
      .selectFrom("certificates")
      .leftJoin("certificate_der", (join) =>
        join.onRef("certificate_der.ca_type", "=", "certificates.ca_type").onRef("certificate_der.serial_hex", "=", "certificates.serial_hex"),
      )
      .selectAll("certificates")
      .select("certificate_der.der")
      .where("certificates.ca_type", "=", type)
      .where("certificates.serial_hex", "=", serialHex.toUpperCase())
      .executeTakeFirst();
    if (!row) throw new ServiceError("not-found", `serial: シリアル番号 ${serialHex} の証明書（${type}）はありません / no ${type} certificate with serial ${serialHex}`, "serial");
    // Issuance writes both rows in one transaction, so a row without its DER is damage, not absence.
    if (!row.der) throw new ServiceError("service-unavailable", `証明書 ${serialHex}（${type}）の DER がストアにありません / the ${type} certificate ${serialHex} has no DER in the store (certificate_der is damaged)`);
    return toRecord({ ...row, der: row.der });
  }

  /** Revoke (or put on hold) one certificate on request: counter, hotline or operator. */
  async revoke(request: Omit<RevocationRequest, "at"> & { at?: Date; actor?: Actor }): Promise<RevocationOutcome> {
    const at = request.at ?? this.clock();
    return this.db.transaction().execute(async (trx) => {
      const outcome = await applyRevocation(trx, { ...request, at });
      await appendAudit(trx, request.actor ?? CLI_OPERATOR, { action: "certificate.revoke", subject: `${request.type}:${outcome.serialHex}`, after: outcome }, at);
      return outcome;
    });
  }

  async certificatesOf(residentId: string): Promise<CertificateSummary[]> {
    // The hot rows only: a holder's list never needs the DER (one certificate's is `certificate`).
    const rows = await this.db.selectFrom("certificates").selectAll().where("resident_id", "=", residentId).orderBy("issued_at").execute();
    return rows.map(toSummary);
  }

  async count(type?: CaType): Promise<number> {
    let query = this.db.selectFrom("certificates").select((eb) => eb.fn.countAll().as("n"));
    if (type) query = query.where("ca_type", "=", type);
    const { n } = await query.executeTakeFirstOrThrow();
    return Number(n);
  }
}

/** A refused public key, in Japanese and English, naming the field. */
export function publicKeyMessage(error: SubjectPublicKeyError): string {
  return `subjectPublicKey: JPKI で使える公開鍵（RSA 2048〜4096 ビット、e = 65537 の SubjectPublicKeyInfo）ではありません / the key ${error.message}`;
}

/**
 * The signing certificate's personal-data otherNames. The register checks every entry on the way
 * in, so a refusal here means an entry written around it (an older release, a direct database
 * edit): the resident cannot be issued one until the entry is corrected.
 */
function otherNamesOf(resident: Resident): { oid: string; value: string }[] {
  try {
    return toOtherNames(resident);
  } catch (error) {
    throw inputErrorAs(error, "not-eligible");
  }
}

function toRecord(row: CertificateTable & { der: Uint8Array }): CertificateRecord {
  return { ...toSummary(row), der: bytes(row.der) };
}

function toSummary(row: CertificateTable): CertificateSummary {
  return {
    type: row.ca_type,
    serialHex: row.serial_hex,
    residentId: row.resident_id,
    cardId: row.card_id,
    subjectCn: row.subject_cn,
    municipalityCode: row.municipality_code,
    notBefore: row.not_before,
    notAfter: row.not_after,
    expires: row.expires,
    issuedAt: row.issued_at,
    status: row.status,
    revokedAt: row.revoked_at,
    revocationReason: row.revocation_reason as RevocationReason | null,
    invalidityDate: row.invalidity_date,
    revokedBy: row.revoked_by,
  };
}

