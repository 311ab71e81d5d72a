/**
 * The one strict, bounded DER reader, shared by the issuer (src/pki: OCSP requests, submitted
 * public keys, certificates) and the verifier (src/verify: CMS, CRLs, OCSP responses). Both read
 * untrusted bytes on hot paths, so there is one copy of the checks to get right:
 *
 * - single-byte tags; definite, minimally encoded lengths of at most four bytes;
 * - every element ends inside its container, and a cursor's `end()` refuses anything left over;
 * - a `NodeBudget` shared by all the cursors of one parse bounds the work a hostile input costs;
 * - cursors nest at most `DER_MAX_DEPTH` deep.
 *
 * Reading allocates one small `Tlv` per element returned and one cursor per constructed element
 * entered; `skip` and `enter` step over or into an element without the `Tlv` (a cold certificate
 * verification reads a few hundred elements, most only to step over or into them). Contents are
 * views into the input, never copies. Anything else is a `DerReadError`, which each side turns
 * into its own outcome (a malformed OCSP request, a fail-closed verification).
 */

/** One element: its tag, and where it and its content lie in the input. */
export interface Tlv {
  readonly tag: number;
  /** Offset of the tag byte. */
  readonly start: number;
  /** Offset of the first content byte. */
  readonly contentStart: number;
  /** Offset just past the content. */
  readonly end: number;
}

/** How many more elements one parse may read; shared by all its cursors. */
export interface NodeBudget {
  remaining: number;
}

/** Why an input was refused as DER; the message names the element and the problem. */
export class DerReadError extends Error {
  override readonly name = "DerReadError";
}

/** Universal and context tags, by name. */
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
 * How deep cursors may nest below the first one. The deepest walk today (a CMS signed attribute's
 * values) is seven levels down; the limit stops a walker that recurses on its input before the
 * stack does.
 */
export const DER_MAX_DEPTH = 32;

/**
 * Reads the element at `offset` of `bytes`, which must end by `limit` (exclusive). Lengths must
 * be definite and minimal: a long form for a length under 128, or one with a leading zero byte,
 * is refused.
 */
export function readTlv(bytes: Uint8Array, offset: number, limit = bytes.length): Tlv {
  const end = scanTlv(bytes, offset, limit);
  return { tag: bytes[offset]!, start: offset, contentStart: scannedContentStart, end };
}

/**
 * Where the content of the element `scanTlv` read last begins: a module-level register rather
 * than an object per element, read right after the call (nothing runs in between).
 */
let scannedContentStart = 0;

/** `readTlv`'s checks without the object: the element's end, its content's start in `scannedContentStart`. */
function scanTlv(bytes: Uint8Array, offset: number, limit: number): number {
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
  scannedContentStart = p;
  return end;
}

/** Reads `bytes` as exactly one element with tag `tag`: nothing may follow it. */
export function readOnly(bytes: Uint8Array, tag: number, what: string): Tlv {
  const t = readTlv(bytes, 0);
  if (t.tag !== tag) throw new DerReadError(`${what}: expected tag 0x${hex2(tag)}, found 0x${hex2(t.tag)}`);
  if (t.end !== bytes.length) throw new DerReadError(`${what}: trailing bytes`);
  return t;
}

/**
 * Walks the children of one element, in order. `next` demands a tag, `optional` takes the next
 * child only when its tag matches, `any` takes it whatever its tag, and `end` demands that nothing
 * is left. `what` names the element in error messages.
 */
export class DerCursor {
  #pos: number;
  readonly #end: number;
  readonly #depth: number;

  /**
   * `depth` is how many cursors enclose this one; `into` sets it. `end`, when given, stands for
   * `parent.end` and `parent` is then the content's start (how `enter` makes one without a `Tlv`).
   */
  constructor(bytes: Uint8Array, parent: Tlv, what: string, budget?: NodeBudget, depth?: number);
  constructor(bytes: Uint8Array, contentStart: number, what: string, budget: NodeBudget | undefined, depth: number, end: number);
  constructor(
    readonly bytes: Uint8Array,
    parent: Tlv | number,
    readonly what: string,
    readonly budget?: NodeBudget,
    depth = 0,
    end?: number,
  ) {
    if (depth > DER_MAX_DEPTH) throw new DerReadError(`${what}: nested more than ${DER_MAX_DEPTH} levels deep`);
    if (typeof parent === "number") {
      this.#pos = parent;
      this.#end = end!;
    } else {
      this.#pos = parent.contentStart;
      this.#end = parent.end;
    }
    this.#depth = depth;
  }

  /** A cursor over the children of `bytes` read as exactly one element with tag `tag` (see `readOnly`). */
  static only(bytes: Uint8Array, tag: number, what: string, budget?: NodeBudget): DerCursor {
    return new DerCursor(bytes, readOnly(bytes, tag, what), what, budget);
  }

  get done(): boolean {
    return this.#pos >= this.#end;
  }

  /** The tag of the next child, or undefined at the end. */
  peekTag(): number | undefined {
    return this.#pos < this.#end ? this.bytes[this.#pos] : undefined;
  }

  next(tag: number, what: string): Tlv {
    const start = this.#pos;
    const end = this.#step(tag, what);
    return { tag, start, contentStart: scannedContentStart, end };
  }

  /** Like `next`, for a child the caller only steps over. */
  skip(tag: number, what: string): void {
    this.#step(tag, what);
  }

  /** `into(next(tag, what), inner)`: a cursor over the next child's children, which must have tag `tag`. */
  enter(tag: number, what: string, inner = what): DerCursor {
    const end = this.#step(tag, what);
    if ((tag & 0x20) === 0) throw new DerReadError(`${inner} is not constructed`);
    return new DerCursor(this.bytes, scannedContentStart, inner, this.budget, this.#depth + 1, end);
  }

  /** Reads the next child (which must have tag `tag`) and moves past it; its end, its content's start in `scannedContentStart`. */
  #step(tag: number, what: string): number {
    if (this.done) throw new DerReadError(`${this.what}: ${what} is missing`);
    const found = this.bytes[this.#pos]!;
    const end = scanTlv(this.bytes, this.#pos, this.#end);
    if (found !== tag) throw new DerReadError(`${this.what}: ${what} has tag 0x${hex2(found)}, expected 0x${hex2(tag)}`);
    if (this.budget && --this.budget.remaining < 0) throw new DerReadError("too many ASN.1 elements");
    this.#pos = end;
    return end;
  }

  /** The next child whatever its tag. */
  any(what: string): Tlv {
    if (this.done) throw new DerReadError(`${this.what}: ${what} is missing`);
    return this.next(this.bytes[this.#pos]!, what);
  }

  optional(tag: number, what: string): Tlv | undefined {
    return this.peekTag() === tag ? this.next(tag, what) : undefined;
  }

  end(): void {
    if (!this.done) throw new DerReadError(`${this.what}: unexpected element with tag 0x${hex2(this.bytes[this.#pos]!)} at the end`);
  }

  /** A cursor over the children of `child` (a constructed element this cursor returned). */
  into(child: Tlv, what: string): DerCursor {
    if ((child.tag & 0x20) === 0) throw new DerReadError(`${what} is not constructed`);
    return new DerCursor(this.bytes, child, what, this.budget, this.#depth + 1);
  }
}

/** The content octets of `t` (a view, not a copy). */
export function contentOf(bytes: Uint8Array, t: Tlv): Uint8Array {
  return bytes.subarray(t.contentStart, t.end);
}

/** The whole encoding of `t`, tag and length included (a view, not a copy). */
export function encodingOf(bytes: Uint8Array, t: Tlv): Uint8Array {
  return bytes.subarray(t.start, t.end);
}

/** Whether two byte strings are equal. Not constant-time: everything compared here is public (certificates, names, digests, OIDs). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  // Native memcmp pays off past a few dozen bytes (whole certificates are compared on every cache hit).
  if (a.length >= 64) return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, "0");
}
