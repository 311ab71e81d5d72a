/**
 * A rule was given input it cannot work with: an impossible date, an issuance before birth,
 * a cap that ends before the certificate begins. `field` names the input (as the caller
 * spelled it: "birth", "issued", "cardExpiry", …) so a CLI or form can point at it; the
 * message is one line and starts with that field, then the problem in Japanese and English as
 * every service message is written ("日本語 / English"), e.g.
 * `birth: 2023-02-30 は暦にない日付です / 2023-02-30 is not a calendar date`.
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

/**
 * Throws a RuleInputError whose message is `${field}: ${japanese} / ${english}`. Both halves are
 * written at the call site. The Japanese never repeats free input (only dates that passed their
 * pattern, counts and fixed words), so a " / " typed into a form cannot split the message in the
 * wrong place; the English shows the input through `quote`.
 */
export function fail(field: string, japanese: string, english: string): never {
  throw new RuleInputError(field, `${field}: ${japanese} / ${english}`);
}

/** Shows arbitrary input inside a one-line message (quotes it, escapes newlines). */
export function quote(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? "an invalid Date" : value.toISOString();
  if (value === null) return "null";
  return typeof value === "object" ? "an object" : String(value);
}
