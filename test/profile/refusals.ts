// Bad input for every refusal the JPKI profile writes (each `fail` in src/profile), with the field
// it names. Used by bilingual-messages.test.ts.
import {
  checkCertificateCharacters,
  fromOtherNames,
  normalizeAddress,
  normalizeName,
  normalizeText,
  substituteFlags,
  toOtherNames,
  type JpkiAttributes,
} from "../../src/profile/attributes.ts";
import { formatJapaneseEra, fromEraDigitDate, toEraDigitDate } from "../../src/profile/era.ts";
import type { Refusal } from "../rules/bilingual.ts";

const bad = <T>(value: unknown): T => value as T;
const S = "\u3000";
/** A valid set of the four attributes (the card's formats), for tests to start from. */
export const SAMPLE_ATTRIBUTES: JpkiAttributes = {
  name: `山田${S}太郎`,
  nameSubstitutes: "00000",
  birth: "1990-01-02",
  gender: "1",
  address: "東京都町田市森野２－２－２２",
  addressSubstitutes: "00000000000000",
};
const attributes = SAMPLE_ATTRIBUTES;
const otherNames = toOtherNames(attributes);
const withValue = (oidSuffix: string, value: unknown) =>
  otherNames.map((e) => (e.oid.endsWith(`.5.5.${oidSuffix}`) ? { ...e, value: bad<string>(value) } : e));

export const PROFILE_REFUSALS: readonly Refusal[] = [
  { what: "characters that are not text", field: "name", run: () => checkCertificateCharacters(bad(1), "name") },
  { what: "a control character", field: "name", run: () => checkCertificateCharacters("山田\t太郎", "name") },
  { what: "a backslash", field: "address", run: () => checkCertificateCharacters("a\\b", "address") },
  { what: "a character outside JIS", field: "name", run: () => checkCertificateCharacters("\u{20BB7}田", "name") },
  { what: "an address too long", field: "address", run: () => normalizeAddress("あ".repeat(201)) },
  { what: "a name that is not text", field: "name", run: () => normalizeName(bad(1)) },
  { what: "an empty name", field: "name", run: () => normalizeName(" ") },
  { what: "two spaces in a name", field: "name", run: () => normalizeName("町田  花子") },
  { what: "a name without a space", field: "name", run: () => normalizeName("町田花子/"), free: "町田花子/" },
  { what: "an address that is not text", field: "address", run: () => normalizeAddress(bad(null)) },
  { what: "an empty address", field: "address", run: () => normalizeAddress("") },
  { what: "free text that is not text", field: "note", run: () => normalizeText(bad(1), "note", 10) },
  { what: "a bidi override in free text", field: "note", run: () => normalizeText("a\u202eb", "note", 10) },
  { what: "empty free text", field: "note", run: () => normalizeText(" ", "note", 10) },
  { what: "flags for something that is not text", field: "text", run: () => substituteFlags(bad(1)) },
  { what: "a substitute index outside the text", field: "substitutedIndexes", run: () => substituteFlags("山田", [2]) },
  { what: "an unknown gender", field: "gender", run: () => toOtherNames({ ...attributes, gender: bad("9 / x") }), free: "9 / x" },
  { what: "flags that are not 0/1", field: "nameSubstitutes", run: () => toOtherNames({ ...attributes, nameSubstitutes: "0a000" }) },
  { what: "a name that is not text", field: "name", run: () => toOtherNames({ ...attributes, name: bad(1) }) },
  { what: "a name not in certificate form", field: "name", run: () => toOtherNames({ ...attributes, name: "山田 太郎" }), free: "山田 太郎" },
  { what: "flags of the wrong length", field: "nameSubstitutes", run: () => toOtherNames({ ...attributes, nameSubstitutes: "0" }) },
  { what: "otherNames that are not a list", field: "otherNames", run: () => fromOtherNames(bad("x")) },
  { what: "an attribute twice", field: "gender", run: () => fromOtherNames([...otherNames, otherNames[2]!]) },
  { what: "an attribute missing", field: "name", run: () => fromOtherNames(otherNames.slice(1)) },
  { what: "a birth that is not text", field: "birth", run: () => fromOtherNames(withValue("4", 419900102)) },
  { what: "a partial birth date", field: "birth", run: () => fromOtherNames(withValue("4", "400000000")) },
  { what: "a date that is not text", field: "birth", run: () => toEraDigitDate(bad(19900102)) },
  { what: "a date in another form", field: "birth", run: () => toEraDigitDate("1990-1-2 / x"), free: "1990-1-2 / x" },
  { what: "year 0000", field: "birth", run: () => fromEraDigitDate("000000505") },
  { what: "not a calendar date", field: "birth", run: () => toEraDigitDate("1990-02-30") },
  { what: "a date before Meiji", field: "birth", run: () => toEraDigitDate("1868-10-22") },
  { what: "not an era digit date", field: "birth", run: () => fromEraDigitDate("H1990010 / x"), free: "H1990010 / x" },
  { what: "a month without a year", field: "birth", run: () => fromEraDigitDate("400000100") },
  { what: "an impossible month", field: "birth", run: () => fromEraDigitDate("419901300") },
  { what: "a partial year outside its era", field: "birth", run: () => fromEraDigitDate("419800000") },
  { what: "a partial year outside the last era", field: "birth", run: () => fromEraDigitDate("520180000") },
  { what: "an era digit that does not match", field: "birth", run: () => fromEraDigitDate("319900102") },
  { what: "a date before the Gregorian calendar", field: "date", run: () => formatJapaneseEra("1872-12-31") },
];
