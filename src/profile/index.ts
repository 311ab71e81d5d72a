// The JPKI vocabulary shared by issuer and verifier: OIDs, eras, the four attributes.
// Named re-exports only, so the public surface is visible here.
export {
  JPKI_ARC,
  JPKI_CPS_URI,
  PERSONAL_DATA_LABEL,
  PERSONAL_DATA_OID,
  PERSONAL_DATA_ORDER,
  POLICY_OID,
  personalDataKeyOf,
} from "./oids.ts";
export type { PersonalDataKey } from "./oids.ts";
export {
  ERAS,
  UNKNOWN_ERA,
  formatJapaneseEra,
  formatJapaneseEraEnglish,
  fromEraDigitDate,
  toEraDigitDate,
} from "./era.ts";
export type { CalendarDate, Era } from "./era.ts";
export {
  ADDRESS_MAX_LENGTH,
  GENDER_LABEL,
  NAME_MAX_LENGTH,
  checkCertificateCharacters,
  fromOtherNames,
  normalizeAddress,
  normalizeName,
  substituteFlags,
  toOtherNames,
} from "./attributes.ts";
export type { Gender, JpkiAttributes } from "./attributes.ts";
export { ProfileInputError } from "./errors.ts";
