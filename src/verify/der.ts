/**
 * A strict DER reader for the verifier's hot paths and for the places where exact bytes matter
 * (a certificate's Names and public-key bits are hashed and compared byte for byte; re-encoding a
 * parsed value could change them). Single-byte tags; definite, minimally encoded lengths; every
 * element must end inside its container. Anything else is a `DerReadError`, so a caller can fail
 * closed (or, for CMS, hand BER input to the generic parser).
 */

export interface Tlv {
  readonly tag: number;
  /** Offset of the tag byte. */
  readonly start: number;
  readonly contentStart: number;
  readonly end: number;
}

export class DerReadError extends Error {
  override readonly name = "DerReadError";
}

/** Universal and context tags the readers expect, by name. */
export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  ENUMERATED: 0x0a,
  UTF8_STRING: 0x0c,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
  CONTEXT_0: 0xa0,
  CONTEXT_1: 0xa1,
} as const;

/**
 * Reads the TLV at `offset` of `bytes`, within `limit` (exclusive). Lengths must be definite and
 * minimal (DER): a long form for a length under 128, or with a leading zero byte, is refused.
 */
export function readTlv(bytes: Uint8Array, offset: number, limit = bytes.length): Tlv {
  if (limit > bytes.length) limit = bytes.length;
  if (offset + 2 > limit) throw new DerReadError("truncated");
  const tag = bytes[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DerReadError("multi-byte tags are not supported");
  let length = bytes[offset + 1]!;
  let p = offset + 2;
  if (length & 0x80) {
    const n = length & 0x7f;
    if (n === 0) throw new DerReadError("indefinite length");
    if (n > 4) throw new DerReadError("length too long");
    if (p + n > limit) throw new DerReadError("truncated length");
    if (bytes[p] === 0) throw new DerReadError("length not minimally encoded (leading zero)");
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + bytes[p + i]!;
    if (length < 0x80) throw new DerReadError("length not minimally encoded (long form for a short length)");
    p += n;
  }
  const end = p + length;
  if (end > limit) throw new DerReadError("content runs past its container");
  return { tag, start: offset, contentStart: p, end };
}

/** Reads `bytes` as exactly one TLV with tag `tag`: nothing may follow it. */
export function readOnly(bytes: Uint8Array, tag: number, what: string): Tlv {
  const t = readTlv(bytes, 0);
  if (t.tag !== tag) throw new DerReadError(`${what}: expected tag 0x${hex2(tag)}, found 0x${hex2(t.tag)}`);
  if (t.end !== bytes.length) throw new DerReadError(`${what}: trailing bytes`);
  return t;
}

/** The children of a constructed TLV, in order. */
export function children(bytes: Uint8Array, parent: Tlv, max = 64): Tlv[] {
  const out: Tlv[] = [];
  let p = parent.contentStart;
  while (p < parent.end) {
    if (out.length >= max) throw new DerReadError("too many elements");
    const t = readTlv(bytes, p, parent.end);
    out.push(t);
    p = t.end;
  }
  return out;
}

/** A budget of TLVs a reader may visit, shared by the cursors of one parse (bounds work on hostile input). */
export interface NodeBudget {
  remaining: number;
}

/**
 * Walks the children of one constructed TLV, in order. `next` demands a tag, `optional` takes the
 * next child only when its tag matches, and `end` demands that nothing is left (no trailing
 * garbage inside a container).
 */
export class DerCursor {
  #p: number;

  constructor(
    readonly bytes: Uint8Array,
    readonly parent: Tlv,
    readonly what: string,
    readonly budget?: NodeBudget,
  ) {
    this.#p = parent.contentStart;
  }

  get done(): boolean {
    return this.#p >= this.parent.end;
  }

  /** The tag of the next child, or undefined at the end. */
  peekTag(): number | undefined {
    return this.done ? undefined : this.bytes[this.#p];
  }

  next(tag: number, what: string): Tlv {
    if (this.done) throw new DerReadError(`${this.what}: ${what} is missing`);
    const t = readTlv(this.bytes, this.#p, this.parent.end);
    if (t.tag !== tag) throw new DerReadError(`${this.what}: ${what} has tag 0x${hex2(t.tag)}, expected 0x${hex2(tag)}`);
    if (this.budget && --this.budget.remaining < 0) throw new DerReadError("too many ASN.1 elements");
    this.#p = t.end;
    return t;
  }

  /** The next child whatever its tag. */
  any(what: string): Tlv {
    if (this.done) throw new DerReadError(`${this.what}: ${what} is missing`);
    return this.next(this.bytes[this.#p]!, what);
  }

  optional(tag: number, what: string): Tlv | undefined {
    return this.peekTag() === tag ? this.next(tag, what) : undefined;
  }

  end(): void {
    if (!this.done) throw new DerReadError(`${this.what}: unexpected element with tag 0x${hex2(this.bytes[this.#p]!)} at the end`);
  }

  /** A cursor over the children of `child` (a constructed TLV this cursor returned). */
  into(child: Tlv, what: string): DerCursor {
    if ((child.tag & 0x20) === 0) throw new DerReadError(`${what} is not constructed`);
    return new DerCursor(this.bytes, child, what, this.budget);
  }
}

/** The content octets of `t` (a view, not a copy). */
export function contentOf(bytes: Uint8Array, t: Tlv): Uint8Array {
  return bytes.subarray(t.contentStart, t.end);
}

/** The whole encoding of `t` (a view, not a copy). */
export function encodingOf(bytes: Uint8Array, t: Tlv): Uint8Array {
  return bytes.subarray(t.start, t.end);
}

/** A DER OBJECT IDENTIFIER as dotted text. Base-128 arcs must be minimal and each fit in 2^53. */
export function oidText(bytes: Uint8Array, t: Tlv): string {
  if (t.tag !== TAG.OID) throw new DerReadError("not an OBJECT IDENTIFIER");
  const n = t.end - t.contentStart;
  if (n < 1 || n > 128) throw new DerReadError("OBJECT IDENTIFIER of a bad length");
  const arcs: number[] = [];
  let value = 0;
  let fresh = true;
  for (let i = t.contentStart; i < t.end; i++) {
    const b = bytes[i]!;
    if (fresh && b === 0x80) throw new DerReadError("OBJECT IDENTIFIER arc not minimally encoded");
    fresh = false;
    if (value > (Number.MAX_SAFE_INTEGER - 127) / 128) throw new DerReadError("OBJECT IDENTIFIER arc too large");
    value = value * 128 + (b & 0x7f);
    if ((b & 0x80) === 0) {
      if (arcs.length === 0) arcs.push(value < 40 ? 0 : value < 80 ? 1 : 2, value < 80 ? value % 40 : value - 80);
      else arcs.push(value);
      value = 0;
      fresh = true;
    }
  }
  if (!fresh) throw new DerReadError("OBJECT IDENTIFIER truncated");
  return arcs.join(".");
}

/**
 * A DER Time (RFC 5280 §4.1.2.5): UTCTime YYMMDDHHMMSSZ (years 50–99 are 19xx) or GeneralizedTime
 * YYYYMMDDHHMMSSZ. No fractions, no offsets, and the date must exist (no 30 February).
 */
export function derTime(bytes: Uint8Array, t: Tlv): Date {
  const utc = t.tag === TAG.UTC_TIME;
  if (!utc && t.tag !== TAG.GENERALIZED_TIME) throw new DerReadError("not a UTCTime or GeneralizedTime");
  const n = t.end - t.contentStart;
  if (n !== (utc ? 13 : 15) || bytes[t.end - 1] !== 0x5a /* Z */) throw new DerReadError(`${utc ? "UTCTime" : "GeneralizedTime"} not in the DER form`);
  const digits = (from: number, count: number): number => {
    let v = 0;
    for (let i = 0; i < count; i++) {
      const c = bytes[t.contentStart + from + i]! - 0x30;
      if (c < 0 || c > 9) throw new DerReadError("time has a non-digit");
      v = v * 10 + c;
    }
    return v;
  };
  let year: number;
  let p: number;
  if (utc) {
    const yy = digits(0, 2);
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
    p = 2;
  } else {
    year = digits(0, 4);
    p = 4;
  }
  const month = digits(p, 2);
  const day = digits(p + 2, 2);
  const hour = digits(p + 4, 2);
  const minute = digits(p + 6, 2);
  const second = digits(p + 8, 2);
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

/** The content of a DER INTEGER, checked to be minimally encoded (a serial number's bytes, as written). */
export function integerContent(bytes: Uint8Array, t: Tlv): Uint8Array {
  if (t.tag !== TAG.INTEGER) throw new DerReadError("not an INTEGER");
  const n = t.end - t.contentStart;
  if (n < 1) throw new DerReadError("empty INTEGER");
  const b0 = bytes[t.contentStart]!;
  if (n > 1 && ((b0 === 0 && bytes[t.contentStart + 1]! < 0x80) || (b0 === 0xff && bytes[t.contentStart + 1]! >= 0x80))) {
    throw new DerReadError("INTEGER not minimally encoded");
  }
  return bytes.subarray(t.contentStart, t.end);
}

/** The bits of a BIT STRING with no unused bits (signatures, keys). */
export function bitStringBytes(bytes: Uint8Array, t: Tlv): Uint8Array {
  if (t.tag !== TAG.BIT_STRING) throw new DerReadError("not a BIT STRING");
  if (t.end - t.contentStart < 1 || bytes[t.contentStart] !== 0) throw new DerReadError("BIT STRING with unused bits");
  return bytes.subarray(t.contentStart + 1, t.end);
}

/** A DER BOOLEAN. TRUE is 0xFF; an explicit FALSE (0x00, which DER would omit as the default) is read as false. */
export function booleanValue(bytes: Uint8Array, t: Tlv): boolean {
  if (t.tag !== TAG.BOOLEAN || t.end - t.contentStart !== 1) throw new DerReadError("not a BOOLEAN");
  const v = bytes[t.contentStart];
  if (v !== 0x00 && v !== 0xff) throw new DerReadError("BOOLEAN neither 0x00 nor 0xFF");
  return v === 0xff;
}

/** An AlgorithmIdentifier's OID, read from the cursor's position (parameters, if any, are left to the algorithm's check). */
export function readAlgorithmOid(c: DerCursor, what: string): string {
  const alg = c.into(c.next(TAG.SEQUENCE, what), what);
  const oid = oidText(c.bytes, alg.next(TAG.OID, `${what} algorithm`));
  if (!alg.done) alg.any(`${what} parameters`);
  alg.end();
  return oid;
}

export interface RawExtension {
  readonly oid: string;
  readonly critical: boolean;
  /** The extnValue OCTET STRING's content: the extension's own DER. */
  readonly value: Uint8Array;
}

/** `Extensions ::= SEQUENCE SIZE (1..MAX) OF Extension`, read from the cursor's position. */
export function readExtensions(c: DerCursor, list: Tlv, what: string): RawExtension[] {
  const out: RawExtension[] = [];
  const items = c.into(list, what);
  while (!items.done) {
    const e = items.into(items.next(TAG.SEQUENCE, "Extension"), "Extension");
    const oid = oidText(c.bytes, e.next(TAG.OID, "extnID"));
    const flag = e.optional(TAG.BOOLEAN, "critical");
    const critical = flag ? booleanValue(c.bytes, flag) : false;
    const value = contentOf(c.bytes, e.next(TAG.OCTET_STRING, "extnValue"));
    e.end();
    out.push({ oid, critical, value });
  }
  if (out.length === 0) throw new DerReadError(`${what}: an empty Extensions list`);
  return out;
}

/** One DER TLV around `parts` (written, not read: for the few requests the verifier sends). */
export function encodeTlv(tag: number, ...parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const header = length < 0x80 ? [tag, length] : length < 0x100 ? [tag, 0x81, length] : length < 0x10000 ? [tag, 0x82, length >> 8, length & 0xff] : undefined;
  if (!header) throw new RangeError("encodeTlv: content over 64 KiB");
  const out = new Uint8Array(header.length + length);
  out.set(header, 0);
  let p = header.length;
  for (const part of parts) {
    out.set(part, p);
    p += part.length;
  }
  return out;
}

export interface RawCertificateParts {
  readonly issuerNameDer: Uint8Array;
  readonly subjectNameDer: Uint8Array;
  readonly spkiDer: Uint8Array;
  /** The subjectPublicKey BIT STRING's value without the unused-bits byte (what SKI and CertID hash). */
  readonly spkiKeyBits: Uint8Array;
}

/** Slices issuer, subject and SubjectPublicKeyInfo out of a certificate's DER. */
export function rawCertificateParts(der: Uint8Array): RawCertificateParts {
  const cert = readTlv(der, 0);
  if (cert.tag !== 0x30 || cert.end !== der.length) throw new DerReadError("not a single SEQUENCE");
  const [tbs] = children(der, cert, 3);
  if (!tbs || tbs.tag !== 0x30) throw new DerReadError("no TBSCertificate");
  const fields = children(der, tbs, 16);
  let i = fields[0]?.tag === 0xa0 ? 1 : 0; // version
  i += 2; // serialNumber, signature
  const issuer = fields[i];
  const subject = fields[i + 2];
  const spki = fields[i + 3];
  if (!issuer || !subject || !spki || issuer.tag !== 0x30 || subject.tag !== 0x30 || spki.tag !== 0x30) {
    throw new DerReadError("TBSCertificate is missing issuer, subject or subjectPublicKeyInfo");
  }
  const [, bits] = children(der, spki, 2);
  if (!bits || bits.tag !== 0x03 || bits.end - bits.contentStart < 2 || der[bits.contentStart] !== 0) {
    throw new DerReadError("bad subjectPublicKey BIT STRING");
  }
  return {
    issuerNameDer: der.slice(issuer.start, issuer.end),
    subjectNameDer: der.slice(subject.start, subject.end),
    spkiDer: der.slice(spki.start, spki.end),
    spkiKeyBits: der.slice(bits.contentStart + 1, bits.end),
  };
}

/** The value of a DER UTF8String (tag 0x0C), or undefined if `der` is not exactly one. */
export function utf8StringValue(der: Uint8Array): string | undefined {
  try {
    const t = readTlv(der, 0);
    if (t.tag !== 0x0c || t.end !== der.length) return undefined;
    return new TextDecoder("utf-8", { fatal: true }).decode(der.subarray(t.contentStart, t.end));
  } catch {
    return undefined;
  }
}

/** Whether two byte strings are equal. Not constant-time: everything compared here is public (certificates, names, digests). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  // Native memcmp pays off past a few dozen bytes (whole certificates are compared on every cache hit).
  if (a.length >= 64) return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
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
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  return toHex(bytes.subarray(i));
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, "0");
}
