import { randomBytes, randomInt } from "node:crypto";
import type { Kysely } from "kysely";
import type { ApplicationTable, Database, ProxyApplicationTable } from "../../store/schema.ts";
import type { CaType } from "../../pki/jpki-profile.ts";
import { compareJapanDates, japanDateOf, type JapanDate } from "../../rules/japan-date.ts";
import { isRenewalWindowOpen, renewalFrom } from "../../rules/validity.ts";
import { hasLegalRepresentative, signingEligibility } from "../../rules/eligibility.ts";
import { checkFourDigitPin, checkSigningPassword } from "../../rules/pin-policy.ts";
import { revocationsFor, type RevocationReason } from "../../rules/revocation.ts";
import { cardHeldError, heldCard, type Cards } from "../cards.ts";
import { recoverInterrupted } from "./interrupted.ts";
import { checkedIdentity, type IdentityCheck } from "./identity.ts";
import type { CertificateAuthorities, CertificateRecord, CertificateSummary } from "../certificate-authority.ts";
import type { Registry, Resident } from "../registry.ts";
import { applyRevocation } from "../revocation.ts";
import { ServiceError } from "../errors.ts";
import { inputErrorAs } from "../input-errors.ts";
import { freeText } from "../free-text.ts";
import { refuseOtherCounter, refuseOtherMunicipality } from "../office-scope.ts";
import { appendAudit, type Actor } from "../audit.ts";
import type { Clock } from "../clock.ts";
import type { CardIssueRequest } from "../cards.ts";
import { DEFAULT_FEES, type FeeSchedule } from "../../config/fees.ts";
import { PROXY_ANSWER_ATTEMPTS, PROXY_TYPES, proxyAnswerDeadline, proxyCompletion, sameDayAllowed, type ProxyType } from "../../rules/proxy.ts";
import { checkPassword, hashPassword } from "./staff.ts";
import { freeFee, reissueFee, type FeeDecision, type ReissueReason, REISSUE_REASONS } from "./fees.ts";
import { senderFor } from "./notices.ts";
import { checkedLegalRepresentative, type LegalRepresentative, type LegalRepresentativeInput } from "./legal-representative.ts";

/**
 * The procedures the holder applies for in person at the window — through their legal
 * representative when under 15 or under guardianship (legal-representative.ts). Not the loss
 * report or the card's suspension: the call centre takes those from anyone, by telephone too.
 */
const BY_THE_HOLDER: readonly ProcedureKind[] = ["new-issuance", "renewal", "revocation", "pin-init", "card-found", "card-return", "handover", "reissue", "suspension-lift"];

export type ProcedureKind =
  | "card-issuance"
  | "new-issuance"
  | "renewal"
  | "revocation"
  | "pin-init"
  | "loss-report"
  | "card-found"
  | "card-return"
  | "handover"
  | "reissue"
  | "card-suspension"
  | "suspension-lift";

/** The procedures a proxy (代理人) may apply for, with the 照会書兼回答書 round trip. */
export type ProxyProcedureKind = "renewal" | "new-issuance" | "pin-init" | "revocation";
export const PROXY_PROCEDURES: readonly ProxyProcedureKind[] = ["renewal", "new-issuance", "pin-init", "revocation"];

export const PROCEDURE_LABEL: Record<ProxyProcedureKind, { ja: string; en: string }> = {
  renewal: { ja: "電子証明書の更新", en: "certificate renewal" },
  "new-issuance": { ja: "電子証明書の新規発行", en: "new issuance of certificates" },
  "pin-init": { ja: "暗証番号の初期化", en: "PIN initialisation" },
  revocation: { ja: "電子証明書の失効申請", en: "certificate revocation" },
};

const PROXY_TYPE_LABEL: Record<ProxyType, string> = { appointed: "任意代理人", legal: "法定代理人", household: "同一世帯員" };

export interface ProcedureOutcome {
  applicationId: string;
  kind: ProcedureKind;
  cardId: string;
  issued: CertificateSummary[];
  revoked: { type: CaType; serialHex: string; reason: RevocationReason }[];
  feeYen: number;
  /** How the fee was decided (amounts and why). */
  fee: FeeDecision;
  /** A reissue's new card. */
  newCardId?: string;
  /** Certificates still on hold after a suspension is lifted: they need the card-found procedure. */
  held?: { type: CaType; serialHex: string }[];
  /** The proxy who completed it, when one did. */
  proxy?: { name: string; relationship: string; type: ProxyType };
  /** The legal representative who applied for a child under 15 or an adult under guardianship. */
  legalRepresentative?: LegalRepresentative;
}

export interface ProxyInput {
  name: string;
  relationship: string;
  /** Default `appointed` (任意代理人). */
  type?: ProxyType;
  /** The holder gave a 委任状 (lets a household member finish the same day). */
  letterOfAttorney?: boolean;
}

export interface ProxyStart {
  applicationId: string;
  kind: ProxyProcedureKind;
  cardId: string;
  residentId: string;
  state: "awaiting-proxy";
  proxyType: ProxyType;
  startedOn: JapanDate;
  expiresOn: JapanDate;
  /** Whether this proxy may complete it today (legal representative, household member with a 委任状). */
  sameDayAllowed: boolean;
  /** The 照会書兼回答書 (PDF) — the only place the answer code appears; it is stored hashed. */
  letter: { filename: string; contentType: "application/pdf"; pdf: Uint8Array };
}

export interface ProxyStatus {
  applicationId: string;
  kind: string;
  cardId: string | null;
  residentId: string;
  state: ApplicationTable["state"];
  proxy: { name: string; relationship: string; type: ProxyType; letterOfAttorney: boolean };
  startedOn: JapanDate;
  expiresOn: JapanDate;
  attempts: number;
  attemptsLeft: number;
  completedAt: string | null;
}

/** Where a run comes from when it is not a fresh application at the window (a proxy's second visit). */
interface RunVia {
  applicationId: string;
  proxy: { name: string; relationship: string; type: ProxyType };
}

/** Who applies at the window: the holder, whose identity is checked, or their legal representative (法定代理人). */
interface WindowApplicant {
  identity: IdentityCheck | null;
  /** Required for a child under 15 or an adult under guardianship, refused for anyone else (checkedLegalRepresentative). */
  legalRepresentative?: LegalRepresentativeInput | undefined;
}

export interface NewPins {
  auth?: string;
  sign?: string;
}

/**
 * The window procedures (窓口), each an application with a state and every step in the audit
 * trail, carried out through the card in the counter's reader as a counter terminal — never by
 * reaching into the card's storage. A card is claimed for the length of a procedure, so two
 * clerks cannot both renew the same card.
 */
export class CounterProcedures {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly cards: Cards,
    private readonly ca: CertificateAuthorities,
    private readonly registry: Registry,
    private readonly clock: Clock,
    /** Reissue fees (src/config/fees.ts); a deployment passes feeScheduleFrom(env). */
    readonly fees: FeeSchedule = DEFAULT_FEES,
  ) {}

  /** 更新: from three months before expiry; within the window the new certificate gets the 6th birthday. */
  renew(input: { cardId: string; types?: CaType[]; pins?: NewPins; identity: IdentityCheck; legalRepresentative?: LegalRepresentativeInput }, actor: Actor, via?: RunVia) {
    return this.run("renewal", input.cardId, input, actor, via, async (ctx) => {
      const types = order(input.types ?? ["auth", "sign"]);
      const today = japanDateOf(this.clock());
      const current = await this.currentOnCard(input.cardId);
      for (const type of types) {
        const cert = current.get(type);
        if (!cert) {
          await this.refuseHeld(input.cardId, type, "types");
          throw new ServiceError("refused", `有効な${label(type)}がありません。新規発行の手続きをしてください / no valid ${type} certificate on this card: use new issuance`, "types", { reason: "nothing-to-renew" });
        }
        if (!isRenewalWindowOpen(cert.expires, today)) {
          throw new ServiceError(
            "refused",
            `更新は有効期限の3か月前（${renewalFrom(cert.expires)}）からです / renewal opens on ${renewalFrom(cert.expires)}, three months before expiry (${cert.expires})`,
            "types",
            { reason: "outside-renewal-window" },
          );
        }
      }
      await this.loadCertificates(ctx, types, input.pins ?? {}, { renewal: true, replacing: current });
    });
  }

  /** 新規発行: onto a card with none of that type valid (none yet, expired, or revoked). */
  newIssuance(input: { cardId: string; types?: CaType[]; pins: NewPins; identity: IdentityCheck; legalRepresentative?: LegalRepresentativeInput }, actor: Actor, via?: RunVia) {
    return this.run("new-issuance", input.cardId, input, actor, via, async (ctx) => {
      const types = order(input.types ?? ["auth", "sign"]);
      const current = await this.currentOnCard(input.cardId);
      const held = new Set((await this.heldOnCard(input.cardId)).map((c) => c.type));
      for (const type of types) {
        if (current.has(type)) {
          throw new ServiceError("refused", `有効な${label(type)}があります（更新は有効期限の3か月前から）/ the card already holds a valid ${type} certificate`, "types", { reason: "already-valid" });
        }
        // A held certificate is never lifted: the card-found procedure revokes it and issues the new one.
        if (held.has(type)) {
          throw new ServiceError("refused", `${label(type)}が一時保留中です。「紛失カードの発見」の手続きをしてください / the card's ${type} certificate is on hold: use the card-found procedure`, "types", { reason: "on-hold" });
        }
      }
      await this.loadCertificates(ctx, types, input.pins, { renewal: false, replacing: new Map() });
    });
  }

  /** 失効申請: the holder asks for one or both certificates to be revoked. */
  revokeOnRequest(input: { cardId: string; types: CaType[]; identity: IdentityCheck; legalRepresentative?: LegalRepresentativeInput }, actor: Actor, via?: RunVia) {
    return this.run("revocation", input.cardId, input, actor, via, async (ctx) => {
      await this.requireRevocable(input.cardId, order(input.types));
      for (const type of order(input.types)) {
        const reason = revocationsFor({ kind: "holder-request", type })[type]!;
        await this.revokeOnCard(ctx, type, reason, ["valid", "hold"]);
      }
    });
  }

  /** 暗証番号の初期化: the resident enters a new PIN on the terminal; its retry counter is restored. */
  initialisePin(input: { cardId: string; type: CaType; newPin: string; identity: IdentityCheck; legalRepresentative?: LegalRepresentativeInput }, actor: Actor, via?: RunVia) {
    return this.run("pin-init", input.cardId, input, actor, via, async (ctx) => {
      const pin = checkPin(input.type, input.newPin, "new-pin");
      await this.requireCurrent(input.cardId, input.type);
      await this.cards.withCounterSession(input.cardId, (session) => session.setPin(input.type, pin));
      ctx.detail.pinReset = input.type;
    });
  }

  /** 一時停止 (loss report, the 24-hour hotline): both certificates on hold, the card suspended. */
  reportLoss(input: { cardId: string }, actor: Actor) {
    return this.run("loss-report", input.cardId, { identity: null }, actor, undefined, async (ctx) => {
      for (const type of ["auth", "sign"] as const) await this.revokeOnCard(ctx, type, "certificateHold", ["valid"]);
      await this.setSuspended(input.cardId, true);
    });
  }

  /**
   * A lost card found again: the hold is never lifted — the held certificates are revoked
   * (keyCompromise) and new ones issued; the card's suspension is lifted. A new signing
   * certificate comes unless the resident declines it (noSign) or is no longer eligible; a new
   * authentication certificate unless the resident declines it (noAuth).
   */
  cardFound(input: { cardId: string; pins: NewPins; noSign?: boolean; noAuth?: boolean; identity: IdentityCheck; legalRepresentative?: LegalRepresentativeInput }, actor: Actor) {
    return this.run("card-found", input.cardId, input, actor, undefined, async (ctx) => {
      const card = await this.cards.get(input.cardId);
      const held = await this.heldOnCard(input.cardId);
      // A card whose suspension was already lifted may still hold certificates on hold.
      if (card.status !== "suspended" && held.length === 0) {
        throw new ServiceError("refused", "このカードは一時停止されていません / this card was not reported lost", "card", { reason: "not-suspended" });
      }
      // Everything is checked before the held certificates are revoked: a refusal leaves the
      // card as it was, to be tried again (the revocation cannot be undone).
      const resident = await this.registry.get(card.residentId);
      const eligibleForSign = signingEligibility({ birth: resident.birth, on: japanDateOf(this.clock()), guardianship: resident.guardianship }).eligible;
      if (input.noSign && input.pins.sign !== undefined) throw new ServiceError("invalid-input", "sign-pin: 署名用電子証明書を発行しない場合、署名用の暗証番号は入力しません / not with noSign", "sign-pin");
      if (input.noAuth && input.pins.auth !== undefined) {
        throw new ServiceError("invalid-input", "利用者証明用電子証明書を発行しない場合、利用者証明用の暗証番号は入力しません / auth-pin: not with noAuth", "auth-pin");
      }
      // A type whose replacement is already on the card (a card-found cut off before it revoked the
      // held one) gets no other: its held certificate is only revoked, below.
      const replaced = await this.currentOnCard(input.cardId);
      const wanted = held.map((c) => c.type).filter((t) => !replaced.has(t) && (t === "auth" ? !input.noAuth : eligibleForSign && !input.noSign));
      // A card with nothing on hold (it held no certificates when reported lost) gets none: only its suspension is lifted.
      const types = wanted.length > 0 ? order(wanted) : [];
      this.checkedPins(resident, types, input.pins, false);
      // Each held certificate is revoked once its replacement is on the card, the declined ones
      // after, and the suspension is lifted last: a procedure that stops midway leaves the card
      // suspended with what is still on hold, and doing it again does the rest.
      const replacing = new Map(held.filter((c) => types.includes(c.type)).map((c) => [c.type, c] as const));
      if (types.length > 0) await this.loadCertificates(ctx, types, input.pins, { renewal: false, replacing, replacedAs: "keyCompromise" });
      for (const type of ["auth", "sign"] as const) await this.revokeOnCard(ctx, type, "keyCompromise", ["hold"]);
      ctx.revoked.sort((a, b) => (a.type === b.type ? 0 : a.type === "auth" ? -1 : 1)); // listed authentication first, as before
      await this.setSuspended(input.cardId, false);
    });
  }

  /** 返納: the card is returned; both certificates are revoked. */
  returnCard(input: { cardId: string; identity: IdentityCheck; legalRepresentative?: LegalRepresentativeInput }, actor: Actor) {
    return this.run("card-return", input.cardId, input, actor, undefined, async (ctx) => {
      const reasons = revocationsFor({ kind: "card-return" });
      for (const type of ["auth", "sign"] as const) await this.revokeOnCard(ctx, type, reasons[type]!, ["valid", "hold"]);
      await this.cards.setStatus(input.cardId, "returned");
    });
  }

  /** 交付: the card is handed over at the counter on the 交付日, recorded apart from the issuance date. */
  handOver(input: { cardId: string; identity: IdentityCheck; pins?: NewPins & { kenhojo?: string }; legalRepresentative?: LegalRepresentativeInput }, actor: Actor) {
    return this.run("handover", input.cardId, input, actor, undefined, async (ctx) => {
      const card = await this.cards.get(input.cardId);
      if (card.handedOverDate) throw new ServiceError("conflict", `このカードは ${card.handedOverDate} に交付済みです / card ${input.cardId} was handed over on ${card.handedOverDate}`, "card", { reason: "already-handed-over" });
      const pins = input.pins ?? {};
      if (card.pinsPending) {
        // The resident sets the PINs on the terminal now, through the card's issuer commands.
        const current = await this.currentOnCard(input.cardId);
        const hasAuth = current.has("auth");
        const hasSign = current.has("sign");
        if (hasAuth && !pins.auth) throw new ServiceError("invalid-input", "auth-pin: 利用者証明用の暗証番号は交付のときに住民の方が設定します。入力してください / the resident sets the authentication PIN at handover", "auth-pin");
        // Refused, not dropped: on a card without one, an authentication PIN would silently become the 券面事項入力補助 PIN.
        if (!hasAuth && pins.auth) {
          throw new ServiceError("invalid-input", "このカードには利用者証明用電子証明書がないため、利用者証明用の暗証番号は設定しません / auth-pin: this card holds no authentication certificate", "auth-pin");
        }
        if (!hasAuth && !pins.kenhojo) {
          throw new ServiceError("invalid-input", "券面事項入力補助用の暗証番号を入力してください / kenhojo-pin: the resident sets the 券面事項入力補助 PIN at handover (no authentication PIN to take it from)", "kenhojo-pin");
        }
        if (hasSign && !pins.sign) throw new ServiceError("invalid-input", "sign-pin: 署名用の暗証番号は交付のときに住民の方が設定します。入力してください / the resident sets the signing password at handover", "sign-pin");
        // Likewise refused, not dropped: the resident would believe a signing password was set.
        if (!hasSign && pins.sign) {
          throw new ServiceError("invalid-input", "このカードには署名用電子証明書がないため、署名用パスワードは設定しません / sign-pin: this card holds no signing certificate", "sign-pin");
        }
        const auth = hasAuth ? checkPin("auth", pins.auth!, "auth-pin") : undefined;
        const sign = hasSign ? checkPin("sign", pins.sign!, "sign-pin") : undefined;
        const kenhojo = checkPin("auth", (pins.kenhojo ?? pins.auth)!, "kenhojo-pin");
        await this.cards.withCounterSession(input.cardId, async (session) => {
          if (auth) await session.setPin("auth", auth);
          if (sign) await session.setPin("sign", sign);
          await session.setPin("kenhojo", kenhojo);
        });
        ctx.detail.pinsSet = [...(auth ? ["auth"] : []), ...(sign ? ["sign"] : []), "kenhojo"];
      } else if (pins.auth || pins.sign) {
        throw new ServiceError("invalid-input", "auth-pin: このカードの暗証番号は作製のときに設定済みです / this card's PINs were set when it was produced", "auth-pin");
      }
      const today = japanDateOf(this.clock());
      await this.cards.setStatus(input.cardId, card.status, { handedOverDate: today, pinsSet: card.pinsPending });
      ctx.detail.handedOverDate = today;
      ctx.detail.certificateIssuanceDate = card.producedDate;
    });
  }

  /**
   * Card application and production (交付申請 → 作製): the card is produced with both
   * certificates (unless declined) — that day is their issuance date — and the 交付通知書 is
   * ready. Free: a first card, or a new one after the old expired or was returned. A resident
   * whose card is still current gets a reissue instead.
   */
  async produceCard(input: Omit<CardIssueRequest, "actor"> & { legalRepresentative?: LegalRepresentativeInput }, actor: Actor) {
    const { legalRepresentative: given, ...request } = input;
    const resident = await this.registry.get(request.residentId);
    await this.refuseOtherTownsResident(actor, resident);
    await this.cards.spoilAbandoned(resident.id, actor);
    const today = japanDateOf(this.clock());
    const previous = await this.db.selectFrom("cards").select(["id", "status", "expires"]).where("resident_id", "=", resident.id).execute();
    // Checked again where the card is made, atomically (Cards.issue): this early refusal opens no application.
    const current = heldCard(previous, today);
    if (current) throw cardHeldError(current.id);
    // A child under 15 or an adult under guardianship applies through the legal representative: also refused before any application.
    const legalRepresentative = checkedLegalRepresentative(given, resident, today);
    const fee = freeFee(previous.length === 0 ? "first-issuance" : "new-card");
    const id = await this.openApplication("card-issuance", resident.id, null, actor, { identity: null, ...(legalRepresentative ? { legalRepresentative } : {}) });
    let card: Awaited<ReturnType<Cards["issue"]>>;
    try {
      card = await this.cards.issue({ ...request, applicationId: id, actor });
    } catch (error) {
      await this.closeApplication(id, "card-issuance", actor, "failed", { error: error instanceof Error ? error.message : String(error) });
      throw error;
    }
    await this.auditOnly(actor, "notice.issuance.ready", card.id, { resident: resident.id, application: id, producedDate: card.producedDate });
    await this.closeApplication(id, "card-issuance", actor, "completed", { card: card.id, issued: card.certificates.map((c) => `${c.type}:${c.serialHex}`) }, fee);
    return { ...card, applicationId: id, fee, issuanceNotice: `/api/counter/cards/${card.id}/issuance-notice`, ...(legalRepresentative ? { legalRepresentative } : {}) };
  }

  /**
   * 再交付: a new card for a resident whose card was lost, stolen or damaged. The old card's
   * certificates still valid or on hold are revoked (keyCompromise for a lost or stolen card,
   * cessationOfOperation for a damaged one) and the old card is marked replaced. Charged when
   * the holder caused it (card + certificates, src/config/fees.ts); free otherwise — theft with a
   * police report, a fault of the card — and within three months of the old card's expiry.
   */
  reissue(
    input: {
      cardId: string;
      reason: ReissueReason;
      causedByHolder: boolean;
      policeReportNumber?: string;
      /** Required unless noAuth. */
      authPin?: string;
      signPin?: string;
      noSign?: boolean;
      noAuth?: boolean;
      /** The new card's 券面事項入力補助 PIN: defaults to authPin; required with noAuth. */
      kenhojoPin?: string;
      identity: IdentityCheck;
      legalRepresentative?: LegalRepresentativeInput;
    },
    actor: Actor,
  ) {
    return this.run("reissue", input.cardId, input, actor, undefined, async (ctx) => {
      if (!REISSUE_REASONS.includes(input.reason)) throw new ServiceError("invalid-input", `reason: 再交付の理由を選んでください / one of ${REISSUE_REASONS.join(", ")}`, "reason");
      // Free text for the application and the audit trail, checked like the others (a blank one is none).
      const given = input.policeReportNumber;
      const policeReportNumber = given === undefined || given === null || given.trim() === "" ? undefined : freeText(given.trim(), "policeReportNumber", 40);
      const old = await this.cards.get(input.cardId);
      const today = japanDateOf(this.clock());
      const revokeReason: RevocationReason = input.reason === "loss" || input.reason === "theft" ? "keyCompromise" : "cessationOfOperation";
      /** The fee (its certificates' part only for certificates issued) and the record, the same whether the reissue runs whole or is finished after a cut. */
      const setFeeAndRecord = (withCertificates: boolean, resumed?: string) => {
        ctx.fee = reissueFee({ reason: input.reason, causedByHolder: input.causedByHolder, ...(policeReportNumber ? { policeReportNumber } : {}), oldCardExpires: old.expires, today, withCertificates }, this.fees);
        ctx.detail.reissue = { reason: input.reason, causedByHolder: input.causedByHolder, policeReportNumber: policeReportNumber ?? null, ...(resumed ? { resumed } : {}) };
      };
      const revokeOld = async () => {
        for (const type of ["auth", "sign"] as const) await this.revokeOnCard(ctx, type, revokeReason, ["valid", "hold"]);
      };
      // A reissue cut off after its new card was made, before the old one was marked replaced:
      // the new card is the replacement (the resident cannot be given a second), so it is finished.
      const made = await this.replacementMadeBefore(old);
      if (made) {
        setFeeAndRecord(made.certificates > 0, made.applicationId);
        await revokeOld();
        await this.markReplaced(ctx, old, { id: made.id, producedDate: made.producedDate });
        return;
      }
      const request: CardIssueRequest = {
        residentId: old.residentId,
        replaces: old.id,
        ...(input.authPin !== undefined ? { authPin: input.authPin } : {}),
        ...(input.signPin !== undefined ? { signPin: input.signPin } : {}),
        ...(input.kenhojoPin !== undefined ? { kenhojoPin: input.kenhojoPin } : {}),
        ...(input.noSign ? { noSign: true } : {}),
        ...(input.noAuth ? { noAuth: true } : {}),
        actor,
      };
      // Checked before the old card's certificates are revoked: a refused request leaves them as they were.
      const { types } = await this.cards.checkIssueRequest(request);
      // None issued when the holder declines both (or declines auth and cannot have sign).
      setFeeAndRecord(types.length > 0);
      await revokeOld();
      const card = await this.cards.issue(request);
      ctx.issued.push(...card.certificates);
      await this.markReplaced(ctx, old, card);
    });
  }

  /** The old card replaced by the new one (linked both ways), in one transaction with its audit records. */
  private async markReplaced(ctx: RunContext, old: { id: string; status: string; residentId: string }, card: { id: string; producedDate: JapanDate }): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      // Cards.issue links a replacement as it makes it; a card a cut reissue made before that link existed gets it here.
      await trx.updateTable("cards").set({ replaces_card_id: old.id }).where("id", "=", card.id).execute();
      await trx.updateTable("cards").set({ status: "replaced", suspended_at: null, updated_at: this.clock().toISOString() }).where("id", "=", old.id).execute();
      await appendAudit(trx, ctx.actor, { action: "card.replace", subject: old.id, before: { status: old.status }, after: { status: "replaced", replacedBy: card.id } }, this.clock());
      await appendAudit(trx, ctx.actor, { action: "notice.issuance.ready", subject: card.id, after: { resident: old.residentId, application: ctx.applicationId, producedDate: card.producedDate } }, this.clock());
    });
    ctx.newCardId = card.id;
    ctx.detail.newCard = card.id;
  }

  /**
   * The card a reissue of `old` made before it was cut off (recoverInterrupted closed it as
   * interrupted): the resident's card in use made since, linked to `old` (or, made by an earlier
   * version, to none). No other
   * way makes one meanwhile — a card application is refused while `old` is held.
   */
  private async replacementMadeBefore(old: { id: string; residentId: string }): Promise<{ id: string; producedDate: JapanDate; applicationId: string; certificates: number } | undefined> {
    const cut = (await this.db.selectFrom("applications").select(["id", "created_at", "detail"]).where("card_id", "=", old.id).where("kind", "=", "reissue").where("state", "=", "failed").execute())
      .filter((a) => (JSON.parse(a.detail) as { interrupted?: unknown }).interrupted === true)
      .sort((a, b) => a.created_at.localeCompare(b.created_at));
    if (cut.length === 0) return undefined;
    const card = await this.db
      .selectFrom("cards")
      .select(["id", "produced_date"])
      .where("resident_id", "=", old.residentId)
      .where("id", "!=", old.id)
      .where("status", "=", "active")
      .where((eb) => eb.or([eb("replaces_card_id", "is", null), eb("replaces_card_id", "=", old.id)]))
      .where("created_at", ">=", cut[0]!.created_at)
      .orderBy("created_at")
      .executeTakeFirst();
    if (!card) return undefined;
    const certificates = (await this.ca.certificatesOf(old.residentId)).filter((c) => c.cardId === card.id).length;
    return { id: card.id, producedDate: card.produced_date, applicationId: cut[0]!.id, certificates };
  }

  /**
   * 一時停止 of the card (the call centre, or at the window): a card-level state only — the
   * certificates are not touched here (the loss report puts them on hold).
   */
  suspend(input: { cardId: string; identity?: IdentityCheck }, actor: Actor) {
    return this.run("card-suspension", input.cardId, { identity: input.identity ?? null }, actor, undefined, async (ctx) => {
      const card = await this.cards.get(input.cardId);
      if (card.status === "suspended") throw new ServiceError("conflict", "このカードはすでに一時停止中です / the card is already suspended", "card", { reason: "already-suspended" });
      if (card.status !== "active") throw new ServiceError("refused", `このカードは一時停止できません（${card.status}）/ a ${card.status} card cannot be suspended`, "card", { reason: `card-${card.status}` });
      await this.setSuspended(input.cardId, true);
      ctx.detail.cardStatus = { before: card.status, after: "suspended" };
    });
  }

  /**
   * 一時停止の解除: the card turned up before a replacement was issued. Only the card's state
   * changes; certificates on hold stay on hold (a hold is never lifted) and need the
   * card-found procedure (revoked, new ones issued) — the outcome lists them.
   */
  liftSuspension(input: { cardId: string; identity: IdentityCheck; legalRepresentative?: LegalRepresentativeInput }, actor: Actor) {
    return this.run("suspension-lift", input.cardId, input, actor, undefined, async (ctx) => {
      const card = await this.cards.get(input.cardId);
      const replacement = await this.db.selectFrom("cards").select(["id", "status"]).where("replaces_card_id", "=", input.cardId).where("status", "!=", "spoiled").executeTakeFirst();
      if (replacement) {
        throw new ServiceError("refused", `再交付のカード（${replacement.id}）が発行済みのため、一時停止は解除できません / a replacement card (${replacement.id}) was issued: the suspension cannot be lifted`, "card", { reason: "replacement-issued" });
      }
      if (card.status !== "suspended") throw new ServiceError("refused", "このカードは一時停止されていません / the card is not suspended", "card", { reason: "not-suspended" });
      await this.setSuspended(input.cardId, false);
      ctx.held = await this.heldOnCard(input.cardId);
      ctx.detail.cardStatus = { before: "suspended", after: "active" };
      ctx.detail.stillOnHold = ctx.held.map((h) => `${h.type}:${h.serialHex}`);
    });
  }

  // ---- the proxy (代理人) two-visit procedure ----

  /**
   * A proxy applies (first visit): the application waits in `awaiting-proxy`, and the
   * 照会書兼回答書 addressed to the holder's registered address carries a random 8-digit answer
   * code, stored only as a hash. The proxy brings the form back on a later day (completeProxy).
   */
  async startProxy(
    input: { kind: ProxyProcedureKind; cardId: string; proxy: ProxyInput; types?: CaType[]; pinType?: CaType; identity?: IdentityCheck },
    actor: Actor,
  ): Promise<ProxyStart> {
    if (!PROXY_PROCEDURES.includes(input.kind)) throw new ServiceError("invalid-input", `kind: 代理人が申請する手続きを選んでください / one of ${PROXY_PROCEDURES.join(", ")}`, "kind");
    const proxyType = input.proxy.type ?? "appointed";
    if (!PROXY_TYPES.includes(proxyType)) throw new ServiceError("invalid-input", `proxy.type: 代理人の種類を選んでください / one of ${PROXY_TYPES.join(", ")}`, "proxy.type");
    // The proxy's name and relationship go into the letter and the audit trail: no controls, no bidi overrides.
    const proxyName = freeText(input.proxy.name ?? "", "proxy.name", 100);
    const relationship = freeText(input.proxy.relationship ?? "", "proxy.relationship", 50);
    const identity = input.identity ? checkedIdentity(input.identity, "identity") : null;
    const request: Record<string, unknown> = {};
    if (input.kind === "pin-init") {
      if (input.pinType !== "auth" && input.pinType !== "sign") throw new ServiceError("invalid-input", "pinType: 初期化する暗証番号（利用者証明用か署名用か）を選んでください / auth or sign", "pinType");
      request.pinType = input.pinType;
    } else if (input.kind === "revocation") {
      request.types = order(input.types ?? []);
    } else if (input.types) {
      request.types = order(input.types);
    }
    const card = await this.cards.get(input.cardId);
    if (card.status !== "active" && !(card.status === "suspended" && input.kind === "revocation")) {
      throw new ServiceError("refused", `このカードでは手続きできません（${card.status}）/ card ${card.id} is ${card.status}`, "card", { reason: `card-${card.status}` });
    }
    const resident = await this.registry.get(card.residentId);
    await this.refuseOtherTownsResident(actor, resident);
    if (resident.status !== "registered") {
      // After moving abroad only the holder can apply (spec §2.3): no proxy.
      throw new ServiceError("refused", `住民登録がないため代理人による申請はできません（${resident.status}）/ no proxy for a resident who is ${resident.status}`, "card", { reason: "not-registered" });
    }
    // A legal representative finishes the same day without the answer form: only someone who has
    // one (a minor, an adult under guardianship) can be applied for as one.
    if (proxyType === "legal" && !hasLegalRepresentative({ birth: resident.birth, on: japanDateOf(this.clock()), guardianship: resident.guardianship })) {
      throw new ServiceError(
        "refused",
        "この方は18歳以上で成年被後見人ではないため、法定代理人はいません。任意代理人（または同一世帯員）として申請してください / proxy.type: the holder is 18 or over and not under guardianship, so has no legal representative: apply as an appointed proxy (or a household member)",
        "proxy.type",
        { reason: "no-legal-representative" },
      );
    }
    // Refused now, not at the proxy's second visit: the answer form would be for nothing.
    if (input.kind === "pin-init") await this.requireCurrent(card.id, input.pinType!);
    if (input.kind === "revocation") await this.requireRevocable(card.id, request.types as CaType[]);
    // Checked here to refuse early, and again where the application is written (two clerks at once).
    await this.refusePendingProxy(this.db, card.id);

    const now = this.clock();
    const startedOn = japanDateOf(now);
    const expiresOn = proxyAnswerDeadline(startedOn);
    const answerCode = String(randomInt(0, 100_000_000)).padStart(8, "0");
    const letterOfAttorney = input.proxy.letterOfAttorney === true;
    const proxy = { name: proxyName, relationship, type: proxyType, letterOfAttorney };
    const id = newApplicationId();
    const row: ProxyApplicationTable = {
      application_id: id,
      proxy_type: proxyType,
      letter_of_attorney: letterOfAttorney ? 1 : 0,
      proxy_name: proxyName,
      proxy_relationship: relationship,
      request: JSON.stringify(request),
      answer_code_hash: await hashPassword(answerCode),
      attempts: 0,
      started_on: startedOn,
      expires_on: expiresOn,
      proxy_identity: null,
      completed_at: null,
    };
    const { renderProxyInquiry } = await import("./notices-pdf.ts"); // lazily: see kiosk-pdf.ts
    const letter = await renderProxyInquiry({
      addressee: { name: resident.name, address: resident.address },
      sender: await senderFor(this.db, actor.office ?? null, resident.municipality),
      applicationId: id,
      procedure: PROCEDURE_LABEL[input.kind],
      proxy: { name: proxyName, relationship, typeJa: PROXY_TYPE_LABEL[proxyType] + (letterOfAttorney ? "・委任状あり" : "") },
      startedOn,
      expiresOn,
      answerCode,
      issuedAt: now,
    });
    const detail = { identity, proxy, request };
    await this.db.transaction().execute(async (trx) => {
      // The card's row is written first, so proxy applications for one card take turns (a row
      // lock on PostgreSQL, the write lock on SQLite): the check then sees one just written.
      await trx.updateTable("cards").set((eb) => ({ id: eb.ref("id") })).where("id", "=", card.id).execute();
      await this.refusePendingProxy(trx, card.id);
      await trx
        .insertInto("applications")
        .values({ id, kind: input.kind, resident_id: resident.id, card_id: card.id, office_id: actor.office ?? null, state: "awaiting-proxy", detail: JSON.stringify(detail), fee_yen: 0, created_by: actor.actor, created_at: now.toISOString(), updated_at: now.toISOString() })
        .execute();
      await trx.insertInto("proxy_applications").values(row).execute();
      await appendAudit(trx, actor, { action: `application.${input.kind}.proxy-start`, subject: id, after: { card: card.id, resident: resident.id, ...detail, startedOn, expiresOn } }, now);
      await appendAudit(trx, actor, { action: "notice.proxy-inquiry.issued", subject: id, after: { addressedTo: resident.id } }, now);
    });
    return {
      applicationId: id,
      kind: input.kind,
      cardId: card.id,
      residentId: resident.id,
      state: "awaiting-proxy",
      proxyType,
      startedOn,
      expiresOn,
      sameDayAllowed: sameDayAllowed(proxyType, letterOfAttorney),
      letter: { filename: `shokaisho-${id}.pdf`, contentType: "application/pdf", pdf: letter },
    };
  }

  /** The application goes through the resident's municipality (住所地市町村長, law art. 3); no exception for holders abroad (no card or proxy for them here). */
  private async refuseOtherTownsResident(actor: Actor, resident: Resident): Promise<void> {
    await refuseOtherMunicipality(this.db, actor, resident.municipality.code, { kind: "resident", residentId: resident.id });
  }

  /** A card has at most one proxy application waiting for its answer form. */
  private async refusePendingProxy(db: Kysely<Database>, cardId: string): Promise<void> {
    const pending = await db.selectFrom("applications").select("id").where("card_id", "=", cardId).where("state", "=", "awaiting-proxy").executeTakeFirst();
    if (pending) throw new ServiceError("conflict", `このカードには回答待ちの代理人申請（${pending.id}）があります / application ${pending.id} for this card is already waiting for its answer form`, "card", { reason: "proxy-pending" });
  }

  async proxyStatus(applicationId: string): Promise<ProxyStatus> {
    const { app, proxy } = await this.proxyApplication(applicationId);
    return {
      applicationId: app.id,
      kind: app.kind,
      cardId: app.card_id,
      residentId: app.resident_id,
      state: app.state,
      proxy: { name: proxy.proxy_name, relationship: proxy.proxy_relationship, type: proxy.proxy_type, letterOfAttorney: proxy.letter_of_attorney === 1 },
      startedOn: proxy.started_on,
      expiresOn: proxy.expires_on,
      attempts: Number(proxy.attempts),
      attemptsLeft: Math.max(0, PROXY_ANSWER_ATTEMPTS - Number(proxy.attempts)),
      completedAt: proxy.completed_at,
    };
  }

  /**
   * The proxy's second visit: refused the same Japan day as the application (unless the rules
   * let this proxy finish the same day), after the deadline, or with a wrong answer code (five
   * wrong codes lock the application). Otherwise the proxy's identity is recorded and the
   * procedure runs through the same machinery as at the window; PINs are entered on the
   * terminal now.
   */
  async completeProxy(
    input: { applicationId: string; answerCode?: string; proxyIdentity: IdentityCheck & { name: string }; pins?: NewPins; newPin?: string },
    actor: Actor,
  ): Promise<ProcedureOutcome> {
    const { app, proxy } = await this.proxyApplication(input.applicationId);
    // Before anything is counted or recorded: another town's counter may not spend the answer-code tries or close the application.
    await this.refuseOtherTownsResident(actor, await this.registry.get(app.resident_id));
    const proxyName = freeText(input.proxyIdentity.name ?? "", "proxyIdentity.name", 100);
    const identity = checkedIdentity(input.proxyIdentity, "proxyIdentity");
    const now = this.clock();
    const today = japanDateOf(now);
    if (Number(proxy.attempts) >= PROXY_ANSWER_ATTEMPTS) {
      throw new ServiceError("refused", "回答番号の誤りが上限に達しました。新たに申請してください / too many wrong answer codes: apply again", "answerCode", { reason: "answer-code-locked" });
    }
    if (app.state !== "awaiting-proxy") {
      throw new ServiceError("conflict", `この申請は回答待ちではありません（${app.state}）/ application ${app.id} is ${app.state}`, "applicationId", { reason: "proxy-not-waiting" });
    }
    let decision;
    try {
      decision = proxyCompletion({ proxyType: proxy.proxy_type, letterOfAttorney: proxy.letter_of_attorney === 1, startedOn: proxy.started_on, today });
    } catch (error) {
      throw inputErrorAs(error, "invalid-input");
    }
    if (!decision.allowed) {
      if (decision.reason === "proxy-expired") {
        await this.closeApplication(app.id, app.kind, actor, "failed", { error: "proxy-expired", expiresOn: proxy.expires_on }, undefined, undefined, "awaiting-proxy");
        throw new ServiceError("refused", `回答期限（${proxy.expires_on}）を過ぎています。新たに申請してください / the answer form expired on ${proxy.expires_on}: apply again`, "applicationId", { reason: "proxy-expired" });
      }
      await this.auditOnly(actor, "application.proxy.refused", app.id, { reason: "proxy-same-day", today });
      throw new ServiceError(
        "refused",
        `代理人による手続きは申請日（${proxy.started_on}）には完了できません。照会書兼回答書を持って ${decision.firstDay} 以降にお越しください / a proxy cannot complete on the day of the application: come back from ${decision.firstDay} with the answer form`,
        "applicationId",
        { reason: "proxy-same-day" },
      );
    }
    const given = input.answerCode?.trim();
    if (decision.answerCodeRequired && !given) throw new ServiceError("invalid-input", "answerCode: 照会書兼回答書の8桁の回答番号を入力してください / the 8-digit code on the 照会書兼回答書", "answerCode");
    if (given !== undefined && given !== "") {
      // The try is counted (committed) before the code is checked, as a PIN's retry counter is:
      // codes sent at once each count, and those past the limit are refused unchecked. A right
      // code gives its try back.
      const attempts = await this.db.transaction().execute(async (trx) => {
        const res = await trx
          .updateTable("proxy_applications")
          .set((eb) => ({ attempts: eb("attempts", "+", 1) }))
          .where("application_id", "=", app.id)
          .where("attempts", "<", PROXY_ANSWER_ATTEMPTS)
          .executeTakeFirst();
        if (Number(res.numUpdatedRows) !== 1) return undefined;
        const row = await trx.selectFrom("proxy_applications").select("attempts").where("application_id", "=", app.id).executeTakeFirstOrThrow();
        return Number(row.attempts);
      });
      if (attempts === undefined) {
        throw new ServiceError("refused", "回答番号の誤りが上限に達しました。新たに申請してください / too many wrong answer codes: apply again", "answerCode", { reason: "answer-code-locked" });
      }
      const ok = /^\d{8}$/.test(given) && (await checkPassword(given, proxy.answer_code_hash));
      if (!ok) {
        await this.auditOnly(actor, "application.proxy.bad-answer-code", app.id, { attempts });
        if (attempts >= PROXY_ANSWER_ATTEMPTS) await this.closeApplication(app.id, app.kind, actor, "failed", { error: "answer-code-locked", attempts }, undefined, undefined, "awaiting-proxy");
        const left = Math.max(0, PROXY_ANSWER_ATTEMPTS - attempts);
        throw new ServiceError("refused", `回答番号が違います（あと${left}回）/ wrong answer code (${left} tries left)`, "answerCode", { reason: "bad-answer-code" });
      }
      await this.db
        .updateTable("proxy_applications")
        .set((eb) => ({ attempts: eb("attempts", "-", 1) }))
        .where("application_id", "=", app.id)
        .where("attempts", ">", 0)
        .execute();
    }
    if (normaliseName(proxyName) !== normaliseName(proxy.proxy_name)) {
      await this.auditOnly(actor, "application.proxy.refused", app.id, { reason: "proxy-mismatch" });
      throw new ServiceError("refused", `来庁者が申請時の代理人（${proxy.proxy_name}）と違います / the person is not the proxy named in the application`, "proxyIdentity.name", { reason: "proxy-mismatch" });
    }
    await this.db.updateTable("proxy_applications").set({ proxy_identity: JSON.stringify({ ...identity, name: proxyName }) }).where("application_id", "=", app.id).execute();
    const via: RunVia = { applicationId: app.id, proxy: { name: proxy.proxy_name, relationship: proxy.proxy_relationship, type: proxy.proxy_type } };
    const request = JSON.parse(proxy.request) as { types?: CaType[]; pinType?: CaType };
    const cardId = app.card_id!;
    const kind = app.kind as ProxyProcedureKind;
    const outcome =
      kind === "renewal"
        ? await this.renew({ cardId, identity, ...(request.types ? { types: request.types } : {}), pins: input.pins ?? {} }, actor, via)
        : kind === "new-issuance"
          ? await this.newIssuance({ cardId, identity, ...(request.types ? { types: request.types } : {}), pins: input.pins ?? {} }, actor, via)
          : kind === "pin-init"
            ? await this.initialisePin({ cardId, identity, type: request.pinType!, newPin: requireText(input.newPin, "newPin") }, actor, via)
            : await this.revokeOnRequest({ cardId, identity, types: request.types! }, actor, via);
    await this.db.updateTable("proxy_applications").set({ completed_at: this.clock().toISOString() }).where("application_id", "=", app.id).execute();
    return outcome;
  }

  private async proxyApplication(applicationId: string): Promise<{ app: ApplicationTable; proxy: ProxyApplicationTable }> {
    if (typeof applicationId !== "string" || !/^A-[0-9A-F]{12}$/.test(applicationId)) throw new ServiceError("invalid-input", "applicationId: 申請番号は A- と16進数12桁です / A- and 12 hexadecimal digits", "applicationId");
    const app = await this.db.selectFrom("applications").selectAll().where("id", "=", applicationId).executeTakeFirst();
    const proxy = await this.db.selectFrom("proxy_applications").selectAll().where("application_id", "=", applicationId).executeTakeFirst();
    if (!app || !proxy) throw new ServiceError("not-found", `申請番号 ${applicationId} の代理人申請はありません / no proxy application ${applicationId}`, "applicationId");
    return { app, proxy };
  }

  async applications(residentId: string): Promise<ApplicationTable[]> {
    return this.db.selectFrom("applications").selectAll().where("resident_id", "=", residentId).orderBy("created_at").execute();
  }

  // ---- the shared machinery ----

  private async run(
    kind: ProcedureKind,
    cardId: string,
    applicant: WindowApplicant,
    actor: Actor,
    via: RunVia | undefined,
    body: (ctx: RunContext) => Promise<void>,
  ): Promise<ProcedureOutcome> {
    // The identity check's note goes to the audit trail as the clerk typed it: checked like every free text.
    const identityChecked = applicant.identity ? checkedIdentity(applicant.identity, "identity") : null;
    const card = await this.cards.get(cardId);
    refuseCardState(kind, card);
    const resident = await this.registry.get(card.residentId);
    // Abroad with continued use, the card stays in use and its holder (in person: no proxy, see
    // proxyApplication) keeps the window procedures for it; no new card (reissue) is made abroad
    // here, and produceCard refuses them through Cards.issue.
    const abroad = resident.status === "emigrated" && resident.continuedUse;
    // The call centre takes the loss report and the suspension from anyone; a holder abroad may
    // apply wherever they are in Japan (office-scope.ts). Everything else is the resident's municipality's.
    if (kind !== "loss-report" && kind !== "card-suspension") {
      await refuseOtherCounter(this.db, actor, { id: resident.id, municipalityCode: resident.municipality.code, abroadWithContinuedUse: abroad });
    }
    if (resident.status !== "registered" && kind !== "card-return" && kind !== "revocation" && (!abroad || kind === "reissue")) {
      throw new ServiceError(
        "refused",
        abroad
          ? `国外転出者（継続利用）はこの手続きはできません（${kind}）/ not for a holder abroad with continued use: ${kind}`
          : `住民登録がありません（${resident.status}）/ resident is ${resident.status}`,
        "card",
        { reason: "not-registered" },
      );
    }
    // Refused before the card is claimed or an application opened, as a bad identity note is. A
    // proxy's visit (via) is the proxy application's own flow: its proxy is recorded instead.
    const legalRepresentative = via || !BY_THE_HOLDER.includes(kind) ? undefined : checkedLegalRepresentative(applicant.legalRepresentative, resident, japanDateOf(this.clock()));
    const release = await this.cards.claim(cardId, kind);
    try {
      // Checked again now the card is ours: another clerk's procedure may have returned,
      // replaced or suspended it since it was read above.
      refuseCardState(kind, await this.cards.get(cardId));
      // Holding the claim, no live procedure is under way on this card: one left in progress was cut off.
      await this.recoverInterrupted(cardId, resident.id, actor);
    } catch (error) {
      await release();
      throw error;
    }
    const now = this.clock();
    const detail: Record<string, unknown> = {
      identity: identityChecked,
      ...(legalRepresentative ? { legalRepresentative } : {}),
      ...(via ? { proxy: via.proxy, proxyVisit: japanDateOf(now) } : {}),
    };
    let id: string;
    try {
      if (via) {
        id = via.applicationId;
        await this.db.transaction().execute(async (trx) => {
          const taken = await trx.updateTable("applications").set({ state: "in-progress", updated_at: now.toISOString() }).where("id", "=", id).where("state", "=", "awaiting-proxy").executeTakeFirst();
          if (Number(taken.numUpdatedRows) !== 1) throw new ServiceError("conflict", `申請 ${id} はもう代理人の再来庁を待っていません / application ${id} is not waiting for its proxy any more`, "applicationId", { reason: "proxy-not-waiting" });
          await appendAudit(trx, actor, { action: `application.${kind}.proxy-complete`, subject: id, after: { card: cardId, resident: resident.id, ...detail } }, now);
        });
      } else {
        id = await this.openApplication(kind, resident.id, cardId, actor, detail);
      }
    } catch (error) {
      await release();
      throw error;
    }
    const ctx: RunContext = { applicationId: id, cardId, residentId: resident.id, actor, issued: [], revoked: [], detail, fee: freeFee(kind) };
    try {
      await body(ctx);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (ctx.chipChanged) {
        // Keys were made on the chip: put card and store in step now, as after a crash (interrupted.ts).
        const recovery = await this.recoverInterrupted(cardId, resident.id, actor, id).catch(() => undefined);
        if (recovery) ctx.detail.recovery = recovery;
      }
      // A proxy's visit that changed nothing (a PIN of the wrong form, a window not yet open) leaves the application waiting.
      const untouched = via && !ctx.chipChanged && ctx.issued.length === 0 && ctx.revoked.length === 0 && ctx.newCardId === undefined;
      await this.finish(ctx, kind, untouched ? "awaiting-proxy" : "failed", { error: message });
      await release();
      throw error;
    }
    await this.finish(ctx, kind, "completed", {});
    await release();
    return {
      applicationId: id,
      kind,
      cardId,
      issued: ctx.issued.map(({ der: _der, ...c }) => c),
      revoked: ctx.revoked,
      feeYen: ctx.fee.amountYen,
      fee: ctx.fee,
      ...(ctx.newCardId ? { newCardId: ctx.newCardId } : {}),
      ...(ctx.held ? { held: ctx.held } : {}),
      ...(via ? { proxy: via.proxy } : {}),
      ...(legalRepresentative ? { legalRepresentative } : {}),
    };
  }

  private async openApplication(kind: ProcedureKind, residentId: string, cardId: string | null, actor: Actor, detail: Record<string, unknown>): Promise<string> {
    const now = this.clock();
    const id = newApplicationId();
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto("applications")
        .values({ id, kind, resident_id: residentId, card_id: cardId, office_id: actor.office ?? null, state: "in-progress", detail: JSON.stringify(detail), fee_yen: 0, created_by: actor.actor, created_at: now.toISOString(), updated_at: now.toISOString() })
        .execute();
      await appendAudit(trx, actor, { action: `application.${kind}.start`, subject: id, after: { card: cardId, resident: residentId, ...detail } }, now);
    });
    return id;
  }

  private async finish(ctx: RunContext, kind: ProcedureKind, state: "completed" | "failed" | "awaiting-proxy", extra: Record<string, unknown>) {
    const detail = { ...ctx.detail, ...extra, issued: ctx.issued.map((c) => `${c.type}:${c.serialHex}`), revoked: ctx.revoked };
    await this.closeApplication(ctx.applicationId, kind, ctx.actor, state, detail, state === "completed" ? ctx.fee : undefined, ctx.detail);
  }

  /** Set an application's final state (with its fee when completed) and audit it, in one transaction. */
  private async closeApplication(
    id: string,
    kind: string,
    actor: Actor,
    state: "completed" | "failed" | "awaiting-proxy",
    extra: Record<string, unknown>,
    fee?: FeeDecision,
    baseDetail?: Record<string, unknown>,
    /** Only an application in this state is closed (a proxy application another visit has taken meanwhile is left alone). */
    from?: ApplicationTable["state"],
  ) {
    const now = this.clock();
    await this.db.transaction().execute(async (trx) => {
      const row = baseDetail ? undefined : await trx.selectFrom("applications").select("detail").where("id", "=", id).executeTakeFirst();
      const detail = { ...(baseDetail ?? (row ? (JSON.parse(row.detail) as Record<string, unknown>) : {})), ...extra, ...(fee ? { fee } : {}) };
      let update = trx
        .updateTable("applications")
        .set({ state, detail: JSON.stringify(detail), updated_at: now.toISOString(), ...(fee ? { fee_yen: fee.amountYen } : {}) })
        .where("id", "=", id);
      if (from) update = update.where("state", "=", from);
      const updated = await update.executeTakeFirst();
      if (from && Number(updated.numUpdatedRows) !== 1) return;
      if (fee) {
        await trx
          .insertInto("fee_records")
          .values({
            id: `F-${randomBytes(6).toString("hex").toUpperCase()}`,
            application_id: id,
            office_id: actor.office ?? null,
            fee_date: japanDateOf(now),
            kind,
            reason: fee.reason,
            card_yen: fee.cardYen,
            certificates_yen: fee.certificatesYen,
            amount_yen: fee.amountYen,
            recorded_by: actor.actor,
            recorded_at: now.toISOString(),
          })
          .execute();
      }
      const action = state === "awaiting-proxy" ? `application.${kind}.proxy-visit-failed` : `application.${kind}.${state}`;
      await appendAudit(trx, actor, { action, subject: id, after: { ...extra, ...(fee ? { fee } : {}) } }, now);
    });
  }

  private async auditOnly(actor: Actor, action: string, subject: string, after: unknown): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await appendAudit(trx, actor, { action, subject, after }, this.clock());
    });
  }

  private async setSuspended(cardId: string, suspended: boolean): Promise<void> {
    const now = this.clock().toISOString();
    await this.db
      .updateTable("cards")
      .set({ status: suspended ? "suspended" : "active", suspended_at: suspended ? now : null, updated_at: now })
      .where("id", "=", cardId)
      .execute();
  }

  private recoverInterrupted(cardId: string, residentId: string, actor: Actor, live?: string) {
    return recoverInterrupted({ db: this.db, cards: this.cards, ca: this.ca, clock: this.clock }, { id: cardId, residentId }, actor, live);
  }

  private async heldOnCard(cardId: string): Promise<{ type: CaType; serialHex: string }[]> {
    const rows = await this.db.selectFrom("certificates").select(["ca_type", "serial_hex"]).where("card_id", "=", cardId).where("status", "=", "hold").orderBy("ca_type").execute();
    return rows.map((r) => ({ type: r.ca_type, serialHex: r.serial_hex }));
  }

  /**
   * The new PINs for the certificates about to be loaded, each checked, and the signing
   * certificate's eligibility: throws naming the first problem, before anything is done.
   * A renewal may keep the PINs it has.
   */
  private checkedPins(resident: Resident, types: readonly CaType[], pins: NewPins, renewal: boolean): Map<CaType, string | undefined> {
    const today = japanDateOf(this.clock());
    const checked = new Map<CaType, string | undefined>();
    for (const type of types) {
      if (type === "sign") {
        const eligibility = signingEligibility({ birth: resident.birth, on: today, guardianship: resident.guardianship });
        if (!eligibility.eligible) {
          throw new ServiceError("not-eligible", eligibility.reason === "under-15" ? "15歳未満の方には署名用電子証明書を発行できません / no signing certificate under 15" : "成年被後見人の方には署名用電子証明書を発行できません / no signing certificate for adults under guardianship", "types", { reason: eligibility.reason });
        }
      }
      const pin = pins[type];
      if (!renewal && pin === undefined) {
        throw new ServiceError("invalid-input", `${label(type)}の暗証番号を入力してください / ${type}-pin: the resident sets the PIN on the terminal`, `${type}-pin`);
      }
      checked.set(type, pin === undefined ? undefined : checkPin(type, pin, `${type}-pin`));
    }
    return checked;
  }

  /**
   * A PIN belongs to a certificate's key: a card with no valid certificate of that type (declined,
   * under 15, expired or revoked) has no PIN to initialise, as at the kiosk; new issuance sets one.
   */
  private async requireCurrent(cardId: string, type: CaType): Promise<void> {
    if ((await this.currentOnCard(cardId)).has(type)) return;
    await this.refuseHeld(cardId, type, "type");
    throw new ServiceError(
      "refused",
      `このカードには有効な${label(type)}がないため、暗証番号の初期化はできません。新規発行の手続きをしてください / this card holds no valid ${type} certificate, so there is no PIN to initialise for it: use new issuance`,
      "type",
      { reason: "no-certificate" },
    );
  }

  /**
   * A revocation request needs something to revoke: refused (naming the types) when the card
   * holds no certificate of any of them that is valid or on hold — asked again after it was done,
   * it would otherwise be recorded as a second revocation that revoked nothing.
   */
  private async requireRevocable(cardId: string, types: readonly CaType[]): Promise<void> {
    const rows = await this.db.selectFrom("certificates").select("ca_type").where("card_id", "=", cardId).where("ca_type", "in", [...types]).where("status", "in", ["valid", "hold"]).execute();
    if (rows.length > 0) return;
    throw new ServiceError(
      "conflict",
      `このカードには失効できる${types.map(label).join("・")}がありません（失効済み、または発行されていません）/ this card holds no ${types.join(" or ")} certificate to revoke (already revoked, or never issued)`,
      "types",
      { reason: "nothing-to-revoke" },
    );
  }

  /** Refuses (on-hold, pointing at card-found) when the card's certificate of `type` is on hold: new issuance would refuse it too. */
  private async refuseHeld(cardId: string, type: CaType, field: string): Promise<void> {
    if (!(await this.heldOnCard(cardId)).some((c) => c.type === type)) return;
    throw new ServiceError("refused", `${label(type)}が一時保留中です。「紛失カードの発見」の手続きをしてください / the card's ${type} certificate is on hold: use the card-found procedure`, field, { reason: "on-hold" });
  }

  /** The valid certificates on this card (not expired today), by type. */
  private async currentOnCard(cardId: string): Promise<Map<CaType, CertificateSummary>> {
    const card = await this.cards.get(cardId);
    const today = japanDateOf(this.clock());
    const current = new Map<CaType, CertificateSummary>();
    for (const c of await this.ca.certificatesOf(card.residentId)) {
      if (c.cardId === cardId && c.status === "valid" && compareJapanDates(c.expires, today) >= 0) current.set(c.type, c);
    }
    return current;
  }

  /**
   * Generate keys on the card, issue, write certificates, set PINs — as a counter terminal.
   * The certificate a new one replaces is revoked once the new one is written: as superseded
   * for a renewal, as `replacedAs` otherwise (card-found: keyCompromise).
   */
  private async loadCertificates(
    ctx: RunContext,
    types: CaType[],
    pins: NewPins,
    mode: { renewal: boolean; replacing: Map<CaType, { serialHex: string }>; /** Default superseded (a renewal). */ replacedAs?: RevocationReason },
  ) {
    const card = await this.cards.get(ctx.cardId);
    const resident = await this.registry.get(card.residentId);
    const checked = this.checkedPins(resident, types, pins, mode.renewal);
    await this.cards.withCounterSession(ctx.cardId, async (session) => {
      for (const type of types) {
        ctx.chipChanged = true;
        const publicKey = await session.generateKeyPair(type);
        const record = await this.ca.issue({ type, residentId: resident.id, subjectPublicKey: publicKey, cardId: ctx.cardId, cardExpiry: card.expires, renewal: mode.renewal, actor: ctx.actor });
        ctx.issued.push(record);
        await session.writeCertificate(type, record.der);
        await session.writeCertificate(`${type}-ca`, this.ca.authority(type).certificateDer);
        const pin = checked.get(type);
        if (pin !== undefined) await session.setPin(type, pin);
        const replaced = mode.replacing.get(type);
        if (replaced) {
          const reason = mode.replacedAs ?? "superseded";
          await this.db.transaction().execute(async (trx) => {
            await applyRevocation(trx, { type, serialHex: replaced.serialHex, reason, at: this.clock(), by: mode.renewal ? `renewal:${record.serialHex}` : "counter" });
          });
          ctx.revoked.push({ type, serialHex: replaced.serialHex, reason });
        }
      }
    });
  }

  /** Revoke the card's certificates of `type` in the given states; returns how many. */
  private async revokeOnCard(ctx: RunContext, type: CaType, reason: RevocationReason, states: ("valid" | "hold")[]): Promise<number> {
    let count = 0;
    await this.db.transaction().execute(async (trx) => {
      // Everything inside the transaction goes through `trx`: SQLite has one connection, and a
      // query on the outer handle would wait for this transaction forever.
      const onCard = await trx
        .selectFrom("certificates")
        .select(["serial_hex"])
        .where("card_id", "=", ctx.cardId)
        .where("ca_type", "=", type)
        .where("status", "in", states)
        .execute();
      for (const cert of onCard.map((r) => ({ serialHex: r.serial_hex }))) {
        await applyRevocation(trx, { type, serialHex: cert.serialHex, reason, at: this.clock(), by: ctx.actor.actor.startsWith("staff:") ? "counter" : "hotline" });
        ctx.revoked.push({ type, serialHex: cert.serialHex, reason });
        count++;
      }
    });
    return count;
  }
}

interface RunContext {
  applicationId: string;
  /** Set before a key is made on the chip: a failure after it leaves card and store to be put in step. */
  chipChanged?: boolean;
  cardId: string;
  residentId: string;
  actor: Actor;
  issued: CertificateRecord[];
  revoked: { type: CaType; serialHex: string; reason: RevocationReason }[];
  detail: Record<string, unknown>;
  fee: FeeDecision;
  newCardId?: string;
  held?: { type: CaType; serialHex: string }[];
}

/** Refuses a procedure the card's state does not allow (returned, replaced, suspended, …). */
function refuseCardState(kind: ProcedureKind, card: { id: string; status: string }): void {
  if (card.status === "returned" || card.status === "spoiled" || card.status === "replaced" || (card.status === "invalid" && kind !== "card-return")) {
    const reason = card.status === "replaced" && kind === "suspension-lift" ? "replacement-issued" : `card-${card.status}`;
    throw new ServiceError("refused", `このカードは使えません（${card.status}）/ card ${card.id} is ${card.status}`, "card", { reason });
  }
  const suspendedOk: ProcedureKind[] = ["card-found", "card-return", "revocation", "reissue", "suspension-lift", "card-suspension", "loss-report"];
  if (card.status === "suspended" && !suspendedOk.includes(kind)) {
    throw new ServiceError("refused", "このカードは一時停止中です / the card is suspended (reported lost)", "card", { reason: "card-suspended" });
  }
}

function newApplicationId(): string {
  return `A-${randomBytes(6).toString("hex").toUpperCase()}`;
}

/** Names compared without spaces of either width (田中 一郎 = 田中　一郎 = 田中一郎). */
function normaliseName(name: string): string {
  return name.normalize("NFKC").replace(/\s+/gu, "");
}

function requireText(value: string | undefined, field: string): string {
  if (typeof value !== "string" || value.length === 0) throw new ServiceError("invalid-input", `${field}: 入力してください / required`, field);
  return value;
}

/** Authentication first: a signing certificate is capped by the authentication certificate's expiry. */
function order(types: CaType[]): CaType[] {
  const unique = [...new Set(types)];
  for (const t of unique) if (t !== "auth" && t !== "sign") throw new ServiceError("invalid-input", `types: 電子証明書の種類は利用者証明用か署名用です / ${String(t)} is not auth or sign`, "types");
  if (unique.length === 0) throw new ServiceError("invalid-input", "types: 電子証明書の種類を選んでください / at least one of auth, sign", "types");
  return unique.sort((a, b) => (a === "auth" ? -1 : b === "auth" ? 1 : 0));
}

function checkPin(type: CaType, pin: string, field: string): string {
  const check = type === "sign" ? checkSigningPassword(pin) : checkFourDigitPin(pin);
  if (!check.ok) throw new ServiceError("invalid-input", `${field}: ${check.message}`, field);
  return check.value;
}

function label(type: CaType): string {
  return type === "sign" ? "署名用電子証明書" : "利用者証明用電子証明書";
}

export type { JapanDate };
