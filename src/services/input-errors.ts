import { RuleInputError } from "../rules/errors.ts";
import { ProfileInputError } from "../profile/errors.ts";

/**
 * Whether `error` is input a rule or the JPKI profile refused (an impossible date, a character no
 * certificate can carry). Both name the input in `field` and give a one-line message starting
 * with it, so the services turn either into the same ServiceError.
 */
export function isInputError(error: unknown): error is RuleInputError | ProfileInputError {
  return error instanceof RuleInputError || error instanceof ProfileInputError;
}
