/**
 * The verifier's own DER helpers, on top of the shared strict reader (src/profile/der-reader.ts):
 * times, AlgorithmIdentifiers, strings and serials (certificates are read by certificate-der.ts).
 * Reading failures are `DerReadError`, so a caller can fail closed (or, for CMS, hand BER input to
 * the generic parser).
 */
import { DerCursor, DerReadError, TAG, contentOf, readOnly, type Tlv } from "../profile/der-reader.ts";
import { oidText, stripLeadingZeros } from "../profile/der-values.ts";

/**
 * A DER Time (RFC 5280 §4.1.2.5): UTCTime YYMMDDHHMMSSZ (years 50–99 are 19xx) or GeneralizedTime
 * YYYYMMDDHHMMSSZ. No fractions, no offsets, and the date must exist (no 30 February).
 */
export function derTime(bytes: Uint8Array, t: Tlv): Date {
  const utc = t.tag === TAG.UTC_TIME;
  if (!utc && t.tag !== TAG.GENERALIZED_TIME) throw new DerReadError("not a UTCTime or GeneralizedTime");
  const n = t.end - t.contentStart;
  if (n !== (utc ? 13 : 15) || bytes[t.end - 1] !== 0x5a /* Z */) throw new DerReadError(`${utc ? "UTCTime" : "GeneralizedTime"} not in the DER form`);
  const at = t.contentStart;
  let year: number;
  let p: number;
  if (utc) {
    const yy = decimalAt(bytes, at, 2);
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
    p = 2;
  } else {
    year = decimalAt(bytes, at, 4);
    p = 4;
  }
  const month = decimalAt(bytes, at + p, 2);
  const day = decimalAt(bytes, at + p + 2, 2);
  const hour = decimalAt(bytes, at + p + 4, 2);
  const minute = decimalAt(bytes, at + p + 6, 2);
  const second = decimalAt(bytes, at + p + 8, 2);
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  if (year < 100) date.setUTCFullYear(year); // Date.UTC maps years 0–99 to 1900–1999
  if (
    date.getUTCFullYear() !== year ||
    date.getUTCMonth() !== month - 1 ||
    date.getUTCDate() !== day ||
    date.getUTCHours() !== hour ||
    date.getUTCMinutes() !== minute ||
    date.getUTCSeconds() !== second
  ) {
    throw new DerReadError("time names a date or time that does not exist");
  }
  return date;
}

/** `count` ASCII digits from `at` as a number. */
function decimalAt(bytes: Uint8Array, at: number, count: number): number {
  let v = 0;
  for (let i = 0; i < count; i++) {
    const c = bytes[at + i]! - 0x30;
    if (c < 0 || c > 9) throw new DerReadError("time has a non-digit");
    v = v * 10 + c;
  }
  return v;
}

/** An AlgorithmIdentifier's OID, read from the cursor's position (parameters, if any, are left to the algorithm's check). */
export function readAlgorithmOid(c: DerCursor, what: string): string {
  const alg = c.enter(TAG.SEQUENCE, what);
  const oid = oidText(c.bytes, alg.next(TAG.OID, `${what} algorithm`));
  if (!alg.done) alg.any(`${what} parameters`);
  alg.end();
  return oid;
}

/** One decoder for every call (a decoder per call cost more than the decoding); a fatal decoder keeps no state after an error. */
// ignoreBOM: a leading U+FEFF is kept as a character, as the name reader keeps it (certificate-der.ts),
// not silently dropped — a SAN value "\uFEFF山田" is not "山田".
export const UTF8_DECODER = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** The value of a DER UTF8String (tag 0x0C), or undefined if `der` is not exactly one. */
export function utf8StringValue(der: Uint8Array): string | undefined {
  try {
    return UTF8_DECODER.decode(contentOf(der, readOnly(der, TAG.UTF8_STRING, "UTF8String")));
  } catch {
    return undefined;
  }
}

export function toHex(bytes: Uint8Array | ArrayBuffer): string {
  const view = bytes instanceof Uint8Array ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) : Buffer.from(bytes);
  return view.toString("hex").toUpperCase();
}

export function u8(buffer: ArrayBuffer | ArrayBufferView): Uint8Array {
  return buffer instanceof Uint8Array
    ? buffer
    : ArrayBuffer.isView(buffer)
      ? new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)
      : new Uint8Array(buffer);
}

/** An unsigned serial number as upper-case hex without leading zero bytes (matches the CA's serialHex). */
export function serialHex(bytes: Uint8Array): string {
  return toHex(stripLeadingZeros(bytes));
}
