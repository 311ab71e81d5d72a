import { ServiceError } from "../services/errors.ts";

/** The HTTP status for each service refusal. */
const STATUS_OF: Record<ServiceError["code"], number> = {
  "invalid-input": 400,
  "not-found": 404,
  "not-eligible": 422,
  conflict: 409,
  "ca-unavailable": 503,
  "service-unavailable": 503,
  "bad-passphrase": 500,
  refused: 403,
};

export interface ErrorAnswer {
  status: number;
  body: { error: { code: string; reason?: string | undefined; message: string; field?: string | undefined; triesLeft?: number | undefined } };
}

/**
 * What a client is told about a failure: a service refusal with its code, field and message
 * (except the server-side ones, whose details stay in the log); anything else is an internal
 * error, reported as `undefined` here so the caller logs it and answers 500.
 */
export function serviceErrorAnswer(error: unknown): ErrorAnswer | undefined {
  if (!(error instanceof ServiceError)) return undefined;
  const status = STATUS_OF[error.code];
  if (status >= 500 && status !== 503) return undefined;
  return { status, body: { error: { code: error.code, reason: error.reason, message: error.message, field: error.field, triesLeft: error.triesLeft } } };
}

export const INTERNAL_ERROR: ErrorAnswer = { status: 500, body: { error: { code: "internal", message: "内部エラー / internal error" } } };

/** The log line for a failure answered 500 (`what` tells one item of a batch from the next). */
export function failureLine(request: { method: string; url: string }, error: unknown, what = ""): string {
  return `${request.method} ${request.url}${what ? ` ${what}` : ""}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`;
}
