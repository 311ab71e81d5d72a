import { randomInt } from "node:crypto";

/**
 * The individual number (個人番号, "My Number"): 11 digits and a check digit, computed as the
 * ordinance (行政手続における特定の個人を識別するための番号の利用等に関する法律施行令 第8条)
 * prescribes: with Pn the n-th digit counted from the right of the first 11 and Qn = n + 1 for
 * n ≤ 6, n − 5 for n ≥ 7, the check digit is 11 − (Σ Pn·Qn mod 11), or 0 when the remainder ≤ 1.
 */
export function myNumberCheckDigit(first11: string): number {
  if (!/^\d{11}$/.test(first11)) throw new TypeError("expected 11 digits");
  let sum = 0;
  for (let n = 1; n <= 11; n++) {
    const p = Number(first11[11 - n]);
    const q = n <= 6 ? n + 1 : n - 5;
    sum += p * q;
  }
  const remainder = sum % 11;
  return remainder <= 1 ? 0 : 11 - remainder;
}

export function isValidMyNumber(value: string): boolean {
  return /^\d{12}$/.test(value) && myNumberCheckDigit(value.slice(0, 11)) === Number(value[11]);
}

/** A random, well-formed number for test cards (real numbers are assigned by the municipality). */
export function randomMyNumber(): string {
  let first11 = "";
  for (let i = 0; i < 11; i++) first11 += String(randomInt(10));
  return first11 + String(myNumberCheckDigit(first11));
}
