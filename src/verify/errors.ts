/**
 * Verification outcomes that are not "valid": one stable code per failure, for relying parties to
 * `switch` on. Every code is a result, never an exception; only caller misuse (bad options,
 * arguments of the wrong type) throws, and then a `TypeError`.
 *
 * Inside the library a failure travels as a `VerificationFailure` (thrown and caught within one
 * verification call) so deep checks can stop early; the public functions turn it into a
 * `{ valid: false }` result before returning.
 */

/** Every failure code, in the order a verification meets them. Stable: add, never rename. */
export const VERIFY_ERROR_CODES = [
  "malformed-input",
  "unsupported-algorithm",
  "bad-signature",
  "untrusted-root",
  "wrong-certificate-type",
  "bad-policy",
  "bad-key-usage",
  "not-yet-valid",
  "expired",
  "revoked",
  "on-hold",
  "unknown-certificate",
  "revocation-unavailable",
] as const;

export type VerifyErrorCode = (typeof VERIFY_ERROR_CODES)[number];

/** What each code means, in one line (for documentation and CLI help). */
export const VERIFY_ERROR_MEANING: Readonly<Record<VerifyErrorCode, string>> = {
  "malformed-input": "the input is not a well-formed certificate, CMS, XML signature or signature value, or exceeds a size limit",
  "unsupported-algorithm": "a digest, signature or canonicalisation algorithm outside what JPKI uses (RSA PKCS#1 v1.5 with SHA-256/384/512)",
  "bad-signature": "the signature does not verify: the document, the signature or the certificate was altered",
  "untrusted-root": "the certificate does not chain to any trust anchor of the expected type",
  "wrong-certificate-type": "a certificate of the other type (authentication where signing is expected, or the reverse)",
  "bad-policy": "the certificate lacks the JPKI certificate policy of its type",
  "bad-key-usage": "the certificate's keyUsage (or basicConstraints) does not allow this use",
  "not-yet-valid": "the verification time is before the certificate's (or root's) notBefore, or a CMS signingTime is before the certificate's notBefore",
  expired: "the verification time is after the certificate's (or root's) notAfter, or a CMS signingTime is after the certificate's notAfter",
  revoked: "the certificate is revoked (detail gives the reason and time)",
  "on-hold": "the certificate is on hold (certificateHold); JPKI never releases a hold",
  "unknown-certificate": "the OCSP responder does not know the certificate",
  "revocation-unavailable": "no trustworthy, current revocation answer could be obtained (fail closed; detail gives why)",
};

/** Internal: a failure on its way to becoming a result. Not exported from the package. */
export class VerificationFailure extends Error {
  override readonly name = "VerificationFailure";

  constructor(
    readonly code: VerifyErrorCode,
    message: string,
    readonly detail?: Readonly<Record<string, unknown>>,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function failure(code: VerifyErrorCode, message: string, detail?: Record<string, unknown>, cause?: unknown): never {
  throw new VerificationFailure(code, message, detail, cause === undefined ? undefined : { cause });
}

/** A one-line description of something thrown by a parser or a caller's function. */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const first = error.message.split("\n")[0] || error.name;
  // fetch() says only "fetch failed"; why (a refused connection, a name not found, TLS) is its cause.
  if (first === "fetch failed" && error.cause instanceof Error) return describeError(error.cause);
  return first;
}
