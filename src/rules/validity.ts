/**
 * How long certificates and cards are valid, and when renewal may start (spec §2.1).
 *
 * All inputs and outputs are Japan calendar dates; a certificate expiring on a date is valid
 * until 23:59:59 JST that day (see `endOfJapanDay`). "Today" is always a parameter.
 */
import { fail } from "./errors.ts";
import { signingEligibility, type SigningRefusal } from "./eligibility.ts";
import {
  addMonthsClamped,
  ageOn,
  compareJapanDates,
  minDate,
  nthBirthdayAfter,
  parseJapanDate,
  type JapanDate,
} from "./japan-date.ts";

/** Birthdays a first (or late) certificate runs to. */
export const CERTIFICATE_BIRTHDAYS = 5;
/** Birthdays a certificate issued as a renewal inside the window runs to. */
export const RENEWAL_CERTIFICATE_BIRTHDAYS = 6;
/** The renewal window opens this many calendar months before expiry. */
export const RENEWAL_WINDOW_MONTHS = 3;
/** Card: 10th birthday for adults at issuance, 5th for minors. */
export const CARD_ADULT_BIRTHDAYS = 10;
export const CARD_MINOR_BIRTHDAYS = 5;
/** The age of majority fell from 20 to 18 on 2022-04-01 (民法 amendment), and the card rule with it. */
export const AGE_OF_MAJORITY_CHANGE: JapanDate = "2022-04-01";

export interface CertificateValidityInput {
  /** Date of birth as on the resident register. */
  birth: JapanDate;
  /** Japan date of issuance (convert an instant with `japanDateOf` or `parseDateOrInstant`). */
  issued: JapanDate;
  /**
   * Issued as a renewal (更新) while fewer than three months remained on the certificate it
   * replaces: runs to the 6th birthday instead of the 5th. `renewalMode` tells the counter.
   */
  renewal?: boolean;
  /** Expiry of the card the certificates are written to. */
  cardExpiry?: JapanDate;
  /**
   * End of the period of stay of a foreign resident. Omit it for people without one
   * (Japanese nationals, permanent and special permanent residents, 高度専門職2号).
   */
  residenceEnd?: JapanDate;
  /** Expiry of the authentication certificate the holder keeps, when only signing is issued. */
  authExpiry?: JapanDate;
  /** Adult under guardianship (成年被後見人): no signing certificate. */
  guardianship?: boolean;
}

export interface CertificatePeriod {
  expires: JapanDate;
  renewalFrom: JapanDate;
}

export interface CertificateValidity {
  auth: CertificatePeriod;
  sign: ({ eligible: true } & CertificatePeriod) | { eligible: false; reason: SigningRefusal };
}

/** Validates an optional cap: a real date, and not before the issuance date. */
function cap(value: JapanDate | undefined, field: string, issued: JapanDate): JapanDate[] {
  if (value === undefined) return [];
  const date = parseJapanDate(value, field);
  if (compareJapanDates(date, issued) < 0) {
    fail(
      field,
      `${date} は発行日（${issued}）より前のため、有効な電子証明書を発行できません`,
      `${date} is before the issuance date ${issued}, so no certificate could be valid`,
    );
  }
  return [date];
}

function checkFlag(value: unknown, field: string): boolean {
  if (value === undefined) return false;
  if (typeof value !== "boolean") fail(field, "true か false を指定してください", "expected true or false");
  return value;
}

/**
 * Expiry of the authentication and signing certificates issued on `issued` (spec §2.1):
 * - both run to the 5th birthday after issuance (a birthday on the issuance day does not
 *   count), or the 6th for a renewal;
 * - both end no later than the card and, for a foreign resident, the period of stay;
 * - the signing certificate also ends no later than the authentication certificate held
 *   (Nakano City: when issued on different days, signing ends with auth).
 * A cap equal to the issuance date is allowed: the certificate is then valid for that day.
 */
export function certificateValidity(input: CertificateValidityInput): CertificateValidity {
  const birth = parseJapanDate(input.birth, "birth");
  const issued = parseJapanDate(input.issued, "issued");
  if (compareJapanDates(issued, birth) < 0) fail("issued", `${issued} は生年月日（${birth}）より前です`, `${issued} is before the birth date ${birth}`);
  const renewal = checkFlag(input.renewal, "renewal");
  const guardianship = checkFlag(input.guardianship, "guardianship");

  const commonCaps = [
    ...cap(input.cardExpiry, "cardExpiry", issued),
    ...cap(input.residenceEnd, "residenceEnd", issued),
  ];
  const authCap = cap(input.authExpiry, "authExpiry", issued);

  const byBirthday = nthBirthdayAfter(
    birth,
    issued,
    renewal ? RENEWAL_CERTIFICATE_BIRTHDAYS : CERTIFICATE_BIRTHDAYS,
  );
  const authExpires = minDate(byBirthday, ...commonCaps);
  const auth = { expires: authExpires, renewalFrom: renewalFrom(authExpires) };

  const eligibility = signingEligibility({ birth, on: issued, guardianship });
  if (!eligibility.eligible) return { auth, sign: eligibility };
  const signExpires = minDate(byBirthday, ...commonCaps, ...authCap);
  return { auth, sign: { eligible: true, expires: signExpires, renewalFrom: renewalFrom(signExpires) } };
}

/**
 * Expiry of a My Number Card issued on `issued` (spec §2.1): the 10th birthday after issuance
 * for an adult, the 5th for a minor; capped by the end of a foreign resident's period of stay.
 * Adult means 18 or over, or 20 or over for issuance before 2022-04-01, when the age of
 * majority changed. (The sources speak of the application date; callers that know it may pass
 * it as `issued` for the threshold — the difference matters only across that one date.)
 */
export function cardValidity(input: { birth: JapanDate; issued: JapanDate; residenceEnd?: JapanDate }): {
  expires: JapanDate;
} {
  const birth = parseJapanDate(input.birth, "birth");
  const issued = parseJapanDate(input.issued, "issued");
  if (compareJapanDates(issued, birth) < 0) fail("issued", `${issued} は生年月日（${birth}）より前です`, `${issued} is before the birth date ${birth}`);
  const adultAge = compareJapanDates(issued, AGE_OF_MAJORITY_CHANGE) < 0 ? 20 : 18;
  const birthdays = ageOn(birth, issued) >= adultAge ? CARD_ADULT_BIRTHDAYS : CARD_MINOR_BIRTHDAYS;
  return { expires: minDate(nthBirthdayAfter(birth, issued, birthdays), ...cap(input.residenceEnd, "residenceEnd", issued)) };
}

/**
 * First day of the renewal window: three calendar months before expiry, the day clamped to the
 * end of a shorter month (2026-05-31 → 2026-02-28). The window is taken to include this day;
 * some cities say "from the day after", which would only narrow it by one day.
 */
export function renewalFrom(expires: JapanDate): JapanDate {
  return addMonthsClamped(parseJapanDate(expires, "expires"), -RENEWAL_WINDOW_MONTHS);
}

/** Whether `today` lies in [renewalFrom(expires), expires]. */
export function isRenewalWindowOpen(expires: JapanDate, today: JapanDate): boolean {
  const end = parseJapanDate(expires, "expires");
  const day = parseJapanDate(today, "today");
  return compareJapanDates(day, renewalFrom(end)) >= 0 && compareJapanDates(day, end) <= 0;
}

/**
 * How a new certificate issued `today` relates to the one expiring on `previousExpires`:
 * "renewal" inside the window (the new one gets the 6th-birthday rule), "too-early" before it
 * (a replacement then is new issuance, 5th birthday), "expired" after the expiry day
 * (新規発行, 5th birthday).
 */
export function renewalMode(previousExpires: JapanDate, today: JapanDate): "renewal" | "too-early" | "expired" {
  const expires = parseJapanDate(previousExpires, "previousExpires");
  const day = parseJapanDate(today, "today");
  if (compareJapanDates(day, expires) > 0) return "expired";
  return isRenewalWindowOpen(expires, day) ? "renewal" : "too-early";
}
