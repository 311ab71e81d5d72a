/**
 * Encoding of the 券面事項入力補助AP files as a card issuer writes them (spec
 * card-protocol §3.1): EF 0001 `FF 10 0C <12 digits> FF FF` (exactly 17 bytes) and
 * EF 0002 `FF 20 L { DF21 offsets, DF22 name, DF23 address, DF24 birth, DF25 sex }`.
 */

export interface KenhojoRecord {
  /** 12-digit individual number. */
  myNumber: string;
  /** Name with U+3000 between family and given names, as on the card. */
  name: string;
  address: string;
  /** "YYYYMMDD". */
  birthDate: string;
  /** "1" male, "2" female, "9" not applicable. */
  sex: string;
}

/** The largest EF 0002 the card accepts. */
export const MAX_ATTRIBUTES_LENGTH = 1024;

export function encodeMyNumberFile(myNumber: string): Uint8Array {
  if (!/^[0-9]{12}$/.test(myNumber)) throw new TypeError("My Number must be 12 digits");
  return Uint8Array.from([0xff, 0x10, 0x0c, ...Buffer.from(myNumber, "ascii"), 0xff, 0xff]);
}

function berLength(n: number): number[] {
  if (n < 0x80) return [n];
  if (n < 0x100) return [0x81, n];
  return [0x82, n >> 8, n & 0xff];
}

function tlv(tag: number[], value: Uint8Array): Uint8Array {
  return Uint8Array.from([...tag, ...berLength(value.length), ...value]);
}

/**
 * EF 0002. DF21 holds four 2-byte big-endian offsets of DF22–DF25 from the start of
 * the file (our reading of the "offset table"; the clients reviewed skip it).
 */
export function encodeAttributesFile(a: Omit<KenhojoRecord, "myNumber">): Uint8Array {
  if (!/^[0-9]{8}$/.test(a.birthDate)) throw new TypeError("birthDate must be YYYYMMDD");
  if (!/^[129]$/.test(a.sex)) throw new TypeError("sex must be 1, 2 or 9");
  const utf8 = (s: string) => new Uint8Array(Buffer.from(s, "utf8"));
  const fields = [
    tlv([0xdf, 0x22], utf8(a.name)),
    tlv([0xdf, 0x23], utf8(a.address)),
    tlv([0xdf, 0x24], utf8(a.birthDate)),
    tlv([0xdf, 0x25], utf8(a.sex)),
  ];
  const offsetTableLength = 3 + 8; // DF 21 08 + 8 bytes
  const bodyLength = offsetTableLength + fields.reduce((n, f) => n + f.length, 0);
  const header = [0xff, 0x20, ...berLength(bodyLength)];
  const offsets: number[] = [];
  let pos = header.length + offsetTableLength;
  for (const f of fields) {
    offsets.push(pos >> 8, pos & 0xff);
    pos += f.length;
  }
  const out = Uint8Array.from([...header, ...tlv([0xdf, 0x21], Uint8Array.from(offsets)), ...fields.flatMap((f) => [...f])]);
  if (out.length > MAX_ATTRIBUTES_LENGTH) throw new TypeError(`attributes file too long (${out.length} > ${MAX_ATTRIBUTES_LENGTH} bytes)`);
  return out;
}
