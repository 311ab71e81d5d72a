import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { hasLegalRepresentative, kioskEligibility, signingEligibility } from "../../src/rules/eligibility.ts";

describe("signingEligibility", () => {
  const table: [string, { birth: string; on: string; guardianship?: boolean }, unknown][] = [
    ["the day before the 15th birthday", { birth: "2010-04-01", on: "2025-03-31" }, { eligible: false, reason: "under-15" }],
    ["on the 15th birthday", { birth: "2010-04-01", on: "2025-04-01" }, { eligible: true }],
    ["29 Feb birth, 28 Feb of the 15th (common) year", { birth: "2008-02-29", on: "2023-02-28" }, { eligible: true }],
    ["29 Feb birth, 27 Feb of the 15th year", { birth: "2008-02-29", on: "2023-02-27" }, { eligible: false, reason: "under-15" }],
    ["newborn", { birth: "2024-06-01", on: "2024-06-01" }, { eligible: false, reason: "under-15" }],
    ["adult", { birth: "1990-01-02", on: "2024-06-01" }, { eligible: true }],
    ["adult under guardianship", { birth: "1960-05-05", on: "2024-06-01", guardianship: true }, { eligible: false, reason: "guardianship" }],
    ["child and guardianship: age first", { birth: "2012-05-05", on: "2024-06-01", guardianship: true }, { eligible: false, reason: "under-15" }],
    ["guardianship false", { birth: "1960-05-05", on: "2024-06-01", guardianship: false }, { eligible: true }],
  ];
  for (const [name, input, expected] of table) {
    test(name, () => assert.deepEqual(signingEligibility(input), expected));
  }
  test("bad input names the field", () => {
    assert.throws(() => signingEligibility({ birth: "2010-02-30", on: "2025-01-01" }), { name: "RuleInputError", field: "birth" });
    assert.throws(() => signingEligibility({ birth: "2010-01-01", on: "2009-12-31" }), { name: "RuleInputError", field: "on" });
  });
});

describe("kioskEligibility", () => {
  test("under 15 is refused", () =>
    assert.deepEqual(kioskEligibility({ birth: "2010-04-01", on: "2025-03-31" }), { eligible: false, reason: "under-15" }));
  test("15 is allowed", () => assert.deepEqual(kioskEligibility({ birth: "2010-04-01", on: "2025-04-01" }), { eligible: true }));
  test("bad date names the field", () =>
    assert.throws(() => kioskEligibility({ birth: "2010-04-01", on: "2025-4-1" }), { field: "on" }));
});

describe("hasLegalRepresentative", () => {
  test("a minor (under 18) or an adult under guardianship has one; nobody else", () => {
    assert.equal(hasLegalRepresentative({ birth: "2010-05-05", on: "2026-11-25" }), true, "16: a minor");
    assert.equal(hasLegalRepresentative({ birth: "2008-11-26", on: "2026-11-25" }), true, "the day before the 18th birthday");
    assert.equal(hasLegalRepresentative({ birth: "2008-11-25", on: "2026-11-25" }), false, "18 on the day");
    assert.equal(hasLegalRepresentative({ birth: "1980-05-05", on: "2026-11-25" }), false);
    assert.equal(hasLegalRepresentative({ birth: "1980-05-05", on: "2026-11-25", guardianship: true }), true);
  });
});
