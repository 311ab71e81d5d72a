// The bounded DER writer (src/pki/der.ts DerWriter) against asn1js's encoder, across the length
// boundaries where a DER length grows a byte; and its bounds.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as asn1js from "asn1js";
import { TAG } from "../../src/profile/der-reader.ts";
import { DerWriter, contextTag } from "../../src/pki/der.ts";

const hex = (b: Uint8Array | ArrayBuffer) => Buffer.from(b instanceof ArrayBuffer ? new Uint8Array(b) : b).toString("hex");

describe("DerWriter", () => {
  test("nested SEQUENCE / OCTET STRING / context tags encode as asn1js does at every length boundary", () => {
    for (const size of [0, 1, 125, 126, 127, 128, 129, 250, 253, 254, 255, 256, 257, 1000, 65_531, 65_535, 65_536, 70_000]) {
      const content = Uint8Array.from({ length: size }, (_, i) => (i * 7) & 0xff);
      const w = new DerWriter(size + 64);
      w.open(TAG.SEQUENCE).open(contextTag(3, true)).element(TAG.OCTET_STRING, content).close().raw(Uint8Array.of(0x05, 0x00)).close();
      const expected = new asn1js.Sequence({
        value: [
          new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber: 3 }, value: [new asn1js.OctetString({ valueHex: content })] }),
          new asn1js.Null(),
        ],
      }).toBER(false);
      assert.equal(hex(w.finish()), hex(expected), `content of ${size} bytes`);
    }
  });

  test("strings are written as UTF-8 with the right length; INTEGERs get their sign pad; times follow RFC 5280", () => {
    const w = new DerWriter(512);
    w.open(TAG.SEQUENCE)
      .string(0x0c, "山田\u3000太郎 ABC")
      .string(0x0c, "あ".repeat(60))
      .unsignedInteger(Uint8Array.of(0x00, 0x00, 0x80, 0x01))
      .unsignedInteger(Uint8Array.of(0x7f))
      .time(new Date("2049-12-31T23:59:59.999Z"))
      .time(new Date("2050-01-01T00:00:00Z"))
      .close();
    const expected = new asn1js.Sequence({
      value: [
        new asn1js.Utf8String({ value: "山田\u3000太郎 ABC" }),
        new asn1js.Utf8String({ value: "あ".repeat(60) }),
        new asn1js.Integer({ valueHex: Uint8Array.of(0x00, 0x80, 0x01) }),
        new asn1js.Integer({ valueHex: Uint8Array.of(0x7f) }),
        new asn1js.UTCTime({ valueDate: new Date("2049-12-31T23:59:59Z") }),
        new asn1js.GeneralizedTime({ valueDate: new Date("2050-01-01T00:00:00Z") }),
      ],
    }).toBER(false);
    assert.equal(hex(w.finish()), hex(expected));
  });

  test("never writes past its capacity: raw bytes, strings, and a length that needs more bytes all fail with RangeError", () => {
    assert.throws(() => new DerWriter(10).raw(new Uint8Array(11)), RangeError);
    assert.throws(() => new DerWriter(10).string(0x0c, "あいう"), RangeError); // 9 bytes of UTF-8 + 2 of header
    // 126 bytes of content fit with a 1-byte length; 128 need a 2-byte one, which no longer fits in 130.
    const exact = new DerWriter(128).open(TAG.SEQUENCE).raw(new Uint8Array(126)).close();
    assert.equal(exact.length, 128);
    assert.throws(() => new DerWriter(130).open(TAG.SEQUENCE).raw(new Uint8Array(128)).close(), RangeError);
    assert.throws(() => new DerWriter(4).time(new Date("2026-01-01T00:00:00Z")), RangeError);
  });

  test("misuse is refused: close without open, finish with open elements, multi-byte tags", () => {
    assert.throws(() => new DerWriter(10).close(), RangeError);
    assert.throws(() => new DerWriter(10).open(TAG.SEQUENCE).finish(), RangeError);
    assert.throws(() => new DerWriter(10).open(0x1f), RangeError);
    assert.throws(() => new DerWriter(10).unsignedInteger(new Uint8Array(0)), RangeError);
    assert.throws(() => new DerWriter(1), RangeError);
  });
});
