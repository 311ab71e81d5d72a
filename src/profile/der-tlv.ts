/**
 * Writing one DER element: its length field and a TLV around content parts. The issuer's encoders
 * (src/pki/der.ts) build on these; the verifier uses `tlv` for the few requests it sends (an OCSP
 * request). Reading is der-reader.ts.
 */

/** Number of bytes a DER length field takes for a content of `length` bytes. */
export function lengthOfLength(length: number): number {
  if (length < 0x80) return 1;
  if (length < 0x100) return 2;
  if (length < 0x10000) return 3;
  if (length < 0x1000000) return 4;
  if (length <= 0xffffffff) return 5;
  throw new RangeError(`DER length ${length} too large`);
}

/** Writes a DER length field at `offset`; returns the offset after it. */
export function writeLength(out: Uint8Array, offset: number, length: number): number {
  const n = lengthOfLength(length);
  if (n === 1) {
    out[offset] = length;
    return offset + 1;
  }
  out[offset] = 0x80 | (n - 1);
  for (let i = n - 1; i >= 1; i--) {
    out[offset + i] = length & 0xff;
    length = Math.floor(length / 256);
  }
  return offset + n;
}

/** A TLV whose content is the concatenation of `parts`. */
export function tlv(tag: number, ...parts: Uint8Array[]): Uint8Array {
  let len = 0;
  for (const p of parts) len += p.length;
  const out = new Uint8Array(1 + lengthOfLength(len) + len);
  out[0] = tag;
  let o = writeLength(out, 1, len);
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
