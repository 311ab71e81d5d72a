import type { Kysely } from "kysely";
import type { Database, ResidentTable } from "../store/schema.ts";
import { residentSearchText } from "../store/resident-search.ts";
import { refuseOtherCounter, refuseOtherMunicipality } from "./office-scope.ts";
import { revocationsFor, type RegistryEvent, type RegisteredAttribute } from "../rules/revocation.ts";
import { addDays, japanDateOf, startOfJapanDay, type JapanDate } from "../rules/japan-date.ts";
import { RuleInputError } from "../rules/errors.ts";
import { normalizeAddress, normalizeName, substituteFlags } from "../profile/attributes.ts";
import { toEraDigitDate } from "../profile/era.ts";
import { parseJapanDate, compareJapanDates } from "../rules/japan-date.ts";
import type { CaType } from "../pki/jpki-profile.ts";
import { ServiceError } from "./errors.ts";
import { inputErrorAs } from "./input-errors.ts";
import { newId } from "./ids.ts";
import { actionableCertificates, applyRevocation, type RevocationOutcome } from "./revocation.ts";
import type { Clock } from "./clock.ts";
import { appendAudit, CLI_OPERATOR, type Actor } from "./audit.ts";

export interface AttributeChange {
  name?: string;
  address?: string;
  birth?: string;
  gender?: string;
  /** Moving to another municipality changes the CRL partition of future certificates too. */
  municipality?: string;
}

export interface EventOutcome {
  id: string;
  residentId: string;
  kind: RegistryEvent["kind"];
  revoked: RevocationOutcome[];
  /** An emigration's day of departure: with nothing revoked yet when it is still ahead. */
  departureDate?: JapanDate;
}

/** A filed emigration withdrawn before its day of departure: what had been filed. */
export interface EmigrationWithdrawn {
  id: string;
  residentId: string;
  kind: "emigration-withdrawn";
  withdrawn: { departureDate: JapanDate; continuedUse: boolean; abroadAddress?: string };
}

/**
 * Register events (住民票の異動): each is recorded once and, in the same transaction, revokes
 * what the rules say. The CA owns certificates; this only asks the rules which to revoke and
 * records the revocations with the event as their cause.
 */
export class RegisterEvents {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
  ) {}

  /** A change of name, address, date of birth or gender (and a move between municipalities). */
  async changeAttributes(residentId: string, change: AttributeChange, actor: Actor = CLI_OPERATOR): Promise<EventOutcome> {
    return this.db.transaction().execute(async (trx) => {
      const resident = await readEntry(trx, residentId);
      // A move to another municipality (転入) is recorded by the new one, checked once its code is known.
      const moving = change.municipality !== undefined && change.municipality !== resident.municipality_code;
      if (!moving) await refuseOtherCounterFor(trx, actor, resident);
      // Abroad with continued use, the entry is the 戸籍の附票's: its name and address still change (and revoke the signing certificate).
      const abroad = resident.status === "emigrated" && resident.continued_use === 1;
      if (resident.status !== "registered" && !abroad) {
        throw new ServiceError("conflict", `この住民の登録は変更できません（${resident.status}）/ resident ${residentId} is ${resident.status}; the register entry cannot change`);
      }
      if (resident.status === "registered" && resident.departure_date !== null && compareJapanDates(resident.departure_date, japanDateOf(this.clock())) <= 0) {
        // The holder has left: the domestic entry is about to become the 戸籍の附票's (or to end), and
        // a change written to it now would be applied to the wrong entry, with the wrong reason.
        throw new ServiceError(
          "conflict",
          `国外転出日（${resident.departure_date}）を過ぎ、転出を処理中です。転出の適用後にやり直してください / resident ${residentId} left the country on ${resident.departure_date} and the emigration is being applied; try again once it is (in a minute, or after \`openjpki resident apply-departures\`)`,
          undefined,
          { reason: "departure-pending" },
        );
      }
      if (abroad && change.municipality !== undefined && change.municipality !== resident.municipality_code) {
        throw new ServiceError("invalid-input", "municipality: 国外に住む方には転居先の市区町村がありません / a resident abroad has no municipality of residence to move to", "municipality");
      }
      const updates: Partial<Database["residents"]> = {};
      const changed: RegisteredAttribute[] = [];
      const before: Record<string, string> = {};
      const after: Record<string, string> = {};
      // Written differently (widths, dash forms, spaces) but the same name or address: not a 異動.
      const notations: ("name" | "address")[] = [];
      try {
        if (change.name !== undefined) {
          const name = normalizeName(change.name, "name");
          if (name !== resident.name && sameNotation(name, resident.name, "name")) notations.push("name");
          else if (name !== resident.name) {
            Object.assign(updates, { name, name_substitutes: substituteFlags(name) });
            changed.push("name");
            [before.name, after.name] = [resident.name, name];
          }
        }
        if (change.address !== undefined) {
          const address = normalizeAddress(change.address, "address");
          if (address !== resident.address && sameNotation(address, resident.address, "address")) notations.push("address");
          else if (address !== resident.address) {
            Object.assign(updates, { address, address_substitutes: substituteFlags(address) });
            changed.push("address");
            [before.address, after.address] = [resident.address, address];
          }
        }
        if (change.birth !== undefined) {
          const birth = parseJapanDate(change.birth, "birth");
          toEraDigitDate(birth);
          if (compareJapanDates(birth, japanDateOf(this.clock())) > 0) throw new RuleInputError("birth", `birth: ${birth} は未来の日付です / ${birth} is in the future`);
          if (birth !== resident.birth) {
            updates.birth = birth;
            changed.push("birth");
            [before.birth, after.birth] = [resident.birth, birth];
          }
        }
        if (change.gender !== undefined) {
          if (!["1", "2", "3"].includes(change.gender)) throw new RuleInputError("gender", "gender: 性別は 1（男性）、2（女性）、3（不明）のどれかです / must be 1, 2 or 3");
          if (change.gender !== resident.gender) {
            updates.gender = change.gender as "1" | "2" | "3";
            changed.push("gender");
            [before.gender, after.gender] = [resident.gender, change.gender];
          }
        }
      } catch (error) {
        throw inputErrorAs(error, "invalid-input");
      }
      if (change.municipality !== undefined && change.municipality !== resident.municipality_code) {
        const known = await trx.selectFrom("municipalities").select("code").where("code", "=", change.municipality).executeTakeFirst();
        if (!known) throw new ServiceError("invalid-input", `municipality: 市区町村コード ${change.municipality} は登録されていません / unknown municipality code ${change.municipality}`, "municipality");
        if (!changed.includes("address")) {
          throw new ServiceError("invalid-input", "municipality: 他の市区町村への転居には新しい住所も入力してください / a move to another municipality needs the new address too", "address");
        }
        // A 転入届 records where the resident now lives, nothing else: the town moved into may not
        // change a name, date of birth or gender the old town's register holds (those are their own events).
        const others = changed.filter((c) => c !== "address");
        if (others.length > 0) {
          throw new ServiceError(
            "invalid-input",
            `${others[0]}: 転入では新しい住所だけを記録します。氏名・生年月日・性別の変更は別に届け出てください / a move records the new address only: change the ${others.join(" and ")} as an event of its own`,
            others[0],
            { reason: "move-with-other-changes" },
          );
        }
        await refuseOtherMunicipality(trx, actor, change.municipality, { kind: "move-in", residentId });
        updates.municipality_code = change.municipality;
        [before.municipality, after.municipality] = [resident.municipality_code, change.municipality];
      }
      if (changed.length === 0) {
        const same = notations.length === 0 ? "" : `（${notations.map((n) => (n === "name" ? "氏名" : "住所")).join("・")}は表記が違うだけで登録と同じです）`;
        const sameEn = notations.length === 0 ? "" : ` (the ${notations.join(" and ")} given ${notations.length > 1 ? "are" : "is"} the one registered, only written differently)`;
        throw new ServiceError(
          "invalid-input",
          `変更する項目がありません${same}。新しい氏名・住所・生年月日・性別のどれかを入力してください / nothing changes${sameEn}: give a new name, address, date of birth or gender`,
          notations[0],
          notations.length > 0 ? { reason: "same-notation" } : undefined,
        );
      }
      if (updates.name !== undefined || updates.address !== undefined) {
        updates.search_text = residentSearchText({ id: residentId, name: updates.name ?? resident.name, address: updates.address ?? resident.address });
      }
      const now = this.clock();
      await updateUnchanged(trx, resident, { ...updates, updated_at: now.toISOString() });
      const outcome = await this.record(trx, residentId, { kind: "attribute-change", attributes: changed }, { before, after }, now);
      await appendAudit(trx, actor, { action: "resident.change", subject: residentId, before, after: { ...after, event: outcome.id, revoked: outcome.revoked } }, now);
      return outcome;
    });
  }

  /**
   * A foreign resident's period of stay changed (extended, shortened, or ended by permanent
   * residence: `null`). Nothing is revoked — the certificates already carry their expiry — but
   * what may be issued next is capped by the new end.
   */
  async changeResidencePeriod(residentId: string, residenceEnd: string | null, actor: Actor = CLI_OPERATOR): Promise<{ id: string; residenceEnd: string | null }> {
    return this.db.transaction().execute(async (trx) => {
      const resident = await readEntry(trx, residentId);
      await refuseOtherCounterFor(trx, actor, resident);
      if (resident.nationality === "JP") throw new ServiceError("invalid-input", "residence-end: 在留期間の満了日は外国人住民だけにあります / only foreign residents have a period of stay", "residence-end");
      if (resident.status !== "registered") {
        throw new ServiceError("conflict", `この住民の登録は終わっています（${resident.status}）/ resident ${residentId} is ${resident.status}; the period of stay of an ended entry cannot change`, undefined, { reason: "not-registered" });
      }
      const now = this.clock();
      let end: string | null = null;
      if (residenceEnd !== null) {
        try {
          end = parseJapanDate(residenceEnd, "residence-end");
        } catch (error) {
          throw inputErrorAs(error, "invalid-input");
        }
        if (compareJapanDates(end, resident.birth) < 0) {
          throw new ServiceError("invalid-input", `residence-end: ${end} は生年月日（${resident.birth}）より前です / ${end} is before the date of birth ${resident.birth}`, "residence-end");
        }
        const today = japanDateOf(now);
        if (compareJapanDates(end, today) < 0) {
          throw new ServiceError(
            "invalid-input",
            `residence-end: 在留期間の満了日 ${end} はすでに過ぎています（今日は ${today}）/ ${end} is already past (today is ${today}): a new period of stay ends today or later`,
            "residence-end",
          );
        }
      }
      await updateUnchanged(trx, resident, { residence_end: end, updated_at: now.toISOString() });
      const id = await insertEvent(trx, residentId, "residence-period", { before: resident.residence_end, after: end }, now);
      await appendAudit(trx, actor, { action: "resident.residence-period", subject: residentId, before: { residenceEnd: resident.residence_end }, after: { residenceEnd: end } }, now);
      return { id, residenceEnd: end };
    });
  }

  /** Death, emigration, card return, loss report, card found: events with no attribute change. */
  async record(
    db: Kysely<Database>,
    residentId: string,
    event: RegistryEvent,
    detail: Record<string, unknown>,
    now: Date,
    effectiveDate: JapanDate = japanDateOf(now),
    /** When the certificates became invalid, if before `now` (RFC 5280 invalidityDate): the day of departure or of death. */
    invalidityDate?: Date,
  ): Promise<EventOutcome> {
    const id = await insertEvent(db, residentId, event.kind, { ...detail, event }, now, effectiveDate);
    const revocations = revocationsFor(event);
    const revoked: RevocationOutcome[] = [];
    for (const type of ["sign", "auth"] as CaType[]) {
      const reason = revocations[type];
      if (!reason) continue;
      // A found card's certificates are on hold and get their final reason; everything else acts on valid ones,
      // and a hold also becomes final on death, return or emigration.
      const statuses = event.kind === "card-found" ? (["hold"] as const) : reason === "certificateHold" ? (["valid"] as const) : (["valid", "hold"] as const);
      for (const cert of await actionableCertificates(db, residentId, type, [...statuses])) {
        revoked.push(await applyRevocation(db, { type, serialHex: cert.serialHex, reason, at: now, ...(invalidityDate ? { invalidityDate } : {}), by: `registry:${id}` }));
      }
    }
    return { id, residentId, kind: event.kind, revoked };
  }

  /**
   * Death (死亡) or emigration (国外転出): the register entry ends, and with it what the rules
   * say. An emigration is filed with its day of departure and takes effect on it: filed for a
   * later day, the entry stays registered (and its certificates valid) until
   * `applyDueDepartures` applies it on that day. Continued use of the card (国外転出者による
   * 継続利用, spec §2.2) is for Japanese nationals who file before the day of departure; it
   * takes the address the 戸籍の附票 will record, which the entry carries from then on (and a
   * new signing certificate with it).
   */
  async endRegistration(
    residentId: string,
    event: { kind: "death"; date?: string } | ({ kind: "emigration" } & EmigrationFiling),
    actor: Actor = CLI_OPERATOR,
  ): Promise<EventOutcome> {
    return this.db.transaction().execute(async (trx) => {
      const resident = await readEntry(trx, residentId);
      await refuseOtherCounterFor(trx, actor, resident);
      // Abroad with continued use the card lives on, with the 戸籍の附票 as the entry: a death there still ends it.
      const abroad = resident.status === "emigrated" && resident.continued_use === 1;
      if (resident.status !== "registered" && !(event.kind === "death" && abroad)) {
        throw new ServiceError("conflict", `この住民はすでに登録が終わっています（${resident.status}）/ resident ${residentId} is already ${resident.status}`);
      }
      if (event.kind === "emigration" && resident.departure_date !== null) {
        throw new ServiceError(
          "conflict",
          `国外転出（${resident.departure_date} 転出予定）が届け出られています / resident ${residentId} has filed an emigration for departure on ${resident.departure_date}`,
          undefined,
          { reason: "departure-filed" },
        );
      }
      const now = this.clock();
      if (event.kind === "death") {
        const died = checkDeathDate(event.date, resident.birth, japanDateOf(now));
        await updateUnchanged(trx, resident, { status: "deceased", updated_at: now.toISOString() });
        // Reported days later, the certificates are still invalid from the day of death (RFC 5280
        // invalidityDate): what was signed with the card after it is not the holder's.
        const outcome = died === undefined
          ? await this.record(trx, residentId, { kind: "death" }, {}, now)
          : await this.record(trx, residentId, { kind: "death" }, { dateOfDeath: died }, now, died, startOfJapanDay(died));
        const invalidated = await invalidateCards(trx, residentId, now);
        await appendAudit(trx, actor, { action: "resident.death", subject: residentId, before: { status: resident.status }, after: { event, id: outcome.id, revoked: outcome.revoked, invalidatedCards: invalidated } }, now);
        return outcome;
      }
      const filing = checkEmigration(event, resident, japanDateOf(now));
      await updateUnchanged(trx, resident, { departure_date: filing.departureDate, continued_use: filing.continuedUse ? 1 : 0, abroad_address: filing.abroadAddress, updated_at: now.toISOString() });
      if (compareJapanDates(filing.departureDate, japanDateOf(now)) <= 0) {
        const outcome = await this.depart(trx, residentId, now, actor);
        if (!outcome) throw new Error(`resident ${residentId} could not be marked emigrated`);
        return outcome;
      }
      const id = await insertEvent(trx, residentId, "emigration-filed", filing, now);
      await appendAudit(trx, actor, { action: "resident.emigration-filed", subject: residentId, after: { ...filing, id } }, now);
      return { id, residentId, kind: "emigration", revoked: [], departureDate: filing.departureDate };
    });
  }

  /**
   * Withdraw a filed emigration (転出の取消: the trip is off, or the day was wrong and is filed
   * again) before its day of departure: the entry stays registered with nothing filed, and its
   * certificates stay valid. From the day of departure the emigration takes effect and cannot be
   * withdrawn here: a resident who did not leave registers again (転入).
   */
  async withdrawEmigration(residentId: string, actor: Actor = CLI_OPERATOR): Promise<EmigrationWithdrawn> {
    return this.db.transaction().execute(async (trx) => {
      const resident = await readEntry(trx, residentId);
      await refuseOtherCounterFor(trx, actor, resident);
      if (resident.status === "emigrated" && resident.departure_date !== null) {
        throw new ServiceError(
          "conflict",
          `国外転出は転出日（${resident.departure_date}）に適用済みのため取り消せません。出国しなかった方は転入の届出をします / the emigration took effect on its day of departure (${resident.departure_date}) and cannot be withdrawn: a resident who did not leave registers again (転入)`,
          undefined,
          { reason: "not-registered" },
        );
      }
      if (resident.status !== "registered") throw new ServiceError("conflict", `この住民はすでに登録が終わっています（${resident.status}）/ resident ${residentId} is already ${resident.status}`, undefined, { reason: "not-registered" });
      const departureDate = resident.departure_date;
      if (departureDate === null) {
        throw new ServiceError("conflict", `国外転出の届出はありません / resident ${residentId} has no emigration filed`, undefined, { reason: "no-departure-filed" });
      }
      const now = this.clock();
      if (compareJapanDates(departureDate, japanDateOf(now)) <= 0) {
        throw new ServiceError(
          "conflict",
          `転出日（${departureDate}）を迎えたため取り消せません / the day of departure (${departureDate}) has come: the emigration takes effect`,
          undefined,
          { reason: "departure-due" },
        );
      }
      // Conditional on the filing read above: a departure applied meanwhile (another node) is not undone.
      const cleared = await trx
        .updateTable("residents")
        .set({ departure_date: null, continued_use: 0, abroad_address: null, updated_at: now.toISOString() })
        .where("id", "=", residentId)
        .where("status", "=", "registered")
        .where("departure_date", "=", departureDate)
        .executeTakeFirst();
      if (Number(cleared.numUpdatedRows) !== 1) throw new ServiceError("conflict", `この住民の登録がほかの手続きで変わりました。もう一度お試しください / resident ${residentId} changed meanwhile; try again`, undefined, { reason: "changed-meanwhile" });
      const withdrawn = { departureDate, continuedUse: resident.continued_use === 1, ...(resident.abroad_address !== null ? { abroadAddress: resident.abroad_address } : {}) };
      const id = await insertEvent(trx, residentId, "emigration-withdrawn", withdrawn, now);
      await appendAudit(trx, actor, { action: "resident.emigration-withdrawn", subject: residentId, before: withdrawn, after: { id } }, now);
      return { id, residentId, kind: "emigration-withdrawn", withdrawn };
    });
  }

  /**
   * Apply the emigrations whose day of departure has come (JST): each in its own transaction,
   * the entry marked emigrated and what the rules say revoked, dated the day of departure.
   * `serve` runs this every minute and `openjpki resident apply-departures` on demand; two
   * nodes doing it at once apply each departure once. Returns what was applied.
   */
  async applyDueDepartures(now: Date = this.clock(), actor: Actor = DEPARTURE_SCHEDULER): Promise<EventOutcome[]> {
    const today = japanDateOf(now);
    const applied: EventOutcome[] = [];
    const failed: { id: string; error: unknown }[] = [];
    // In (departure date, id) order, each read starting after the last: one departure that fails
    // is reported, not read again and again, and does not hold up the others.
    let after: { date: string; id: string } | undefined;
    for (;;) {
      let query = this.db
        .selectFrom("residents")
        .select(["id", "departure_date"])
        .where("status", "=", "registered")
        .where("departure_date", "is not", null)
        .where("departure_date", "<=", today)
        .orderBy("departure_date")
        .orderBy("id")
        .limit(DEPARTURES_PER_QUERY);
      if (after) {
        const { date, id } = after;
        query = query.where((eb) => eb.or([eb("departure_date", ">", date), eb.and([eb("departure_date", "=", date), eb("id", ">", id)])]));
      }
      const due = await query.execute();
      for (const { id } of due) {
        try {
          const outcome = await this.db.transaction().execute((trx) => this.depart(trx, id, now, actor));
          if (outcome) applied.push(outcome);
        } catch (error) {
          failed.push({ id, error });
        }
      }
      const last = due.at(-1);
      if (due.length < DEPARTURES_PER_QUERY || !last) break;
      after = { date: last.departure_date!, id: last.id };
    }
    if (failed.length > 0) throw new DeparturesFailed(applied, failed);
    return applied;
  }

  /** Mark one filed emigration done, unless another node already did; the event is dated its day of departure, and so is the revocations' invalidity date. */
  private async depart(trx: Kysely<Database>, residentId: string, now: Date, actor: Actor): Promise<EventOutcome | undefined> {
    const resident = await trx.selectFrom("residents").selectAll().where("id", "=", residentId).executeTakeFirst();
    if (!resident || resident.departure_date === null) return undefined;
    const continuedUse = resident.continued_use === 1;
    // Conditional on still being registered: on PostgreSQL a concurrent applier's UPDATE waits
    // for this one and then matches nothing, so the departure is applied once.
    const marked = await trx
      .updateTable("residents")
      .set({
        status: "emigrated",
        ...(continuedUse && resident.abroad_address !== null
          ? { address: resident.abroad_address, address_substitutes: substituteFlags(resident.abroad_address), search_text: residentSearchText({ ...resident, address: resident.abroad_address }) }
          : {}),
        updated_at: now.toISOString(),
      })
      .where("id", "=", residentId)
      .where("status", "=", "registered")
      // …and unchanged since the read above: a filing withdrawn (or withdrawn and filed anew) meanwhile
      // is not applied as read; the next run reads it again.
      .where("updated_at", "=", resident.updated_at)
      .executeTakeFirst();
    if (Number(marked.numUpdatedRows) !== 1) return undefined;
    const event: RegistryEvent = { kind: "emigration", continuedUse };
    const detail = { departureDate: resident.departure_date, ...(continuedUse ? { domesticAddress: resident.address, abroadAddress: resident.abroad_address } : {}) };
    // Revoked now (the CRL's revocationDate is when the CA learnt it), but invalid from 00:00 JST on
    // the day of departure: a server that was down that day applies it later, and a relying party
    // must still refuse what was signed in between.
    const invalidFrom = startOfJapanDay(resident.departure_date);
    const outcome = await this.record(trx, residentId, event, detail, now, resident.departure_date, invalidFrom.getTime() < now.getTime() ? invalidFrom : undefined);
    const invalidated = continuedUse ? [] : await invalidateCards(trx, residentId, now);
    await appendAudit(
      trx,
      actor,
      {
        action: "resident.emigration",
        subject: residentId,
        before: { status: resident.status, address: resident.address },
        after: { event, ...detail, id: outcome.id, revoked: outcome.revoked, ...(continuedUse ? {} : { invalidatedCards: invalidated }) },
      },
      now,
    );
    return { ...outcome, departureDate: resident.departure_date };
  }
}

/**
 * Whether a new name or address is the registered one written differently, and so no 異動
 * (spec §2.2: minor corrections excepted) that would revoke the signing certificate: full-width
 * and half-width Latin letters, digits and symbols; the code points the same JIS X 0208
 * character has (〜 and ～, − and －, …); and, in an address, the dash forms written between
 * 丁目, 番 and 号 (-, －, −, ‐, ―, and ー between digits) and spaces. Kanji and kana are compared as
 * they are: 髙 is not 高, and 二 is not 2.
 */
function sameNotation(a: string, b: string, kind: "name" | "address"): boolean {
  return notationKey(a, kind) === notationKey(b, kind);
}

const JIS_SAME_CHARACTER: Readonly<Record<string, string>> = {
  "\u301C": "~", // WAVE DASH, the JIS code point of ～
  "\u2212": "-", // MINUS SIGN, the JIS code point of －
  "\u2014": "\u2015", // EM DASH, the JIS code point of ―
  "\u2016": "\u2225", // DOUBLE VERTICAL LINE, the JIS code point of ∥
  "\u00A2": "\uFFE0",
  "\u00A3": "\uFFE1",
  "\u00AC": "\uFFE2",
};

function notationKey(text: string, kind: "name" | "address"): string {
  let key = "";
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    // Full-width ASCII (U+FF01–U+FF5E) is its half-width form; U+3000 a space.
    const folded = cp >= 0xff01 && cp <= 0xff5e ? String.fromCodePoint(cp - 0xfee0) : cp === 0x3000 ? " " : (JIS_SAME_CHARACTER[ch] ?? ch);
    key += folded;
  }
  if (kind === "name") return key.replace(/ +/g, " ");
  return key
    .replace(/[ ]+/g, "")
    .replace(/[\u2010\u2011\u2012\u2013\u2015\uFE63-]/g, "-")
    .replace(/(?<=[0-9])\u30FC(?=[0-9])/g, "-");
}

/** The register entry an event is about, read in the event's transaction. */
async function readEntry(trx: Kysely<Database>, residentId: string): Promise<ResidentTable> {
  const resident = await trx.selectFrom("residents").selectAll().where("id", "=", residentId).executeTakeFirst();
  if (!resident) throw new ServiceError("not-found", `住民ID ${residentId} の住民はいません / no resident with id ${residentId}`, "id");
  return resident;
}

/** An entry's events are recorded by its municipality's counter (entries abroad excepted: office-scope.ts). */
async function refuseOtherCounterFor(trx: Kysely<Database>, actor: Actor, resident: ResidentTable): Promise<void> {
  await refuseOtherCounter(trx, actor, { id: resident.id, municipalityCode: resident.municipality_code, abroadWithContinuedUse: resident.status === "emigrated" && resident.continued_use === 1 });
}

/**
 * Write the entry read at the start of an event, only if no other event changed it meanwhile: on
 * PostgreSQL two requests for one resident (a double submission, two desks) both read it before
 * either writes, and the second would otherwise record its event again on what the first left.
 */
async function updateUnchanged(trx: Kysely<Database>, read: Pick<ResidentTable, "id" | "status" | "updated_at">, set: Partial<Database["residents"]>): Promise<void> {
  const updated = await trx
    .updateTable("residents")
    .set(set)
    .where("id", "=", read.id)
    .where("status", "=", read.status)
    .where("updated_at", "=", read.updated_at)
    .executeTakeFirst();
  if (Number(updated.numUpdatedRows) !== 1) {
    throw new ServiceError("conflict", `この住民の登録がほかの手続きで変わりました。内容を確かめてからやり直してください / resident ${read.id} changed meanwhile (another procedure); check it and try again`, undefined, { reason: "changed-meanwhile" });
  }
}

/** One entry of the register's event log; returns its id. */
async function insertEvent(db: Kysely<Database>, residentId: string, kind: string, detail: unknown, now: Date, effectiveDate: JapanDate = japanDateOf(now)): Promise<string> {
  const id = newId("E");
  await db
    .insertInto("registry_events")
    .values({ id, resident_id: residentId, kind, detail: JSON.stringify(detail), effective_date: effectiveDate, recorded_at: now.toISOString() })
    .execute();
  return id;
}

/**
 * The register entry ended (death, emigration without continued use), and the card with it: the
 * cards in use or suspended become invalid, which leaves only their return (返納) at the counter.
 * Returns their ids.
 */
async function invalidateCards(trx: Kysely<Database>, residentId: string, now: Date): Promise<string[]> {
  const cards = await trx
    .updateTable("cards")
    .set({ status: "invalid", updated_at: now.toISOString() })
    .where("resident_id", "=", residentId)
    .where("status", "in", ["active", "suspended"])
    .returning("id")
    .execute();
  return cards.map((c) => c.id);
}

/** Some due departures could not be applied (each in its own transaction, so the others were). */
export class DeparturesFailed extends Error {
  override readonly name = "DeparturesFailed";
  constructor(
    readonly applied: EventOutcome[],
    readonly failed: { id: string; error: unknown }[],
  ) {
    const first = failed[0]!;
    super(
      `${failed.length} 件の国外転出を適用できませんでした / ${failed.length} departure(s) could not be applied (${applied.length} applied), first ${first.id}: ${first.error instanceof Error ? first.error.message : String(first.error)}`,
      { cause: first.error },
    );
  }
}

/** An emigration as filed (国外転出届). */
export interface EmigrationFiling {
  /** 国外転出者による継続利用: the card and its authentication certificate stay in use. */
  continuedUse: boolean;
  /** The day of departure (YYYY-MM-DD, JST); today when absent. With continued use, after today. */
  departureDate?: string;
  /** With continued use: the address the 戸籍の附票 will record, carried by the new signing certificate. */
  abroadAddress?: string;
}

/** Who applies departures that come due: the audit log's actor for them. */
export const DEPARTURE_SCHEDULER: Actor = { actor: "system:departures" };
const DEPARTURES_PER_QUERY = 500;
/** A sanity bound on how far ahead a departure may be filed (not a rule of the register). */
const MAX_DAYS_AHEAD = 366;

/** The day of death as filed (死亡届): a real date, not after today nor before the date of birth. */
function checkDeathDate(date: string | undefined, birth: JapanDate, today: JapanDate): JapanDate | undefined {
  if (date === undefined) return undefined;
  let died: JapanDate;
  try {
    died = parseJapanDate(date, "date");
  } catch (error) {
    throw inputErrorAs(error, "invalid-input");
  }
  if (compareJapanDates(died, today) > 0) throw new ServiceError("invalid-input", `date: 死亡日 ${died} は未来の日付です / the day of death ${died} is in the future`, "date");
  if (compareJapanDates(died, birth) < 0) throw new ServiceError("invalid-input", `date: 死亡日 ${died} は生年月日（${birth}）より前です / the day of death ${died} is before the date of birth ${birth}`, "date");
  return died;
}

function checkEmigration(
  filing: EmigrationFiling,
  resident: Pick<ResidentTable, "nationality">,
  today: JapanDate,
): { departureDate: JapanDate; continuedUse: boolean; abroadAddress: string | null } {
  if (typeof filing.continuedUse !== "boolean") throw new ServiceError("invalid-input", "continuedUse: 継続利用の有無（true か false）を指定してください / expected true or false", "continuedUse");
  let departureDate: JapanDate;
  let abroadAddress: string | null = null;
  try {
    departureDate = filing.departureDate === undefined ? today : parseJapanDate(filing.departureDate, "departureDate");
    if (filing.abroadAddress !== undefined) abroadAddress = normalizeAddress(filing.abroadAddress, "abroadAddress");
  } catch (error) {
    throw inputErrorAs(error, "invalid-input");
  }
  if (compareJapanDates(departureDate, today) < 0) {
    throw new ServiceError("invalid-input", `departureDate: ${departureDate} は過去の日付です / ${departureDate} is in the past; a departure is filed on or before its day`, "departureDate");
  }
  if (compareJapanDates(departureDate, addDays(today, MAX_DAYS_AHEAD)) > 0) {
    throw new ServiceError("invalid-input", `departureDate: ${departureDate} は1年以上先です / ${departureDate} is more than a year ahead`, "departureDate");
  }
  if (!filing.continuedUse) {
    if (abroadAddress !== null) throw new ServiceError("invalid-input", "abroadAddress: 国外の住所は継続利用の場合だけ入力します / only with continued use (the card ends with the register entry otherwise)", "abroadAddress");
    return { departureDate, continuedUse: false, abroadAddress };
  }
  if (resident.nationality !== "JP") {
    throw new ServiceError("not-eligible", "国外転出者による継続利用は日本国籍の方に限られます / continued use abroad is for Japanese nationals only", "continuedUse", { reason: "not-japanese-national" });
  }
  if (compareJapanDates(departureDate, today) <= 0) {
    throw new ServiceError(
      "not-eligible",
      "継続利用の申請は転出日の前日までです / continued use is filed before the day of departure, not on it",
      "departureDate",
      { reason: "continued-use-too-late" },
    );
  }
  if (abroadAddress === null) {
    throw new ServiceError("invalid-input", "abroadAddress: 継続利用には戸籍の附票に記録される住所が必要です / continued use needs the address the 戸籍の附票 will record", "abroadAddress");
  }
  return { departureDate, continuedUse: true, abroadAddress };
}
