import { randomBytes, timingSafeEqual } from "node:crypto";

/**
 * Form protection: a random per-browser token kept in an HttpOnly, SameSite=Strict cookie and
 * repeated in a hidden field of every form; a POST is accepted only when both are present and
 * equal, and its Origin (when the browser sends one) is this server.
 */
export const CSRF_COOKIE = "openjpki_csrf";
export const CSRF_FIELD = "_csrf";

const TOKEN = /^[A-Za-z0-9_-]{43}$/;

export function newCsrfToken(): string {
  return randomBytes(32).toString("base64url");
}

export function isCsrfToken(value: unknown): value is string {
  return typeof value === "string" && TOKEN.test(value);
}

export function csrfTokensMatch(cookie: unknown, field: unknown): boolean {
  if (!isCsrfToken(cookie) || !isCsrfToken(field)) return false;
  return timingSafeEqual(Buffer.from(cookie), Buffer.from(field));
}

/** Whether a request's Origin header is one of ours (absent is allowed: the token still has to match). */
export function originAllowed(origin: string | undefined, allowed: readonly string[]): boolean {
  if (origin === undefined) return true;
  return allowed.includes(origin);
}
