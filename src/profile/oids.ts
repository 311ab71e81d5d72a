/**
 * Object identifiers of the JPKI arc 1.2.392.200149.8.5 ("jpki-pki", spec §1.3), as seen in
 * real certificates and in KJUR's OID table. The issuer uses them to build certificates and the
 * verifier to read them, so they live in one place.
 */

export const JPKI_ARC = "1.2.392.200149.8.5";

/** The signing certificate's personal data, carried as subjectAltName otherNames (UTF8String). */
export const PERSONAL_DATA_OID = {
  /** 氏名: surname U+3000 given name. */
  name: "1.2.392.200149.8.5.5.1",
  /** 氏名代替文字の使用位置情報: one '0'/'1' per character of the name. */
  nameSubstitutes: "1.2.392.200149.8.5.5.2",
  /** 性別: "1" male, "2" female, "3" unknown. */
  gender: "1.2.392.200149.8.5.5.3",
  /** 生年月日: era digit + Gregorian YYYYMMDD. */
  birth: "1.2.392.200149.8.5.5.4",
  /** 住所: from the prefecture on, no postal code. */
  address: "1.2.392.200149.8.5.5.5",
  /** 住所代替文字の使用位置情報: one '0'/'1' per character of the address. */
  addressSubstitutes: "1.2.392.200149.8.5.5.6",
} as const;

export type PersonalDataKey = keyof typeof PERSONAL_DATA_OID;

/**
 * The order a real card lists them in (spec §1.3: 5.5.1, 5.5.4, 5.5.3, 5.5.5, 5.5.2, 5.5.6).
 * Issuers should keep it, since some relying-party code reads the otherNames by position.
 */
export const PERSONAL_DATA_ORDER: readonly PersonalDataKey[] = [
  "name",
  "birth",
  "gender",
  "address",
  "nameSubstitutes",
  "addressSubstitutes",
];

export const PERSONAL_DATA_LABEL: Readonly<Record<PersonalDataKey, { ja: string; en: string }>> = {
  name: { ja: "氏名", en: "name" },
  nameSubstitutes: { ja: "氏名代替文字の使用位置情報", en: "substitute characters in the name" },
  gender: { ja: "性別", en: "gender" },
  birth: { ja: "生年月日", en: "date of birth" },
  address: { ja: "住所", en: "address" },
  addressSubstitutes: { ja: "住所代替文字の使用位置情報", en: "substitute characters in the address" },
};

/** The personal-data key an OID stands for, or undefined for an OID outside 5.5.1–5.5.6. */
export function personalDataKeyOf(oid: string): PersonalDataKey | undefined {
  for (const key of PERSONAL_DATA_ORDER) {
    if (PERSONAL_DATA_OID[key] === oid) return key;
  }
  return undefined;
}

/** Certificate-policy OIDs (critical certificatePolicies extension). */
export const POLICY_OID = {
  /** jpki-certificatePolicy, the parent of the policies below. */
  root: "1.2.392.200149.8.5.1",
  /** Signing certificate, class 20 (profile 3.2 p.10, via ZKM). */
  sign: "1.2.392.200149.8.5.1.1.20",
  /** User-authentication certificate, class 30 (KJUR). */
  auth: "1.2.392.200149.8.5.1.3.30",
  /** The signing policy seen on J-LIS test cards. No test variant of the auth policy is known. */
  signTest: "1.2.392.200149.8.5.1.0.20",
} as const;

/**
 * The CPS URI qualifier of the real J-LIS signing policy. It is J-LIS's document: a CA that is
 * not J-LIS should point at its own CPS and use this only when reproducing a real profile.
 */
export const JPKI_CPS_URI = "http://www.jpki.go.jp/cps.html";
