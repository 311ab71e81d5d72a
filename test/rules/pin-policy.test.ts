import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { PIN_POLICY, checkFourDigitPin, checkSigningPassword } from "../../src/rules/pin-policy.ts";

describe("PIN_POLICY", () => {
  test("limits from J-LIS", () => {
    assert.deepEqual(
      [PIN_POLICY.sign.minLength, PIN_POLICY.sign.maxLength, PIN_POLICY.sign.maxTries],
      [6, 16, 5],
    );
    assert.deepEqual([PIN_POLICY.auth.minLength, PIN_POLICY.auth.maxLength, PIN_POLICY.auth.maxTries], [4, 4, 3]);
    assert.deepEqual(
      [PIN_POLICY.kenhojo.minLength, PIN_POLICY.kenhojo.maxLength, PIN_POLICY.kenhojo.maxTries],
      [4, 4, 3],
    );
  });
});

describe("checkSigningPassword", () => {
  const ok: [string, string][] = [
    ["ABC123", "ABC123"],
    ["abc123", "ABC123"],
    ["aBc1234567890XYZ", "ABC1234567890XYZ"],
    ["1A2B3C", "1A2B3C"],
    ["A00000", "A00000"],
  ];
  for (const [pin, value] of ok) {
    test(`accepts ${pin}`, () => assert.deepEqual(checkSigningPassword(pin), { ok: true, value }));
  }
  const bad: [string, string][] = [
    ["AB123", "length"],
    ["", "length"],
    ["ABCDEFGH123456789", "length"],
    ["ABC 123", "characters"],
    ["ABC-123", "characters"],
    ["ＡＢＣ１２３", "characters"],
    ["straße1", "characters"], // ß must not become SS
    ["ABCDEF", "needs-letter-and-digit"],
    ["123456", "needs-letter-and-digit"],
    ["abcdefgh", "needs-letter-and-digit"],
  ];
  for (const [pin, code] of bad) {
    test(`refuses ${JSON.stringify(pin)} with ${code}`, () => {
      const result = checkSigningPassword(pin);
      assert.equal(result.ok, false);
      if (!result.ok) {
        assert.equal(result.code, code);
        assert.match(result.message, /[\u3040-\u30ff\u4e00-\u9fff].* \/ [A-Z]/); // Japanese / English
        if (pin.length > 0) assert.ok(!result.message.includes(pin), "the message never repeats the PIN");
      }
    });
  }
});

describe("checkFourDigitPin", () => {
  test("accepts 4 digits", () => assert.deepEqual(checkFourDigitPin("0123"), { ok: true, value: "0123" }));
  const bad: [string, string][] = [
    ["123", "length"],
    ["12345", "length"],
    ["", "length"],
    ["12a4", "characters"],
    ["１２３４", "characters"],
    ["12 4", "characters"],
  ];
  for (const [pin, code] of bad) {
    test(`refuses ${JSON.stringify(pin)} with ${code}`, () => {
      const result = checkFourDigitPin(pin);
      assert.equal(result.ok, false);
      if (!result.ok) {
        assert.equal(result.code, code);
        assert.match(result.message, / \/ The PIN/);
      }
    });
  }
});
