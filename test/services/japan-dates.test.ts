// Japan dates where the outer layers meet them: today by a service clock, and a typed date as the
// start of its Japan day.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { japanToday, startOfJapanDayOf } from "../../src/services/japan-dates.ts";
import { fixedClock } from "../../src/services/clock.ts";
import { ServiceError } from "../../src/services/errors.ts";

describe("Japan dates for the outer layers", () => {
  test("today is the Japan date of the clock's instant (15:00Z is already the next day)", () => {
    assert.equal(japanToday(fixedClock("2026-03-31T14:59:59Z")), "2026-03-31");
    assert.equal(japanToday(fixedClock("2026-03-31T15:00:00Z")), "2026-04-01");
  });

  test("a date or an instant becomes 00:00 JST of its Japan date", () => {
    assert.equal(startOfJapanDayOf("2026-04-01", "at").toISOString(), "2026-03-31T15:00:00.000Z");
    assert.equal(startOfJapanDayOf("2026-03-31T16:30:00Z", "at").toISOString(), "2026-03-31T15:00:00.000Z");
  });

  test("anything else is invalid-input naming the field, with the rule's message", () => {
    for (const text of ["2026-02-30", "tomorrow", "2026-04-01T09:00:00"]) {
      assert.throws(
        () => startOfJapanDayOf(text, "invalidity-date"),
        (error: unknown) => error instanceof ServiceError && error.code === "invalid-input" && error.field === "invalidity-date" && error.message.startsWith("invalidity-date: "),
        text,
      );
    }
  });
});
