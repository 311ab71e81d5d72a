/**
 * A base URL the certificates can name for OCSP, CRLs and CA certificates: http(s), a host and
 * perhaps a port, no path, no spaces. Trailing slashes are dropped first. Undefined when the text
 * is not one (`serve --public-url` and OPENJPKI_PUBLIC_URL each say so in their own words).
 */
export function publicBaseUrlFrom(text: string): string | undefined {
  const url = text.replace(/\/+$/, "");
  return /^https?:\/\/[^\s/]+$/.test(url) ? url : undefined;
}
