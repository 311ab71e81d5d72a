/**
 * A minimal DER reader for the few places where exact bytes matter (a certificate's Names and
 * public-key bits are hashed and compared byte for byte; re-encoding a parsed value could change
 * them). Definite lengths only, bounded by the input; everything else is parsed by asn1js.
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

/** Reads the TLV at `offset` of `bytes`, within `limit` (exclusive). Single-byte tags only. */
export function readTlv(bytes: Uint8Array, offset: number, limit = bytes.length): Tlv {
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
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + bytes[p + i]!;
    p += n;
  }
  const end = p + length;
  if (end > limit) throw new DerReadError("content runs past its container");
  return { tag, start: offset, contentStart: p, end };
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

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

export function toHex(bytes: Uint8Array | ArrayBuffer): string {
  return Buffer.from(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes)).toString("hex").toUpperCase();
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
