// The shared strict DER reader (src/profile/der-reader.ts) and the values read with it
// (src/profile/der-values.ts), on hand-made malformed input: each refusal below stands for one
// check in the reader, so removing a check fails a test here. The readers built on them (OCSP
// requests in test/pki, CMS/CRL/OCSP responses in test/verify) test whole structures.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as asn1js from "asn1js";
import { DER_MAX_DEPTH, DerCursor, DerReadError, TAG, readOnly, readTlv } from "../../src/profile/der-reader.ts";
import { bitStringBytes, booleanValue, integerContent, oidText, readExplicitExtensions, readExtensions, readVersionV1 } from "../../src/profile/der-values.ts";

const bytes = (...b: number[]) => Uint8Array.from(b);

/** One TLV around `parts` (short or long length form, as DER wants it). */
function tlv(tag: number, ...parts: Uint8Array[]): Uint8Array {
  const body = Buffer.concat(parts);
  const n = body.length;
  const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return Uint8Array.from([tag, ...length, ...body]);
}

/** A DerReadError whose message matches `pattern`. */
const refusal = (pattern: RegExp) => (e: unknown) => e instanceof DerReadError && pattern.test(e.message);

describe("readTlv", () => {
  test("refuses truncation, indefinite and non-minimal lengths, content past its container, multi-byte tags", () => {
    const refuse = (input: Uint8Array, pattern: RegExp, limit?: number) => assert.throws(() => readTlv(input, 0, limit), refusal(pattern));
    refuse(bytes(0x30), /truncated/);
    refuse(bytes(0x30, 0x80, 0x00, 0x00), /indefinite/);
    refuse(bytes(0x04, 0x81, 0x05, 1, 2, 3, 4, 5), /not minimally encoded/); // long form for 5
    refuse(bytes(0x04, 0x82, 0x00, 0x85, ...new Array(0x85).fill(0)), /leading zero/);
    refuse(bytes(0x04, 0x85, 1, 0, 0, 0, 0), /too long/);
    refuse(bytes(0x04, 0x03, 1, 2), /past its container/);
    refuse(bytes(0x04, 0x82, 0x01), /truncated length/);
    refuse(bytes(0x1f, 0x81, 0x01, 0x00), /multi-byte tags/);
    refuse(bytes(0x30, 0x02, 0x05, 0x00, 0xff), /past its container/, 3); // the limit, not the array, bounds it
    refuse(bytes(0x04, 0x05, 1, 2), /past its container/, 10); // a limit past the array is the array's end
  });

  test("reads short and long lengths, and an element that ends exactly at the limit", () => {
    const long = readTlv(bytes(0x04, 0x81, 0x80, ...new Array(0x80).fill(7)), 0);
    assert.deepEqual([long.tag, long.start, long.contentStart, long.end], [0x04, 0, 3, 0x83]);
    const inner = readTlv(bytes(0x30, 0x02, 0x05, 0x00), 2, 4);
    assert.deepEqual([inner.tag, inner.start, inner.contentStart, inner.end], [0x05, 2, 4, 4]);
  });

  test("readOnly demands the tag and nothing after the element", () => {
    assert.throws(() => readOnly(bytes(0x31, 0x00), TAG.SEQUENCE, "Thing"), refusal(/^Thing: expected tag 0x30, found 0x31$/));
    assert.throws(() => readOnly(bytes(0x30, 0x00, 0x00), TAG.SEQUENCE, "Thing"), refusal(/^Thing: trailing bytes$/));
    assert.equal(readOnly(bytes(0x30, 0x00), TAG.SEQUENCE, "Thing").end, 2);
  });
});

describe("DerCursor", () => {
  test("refuses trailing elements, wrong tags, missing children and a spent node budget", () => {
    const der = bytes(0x30, 0x06, 0x02, 0x01, 0x05, 0x05, 0x00, 0x05); // SEQ { INTEGER 5, NULL } with a stray byte inside
    const stray = new DerCursor(der, readTlv(der, 0), "test");
    stray.next(TAG.INTEGER, "x");
    stray.next(TAG.NULL, "y");
    assert.throws(() => stray.end(), /unexpected element with tag 0x05/);
    assert.throws(() => stray.any("z"), /truncated/);
    const good = bytes(0x30, 0x05, 0x02, 0x01, 0x05, 0x05, 0x00);
    const c = new DerCursor(good, readTlv(good, 0), "test");
    assert.throws(() => c.next(TAG.OID, "oid"), /has tag 0x02, expected 0x06/);
    const c2 = new DerCursor(good, readTlv(good, 0), "test");
    c2.next(TAG.INTEGER, "x");
    assert.throws(() => c2.end(), /unexpected element/);
    c2.next(TAG.NULL, "y");
    assert.throws(() => c2.next(TAG.NULL, "z"), refusal(/^test: z is missing$/));
    assert.throws(() => c2.any("z"), refusal(/^test: z is missing$/));
    const c3 = new DerCursor(good, readTlv(good, 0), "test", { remaining: 1 });
    c3.next(TAG.INTEGER, "x");
    assert.throws(() => c3.next(TAG.NULL, "y"), /too many ASN.1 elements/);
  });

  test("the node budget is shared with the cursors `into` makes", () => {
    const der = tlv(TAG.SEQUENCE, tlv(TAG.SEQUENCE, bytes(0x02, 0x01, 0x01)), bytes(0x05, 0x00)); // SEQ { SEQ { INTEGER }, NULL }
    const budget = { remaining: 2 };
    const top = DerCursor.only(der, TAG.SEQUENCE, "outer", budget);
    const inner = top.into(top.next(TAG.SEQUENCE, "inner"), "inner");
    inner.next(TAG.INTEGER, "x");
    assert.throws(() => top.next(TAG.NULL, "y"), refusal(/too many ASN.1 elements/));
    assert.equal(budget.remaining, -1);
  });

  test("a child may not run past its parent, even when the input goes on", () => {
    // SEQ of length 3 whose OCTET STRING claims 4 bytes: the 5th lies outside the SEQUENCE, inside the input.
    const der = bytes(0x30, 0x03, 0x04, 0x04, 0x01, 0x02, 0x03, 0x04);
    const c = new DerCursor(der, readTlv(der, 0, 5), "outer");
    assert.throws(() => c.next(TAG.OCTET_STRING, "x"), refusal(/past its container/));
  });

  test("only enters constructed elements", () => {
    const c = DerCursor.only(tlv(TAG.SEQUENCE, bytes(0x04, 0x02, 0x30, 0x00)), TAG.SEQUENCE, "outer");
    const octets = c.next(TAG.OCTET_STRING, "octets");
    assert.throws(() => c.into(octets, "octets"), refusal(/^octets is not constructed$/));
  });

  test(`nests at most ${DER_MAX_DEPTH} levels below the first cursor`, () => {
    const nested = (levels: number): Uint8Array => {
      let der: Uint8Array = bytes(0x05, 0x00);
      for (let i = 0; i < levels; i++) der = tlv(TAG.SEQUENCE, der);
      return der;
    };
    const walk = (der: Uint8Array): void => {
      let c = DerCursor.only(der, TAG.SEQUENCE, "level", { remaining: 1000 });
      while (c.peekTag() === TAG.SEQUENCE) c = c.into(c.next(TAG.SEQUENCE, "level"), "level");
      c.next(TAG.NULL, "leaf");
      c.end();
    };
    walk(nested(DER_MAX_DEPTH + 1));
    assert.throws(() => walk(nested(DER_MAX_DEPTH + 2)), refusal(new RegExp(`nested more than ${DER_MAX_DEPTH} levels deep`)));
  });

  test("optional takes a child only when its tag matches", () => {
    const der = tlv(TAG.SEQUENCE, bytes(0x02, 0x01, 0x07));
    const c = DerCursor.only(der, TAG.SEQUENCE, "outer");
    assert.equal(c.optional(TAG.BOOLEAN, "flag"), undefined);
    assert.equal(c.optional(TAG.INTEGER, "n")?.contentStart, 4);
    assert.equal(c.optional(TAG.INTEGER, "n"), undefined);
    assert.ok(c.done);
  });
});

describe("values", () => {
  test("oidText equals asn1js on real OIDs and refuses non-minimal, truncated, empty, overlong or oversized arcs", () => {
    for (const text of ["1.2.840.113549.1.7.2", "2.5.29.31", "1.2.392.200149.8.5.5.1", "2.16.840.1.101.3.4.2.3", "0.9.2342.19200300.100.1.25", "2.999.1", "1.3.6.1.4.1.311.21.7"]) {
      const der = new Uint8Array(new asn1js.ObjectIdentifier({ value: text }).toBER());
      assert.equal(oidText(der, readTlv(der, 0)), text);
    }
    const refuse = (der: Uint8Array, pattern: RegExp) => assert.throws(() => oidText(der, readTlv(der, 0)), refusal(pattern));
    refuse(bytes(0x06, 0x03, 0x2a, 0x80, 0x01), /not minimally encoded/);
    refuse(bytes(0x06, 0x02, 0x2a, 0x86), /truncated/);
    refuse(bytes(0x06, 0x00), /bad length/);
    refuse(tlv(TAG.OID, new Uint8Array(65).fill(0x01)), /bad length/);
    refuse(bytes(0x06, 0x0a, 0x2a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f), /too large/);
    refuse(bytes(0x04, 0x01, 0x2a), /not an OBJECT IDENTIFIER/);
    const longest = tlv(TAG.OID, new Uint8Array(64).fill(0x01)); // 0.1 and 63 more arcs of 1
    assert.equal(oidText(longest, readTlv(longest, 0)).split(".").length, 65);
  });

  test("integerContent refuses non-minimal INTEGERs and keeps a needed leading zero", () => {
    const read = (...b: number[]) => { const d = bytes(...b); return Buffer.from(integerContent(d, readTlv(d, 0))).toString("hex"); };
    assert.equal(read(0x02, 0x02, 0x00, 0x80), "0080");
    assert.equal(read(0x02, 0x01, 0x00), "00");
    assert.equal(read(0x02, 0x02, 0xff, 0x7f), "ff7f");
    assert.throws(() => read(0x02, 0x02, 0x00, 0x7f), /minimally/);
    assert.throws(() => read(0x02, 0x02, 0xff, 0x80), /minimally/);
    assert.throws(() => read(0x02, 0x00), /empty/);
    assert.throws(() => read(0x0a, 0x01, 0x01), /not an INTEGER/);
  });

  test("bitStringBytes takes whole bytes only; booleanValue takes 0x00 and 0xFF only", () => {
    const bits = (...b: number[]) => { const d = bytes(...b); return Buffer.from(bitStringBytes(d, readTlv(d, 0))).toString("hex"); };
    assert.equal(bits(0x03, 0x03, 0x00, 0xab, 0xcd), "abcd");
    assert.throws(() => bits(0x03, 0x02, 0x01, 0xfe), refusal(/unused bits/));
    assert.throws(() => bits(0x03, 0x00), refusal(/unused bits/));
    const bool = (...b: number[]) => { const d = bytes(...b); return booleanValue(d, readTlv(d, 0)); };
    assert.equal(bool(0x01, 0x01, 0xff), true);
    assert.equal(bool(0x01, 0x01, 0x00), false);
    assert.throws(() => bool(0x01, 0x01, 0x01), refusal(/neither 0x00 nor 0xFF/));
    assert.throws(() => bool(0x01, 0x02, 0xff, 0xff), refusal(/not a BOOLEAN/));
  });

  test("readExtensions reads OID, criticality and value, and refuses an empty list or a repeated extension", () => {
    const ext = (oid: number[], value: number[], critical?: number) =>
      tlv(TAG.SEQUENCE, tlv(TAG.OID, Uint8Array.from(oid)), ...(critical === undefined ? [] : [bytes(0x01, 0x01, critical)]), tlv(TAG.OCTET_STRING, Uint8Array.from(value)));
    const read = (list: Uint8Array) => {
      const der = tlv(TAG.SEQUENCE, list);
      const c = DerCursor.only(der, TAG.SEQUENCE, "holder");
      return readExtensions(c, c.next(TAG.SEQUENCE, "extensions"), "extensions");
    };
    const keyUsage = [0x55, 0x1d, 0x0f];
    const basicConstraints = [0x55, 0x1d, 0x13];
    const out = read(tlv(TAG.SEQUENCE, ext(keyUsage, [0x03, 0x02, 0x06, 0xc0], 0xff), ext(basicConstraints, [0x30, 0x00])));
    assert.deepEqual(out.map((e) => [e.oid, e.critical, Buffer.from(e.value).toString("hex")]), [["2.5.29.15", true, "030206c0"], ["2.5.29.19", false, "3000"]]);
    assert.throws(() => read(tlv(TAG.SEQUENCE)), refusal(/an empty Extensions list/));
    assert.throws(() => read(tlv(TAG.SEQUENCE, ext(keyUsage, [0x05, 0x00]), ext(keyUsage, [0x05, 0x00], 0x00))), refusal(/extension 2\.5\.29\.15 appears twice/));
    assert.throws(() => read(tlv(TAG.SEQUENCE, ext(keyUsage, [0x05, 0x00], 0x01))), refusal(/neither 0x00 nor 0xFF/));
  });

  test("readExplicitExtensions: none when the context tag is absent, the list when present", () => {
    const list = tlv(TAG.SEQUENCE, tlv(TAG.SEQUENCE, bytes(0x06, 0x03, 0x55, 0x1d, 0x0f), bytes(0x04, 0x00)));
    const without = DerCursor.only(tlv(TAG.SEQUENCE, bytes(0x05, 0x00)), TAG.SEQUENCE, "holder");
    assert.deepEqual(readExplicitExtensions(without, TAG.CONTEXT_1, "extensions"), []);
    const der = tlv(TAG.SEQUENCE, tlv(TAG.CONTEXT_1, list));
    const c = DerCursor.only(der, TAG.SEQUENCE, "holder");
    assert.deepEqual(readExplicitExtensions(c, TAG.CONTEXT_1, "extensions").map((e) => e.oid), ["2.5.29.15"]);
    c.end();
    const trailing = DerCursor.only(tlv(TAG.SEQUENCE, tlv(TAG.CONTEXT_1, list, bytes(0x05, 0x00))), TAG.SEQUENCE, "holder");
    assert.throws(() => readExplicitExtensions(trailing, TAG.CONTEXT_1, "extensions"), refusal(/^extensions: unexpected element with tag 0x05 at the end$/));
  });

  test("readVersionV1: absent or v1 only", () => {
    const read = (...fields: Uint8Array[]) => {
      const c = DerCursor.only(tlv(TAG.SEQUENCE, ...fields), TAG.SEQUENCE, "Data");
      readVersionV1(c, "Data");
      c.next(TAG.NULL, "rest");
      c.end();
    };
    read(bytes(0x05, 0x00));
    read(tlv(TAG.CONTEXT_0, bytes(0x02, 0x01, 0x00)), bytes(0x05, 0x00));
    assert.throws(() => read(tlv(TAG.CONTEXT_0, bytes(0x02, 0x01, 0x01)), bytes(0x05, 0x00)), refusal(/^Data version is not v1$/));
    assert.throws(() => read(tlv(TAG.CONTEXT_0, bytes(0x02, 0x01, 0x00), bytes(0x05, 0x00))), refusal(/^version: unexpected element/));
    assert.throws(() => read(tlv(TAG.CONTEXT_0, bytes(0x02, 0x02, 0x00, 0x00))), refusal(/not minimally encoded/));
  });
});
