import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  addDays,
  addMonthsClamped,
  ageOn,
  birthdayInYear,
  compareJapanDates,
  endOfJapanDay,
  japanDateOf,
  minDate,
  nthBirthdayAfter,
  parseDateOrInstant,
  parseJapanDate,
  startOfJapanDay,
} from "../../src/rules/japan-date.ts";
import { RuleInputError } from "../../src/rules/errors.ts";

function throwsField(fn: () => unknown, field: string, message?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof RuleInputError, `expected RuleInputError, got ${String(e)}`);
    assert.equal(e.field, field);
    assert.equal(e.name, "RuleInputError");
    assert.ok(e.message.startsWith(`${field}: `), e.message);
    assert.ok(!e.message.includes("\n"), "one-line message");
    if (message) assert.match(e.message, message);
    return true;
  });
}

describe("parseJapanDate", () => {
  for (const good of ["2024-02-29", "2000-02-29", "1868-10-23", "0001-01-01", "9999-12-31", "2023-12-31"]) {
    test(`accepts ${good}`, () => assert.equal(parseJapanDate(good, "d"), good));
  }
  const bad: [string, RegExp][] = [
    ["2023-02-29", /not a calendar date/],
    ["1900-02-29", /not a calendar date/],
    ["2023-02-30", /2023-02-30 is not a calendar date/],
    ["2023-04-31", /not a calendar date/],
    ["2023-13-01", /not a calendar date/],
    ["2023-00-10", /not a calendar date/],
    ["2023-01-00", /not a calendar date/],
    ["0000-01-01", /out of range/],
    ["2024-2-1", /YYYY-MM-DD/],
    ["20240201", /YYYY-MM-DD/],
    [" 2024-02-01", /YYYY-MM-DD/],
    ["2024-02-01T00:00:00Z", /YYYY-MM-DD/],
    ["", /YYYY-MM-DD/],
    ["２０２４-０２-０１", /YYYY-MM-DD/],
  ];
  for (const [text, message] of bad) {
    test(`refuses ${JSON.stringify(text)}`, () => throwsField(() => parseJapanDate(text, "birth"), "birth", message));
  }
  test("refuses non-strings", () => {
    throwsField(() => parseJapanDate(20240201 as unknown as string, "issued"), "issued");
    throwsField(() => parseJapanDate(undefined as unknown as string, "issued"), "issued");
  });
  test("keeps a newline out of the message", () => {
    throwsField(() => parseJapanDate("2024-01-01\nrm -rf", "birth"), "birth");
  });
});

describe("parseDateOrInstant", () => {
  const table: [string, string][] = [
    ["2024-04-01", "2024-04-01"],
    ["2024-03-31T15:00:00Z", "2024-04-01"],
    ["2024-03-31T14:59:59Z", "2024-03-31"],
    ["2024-03-31T14:59:59.999Z", "2024-03-31"],
    ["2024-03-31T15:00Z", "2024-04-01"],
    ["2024-04-01T00:00:00+09:00", "2024-04-01"],
    ["2024-03-31T23:59:59+09:00", "2024-03-31"],
    ["2024-04-01T08:59:59+0900", "2024-04-01"],
    ["2024-03-31T10:00:00-05:00", "2024-04-01"],
    ["2024-03-31T09:59:59-05:00", "2024-03-31"],
    ["2023-12-31T15:00:00Z", "2024-01-01"],
    ["2024-02-28T15:00:00Z", "2024-02-29"],
    ["2023-02-28T15:00:00Z", "2023-03-01"],
    ["2024-03-31t15:00:00z", "2024-04-01"],
    ["2024-04-01T00:30:00+14:00", "2024-03-31"], // 2024-03-31T10:30Z = 19:30 JST
  ];
  for (const [text, date] of table) {
    test(`${text} → ${date}`, () => assert.equal(parseDateOrInstant(text, "issued"), date));
  }
  const bad: [string, RegExp][] = [
    ["2024-03-31T15:00:00", /ambiguous/],
    ["2024-03-31T15:00", /ambiguous/],
    ["2024-02-30T00:00:00Z", /2024-02-30 is not a calendar date/],
    ["2024-03-31T24:00:00Z", /impossible time/],
    ["2024-03-31T12:60:00Z", /impossible time/],
    ["2024-03-31T12:00:00+25:00", /impossible UTC offset/],
    ["2024-03-31 15:00:00Z", /neither a date/],
    ["yesterday", /neither a date/],
    ["2024-02-30", /not a calendar date/],
  ];
  for (const [text, message] of bad) {
    test(`refuses ${text}`, () => throwsField(() => parseDateOrInstant(text, "issued"), "issued", message));
  }
});

describe("JST day boundaries", () => {
  test("japanDateOf", () => {
    assert.equal(japanDateOf(new Date("2024-03-31T14:59:59.999Z")), "2024-03-31");
    assert.equal(japanDateOf(new Date("2024-03-31T15:00:00.000Z")), "2024-04-01");
    assert.equal(japanDateOf(new Date("1970-01-01T00:00:00Z")), "1970-01-01");
    assert.equal(japanDateOf(new Date("1969-12-31T14:59:59Z")), "1969-12-31");
    assert.equal(japanDateOf(new Date("1969-12-31T15:00:00Z")), "1970-01-01");
  });
  test("japanDateOf refuses an invalid Date", () => throwsField(() => japanDateOf(new Date("x")), "instant"));
  test("startOfJapanDay is 15:00Z the day before", () => {
    assert.equal(startOfJapanDay("2024-04-01").toISOString(), "2024-03-31T15:00:00.000Z");
    assert.equal(startOfJapanDay("2024-03-01").toISOString(), "2024-02-29T15:00:00.000Z");
  });
  test("endOfJapanDay is 14:59:59Z, whole seconds", () => {
    assert.equal(endOfJapanDay("2030-02-17").toISOString(), "2030-02-17T14:59:59.000Z");
    assert.equal(endOfJapanDay("2025-10-19").toISOString(), "2025-10-19T14:59:59.000Z"); // signca01 notAfter
    assert.equal(endOfJapanDay("2024-12-31").toISOString(), "2024-12-31T14:59:59.000Z");
  });
  test("bad dates name the field", () => {
    throwsField(() => startOfJapanDay("2024-02-30"), "date");
    throwsField(() => endOfJapanDay("soon"), "date");
  });
});

describe("arithmetic", () => {
  test("compareJapanDates", () => {
    assert.equal(compareJapanDates("2024-01-01", "2024-01-02"), -1);
    assert.equal(compareJapanDates("2024-01-02", "2024-01-01"), 1);
    assert.equal(compareJapanDates("2024-01-01", "2024-01-01"), 0);
    assert.equal(compareJapanDates("0999-12-31", "1000-01-01"), -1);
    throwsField(() => compareJapanDates("2024-01-01", "x"), "b");
  });

  const days: [string, number, string][] = [
    ["2024-02-28", 1, "2024-02-29"],
    ["2023-02-28", 1, "2023-03-01"],
    ["2024-12-31", 1, "2025-01-01"],
    ["2025-01-01", -1, "2024-12-31"],
    ["2024-03-01", -1, "2024-02-29"],
    ["2024-01-01", 366, "2025-01-01"],
    ["2023-01-01", 365, "2024-01-01"],
    ["2000-01-01", 0, "2000-01-01"],
    ["1970-01-01", -1, "1969-12-31"],
    ["2000-03-01", -1, "2000-02-29"],
    ["2100-03-01", -1, "2100-02-28"],
  ];
  for (const [d, n, expected] of days) {
    test(`addDays(${d}, ${n}) = ${expected}`, () => assert.equal(addDays(d, n), expected));
  }
  test("addDays agrees with Date over 300 years", () => {
    // Date is an independent oracle here: it is exact for these years.
    const at = Date.UTC(1850, 0, 1);
    for (let i = 0; i < 300 * 366; i += 97) {
      const expected = new Date(at + i * 86400000).toISOString().slice(0, 10);
      assert.equal(addDays("1850-01-01", i), expected);
    }
  });
  test("addDays refuses a fractional count and leaving the range", () => {
    throwsField(() => addDays("2024-01-01", 1.5), "n");
    throwsField(() => addDays("9999-12-31", 1), "date");
  });

  const months: [string, number, string][] = [
    ["2024-01-31", 1, "2024-02-29"],
    ["2023-01-31", 1, "2023-02-28"],
    ["2024-03-31", -1, "2024-02-29"],
    ["2026-05-31", -3, "2026-02-28"],
    ["2024-12-15", 1, "2025-01-15"],
    ["2024-01-15", -13, "2022-12-15"],
    ["2024-08-31", -2, "2024-06-30"],
    ["2024-02-29", 12, "2025-02-28"],
    ["2024-05-10", 0, "2024-05-10"],
  ];
  for (const [d, n, expected] of months) {
    test(`addMonthsClamped(${d}, ${n}) = ${expected}`, () => assert.equal(addMonthsClamped(d, n), expected));
  }
});

describe("birthdays and age", () => {
  const inYear: [string, number, string][] = [
    ["2000-02-29", 2023, "2023-02-28"],
    ["2000-02-29", 2024, "2024-02-29"],
    ["2000-02-29", 2100, "2100-02-28"],
    ["1990-01-02", 2030, "2030-01-02"],
    ["1990-12-31", 1990, "1990-12-31"],
  ];
  for (const [birth, year, expected] of inYear) {
    test(`birthdayInYear(${birth}, ${year}) = ${expected}`, () => assert.equal(birthdayInYear(birth, year), expected));
  }

  const nth: [string, string, number, string][] = [
    ["1990-06-01", "2024-06-01", 1, "2025-06-01"],
    ["1990-06-01", "2024-05-31", 1, "2024-06-01"],
    ["1990-06-01", "2024-06-01", 5, "2029-06-01"],
    ["1990-06-01", "1990-06-01", 1, "1991-06-01"],
    ["2000-02-29", "2023-02-28", 1, "2024-02-29"],
    ["2000-02-29", "2023-02-27", 1, "2023-02-28"],
    ["2000-02-29", "2024-02-29", 1, "2025-02-28"],
  ];
  for (const [birth, date, n, expected] of nth) {
    test(`nthBirthdayAfter(${birth}, ${date}, ${n}) = ${expected}`, () =>
      assert.equal(nthBirthdayAfter(birth, date, n), expected));
  }
  test("nthBirthdayAfter refuses a date before birth and n < 1", () => {
    throwsField(() => nthBirthdayAfter("2000-01-02", "2000-01-01", 1), "date");
    throwsField(() => nthBirthdayAfter("2000-01-02", "2001-01-01", 0), "n");
    throwsField(() => nthBirthdayAfter("2000-02-30", "2001-01-01", 1), "birth");
  });

  const ages: [string, string, number][] = [
    ["2010-04-01", "2025-03-31", 14],
    ["2010-04-01", "2025-04-01", 15],
    ["2010-04-01", "2010-04-01", 0],
    ["2008-02-29", "2023-02-27", 14],
    ["2008-02-29", "2023-02-28", 15],
    ["2008-02-29", "2024-02-28", 15],
    ["2008-02-29", "2024-02-29", 16],
    ["1990-12-31", "2024-12-30", 33],
    ["1990-12-31", "2024-12-31", 34],
  ];
  for (const [birth, date, age] of ages) {
    test(`ageOn(${birth}, ${date}) = ${age}`, () => assert.equal(ageOn(birth, date), age));
  }
  test("ageOn refuses a date before birth", () => throwsField(() => ageOn("2010-04-01", "2010-03-31"), "date"));

  test("minDate", () => {
    assert.equal(minDate("2029-01-02"), "2029-01-02");
    assert.equal(minDate("2029-01-02", "2027-05-31", "2028-01-01"), "2027-05-31");
    throwsField(() => minDate(), "dates");
    throwsField(() => minDate("2029-01-02", "2029-02-30"), "dates");
  });
});
