/** The four attributes of a signing certificate, decoded with the shared JPKI vocabulary. */
import { GENDER_LABEL, fromOtherNames } from "../profile/attributes.ts";
import { formatJapaneseEra, formatJapaneseEraEnglish } from "../profile/era.ts";
import { PERSONAL_DATA_OID } from "../profile/oids.ts";
import { otherNamesOf, type ParsedCertificate } from "./certificate.ts";
import { describeError, failure } from "./errors.ts";
import type { Attributes } from "./types.ts";

const PERSONAL_OIDS = new Set<string>(Object.values(PERSONAL_DATA_OID));

/** Whether the certificate carries any JPKI personal-data otherName. */
export function hasPersonalData(cert: ParsedCertificate): boolean {
  return otherNamesOf(cert).some((o) => PERSONAL_OIDS.has(o.oid));
}

export function attributesOf(cert: ParsedCertificate): Attributes {
  let a: ReturnType<typeof fromOtherNames>;
  try {
    a = fromOtherNames(otherNamesOf(cert));
  } catch (error) {
    return failure("malformed-input", `the signing certificate's personal data is malformed: ${describeError(error)}`, undefined, error);
  }
  const era = (f: (d: string) => string): string | null => {
    try {
      return f(a.birth);
    } catch {
      return null;
    }
  };
  return {
    name: a.name,
    address: a.address,
    gender: { code: a.gender, ...GENDER_LABEL[a.gender] },
    birth: { western: a.birth, era: era(formatJapaneseEra), eraEn: era(formatJapaneseEraEnglish) },
    nameSubstitutes: a.nameSubstitutes,
    addressSubstitutes: a.addressSubstitutes,
  };
}
