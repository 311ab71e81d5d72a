/** Command APDU parsing, spec card-protocol §8 "APDU parsing": cases 1–4, short and extended. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseCommandApdu, responseApdu } from "../../src/card/apdu.ts";
import { h } from "./fixtures/apdu-helpers.ts";

function ok(hex: string) {
  const r = parseCommandApdu(h(hex));
  assert.ok(r.ok, `${hex} should parse`);
  return r.apdu;
}
function bad(hex: string | Uint8Array, sw = 0x6700) {
  const r = parseCommandApdu(typeof hex === "string" ? h(hex) : hex);
  assert.ok(!r.ok);
  assert.equal(r.sw, sw);
}

describe("§8 APDU parsing", () => {
  it("case 1: header only", () => {
    const a = ok("00200080");
    assert.deepEqual([a.cla, a.ins, a.p1, a.p2, a.data.length, a.ne, a.hasLe], [0, 0x20, 0, 0x80, 0, 0, false]);
  });
  it("case 2 short: Le 00 means 256", () => {
    assert.equal(ok("00B0000000").ne, 256);
    assert.equal(ok("00B0000004").ne, 4);
  });
  it("case 3 short and case 4 short", () => {
    const a = ok("00A4040C0AD392F000260100000001");
    assert.equal(a.data.length, 10);
    assert.equal(a.hasLe, false);
    const b = ok("802A0080020102" + "00");
    assert.deepEqual([...b.data], [1, 2]);
    assert.equal(b.ne, 256);
  });
  it("case 2 extended: Le 0000 means 65536", () => {
    const a = ok("00B08A00000000");
    assert.equal(a.ne, 65536);
    assert.equal(a.extended, true);
    assert.equal(ok("00B0000000012C").ne, 300);
  });
  it("case 3 and 4 extended", () => {
    const data = "ab".repeat(300);
    const a = ok("80D60000" + "00012C" + data);
    assert.equal(a.data.length, 300);
    assert.equal(a.hasLe, false);
    const b = ok("80D60000" + "00012C" + data + "0000");
    assert.equal(b.ne, 65536);
  });
  it("wrong lengths answer 6700: short, truncated, overlong, extended Lc 0", () => {
    bad("");
    bad("00");
    bad("00B000");
    bad("00A4040C0AD392F0"); // Lc says 10, 3 present
    bad("00A4040C02AABBCCDD"); // two bytes too many
    bad("00B0000000"+"00"); // 6 bytes: extended without its length
  });
  it("rejects extended Lc 0000 with data and inconsistent extended lengths", () => {
    bad("80D60000000000AA");
    bad("80D60000000003AABB");
    bad("80D60000000002AABB00");
    bad(new Uint8Array(70000));
  });
  it("a response carries data then the status word", () => {
    assert.deepEqual([...responseApdu(0x9000, Uint8Array.of(1, 2))], [1, 2, 0x90, 0x00]);
    assert.deepEqual([...responseApdu(0x6a82)], [0x6a, 0x82]);
  });
});
