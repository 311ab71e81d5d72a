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
  | "service-unavailable"
  | "bad-passphrase"
  | "refused";

export class ServiceError extends Error {
  override readonly name = "ServiceError";
  /** A finer, stable reason for refusals (e.g. "challenge-used", "revoked", "pin-blocked"). */
  readonly reason?: string;
  /** For PIN refusals: the tries the card has left (0 once blocked). */
  readonly triesLeft?: number;
  constructor(
    readonly code: ServiceErrorCode,
    message: string,
    readonly field?: string,
    options?: { cause?: unknown; reason?: string; triesLeft?: number },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    if (options?.reason) this.reason = options.reason;
    if (options?.triesLeft !== undefined) this.triesLeft = options.triesLeft;
  }
}
