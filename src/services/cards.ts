import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Kysely } from "kysely";
import type { CardTable, Database } from "../store/schema.ts";
import { manufactureCard, openCard, type VirtualCard } from "../card/index.ts";
import { InProcessReader } from "../readers/in-process.ts";
import type { CardReader } from "../readers/reader.ts";
import { IssuerSession } from "../client/issuer.ts";
import { cardValidity } from "../rules/validity.ts";
import { signingEligibility } from "../rules/eligibility.ts";
import { checkFourDigitPin, checkSigningPassword } from "../rules/pin-policy.ts";
import { compareJapanDates, japanDateOf, type JapanDate } from "../rules/japan-date.ts";
import { isValidMyNumber, randomMyNumber } from "../profile/my-number.ts";
import type { CaType } from "../pki/jpki-profile.ts";
import type { CertificateAuthorities, CertificateRecord } from "./certificate-authority.ts";
import type { Registry, Resident } from "./registry.ts";
import type { Terminals } from "./terminals.ts";
import { ServiceError } from "./errors.ts";
import { checkCardId, newId } from "./ids.ts";
import { CardSlots } from "./card-slot.ts";
import { appendAudit, CLI_OPERATOR, type Actor } from "./audit.ts";
import { applyRevocation } from "./revocation.ts";
import type { Clock } from "./clock.ts";
import type { Settings } from "../config/defaults.ts";

export interface CardIssueRequest {
  residentId: string;
  /** Required unless `deferPins`: then the resident sets the PINs at handover. */
  authPin?: string;
  /**
   * Produce the card without PINs (as a real card is produced): they stay unset — the card
   * treats them as blocked — until the resident sets them at the counter on the 交付日.
   */
  deferPins?: boolean;
  /** The signing password; omit (or set noSign) to issue no signing certificate. */
  signPin?: string;
  noSign?: boolean;
  /**
   * The holder does not want the authentication certificate (電子証明書が不要である旨の申し出):
   * none is issued, and no authentication PIN is given. Declining both certificates is allowed —
   * nothing in the rules (spec §2.1, src/rules) makes a card need one — and gives a card with the
   * 券面事項入力補助AP only.
   */
  noAuth?: boolean;
  /**
   * The 券面事項入力補助AP PIN; defaults to the authentication PIN (residents often choose the same).
   * Required with noAuth (unless deferPins): there is no authentication PIN to take it from.
   */
  kenhojoPin?: string;
  myNumber?: string;
  /** The counter terminal doing it (default: the data directory's default counter terminal). */
  terminalId?: string;
  /** The card this one replaces (再交付): it may still be in use while its successor is made. */
  replaces?: string;
  /** The counter application making the card: it names the card from the start, so a cut-off production can be closed. */
  applicationId?: string;
  actor?: Actor;
}

/** How long a procedure or a production holds a card (a claim): far longer than either takes. */
const CLAIM_MS = 120_000;

/** A card the resident holds today (being made, in use or suspended, not expired), other than `except`. */
export function heldCard<C extends Pick<CardTable, "id" | "status" | "expires">>(cards: readonly C[], today: JapanDate, except?: string): C | undefined {
  return cards.find((c) => c.id !== except && ["producing", "active", "suspended"].includes(c.status) && compareJapanDates(c.expires, today) >= 0);
}

export function cardHeldError(cardId: string): ServiceError {
  return new ServiceError(
    "conflict",
    `有効なカード（${cardId}）があります。紛失・破損の場合は再交付の手続きをしてください / the resident already holds card ${cardId}: use reissue for a lost or damaged card (at the counter: the page's カードの再交付, or POST /api/counter/cards/${cardId}/reissue)`,
    "residentId",
    { reason: "card-held" },
  );
}

export interface Card {
  id: string;
  residentId: string;
  status: CardTable["status"];
  producedDate: JapanDate;
  expires: JapanDate;
  handedOverDate: JapanDate | null;
  /** The PINs are still to be set at handover. */
  pinsPending: boolean;
}

export interface IssuedCard extends Card {
  certificates: CertificateRecord[];
  /** Why no signing certificate was issued, when none was. */
  signSkipped?: "declined" | "under-15" | "guardianship";
  /** Set when no authentication certificate was issued (the holder declined it). */
  authSkipped?: "declined";
}

export const DEFAULT_COUNTER_TERMINAL = "counter-default";
export const DEFAULT_KIOSK_TERMINAL = "kiosk-default";

/**
 * Cards: manufacture a virtual My Number Card and issue onto it, at a counter terminal, the way
 * DESIGN.md's path 1 describes — keys generated on the card, certificates from the CA written
 * back, PINs set — all in APDUs through a reader. Nothing here reads the chip's storage.
 */
export class Cards {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dataDir: string,
    private readonly registry: Registry,
    private readonly ca: CertificateAuthorities,
    private readonly terminals: Terminals,
    private readonly settings: Settings,
    private readonly clock: Clock,
  ) {
    this.slots = new CardSlots(this.cardsDir);
  }

  private readonly slots: CardSlots;

  get cardsDir(): string {
    return join(this.dataDir, "cards");
  }

  private cardDir(id: string): string {
    return join(this.cardsDir, checkCardId(id));
  }

  /**
   * Put a card in a reader that stays (for `card attach`): the card's slot is held, so nothing
   * else uses the card, until `takeOut` is called. The chip is opened afresh from disk.
   */
  async insert(id: string, what: string): Promise<{ card: VirtualCard; takeOut: () => Promise<void> }> {
    await this.get(id);
    const takeOut = await this.slots.take(id, what);
    try {
      return { card: await this.openChip(id), takeOut };
    } catch (e) {
      await takeOut();
      throw e;
    }
  }

  /**
   * Run `body` with the card in an in-process reader, powered on; powered off afterwards. The
   * card's slot is held throughout (see card-slot.ts): concurrent users of one card take turns,
   * so every PIN try is counted against the state the previous one left.
   */
  async withReader<T>(id: string, body: (reader: CardReader) => Promise<T>, what = "in-process reader"): Promise<T> {
    await this.get(id);
    return this.slots.hold(id, what, async () => inReader(await this.openChip(id), body));
  }

  /** Open the chip of a card (it stays a separate world: only APDUs go in). Only inside its slot. */
  private async openChip(id: string): Promise<VirtualCard> {
    const dir = this.cardDir(id);
    if (!existsSync(dir)) throw new ServiceError("not-found", `card ${id} has no chip in ${dir}`, "card");
    return openCard(dir, { chipMasterKeyFile: join(this.cardsDir, "chip-master.key"), clock: this.clock });
  }

  /**
   * Refuse a card issue request that would fail, without doing anything: a procedure that must
   * undo something first (reissue revokes the old card's certificates) asks this before it does.
   */
  async checkIssueRequest(request: CardIssueRequest): Promise<{ types: CaType[] }> {
    return { types: typesIssued(await this.checkedRequest(request)) };
  }

  async issue(request: CardIssueRequest): Promise<IssuedCard> {
    // Here, where the held card is checked, so every way to a new card (application, reissue, the
    // CLI, the developer console) gets past a production that was cut off.
    await this.spoilAbandoned(request.residentId, request.actor ?? CLI_OPERATOR);
    const checked = await this.checkedRequest(request);
    const { resident, today, deferred, authPin, kenhojoPin, signDecision, signPin, myNumber } = checked;
    const expires = cardValidity({ birth: resident.birth, issued: today, ...(resident.residenceEnd ? { residenceEnd: resident.residenceEnd } : {}) }).expires;
    const id = newId("C");
    const now = this.clock();
    const actor = request.actor ?? CLI_OPERATOR;
    await this.db.transaction().execute(async (trx) => {
      // The resident's row is written first, so card applications for one resident take turns
      // (a row lock on PostgreSQL, across nodes; SQLite's write lock, across processes): the
      // check below then sees any card another clerk's application has just made.
      await trx.updateTable("residents").set((eb) => ({ id: eb.ref("id") })).where("id", "=", resident.id).execute();
      const cards = await trx.selectFrom("cards").select(["id", "status", "expires"]).where("resident_id", "=", resident.id).execute();
      const held = heldCard(cards, today, request.replaces);
      if (held) throw cardHeldError(held.id);
      await trx
        .insertInto("cards")
        .values({
          id,
          resident_id: resident.id,
          status: "producing",
          produced_date: today,
          expires,
          handed_over_date: null,
          created_at: now.toISOString(),
          updated_at: now.toISOString(),
          // Claimed while it is made: one still producing after the claim ran out was cut off (spoilAbandoned).
          busy_until: new Date(now.getTime() + CLAIM_MS).toISOString(),
          busy_with: "production",
          // Linked from the start (再交付): while the replacement is made, the old card's
          // suspension cannot be lifted (replacement-issued), as once it is handed over.
          replaces_card_id: request.replaces ?? null,
        })
        .execute();
      if (request.applicationId) await trx.updateTable("applications").set({ card_id: id }).where("id", "=", request.applicationId).execute();
    });

    const certificates: CertificateRecord[] = [];
    try {
      const terminalCa = await this.terminals.ca();
      const counter = await this.terminals.terminal(request.terminalId ?? DEFAULT_COUNTER_TERMINAL, "counter");
      // The new card is in the counter's reader: its slot is held from manufacture to the last write.
      await this.slots.hold(id, "counter issuance", async () => {
        const chip = await manufactureCard({
          dir: this.cardDir(id),
          cardId: id,
          terminalCaPublicKeyDer: terminalCa.publicKeyDer,
          chipMasterKeyFile: join(this.cardsDir, "chip-master.key"),
          clock: this.clock,
          manufacturedAt: now,
          // The reverse kiosk route (auth PIN reset with the signing password) where the municipality offers it.
          switches: { kioskAuthPinReset: this.settings.kioskAuthPinResetMunicipalities.includes(resident.municipality.code) },
        });
        await inReader(chip, async (reader) => {
          const session = new IssuerSession(reader);
          await session.authenticate(counter);
          // Authentication first: with no authentication certificate on the card, the signing
          // certificate is capped only by the card, the 5th birthday and the period of stay.
          for (const type of typesIssued(checked)) {
            const publicKey = await session.generateKeyPair(type);
            const record = await this.ca.issue({ type, residentId: resident.id, subjectPublicKey: publicKey, cardId: id, cardExpiry: expires, actor });
            certificates.push(record);
            await session.writeCertificate(type, record.der);
            await session.writeCertificate(`${type}-ca`, this.ca.authority(type).certificateDer);
            if (!deferred) await session.setPin(type, type === "auth" ? authPin! : signPin!);
          }
          await session.writeKenhojo({
            myNumber,
            name: resident.name,
            address: resident.address,
            birthDate: resident.birth.replaceAll("-", ""),
            // The card writes sex as ISO/IEC 5218 (9 = not applicable); the register's 3 = unknown.
            sex: resident.gender === "3" ? "9" : resident.gender,
          });
          if (!deferred) await session.setPin("kenhojo", kenhojoPin!);
        });
      });
      await this.db.transaction().execute(async (trx) => {
        await trx
          .updateTable("cards")
          .set({ status: "active", pins_pending: deferred ? 1 : null, busy_until: null, busy_with: null, updated_at: this.clock().toISOString() })
          .where("id", "=", id)
          .execute();
        await appendAudit(
          trx,
          actor,
          { action: "card.issue", subject: id, after: { resident: resident.id, expires, certificates: certificates.map((c) => `${c.type}:${c.serialHex}`) } },
          this.clock(),
        );
      });
    } catch (error) {
      await this.spoil(id, certificates, actor);
      throw error;
    }
    return {
      ...(await this.get(id)),
      certificates,
      ...(signDecision.issue ? {} : { signSkipped: signDecision.reason }),
      ...(checked.authDeclined ? { authSkipped: "declined" as const } : {}),
    };
  }

  /** The request's resident, PINs and signing decision, each checked; throws naming the first problem. */
  private async checkedRequest(request: CardIssueRequest) {
    const resident = await this.registry.get(request.residentId);
    if (resident.status !== "registered") {
      throw new ServiceError("not-eligible", `resident ${resident.id} is ${resident.status}: no card can be issued`, "resident");
    }
    const today = japanDateOf(this.clock());
    const deferred = request.deferPins === true;
    if (deferred && (request.authPin || request.signPin || request.kenhojoPin)) {
      throw new ServiceError("invalid-input", "auth-pin: PINs are set at handover when production defers them", "auth-pin");
    }
    const authDeclined = this.authDeclined(request);
    const authPin = deferred || authDeclined ? undefined : pin(checkFourDigitPin(request.authPin!), "auth-pin");
    if (!deferred && authDeclined && request.kenhojoPin === undefined) {
      throw new ServiceError(
        "invalid-input",
        "券面事項入力補助用の暗証番号を入力してください（利用者証明用電子証明書を発行しないため）/ kenhojo-pin: give the 券面事項入力補助 PIN: with the authentication certificate declined there is no authentication PIN to take it from",
        "kenhojo-pin",
      );
    }
    const kenhojoPin = deferred ? undefined : pin(checkFourDigitPin(request.kenhojoPin ?? request.authPin!), "kenhojo-pin");
    const signDecision = this.signDecision(resident, today, request);
    const signPin = signDecision.issue && !deferred ? pin(checkSigningPassword(request.signPin!), "sign-pin") : undefined;
    const myNumber = request.myNumber ?? randomMyNumber();
    if (!isValidMyNumber(myNumber)) {
      throw new ServiceError("invalid-input", "my-number: must be 12 digits whose last is the check digit of the first 11", "my-number");
    }
    return { resident, today, deferred, authDeclined, authPin, kenhojoPin, signDecision, signPin, myNumber };
  }

  /**
   * Whether the holder declined the authentication certificate. As with the signing certificate,
   * a missing PIN is not taken as a decline (the decline is said, not guessed), and a PIN given
   * with the decline is refused rather than dropped.
   */
  private authDeclined(request: CardIssueRequest): boolean {
    if (request.noAuth) {
      if (request.authPin) {
        throw new ServiceError("invalid-input", "利用者証明用電子証明書を発行しない場合、利用者証明用の暗証番号は入力しません / auth-pin: not with noAuth (the authentication certificate is declined)", "auth-pin");
      }
      return true;
    }
    if (request.authPin === undefined && !request.deferPins) {
      throw new ServiceError(
        "invalid-input",
        "利用者証明用の暗証番号を入力してください（利用者証明用電子証明書が不要なら、その申し出を選んでください）/ auth-pin: give the authentication PIN, or decline the authentication certificate (noAuth) if the resident does not want it",
        "auth-pin",
      );
    }
    return false;
  }

  /**
   * A card whose production failed is spoiled, and certificates already issued for it are
   * revoked with reason unspecified — J-LIS's meaning: destroyed before delivery (交付前に破棄).
   */
  private async spoil(id: string, certificates: readonly Pick<CertificateRecord, "type" | "serialHex">[], actor: Actor): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      for (const c of certificates) {
        await applyRevocation(trx, { type: c.type, serialHex: c.serialHex, reason: "unspecified", at: this.clock(), by: "operator" });
      }
      await trx.updateTable("cards").set({ status: "spoiled", busy_until: null, busy_with: null, updated_at: this.clock().toISOString() }).where("id", "=", id).execute();
      await appendAudit(trx, actor, { action: "card.spoil", subject: id, after: { revoked: certificates.map((c) => c.serialHex) } }, this.clock());
    });
  }

  private signDecision(
    resident: Resident,
    today: JapanDate,
    request: CardIssueRequest,
  ): { issue: true } | { issue: false; reason: "declined" | "under-15" | "guardianship" } {
    if (request.noSign) {
      if (request.signPin) throw new ServiceError("invalid-input", "sign-pin: not with --no-sign", "sign-pin");
      return { issue: false, reason: "declined" };
    }
    const eligibility = signingEligibility({ birth: resident.birth, on: today, guardianship: resident.guardianship });
    if (!eligibility.eligible) {
      if (request.signPin) {
        throw new ServiceError(
          "not-eligible",
          eligibility.reason === "under-15"
            ? "15歳未満の方には署名用電子証明書を発行できません / no signing certificate for people under 15 (omit --sign-pin)"
            : "成年被後見人の方には署名用電子証明書を発行できません / no signing certificate for adults under guardianship (omit --sign-pin)",
          "sign-pin",
        );
      }
      return { issue: false, reason: eligibility.reason };
    }
    if (!request.signPin && !request.deferPins) {
      throw new ServiceError(
        "invalid-input",
        "署名用の暗証番号を入力してください（署名用電子証明書が不要なら、その申し出を選んでください）/ sign-pin: give the signing password, or decline the signing certificate (--no-sign) if the resident does not want it",
        "sign-pin",
      );
    }
    return { issue: true };
  }

  /**
   * Run issuer commands on an existing card as a counter terminal (the card in the counter's
   * reader): the window procedures use this for renewal, new issuance and PIN initialisation.
   */
  async withCounterSession<T>(id: string, body: (session: IssuerSession, reader: CardReader) => Promise<T>, terminalId = DEFAULT_COUNTER_TERMINAL): Promise<T> {
    const counter = await this.terminals.terminal(terminalId, "counter");
    return this.withReader(
      id,
      async (reader) => {
        const session = new IssuerSession(reader);
        await session.authenticate(counter);
        return body(session, reader);
      },
      "counter terminal",
    );
  }

  /**
   * Cards of this resident whose production was cut off (the process killed midway): still
   * `producing` after their claim ran out. Each is spoiled — its certificates revoked as
   * unspecified (never delivered), as when production fails in process — and its application
   * closed as failed; without this the resident was refused every new card (card-held).
   */
  async spoilAbandoned(residentId: string, actor: Actor): Promise<void> {
    const now = this.clock().toISOString();
    const stale = await this.db
      .selectFrom("cards")
      .select("id")
      .where("resident_id", "=", residentId)
      .where("status", "=", "producing")
      .where((eb) => eb.or([eb("busy_until", "is", null), eb("busy_until", "<", now)]))
      .execute();
    for (const { id } of stale) {
      const release = await this.claim(id, "recovery").catch(() => undefined); // taken meanwhile: not ours to judge
      if (!release) continue;
      try {
        const certificates = (await this.ca.certificatesOf(residentId)).filter((c) => c.cardId === id && c.status !== "revoked");
        await this.spoil(id, certificates, actor);
        await this.db
          .updateTable("applications")
          .set({ state: "failed", updated_at: this.clock().toISOString() })
          .where("card_id", "=", id)
          .where("state", "=", "in-progress")
          .execute();
      } finally {
        await release();
      }
    }
  }

  /**
   * Claim a card for one procedure, so two clerks cannot run conflicting procedures on it at
   * once: the loser gets a conflict and nothing is done. The claim expires by itself.
   */
  async claim(id: string, what: string): Promise<() => Promise<void>> {
    const now = this.clock();
    const until = new Date(now.getTime() + CLAIM_MS).toISOString();
    const taken = await this.db
      .updateTable("cards")
      .set({ busy_until: until, busy_with: what })
      .where("id", "=", id)
      .where((eb) => eb.or([eb("busy_until", "is", null), eb("busy_until", "<", now.toISOString())]))
      .executeTakeFirst();
    if (Number(taken.numUpdatedRows) !== 1) {
      await this.get(id);
      throw new ServiceError("conflict", `このカードは他の手続き中です / card ${id} is in another procedure right now; try again shortly`, "card", { reason: "card-busy" });
    }
    // Releases this claim only: one that outran CLAIM_MS may since have been taken by another
    // procedure (a later busy_until), whose claim must stand.
    return async () => {
      await this.db.updateTable("cards").set({ busy_until: null, busy_with: null }).where("id", "=", id).where("busy_until", "=", until).where("busy_with", "=", what).execute();
    };
  }

  async setStatus(id: string, status: CardTable["status"], extra: { handedOverDate?: JapanDate; pinsSet?: boolean } = {}): Promise<void> {
    await this.db
      .updateTable("cards")
      .set({
        status,
        updated_at: this.clock().toISOString(),
        ...(extra.handedOverDate ? { handed_over_date: extra.handedOverDate } : {}),
        ...(extra.pinsSet ? { pins_pending: null } : {}),
      })
      .where("id", "=", id)
      .execute();
  }

  /** Whether the resident may hold a signing certificate today (so a CLI knows whether to ask for a password). */
  async signEligible(residentId: string): Promise<boolean> {
    const resident = await this.registry.get(residentId);
    return signingEligibility({ birth: resident.birth, on: japanDateOf(this.clock()), guardianship: resident.guardianship }).eligible;
  }

  async get(id: string): Promise<Card> {
    const row = await this.db.selectFrom("cards").selectAll().where("id", "=", id).executeTakeFirst();
    if (!row) throw new ServiceError("not-found", `カード ${id} はありません / no card with id ${id}`, "card");
    return toCard(row);
  }

  /**
   * Cards, oldest first. `residentId`/`residentIds` keep those residents' cards; `status` keeps one
   * state; `newest` keeps only that many of the most recent (still returned oldest first), so pages
   * of a town-sized store do not load every card.
   */
  async list(options: { residentId?: string; residentIds?: readonly string[]; status?: CardTable["status"]; newest?: number } = {}): Promise<Card[]> {
    if (options.residentIds?.length === 0) return [];
    let query = this.db.selectFrom("cards").selectAll().orderBy("created_at", "desc").orderBy("id", "desc");
    if (options.residentId) query = query.where("resident_id", "=", options.residentId);
    if (options.residentIds) query = query.where("resident_id", "in", options.residentIds);
    if (options.status) query = query.where("status", "=", options.status);
    if (options.newest !== undefined) query = query.limit(options.newest);
    return (await query.execute()).reverse().map(toCard);
  }
}

/** The certificates a checked request puts on the card, authentication first (it caps the signing one). */
function typesIssued(checked: { authDeclined: boolean; signDecision: { issue: boolean } }): CaType[] {
  return [...(checked.authDeclined ? [] : (["auth"] as const)), ...(checked.signDecision.issue ? (["sign"] as const) : [])];
}

function pin(check: { ok: true; value: string } | { ok: false; message: string }, field: string): string {
  if (!check.ok) throw new ServiceError("invalid-input", `${field}: ${check.message}`, field);
  return check.value;
}

function toCard(row: CardTable): Card {
  return {
    id: row.id,
    residentId: row.resident_id,
    status: row.status,
    producedDate: row.produced_date,
    expires: row.expires,
    handedOverDate: row.handed_over_date,
    pinsPending: row.pins_pending === 1,
  };
}

/** Run `body` with `card` in an in-process reader, powered on; powered off afterwards, whatever happens. */
async function inReader<T>(card: VirtualCard, body: (reader: CardReader) => Promise<T>): Promise<T> {
  const reader = new InProcessReader(card);
  await reader.connect();
  try {
    return await body(reader);
  } finally {
    await reader.disconnect();
  }
}
