// The pure JPKI rules: Japan dates, validity, eligibility, PIN policy, revocation triggers.
// Named re-exports only, so the public surface is visible here.
export { RuleInputError } from "./errors.ts";
export {
  addDays,
  addMonthsClamped,
  ageOn,
  birthdayInYear,
  compareJapanDates,
  endOfJapanDay,
  japanDateOf,
  minDate,
  nthBirthdayAfter,
  parseDateOrInstant,
  parseJapanDate,
  startOfJapanDay,
} from "./japan-date.ts";
export type { JapanDate } from "./japan-date.ts";
export {
  AGE_OF_MAJORITY_CHANGE,
  CARD_ADULT_BIRTHDAYS,
  CARD_MINOR_BIRTHDAYS,
  CERTIFICATE_BIRTHDAYS,
  RENEWAL_CERTIFICATE_BIRTHDAYS,
  RENEWAL_WINDOW_MONTHS,
  cardValidity,
  certificateValidity,
  isRenewalWindowOpen,
  renewalFrom,
  renewalMode,
} from "./validity.ts";
export type { CertificatePeriod, CertificateValidity, CertificateValidityInput } from "./validity.ts";
export { SIGNING_MIN_AGE, kioskEligibility, signingEligibility } from "./eligibility.ts";
export type { KioskEligibility, SigningEligibility, SigningRefusal } from "./eligibility.ts";
export { PIN_POLICY, checkFourDigitPin, checkSigningPassword } from "./pin-policy.ts";
export type { FourDigitPinCheck, PinRule, SigningPasswordCheck } from "./pin-policy.ts";
export { REVOCATION_REASON_CODE, REVOCATION_REASON_MEANING, revocationsFor } from "./revocation.ts";
export type { RegisteredAttribute, RegistryEvent, RevocationReason, Revocations } from "./revocation.ts";
