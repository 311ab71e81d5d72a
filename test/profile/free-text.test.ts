// normalizeText: one line of free text that no certificate carries (staff names, a proxy's name
// and relationship, notes). Any script, but no controls, bidi formatting, lone surrogates.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { normalizeText } from "../../src/profile/attributes.ts";
import { ProfileInputError } from "../../src/profile/errors.ts";

function refused(input: string, message: RegExp, field = "staff.name", max = 100): void {
  assert.throws(
    () => normalizeText(input, field, max),
    (e: unknown) => {
      assert.ok(e instanceof ProfileInputError, `expected ProfileInputError, got ${String(e)}`);
      assert.equal(e.field, field);
      assert.ok(e.message.startsWith(`${field}: `), e.message);
      assert.match(e.message, message);
      return true;
    },
  );
}

describe("normalizeText", () => {
  test("accepts any script, including characters no certificate carries", () => {
    for (const text of ["佐藤 一郎", "Zoë O'Brien-Smith", "髙橋 ①", "Владимир", "محمد", "👩‍👧 family"]) {
      assert.equal(normalizeText(text, "name", 100), text);
    }
  });
  test("drops spaces at either end, ASCII and full-width", () => assert.equal(normalizeText(" \u3000佐藤　一郎 ", "name", 100), "佐藤　一郎"));
  test("puts the text in NFC", () => assert.equal(normalizeText("か\u3099ko", "name", 100), "がko"));
  test("counts code points against the limit", () => {
    assert.equal(normalizeText("𠮷".repeat(50), "name", 50), "𠮷".repeat(50));
    refused("𠮷".repeat(51), /51 characters; at most 50/, "name", 50);
  });
  test("refuses empty and blank text", () => {
    refused("", /is empty/);
    refused(" \u3000 ", /is empty/);
  });
  test("refuses NUL, C0 and C1 controls, DEL and escape sequences", () => {
    refused("佐藤\u0000一郎", /control character U\+0000 at position 3/);
    refused("\n\u001b[31m", /control character U\+000A at position 1/);
    refused("a\u001b[31m", /control character U\+001B/);
    refused("a\tb", /U\+0009/);
    refused("a\u007fb", /U\+007F/);
    refused("a\u0085b", /U\+0085/);
  });
  test("refuses lone surrogates, high and low", () => {
    refused("佐藤\ud800一郎", /lone surrogate U\+D800 at position 3/);
    refused("\udfff", /lone surrogate U\+DFFF/);
    refused("a\ud83d", /lone surrogate U\+D83D/);
  });
  test("refuses bidirectional formatting characters, without echoing them", () => {
    for (const cp of [0x202e, 0x202a, 0x202d, 0x2066, 0x2069, 0x200e, 0x200f, 0x061c]) {
      const hex = cp.toString(16).toUpperCase().padStart(4, "0");
      refused(`${String.fromCodePoint(cp)}abc`, new RegExp(`bidirectional formatting character U\\+${hex} at position 1 is not allowed$`));
    }
  });
  test("refuses line separators, the byte-order mark and noncharacters", () => {
    refused("a\u2028b", /line separator U\+2028/);
    refused("a\u2029b", /line separator U\+2029/);
    refused("\ufeffabc", /byte-order mark U\+FEFF/);
    refused("a\uffffb", /noncharacter U\+FFFF/);
    refused("a\ufdd0b", /noncharacter U\+FDD0/);
    refused(`a${String.fromCodePoint(0x1fffe)}`, /noncharacter U\+1FFFE/);
  });
  test("refuses what is not text", () => refused(42 as unknown as string, /expected text/));
});
