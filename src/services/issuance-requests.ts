import type { Kysely } from "kysely";
import type { Database } from "../store/schema.ts";
import type { CaType } from "../pki/jpki-profile.ts";
import { readRsaSubjectPublicKey, RSA_KEY_LIMITS, SubjectPublicKeyError, type SubjectPublicKey } from "../pki/leaf-public-key.ts";
import { compareJapanDates, parseJapanDate, type JapanDate } from "../rules/japan-date.ts";
import { ServiceError } from "./errors.ts";
import { inputErrorAs } from "./input-errors.ts";
import type { CertificateAuthorities } from "./certificate-authority.ts";
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
}

/** One item of a batch: issued, or refused (a ServiceError) or failed (anything else), in request order. */
export type BatchIssuance = { ok: true; issued: IssuedCertificate } | { ok: false; error: unknown };

/** Limits on what a request may carry, shared with the HTTP schema. */
export const ISSUANCE_REQUEST_LIMITS = {
  /** Most requests in one batch: a batch is answered when its last certificate is recorded. */
  maxBatch: 100,
  idPattern: "^[A-Za-z0-9-]{1,40}$",
  /** Base64 of at most RSA_KEY_LIMITS.maxDerBytes bytes. */
  maxPublicKeyBase64: Math.ceil(RSA_KEY_LIMITS.maxDerBytes / 3) * 4,
  base64Pattern: "^[A-Za-z0-9+/]+={0,2}$",
} as const;

const ID = new RegExp(ISSUANCE_REQUEST_LIMITS.idPattern);
const BASE64 = new RegExp(ISSUANCE_REQUEST_LIMITS.base64Pattern);
const CARD_STATES_FOR_ISSUANCE: readonly string[] = ["producing", "active"];

/**
 * Certificate requests from registered issuance clients (the HTTP issuance API): checks what
 * the client sent, keeps it to its own municipality, and has the CA issue with the client as
 * the audit actor. Errors name the request field at fault.
 */
export class IssuanceRequests {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly ca: CertificateAuthorities,
  ) {}

  async issue(client: IssuanceClient, type: CaType, request: IssuanceRequest): Promise<IssuedCertificate> {
    if (!client.active) throw new ServiceError("refused", `issuance client ${client.id} is inactive`, undefined, { reason: "inactive-client" });
    if (type !== "sign" && type !== "auth") throw new ServiceError("invalid-input", `type: must be sign or auth, not ${JSON.stringify(type)}`, "type");
    const residentId = checkId(request.residentId, "residentId");
    const subjectPublicKey = publicKeyOf(request.subjectPublicKey);
    const cardExpiry = request.cardExpiry === undefined ? undefined : dateOf(request.cardExpiry, "cardExpiry");
    if (request.renewal !== undefined && typeof request.renewal !== "boolean") {
      throw new ServiceError("invalid-input", "renewal: must be true or false", "renewal");
    }
    const card = request.cardId === undefined ? undefined : await this.cardOf(checkId(request.cardId, "cardId"), residentId);
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
      });
      return {
        type: record.type,
        serial: record.serialHex,
        subjectCn: record.subjectCn,
        notBefore: record.notBefore,
        notAfter: record.notAfter,
        expires: record.expires,
        certificate: Buffer.from(record.der.buffer, record.der.byteOffset, record.der.byteLength).toString("base64"),
      };
    } catch (error) {
      // Unknown, or registered elsewhere: the same answer, so a client learns nothing about other municipalities' residents.
      if (error instanceof ServiceError && error.code === "not-found" && (error.field === "id" || error.field === "residentId")) {
        throw new ServiceError("not-found", `residentId: no resident ${residentId} in municipality ${client.municipality}`, "residentId");
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
      throw new ServiceError("invalid-input", `requests: expected 1 to ${ISSUANCE_REQUEST_LIMITS.maxBatch} issuance requests`, "requests");
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

  /** A card given with the request must be this resident's and still being produced or in use. */
  private async cardOf(cardId: string, residentId: string): Promise<{ id: string; expires: JapanDate }> {
    const card = await this.db.selectFrom("cards").select(["resident_id", "status", "expires"]).where("id", "=", cardId).executeTakeFirst();
    if (!card || card.resident_id !== residentId) {
      throw new ServiceError("invalid-input", `cardId: no card ${cardId} of resident ${residentId}`, "cardId");
    }
    if (!CARD_STATES_FOR_ISSUANCE.includes(card.status)) {
      throw new ServiceError("invalid-input", `cardId: card ${cardId} is ${card.status}; certificates go only on a card being produced or in use`, "cardId");
    }
    return { id: cardId, expires: card.expires };
  }
}

function checkId(value: unknown, field: string): string {
  if (typeof value !== "string" || !ID.test(value)) throw new ServiceError("invalid-input", `${field}: expected an id of 1 to 40 letters, digits and hyphens`, field);
  return value;
}

function publicKeyOf(value: unknown): SubjectPublicKey {
  if (typeof value !== "string" || value.length > ISSUANCE_REQUEST_LIMITS.maxPublicKeyBase64 || value.length % 4 !== 0 || !BASE64.test(value)) {
    throw new ServiceError("invalid-input", "subjectPublicKey: expected the base64 of a SubjectPublicKeyInfo (DER)", "subjectPublicKey");
  }
  try {
    return readRsaSubjectPublicKey(new Uint8Array(Buffer.from(value, "base64")));
  } catch (error) {
    if (error instanceof SubjectPublicKeyError) throw new ServiceError("invalid-input", `subjectPublicKey: ${error.message}`, "subjectPublicKey");
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
