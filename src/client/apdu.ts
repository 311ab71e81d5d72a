/**
 * Command APDU encoding and response APDU decoding for the card client, and the one
 * place where status words get their meaning.
 */

/** Status words the client acts on. */
export const SW = {
  ok: 0x9000,
  securityStatusNotSatisfied: 0x6982,
  authMethodBlocked: 0x6983,
  referenceDataBlocked: 0x6984,
  conditionsNotSatisfied: 0x6985,
  fileNotFound: 0x6a82,
  wrongP1P2: 0x6a86,
  wrongP1P2Offset: 0x6b00,
  wrongLength: 0x6700,
  insNotSupported: 0x6d00,
  claNotSupported: 0x6e00,
} as const;

export type CardErrorCode =
  /** VERIFY answered 63Cx with x > 0 (tries left in {@link CardError.triesLeft}). */
  | "wrong-pin"
  /** The PIN is blocked (63C0 or 6984). */
  | "pin-blocked"
  /** 6982: the operation needs a PIN that has not been verified in this session. */
  | "security-status"
  /** 6A82: no such application or file (for example a card that is not a My Number Card). */
  | "file-not-found"
  /** A certificate file is empty or does not hold a DER certificate. */
  | "no-certificate"
  /** The argument was refused before anything was sent (PIN format, data length). */
  | "invalid-argument"
  /** The card's answer is malformed (too short, inconsistent lengths). */
  | "invalid-response"
  /** Any other status word. */
  | "card-error";

export class CardError extends Error {
  override name = "CardError";
  readonly code: CardErrorCode;
  /** The status word, when the card answered one. */
  readonly sw: number | undefined;
  /** Tries left, for wrong-pin and pin-blocked. */
  readonly triesLeft: number | undefined;
  constructor(code: CardErrorCode, message: string, opts: { sw?: number; triesLeft?: number; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    this.sw = opts.sw;
    this.triesLeft = opts.triesLeft;
  }
}

export function swHex(sw: number): string {
  return sw.toString(16).toUpperCase().padStart(4, "0");
}

/** What a status word means, for messages. */
export function describeSw(sw: number): string {
  if ((sw & 0xfff0) === 0x63c0) return `wrong PIN, ${sw & 0x0f} tries left`;
  // A JPKI card answers data and status in one response (T=1); these ask for a second exchange.
  if (sw >> 8 === 0x61) return `${sw & 0xff || 256} more bytes available (GET RESPONSE, which this client does not send)`;
  if (sw >> 8 === 0x6c) return `wrong Le; the card has ${sw & 0xff || 256} bytes`;
  switch (sw) {
    case 0x9000:
      return "success";
    case 0x6282:
      return "end of file reached before Le bytes";
    case 0x6700:
      return "wrong length";
    case 0x6982:
      return "security status not satisfied (PIN not verified)";
    case 0x6983:
      return "authentication method blocked";
    case 0x6984:
      return "reference data blocked (PIN blocked)";
    case 0x6985:
      return "conditions of use not satisfied";
    case 0x6a80:
      return "incorrect data";
    case 0x6a82:
      return "file or application not found";
    case 0x6a86:
      return "incorrect P1-P2";
    case 0x6b00:
      return "offset outside the file";
    case 0x6d00:
      return "instruction not supported";
    case 0x6e00:
      return "class not supported";
    case 0x6f00:
      return "no precise diagnosis";
    default:
      return "card error";
  }
}

/** The error a non-9000 status word stands for. `what` names the operation for the message. */
export function errorForSw(sw: number, what: string): CardError {
  const text = `${what}: card answered ${swHex(sw)} (${describeSw(sw)})`;
  if ((sw & 0xfff0) === 0x63c0) {
    const tries = sw & 0x0f;
    return tries === 0
      ? new CardError("pin-blocked", text, { sw, triesLeft: 0 })
      : new CardError("wrong-pin", text, { sw, triesLeft: tries });
  }
  switch (sw) {
    case SW.referenceDataBlocked:
    case SW.authMethodBlocked:
      return new CardError("pin-blocked", text, { sw, triesLeft: 0 });
    case SW.securityStatusNotSatisfied:
      return new CardError("security-status", text, { sw });
    case SW.fileNotFound:
      return new CardError("file-not-found", text, { sw });
    default:
      return new CardError("card-error", text, { sw });
  }
}

export interface Response {
  data: Uint8Array;
  sw: number;
}

/** Splits a response APDU into data and SW1-SW2. */
export function parseResponse(raw: Uint8Array): Response {
  if (!(raw instanceof Uint8Array) || raw.length < 2) {
    throw new CardError("invalid-response", `response APDU of ${raw?.length ?? 0} bytes has no status word`);
  }
  const n = raw.length;
  return { data: raw.slice(0, n - 2), sw: (raw[n - 2]! << 8) | raw[n - 1]! };
}

/**
 * Encodes a command APDU (ISO 7816-4 cases 1–4). Short form when Lc ≤ 255 and Le ≤ 256,
 * extended otherwise. `le` is the number of bytes expected (256 short / 65536 extended = "all").
 */
export function buildApdu(cla: number, ins: number, p1: number, p2: number, data?: Uint8Array, le?: number): Uint8Array {
  for (const [name, v] of [["CLA", cla], ["INS", ins], ["P1", p1], ["P2", p2]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new RangeError(`${name} out of range: ${v}`);
  }
  const lc = data?.length ?? 0;
  if (lc > 65535) throw new RangeError(`command data of ${lc} bytes is too long`);
  if (le !== undefined && (!Number.isInteger(le) || le < 1 || le > 65536)) throw new RangeError(`Le out of range: ${le}`);
  const extended = lc > 255 || (le !== undefined && le > 256);
  const out: number[] = [cla, ins, p1, p2];
  if (lc > 0) {
    if (extended) out.push(0, lc >> 8, lc & 0xff);
    else out.push(lc);
    out.push(...data!);
  }
  if (le !== undefined) {
    if (extended) {
      const v = le === 65536 ? 0 : le;
      if (lc === 0) out.push(0);
      out.push(v >> 8, v & 0xff);
    } else {
      out.push(le === 256 ? 0 : le);
    }
  }
  return Uint8Array.from(out);
}
