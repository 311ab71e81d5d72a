/**
 * The four attributes (基本4情報) as the signing certificate carries them (spec §1.3): name,
 * date of birth, gender and address as UTF8String otherNames, plus one '0'/'1' flag string each
 * for the name and the address marking characters that stand in for ones the certificate
 * cannot carry (代替文字).
 *
 * The certificate may carry only characters of JIS X 0208 (levels 1 and 2) and JIS X 0212
 * (補助漢字); anything else must be replaced at the counter before issuance. This module checks
 * that; it does not choose substitutes, which is a human decision.
 */
import { TextDecoder } from "node:util";
import { fail, quote } from "./errors.ts";
import { fromEraDigitDate, toEraDigitDate, type CalendarDate } from "./era.ts";
import { PERSONAL_DATA_OID, PERSONAL_DATA_ORDER, personalDataKeyOf, type PersonalDataKey } from "./oids.ts";

export type Gender = "1" | "2" | "3";

export interface JpkiAttributes {
  /** Surname, U+3000, given name. */
  name: string;
  /** One '0'/'1' per character (code point) of `name`; '1' marks a substitute character. */
  nameSubstitutes: string;
  birth: CalendarDate;
  gender: Gender;
  /** From the prefecture on, no postal code. */
  address: string;
  /** One '0'/'1' per character (code point) of `address`. */
  addressSubstitutes: string;
}

export const GENDER_LABEL: Readonly<Record<Gender, { ja: string; en: string }>> = {
  "1": { ja: "男", en: "male" },
  "2": { ja: "女", en: "female" },
  "3": { ja: "不明", en: "unknown" },
};

/** Longest name the certificate is given, in characters (code points). */
export const NAME_MAX_LENGTH = 100;
/** Longest address (spec §1.3: at most 200 characters). */
export const ADDRESS_MAX_LENGTH = 200;

const FULL_WIDTH_SPACE = "\u3000";

// What a refusal of a value that is not a string asks for, in Japanese.
const TEXT_JA = "文字で入力してください";

// JIS X 0208 rows with characters: 1–8 (symbols, kana, Latin, Greek, Cyrillic, box drawing)
// and 16–84 (level-1 kanji 16–47, level-2 kanji 48–84). Rows 9–15 and 85–94 are empty in the
// standard; the WHATWG EUC-JP decoder also maps vendor rows 13 (NEC symbols such as ①) and
// 89–92 (IBM kanji), which are not JIS X 0208 and are deliberately left out.
const JIS_X_0208_ROWS = [...range(1, 8), ...range(16, 84)];
// JIS X 0212 rows: 2 (symbols), 6–7 (accented Greek, Cyrillic), 9–11 (accented Latin) and
// 16–77 (補助漢字). The decoder's row 83 is again an IBM extension, left out.
const JIS_X_0212_ROWS = [2, 6, 7, 9, 10, 11, ...range(16, 77)];

// The WHATWG decoder maps a few JIS X 0208 symbols to Microsoft's code points (～ U+FF5E for
// 1-33 WAVE DASH, － U+FF0D for 1-61 MINUS SIGN, …). Input methods on macOS and Linux produce the
// JIS-standard code points instead, for the very same characters, so those are accepted too.
const JIS_STANDARD_VARIANTS = [
  0x2014, // 1-29 EM DASH (decoder: U+2015)
  0x301c, // 1-33 WAVE DASH (decoder: U+FF5E)
  0x2016, // 1-34 DOUBLE VERTICAL LINE (decoder: U+2225)
  0x2212, // 1-61 MINUS SIGN (decoder: U+FF0D)
  0x00a2, // 1-81 CENT SIGN (decoder: U+FFE0)
  0x00a3, // 1-82 POUND SIGN (decoder: U+FFE1)
  0x00ac, // 2-44 NOT SIGN (decoder: U+FFE2)
];

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

let allowedCache: ReadonlySet<number> | undefined;

/**
 * The code points a certificate may carry besides ASCII. Built on first use by decoding every
 * EUC-JP code of the rows above (A1A1–FEFE for JIS X 0208, 8F A1A1–8F FEFE for JIS X 0212),
 * which keeps a 13,000-entry table out of the source; it takes a few milliseconds, once.
 */
function allowedCodePoints(): ReadonlySet<number> {
  if (allowedCache) return allowedCache;
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder("euc-jp");
  } catch (cause) {
    throw new Error("this Node.js has no EUC-JP decoder (it was built without full ICU)", { cause });
  }
  const set = new Set<number>(JIS_STANDARD_VARIANTS);
  const add = (bytes: number[]): void => {
    const text = decoder.decode(Uint8Array.from(bytes));
    // An unassigned code decodes to U+FFFD, which is never a JIS character.
    if (text.length === 1 && text !== "\uFFFD") set.add(text.charCodeAt(0));
  };
  for (const cell of range(1, 94)) {
    for (const row of JIS_X_0208_ROWS) add([0xa0 + row, 0xa0 + cell]);
    for (const row of JIS_X_0212_ROWS) add([0x8f, 0xa0 + row, 0xa0 + cell]);
  }
  allowedCache = set;
  return set;
}

/**
 * ASCII accepted as it is: the printable range except "\" (0x5C) and "~" (0x7E), the two
 * positions where JIS X 0201 Roman has ¥ and ‾, so a system reading the value as JIS could show
 * a different character. Everyday addresses typed with ASCII digits and hyphens ("森野2-2-22")
 * therefore pass without conversion; the full-width forms (＼, ～ or 〜) remain available.
 */
function isAllowedAscii(cp: number): boolean {
  return cp >= 0x20 && cp <= 0x7e && cp !== 0x5c && cp !== 0x7e;
}

function describe(cp: number): string {
  const code = `U+${cp.toString(16).toUpperCase().padStart(4, "0")}`;
  // Never echo a character that would hide or reorder the rest of the message.
  const invisible = cp === 0xa0 || freeTextProblem(cp) !== undefined;
  return invisible ? code : `"${String.fromCodePoint(cp)}" (${code})`;
}

/**
 * Throws a ProfileInputError naming `field` and the first character the certificate cannot carry:
 * anything outside JIS X 0208, JIS X 0212 and the ASCII described at `isAllowedAscii`.
 */
export function checkCertificateCharacters(text: string, field: string): void {
  if (typeof text !== "string") fail(field, TEXT_JA, `expected text, got ${quote(text)}`);
  let position = 0;
  for (const ch of text) {
    position += 1;
    const cp = ch.codePointAt(0) as number;
    if (isAllowedAscii(cp)) continue;
    if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
      fail(field, `${position}文字目の ${describe(cp)} は使えない文字です`, `control character ${describe(cp)} at position ${position} is not allowed`);
    }
    if (cp === 0x5c || cp === 0x7e) {
      fail(
        field,
        `${position}文字目の ${describe(cp)} はJISでは「¥」か「‾」か定まりません。全角の文字を使ってください`,
        `character ${describe(cp)} at position ${position} is ambiguous in JIS (¥ or ‾); use the full-width form`,
      );
    }
    if (!allowedCodePoints().has(cp)) {
      fail(
        field,
        `${position}文字目の ${describe(cp)} は電子証明書に記録できない文字です（JIS X 0208/0212 にない文字）。代替の文字を使ってください`,
        `character ${describe(cp)} at position ${position} is outside JIS X 0208/0212 and cannot appear in a certificate; use a substitute character`,
      );
    }
  }
}

function characterCount(text: string): number {
  let n = 0;
  for (const _ of text) n += 1;
  return n;
}

function checkLength(text: string, max: number, field: string): void {
  const n = characterCount(text);
  if (n > max) fail(field, `${n}文字あります。${max}文字以内にしてください`, `has ${n} characters; at most ${max} are allowed`);
}

const EDGE_SPACES = /^[ \u3000]+|[ \u3000]+$/g;

/**
 * The name as the certificate carries it: parts separated by exactly one full-width space
 * (U+3000). An ASCII space is accepted as the separator on input; spaces at either end are
 * dropped. Empty parts (two spaces in a row), a single part, control characters, characters
 * outside JIS X 0208/0212 and names over 100 characters are refused.
 */
export function normalizeName(input: string, field = "name"): string {
  if (typeof input !== "string") fail(field, TEXT_JA, `expected text, got ${quote(input)}`);
  const trimmed = input.replace(EDGE_SPACES, "");
  if (trimmed === "") fail(field, "入力してください", "is empty");
  // Characters first: a tab or a character outside JIS is the real problem, not the split.
  checkCertificateCharacters(trimmed, field);
  const parts = trimmed.split(/[ \u3000]/);
  if (parts.some((p) => p === "")) fail(field, "空白が2つ続いています。空白は1つにしてください", "has two spaces in a row; separate the parts with one space");
  if (parts.length < 2) {
    fail(field, "氏と名の間に空白を入れてください（例：町田 花子）", `${quote(trimmed)} needs a surname and a given name separated by a space`);
  }
  const name = parts.join(FULL_WIDTH_SPACE);
  checkLength(name, NAME_MAX_LENGTH, field);
  return name;
}

/**
 * The address as the certificate carries it: spaces at either end dropped, not empty, only
 * characters the certificate may carry, at most 200 characters. Its format is otherwise free.
 */
export function normalizeAddress(input: string, field = "address"): string {
  if (typeof input !== "string") fail(field, TEXT_JA, `expected text, got ${quote(input)}`);
  const address = input.replace(EDGE_SPACES, "");
  if (address === "") fail(field, "入力してください", "is empty");
  checkCertificateCharacters(address, field);
  checkLength(address, ADDRESS_MAX_LENGTH, field);
  return address;
}

/**
 * Why a code point may not appear in free text (see `normalizeText`), or undefined when it may:
 * controls (C0, DEL, C1), lone surrogates (they cannot be stored as UTF-8), the bidirectional
 * formatting characters (U+202E and its kin can make a name read differently from how it is
 * stored), line and paragraph separators, the byte-order mark and noncharacters.
 */
function freeTextProblem(cp: number): string | undefined {
  if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) return "control character";
  if (cp >= 0xd800 && cp <= 0xdfff) return "lone surrogate";
  if (cp === 0x061c || cp === 0x200e || cp === 0x200f || (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069)) {
    return "bidirectional formatting character";
  }
  if (cp === 0x2028 || cp === 0x2029) return "line separator";
  if (cp === 0xfeff) return "byte-order mark";
  if ((cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) === 0xfffe) return "noncharacter";
  return undefined;
}

/**
 * One line of free text that no certificate carries (a staff member's name, a proxy's name and
 * relationship, a note): any script is allowed, unlike `checkCertificateCharacters`, but not
 * the characters `freeTextProblem` lists. Spaces at either end are dropped, the text is put in
 * NFC, and it must not be empty nor longer than `maxLength` characters (code points).
 */
export function normalizeText(input: string, field: string, maxLength: number): string {
  if (typeof input !== "string") fail(field, TEXT_JA, `expected text, got ${quote(input)}`);
  const trimmed = input.replace(EDGE_SPACES, "");
  let position = 0;
  for (const ch of trimmed) {
    position += 1;
    const cp = ch.codePointAt(0) as number;
    const problem = freeTextProblem(cp);
    if (problem) fail(field, `${position}文字目の ${describe(cp)} は使えない文字です`, `${problem} ${describe(cp)} at position ${position} is not allowed`);
  }
  if (trimmed === "") fail(field, "入力してください", "is empty");
  const text = trimmed.normalize("NFC");
  checkLength(text, maxLength, field);
  return text;
}

/**
 * The substitute-character flags for `text`: one '0' per character (code point), with '1' at
 * each index in `substitutedIndexes` (0-based, counted in code points).
 */
export function substituteFlags(text: string, substitutedIndexes: number[] = []): string {
  if (typeof text !== "string") fail("text", TEXT_JA, `expected text, got ${quote(text)}`);
  const flags = new Array<string>(characterCount(text)).fill("0");
  for (const i of substitutedIndexes) {
    if (!Number.isInteger(i) || i < 0 || i >= flags.length) {
      fail(
        "substitutedIndexes",
        `代替文字の位置は、${flags.length}文字の中の位置を0から数えた整数で指定してください`,
        `${quote(i)} is not a character index of a ${flags.length}-character text`,
      );
    }
    flags[i] = "1";
  }
  return flags.join("");
}

const FLAGS_RE = /^[01]*$/;
const GENDERS: readonly string[] = ["1", "2", "3"];

function checkGender(value: unknown): Gender {
  if (typeof value !== "string" || !GENDERS.includes(value)) {
    fail("gender", "性別は 1（男性）、2（女性）、3（不明）のどれかです", `${quote(value)} is not 1 (male), 2 (female) or 3 (unknown)`);
  }
  return value as Gender;
}

function checkFlags(flags: unknown, field: string, max: number): string {
  if (typeof flags !== "string" || !FLAGS_RE.test(flags)) fail(field, "代替文字の印は 0 と 1 だけの並びで指定してください", `${quote(flags)} is not a string of 0 and 1`);
  checkLength(flags, max, field);
  return flags;
}

function checkNormalized(value: unknown, normalize: (v: string, f: string) => string, field: string): string {
  if (typeof value !== "string") fail(field, TEXT_JA, `expected text, got ${quote(value)}`);
  const normalized = normalize(value, field);
  if (normalized !== value) {
    fail(field, "電子証明書に記録する形になっていません", `${quote(value)} is not in certificate form (expected ${quote(normalized)})`);
  }
  return value;
}

/**
 * The six otherNames for the signing certificate's subjectAltName, in the order of a real card
 * (5.5.1, 5.5.4, 5.5.3, 5.5.5, 5.5.2, 5.5.6). Values must already be in certificate form (use
 * `normalizeName`, `normalizeAddress`, `substituteFlags`); each flag string must have exactly one
 * flag per character of its text.
 */
export function toOtherNames(a: JpkiAttributes): { oid: string; value: string }[] {
  const name = checkNormalized(a.name, normalizeName, "name");
  const address = checkNormalized(a.address, normalizeAddress, "address");
  const values: Record<PersonalDataKey, string> = {
    name,
    birth: toEraDigitDate(a.birth),
    gender: checkGender(a.gender),
    address,
    nameSubstitutes: checkFlags(a.nameSubstitutes, "nameSubstitutes", NAME_MAX_LENGTH),
    addressSubstitutes: checkFlags(a.addressSubstitutes, "addressSubstitutes", ADDRESS_MAX_LENGTH),
  };
  for (const [flags, text] of [
    ["nameSubstitutes", name],
    ["addressSubstitutes", address],
  ] as const) {
    if (characterCount(values[flags]) !== characterCount(text)) {
      fail(
        flags,
        `代替文字の印が${characterCount(values[flags])}個ありますが、文字は${characterCount(text)}文字です。文字と同じ数にしてください`,
        `has ${characterCount(values[flags])} flags for ${characterCount(text)} characters`,
      );
    }
  }
  return PERSONAL_DATA_ORDER.map((key) => ({ oid: PERSONAL_DATA_OID[key], value: values[key] }));
}

/**
 * The attributes from a signing certificate's otherNames, in any order. All six must be present
 * once; other OIDs are ignored (they are not JPKI personal data). Name and address must be in
 * certificate form and within the character set and lengths; the date of birth must be a full
 * date whose era digit matches. The flag strings are checked only to be 0/1 within the length
 * limit, not to match their text's length, because that rule is an inference (spec §8.2) and a
 * verifier should not refuse a real certificate over it.
 */
export function fromOtherNames(list: readonly { oid: string; value: string }[]): JpkiAttributes {
  if (!Array.isArray(list)) fail("otherNames", "一覧で指定してください", `expected a list, got ${quote(list)}`);
  const found = new Map<PersonalDataKey, unknown>();
  for (const entry of list) {
    const key = personalDataKeyOf((entry as { oid?: unknown } | null)?.oid as string);
    if (key === undefined) continue;
    if (found.has(key)) fail(key, `電子証明書に2回含まれています（OID ${PERSONAL_DATA_OID[key]}）`, `appears twice (OID ${PERSONAL_DATA_OID[key]})`);
    found.set(key, entry.value);
  }
  for (const key of PERSONAL_DATA_ORDER) {
    if (!found.has(key)) fail(key, `電子証明書に含まれていません（OID ${PERSONAL_DATA_OID[key]}）`, `is missing (OID ${PERSONAL_DATA_OID[key]})`);
  }
  const birthCode = found.get("birth");
  if (typeof birthCode !== "string") fail("birth", TEXT_JA, `expected text, got ${quote(birthCode)}`);
  const { date } = fromEraDigitDate(birthCode);
  if (date === null) fail("birth", "年月日の一部または全部が不明な生年月日は扱えません", `${birthCode} is a partial or unknown date, which these attributes cannot hold`);
  return {
    name: checkNormalized(found.get("name"), normalizeName, "name"),
    nameSubstitutes: checkFlags(found.get("nameSubstitutes"), "nameSubstitutes", NAME_MAX_LENGTH),
    birth: date,
    gender: checkGender(found.get("gender")),
    address: checkNormalized(found.get("address"), normalizeAddress, "address"),
    addressSubstitutes: checkFlags(found.get("addressSubstitutes"), "addressSubstitutes", ADDRESS_MAX_LENGTH),
  };
}
