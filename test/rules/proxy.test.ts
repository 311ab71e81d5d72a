import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { PROXY_ANSWER_DAYS, proxyAnswerDeadline, proxyCompletion, sameDayAllowed, type ProxyCompletion, type ProxyType } from "../../src/rules/proxy.ts";
import { RuleInputError } from "../../src/rules/errors.ts";

describe("proxyCompletion (spec §2.3)", () => {
  const table: [string, ProxyType, boolean, string, string, ProxyCompletion][] = [
    ["appointed proxy, same day", "appointed", false, "2026-11-25", "2026-11-25", { allowed: false, reason: "proxy-same-day", firstDay: "2026-11-26" }],
    ["appointed proxy with a 委任状 is still not same-day", "appointed", true, "2026-11-25", "2026-11-25", { allowed: false, reason: "proxy-same-day", firstDay: "2026-11-26" }],
    ["appointed proxy, next day", "appointed", false, "2026-11-25", "2026-11-26", { allowed: true, sameDay: false, answerCodeRequired: true }],
    ["appointed proxy, last day", "appointed", false, "2026-11-25", "2026-12-25", { allowed: true, sameDay: false, answerCodeRequired: true }],
    ["appointed proxy, day after the last", "appointed", false, "2026-11-25", "2026-12-26", { allowed: false, reason: "proxy-expired", lastDay: "2026-12-25" }],
    ["legal representative, same day", "legal", false, "2026-11-25", "2026-11-25", { allowed: true, sameDay: true, answerCodeRequired: false }],
    ["legal representative, later", "legal", false, "2026-11-25", "2026-11-30", { allowed: true, sameDay: false, answerCodeRequired: false }],
    ["household member with a 委任状, same day", "household", true, "2026-11-25", "2026-11-25", { allowed: true, sameDay: true, answerCodeRequired: false }],
    ["household member without a 委任状, same day", "household", false, "2026-11-25", "2026-11-25", { allowed: false, reason: "proxy-same-day", firstDay: "2026-11-26" }],
    ["household member without a 委任状, next day", "household", false, "2026-11-25", "2026-11-26", { allowed: true, sameDay: false, answerCodeRequired: true }],
    ["legal representative after the deadline", "legal", false, "2026-11-25", "2027-01-01", { allowed: false, reason: "proxy-expired", lastDay: "2026-12-25" }],
    ["across a month end (JST dates)", "appointed", false, "2027-01-31", "2027-02-01", { allowed: true, sameDay: false, answerCodeRequired: true }],
  ];
  for (const [name, proxyType, letterOfAttorney, startedOn, today, expected] of table) {
    test(name, () => assert.deepEqual(proxyCompletion({ proxyType, letterOfAttorney, startedOn, today }), expected));
  }

  test("the deadline is 30 days after the application", () => {
    assert.equal(PROXY_ANSWER_DAYS, 30);
    assert.equal(proxyAnswerDeadline("2026-02-10"), "2026-03-12");
  });

  test("same-day route", () => {
    assert.deepEqual(
      (["appointed", "legal", "household"] as const).flatMap((t) => [sameDayAllowed(t, false), sameDayAllowed(t, true)]),
      [false, false, true, true, false, true],
    );
  });

  test("bad input names the field", () => {
    assert.throws(() => proxyCompletion({ proxyType: "friend" as ProxyType, letterOfAttorney: false, startedOn: "2026-11-25", today: "2026-11-25" }), (e: unknown) => e instanceof RuleInputError && e.field === "proxyType");
    assert.throws(() => proxyCompletion({ proxyType: "legal", letterOfAttorney: false, startedOn: "2026-11-25", today: "2026-11-24" }), (e: unknown) => e instanceof RuleInputError && e.field === "today");
    assert.throws(() => proxyCompletion({ proxyType: "legal", letterOfAttorney: false, startedOn: "2026-02-30", today: "2026-03-01" }), RuleInputError);
  });
});
