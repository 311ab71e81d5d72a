import { createHash } from "node:crypto";
import type { Kysely } from "kysely";
import type { Database } from "../store/schema.ts";
import type { CaType } from "../pki/jpki-profile.ts";
import { readRsaSubjectPublicKey, RSA_KEY_LIMITS, SubjectPublicKeyError, type SubjectPublicKey } from "../pki/leaf-public-key.ts";
import { compareJapanDates, japanDateOf, parseJapanDate, type JapanDate } from "../rules/japan-date.ts";
import { ServiceError } from "./errors.ts";
import { inputErrorAs } from "./input-errors.ts";
import { publicKeyMessage, type CertificateAuthorities, type CertificateRecord } from "./certificate-authority.ts";
import { RequestIdTakenError } from "./issuance-recorder.ts";
import { PeriodicSweep } from "./periodic-sweep.ts";
import type { Clock } from "./clock.ts";
import type { IssuanceClient } from "./issuance-clients.ts";

/** An issuance request as a municipal system sends it (JSON). */
export interface IssuanceRequest {
  residentId: string;
  /** Base64 of the SubjectPublicKeyInfo DER the card generated. */
  subjectPublicKey: string;
  cardId?: string;
  /** Issued as a renewal while fewer than 3 months remained on the replaced certificate. */
  renewal?: boolean;
  /** The card's expiry (YYYY-MM-DD), which caps the certificate's. */
  cardExpiry?: string;
  /**
   * The client's own id for this request (a UUID, say), unique per client. A request retried
   * with the same id and contents (after a timeout, a lost answer) is answered with the
   * certificate the first one was given, not a second one; kept for REQUEST_ID_DAYS.
   */
  requestId?: string;
}

export interface IssuedCertificate {
  type: CaType;
  serial: string;
  subjectCn: string;
  notBefore: string;
  notAfter: string;
  expires: JapanDate;
  /** Base64 of the certificate's DER. */
  certificate: string;
  /** Set when this answers a retried request: the certificate was issued to its first attempt. */
  replayed?: true;
}

/** One item of a batch: issued, or refused (a ServiceError) or failed (anything else), in request order. */
export type BatchIssuance = { ok: true; issued: IssuedCertificate } | { ok: false; error: unknown };

/** Limits on what a request may carry, shared with the HTTP schema. */
export const ISSUANCE_REQUEST_LIMITS = {
  /** Most requests in one batch: a batch is answered when its last certificate is recorded. */
  maxBatch: 100,
  idPattern: "^[A-Za-z0-9-]{1,40}$",
  requestIdPattern: "^[A-Za-z0-9._:-]{1,64}$",
  /** Base64 of at most RSA_KEY_LIMITS.maxDerBytes bytes. */
  maxPublicKeyBase64: Math.ceil(RSA_KEY_LIMITS.maxDerBytes / 3) * 4,
  base64Pattern: "^[A-Za-z0-9+/]+={0,2}$",
} as const;

/** How long a request id is kept: retries after that issue anew. */
export const REQUEST_ID_DAYS = 30;

const ID = new RegExp(ISSUANCE_REQUEST_LIMITS.idPattern);
const REQUEST_ID = new RegExp(ISSUANCE_REQUEST_LIMITS.requestIdPattern);
const BASE64 = new RegExp(ISSUANCE_REQUEST_LIMITS.base64Pattern);
const CARD_STATES_FOR_ISSUANCE: readonly string[] = ["producing", "active"];

/**
 * Certificate requests from registered issuance clients (the HTTP issuance API): checks what
 * the client sent, keeps it to its own municipality, and has the CA issue with the client as
 * the audit actor. Errors name the request field at fault.
 */
export class IssuanceRequests {
  /** Request ids past their days are deleted as new ones are recorded, at most once an hour. */
  readonly #sweep = new PeriodicSweep(3_600_000, (now) => this.forgetRequestIds(now));

  constructor(
    private readonly db: Kysely<Database>,
    private readonly ca: CertificateAuthorities,
    private readonly clock: Clock,
  ) {}

  async issue(client: IssuanceClient, type: CaType, request: IssuanceRequest): Promise<IssuedCertificate> {
    if (!client.active) throw new ServiceError("refused", `発行クライアント ${client.id} は無効化されています / issuance client ${client.id} is inactive`, undefined, { reason: "inactive-client" });
    if (type !== "sign" && type !== "auth") throw new ServiceError("invalid-input", `type: 証明書の種類は sign か auth です / must be sign or auth, not ${JSON.stringify(type)}`, "type");
    const residentId = checkId(request.residentId, "residentId");
    const subjectPublicKey = publicKeyOf(request.subjectPublicKey);
    const cardExpiry = request.cardExpiry === undefined ? undefined : dateOf(request.cardExpiry, "cardExpiry");
    if (request.renewal !== undefined && typeof request.renewal !== "boolean") {
      throw new ServiceError("invalid-input", "renewal: true か false を指定してください / must be true or false", "renewal");
    }
    const cardId = request.cardId === undefined ? undefined : checkId(request.cardId, "cardId");
    const requestId = request.requestId === undefined ? undefined : requestIdOf(client, type, request);
    // Housekeeping before anything is issued: once a certificate is recorded, nothing may stand
    // between it and the answer (a failure here leaves nothing issued, and the client retries).
    if (requestId) await this.#sweep.maybe(this.clock());
    // Before the card is read: a retry is answered even if the card has since been handed over or cancelled.
    const earlier = requestId && (await this.earlier(requestId, type));
    if (earlier) return earlier;
    const card = cardId === undefined ? undefined : await this.cardOf(cardId, residentId, client.municipality);
    // A certificate on a card ends by the card's expiry (spec §2.1), whatever expiry the client gives.
    const cap = card && (!cardExpiry || compareJapanDates(card.expires, cardExpiry) < 0) ? card.expires : cardExpiry;
    try {
      const record = await this.ca.issue({
        type,
        residentId,
        subjectPublicKey,
        ...(card ? { cardId: card.id } : {}),
        ...(request.renewal ? { renewal: true } : {}),
        ...(cap ? { cardExpiry: cap } : {}),
        actor: { actor: `issuance-client:${client.id}` },
        municipality: client.municipality,
        ...(requestId ? { requestId } : {}),
      });
      return issuedOf(record);
    } catch (error) {
      // Another attempt of this request (a retry racing the first) recorded its certificate first.
      if (error instanceof RequestIdTakenError && requestId) {
        const first = await this.earlier(requestId, type);
        if (first) return first;
      }
      // Unknown, or registered elsewhere: the same answer, so a client learns nothing about other municipalities' residents.
      if (error instanceof ServiceError && error.code === "not-found" && (error.field === "id" || error.field === "residentId")) {
        throw noResident(residentId, client.municipality);
      }
      throw error;
    }
  }

  /**
   * Several requests at once, for mass issuance (a renewal campaign, re-issuing after a CA key
   * change): each item goes through `issue()` exactly as a single request would, all of them
   * concurrently, so they share the group commit's transactions; one item's refusal does not
   * affect the others. Resolves when every item is recorded or refused.
   */
  async issueBatch(client: IssuanceClient, type: CaType, requests: readonly IssuanceRequest[]): Promise<BatchIssuance[]> {
    if (!Array.isArray(requests) || requests.length === 0 || requests.length > ISSUANCE_REQUEST_LIMITS.maxBatch) {
      throw new ServiceError("invalid-input", `requests: 要求は 1〜${ISSUANCE_REQUEST_LIMITS.maxBatch} 件です / expected 1 to ${ISSUANCE_REQUEST_LIMITS.maxBatch} issuance requests`, "requests");
    }
    return Promise.all(
      requests.map((request) =>
        this.issue(client, type, request).then(
          (issued): BatchIssuance => ({ ok: true, issued }),
          (error: unknown): BatchIssuance => ({ ok: false, error }),
        ),
      ),
    );
  }

  /** The certificate recorded for this request id, if one is; refused if the id was used for another request. */
  private async earlier(id: RequestId, type: CaType): Promise<IssuedCertificate | undefined> {
    const row = await this.db
      .selectFrom("issuance_request_ids")
      .select(["ca_type", "serial_hex", "request_sha256"])
      .where("client_id", "=", id.clientId)
      .where("request_id", "=", id.requestId)
      .executeTakeFirst();
    if (!row) return undefined;
    if (row.ca_type !== type || row.request_sha256 !== id.requestSha256) {
      throw new ServiceError(
        "conflict",
        `requestId: この要求 ID (${id.requestId}) は別の内容の要求に使われています / request id ${id.requestId} was used for a request with other contents (type, resident, key, card, renewal or card expiry); use a new id for a new request`,
        "requestId",
        { reason: "request-id-reused" },
      );
    }
    const record = await this.ca.certificate(row.ca_type, row.serial_hex);
    // A certificate revoked (a move, a report) or held since it was issued must not be written to
    // a card by a system that lost the first answer: refused, so the retry asks anew.
    if (record.status !== "valid") {
      const [ja, en] = record.status === "hold" ? ["一時停止されています", "is on hold"] : ["失効しています", `has been revoked (${record.revocationReason ?? "unspecified"})`];
      throw new ServiceError(
        "conflict",
        `requestId: この要求 ID (${id.requestId}) で発行した電子証明書（シリアル ${record.serialHex}）は発行後に${ja}。カードに書き込まず、新しい要求 ID で発行し直してください / the certificate issued for request id ${id.requestId} (serial ${record.serialHex}) ${en} since: do not write it to a card; send a new request with a new id`,
        "requestId",
        { reason: "replayed-certificate-not-valid" },
      );
    }
    return { ...issuedOf(record), replayed: true };
  }

  /** Request ids older than REQUEST_ID_DAYS, deleted by age (the index on created_at); returns how many. */
  async forgetRequestIds(now: Date = this.clock()): Promise<number> {
    const before = new Date(now.getTime() - REQUEST_ID_DAYS * 86_400_000).toISOString();
    const result = await this.db.deleteFrom("issuance_request_ids").where("created_at", "<", before).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  /**
   * A card given with the request must be this resident's and still being produced or in use.
   * The resident is looked for in the client's municipality first: what the card check says
   * (whose card it is, its status) is not for a client of another municipality to learn.
   */
  private async cardOf(cardId: string, residentId: string, municipality: string): Promise<{ id: string; expires: JapanDate }> {
    const resident = await this.db.selectFrom("residents").select("municipality_code").where("id", "=", residentId).executeTakeFirst();
    if (!resident || resident.municipality_code !== municipality) throw noResident(residentId, municipality);
    const card = await this.db.selectFrom("cards").select(["resident_id", "status", "expires"]).where("id", "=", cardId).executeTakeFirst();
    if (!card || card.resident_id !== residentId) {
      throw new ServiceError("invalid-input", `cardId: 住民 ${residentId} のカード ${cardId} はありません / no card ${cardId} of resident ${residentId}`, "cardId");
    }
    if (!CARD_STATES_FOR_ISSUANCE.includes(card.status)) {
      throw new ServiceError("invalid-input", `cardId: カード ${cardId} は ${card.status} です。証明書は作成中か使用中のカードにだけ発行できます / card ${cardId} is ${card.status}; certificates go only on a card being produced or in use`, "cardId");
    }
    const today = japanDateOf(this.clock());
    if (compareJapanDates(card.expires, today) < 0) {
      throw new ServiceError("invalid-input", `cardId: カード ${cardId} の有効期限（${card.expires}）は過ぎています / card ${cardId} expired on ${card.expires}; certificates go only on a card in its validity`, "cardId", { reason: "card-expired" });
    }
    return { id: cardId, expires: card.expires };
  }
}

type RequestId = NonNullable<Parameters<CertificateAuthorities["issue"]>[0]["requestId"]>;

/** The client's id with a digest of everything that decides the certificate, so a reused id with other contents is caught. */
function requestIdOf(client: IssuanceClient, type: CaType, request: IssuanceRequest): RequestId {
  if (typeof request.requestId !== "string" || !REQUEST_ID.test(request.requestId)) {
    throw new ServiceError("invalid-input", "requestId: 英数字と . _ : - の 1〜64 文字で指定してください / expected 1 to 64 letters, digits and . _ : -", "requestId");
  }
  const contents = [type, request.residentId, request.subjectPublicKey, request.cardId ?? null, request.renewal === true, request.cardExpiry ?? null];
  return { clientId: client.id, requestId: request.requestId, requestSha256: createHash("sha256").update(JSON.stringify(contents)).digest("hex") };
}

function issuedOf(record: CertificateRecord): IssuedCertificate {
  return {
    type: record.type,
    serial: record.serialHex,
    subjectCn: record.subjectCn,
    notBefore: record.notBefore,
    notAfter: record.notAfter,
    expires: record.expires,
    certificate: Buffer.from(record.der.buffer, record.der.byteOffset, record.der.byteLength).toString("base64"),
  };
}

/** Unknown, or registered elsewhere: the same answer, so a client learns nothing about other municipalities' residents. */
function noResident(residentId: string, municipality: string): ServiceError {
  return new ServiceError("not-found", `residentId: 住民ID ${residentId} の住民は市区町村 ${municipality} にいません / no resident ${residentId} in municipality ${municipality}`, "residentId");
}

function checkId(value: unknown, field: string): string {
  if (typeof value !== "string" || !ID.test(value)) throw new ServiceError("invalid-input", `${field}: 英数字とハイフンの 1〜40 文字の ID を指定してください / expected an id of 1 to 40 letters, digits and hyphens`, field);
  return value;
}

function publicKeyOf(value: unknown): SubjectPublicKey {
  if (typeof value !== "string" || value.length > ISSUANCE_REQUEST_LIMITS.maxPublicKeyBase64 || value.length % 4 !== 0 || !BASE64.test(value)) {
    throw new ServiceError("invalid-input", "subjectPublicKey: 公開鍵は SubjectPublicKeyInfo (DER) の base64 で送ってください / expected the base64 of a SubjectPublicKeyInfo (DER)", "subjectPublicKey");
  }
  try {
    return readRsaSubjectPublicKey(new Uint8Array(Buffer.from(value, "base64")));
  } catch (error) {
    if (error instanceof SubjectPublicKeyError) throw new ServiceError("invalid-input", publicKeyMessage(error), "subjectPublicKey");
    throw error;
  }
}

function dateOf(value: unknown, field: string): JapanDate {
  try {
    return parseJapanDate(value as string, field);
  } catch (error) {
    throw inputErrorAs(error, "invalid-input");
  }
}
