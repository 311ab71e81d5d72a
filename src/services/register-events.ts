import type { Kysely } from "kysely";
import type { Database, ResidentTable } from "../store/schema.ts";
import { revocationsFor, type RegistryEvent, type RegisteredAttribute } from "../rules/revocation.ts";
import { addDays, japanDateOf, type JapanDate } from "../rules/japan-date.ts";
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
      const resident = await trx.selectFrom("residents").selectAll().where("id", "=", residentId).executeTakeFirst();
      if (!resident) throw new ServiceError("not-found", `住民ID ${residentId} の住民はいません / no resident with id ${residentId}`, "id");
      // Abroad with continued use, the entry is the 戸籍の附票's: its name and address still change (and revoke the signing certificate).
      const abroad = resident.status === "emigrated" && resident.continued_use === 1;
      if (resident.status !== "registered" && !abroad) {
        throw new ServiceError("conflict", `この住民の登録は変更できません（${resident.status}）/ resident ${residentId} is ${resident.status}; the register entry cannot change`);
      }
      if (abroad && change.municipality !== undefined && change.municipality !== resident.municipality_code) {
        throw new ServiceError("invalid-input", "municipality: 国外に住む方には転居先の市区町村がありません / a resident abroad has no municipality of residence to move to", "municipality");
      }
      const updates: Partial<Database["residents"]> = {};
      const changed: RegisteredAttribute[] = [];
      const before: Record<string, string> = {};
      const after: Record<string, string> = {};
      try {
        if (change.name !== undefined) {
          const name = normalizeName(change.name, "name");
          if (name !== resident.name) {
            Object.assign(updates, { name, name_substitutes: substituteFlags(name) });
            changed.push("name");
            [before.name, after.name] = [resident.name, name];
          }
        }
        if (change.address !== undefined) {
          const address = normalizeAddress(change.address, "address");
          if (address !== resident.address) {
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
        updates.municipality_code = change.municipality;
        [before.municipality, after.municipality] = [resident.municipality_code, change.municipality];
      }
      if (changed.length === 0) {
        throw new ServiceError("invalid-input", "変更する項目がありません。新しい氏名・住所・生年月日・性別のどれかを入力してください / nothing changes: give a new name, address, date of birth or gender");
      }
      const now = this.clock();
      await trx
        .updateTable("residents")
        .set({ ...updates, updated_at: now.toISOString() })
        .where("id", "=", residentId)
        .execute();
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
      const resident = await trx.selectFrom("residents").selectAll().where("id", "=", residentId).executeTakeFirst();
      if (!resident) throw new ServiceError("not-found", `住民ID ${residentId} の住民はいません / no resident with id ${residentId}`, "id");
      if (resident.nationality === "JP") throw new ServiceError("invalid-input", "residence-end: 在留期間の満了日は外国人住民だけにあります / only foreign residents have a period of stay", "residence-end");
      let end: string | null = null;
      if (residenceEnd !== null) {
        try {
          end = parseJapanDate(residenceEnd, "residence-end");
        } catch (error) {
          throw inputErrorAs(error, "invalid-input");
        }
      }
      const now = this.clock();
      await trx.updateTable("residents").set({ residence_end: end, updated_at: now.toISOString() }).where("id", "=", residentId).execute();
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
        revoked.push(await applyRevocation(db, { type, serialHex: cert.serialHex, reason, at: now, by: `registry:${id}` }));
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
    event: { kind: "death" } | ({ kind: "emigration" } & EmigrationFiling),
    actor: Actor = CLI_OPERATOR,
  ): Promise<EventOutcome> {
    return this.db.transaction().execute(async (trx) => {
      const resident = await trx.selectFrom("residents").selectAll().where("id", "=", residentId).executeTakeFirst();
      if (!resident) throw new ServiceError("not-found", `住民ID ${residentId} の住民はいません / no resident with id ${residentId}`, "id");
      if (resident.status !== "registered") throw new ServiceError("conflict", `この住民はすでに登録が終わっています（${resident.status}）/ resident ${residentId} is already ${resident.status}`);
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
        await trx.updateTable("residents").set({ status: "deceased", updated_at: now.toISOString() }).where("id", "=", residentId).execute();
        const outcome = await this.record(trx, residentId, event, {}, now);
        const invalidated = await invalidateCards(trx, residentId, now);
        await appendAudit(trx, actor, { action: "resident.death", subject: residentId, before: { status: resident.status }, after: { event, id: outcome.id, revoked: outcome.revoked, invalidatedCards: invalidated } }, now);
        return outcome;
      }
      const filing = checkEmigration(event, resident, japanDateOf(now));
      await trx
        .updateTable("residents")
        .set({ departure_date: filing.departureDate, continued_use: filing.continuedUse ? 1 : 0, abroad_address: filing.abroadAddress, updated_at: now.toISOString() })
        .where("id", "=", residentId)
        .execute();
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
      const resident = await trx.selectFrom("residents").selectAll().where("id", "=", residentId).executeTakeFirst();
      if (!resident) throw new ServiceError("not-found", `住民ID ${residentId} の住民はいません / no resident with id ${residentId}`, "id");
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

  /** Mark one filed emigration done, unless another node already did; the revocations and the event are dated its day of departure. */
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
          ? { address: resident.abroad_address, address_substitutes: substituteFlags(resident.abroad_address) }
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
    const outcome = await this.record(trx, residentId, event, detail, now, resident.departure_date);
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
