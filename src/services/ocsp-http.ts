import { OCSP_DEFAULT_LIMITS, OcspRequestError, ocspErrorResponseFor } from "../pki/ocsp.ts";
import type { CaType } from "../pki/jpki-profile.ts";
import type { OcspAnswer, OcspResponder } from "./ocsp-responder.ts";

export { OCSP_REQUEST_CONTENT_TYPE, OCSP_RESPONSE_CONTENT_TYPE, OCSP_TRY_LATER } from "../pki/ocsp.ts";

/** The largest OCSP request body worth reading: the request parser refuses anything larger. */
export const OCSP_REQUEST_MAX_BYTES = OCSP_DEFAULT_LIMITS.maxBytes;

/**
 * What to send for one OCSP request over HTTP: the responder's answer, or — for a request it
 * refuses (malformed, unauthorized) — the pre-encoded RFC 6960 error response, never cached.
 */
export type OcspReply = { answered: true; answer: OcspAnswer } | { answered: false; errorResponse: Uint8Array };

/** A POSTed DER OCSPRequest; `type` is the CA the URL names (/ocsp/sign, /ocsp/auth), if any. */
export function ocspReplyToPost(ocsp: OcspResponder, requestDer: Uint8Array, type?: CaType): Promise<OcspReply> {
  return replyTo(() => ocsp.answer(requestDer, type));
}

/** The RFC 5019 GET form: the base64 request in the URL path after /ocsp/…/. */
export function ocspReplyToGet(ocsp: OcspResponder, encodedRequest: string, type?: CaType): Promise<OcspReply> {
  return replyTo(() => ocsp.answerGet(encodedRequest, type));
}

async function replyTo(answer: () => Promise<OcspAnswer>): Promise<OcspReply> {
  try {
    return { answered: true, answer: await answer() };
  } catch (error) {
    if (error instanceof OcspRequestError) return { answered: false, errorResponse: ocspErrorResponseFor(error) };
    throw error;
  }
}
