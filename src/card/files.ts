/**
 * The shape of the card's file system: which APs exist, which EFs each holds, who may
 * read them and what may be written to them. The tables themselves live with their
 * AP (jpki-ap.ts, kenhojo-ap.ts); this module holds the types and shared helpers.
 */
export type ApId = "jpki" | "kenhojo" | "kenkaku" | "juki" | "common";

/** A transparent EF. Its content is persisted under `fileKey(ap, fid)`. */
export interface BinaryEf {
  readonly kind: "binary";
  readonly fid: number;
  /** Largest content an issuer may write (the EF's size on a real card). */
  readonly capacity: number;
  /** PIN EFs any one of which opens the file for reading; empty = free to read. */
  readonly readPins: readonly number[];
  /** Checks content written by a counter terminal; null = not writable. Returns an error text or null. */
  readonly validate: ((content: Uint8Array) => string | null) | null;
  /** Content computed from other state rather than stored (JPKI EF 0008). */
  readonly computed?: (present: (fid: number) => boolean) => Uint8Array;
}

/** A PIN ("key EF" in JICSAP terms): VERIFY target with its own retry counter. */
export interface PinEf {
  readonly kind: "pin";
  readonly fid: number;
  readonly maxTries: number;
  /** Accepts a new PIN value (format only; issuance policy belongs to the rules layer). */
  readonly format: (pin: Uint8Array) => boolean;
  /** False for PINs no terminal may set (kenhojo 0012, always blocked; 0014, derived). */
  readonly settable: boolean;
}

/** A private key EF: signs with 80 2A after its PIN is verified. */
export interface KeyEf {
  readonly kind: "key";
  readonly fid: number;
  readonly pin: number;
  /** The certificate EF that belongs to this key (cleared when a new key is generated). */
  readonly certificate: number;
}

export type Ef = BinaryEf | PinEf | KeyEf;

export interface ApDefinition {
  readonly id: ApId;
  readonly aid: Uint8Array;
  readonly efs: ReadonlyMap<number, Ef>;
}

export function fileKey(ap: ApId, fid: number): string {
  return `${ap}:${fid.toString(16).padStart(4, "0")}`;
}

export function efTable(efs: readonly Ef[]): ReadonlyMap<number, Ef> {
  return new Map(efs.map((ef) => [ef.fid, ef]));
}

export function hex(s: string): Uint8Array {
  return Uint8Array.from(Buffer.from(s, "hex"));
}

/** ASCII digits only, exactly `n` of them. */
export function digits(n: number): (pin: Uint8Array) => boolean {
  return (pin) => pin.length === n && pin.every((b) => b >= 0x30 && b <= 0x39);
}

/**
 * Whether `content` is one DER element with a 3-byte long-form header (`30 82 LL LL`)
 * and nothing after it: OpenSC computes certificate sizes as LL+4, so any other
 * header would be mis-read.
 */
export function singleDerSequence(content: Uint8Array): string | null {
  if (content.length < 4 || content[0] !== 0x30 || content[1] !== 0x82) {
    return "certificate must start 30 82";
  }
  const len = (content[2]! << 8) | content[3]!;
  if (len < 0x100) return "certificate length must need two length bytes";
  if (len + 4 !== content.length) return "certificate must be exactly one DER object";
  return null;
}
