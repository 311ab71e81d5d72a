/**
 * Hand-written DER encoders for the CRL, OCSP and certificate builders' hot paths. They work on
 * byte arrays directly, so building a million CRL entries allocates no per-entry objects.
 * Reading untrusted DER is src/profile/der-reader.ts, shared with the verifier.
 */
import { TAG } from "../profile/der-reader.ts";
import { lengthOfLength, tlv, writeLength } from "../profile/der-tlv.ts";
import { stripLeadingZeros } from "../profile/der-values.ts";

// The primitives shared with the verifier, for the encoders that build on them here.
export { lengthOfLength, stripLeadingZeros, tlv, writeLength };

/** Context-specific tag number `n` (0–30), constructed or primitive. */
export function contextTag(n: number, constructed: boolean): number {
  return 0x80 | (constructed ? 0x20 : 0) | n;
}

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

/** The DER header (tag + length) for `length` content bytes. */
export function header(tag: number, length: number): Uint8Array {
  const out = new Uint8Array(1 + lengthOfLength(length));
  out[0] = tag;
  writeLength(out, 1, length);
  return out;
}

/** Concatenates byte arrays (or nested arrays of them). */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export const seq = (...parts: Uint8Array[]): Uint8Array => tlv(TAG.SEQUENCE, ...parts);

/** DER OBJECT IDENTIFIER from dotted form. Used at module load for constants, not per call. */
export function oid(dotted: string): Uint8Array {
  const arcs = dotted.split(".").map((s) => {
    if (!/^\d+$/.test(s)) throw new TypeError(`bad OID ${dotted}`);
    return BigInt(s);
  });
  if (arcs.length < 2) throw new TypeError(`bad OID ${dotted}`);
  const body: number[] = [];
  const pushArc = (v: bigint): void => {
    const bytes = [Number(v & 0x7fn)];
    v >>= 7n;
    while (v > 0n) {
      bytes.unshift(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    body.push(...bytes);
  };
  pushArc(arcs[0]! * 40n + arcs[1]!);
  for (const a of arcs.slice(2)) pushArc(a);
  return tlv(TAG.OID, Uint8Array.from(body));
}

/** Content length of a DER INTEGER holding the unsigned magnitude `mag` (already minimal). */
export function unsignedIntegerContentLength(mag: Uint8Array): number {
  return mag[0]! & 0x80 ? mag.length + 1 : mag.length;
}

/** DER INTEGER for an unsigned big-endian value (a serial number, say). */
export function unsignedInteger(bytes: Uint8Array): Uint8Array {
  if (bytes.length === 0) throw new RangeError("an INTEGER needs at least one byte");
  const mag = stripLeadingZeros(bytes);
  const len = unsignedIntegerContentLength(mag);
  const out = new Uint8Array(1 + lengthOfLength(len) + len);
  out[0] = TAG.INTEGER;
  const o = writeLength(out, 1, len);
  out.set(mag, o + len - mag.length);
  return out;
}

/** DER INTEGER for a non-negative bigint. */
export function bigintInteger(value: bigint): Uint8Array {
  if (value < 0n) throw new RangeError("negative INTEGER not supported here");
  let hex = value.toString(16);
  if (hex.length % 2) hex = "0" + hex;
  return unsignedInteger(Uint8Array.from(Buffer.from(hex, "hex")));
}

/** Writes the unsigned serial `bytes` as a DER INTEGER at `offset`; returns the new offset. */
export function writeUnsignedInteger(out: Uint8Array, offset: number, mag: Uint8Array): number {
  const len = unsignedIntegerContentLength(mag);
  out[offset] = TAG.INTEGER;
  offset = writeLength(out, offset + 1, len);
  if (len > mag.length) out[offset++] = 0;
  out.set(mag, offset);
  return offset + mag.length;
}

export const DER_NULL = Uint8Array.of(TAG.NULL, 0x00);
export const DER_TRUE = Uint8Array.of(TAG.BOOLEAN, 0x01, 0xff);

export function octetString(bytes: Uint8Array): Uint8Array {
  return tlv(TAG.OCTET_STRING, bytes);
}

export function bitString(bytes: Uint8Array): Uint8Array {
  return tlv(TAG.BIT_STRING, Uint8Array.of(0), bytes);
}

export function enumerated(value: number): Uint8Array {
  if (!Number.isInteger(value) || value < 0 || value > 127) throw new RangeError("ENUMERATED 0–127 only");
  return Uint8Array.of(TAG.ENUMERATED, 0x01, value);
}

// ----- time -----

/** Whole seconds (floor): RFC 5280 and RFC 6960 times carry no fractions. */
export function wholeSeconds(date: Date): number {
  const ms = date.getTime();
  if (!Number.isFinite(ms)) throw new RangeError("invalid Date");
  return Math.floor(ms / 1000);
}

const UTC_TIME_MIN = Date.UTC(1950, 0, 1) / 1000;
const UTC_TIME_END = Date.UTC(2050, 0, 1) / 1000;
const GEN_TIME_MIN = -62167219200; // 0000-01-01T00:00:00Z
const GEN_TIME_END = Date.UTC(10000, 0, 1) / 1000;

/** Encoded size of an RFC 5280 Time (UTCTime before 2050, GeneralizedTime from 2050). */
export function timeLength(seconds: number): number {
  return seconds >= UTC_TIME_MIN && seconds < UTC_TIME_END ? 15 : 17;
}

function put2(out: Uint8Array, o: number, v: number): number {
  out[o] = 0x30 + ((v / 10) | 0);
  out[o + 1] = 0x30 + (v % 10);
  return o + 2;
}

/**
 * Writes an RFC 5280 Time (UTCTime for 1950–2049, GeneralizedTime otherwise, both `…Z` with
 * whole seconds) at `offset`; returns the new offset. `seconds` is Unix time.
 */
export function writeTime(out: Uint8Array, offset: number, seconds: number, forceGeneralized = false): number {
  if (!(seconds >= GEN_TIME_MIN && seconds < GEN_TIME_END)) throw new RangeError("date outside 0000–9999");
  const d = new Date(seconds * 1000);
  const year = d.getUTCFullYear();
  const utc = !forceGeneralized && seconds >= UTC_TIME_MIN && seconds < UTC_TIME_END;
  let o = offset;
  if (utc) {
    out[o++] = TAG.UTC_TIME;
    out[o++] = 13;
    o = put2(out, o, year % 100);
  } else {
    out[o++] = TAG.GENERALIZED_TIME;
    out[o++] = 15;
    o = put2(out, o, (year / 100) | 0);
    o = put2(out, o, year % 100);
  }
  o = put2(out, o, d.getUTCMonth() + 1);
  o = put2(out, o, d.getUTCDate());
  o = put2(out, o, d.getUTCHours());
  o = put2(out, o, d.getUTCMinutes());
  o = put2(out, o, d.getUTCSeconds());
  out[o++] = 0x5a; // 'Z'
  return o;
}

/** RFC 5280 Time for `date` (rounded down to whole seconds). */
export function time(date: Date): Uint8Array {
  const s = wholeSeconds(date);
  const out = new Uint8Array(timeLength(s));
  writeTime(out, 0, s);
  return out;
}

/** GeneralizedTime `YYYYMMDDHHMMSSZ` for `date` (rounded down to whole seconds): OCSP and invalidityDate. */
export function generalizedTime(date: Date): Uint8Array {
  const out = new Uint8Array(17);
  writeTime(out, 0, wholeSeconds(date), true);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Bounded writing
// ---------------------------------------------------------------------------------------------

const utf8 = new TextEncoder();

/**
 * Writes DER into one buffer of a fixed capacity. Constructed elements are opened with
 * `open(tag)` and closed with `close()`, which fills in the length from what was written (moving
 * the content right when the length takes more than one byte), so no caller computes a length
 * by hand. Every write is checked against the capacity: input that would make the output larger
 * fails with a RangeError instead of growing it or writing out of bounds.
 */
export class DerWriter {
  readonly #buf: Uint8Array;
  #pos = 0;
  /** Content start offsets of the elements still open (each has a 1-byte length reserved before it). */
  readonly #open: number[] = [];

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 2 || capacity > 1 << 24) throw new RangeError(`bad DerWriter capacity ${capacity}`);
    this.#buf = new Uint8Array(capacity);
  }

  /** Bytes written so far. */
  get length(): number {
    return this.#pos;
  }

  #reserve(n: number): void {
    if (this.#pos + n > this.capacity) throw new RangeError(`DER output exceeds ${this.capacity} bytes`);
  }

  #tag(tag: number): void {
    if (!Number.isInteger(tag) || tag < 0 || tag > 0xff || (tag & 0x1f) === 0x1f) throw new RangeError(`unsupported tag ${tag}`);
    this.#reserve(2);
    this.#buf[this.#pos++] = tag;
  }

  /** Starts a constructed element (SEQUENCE, SET, context-specific constructed, …). */
  open(tag: number): this {
    this.#tag(tag);
    this.#pos++; // the length byte, filled in by close()
    this.#open.push(this.#pos);
    return this;
  }

  /** Ends the element opened last and writes its length. */
  close(): this {
    const start = this.#open.pop();
    if (start === undefined) throw new RangeError("close() without open()");
    const length = this.#pos - start;
    const n = lengthOfLength(length);
    if (n > 1) {
      this.#reserve(n - 1);
      this.#buf.copyWithin(start + n - 1, start, this.#pos);
      this.#pos += n - 1;
    }
    writeLength(this.#buf, start - 1, length);
    return this;
  }

  /** Copies bytes that are already DER (one or more whole elements). */
  raw(bytes: Uint8Array): this {
    this.#reserve(bytes.length);
    this.#buf.set(bytes, this.#pos);
    this.#pos += bytes.length;
    return this;
  }

  /** A primitive element with the given content. */
  element(tag: number, content: Uint8Array): this {
    return this.open(tag).raw(content).close();
  }

  /** A string type (UTF8String 0x0C, PrintableString 0x13, IA5String 0x16, …) holding `text` as UTF-8. */
  string(tag: number, text: string): this {
    this.open(tag);
    const { read, written } = utf8.encodeInto(text, this.#buf.subarray(this.#pos));
    if (read !== text.length) throw new RangeError(`DER output exceeds ${this.capacity} bytes`);
    this.#pos += written;
    return this.close();
  }

  /** INTEGER from an unsigned big-endian magnitude (leading zeros dropped, sign pad added). */
  unsignedInteger(bytes: Uint8Array): this {
    if (bytes.length === 0) throw new RangeError("an INTEGER needs at least one byte");
    const mag = stripLeadingZeros(bytes);
    this.#reserve(1 + lengthOfLength(unsignedIntegerContentLength(mag)) + unsignedIntegerContentLength(mag));
    this.#pos = writeUnsignedInteger(this.#buf, this.#pos, mag);
    return this;
  }

  /** An RFC 5280 Time (UTCTime 1950–2049, else GeneralizedTime), whole seconds. */
  time(date: Date): this {
    const seconds = wholeSeconds(date);
    this.#reserve(timeLength(seconds));
    this.#pos = writeTime(this.#buf, this.#pos, seconds);
    return this;
  }

  /** The bytes written, as a new array. Every opened element must have been closed. */
  finish(): Uint8Array {
    if (this.#open.length > 0) throw new RangeError(`${this.#open.length} DER element(s) left open`);
    return this.#buf.slice(0, this.#pos);
  }
}
