import type { Kysely } from "kysely";
import type { Database } from "../store/schema.ts";
import type { Actor } from "./audit.ts";
import { ServiceError } from "./errors.ts";

/**
 * What a counter does for whom (住民基本台帳法, 公的個人認証法 art. 3): a municipality keeps its
 * own residents' register entries and takes their applications. `resident`: a procedure on a
 * resident's entry or card (their municipality's counter); `registration`: a new entry (the
 * municipality it is in); `move-in`: a move into a municipality (転入届, recorded by the new one).
 */
export type OfficeScope = { kind: "resident"; residentId: string } | { kind: "registration" } | { kind: "move-in"; residentId: string };

/**
 * Refuse a counter of another municipality, naming both (`other-municipality`). An actor with no
 * office (the operator's CLI, the departure scheduler) is not a municipal counter and is not checked.
 */
export async function refuseOtherMunicipality(db: Kysely<Database>, actor: Actor, municipalityCode: string, scope: OfficeScope): Promise<void> {
  if (!actor.office) return;
  const office = await db.selectFrom("offices").select(["id", "municipality_code", "name_ja"]).where("id", "=", actor.office).executeTakeFirst();
  // An office the store does not know is no municipality's counter: refused, not taken for the operator.
  if (!office) throw new ServiceError("refused", `窓口 ${actor.office} は登録されていません / unknown office ${actor.office}`, undefined, { reason: "unknown-office" });
  if (office.municipality_code === municipalityCode) return;
  const m = await db.selectFrom("municipalities").selectAll().where("code", "=", municipalityCode).executeTakeFirst();
  const city = m ? `${m.prefecture_ja}${m.city_ja}` : municipalityCode;
  const cityEn = m ? `${m.city_romaji} (${municipalityCode})` : municipalityCode;
  const here = `（この窓口は${office.name_ja}）`;
  const notHere = `not ${office.id} (${office.municipality_code})`;
  const [ja, en, field] =
    scope.kind === "resident"
      ? [`${city}の住民の手続きは${city}の窓口で行います${here}`, `resident ${scope.residentId} lives in ${cityEn}: their municipality's counter does this, ${notHere}`, "resident"]
      : scope.kind === "registration"
        ? [`${city}の住民の登録は${city}の窓口で行います${here}`, `a resident of ${cityEn} is registered by that municipality's counter, ${notHere}`, "municipality"]
        : [`${city}への転入は${city}の窓口で記録します${here}`, `resident ${scope.residentId}'s move into ${cityEn} is recorded by that municipality's counter, ${notHere}`, "municipality"];
  throw new ServiceError("refused", `${ja} / ${en}`, field, { reason: "other-municipality" });
}

/**
 * A resident's entry and card are their municipality's counter's — except an entry abroad with
 * continued use (国外転出者による継続利用): it is the 戸籍の附票's, kept by the 本籍地, which this
 * register does not know, and the holder may go to any counter in Japan. The one place that
 * exception is written (the register's events and the window procedures both ask here).
 */
export async function refuseOtherCounter(db: Kysely<Database>, actor: Actor, resident: { id: string; municipalityCode: string; abroadWithContinuedUse: boolean }): Promise<void> {
  if (resident.abroadWithContinuedUse) return;
  await refuseOtherMunicipality(db, actor, resident.municipalityCode, { kind: "resident", residentId: resident.id });
}
