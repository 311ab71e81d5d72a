/**
 * Errors the services raise for valid-looking requests they refuse. `code` is stable (tests,
 * the HTTP error handler and the CLI switch on it); `field` names the input at fault when
 * there is one; the message is for people and says what is wrong.
 */
export type ServiceErrorCode =
  | "invalid-input"
  | "not-found"
  | "not-eligible"
  | "conflict"
  | "ca-unavailable"
  | "bad-passphrase";

export class ServiceError extends Error {
  override readonly name = "ServiceError";
  constructor(
    readonly code: ServiceErrorCode,
    message: string,
    readonly field?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
