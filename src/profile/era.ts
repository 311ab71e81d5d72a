/**
 * Japanese eras (元号), as used by the date-of-birth otherName (1.2.392.200149.8.5.5.4) and for
 * showing dates to residents.
 *
 * The certificate stores one era digit followed by the *Gregorian* date ("419900102" is
 * 1990-01-02 in 平成), so the era digit is redundant for a known date; it exists because the
 * register also holds partial or unknown dates, zero-filled, whose era may still be known.
 */
import { fail, quote } from "./errors.ts";

/** A Gregorian calendar date, always "YYYY-MM-DD"; such strings compare in date order. */
export type CalendarDate = string;

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
// What a refusal of a date's form asks for, in Japanese.
const DATE_JA = "日付を YYYY-MM-DD の形で入力してください";

/** Strict "YYYY-MM-DD" naming a real day (2023-02-30 is refused), reported against `field`. */
function calendarDate(value: unknown, field: string): CalendarDate {
  if (typeof value !== "string") fail(field, DATE_JA, `expected a date YYYY-MM-DD, got ${quote(value)}`);
  const [, y, m, d] = DATE_RE.exec(value) ?? fail(field, DATE_JA, `${quote(value)} is not a date in the form YYYY-MM-DD`);
  if (y === "0000") fail(field, "0000年の日付は使えません（0001〜9999年）", `year 0000 in ${value} is out of range (0001–9999)`);
  // A day that does not exist rolls over into another month; setUTCFullYear, unlike Date.UTC,
  // keeps years 1–99 as they are.
  const day = new Date(0);
  day.setUTCFullYear(Number(y), Number(m) - 1, Number(d));
  if (day.getUTCMonth() !== Number(m) - 1 || day.getUTCDate() !== Number(d)) fail(field, `${value} は暦にない日付です`, `${value} is not a calendar date`);
  return value;
}

export interface Era {
  /** The digit used in the date-of-birth encoding. */
  readonly digit: 1 | 2 | 3 | 4 | 5;
  readonly ja: string;
  readonly en: string;
  /** First day (Gregorian). The day an era changes counts as the new era's first day. */
  readonly start: CalendarDate;
}

export const ERAS: readonly Era[] = [
  { digit: 1, ja: "明治", en: "Meiji", start: "1868-10-23" },
  { digit: 2, ja: "大正", en: "Taisho", start: "1912-07-30" },
  { digit: 3, ja: "昭和", en: "Showa", start: "1926-12-25" },
  { digit: 4, ja: "平成", en: "Heisei", start: "1989-01-08" },
  { digit: 5, ja: "令和", en: "Reiwa", start: "2019-05-01" },
];

/** The digit for a date whose era is unknown. */
export const UNKNOWN_ERA = 0;

/**
 * Japan used a lunisolar calendar until 明治5年12月2日; the next day was 1873-01-01 (明治6年).
 * Earlier Gregorian dates have a different month and day in Japanese reckoning, which cannot be
 * computed by arithmetic, so the Japanese-era formatting refuses them.
 */
const GREGORIAN_ADOPTION: CalendarDate = "1873-01-01";

function eraOf(date: CalendarDate, field: string): Era {
  let found: Era | undefined;
  for (const era of ERAS) if (date >= era.start) found = era;
  if (!found) fail(field, `${date} は明治の始まり（${ERAS[0]?.start}）より前の日付のため扱えません`, `${date} is before the Meiji era (${ERAS[0]?.start})`);
  return found;
}

function eraByDigit(digit: number): Era | undefined {
  return ERAS.find((e) => e.digit === digit);
}

/** "EYYYYMMDD": era digit + Gregorian date, e.g. 1990-01-02 → "419900102". */
export function toEraDigitDate(birth: CalendarDate): string {
  const date = calendarDate(birth, "birth");
  return `${eraOf(date, "birth").digit}${date.replaceAll("-", "")}`;
}

/**
 * Reads "EYYYYMMDD". A full date comes back as a CalendarDate, and its era digit must be the era
 * the date falls in. Partial dates (unknown month and day "YYYY0000", unknown day "YYYYMM00") and
 * the unknown date "00000000" come back with date null and the era kept; a partial year must lie
 * within the era given. Era 0 (unknown) is accepted only without a full date, since a full date
 * determines its era.
 */
export function fromEraDigitDate(s: string): { era: number; date: CalendarDate | null } {
  const field = "birth";
  if (typeof s !== "string" || !/^[0-5][0-9]{8}$/.test(s)) {
    fail(field, "元号の数字（0〜5）に続けて年月日を YYYYMMDD の形で指定してください", `${quote(s)} is not an era digit 0–5 followed by YYYYMMDD`);
  }
  const digit = Number(s[0]);
  const year = s.slice(1, 5);
  const month = s.slice(5, 7);
  const day = s.slice(7, 9);
  const era = eraByDigit(digit);

  if (day === "00") {
    // Partial or unknown: zeros must run to the end (no known day with an unknown month).
    if (year === "0000" && month !== "00") fail(field, "年が不明なのに月が指定されています", `${s} gives a month without a year`);
    if (month !== "00" && (Number(month) < 1 || Number(month) > 12)) fail(field, "ありえない月です", `${s} has an impossible month`);
    if (year !== "0000" && era) {
      const next = eraByDigit(digit + 1);
      const first = Number(era.start.slice(0, 4));
      const last = next ? Number(next.start.slice(0, 4)) : 9999;
      if (Number(year) < first || Number(year) > last) {
        fail(
          field,
          `${Number(year)}年は${era.ja}（${first}年〜${next ? `${last}年` : ""}）の範囲外です`,
          `${s}: the year ${Number(year)} is outside the ${era.en} era (${first}–${next ? last : ""})`,
        );
      }
    }
    return { era: digit, date: null };
  }

  const date = calendarDate(`${year}-${month}-${day}`, field);
  const actual = eraOf(date, field);
  if (digit !== actual.digit) {
    fail(
      field,
      `元号の数字 ${digit} は ${date} と合いません（${actual.ja}は ${actual.digit} です）`,
      `${s}: era digit ${digit} does not match ${date}, which is in ${actual.ja} (${actual.digit})`,
    );
  }
  return { era: digit, date };
}

function eraYear(date: CalendarDate, field: string): { era: Era; year: number } {
  const d = calendarDate(date, field);
  if (d < GREGORIAN_ADOPTION) {
    fail(field, `${d} は日本のグレゴリオ暦採用（1873-01-01）より前の日付のため扱えません`, `${d} predates Japan's adoption of the Gregorian calendar (1873-01-01)`);
  }
  const era = eraOf(d, field);
  return { era, year: Number(d.slice(0, 4)) - Number(era.start.slice(0, 4)) + 1 };
}

/** "平成2年1月2日"; the first year of an era is written 元年 ("令和元年5月1日"). */
export function formatJapaneseEra(date: CalendarDate): string {
  const { era, year } = eraYear(date, "date");
  return `${era.ja}${year === 1 ? "元" : year}年${Number(date.slice(5, 7))}月${Number(date.slice(8, 10))}日`;
}

/** "Heisei 2 (1990)": the era year with its Gregorian year, for English pages. */
export function formatJapaneseEraEnglish(date: CalendarDate): string {
  const { era, year } = eraYear(date, "date");
  return `${era.en} ${year} (${date.slice(0, 4)})`;
}
