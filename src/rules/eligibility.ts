/**
 * Who may hold what (spec §2.1, §3).
 *
 * A signing certificate is refused to people under 15 and to adults under guardianship
 * (成年被後見人); the authentication certificate is allowed to both (their legal representative
 * applies). Convenience-store issuance is refused to people under 15. Age is judged on the day
 * the decision is made (`on`, a Japan date), which callers pass in.
 */
import { fail } from "./errors.ts";
import { ageOn, compareJapanDates, parseJapanDate, type JapanDate } from "./japan-date.ts";

/** Age from which a signing certificate may be issued and the kiosk may be used. */
export const SIGNING_MIN_AGE = 15;

export type SigningRefusal = "under-15" | "guardianship";

export type SigningEligibility = { eligible: true } | { eligible: false; reason: SigningRefusal };

export type KioskEligibility = { eligible: true } | { eligible: false; reason: "under-15" };

function ageAt(birth: JapanDate, on: JapanDate): number {
  const b = parseJapanDate(birth, "birth");
  const day = parseJapanDate(on, "on");
  if (compareJapanDates(day, b) < 0) fail("on", `${day} は生年月日（${b}）より前です`, `${day} is before the birth date ${b}`);
  return ageOn(b, day);
}

/**
 * Whether a signing certificate may be issued on `on`. Age is checked before guardianship so
 * that a child gets the reason that will lapse by itself ("under-15"); an adult under
 * guardianship gets "guardianship".
 */
export function signingEligibility(input: { birth: JapanDate; on: JapanDate; guardianship?: boolean }): SigningEligibility {
  const [reason] = representationGrounds(input);
  return reason ? { eligible: false, reason } : { eligible: true };
}

/**
 * Why someone cannot apply alone on `on`, all that hold, age first: the same grounds that refuse
 * a signing certificate (spec §2.1). Their legal representative applies for them.
 */
export function representationGrounds(input: { birth: JapanDate; on: JapanDate; guardianship?: boolean }): SigningRefusal[] {
  return [...(ageAt(input.birth, input.on) < SIGNING_MIN_AGE ? (["under-15"] as const) : []), ...(input.guardianship === true ? (["guardianship"] as const) : [])];
}

/** The age of majority (成年, 18 since 2022-04-01): a minor's parents or guardian are their legal representative. */
export const MAJORITY_AGE = 18;

/**
 * Whether the holder has a legal representative (法定代理人) on `on`: a minor (under 18: a
 * parent or a guardian of a minor) or an adult under guardianship (the adult guardian). Nobody
 * else has one, so nobody can apply for them as one (spec §2.3).
 */
export function hasLegalRepresentative(input: { birth: JapanDate; on: JapanDate; guardianship?: boolean }): boolean {
  return ageAt(input.birth, input.on) < MAJORITY_AGE || input.guardianship === true;
}

/** Whether convenience-store issuance (コンビニ交付) may be used on `on`. */
export function kioskEligibility(input: { birth: JapanDate; on: JapanDate }): KioskEligibility {
  if (ageAt(input.birth, input.on) < SIGNING_MIN_AGE) return { eligible: false, reason: "under-15" };
  return { eligible: true };
}
