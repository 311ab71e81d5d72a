import { normalizeText } from "../profile/attributes.ts";
import { inputErrorAs } from "./input-errors.ts";

/**
 * Free text the services record (staff, proxy, client and verifier names, identity notes), checked by
 * `normalizeText` (no control, bidi-override or lone-surrogate characters; NFC; a length limit);
 * a refusal becomes an invalid-input ServiceError naming `field`.
 */
export function freeText(value: string, field: string, maxLength: number): string {
  try {
    return normalizeText(value, field, maxLength);
  } catch (error) {
    throw inputErrorAs(error, "invalid-input");
  }
}
