import type { Kysely } from "kysely";
import type { Database } from "../store/schema.ts";
import { revocationsFor, type RegistryEvent, type RegisteredAttribute } from "../rules/revocation.ts";
import { japanDateOf } from "../rules/japan-date.ts";
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
      if (!resident) throw new ServiceError("not-found", `no resident with id ${residentId}`, "id");
      if (resident.status !== "registered") {
        throw new ServiceError("conflict", `resident ${residentId} is ${resident.status}; the register entry cannot change`);
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
          if (compareJapanDates(birth, japanDateOf(this.clock())) > 0) throw new RuleInputError("birth", `birth: ${birth} is in the future`);
          if (birth !== resident.birth) {
            updates.birth = birth;
            changed.push("birth");
            [before.birth, after.birth] = [resident.birth, birth];
          }
        }
        if (change.gender !== undefined) {
          if (!["1", "2", "3"].includes(change.gender)) throw new RuleInputError("gender", "gender: must be 1, 2 or 3");
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
        if (!known) throw new ServiceError("invalid-input", `municipality: unknown municipality code ${change.municipality}`, "municipality");
        if (!changed.includes("address")) {
          throw new ServiceError("invalid-input", "municipality: a move to another municipality needs the new address too", "address");
        }
        updates.municipality_code = change.municipality;
        [before.municipality, after.municipality] = [resident.municipality_code, change.municipality];
      }
      if (changed.length === 0) {
        throw new ServiceError("invalid-input", "nothing changes: give a new name, address, date of birth or gender");
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
      if (!resident) throw new ServiceError("not-found", `no resident with id ${residentId}`, "id");
      if (resident.nationality === "JP") throw new ServiceError("invalid-input", "residence-end: only foreign residents have a period of stay", "residence-end");
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
      const id = newId("E");
      await trx
        .insertInto("registry_events")
        .values({ id, resident_id: residentId, kind: "residence-period", detail: JSON.stringify({ before: resident.residence_end, after: end }), effective_date: japanDateOf(now), recorded_at: now.toISOString() })
        .execute();
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
  ): Promise<EventOutcome> {
    const id = newId("E");
    await db
      .insertInto("registry_events")
      .values({
        id,
        resident_id: residentId,
        kind: event.kind,
        detail: JSON.stringify({ ...detail, event }),
        effective_date: japanDateOf(now),
        recorded_at: now.toISOString(),
      })
      .execute();
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

  /** Death (死亡) or emigration (国外転出): the register entry ends, and with it what the rules say. */
  async endRegistration(
    residentId: string,
    event: { kind: "death" } | { kind: "emigration"; continuedUse: boolean },
    actor: Actor = CLI_OPERATOR,
  ): Promise<EventOutcome> {
    return this.db.transaction().execute(async (trx) => {
      const resident = await trx.selectFrom("residents").select(["status"]).where("id", "=", residentId).executeTakeFirst();
      if (!resident) throw new ServiceError("not-found", `no resident with id ${residentId}`, "id");
      if (resident.status !== "registered") throw new ServiceError("conflict", `resident ${residentId} is already ${resident.status}`);
      const now = this.clock();
      await trx
        .updateTable("residents")
        .set({ status: event.kind === "death" ? "deceased" : "emigrated", updated_at: now.toISOString() })
        .where("id", "=", residentId)
        .execute();
      const outcome = await this.record(trx, residentId, event, {}, now);
      await appendAudit(
        trx,
        actor,
        { action: `resident.${event.kind}`, subject: residentId, before: { status: resident.status }, after: { event, id: outcome.id, revoked: outcome.revoked } },
        now,
      );
      return outcome;
    });
  }
}
