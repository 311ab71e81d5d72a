// Validity of certificates and cards, renewal window. Every expected date below was worked
// out by hand from the rules in spec §2.1 (counting birthdays on a calendar), not by running
// the code under test.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  cardValidity,
  certificateValidity,
  isRenewalWindowOpen,
  renewalFrom,
  renewalMode,
  type CertificateValidityInput,
} from "../../src/rules/validity.ts";
import { parseDateOrInstant } from "../../src/rules/japan-date.ts";
import { RuleInputError } from "../../src/rules/errors.ts";

type Sign = { expires: string; renewalFrom: string } | "under-15" | "guardianship";

interface Case {
  name: string;
  input: CertificateValidityInput;
  auth: [expires: string, renewalFrom: string];
  sign: Sign;
}

const ADULT = "1990-01-02";

const cases: Case[] = [
  // The 5th birthday after issuance, and where the issuance day sits against the birthday.
  { name: "ordinary adult", input: { birth: ADULT, issued: "2024-06-01" }, auth: ["2029-01-02", "2028-10-02"], sign: { expires: "2029-01-02", renewalFrom: "2028-10-02" } },
  { name: "issued on the birthday: that birthday does not count", input: { birth: "1990-06-01", issued: "2024-06-01" }, auth: ["2029-06-01", "2029-03-01"], sign: { expires: "2029-06-01", renewalFrom: "2029-03-01" } },
  { name: "issued the day before the birthday", input: { birth: "1990-06-01", issued: "2024-05-31" }, auth: ["2028-06-01", "2028-03-01"], sign: { expires: "2028-06-01", renewalFrom: "2028-03-01" } },
  { name: "issued the day after the birthday", input: { birth: "1990-06-01", issued: "2024-06-02" }, auth: ["2029-06-01", "2029-03-01"], sign: { expires: "2029-06-01", renewalFrom: "2029-03-01" } },
  { name: "birthday on 31 December, issued 1 January", input: { birth: "1980-12-31", issued: "2025-01-01" }, auth: ["2029-12-31", "2029-09-30"], sign: { expires: "2029-12-31", renewalFrom: "2029-09-30" } },
  { name: "birthday on 1 January, issued 31 December", input: { birth: "1980-01-01", issued: "2024-12-31" }, auth: ["2029-01-01", "2028-10-01"], sign: { expires: "2029-01-01", renewalFrom: "2028-10-01" } },
  { name: "elderly holder", input: { birth: "1930-12-31", issued: "2024-12-31" }, auth: ["2029-12-31", "2029-09-30"], sign: { expires: "2029-12-31", renewalFrom: "2029-09-30" } },

  // 29 February births: 28 February in common years.
  { name: "29 Feb birth, issued 28 Feb of a leap year: 5th birthday is a 29 Feb", input: { birth: "2000-02-29", issued: "2024-02-28" }, auth: ["2028-02-29", "2027-11-29"], sign: { expires: "2028-02-29", renewalFrom: "2027-11-29" } },
  { name: "29 Feb birth, issued on 29 Feb: 5th birthday falls in a common year", input: { birth: "2000-02-29", issued: "2024-02-29" }, auth: ["2029-02-28", "2028-11-28"], sign: { expires: "2029-02-28", renewalFrom: "2028-11-28" } },
  { name: "29 Feb birth, issued 28 Feb of a common year (the deemed birthday itself)", input: { birth: "2000-02-29", issued: "2023-02-28" }, auth: ["2028-02-29", "2027-11-29"], sign: { expires: "2028-02-29", renewalFrom: "2027-11-29" } },
  { name: "29 Feb birth, issued 27 Feb of a common year", input: { birth: "2000-02-29", issued: "2023-02-27" }, auth: ["2027-02-28", "2026-11-28"], sign: { expires: "2027-02-28", renewalFrom: "2026-11-28" } },
  { name: "29 Feb birth, issued 1 Mar of a common year", input: { birth: "2000-02-29", issued: "2023-03-01" }, auth: ["2028-02-29", "2027-11-29"], sign: { expires: "2028-02-29", renewalFrom: "2027-11-29" } },
  { name: "29 Feb birth, every birthday in the period in common years but the 3rd", input: { birth: "2000-02-29", issued: "2021-03-01" }, auth: ["2026-02-28", "2025-11-28"], sign: { expires: "2026-02-28", renewalFrom: "2025-11-28" } },

  // Caps.
  { name: "card expiry before the 5th birthday caps both", input: { birth: ADULT, issued: "2024-06-01", cardExpiry: "2027-01-02" }, auth: ["2027-01-02", "2026-10-02"], sign: { expires: "2027-01-02", renewalFrom: "2026-10-02" } },
  { name: "card expiry after the 5th birthday changes nothing", input: { birth: ADULT, issued: "2024-06-01", cardExpiry: "2034-01-02" }, auth: ["2029-01-02", "2028-10-02"], sign: { expires: "2029-01-02", renewalFrom: "2028-10-02" } },
  { name: "card expiry on the 5th birthday", input: { birth: ADULT, issued: "2024-06-01", cardExpiry: "2029-01-02" }, auth: ["2029-01-02", "2028-10-02"], sign: { expires: "2029-01-02", renewalFrom: "2028-10-02" } },
  { name: "card expiring on the issuance day: valid that day", input: { birth: ADULT, issued: "2024-06-01", cardExpiry: "2024-06-01" }, auth: ["2024-06-01", "2024-03-01"], sign: { expires: "2024-06-01", renewalFrom: "2024-03-01" } },
  { name: "end of the period of stay caps both", input: { birth: ADULT, issued: "2024-06-01", residenceEnd: "2025-03-31" }, auth: ["2025-03-31", "2024-12-31"], sign: { expires: "2025-03-31", renewalFrom: "2024-12-31" } },
  { name: "period of stay longer than five birthdays", input: { birth: ADULT, issued: "2024-06-01", residenceEnd: "2030-06-01" }, auth: ["2029-01-02", "2028-10-02"], sign: { expires: "2029-01-02", renewalFrom: "2028-10-02" } },
  { name: "card and period of stay: the earlier wins (window clamps to 28 Feb)", input: { birth: ADULT, issued: "2024-06-01", residenceEnd: "2026-08-31", cardExpiry: "2026-05-31" }, auth: ["2026-05-31", "2026-02-28"], sign: { expires: "2026-05-31", renewalFrom: "2026-02-28" } },
  { name: "period of stay before the card expiry", input: { birth: ADULT, issued: "2024-06-01", residenceEnd: "2026-03-31", cardExpiry: "2026-05-31" }, auth: ["2026-03-31", "2025-12-31"], sign: { expires: "2026-03-31", renewalFrom: "2025-12-31" } },
  { name: "auth expiry caps the signing certificate only", input: { birth: ADULT, issued: "2024-06-01", authExpiry: "2026-09-30" }, auth: ["2029-01-02", "2028-10-02"], sign: { expires: "2026-09-30", renewalFrom: "2026-06-30" } },
  { name: "auth expiry later than the 5th birthday", input: { birth: ADULT, issued: "2024-06-01", authExpiry: "2029-06-30" }, auth: ["2029-01-02", "2028-10-02"], sign: { expires: "2029-01-02", renewalFrom: "2028-10-02" } },
  { name: "auth expiry, card expiry and period of stay together", input: { birth: ADULT, issued: "2024-06-01", authExpiry: "2027-07-31", cardExpiry: "2028-01-02", residenceEnd: "2027-12-31" }, auth: ["2027-12-31", "2027-09-30"], sign: { expires: "2027-07-31", renewalFrom: "2027-04-30" } },

  // Renewal inside the window: the 6th birthday.
  { name: "renewal runs to the 6th birthday", input: { birth: ADULT, issued: "2028-11-15", renewal: true }, auth: ["2034-01-02", "2033-10-02"], sign: { expires: "2034-01-02", renewalFrom: "2033-10-02" } },
  { name: "the same day without renewal runs to the 5th", input: { birth: ADULT, issued: "2028-11-15" }, auth: ["2033-01-02", "2032-10-02"], sign: { expires: "2033-01-02", renewalFrom: "2032-10-02" } },
  { name: "renewal on the expiry day, which is the birthday", input: { birth: ADULT, issued: "2029-01-02", renewal: true }, auth: ["2035-01-02", "2034-10-02"], sign: { expires: "2035-01-02", renewalFrom: "2034-10-02" } },
  { name: "renewal capped by the card", input: { birth: ADULT, issued: "2028-11-15", renewal: true, cardExpiry: "2030-01-02" }, auth: ["2030-01-02", "2029-10-02"], sign: { expires: "2030-01-02", renewalFrom: "2029-10-02" } },
  { name: "renewal with a 29 Feb birth: 6th birthday in a common year", input: { birth: "2000-02-29", issued: "2027-12-10", renewal: true }, auth: ["2033-02-28", "2032-11-28"], sign: { expires: "2033-02-28", renewalFrom: "2032-11-28" } },
  { name: "renewal: false is the same as absent", input: { birth: ADULT, issued: "2028-11-15", renewal: false }, auth: ["2033-01-02", "2032-10-02"], sign: { expires: "2033-01-02", renewalFrom: "2032-10-02" } },

  // Who gets a signing certificate.
  { name: "the day before the 15th birthday: no signing certificate", input: { birth: "2010-04-01", issued: "2025-03-31" }, auth: ["2029-04-01", "2029-01-01"], sign: "under-15" },
  { name: "on the 15th birthday: signing certificate", input: { birth: "2010-04-01", issued: "2025-04-01" }, auth: ["2030-04-01", "2030-01-01"], sign: { expires: "2030-04-01", renewalFrom: "2030-01-01" } },
  { name: "29 Feb birth, 27 Feb of the 15th year (common): under 15", input: { birth: "2008-02-29", issued: "2023-02-27" }, auth: ["2027-02-28", "2026-11-28"], sign: "under-15" },
  { name: "29 Feb birth, 28 Feb of the 15th year (common): 15", input: { birth: "2008-02-29", issued: "2023-02-28" }, auth: ["2028-02-29", "2027-11-29"], sign: { expires: "2028-02-29", renewalFrom: "2027-11-29" } },
  { name: "issued on the day of birth", input: { birth: "2024-06-01", issued: "2024-06-01" }, auth: ["2029-06-01", "2029-03-01"], sign: "under-15" },
  { name: "child with a card cap", input: { birth: "2015-09-10", issued: "2024-06-01", cardExpiry: "2027-09-10" }, auth: ["2027-09-10", "2027-06-10"], sign: "under-15" },
  { name: "child without a cap", input: { birth: "2015-09-10", issued: "2024-06-01" }, auth: ["2028-09-10", "2028-06-10"], sign: "under-15" },
  { name: "adult under guardianship", input: { birth: "1960-05-05", issued: "2024-06-01", guardianship: true }, auth: ["2029-05-05", "2029-02-05"], sign: "guardianship" },
  { name: "child and guardianship: under-15 is reported", input: { birth: "2012-05-05", issued: "2024-06-01", guardianship: true }, auth: ["2029-05-05", "2029-02-05"], sign: "under-15" },
  { name: "guardianship: false", input: { birth: "1960-05-05", issued: "2024-06-01", guardianship: false }, auth: ["2029-05-05", "2029-02-05"], sign: { expires: "2029-05-05", renewalFrom: "2029-02-05" } },
];

describe("certificateValidity", () => {
  for (const c of cases) {
    test(c.name, () => {
      const result = certificateValidity(c.input);
      assert.deepEqual(result.auth, { expires: c.auth[0], renewalFrom: c.auth[1] });
      if (typeof c.sign === "string") assert.deepEqual(result.sign, { eligible: false, reason: c.sign });
      else assert.deepEqual(result.sign, { eligible: true, ...c.sign });
    });
  }

  // JST midnight: an instant is first turned into its Japan date (2024-05-31T15:00Z is 2024-06-01
  // 00:00 JST). Birth 1990-06-01, so the Japan date decides whether the issuance is on the birthday.
  const instants: [string, string][] = [
    ["2024-05-31T15:00:00Z", "2029-06-01"], // 00:00:00 JST on the birthday
    ["2024-05-31T14:59:59Z", "2028-06-01"], // 23:59:59 JST the day before
    ["2024-06-01T00:00:00+09:00", "2029-06-01"],
    ["2024-05-31T23:59:59+09:00", "2028-06-01"],
    ["2024-05-31T10:00:00-05:00", "2029-06-01"], // 15:00Z
    ["2024-05-31T14:59:59.999Z", "2028-06-01"],
  ];
  for (const [instant, expires] of instants) {
    test(`issued at ${instant}`, () => {
      const result = certificateValidity({ birth: "1990-06-01", issued: parseDateOrInstant(instant, "issued") });
      assert.equal(result.auth.expires, expires);
    });
  }

  const bad: [string, CertificateValidityInput, string][] = [
    ["issuance before birth", { birth: "2000-01-02", issued: "2000-01-01" }, "issued"],
    ["impossible birth date", { birth: "2023-02-30", issued: "2024-01-01" }, "birth"],
    ["impossible issuance date", { birth: "2000-01-01", issued: "2024-13-01" }, "issued"],
    ["birth in the wrong format", { birth: "2000/01/01", issued: "2024-01-01" }, "birth"],
    ["card expired before issuance", { birth: ADULT, issued: "2024-06-01", cardExpiry: "2024-05-31" }, "cardExpiry"],
    ["period of stay ended before issuance", { birth: ADULT, issued: "2024-06-01", residenceEnd: "2024-01-31" }, "residenceEnd"],
    ["auth certificate expired before issuance", { birth: ADULT, issued: "2024-06-01", authExpiry: "2024-05-31" }, "authExpiry"],
    ["impossible card expiry", { birth: ADULT, issued: "2024-06-01", cardExpiry: "2029-02-29" }, "cardExpiry"],
  ];
  for (const [name, input, field] of bad) {
    test(`refuses ${name}, naming ${field}`, () => {
      assert.throws(
        () => certificateValidity(input),
        (e: unknown) => e instanceof RuleInputError && e.field === field && e.message.startsWith(`${field}: `),
      );
    });
  }

  test("the message names the problem", () => {
    assert.throws(() => certificateValidity({ birth: "2023-02-30", issued: "2024-01-01" }), {
      name: "RuleInputError",
      message: "birth: 2023-02-30 は暦にない日付です / 2023-02-30 is not a calendar date",
    });
  });
});

describe("cardValidity", () => {
  const table: [string, { birth: string; issued: string; residenceEnd?: string }, string][] = [
    ["17 (the day before the 18th birthday): 5th birthday", { birth: "2006-06-02", issued: "2024-06-01" }, "2028-06-02"],
    ["18 on the day: 10th birthday", { birth: "2006-06-01", issued: "2024-06-01" }, "2034-06-01"],
    ["adult", { birth: ADULT, issued: "2024-06-01" }, "2034-01-02"],
    ["child", { birth: "2015-09-10", issued: "2024-06-01" }, "2028-09-10"],
    ["before 2022-04-01, 20 is adult", { birth: "2001-06-01", issued: "2021-06-01" }, "2031-06-01"],
    ["before 2022-04-01, 19 is a minor", { birth: "2002-06-01", issued: "2021-06-01" }, "2026-06-01"],
    ["19 on 2022-03-31: still a minor", { birth: "2002-06-01", issued: "2022-03-31" }, "2026-06-01"],
    ["19 on 2022-04-01: adult", { birth: "2002-06-01", issued: "2022-04-01" }, "2031-06-01"],
    ["29 Feb birth, 10th birthday in a common year", { birth: "2000-02-29", issued: "2024-03-01" }, "2034-02-28"],
    ["issued on the birthday", { birth: "1980-07-07", issued: "2024-07-07" }, "2034-07-07"],
    ["period of stay caps the card", { birth: ADULT, issued: "2024-06-01", residenceEnd: "2027-08-15" }, "2027-08-15"],
    ["long period of stay", { birth: ADULT, issued: "2024-06-01", residenceEnd: "2040-01-01" }, "2034-01-02"],
  ];
  for (const [name, input, expires] of table) {
    test(name, () => assert.deepEqual(cardValidity(input), { expires }));
  }
  test("refuses a period of stay ending before issuance", () => {
    assert.throws(() => cardValidity({ birth: ADULT, issued: "2024-06-01", residenceEnd: "2024-05-01" }), {
      name: "RuleInputError",
      field: "residenceEnd",
    });
  });
  test("refuses issuance before birth", () => {
    assert.throws(() => cardValidity({ birth: "2024-06-02", issued: "2024-06-01" }), { field: "issued" });
  });
});

describe("renewal window", () => {
  const from: [string, string][] = [
    ["2026-05-31", "2026-02-28"],
    ["2028-05-31", "2028-02-29"],
    ["2029-01-02", "2028-10-02"],
    ["2026-03-31", "2025-12-31"],
    ["2026-12-31", "2026-09-30"],
    ["2026-07-31", "2026-04-30"],
    ["2026-02-28", "2025-11-28"],
    ["2026-08-30", "2026-05-30"],
  ];
  for (const [expires, start] of from) {
    test(`renewalFrom(${expires}) = ${start}`, () => assert.equal(renewalFrom(expires), start));
  }

  const open: [string, string, boolean][] = [
    ["2026-05-31", "2026-02-27", false],
    ["2026-05-31", "2026-02-28", true],
    ["2026-05-31", "2026-04-15", true],
    ["2026-05-31", "2026-05-31", true],
    ["2026-05-31", "2026-06-01", false],
  ];
  for (const [expires, today, expected] of open) {
    test(`isRenewalWindowOpen(${expires}, ${today}) = ${expected}`, () =>
      assert.equal(isRenewalWindowOpen(expires, today), expected));
  }

  const modes: [string, string, string][] = [
    ["2029-01-02", "2028-10-01", "too-early"],
    ["2029-01-02", "2028-10-02", "renewal"],
    ["2029-01-02", "2029-01-02", "renewal"],
    ["2029-01-02", "2029-01-03", "expired"],
    ["2029-01-02", "2024-06-01", "too-early"],
  ];
  for (const [previous, today, mode] of modes) {
    test(`renewalMode(${previous}, ${today}) = ${mode}`, () => assert.equal(renewalMode(previous, today), mode));
  }

  test("bad inputs name their field", () => {
    assert.throws(() => renewalFrom("2026-02-30"), { field: "expires" });
    assert.throws(() => isRenewalWindowOpen("2026-05-31", "tomorrow"), { field: "today" });
    assert.throws(() => renewalMode("2026-5-31", "2026-05-01"), { field: "previousExpires" });
  });
});
