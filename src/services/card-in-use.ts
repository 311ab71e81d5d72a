import type { Kysely } from "kysely";
import type { Database } from "../store/schema.ts";
import type { HolderKey } from "./card-holder.ts";
import { ServiceError } from "./errors.ts";

/**
 * The municipal services a holder reaches without the counter (the kiosk's documents, the PIN
 * reset in the app and at the kiosk) serve only a card in use. A suspended card (一時停止) keeps
 * valid certificates — a relying party still accepts them — but the municipality, which knows
 * the card's state, refuses it as the counter does (card-suspended), and so any card that is no
 * longer the holder's (returned, replaced, invalid). A certificate recorded on no card (issued
 * through the API for a card made elsewhere) has no card state here and passes.
 */
export async function requireCardInUse(db: Kysely<Database>, type: HolderKey, serialHex: string): Promise<void> {
  const row = await db
    .selectFrom("certificates")
    .innerJoin("cards", "cards.id", "certificates.card_id")
    .select("cards.status")
    .where("certificates.ca_type", "=", type)
    .where("certificates.serial_hex", "=", serialHex)
    .executeTakeFirst();
  if (!row || row.status === "active") return;
  if (row.status === "suspended") {
    throw new ServiceError(
      "refused",
      "このカードは一時停止中のため利用できません。お住まいの市区町村の窓口へお問い合わせください / the card is suspended: please ask at your municipality's counter",
      "card",
      { reason: "card-suspended" },
    );
  }
  throw new ServiceError(
    "refused",
    `このカードは利用できません（${row.status}）。お住まいの市区町村の窓口へお問い合わせください / this card is ${row.status} and cannot be used: please ask at your municipality's counter`,
    "card",
    { reason: `card-${row.status}` },
  );
}
