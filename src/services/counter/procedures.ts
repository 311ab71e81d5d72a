import { randomBytes } from "node:crypto";
import type { Kysely } from "kysely";
import type { ApplicationTable, Database } from "../../store/schema.ts";
import type { CaType } from "../../pki/jpki-profile.ts";
import { compareJapanDates, japanDateOf, type JapanDate } from "../../rules/japan-date.ts";
import { isRenewalWindowOpen, renewalFrom } from "../../rules/validity.ts";
import { signingEligibility } from "../../rules/eligibility.ts";
import { checkFourDigitPin, checkSigningPassword } from "../../rules/pin-policy.ts";
import { revocationsFor, type RevocationReason } from "../../rules/revocation.ts";
import type { Cards } from "../cards.ts";
import type { CertificateAuthorities, CertificateRecord } from "../certificate-authority.ts";
import type { Registry } from "../registry.ts";
import { applyRevocation } from "../revocation.ts";
import { ServiceError } from "../errors.ts";
import { appendAudit, type Actor } from "../audit.ts";
import type { Clock } from "../clock.ts";

export type ProcedureKind = "new-issuance" | "renewal" | "revocation" | "pin-init" | "loss-report" | "card-found" | "card-return" | "handover";

export interface ProcedureOutcome {
  applicationId: string;
  kind: ProcedureKind;
  cardId: string;
  issued: Omit<CertificateRecord, "der">[];
  revoked: { type: CaType; serialHex: string; reason: RevocationReason }[];
  feeYen: number;
}

/** How the holder's identity was checked at the window (recorded with the application). */
export interface IdentityCheck {
  document: "my-number-card" | "driver-licence" | "passport" | "residence-card" | "other";
  note?: string;
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
  ) {}

  /** 更新: from three months before expiry; within the window the new certificate gets the 6th birthday. */
  renew(input: { cardId: string; types?: CaType[]; pins?: NewPins; identity: IdentityCheck }, actor: Actor) {
    return this.run("renewal", input.cardId, input.identity, actor, async (ctx) => {
      const types = order(input.types ?? ["auth", "sign"]);
      const today = japanDateOf(this.clock());
      const current = await this.currentOnCard(input.cardId);
      for (const type of types) {
        const cert = current.get(type);
        if (!cert) {
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
  newIssuance(input: { cardId: string; types?: CaType[]; pins: NewPins; identity: IdentityCheck }, actor: Actor) {
    return this.run("new-issuance", input.cardId, input.identity, actor, async (ctx) => {
      const types = order(input.types ?? ["auth", "sign"]);
      const current = await this.currentOnCard(input.cardId);
      for (const type of types) {
        if (current.has(type)) {
          throw new ServiceError("refused", `有効な${label(type)}があります（更新は有効期限の3か月前から）/ the card already holds a valid ${type} certificate`, "types", { reason: "already-valid" });
        }
      }
      await this.loadCertificates(ctx, types, input.pins, { renewal: false, replacing: new Map() });
    });
  }

  /** 失効申請: the holder asks for one or both certificates to be revoked. */
  revokeOnRequest(input: { cardId: string; types: CaType[]; identity: IdentityCheck }, actor: Actor) {
    return this.run("revocation", input.cardId, input.identity, actor, async (ctx) => {
      for (const type of order(input.types)) {
        const reason = revocationsFor({ kind: "holder-request", type })[type]!;
        await this.revokeOnCard(ctx, type, reason, ["valid", "hold"]);
      }
    });
  }

  /** 暗証番号の初期化: the resident enters a new PIN on the terminal; its retry counter is restored. */
  initialisePin(input: { cardId: string; type: CaType; newPin: string; identity: IdentityCheck }, actor: Actor) {
    return this.run("pin-init", input.cardId, input.identity, actor, async (ctx) => {
      const pin = checkPin(input.type, input.newPin, "new-pin");
      await this.cards.withCounterSession(input.cardId, (session) => session.setPin(input.type, pin));
      ctx.detail.pinReset = input.type;
    });
  }

  /** 一時停止 (loss report, the 24-hour hotline): both certificates on hold, the card suspended. */
  reportLoss(input: { cardId: string }, actor: Actor) {
    return this.run("loss-report", input.cardId, null, actor, async (ctx) => {
      for (const type of ["auth", "sign"] as const) await this.revokeOnCard(ctx, type, "certificateHold", ["valid"]);
      await this.cards.setStatus(input.cardId, "suspended");
    });
  }

  /**
   * A lost card found again: the hold is never lifted — the held certificates are revoked
   * (keyCompromise) and new ones issued; the card's suspension is lifted.
   */
  cardFound(input: { cardId: string; pins: NewPins; identity: IdentityCheck }, actor: Actor) {
    return this.run("card-found", input.cardId, input.identity, actor, async (ctx) => {
      const card = await this.cards.get(input.cardId);
      if (card.status !== "suspended") throw new ServiceError("refused", "このカードは一時停止されていません / this card was not reported lost", "card", { reason: "not-suspended" });
      const held: CaType[] = [];
      for (const type of ["auth", "sign"] as const) {
        if ((await this.revokeOnCard(ctx, type, "keyCompromise", ["hold"])) > 0) held.push(type);
      }
      await this.cards.setStatus(input.cardId, "active");
      const resident = await this.registry.get(card.residentId);
      const eligibleForSign = signingEligibility({ birth: resident.birth, on: japanDateOf(this.clock()), guardianship: resident.guardianship }).eligible;
      const types = held.filter((t) => t === "auth" || (eligibleForSign && input.pins.sign));
      if (types.length > 0) await this.loadCertificates(ctx, types, input.pins, { renewal: false, replacing: new Map() });
    });
  }

  /** 返納: the card is returned; both certificates are revoked. */
  returnCard(input: { cardId: string; identity: IdentityCheck }, actor: Actor) {
    return this.run("card-return", input.cardId, input.identity, actor, async (ctx) => {
      const reasons = revocationsFor({ kind: "card-return" });
      for (const type of ["auth", "sign"] as const) await this.revokeOnCard(ctx, type, reasons[type]!, ["valid", "hold"]);
      await this.cards.setStatus(input.cardId, "returned");
    });
  }

  /** 交付: the card is handed over at the counter on the 交付日, recorded apart from the issuance date. */
  handOver(input: { cardId: string; identity: IdentityCheck }, actor: Actor) {
    return this.run("handover", input.cardId, input.identity, actor, async (ctx) => {
      const card = await this.cards.get(input.cardId);
      if (card.handedOverDate) throw new ServiceError("conflict", `card ${input.cardId} was handed over on ${card.handedOverDate}`, "card", { reason: "already-handed-over" });
      const today = japanDateOf(this.clock());
      await this.cards.setStatus(input.cardId, card.status, { handedOverDate: today });
      ctx.detail.handedOverDate = today;
      ctx.detail.certificateIssuanceDate = card.producedDate;
    });
  }

  async applications(residentId: string): Promise<ApplicationTable[]> {
    return this.db.selectFrom("applications").selectAll().where("resident_id", "=", residentId).orderBy("created_at").execute();
  }

  // ---- the shared machinery ----

  private async run(
    kind: ProcedureKind,
    cardId: string,
    identity: IdentityCheck | null,
    actor: Actor,
    body: (ctx: RunContext) => Promise<void>,
  ): Promise<ProcedureOutcome> {
    const card = await this.cards.get(cardId);
    if (card.status === "returned" || card.status === "spoiled") {
      throw new ServiceError("refused", `このカードは使えません（${card.status}）/ card ${cardId} is ${card.status}`, "card", { reason: `card-${card.status}` });
    }
    if (card.status === "suspended" && kind !== "card-found" && kind !== "card-return" && kind !== "revocation") {
      throw new ServiceError("refused", "このカードは一時停止中です / the card is suspended (reported lost)", "card", { reason: "card-suspended" });
    }
    const resident = await this.registry.get(card.residentId);
    if (resident.status !== "registered" && kind !== "card-return" && kind !== "revocation") {
      throw new ServiceError("refused", `住民登録がありません（${resident.status}）/ resident is ${resident.status}`, "card", { reason: "not-registered" });
    }
    const release = await this.cards.claim(cardId, kind);
    const now = this.clock();
    const id = `A-${randomBytes(6).toString("hex").toUpperCase()}`;
    const ctx: RunContext = { applicationId: id, cardId, residentId: resident.id, actor, issued: [], revoked: [], detail: { identity } };
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto("applications")
        .values({ id, kind, resident_id: resident.id, card_id: cardId, office_id: actor.office ?? null, state: "in-progress", detail: JSON.stringify(ctx.detail), fee_yen: 0, created_by: actor.actor, created_at: now.toISOString(), updated_at: now.toISOString() })
        .execute();
      await appendAudit(trx, actor, { action: `application.${kind}.start`, subject: id, after: { card: cardId, resident: resident.id, identity } }, now);
    });
    try {
      await body(ctx);
    } catch (error) {
      await this.finish(ctx, kind, "failed", { error: error instanceof Error ? error.message : String(error) });
      await release();
      throw error;
    }
    await this.finish(ctx, kind, "completed", {});
    await release();
    return { applicationId: id, kind, cardId, issued: ctx.issued.map(({ der: _der, ...c }) => c), revoked: ctx.revoked, feeYen: 0 };
  }

  private async finish(ctx: RunContext, kind: ProcedureKind, state: "completed" | "failed", extra: Record<string, unknown>) {
    const detail = { ...ctx.detail, ...extra, issued: ctx.issued.map((c) => `${c.type}:${c.serialHex}`), revoked: ctx.revoked };
    await this.db.transaction().execute(async (trx) => {
      await trx.updateTable("applications").set({ state, detail: JSON.stringify(detail), updated_at: this.clock().toISOString() }).where("id", "=", ctx.applicationId).execute();
      await appendAudit(trx, ctx.actor, { action: `application.${kind}.${state}`, subject: ctx.applicationId, after: detail }, this.clock());
    });
  }

  /** The valid certificates on this card (not expired today), by type. */
  private async currentOnCard(cardId: string): Promise<Map<CaType, CertificateRecord>> {
    const card = await this.cards.get(cardId);
    const today = japanDateOf(this.clock());
    const current = new Map<CaType, CertificateRecord>();
    for (const c of await this.ca.certificatesOf(card.residentId)) {
      if (c.cardId === cardId && c.status === "valid" && compareJapanDates(c.expires, today) >= 0) current.set(c.type, c);
    }
    return current;
  }

  /**
   * Generate keys on the card, issue, write certificates, set PINs — as a counter terminal.
   * A renewal revokes the certificate it replaces as superseded once the new one is written.
   */
  private async loadCertificates(ctx: RunContext, types: CaType[], pins: NewPins, mode: { renewal: boolean; replacing: Map<CaType, CertificateRecord> }) {
    const card = await this.cards.get(ctx.cardId);
    const resident = await this.registry.get(card.residentId);
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
      if (!mode.renewal && pin === undefined) throw new ServiceError("invalid-input", `${type}-pin: the resident sets the PIN on the terminal`, `${type}-pin`);
      checked.set(type, pin === undefined ? undefined : checkPin(type, pin, `${type}-pin`));
    }
    await this.cards.withCounterSession(ctx.cardId, async (session) => {
      for (const type of types) {
        const publicKey = await session.generateKeyPair(type);
        const record = await this.ca.issue({ type, residentId: resident.id, subjectPublicKey: publicKey, cardId: ctx.cardId, cardExpiry: card.expires, renewal: mode.renewal, actor: ctx.actor });
        ctx.issued.push(record);
        await session.writeCertificate(type, record.der);
        await session.writeCertificate(`${type}-ca`, this.ca.authority(type).certificateDer);
        const pin = checked.get(type);
        if (pin !== undefined) await session.setPin(type, pin);
        const replaced = mode.replacing.get(type);
        if (replaced) {
          await this.db.transaction().execute(async (trx) => {
            await applyRevocation(trx, { type, serialHex: replaced.serialHex, reason: "superseded", at: this.clock(), by: `renewal:${record.serialHex}` });
          });
          ctx.revoked.push({ type, serialHex: replaced.serialHex, reason: "superseded" });
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
  cardId: string;
  residentId: string;
  actor: Actor;
  issued: CertificateRecord[];
  revoked: { type: CaType; serialHex: string; reason: RevocationReason }[];
  detail: Record<string, unknown>;
}

/** Authentication first: a signing certificate is capped by the authentication certificate's expiry. */
function order(types: CaType[]): CaType[] {
  const unique = [...new Set(types)];
  for (const t of unique) if (t !== "auth" && t !== "sign") throw new ServiceError("invalid-input", `types: ${String(t)} is not auth or sign`, "types");
  if (unique.length === 0) throw new ServiceError("invalid-input", "types: at least one of auth, sign", "types");
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
