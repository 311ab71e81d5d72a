// The proxy (代理人) rules of the window procedure (spec §2.3): who may finish on the day they
// apply, and how long the 照会書兼回答書 stays good. Pure: dates in, decision out.
import { addDays, compareJapanDates, type JapanDate } from "./japan-date.ts";
import { fail, quote } from "./errors.ts";

/**
 * - `appointed` 任意代理人: anyone the holder appoints. Never the same day: the municipality mails
 *   the 照会書兼回答書 to the holder's registered address, and the proxy comes a second time with it.
 * - `legal` 法定代理人 (parent of a minor, guardian): may finish the same day, on proof of
 *   the representation (戸籍謄本, 登記事項証明書).
 * - `household` 同一世帯員: may finish the same day with a 委任状 (letter of attorney) from the
 *   holder; without one they are treated as an appointed proxy.
 */
export type ProxyType = "appointed" | "legal" | "household";
export const PROXY_TYPES: readonly ProxyType[] = ["appointed", "legal", "household"];

/** How long the answer form is good for after the application (days, inclusive of the last). */
export const PROXY_ANSWER_DAYS = 30;
/** Wrong answer codes before the application is locked (a new application is needed). */
export const PROXY_ANSWER_ATTEMPTS = 5;

export interface ProxyCompletionInput {
  proxyType: ProxyType;
  /** The holder gave a 委任状 (letter of attorney) — matters for a household member. */
  letterOfAttorney: boolean;
  /** The Japan date the application was taken (the first visit). */
  startedOn: JapanDate;
  /** The Japan date of the visit that would complete it. */
  today: JapanDate;
}

export type ProxyCompletion =
  | { allowed: true; sameDay: boolean; answerCodeRequired: boolean }
  | { allowed: false; reason: "proxy-same-day" | "proxy-expired"; firstDay?: JapanDate; lastDay?: JapanDate };

/** Whether this proxy may take the same-day route (no 照会書 round trip). */
export function sameDayAllowed(proxyType: ProxyType, letterOfAttorney: boolean): boolean {
  if (!PROXY_TYPES.includes(proxyType)) {
    fail(
      "proxyType",
      "代理人の種別は appointed（任意代理人）、legal（法定代理人）、household（同一世帯員）のどれかを指定してください",
      `expected one of ${PROXY_TYPES.join(", ")}, got ${quote(proxyType)}`,
    );
  }
  return proxyType === "legal" || (proxyType === "household" && letterOfAttorney);
}

/** The last day the answer form may be brought back. */
export function proxyAnswerDeadline(startedOn: JapanDate): JapanDate {
  return addDays(startedOn, PROXY_ANSWER_DAYS);
}

/**
 * May the application be completed today? An appointed proxy (or a household member without a
 * 委任状) only from the day after the application and with the answer code from the form the
 * holder received; a legal representative or a household member with a 委任状 also the same day,
 * without the form. Nobody after the deadline.
 */
export function proxyCompletion(input: ProxyCompletionInput): ProxyCompletion {
  const fast = sameDayAllowed(input.proxyType, input.letterOfAttorney);
  const order = compareJapanDates(input.today, input.startedOn);
  if (order < 0) fail("today", `${input.today} は申請日（${input.startedOn}）より前です`, `${input.today} is before the application (${input.startedOn})`);
  const lastDay = proxyAnswerDeadline(input.startedOn);
  if (compareJapanDates(input.today, lastDay) > 0) return { allowed: false, reason: "proxy-expired", lastDay };
  if (order === 0 && !fast) return { allowed: false, reason: "proxy-same-day", firstDay: addDays(input.startedOn, 1) };
  return { allowed: true, sameDay: order === 0, answerCodeRequired: !fast };
}
