/**
 * Japan calendar dates.
 *
 * Every JPKI rule is stated in calendar days as lived in Japan: a certificate expires "on" a
 * date and its notAfter is 23:59:59 JST that day. Japan Standard Time is UTC+9 all year (no
 * daylight saving since 1951), so converting an instant is a fixed shift and needs no time-zone
 * database. Dates are kept as "YYYY-MM-DD" strings: they compare correctly as strings, print and
 * store as they are, and cannot be confused with an instant.
 *
 * Arithmetic is done on day numbers (days since 1970-01-01, proleptic Gregorian) with integer
 * formulas rather than through `Date`, because `Date.UTC` treats years 0–99 as 1900–1999 and
 * because nothing here should depend on the host's time zone. Nothing in this module reads the
 * clock.
 */
import { fail, quote } from "./errors.ts";

/** A Japan calendar date, always "YYYY-MM-DD" (years 0001–9999). */
export type JapanDate = string;

const JST_OFFSET_MS = 9 * 60 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

interface Ymd {
  readonly y: number;
  readonly m: number;
  readonly d: number;
}

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
// What either format refusal of `parseDateOrInstant` asks for, in Japanese.
const DATE_OR_INSTANT_JA = "日付（YYYY-MM-DD）か ISO 8601 の日時（例：2024-03-31T15:00:00Z）で入力してください";
// An RFC 3339 / ISO 8601 extended instant. Seconds and fractions are optional; the offset is
// captured separately so that its absence can be reported as ambiguity, not as a format error.
const INSTANT_RE =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?(?:([Zz])|([+-])(\d{2}):?(\d{2}))?$/;

function isLeapYear(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

function daysInMonth(y: number, m: number): number {
  if (m === 2) return isLeapYear(y) ? 29 : 28;
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

/** Checks a Y/M/D triple, reporting the same messages whether it came from a date or an instant. */
function checkYmd(y: number, m: number, d: number, shown: string, field: string): Ymd {
  if (y < 1) fail(field, "0000年の日付は使えません（0001〜9999年）", `year 0000 in ${shown} is out of range (0001–9999)`);
  if (m < 1 || m > 12 || d < 1 || d > daysInMonth(y, m)) fail(field, `${shown} は暦にない日付です`, `${shown} is not a calendar date`);
  return { y, m, d };
}

function toYmd(value: unknown, field: string): Ymd {
  if (typeof value !== "string") fail(field, "日付を YYYY-MM-DD の形で入力してください", `expected a date YYYY-MM-DD, got ${quote(value)}`);
  const match = DATE_RE.exec(value);
  if (!match) fail(field, "日付を YYYY-MM-DD の形で入力してください", `${quote(value)} is not a date in the form YYYY-MM-DD`);
  return checkYmd(Number(match[1]), Number(match[2]), Number(match[3]), value, field);
}

function format({ y, m, d }: Ymd): JapanDate {
  return `${String(y).padStart(4, "0")}-${String(m).padStart(2, "0")}-${String(d).padStart(2, "0")}`;
}

// Day-number conversions after the well-known "days from civil" method: shift the year to
// start in March so the leap day is the last day of the shifted year, then count whole
// 400-year cycles (146097 days each).
function dayNumber({ y, m, d }: Ymd): number {
  const yy = m <= 2 ? y - 1 : y;
  const cycle = Math.floor(yy / 400);
  const yearOfCycle = yy - cycle * 400;
  const monthFromMarch = (m + 9) % 12;
  const dayOfYear = Math.floor((153 * monthFromMarch + 2) / 5) + d - 1;
  const dayOfCycle =
    yearOfCycle * 365 + Math.floor(yearOfCycle / 4) - Math.floor(yearOfCycle / 100) + dayOfYear;
  return cycle * 146097 + dayOfCycle - 719468;
}

function fromDayNumber(n: number): Ymd {
  const z = n + 719468;
  const cycle = Math.floor(z / 146097);
  const dayOfCycle = z - cycle * 146097;
  const yearOfCycle = Math.floor(
    (dayOfCycle - Math.floor(dayOfCycle / 1460) + Math.floor(dayOfCycle / 36524) - Math.floor(dayOfCycle / 146096)) /
      365,
  );
  const dayOfYear = dayOfCycle - (365 * yearOfCycle + Math.floor(yearOfCycle / 4) - Math.floor(yearOfCycle / 100));
  const monthFromMarch = Math.floor((5 * dayOfYear + 2) / 153);
  const d = dayOfYear - Math.floor((153 * monthFromMarch + 2) / 5) + 1;
  const m = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9;
  return { y: yearOfCycle + cycle * 400 + (m <= 2 ? 1 : 0), m, d };
}

/** Formats a computed date, refusing results that left the supported range. */
function formatResult(p: Ymd, field: string): JapanDate {
  if (p.y < 1 || p.y > 9999) fail(field, "計算した日付が0001〜9999年の範囲を超えます", "the result falls outside years 0001–9999");
  return format(p);
}

function checkInteger(n: unknown, field: string): number {
  if (typeof n !== "number" || !Number.isSafeInteger(n)) fail(field, "整数で指定してください", `expected an integer, got ${quote(n)}`);
  return n;
}

/** Strict "YYYY-MM-DD"; impossible dates such as 2023-02-30 are rejected, naming `field`. */
export function parseJapanDate(text: string, field: string): JapanDate {
  return format(toYmd(text, field));
}

/**
 * A Japan date given either as "YYYY-MM-DD" or as an instant with "Z" or an offset
 * ("2024-03-31T15:00:00Z" is 2024-04-01 in Japan). An instant without an offset is refused:
 * it could be JST or UTC, and the two differ by a calendar day for nine hours of every day.
 */
export function parseDateOrInstant(text: string, field: string): JapanDate {
  if (typeof text !== "string") fail(field, DATE_OR_INSTANT_JA, `expected a date or an instant, got ${quote(text)}`);
  if (DATE_RE.test(text)) return parseJapanDate(text, field);
  const match = INSTANT_RE.exec(text);
  if (!match) {
    fail(field, DATE_OR_INSTANT_JA, `${quote(text)} is neither a date YYYY-MM-DD nor an ISO 8601 instant such as 2024-03-31T15:00:00Z`);
  }
  const [, ys, ms, ds, hs, mins, ss, zulu, sign, offH, offM] = match;
  const date = checkYmd(Number(ys), Number(ms), Number(ds), `${ys}-${ms}-${ds}`, field);
  const hour = Number(hs);
  const minute = Number(mins);
  const second = ss === undefined ? 0 : Number(ss);
  if (hour > 23 || minute > 59 || second > 59) fail(field, "ありえない時刻です", `${quote(text)} has an impossible time of day`);
  if (zulu === undefined && sign === undefined) {
    fail(
      field,
      "時刻にタイムゾーンがないため日本の日付が決まりません。Z か +09:00 のような時差を付けてください",
      `${quote(text)} has no time zone, so its Japan date is ambiguous; add Z or an offset such as +09:00`,
    );
  }
  let offsetMinutes = 0;
  if (sign !== undefined) {
    const oh = Number(offH);
    const om = Number(offM);
    if (oh > 23 || om > 59) fail(field, "ありえない時差です", `${quote(text)} has an impossible UTC offset`);
    offsetMinutes = (sign === "-" ? -1 : 1) * (oh * 60 + om);
  }
  // Minutes since 1970-01-01T00:00 UTC, then shifted to JST; fractions of a second never
  // matter because Japan days begin on a whole second.
  const utcMinutes = dayNumber(date) * 1440 + hour * 60 + minute - offsetMinutes;
  return formatResult(fromDayNumber(Math.floor((utcMinutes + 9 * 60) / 1440)), field);
}

/** The Japan calendar date on which `instant` falls. */
export function japanDateOf(instant: Date): JapanDate {
  if (!(instant instanceof Date) || Number.isNaN(instant.getTime())) {
    fail("instant", "正しい日時ではありません", `expected a valid Date, got ${quote(instant)}`);
  }
  return formatResult(fromDayNumber(Math.floor((instant.getTime() + JST_OFFSET_MS) / DAY_MS)), "instant");
}

/** 00:00:00 JST on `d`, i.e. 15:00:00Z the day before. */
export function startOfJapanDay(d: JapanDate): Date {
  return new Date(dayNumber(toYmd(d, "date")) * DAY_MS - JST_OFFSET_MS);
}

/**
 * 23:59:59 JST on `d` (14:59:59Z), the notAfter of a certificate expiring on `d`. Whole seconds,
 * because X.509 UTCTime/GeneralizedTime in certificates carry no fractions.
 */
export function endOfJapanDay(d: JapanDate): Date {
  return new Date(startOfJapanDay(d).getTime() + DAY_MS - 1000);
}

/** Negative, zero or positive as `a` is before, equal to or after `b`. */
export function compareJapanDates(a: JapanDate, b: JapanDate): number {
  const x = dayNumber(toYmd(a, "a"));
  const y = dayNumber(toYmd(b, "b"));
  return x < y ? -1 : x > y ? 1 : 0;
}

export function addDays(d: JapanDate, n: number): JapanDate {
  const days = checkInteger(n, "n");
  return formatResult(fromDayNumber(dayNumber(toYmd(d, "date")) + days), "date");
}

/**
 * `n` calendar months later (earlier when negative). A day that the target month lacks is
 * clamped to its last day (05-31 minus three months is 02-28 or 02-29), which is how "three
 * months before expiry" is read for the renewal window.
 */
export function addMonthsClamped(d: JapanDate, n: number): JapanDate {
  const months = checkInteger(n, "n");
  const { y, m, d: day } = toYmd(d, "date");
  const index = y * 12 + (m - 1) + months;
  const ny = Math.floor(index / 12);
  const nm = index - ny * 12 + 1;
  if (ny < 1 || ny > 9999) fail("date", "計算した日付が0001〜9999年の範囲を超えます", "the result falls outside years 0001–9999");
  return format({ y: ny, m: nm, d: Math.min(day, daysInMonth(ny, nm)) });
}

/**
 * The day in `year` that counts as the birthday of someone born on `birth`. A 29 February
 * birthday counts as 28 February in common years: the spec (§2.1, §6) adopts the convention of
 * Japanese statutes that deem such a birthday to fall on the last day of February.
 */
export function birthdayInYear(birth: JapanDate, year: number): JapanDate {
  const b = toYmd(birth, "birth");
  const y = checkInteger(year, "year");
  if (y < 1 || y > 9999) fail("year", `${y}年は0001〜9999年の範囲外です`, `${y} is outside years 0001–9999`);
  return format({ y, m: b.m, d: Math.min(b.d, daysInMonth(y, b.m)) });
}

/**
 * The n-th birthday strictly after `date` (n ≥ 1). A birthday that falls on `date` itself does
 * not count: a certificate issued on the holder's birthday runs to the 5th birthday after it,
 * i.e. five full years. `date` may be the day of birth itself, but not earlier.
 */
export function nthBirthdayAfter(birth: JapanDate, date: JapanDate, n: number): JapanDate {
  const b = toYmd(birth, "birth");
  const on = toYmd(date, "date");
  const count = checkInteger(n, "n");
  if (count < 1) fail("n", "1以上を指定してください", `must be 1 or more, got ${count}`);
  if (dayNumber(on) < dayNumber(b)) fail("date", `${format(on)} は生年月日（${format(b)}）より前です`, `${format(on)} is before the birth date ${format(b)}`);
  // Birthdays come once a year in order, so the first one after `date` is this year's or next
  // year's and the n-th is n − 1 years later.
  const thisYear = birthdayInYear(format(b), on.y);
  const firstYear = thisYear > format(on) ? on.y : on.y + 1;
  const year = firstYear + count - 1;
  if (year > 9999) fail("date", "計算した日付が0001〜9999年の範囲を超えます", "the result falls outside years 0001–9999");
  return birthdayInYear(format(b), year);
}

/**
 * Age in whole years on `date`; on the birthday the person already has the new age.
 *
 * A 29 February birth uses the same 28 February convention as `birthdayInYear`, so that age
 * and validity never disagree about which day is the birthday. (The Age Calculation Act read
 * strictly would reach the new age only at the end of 28 February; the spec lists this as open,
 * §8.11, and a one-day difference at 15 matters only for a birth on a leap day.)
 */
export function ageOn(birth: JapanDate, date: JapanDate): number {
  const b = toYmd(birth, "birth");
  const on = toYmd(date, "date");
  if (dayNumber(on) < dayNumber(b)) fail("date", `${format(on)} は生年月日（${format(b)}）より前です`, `${format(on)} is before the birth date ${format(b)}`);
  const years = on.y - b.y;
  return format(on) < birthdayInYear(format(b), on.y) ? years - 1 : years;
}

/** The earliest of the given dates (at least one). */
export function minDate(...dates: JapanDate[]): JapanDate {
  if (dates.length === 0) fail("dates", "日付を1つ以上指定してください", "at least one date is needed");
  let earliest = parseJapanDate(dates[0] as string, "dates");
  for (const d of dates.slice(1)) {
    const candidate = parseJapanDate(d, "dates");
    if (candidate < earliest) earliest = candidate;
  }
  return earliest;
}
