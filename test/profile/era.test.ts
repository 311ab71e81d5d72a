import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  ERAS,
  formatJapaneseEra,
  formatJapaneseEraEnglish,
  fromEraDigitDate,
  toEraDigitDate,
} from "../../src/profile/era.ts";
import { ProfileInputError } from "../../src/profile/errors.ts";

describe("ERAS", () => {
  test("digits and first days", () => {
    assert.deepEqual(
      ERAS.map((e) => [e.digit, e.ja, e.start]),
      [
        [1, "明治", "1868-10-23"],
        [2, "大正", "1912-07-30"],
        [3, "昭和", "1926-12-25"],
        [4, "平成", "1989-01-08"],
        [5, "令和", "2019-05-01"],
      ],
    );
  });
});

describe("toEraDigitDate", () => {
  const table: [string, string][] = [
    ["1990-01-02", "419900102"], // the example in public material
    ["1899-12-01", "118991201"],
    ["1868-10-23", "118681023"],
    ["1912-07-29", "119120729"],
    ["1912-07-30", "219120730"],
    ["1926-12-24", "219261224"],
    ["1926-12-25", "319261225"],
    ["1989-01-07", "319890107"],
    ["1989-01-08", "419890108"],
    ["2019-04-30", "420190430"],
    ["2019-05-01", "520190501"],
    ["2024-02-29", "520240229"],
  ];
  for (const [date, code] of table) {
    test(`${date} → ${code}`, () => assert.equal(toEraDigitDate(date), code));
  }
  test("refuses a date before Meiji and an impossible date", () => {
    assert.throws(() => toEraDigitDate("1868-10-22"), { name: "ProfileInputError", field: "birth" });
    assert.throws(() => toEraDigitDate("1990-02-30"), { name: "ProfileInputError", field: "birth" });
  });
  test("checks the calendar: leap days, month and day ranges, the form", () => {
    assert.equal(toEraDigitDate("2000-02-29"), "420000229");
    assert.equal(toEraDigitDate("2024-02-29"), "520240229");
    const refused: [unknown, string][] = [
      ["1900-02-29", "birth: 1900-02-29 は暦にない日付です / 1900-02-29 is not a calendar date"],
      ["2023-02-29", "birth: 2023-02-29 は暦にない日付です / 2023-02-29 is not a calendar date"],
      ["1990-04-31", "birth: 1990-04-31 は暦にない日付です / 1990-04-31 is not a calendar date"],
      ["1990-13-01", "birth: 1990-13-01 は暦にない日付です / 1990-13-01 is not a calendar date"],
      ["1990-00-10", "birth: 1990-00-10 は暦にない日付です / 1990-00-10 is not a calendar date"],
      ["1990-01-00", "birth: 1990-01-00 は暦にない日付です / 1990-01-00 is not a calendar date"],
      ["1990-1-2", 'birth: 日付を YYYY-MM-DD の形で入力してください / "1990-1-2" is not a date in the form YYYY-MM-DD'],
      [19900102, "birth: 日付を YYYY-MM-DD の形で入力してください / expected a date YYYY-MM-DD, got 19900102"],
      ["1868-10-22", "birth: 1868-10-22 は明治の始まり（1868-10-23）より前の日付のため扱えません / 1868-10-22 is before the Meiji era (1868-10-23)"],
    ];
    for (const [input, message] of refused) {
      assert.throws(() => toEraDigitDate(input as string), { name: "ProfileInputError", field: "birth", message });
    }
    assert.throws(() => fromEraDigitDate("000000505"), { field: "birth", message: "birth: 0000年の日付は使えません（0001〜9999年） / year 0000 in 0000-05-05 is out of range (0001–9999)" });
  });
});

describe("fromEraDigitDate", () => {
  const table: [string, { era: number; date: string | null }][] = [
    ["419900102", { era: 4, date: "1990-01-02" }],
    ["118991201", { era: 1, date: "1899-12-01" }],
    ["319890107", { era: 3, date: "1989-01-07" }],
    ["520190501", { era: 5, date: "2019-05-01" }],
    ["400000000", { era: 4, date: null }], // wholly unknown, era known
    ["000000000", { era: 0, date: null }],
    ["419900000", { era: 4, date: null }], // year only
    ["419900100", { era: 4, date: null }], // year and month
    ["319890000", { era: 3, date: null }], // 1989 began in Showa
    ["419890000", { era: 4, date: null }], // …and went on in Heisei
    ["019900000", { era: 0, date: null }],
  ];
  for (const [code, expected] of table) {
    test(`${code} → ${JSON.stringify(expected)}`, () => assert.deepEqual(fromEraDigitDate(code), expected));
  }
  const bad: [string, RegExp][] = [
    ["319900102", /era digit 3 does not match 1990-01-02/],
    ["519890108", /does not match/],
    ["119120730", /does not match/], // the first day of Taisho is not Meiji
    ["019900102", /does not match/], // a full date fixes the era
    ["419900230", /not a calendar date/],
    ["619900102", /era digit/],
    ["41990010", /era digit/],
    ["4199001020", /era digit/],
    ["H19900102", /era digit/],
    ["400000100", /month without a year/],
    ["419901300", /impossible month/],
    ["420250000", /outside the Heisei era/],
    ["519900000", /outside the Reiwa era/],
  ];
  for (const [code, message] of bad) {
    test(`refuses ${code}`, () =>
      assert.throws(() => fromEraDigitDate(code), (e: unknown) => {
        assert.ok(e instanceof ProfileInputError && e.name === "ProfileInputError");
        assert.equal((e as { field?: string }).field, "birth");
        assert.match(e.message, message);
        return true;
      }));
  }
});

describe("formatJapaneseEra", () => {
  const table: [string, string, string][] = [
    ["1990-01-02", "平成2年1月2日", "Heisei 2 (1990)"],
    ["1989-01-08", "平成元年1月8日", "Heisei 1 (1989)"],
    ["1989-01-07", "昭和64年1月7日", "Showa 64 (1989)"],
    ["2019-04-30", "平成31年4月30日", "Heisei 31 (2019)"],
    ["2019-05-01", "令和元年5月1日", "Reiwa 1 (2019)"],
    ["2024-12-31", "令和6年12月31日", "Reiwa 6 (2024)"],
    ["1926-12-25", "昭和元年12月25日", "Showa 1 (1926)"],
    ["1912-07-30", "大正元年7月30日", "Taisho 1 (1912)"],
    ["1873-01-01", "明治6年1月1日", "Meiji 6 (1873)"],
  ];
  for (const [date, ja, en] of table) {
    test(`${date} → ${ja} / ${en}`, () => {
      assert.equal(formatJapaneseEra(date), ja);
      assert.equal(formatJapaneseEraEnglish(date), en);
    });
  }
  test("refuses dates from the lunisolar calendar era and bad dates", () => {
    assert.throws(() => formatJapaneseEra("1872-12-31"), { name: "ProfileInputError", field: "date" });
    assert.throws(() => formatJapaneseEraEnglish("2019-02-29"), { name: "ProfileInputError", field: "date" });
  });
});
