import { SW } from "./status-words.ts";

/**
 * A parsed command APDU (ISO 7816-3/-4, cases 1–4, short and extended).
 *
 * `ne` is the number of response bytes the terminal accepts: 0 when Le is absent,
 * 256 for short Le 00 and 65536 for extended Le 0000.
 */
export interface CommandApdu {
  readonly cla: number;
  readonly ins: number;
  readonly p1: number;
  readonly p2: number;
  readonly data: Uint8Array;
  readonly ne: number;
  readonly hasLe: boolean;
  readonly extended: boolean;
}

export type ParsedApdu = { ok: true; apdu: CommandApdu } | { ok: false; sw: number };

/** Longest well-formed APDU: header, extended Lc (3), 65535 data bytes, extended Le (2). */
export const MAX_APDU_LENGTH = 4 + 3 + 65535 + 2;

const EMPTY = new Uint8Array(0);

/**
 * Split a command APDU into header, data and Le. Anything that is not exactly one of
 * the seven ISO encodings answers 67 00; the length bytes are checked against the
 * actual length before anything is sliced, so no length field drives an allocation.
 */
export function parseCommandApdu(raw: Uint8Array): ParsedApdu {
  const n = raw.length;
  if (n < 4 || n > MAX_APDU_LENGTH) return { ok: false, sw: SW.WRONG_LENGTH };
  const header = { cla: raw[0]!, ins: raw[1]!, p1: raw[2]!, p2: raw[3]! };
  const build = (data: Uint8Array, ne: number, hasLe: boolean, extended: boolean): ParsedApdu => ({
    ok: true,
    apdu: { ...header, data, ne, hasLe, extended },
  });

  if (n === 4) return build(EMPTY, 0, false, false); // case 1
  const b4 = raw[4]!;
  if (n === 5) return build(EMPTY, b4 === 0 ? 256 : b4, true, false); // case 2 short

  if (b4 !== 0) {
    // Short Lc.
    if (n === 5 + b4) return build(raw.slice(5), 0, false, false); // case 3 short
    if (n === 6 + b4) {
      const le = raw[n - 1]!;
      return build(raw.slice(5, n - 1), le === 0 ? 256 : le, true, false); // case 4 short
    }
    return { ok: false, sw: SW.WRONG_LENGTH };
  }

  // b4 = 00 and more bytes follow: extended length.
  if (n < 7) return { ok: false, sw: SW.WRONG_LENGTH };
  const l = (raw[5]! << 8) | raw[6]!;
  if (n === 7) return build(EMPTY, l === 0 ? 65536 : l, true, true); // case 2 extended
  if (l === 0) return { ok: false, sw: SW.WRONG_LENGTH };
  if (n === 7 + l) return build(raw.slice(7), 0, false, true); // case 3 extended
  if (n === 9 + l) {
    const le = (raw[n - 2]! << 8) | raw[n - 1]!;
    return build(raw.slice(7, n - 2), le === 0 ? 65536 : le, true, true); // case 4 extended
  }
  return { ok: false, sw: SW.WRONG_LENGTH };
}

/** A response APDU: the data and the status word together (the card never uses 61xx/6Cxx). */
export function responseApdu(sw: number, data?: Uint8Array): Uint8Array {
  const len = data?.length ?? 0;
  const out = new Uint8Array(len + 2);
  if (data && len > 0) out.set(data, 0);
  out[len] = (sw >> 8) & 0xff;
  out[len + 1] = sw & 0xff;
  return out;
}

/** Short helper for answers made of a status word only. */
export function statusOnly(sw: number): Uint8Array {
  return responseApdu(sw);
}
