import { randomBytes } from "node:crypto";
import { ServiceError } from "./errors.ts";

// Crockford base32 without I, L, O, U: unambiguous when read aloud at a counter.
const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/** A random identifier like `R-7K3M9Q2XHT`: a one-letter kind, then 10 base32 characters (50 bits). */
export function newId(kind: "R" | "C" | "A" | "E"): string {
  const bytes = randomBytes(10);
  let out = "";
  for (const b of bytes) out += ALPHABET[b & 31];
  return `${kind}-${out}`;
}

/** A card id's shape: what `newId("C")` makes. */
export const CARD_ID_PATTERN = /^C-[0-9A-Z]{10}$/;

/** `id` when it has a card id's shape; else invalid input naming `card`. */
export function checkCardId(id: unknown): string {
  if (typeof id !== "string" || !CARD_ID_PATTERN.test(id)) {
    throw new ServiceError("invalid-input", `card: ${JSON.stringify(id)} is not a card id (C- and 10 capital letters or digits)`, "card");
  }
  return id;
}

/**
 * The opaque subject CN of a JPKI certificate: 23 characters, the JST issuance time
 * (YYYYMMDDhhmmss) followed by 9 random base32 characters. It carries no personal data,
 * like the real one, and is unique per CA (enforced by the store).
 */
export function newSubjectCn(now: Date): string {
  const jst = new Date(now.getTime() + 9 * 3600_000).toISOString();
  const stamp = jst.slice(0, 19).replace(/[-T:]/g, "");
  const bytes = randomBytes(9);
  let out = "";
  for (const b of bytes) out += ALPHABET[b & 31];
  return stamp + out;
}
