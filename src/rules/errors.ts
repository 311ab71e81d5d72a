/**
 * A rule was given input it cannot work with: an impossible date, an issuance before birth,
 * a cap that ends before the certificate begins. `field` names the input (as the caller
 * spelled it: "birth", "issued", "cardExpiry", …) so a CLI or form can point at it; the
 * message is one line and starts with that field, then the problem in Japanese and English as
 * every service message is written ("日本語 / English"), e.g.
 * `birth: 2023-02-30 は暦にない日付です / 2023-02-30 is not a calendar date` (English only for a
 * problem `inJapanese` has no words for).
 *
 * Decisions of policy (under 15, wrong PIN format) are not errors: those functions return a
 * result with a reason code, because refusing is a normal answer, not a misuse.
 */
export class RuleInputError extends Error {
  override readonly name = "RuleInputError";

  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/** Throws a RuleInputError whose message is `${field}: ${日本語} / ${problem}`. */
export function fail(field: string, problem: string): never {
  throw new RuleInputError(field, `${field}: ${withJapanese(problem)}`);
}

/** Shows arbitrary input inside a one-line message (quotes it, escapes newlines). */
export function quote(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? "an invalid Date" : value.toISOString();
  if (value === null) return "null";
  return typeof value === "object" ? "an object" : String(value);
}

// A character as the profile describes it: `"𠮷" (U+20BB7)`, or the bare code for an invisible one.
const CHAR = String.raw`((?:"[^"]{1,2}" \()?U\+[0-9A-F]{4,6}\)?)`;

/**
 * The Japanese for the input problems people meet at a window or a form: the rules' own and the
 * JPKI profile's (names, addresses, era dates — the same "field: problem" shape; the profile may
 * not import this, so the services put its messages through `bilingualInputMessage`). Matched
 * on the whole English problem; the Japanese never repeats free input (only dates that passed
 * their pattern, counts and character codes), so a " / " typed into a form cannot split it.
 */
const JAPANESE: readonly [RegExp, (m: RegExpExecArray) => string][] = [
  [/^(\d{4}-\d{2}-\d{2}) is not a calendar date$/, (m) => `${m[1]} は暦にない日付です`],
  [/^year 0000 in \S+ is out of range \(0001–9999\)$/, () => "0000年の日付は使えません（0001〜9999年）"],
  [/^expected a date YYYY-MM-DD, got /, () => "日付を YYYY-MM-DD の形で入力してください"],
  [/^".*" is not a date in the form YYYY-MM-DD$/s, () => "日付を YYYY-MM-DD の形で入力してください"],
  [/^(\d{4}-\d{2}-\d{2}) is before the birth date (\d{4}-\d{2}-\d{2})$/, (m) => `${m[1]} は生年月日（${m[2]}）より前です`],
  [/^(\d{4}-\d{2}-\d{2}) is before the issuance date (\d{4}-\d{2}-\d{2}), so no certificate could be valid$/, (m) => `${m[1]} は発行日（${m[2]}）より前のため、有効な電子証明書を発行できません`],
  [/^".*" has no time zone, so its Japan date is ambiguous; add Z or an offset such as \+09:00$/s, () => "時刻にタイムゾーンがないため日本の日付が決まりません。Z か +09:00 のような時差を付けてください"],
  [/^".*" has an impossible time of day$/s, () => "ありえない時刻です"],
  [/^".*" has an impossible UTC offset$/s, () => "ありえない時差です"],
  [/^".*" is neither a date YYYY-MM-DD nor an ISO 8601 instant such as /s, () => "日付（YYYY-MM-DD）か ISO 8601 の日時（例：2024-03-31T15:00:00Z）で入力してください"],
  [/^the result falls outside years 0001–9999$/, () => "計算した日付が0001〜9999年の範囲を超えます"],
  [/^(\d{4}-\d{2}-\d{2}) is before the Meiji era \((\d{4}-\d{2}-\d{2})\)$/, (m) => `${m[1]} は明治の始まり（${m[2]}）より前の日付のため扱えません`],
  [/^(\d{4}-\d{2}-\d{2}) predates Japan's adoption of the Gregorian calendar/, (m) => `${m[1]} は日本のグレゴリオ暦採用（1873-01-01）より前の日付のため扱えません`],
  [/^expected text, got /, () => "文字で入力してください"],
  [/^is empty$/, () => "入力してください"],
  [/^has two spaces in a row; /, () => "空白が2つ続いています。空白は1つにしてください"],
  [/^".*" needs a surname and a given name separated by a space$/s, () => "氏と名の間に空白を入れてください（例：町田 花子）"],
  [/^has (\d+) characters; at most (\d+) are allowed$/, (m) => `${m[1]}文字あります。${m[2]}文字以内にしてください`],
  [new RegExp(String.raw`^character ${CHAR} at position (\d+) is ambiguous in JIS`), (m) => `${m[2]}文字目の ${m[1]} はJISでは「¥」か「‾」か定まりません。全角の文字を使ってください`],
  [new RegExp(String.raw`^character ${CHAR} at position (\d+) is outside JIS X 0208/0212`), (m) => `${m[2]}文字目の ${m[1]} は電子証明書に記録できない文字です（JIS X 0208/0212 にない文字）。代替の文字を使ってください`],
  [new RegExp(String.raw`^[a-z -]+ ${CHAR} at position (\d+) is not allowed$`), (m) => `${m[2]}文字目の ${m[1]} は使えない文字です`],
];

/** `problem` as "日本語 / English" when `JAPANESE` has its words; as it is otherwise. */
function withJapanese(problem: string): string {
  for (const [pattern, japanese] of JAPANESE) {
    const m = pattern.exec(problem);
    if (m) return `${japanese(m)} / ${problem}`;
  }
  return problem;
}

/**
 * A "field: problem" message (the rules' or the profile's) with the problem in Japanese too:
 * "field: 日本語 / English". A message already bilingual, or one with no Japanese here, is
 * returned as it is.
 */
export function bilingualInputMessage(field: string, message: string): string {
  const key = `${field}: `;
  return message.startsWith(key) ? key + withJapanese(message.slice(key.length)) : message;
}
