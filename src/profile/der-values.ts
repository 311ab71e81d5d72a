/**
 * The DER values both the issuer and the verifier read out of untrusted input, decoded strictly
 * (the form DER requires, nothing looser) and throwing `DerReadError` otherwise: OBJECT
 * IDENTIFIERs, INTEGERs, BIT STRINGs, BOOLEANs, OCSP's v1 version field, and the Extensions list
 * of certificates, CRLs and OCSP messages.
 */
import { DerReadError, TAG, contentOf, type DerCursor, type Tlv } from "./der-reader.ts";

/** Longest OBJECT IDENTIFIER content accepted: real ones are under 32 bytes. */
const MAX_OID_BYTES = 64;

/**
 * OIDs already read, by a hash of their content: the same few dozen (name attribute types,
 * extensions, algorithms, JPKI's attributes and policies) come back in every certificate and CMS
 * document, and building the text made several strings each time (≈45 OIDs per cold CMS
 * verification). An entry is the text of exactly these bytes, which read without error, so a hit
 * answers what reading them again would. Bounded: once full, further OIDs are read as before, so
 * input full of odd OIDs can only fill it, not grow it.
 */
const OID_CACHE_MAX = 512;
const oidCache = new Map<number, { readonly content: Uint8Array; readonly text: string }>();

/** A DER OBJECT IDENTIFIER as dotted text. Base-128 arcs must be minimal and each fit in 2^53. */
export function oidText(bytes: Uint8Array, t: Tlv): string {
  if (t.tag !== TAG.OID) throw new DerReadError("not an OBJECT IDENTIFIER");
  const n = t.end - t.contentStart;
  if (n < 1 || n > MAX_OID_BYTES) throw new DerReadError("OBJECT IDENTIFIER of a bad length");
  let hash = n;
  for (let i = t.contentStart; i < t.end; i++) hash = (Math.imul(hash, 31) + bytes[i]!) | 0;
  const cached = oidCache.get(hash);
  if (cached && sameContent(cached.content, bytes, t.contentStart, n)) return cached.text;
  const text = dottedOid(bytes, t);
  if (!cached && oidCache.size < OID_CACHE_MAX) oidCache.set(hash, { content: bytes.slice(t.contentStart, t.end), text });
  return text;
}

function sameContent(content: Uint8Array, bytes: Uint8Array, at: number, n: number): boolean {
  if (content.length !== n) return false;
  for (let i = 0; i < n; i++) if (content[i] !== bytes[at + i]) return false;
  return true;
}

function dottedOid(bytes: Uint8Array, t: Tlv): string {
  // Built as a string directly: half the time of collecting arcs and joining them.
  let text = "";
  let value = 0;
  let fresh = true;
  for (let i = t.contentStart; i < t.end; i++) {
    const b = bytes[i]!;
    if (fresh && b === 0x80) throw new DerReadError("OBJECT IDENTIFIER arc not minimally encoded");
    fresh = false;
    if (value > (Number.MAX_SAFE_INTEGER - 127) / 128) throw new DerReadError("OBJECT IDENTIFIER arc too large");
    value = value * 128 + (b & 0x7f);
    if ((b & 0x80) === 0) {
      if (text.length > 0) text += "." + value;
      else text = value < 40 ? "0." + value : value < 80 ? "1." + (value - 40) : "2." + (value - 80);
      value = 0;
      fresh = true;
    }
  }
  if (!fresh) throw new DerReadError("OBJECT IDENTIFIER truncated");
  return text;
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

/**
 * Minimal unsigned big-endian magnitude of `bytes`: leading zero bytes removed, zero stays one 0x00
 * byte (a view, not a copy). What an issued INTEGER holds before its sign pad, and how serials are
 * compared and shown.
 */
export function stripLeadingZeros(bytes: Uint8Array): Uint8Array {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  return i === 0 ? bytes : bytes.subarray(i);
}

/** A DER BOOLEAN. TRUE is 0xFF; an explicit FALSE (0x00, which DER would omit as the default) is read as false. */
export function booleanValue(bytes: Uint8Array, t: Tlv): boolean {
  if (t.tag !== TAG.BOOLEAN || t.end - t.contentStart !== 1) throw new DerReadError("not a BOOLEAN");
  const v = bytes[t.contentStart];
  if (v !== 0x00 && v !== 0xff) throw new DerReadError("BOOLEAN neither 0x00 nor 0xFF");
  return v === 0xff;
}

/**
 * `version [0] EXPLICIT Version DEFAULT v1`, read from the cursor's position (OCSP's TBSRequest
 * and ResponseData): absent, or present and v1 (0). Any other version is refused: its syntax is
 * not the one read here.
 */
export function readVersionV1(c: DerCursor, what: string): void {
  const wrapped = c.optional(TAG.CONTEXT_0, "version");
  if (!wrapped) return;
  const v = c.into(wrapped, "version");
  const n = integerContent(c.bytes, v.next(TAG.INTEGER, "version"));
  v.end();
  if (n.length !== 1 || n[0] !== 0) throw new DerReadError(`${what} version is not v1`);
}

export interface RawExtension {
  readonly oid: string;
  readonly critical: boolean;
  /** The extnValue OCTET STRING's content: the extension's own DER (a view into the input). */
  readonly value: Uint8Array;
}

/** A list naming one extension twice (X.509 allows each at most once); `oid` says which. */
export class RepeatedExtension extends DerReadError {
  constructor(
    what: string,
    readonly oid: string,
  ) {
    super(`${what}: extension ${oid} appears twice`);
  }
}

/**
 * `Extensions ::= SEQUENCE SIZE (1..MAX) OF Extension`, the `list` element `c` just returned.
 * An empty list, or one naming an extension twice (X.509 allows each at most once), is refused.
 */
export function readExtensions(c: DerCursor, list: Tlv, what: string): RawExtension[] {
  const bytes = c.bytes;
  const out: RawExtension[] = [];
  const items = c.into(list, what);
  while (!items.done) {
    const e = items.enter(TAG.SEQUENCE, "Extension");
    const oid = oidText(bytes, e.next(TAG.OID, "extnID"));
    const flag = e.optional(TAG.BOOLEAN, "critical");
    const critical = flag ? booleanValue(bytes, flag) : false;
    const value = contentOf(bytes, e.next(TAG.OCTET_STRING, "extnValue"));
    e.end();
    for (let i = 0; i < out.length; i++) if (out[i]!.oid === oid) throw new RepeatedExtension(what, oid);
    out.push({ oid, critical, value });
  }
  if (out.length === 0) throw new DerReadError(`${what}: an empty Extensions list`);
  return out;
}

/** One empty list for every element without extensions, most of them (no allocation per element). */
const NO_EXTENSIONS: readonly RawExtension[] = Object.freeze([]);

/** `[n] EXPLICIT Extensions OPTIONAL` with context tag `tag`, read from the cursor's position: no extensions when absent. */
export function readExplicitExtensions(c: DerCursor, tag: number, what: string): readonly RawExtension[] {
  const wrapped = c.optional(tag, what);
  if (!wrapped) return NO_EXTENSIONS;
  const inner = c.into(wrapped, what);
  const list = readExtensions(inner, inner.next(TAG.SEQUENCE, "Extensions"), what);
  inner.end();
  return list;
}
