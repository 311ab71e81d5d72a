import { japanDateOf, parseDateOrInstant, startOfJapanDay, type JapanDate } from "../rules/japan-date.ts";
import type { Clock } from "./clock.ts";
import { inputErrorAs } from "./input-errors.ts";

/**
 * Japan dates (JST, no DST) where the outer layers meet them: today by a service clock, and a
 * date someone typed turned into the instant a service takes.
 */

/** Today's Japan date by `clock`. */
export function japanToday(clock: Clock): JapanDate {
  return japanDateOf(clock());
}

/**
 * 00:00:00 JST on the Japan date of `text` (a date YYYY-MM-DD, or an instant with Z or an
 * offset). Input that is neither is a ServiceError "invalid-input" naming `field`, with the
 * rule's one-line message.
 */
export function startOfJapanDayOf(text: string, field: string): Date {
  try {
    return startOfJapanDay(parseDateOrInstant(text, field));
  } catch (error) {
    throw inputErrorAs(error, "invalid-input");
  }
}
