import { RuleInputError } from "../rules/errors.ts";
import { ProfileInputError } from "../profile/errors.ts";
import { ServiceError, type ServiceErrorCode } from "./errors.ts";

/**
 * Whether `error` is input a rule or the JPKI profile refused (an impossible date, a character no
 * certificate can carry). Both name the input in `field` and give a one-line message starting
 * with it, so the services turn either into the same ServiceError.
 */
export function isInputError(error: unknown): error is RuleInputError | ProfileInputError {
  return error instanceof RuleInputError || error instanceof ProfileInputError;
}

/**
 * What a service throws for `error` caught around rules or profile code: an input error becomes
 * a ServiceError `code` with its message (already in Japanese and English) and field (or `field`, where the caller's own name for
 * the input differs); anything else is thrown on as it is. Use: `catch (e) { throw inputErrorAs(e, "invalid-input"); }`.
 */
export function inputErrorAs(error: unknown, code: ServiceErrorCode, field?: string): unknown {
  // Both layers write their messages "field: 日本語 / English" at the source, so they pass as they are.
  return isInputError(error) ? new ServiceError(code, error.message, field ?? error.field, { cause: error }) : error;
}
