/**
 * X.509 v2 CRLs (RFC 5280 §5), hand-encoded so that building one is linear in the number of
 * entries and allocates nothing per entry.
 *
 * The whole CertificateList is laid out in one growable buffer: room is reserved at the front for
 * the headers whose lengths are known only at the end, entries are encoded straight into the
 * buffer after it, and the to-be-signed part is handed to the signer as a view. Memory is the DER
 * itself (about 35 B per entry without extensions, 49 B with a reasonCode) plus growth slack —
 * no objects per entry. Because `Signer.sign` takes the whole TBSCertList, the CRL is complete
 * in memory before it is signed; `writeCrl` then streams it out with backpressure.
 *
 * Choices:
 * - reasonCode is written on every entry **except** `unspecified`, which is left out as RFC 5280
 *   §5.3.1 asks ("SHOULD be absent instead of using the unspecified (0) reasonCode value"); a
 *   relying party reads the absence as unspecified.
 * - certificateHold entries carry no holdInstructionCode (deprecated; J-LIS never releases a hold).
 * - invalidityDate, when given, is a GeneralizedTime as RFC 5280 §5.3.2 requires.
 * - Times are rounded down to whole seconds; UTCTime before 2050, GeneralizedTime from 2050.
 * - An empty CRL omits revokedCertificates, as RFC 5280 §5.1.2.6 requires.
 * - Entries are written in the order given, and serials are not checked for duplicates: the
 *   revocation store's unique key guarantees that (checking here is the quadratic trap of
 *   X509CrlGenerator, or a million-entry hash set).
 * - Extensions: authorityKeyIdentifier, cRLNumber and, for a partition, a **critical**
 *   issuingDistributionPoint whose fullName is the partition's directoryName (the same DN the
 *   certificates name in cRLDistributionPoints).
 */
import { REVOCATION_REASON_CODE, type RevocationReason } from "../rules/revocation.ts";
import { once } from "node:events";
import type { Signer } from "./signer.ts";
import { TAG } from "../profile/der-reader.ts";
import {
  DER_TRUE,
  bigintInteger,
  bitString,
  contextTag,
  lengthOfLength,
  octetString,
  oid,
  seq,
  stripLeadingZeros,
  timeLength,
  tlv,
  unsignedIntegerContentLength,
  wholeSeconds,
  writeLength,
  writeTime,
  writeUnsignedInteger,
} from "./der.ts";

/** One revoked certificate, as the CRL lists it. */
export interface CrlEntry {
  /** The certificate's serial number, unsigned big-endian (leading zeros are ignored). */
  readonly serial: Uint8Array;
  readonly revokedAt: Date;
  readonly reason: RevocationReason;
  /** When the key is known or suspected to have been compromised (RFC 5280 §5.3.2). */
  readonly invalidityDate?: Date;
}

/**
 * An entry source item: a `CrlEntry`, or the bytes `encodeCrlEntry` made for one earlier (so a
 * store can keep entries pre-encoded and a CRL build becomes a copy), or several such entries
 * back to back (a page of the store's pre-encoded entries).
 */
export type CrlEntryInput = CrlEntry | Uint8Array;

export interface CrlOptions {
  /** DER of the CA's subject Name: the CRL issuer. */
  readonly issuerNameDer: Uint8Array;
  /** The CA's subjectKeyIdentifier, written as the CRL's authorityKeyIdentifier. */
  readonly authorityKeyIdentifier: Uint8Array;
  readonly signer: Signer;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
  /**
   * Monotonically increasing per CRL scope; 0 ≤ crlNumber < 2^159 (20 octets). A function is
   * asked once every entry has been read (the number follows the entries in the DER), so a
   * caller can number the CRL by what it holds.
   */
  readonly crlNumber: bigint | (() => Promise<bigint>);
  /** Set for a municipality partition; absent for the CA's full CRL. */
  readonly issuingDistributionPoint?: {
    /** DER of the partition's Name, byte for byte the certificates' cRLDistributionPoints directoryName. */
    readonly fullNameDirectoryNameDer: Uint8Array;
    /** Write onlyContainsUserCerts TRUE (the partition covers end-entity certificates only). Default false. */
    readonly onlyContainsUserCerts?: boolean;
  };
  readonly entries: Iterable<CrlEntryInput> | AsyncIterable<CrlEntryInput>;
  /** A hint for sizing the buffer up front (entry count); arrays are sized from their length. */
  readonly expectedEntries?: number;
}

// ----- constants -----

const SHA256_WITH_RSA = seq(oid("1.2.840.113549.1.1.11"), Uint8Array.of(TAG.NULL, 0));
const VERSION_V2 = Uint8Array.of(TAG.INTEGER, 1, 1);
const OID_AKI = oid("2.5.29.35");
const OID_CRL_NUMBER = oid("2.5.29.20");
const OID_IDP = oid("2.5.29.28");

/** The complete reasonCode Extension for each reason (undefined: leave it out). */
const REASON_EXTENSION: Readonly<Record<RevocationReason, Uint8Array | undefined>> = Object.freeze(
  Object.fromEntries(
    Object.entries(REVOCATION_REASON_CODE).map(([name, code]) => [
      name,
      code === 0 ? undefined : seq(oid("2.5.29.21"), octetString(Uint8Array.of(TAG.ENUMERATED, 1, code))),
    ]),
  ) as Record<RevocationReason, Uint8Array | undefined>,
);

/** invalidityDate Extension up to the GeneralizedTime: SEQ { OID, OCTET STRING { …17 bytes } }. */
const INVALIDITY_PREFIX = Uint8Array.of(0x30, 5 + 2 + 17, ...oid("2.5.29.24"), TAG.OCTET_STRING, 17);
const INVALIDITY_EXTENSION_LENGTH = INVALIDITY_PREFIX.length + 17;

/** Largest encoding of one entry: SEQ hdr 2 + INTEGER 22 + Time 17 + Extensions 2 + 12 + 26. */
const MAX_ENTRY_LENGTH = 96;
/** Average bytes per entry used to size the buffer from a count. */
const SIZING_BYTES_PER_ENTRY = 50;
/** A size hint never makes the first buffer bigger than this; it grows beyond as needed. */
const MAX_INITIAL_CAPACITY = 256 * 1024 * 1024;

// ----- entries -----

function checkReason(reason: RevocationReason): Uint8Array | undefined {
  if (!Object.prototype.hasOwnProperty.call(REVOCATION_REASON_CODE, reason)) {
    throw new TypeError(`unknown revocation reason ${String(reason)}`);
  }
  return REASON_EXTENSION[reason];
}

/** Writes one entry at `offset` of `out` (which must have MAX_ENTRY_LENGTH bytes free); returns the new offset. */
function writeEntry(out: Uint8Array, offset: number, entry: CrlEntry, timeCache: TimeCache): number {
  const serial = entry.serial;
  if (!(serial instanceof Uint8Array) || serial.length === 0) throw new TypeError("CRL entry serial must be a non-empty Uint8Array");
  const mag = stripLeadingZeros(serial);
  const intLen = unsignedIntegerContentLength(mag);
  if (intLen > 20) throw new RangeError("serial number longer than 20 octets (RFC 5280 §4.1.2.2)");
  const reasonExt = checkReason(entry.reason);
  const revokedAt = wholeSeconds(entry.revokedAt);
  let extLen = 0;
  if (reasonExt) extLen += reasonExt.length;
  let invalidity = 0;
  if (entry.invalidityDate !== undefined) {
    invalidity = wholeSeconds(entry.invalidityDate);
    extLen += INVALIDITY_EXTENSION_LENGTH;
  }
  const contentLen = 2 + intLen + timeLength(revokedAt) + (extLen ? 2 + extLen : 0);
  out[offset++] = TAG.SEQUENCE;
  out[offset++] = contentLen; // always < 128
  offset = writeUnsignedInteger(out, offset, mag);
  offset = timeCache.write(out, offset, revokedAt);
  if (extLen) {
    out[offset++] = TAG.SEQUENCE;
    out[offset++] = extLen;
    if (reasonExt) {
      out.set(reasonExt, offset);
      offset += reasonExt.length;
    }
    if (entry.invalidityDate !== undefined) {
      out.set(INVALIDITY_PREFIX, offset);
      offset = writeTime(out, offset + INVALIDITY_PREFIX.length, invalidity, true);
    }
  }
  return offset;
}

/** Remembers the last Time written, since revocations made together share their second. */
class TimeCache {
  #seconds = Number.NaN;
  #bytes = new Uint8Array(17);
  #length = 0;

  write(out: Uint8Array, offset: number, seconds: number): number {
    if (seconds !== this.#seconds) {
      this.#length = writeTime(this.#bytes, 0, seconds);
      this.#seconds = seconds;
    }
    const bytes = this.#bytes;
    const n = this.#length;
    for (let i = 0; i < n; i++) out[offset + i] = bytes[i]!;
    return offset + n;
  }
}

/**
 * The DER of one revokedCertificates element (`SEQUENCE { userCertificate, revocationDate,
 * crlEntryExtensions }`), for a store that keeps entries pre-encoded. `buildCrl` accepts these
 * bytes in place of the entry.
 */
export function encodeCrlEntry(entry: CrlEntry): Uint8Array {
  const end = writeEntry(scratch, 0, entry, scratchTime);
  return scratch.slice(0, end);
}

const scratch = new Uint8Array(MAX_ENTRY_LENGTH);
const scratchTime = new TimeCache();

/** A revocation as the revocation store records it: serial as hex, times as ISO 8601 strings. */
export interface RecordedRevocation {
  readonly serialHex: string;
  readonly revokedAt: string;
  readonly reason: RevocationReason;
  readonly invalidityDate: string | null;
}

/**
 * The entry for a recorded revocation, encoded once when the revocation is written so that a CRL
 * build only copies bytes. Same bytes as `encodeCrlEntry` of the parsed record; refuses what the
 * store should never hold (odd-length or non-hex serials, unparsable times) instead of guessing.
 */
export function encodeRecordedRevocation(record: RecordedRevocation): Uint8Array {
  if (!/^(?:[0-9A-Fa-f]{2}){1,21}$/.test(record.serialHex)) throw new TypeError(`serial ${JSON.stringify(record.serialHex)} is not whole hex octets`);
  return encodeCrlEntry({
    serial: Buffer.from(record.serialHex, "hex"),
    revokedAt: new Date(record.revokedAt),
    reason: record.reason,
    ...(record.invalidityDate !== null ? { invalidityDate: new Date(record.invalidityDate) } : {}),
  });
}

/**
 * Checks a run of pre-encoded entries and returns how many it holds. Such bytes come from the
 * store, not from this encoder's own hands, so each element is checked before it is copied: a
 * SEQUENCE with a short-form length no longer than the largest entry this encoder writes,
 * starting with the serial's INTEGER, the elements exactly covering the bytes. A caller that
 * knows how many entries it asked for compares the count too (a damaged length can swallow a
 * neighbour and still add up). A damaged row fails the build rather than producing a CRL that
 * lists something else.
 */
export function countEncodedCrlEntries(bytes: Uint8Array): number {
  if (bytes.length === 0) throw new TypeError("pre-encoded CRL entry is empty");
  let offset = 0;
  let count = 0;
  while (offset < bytes.length) {
    if (bytes.length - offset < 4 || bytes[offset] !== TAG.SEQUENCE) throw new TypeError("pre-encoded CRL entry is not a SEQUENCE");
    const len = bytes[offset + 1]!;
    if (len > MAX_ENTRY_LENGTH - 2) throw new TypeError("pre-encoded CRL entry has a bad length");
    if (bytes[offset + 2] !== TAG.INTEGER) throw new TypeError("pre-encoded CRL entry does not start with a serial number");
    offset += 2 + len;
    count += 1;
  }
  if (offset !== bytes.length) throw new TypeError("pre-encoded CRL entry length does not match its bytes");
  return count;
}

// ----- the buffer -----

class Output {
  buf: Uint8Array;
  pos: number;

  constructor(capacity: number, start: number) {
    // Zeroed, so that the slack around the returned view never exposes old process memory.
    this.buf = new Uint8Array(Math.max(Math.min(capacity, MAX_INITIAL_CAPACITY), start + 1024));
    this.pos = start;
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.pos + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  put(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }
}

// ----- the CRL -----

function crlExtensions(opts: CrlOptions, crlNumber: bigint): Uint8Array {
  if (crlNumber < 0n || crlNumber >= 1n << 159n) throw new RangeError("crlNumber must be 0 ≤ n < 2^159");
  const exts = [
    seq(OID_AKI, octetString(seq(tlv(contextTag(0, false), opts.authorityKeyIdentifier)))),
    seq(OID_CRL_NUMBER, octetString(bigintInteger(crlNumber))),
  ];
  const idp = opts.issuingDistributionPoint;
  if (idp) {
    const name = idp.fullNameDirectoryNameDer;
    if (name.length < 2 || name[0] !== TAG.SEQUENCE) throw new TypeError("fullNameDirectoryNameDer must be the DER of a Name");
    // distributionPoint [0] { fullName [0] GeneralNames { directoryName [4] EXPLICIT Name } }
    const dpName = tlv(contextTag(0, true), tlv(contextTag(0, true), tlv(contextTag(4, true), name)));
    const body = idp.onlyContainsUserCerts ? seq(dpName, Uint8Array.of(contextTag(1, false), 1, 0xff)) : seq(dpName);
    exts.push(seq(OID_IDP, DER_TRUE, octetString(body)));
  }
  return tlv(contextTag(0, true), seq(...exts));
}

function isSyncIterable<T>(x: Iterable<T> | AsyncIterable<T>): x is Iterable<T> {
  return typeof (x as Partial<Iterable<T>>)[Symbol.iterator] === "function";
}

/** Builds and signs the CRL; the result is a view into one buffer holding exactly the DER. */
export async function buildCrl(opts: CrlOptions): Promise<Uint8Array> {
  if (opts.signer.algorithm !== "sha256WithRSAEncryption") throw new TypeError("unsupported signer algorithm");
  const thisUpdate = wholeSeconds(opts.thisUpdate);
  const nextUpdate = wholeSeconds(opts.nextUpdate);
  if (nextUpdate <= thisUpdate) throw new RangeError("nextUpdate must be after thisUpdate");
  const issuer = opts.issuerNameDer;
  if (issuer.length < 2 || issuer[0] !== TAG.SEQUENCE) throw new TypeError("issuerNameDer must be the DER of a Name");

  // TBSCertList up to revokedCertificates: version, signature, issuer, thisUpdate, nextUpdate.
  const prefixLen = VERSION_V2.length + SHA256_WITH_RSA.length + issuer.length + timeLength(thisUpdate) + timeLength(nextUpdate);
  const prefix = new Uint8Array(prefixLen);
  {
    let o = 0;
    prefix.set(VERSION_V2, o);
    o += VERSION_V2.length;
    prefix.set(SHA256_WITH_RSA, o);
    o += SHA256_WITH_RSA.length;
    prefix.set(issuer, o);
    o += issuer.length;
    o = writeTime(prefix, o, thisUpdate);
    writeTime(prefix, o, nextUpdate);
  }
  // A number known up front: encoded now, so a bad option fails before any entry is read.
  const earlyExtensions = typeof opts.crlNumber === "bigint" ? crlExtensions(opts, opts.crlNumber) : undefined;

  // Reserve: outer header (≤ 6) + TBS header (≤ 6) + prefix + revokedCertificates header (≤ 6).
  const reserved = 6 + 6 + prefixLen + 6;
  const hint = Array.isArray(opts.entries) ? opts.entries.length : (opts.expectedEntries ?? 0);
  const out = new Output(reserved + hint * SIZING_BYTES_PER_ENTRY + 1024, reserved);
  const timeCache = new TimeCache();
  const add = (item: CrlEntryInput): void => {
    if (item instanceof Uint8Array) {
      countEncodedCrlEntries(item);
      out.put(item);
    } else {
      out.ensure(MAX_ENTRY_LENGTH);
      out.pos = writeEntry(out.buf, out.pos, item, timeCache);
    }
  };
  if (isSyncIterable(opts.entries)) {
    for (const item of opts.entries) add(item);
  } else {
    for await (const item of opts.entries) add(item);
  }
  const entriesLen = out.pos - reserved;
  out.put(earlyExtensions ?? crlExtensions(opts, await (opts.crlNumber as () => Promise<bigint>)()));
  const tbsEnd = out.pos;

  // Fill the headers in right-aligned against the entries.
  const buf = out.buf;
  let start = reserved;
  if (entriesLen > 0) {
    start -= 1 + lengthOfLength(entriesLen);
    buf[start] = TAG.SEQUENCE;
    writeLength(buf, start + 1, entriesLen);
  }
  start -= prefixLen;
  buf.set(prefix, start);
  const tbsContentLen = tbsEnd - start;
  start -= 1 + lengthOfLength(tbsContentLen);
  buf[start] = TAG.SEQUENCE;
  writeLength(buf, start + 1, tbsContentLen);
  const tbsStart = start;

  const signature = await opts.signer.sign(buf.subarray(tbsStart, tbsEnd));
  const sigBits = bitString(signature);
  out.ensure(SHA256_WITH_RSA.length + sigBits.length);
  out.put(SHA256_WITH_RSA);
  out.put(sigBits);

  const buf2 = out.buf; // may have moved while growing
  const outerLen = out.pos - tbsStart;
  start = tbsStart - (1 + lengthOfLength(outerLen));
  buf2[start] = TAG.SEQUENCE;
  writeLength(buf2, start + 1, outerLen);
  return buf2.subarray(start, out.pos);
}

/**
 * Builds the CRL like `buildCrl` and writes its DER to `out` in 1 MiB slices, waiting for
 * 'drain' when the stream asks. The stream is not ended. Resolves with the number of bytes written.
 */
export async function writeCrl(opts: CrlOptions, out: NodeJS.WritableStream): Promise<number> {
  const der = await buildCrl(opts);
  const CHUNK = 1 << 20;
  let last: Promise<void> = Promise.resolve();
  for (let o = 0; o < der.length; o += CHUNK) {
    const slice = der.subarray(o, Math.min(o + CHUNK, der.length));
    let more = true;
    last = new Promise<void>((resolve, reject) => {
      more = out.write(slice, (err) => (err ? reject(err) : resolve()));
    });
    last.catch(() => undefined); // surfaced below
    if (!more) await Promise.race([once(out, "drain"), last]);
  }
  await last;
  return der.length;
}
