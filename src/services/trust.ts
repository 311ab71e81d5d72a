import { createVerifier, type VerificationResult, type Verifier } from "../verify/index.ts";
import { ServiceError } from "./errors.ts";
import type { CertificateAuthorities } from "./certificate-authority.ts";
import type { OcspResponder } from "./ocsp-responder.ts";
import type { Clock } from "./clock.ts";

/**
 * The relying-party verifier the server's own services use (portal login, kiosk, app): our two
 * roots as trust anchors, and OCSP answered by our responder in-process (the same answers its
 * HTTP endpoint gives), with a nonce, so every check sees the status as of that moment — read
 * from the PostgreSQL primary even when a standby serves the OCSP endpoint (a login or a kiosk
 * issuance must not ride on a standby's lag, nor miss a certificate this node just issued).
 */
export function ownVerifier(ca: CertificateAuthorities, ocsp: OcspResponder, clock: Clock): Verifier {
  return createVerifier({
    trustAnchors: { sign: [ca.authority("sign").certificateDer], auth: [ca.authority("auth").certificateDer] },
    revocation: {
      ocsp: { fetch: async (_url, requestDer) => (await ocsp.answer(requestDer, undefined, { primary: true })).der, useNonce: true },
      prefer: "ocsp",
    },
    now: clock,
  });
}

/** A verification result that is not valid becomes a refusal with the verifier's stable code as reason. */
export function requireValid(result: VerificationResult): Extract<VerificationResult, { valid: true }> {
  if (result.valid) return result;
  // A bad signature is the signature's fault (or the bytes signed), not the certificate's.
  const field = result.code === "bad-signature" ? "signature" : "certificate";
  throw new ServiceError("refused", refusalMessage(result.code, result.message), field, { reason: result.code });
}

function refusalMessage(code: string, detail: string): string {
  switch (code) {
    case "revoked":
      return `この電子証明書は失効しています / this certificate is revoked (${detail})`;
    case "on-hold":
      return `この電子証明書は一時保留中です。窓口へお越しください / this certificate is on hold: please visit the counter`;
    case "wrong-certificate-type":
      return `この電子証明書はここでは使えません（利用者証明用電子証明書が必要です）/ wrong certificate type: ${detail}`;
    case "bad-signature":
      return `署名が署名対象と一致しません / the signature does not match what was to be signed (for a challenge: its "signs" bytes, with this certificate's key): ${detail}`;
    case "expired":
      return `電子証明書の有効期限が切れています。窓口で更新してください / the certificate has expired: renew it at the counter`;
    default:
      return `電子証明書を確認できませんでした / the certificate could not be verified: ${detail}`;
  }
}
