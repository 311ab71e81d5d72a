/**
 * The profile was given a value the certificate cannot carry or a certificate value it cannot
 * read: a character outside JIS X 0208/0212, a date before the Meiji era, a malformed era digit
 * date. `field` names the input ("name", "birth", "nameSubstitutes", …) and the message is one
 * line starting with it, then the problem in Japanese and English, e.g.
 * `birth: 1868-10-22 は明治の始まり（1868-10-23）より前の日付のため扱えません / 1868-10-22 is before
 * the Meiji era (1868-10-23)`: the same shape as the rules' RuleInputError, which the profile may
 * not import, so the services pass either on as it is.
 */
export class ProfileInputError extends Error {
  override readonly name = "ProfileInputError";

  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Throws a ProfileInputError whose message is `${field}: ${japanese} / ${english}`. Both halves
 * are written at the call site. The Japanese never repeats free input (only dates that passed
 * their pattern, counts, OIDs and character codes), so a " / " typed into a form cannot split the
 * message in the wrong place; the English shows the input through `quote`.
 */
export function fail(field: string, japanese: string, english: string): never {
  throw new ProfileInputError(field, `${field}: ${japanese} / ${english}`);
}

/** Shows arbitrary input inside a one-line message (quotes it, escapes newlines). */
export function quote(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  if (value === null) return "null";
  return typeof value === "object" ? "an object" : String(value);
}
