/**
 * A deliberately small DER reader for the few structures the card parses itself
 * (the terminal certificate's outer shape and extensions, and the BER headers of
 * files written to it). Single-byte tags, definite lengths of at most 3 length
 * bytes, and every element checked to lie inside its parent: input is untrusted.
 */
export interface Tlv {
  readonly tag: number;
  /** Offset of the first content byte. */
  readonly start: number;
  /** Offset just past the last content byte. */
  readonly end: number;
  /** Offset of the tag byte (so `end - offset` is the whole element). */
  readonly offset: number;
}

export class DerError extends Error {}

/** Read one element starting at `offset`, which must end at or before `limit`. */
export function readTlv(buf: Uint8Array, offset: number, limit: number = buf.length): Tlv {
  if (limit > buf.length || offset + 2 > limit) throw new DerError("truncated");
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError("multi-byte tag");
  let pos = offset + 1;
  const first = buf[pos++]!;
  let len: number;
  if (first < 0x80) {
    len = first;
  } else {
    const count = first & 0x7f;
    if (count === 0 || count > 3) throw new DerError("unsupported length form");
    if (pos + count > limit) throw new DerError("truncated length");
    len = 0;
    for (let i = 0; i < count; i++) len = (len << 8) | buf[pos++]!;
    if (len < 0x80 || (count > 1 && len < 1 << (8 * (count - 1)))) {
      throw new DerError("non-minimal length");
    }
  }
  if (pos + len > limit) throw new DerError("content past end");
  return { tag, start: pos, end: pos + len, offset };
}

/** The children of a constructed element, in order. */
export function children(buf: Uint8Array, parent: Tlv, max = 64): Tlv[] {
  const out: Tlv[] = [];
  let pos = parent.start;
  while (pos < parent.end) {
    if (out.length >= max) throw new DerError("too many elements");
    const child = readTlv(buf, pos, parent.end);
    out.push(child);
    pos = child.end;
  }
  return out;
}

export function bytesOf(buf: Uint8Array, tlv: Tlv): Uint8Array {
  return buf.subarray(tlv.offset, tlv.end);
}

export function contentOf(buf: Uint8Array, tlv: Tlv): Uint8Array {
  return buf.subarray(tlv.start, tlv.end);
}

/** DER encoding (tag 06 included) of a dotted object identifier. */
export function encodeOid(dotted: string): Uint8Array {
  const arcs = dotted.split(".").map((a) => BigInt(a));
  if (arcs.length < 2) throw new Error("OID needs two arcs");
  const body: number[] = [];
  const pushArc = (v: bigint): void => {
    const tmp: number[] = [Number(v & 0x7fn)];
    for (let x = v >> 7n; x > 0n; x >>= 7n) tmp.unshift(Number(x & 0x7fn) | 0x80);
    body.push(...tmp);
  };
  pushArc(arcs[0]! * 40n + arcs[1]!);
  for (const arc of arcs.slice(2)) pushArc(arc);
  return Uint8Array.from([0x06, body.length, ...body]);
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
