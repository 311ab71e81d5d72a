/**
 * PIN rules of the card's applications (spec §2.4, J-LIS password.html).
 *
 * These checks run where a PIN is chosen (counter terminal, kiosk reset); the card enforces the
 * retry counters itself. Messages are shown to residents, so they are in Japanese and English,
 * and they never repeat the PIN.
 */

export interface PinRule {
  readonly minLength: number;
  readonly maxLength: number;
  /** Human-readable alphabet, for help texts. */
  readonly characters: string;
  /** At least one letter and one digit. */
  readonly needsLetterAndDigit: boolean;
  /** Wrong entries in a row before the PIN locks. A correct entry resets the count; a new day does not. */
  readonly maxTries: number;
}

export const PIN_POLICY = {
  /** 署名用電子証明書の暗証番号 (signing password): 6–16 of A–Z and 0–9, lower case accepted as upper. */
  sign: { minLength: 6, maxLength: 16, characters: "A-Z 0-9", needsLetterAndDigit: true, maxTries: 5 },
  /** 利用者証明用電子証明書の暗証番号 (authentication PIN): 4 digits. */
  auth: { minLength: 4, maxLength: 4, characters: "0-9", needsLetterAndDigit: false, maxTries: 3 },
  /** 券面事項入力補助用の暗証番号 (text-attributes application PIN): 4 digits. */
  kenhojo: { minLength: 4, maxLength: 4, characters: "0-9", needsLetterAndDigit: false, maxTries: 3 },
} as const satisfies Record<"sign" | "auth" | "kenhojo", PinRule>;

export type SigningPasswordCheck =
  | { ok: true; value: string }
  | { ok: false; code: "length" | "characters" | "needs-letter-and-digit"; message: string };

export type FourDigitPinCheck = { ok: true; value: string } | { ok: false; code: "length" | "characters"; message: string };

// Only ASCII a–z is folded: String.prototype.toUpperCase would also turn "ß" into "SS" or a
// dotless ı into I, making a refused character look acceptable.
function upperAscii(text: string): string {
  return text.replace(/[a-z]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 32));
}

/** Checks (and upper-cases) a signing password chosen by the holder. */
export function checkSigningPassword(pin: string): SigningPasswordCheck {
  const rule = PIN_POLICY.sign;
  const value = typeof pin === "string" ? upperAscii(pin) : "";
  // Counted in code points so that an emoji is one (wrong) character, not two.
  const length = [...value].length;
  if (length < rule.minLength || length > rule.maxLength) {
    return {
      ok: false,
      code: "length",
      message: `署名用電子証明書の暗証番号は${rule.minLength}～${rule.maxLength}文字で入力してください / The signing password must be ${rule.minLength} to ${rule.maxLength} characters long`,
    };
  }
  if (!/^[A-Z0-9]+$/.test(value)) {
    return {
      ok: false,
      code: "characters",
      message:
        "署名用電子証明書の暗証番号に使える文字は半角の英大文字（A～Z）と数字（0～9）だけです / The signing password may contain only the letters A–Z and the digits 0–9",
    };
  }
  if (!/[A-Z]/.test(value) || !/[0-9]/.test(value)) {
    return {
      ok: false,
      code: "needs-letter-and-digit",
      message:
        "署名用電子証明書の暗証番号には英字と数字をそれぞれ1文字以上含めてください / The signing password needs at least one letter and at least one digit",
    };
  }
  return { ok: true, value };
}

/** Checks a 4-digit PIN (authentication, 券面事項入力補助, 住民基本台帳). */
export function checkFourDigitPin(pin: string): FourDigitPinCheck {
  const value = typeof pin === "string" ? pin : "";
  if ([...value].length !== 4) {
    return {
      ok: false,
      code: "length",
      message: "暗証番号は4桁の数字で入力してください / The PIN must be exactly 4 digits",
    };
  }
  if (!/^[0-9]{4}$/.test(value)) {
    return {
      ok: false,
      code: "characters",
      message: "暗証番号に使えるのは半角数字（0～9）だけです / The PIN may contain only the digits 0–9",
    };
  }
  return { ok: true, value };
}
