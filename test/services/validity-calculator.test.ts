// The validity rules for an operator's typed dates (`openjpki rules validity`): the rules' answer,
// and input they cannot work with as an "invalid-input" ServiceError naming the option.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { certificateValidityFor } from "../../src/services/validity-calculator.ts";
import { ServiceError } from "../../src/services/errors.ts";

const refusal = (field: string, message: RegExp) => (error: unknown) =>
  error instanceof ServiceError && error.code === "invalid-input" && error.field === field && message.test(error.message);

describe("certificateValidityFor", () => {
  test("answers from typed dates; an instant counts as its Japan date", () => {
    assert.deepEqual(certificateValidityFor({ birth: "1990-01-02", issued: "2026-11-25" }), {
      auth: { expires: "2031-01-02", renewalFrom: "2030-10-02" },
      sign: { eligible: true, expires: "2031-01-02", renewalFrom: "2030-10-02" },
    });
    // 2026-11-25T15:00:00Z is 2026-11-26 in Japan: issued on the birthday, which does not count.
    assert.equal(certificateValidityFor({ birth: "1990-11-26", issued: "2026-11-25T15:00:00Z" }).auth.expires, "2031-11-26");
  });

  test("caps, renewal and guardianship reach the rules", () => {
    const capped = certificateValidityFor({ birth: "1990-06-01", issued: "2026-04-01", cardExpiry: "2030-12-31", authExpiry: "2029-05-05" });
    assert.deepEqual(capped.auth, { expires: "2030-06-01", renewalFrom: "2030-03-01" });
    assert.equal(capped.sign.eligible && capped.sign.expires, "2029-05-05");
    assert.equal(certificateValidityFor({ birth: "1990-06-01", issued: "2026-04-01", renewal: true }).auth.expires, "2031-06-01");
    assert.deepEqual(certificateValidityFor({ birth: "1970-06-01", issued: "2026-04-01", guardianship: true }).sign, { eligible: false, reason: "guardianship" });
    const stay = certificateValidityFor({ birth: "1990-06-01", issued: "2026-04-01", residenceEnd: "2027-01-15" });
    assert.equal(stay.auth.expires, "2027-01-15");
  });

  test("input the rules cannot work with is invalid-input, named as the option is", () => {
    assert.throws(() => certificateValidityFor({ birth: "1990-02-29", issued: "2026-01-01" }), refusal("birth", /^birth: /));
    assert.throws(() => certificateValidityFor({ birth: "1990-01-01", issued: "1980-01-01" }), refusal("issued", /before the birth date/));
    assert.throws(
      () => certificateValidityFor({ birth: "1990-01-01", issued: "2026-01-01", residenceEnd: "2026-02-31" }),
      refusal("residence-end", /^residence-end: /),
    );
    // A cap before the issuance date is the rules' refusal, named as the option is too.
    for (const [option, question] of [
      ["card-expiry", { cardExpiry: "2025-12-31" }],
      ["residence-end", { residenceEnd: "2025-12-31" }],
      ["auth-expiry", { authExpiry: "2025-12-31" }],
    ] as const) {
      assert.throws(() => certificateValidityFor({ birth: "1990-01-01", issued: "2026-01-01", ...question }), refusal(option, new RegExp(`^${option}: 2025-12-31 は発行日（2026-01-01）より前.* / 2025-12-31 is before the issuance date`)), option);
    }
    // A bad cap is named before a bad birth date, as the CLI always reported it.
    assert.throws(() => certificateValidityFor({ birth: "x", issued: "2026-01-01", cardExpiry: "2026-02-31" }), refusal("card-expiry", /^card-expiry: /));
  });
});
