// The reader's allocation-free steps (DerCursor.skip and .enter) refuse exactly what next and
// into refuse, with the same messages, and oidText's cache of OIDs already read answers only for
// the very same bytes.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { DER_MAX_DEPTH, DerCursor, DerReadError, TAG, readTlv } from "../../src/profile/der-reader.ts";
import { oidText } from "../../src/profile/der-values.ts";

const bytes = (...b: number[]) => Uint8Array.from(b);

function tlv(tag: number, ...parts: Uint8Array[]): Uint8Array {
  const body = Buffer.concat(parts);
  const n = body.length;
  const length = n < 0x80 ? [n] : [0x81, n];
  return Uint8Array.from([tag, ...length, ...body]);
}

/** What `step` throws (its message), or "ok" and where the cursor then stands (the next tag, or "end"). */
function outcome(der: Uint8Array, step: (c: DerCursor) => DerCursor | void, budget?: { remaining: number }): string {
  const c = DerCursor.only(der, TAG.SEQUENCE, "outer", budget);
  try {
    const inner = step(c);
    return `ok; next ${c.peekTag() ?? "end"}${inner ? `; inner next ${inner.peekTag() ?? "end"}` : ""}`;
  } catch (error) {
    assert.ok(error instanceof DerReadError, String(error));
    return error.message;
  }
}

const CASES: Record<string, Uint8Array> = {
  "a sequence then NULL": tlv(TAG.SEQUENCE, tlv(TAG.SEQUENCE, bytes(0x02, 0x01, 0x05)), bytes(0x05, 0x00)),
  "a wrong tag": tlv(TAG.SEQUENCE, bytes(0x04, 0x01, 0x00)),
  "a primitive element with a constructed-looking wanted tag": tlv(TAG.SEQUENCE, bytes(0x02, 0x01, 0x05)),
  "nothing left": tlv(TAG.SEQUENCE),
  "content past its container": bytes(0x30, 0x04, 0x30, 0x05, 0x05, 0x00),
  "a non-minimal length": tlv(TAG.SEQUENCE, bytes(0x30, 0x81, 0x02, 0x05, 0x00)),
};

describe("skip and enter refuse what next and into refuse", () => {
  for (const [label, der] of Object.entries(CASES)) {
    for (const tag of [TAG.SEQUENCE, TAG.INTEGER, TAG.OCTET_STRING]) {
      test(`${label}, tag 0x${tag.toString(16)}`, () => {
        assert.equal(
          outcome(der, (c) => c.skip(tag, "child")),
          outcome(der, (c) => void c.next(tag, "child")),
        );
        // into's own check ("… is not constructed") only for a constructed wanted tag: into takes the Tlv next returned.
        assert.equal(
          outcome(der, (c) => c.enter(tag, "child", "Child")),
          outcome(der, (c) => c.into(c.next(tag, "child"), "Child")),
        );
      });
    }
  }

  test("the node budget is spent alike", () => {
    const der = CASES["a sequence then NULL"]!;
    for (const remaining of [0, 1, 2]) {
      const a = { remaining };
      const b = { remaining };
      assert.equal(
        outcome(der, (c) => c.enter(TAG.SEQUENCE, "child").skip(TAG.INTEGER, "n"), a),
        outcome(der, (c) => {
          const inner = c.into(c.next(TAG.SEQUENCE, "child"), "child");
          inner.next(TAG.INTEGER, "n");
        }, b),
      );
      assert.equal(a.remaining, b.remaining);
    }
  });

  test(`enter nests at most ${DER_MAX_DEPTH} levels below the first cursor, as into does`, () => {
    let der: Uint8Array = bytes(0x05, 0x00);
    for (let i = 0; i < DER_MAX_DEPTH + 2; i++) der = tlv(TAG.SEQUENCE, der);
    let c = DerCursor.only(der, TAG.SEQUENCE, "level", { remaining: 1000 });
    assert.throws(
      () => {
        while (c.peekTag() === TAG.SEQUENCE) c = c.enter(TAG.SEQUENCE, "level");
      },
      (e) => e instanceof DerReadError && e.message === `level: nested more than ${DER_MAX_DEPTH} levels deep`,
    );
  });

  test("a cursor made from offsets reads the same children as one made from the Tlv", () => {
    const der = CASES["a sequence then NULL"]!;
    const t = readTlv(der, 0);
    const a = new DerCursor(der, t, "outer");
    const b = new DerCursor(der, t.contentStart, "outer", undefined, 0, t.end);
    assert.deepEqual(a.next(TAG.SEQUENCE, "x"), b.next(TAG.SEQUENCE, "x"));
    assert.deepEqual(a.next(TAG.NULL, "y"), b.next(TAG.NULL, "y"));
    b.end();
  });
});

describe("oidText's cache of OIDs already read", () => {
  const oid = (...content: number[]) => {
    const der = bytes(TAG.OID, content.length, ...content);
    return () => oidText(der, readTlv(der, 0));
  };

  test("answers the same text again, and never for other bytes of the same hash", () => {
    // The cache's hash (h = 31·h + byte from h = length) is the same for 2A 40 and 2B 21.
    const first = oid(0x2a, 0x40);
    const collides = oid(0x2b, 0x21);
    assert.equal(first(), "1.2.64");
    assert.equal(first(), "1.2.64");
    assert.equal(collides(), "1.3.33");
    assert.equal(collides(), "1.3.33");
    assert.equal(first(), "1.2.64");
  });

  test("a prefix of a cached OID, and a malformed OID, are read as such", () => {
    assert.equal(oid(0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d)(), "1.2.840.113549");
    assert.equal(oid(0x2a, 0x86, 0x48)(), "1.2.840");
    for (let i = 0; i < 2; i++) {
      assert.throws(oid(0x2a, 0x80, 0x01), /not minimally encoded/);
      assert.throws(oid(0x2a, 0x86), /truncated/);
    }
  });
});
