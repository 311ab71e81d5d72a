/**
 * Minimal BER-TLV reading for what the card client needs: the length of a DER
 * object from its first bytes, and the children of a constructed object. Every
 * length is checked against the bytes actually present.
 */
import { CardError } from "./apdu.ts";

export interface TlvHeader {
  /** The tag bytes as a number (e.g. 0x30, 0xFF20, 0xDF22). */
  tag: number;
  /** Bytes taken by tag and length. */
  headerLength: number;
  /** Length of the value. */
  length: number;
}

/** Largest object the client will read from a card file (offset-form READ BINARY reaches 0x7FFF). */
export const MAX_OBJECT_LENGTH = 0x7fff;

/**
 * Parses a tag and definite length at `offset`. Returns null when more bytes are needed;
 * throws invalid-response when the bytes cannot be a BER header of a bounded object.
 */
export function readTlvHeader(bytes: Uint8Array, offset = 0): TlvHeader | null {
  let i = offset;
  if (i >= bytes.length) return null;
  let tag = bytes[i++]!;
  if ((tag & 0x1f) === 0x1f) {
    // multi-byte tag: up to 3 more bytes, each with bit 8 set except the last
    for (let n = 0; ; n++) {
      if (n >= 3) throw new CardError("invalid-response", "BER tag longer than 4 bytes");
      if (i >= bytes.length) return null;
      const b = bytes[i++]!;
      tag = tag * 256 + b;
      if ((b & 0x80) === 0) break;
    }
  }
  if (i >= bytes.length) return null;
  const first = bytes[i++]!;
  let length: number;
  if (first < 0x80) {
    length = first;
  } else {
    const n = first & 0x7f;
    if (n === 0 || n > 3) throw new CardError("invalid-response", `unsupported BER length form 0x${first.toString(16)}`);
    if (i + n > bytes.length) return null;
    length = 0;
    for (let k = 0; k < n; k++) length = length * 256 + bytes[i++]!;
  }
  return { tag, headerLength: i - offset, length };
}

/** The children of a constructed value: tag → value (first occurrence wins). */
export function parseTlvChildren(value: Uint8Array): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  let offset = 0;
  while (offset < value.length) {
    // 0x00 / 0xFF filler after the last object ends the list
    if (value[offset] === 0x00 || (value[offset] === 0xff && offset + 1 < value.length && value[offset + 1] === 0xff)) break;
    const h = readTlvHeader(value, offset);
    if (!h) throw new CardError("invalid-response", "truncated TLV");
    const start = offset + h.headerLength;
    const end = start + h.length;
    if (end > value.length) throw new CardError("invalid-response", `TLV ${h.tag.toString(16)} runs past its container`);
    if (!out.has(h.tag)) out.set(h.tag, value.subarray(start, end));
    offset = end;
  }
  return out;
}
