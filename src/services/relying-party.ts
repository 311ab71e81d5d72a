import { createVerifier, type RevocationOptions, type TrustAnchors, type Verifier } from "../verify/index.ts";
import type { Clock } from "./clock.ts";
import { ServiceError } from "./errors.ts";

export type { CertificateType, HashName, TrustAnchors, VerificationResult, Verifier } from "../verify/index.ts";

const FETCH_TIMEOUT_MS = 5_000;
const MAX_RESPONSE_BYTES = { ocsp: 64 * 1024, crl: 64 * 1024 * 1024 };

/** How an outside relying party learns revocation status. */
export interface RelyingPartyRevocation {
  /** A CRL already at hand (e.g. read from a file), used instead of fetching; `url` names it in results. */
  crl?: { der: Uint8Array; url: string };
  /** Ask this OCSP responder instead of the one the certificate names. */
  ocspUrl?: string;
  /** Send OCSP requests with a nonce (default); pre-signed RFC 5019 responders want none. */
  ocspNonce?: boolean;
  /** A registered verifier's API key, sent with every OCSP and CRL fetch (X-OpenJPKI-Verifier-Key). */
  verifierKey?: string;
}

/**
 * A verifier as a relying party outside the server runs one (`openjpki verify`): the trust
 * anchors it is given, and revocation over HTTP(S) from the URLs the certificates name —
 * OCSP first, then the CRL. A CRL given is preferred to OCSP; with a CRL and no OCSP URL only
 * the CRL is used. Fetches time out after 5 s and stop at 64 KiB (OCSP) or 64 MiB (CRL). Bad
 * options or anchors are a ServiceError "invalid-input" with the library's message.
 */
export function relyingPartyVerifier(trustAnchors: TrustAnchors, revocation: RelyingPartyRevocation, now: Clock): Verifier {
  try {
    return createVerifier({ trustAnchors, revocation: revocationOptions(revocation), now });
  } catch (error) {
    if (error instanceof TypeError) throw new ServiceError("invalid-input", error.message, undefined, { cause: error });
    throw error;
  }
}

function revocationOptions(given: RelyingPartyRevocation): RevocationOptions {
  const key = given.verifierKey;
  const ocsp = {
    fetch: (url: string, body: Uint8Array) => httpFetch(url, { method: "POST", body, contentType: "application/ocsp-request", key }, MAX_RESPONSE_BYTES.ocsp),
    useNonce: given.ocspNonce !== false,
    ...(given.ocspUrl ? { url: given.ocspUrl } : {}),
  };
  if (given.crl) {
    const { der, url } = given.crl;
    const crl = { url, fetch: async () => der };
    return given.ocspUrl ? { ocsp, crl, prefer: "crl" } : { crl };
  }
  return { ocsp, crl: { fetch: (url: string) => httpFetch(url, { method: "GET", key }, MAX_RESPONSE_BYTES.crl) }, prefer: "ocsp" };
}

/** fetch with a timeout and a response size limit; only http(s). */
async function httpFetch(url: string, init: { method: "GET" | "POST"; body?: Uint8Array; contentType?: string; key?: string | undefined }, maxBytes: number): Promise<Uint8Array> {
  if (!/^https?:\/\//i.test(url)) throw new Error(`unsupported URL ${url}`);
  const headers: Record<string, string> = {};
  if (init.body) headers["content-type"] = init.contentType ?? "application/octet-stream";
  if (init.key) headers["x-openjpki-verifier-key"] = init.key;
  const response = await fetch(url, {
    method: init.method,
    ...(init.body ? { body: init.body } : {}),
    headers,
    signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
    // A key must not follow a redirect to another host.
    redirect: init.key ? "error" : "follow",
  });
  if (response.status === 401) {
    throw new Error(`HTTP 401 from ${url}: revocation data there is for registered verifiers (${init.key ? "the API key given was refused" : "give a verifier's API key: OPENJPKI_VERIFIER_KEY for the CLI"})`);
  }
  if (!response.ok) throw new Error(`HTTP ${response.status} from ${url}`);
  const declared = Number(response.headers.get("content-length") ?? "0");
  if (declared > maxBytes) throw new Error(`response from ${url} larger than ${maxBytes} bytes`);
  const reader = response.body?.getReader();
  if (!reader) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > maxBytes) {
      await reader.cancel();
      throw new Error(`response from ${url} larger than ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  return new Uint8Array(Buffer.concat(chunks));
}
