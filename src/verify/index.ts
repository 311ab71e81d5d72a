/**
 * openjpki/verify: the relying party's library. Verifies JPKI certificates, CMS and XML signatures
 * and raw signatures against the trust anchors and revocation sources the caller gives, with no
 * server, database or global state. Named exports only: this file is the public surface.
 */
import { verifyCms } from "./cms.ts";
import { verifyRawSignature } from "./raw.ts";
import { VerifierCore, checkCallOptions } from "./verifier.ts";
import { verifyXml } from "./xml.ts";
import type { CertificateCheckOptions, CheckOptions, CmsOptions, RawSignatureInput, Verifier, VerifierOptions } from "./types.ts";

/**
 * Creates a verifier. The options are checked here: a bad option, or a trust anchor that is not a
 * CA certificate, throws `TypeError`. The verifier's methods never throw for a verification
 * outcome; they resolve with `{ valid: true, … }` or `{ valid: false, code, message, detail? }`,
 * and reject with `TypeError` only for misuse (wrong argument types).
 */
export function createVerifier(options: VerifierOptions): Verifier {
  const core = new VerifierCore(options);
  return Object.freeze({
    async verifyCertificate(certificateDer: Uint8Array, opts: CertificateCheckOptions) {
      const { expectedType, at } = checkCallOptions(opts, undefined, "verifyCertificate");
      if (!(certificateDer instanceof Uint8Array)) throw new TypeError("verifyCertificate: certificateDer must be a Uint8Array");
      return core.run(async (state) => core.result(await core.checkCertificate(core.certificates.get(certificateDer), expectedType, at, state)));
    },
    verifyCms: (cmsDer: Uint8Array, opts?: CmsOptions) => verifyCms(core, cmsDer, opts),
    verifyRawSignature: (input: RawSignatureInput) => verifyRawSignature(core, input),
    verifyXml: (xml: string, opts?: CheckOptions) => verifyXml(core, xml, opts),
  });
}

export { DEFAULT_LIMITS } from "./verifier.ts";
export { VERIFY_ERROR_CODES, VERIFY_ERROR_MEANING } from "./errors.ts";
export type { VerifyErrorCode } from "./errors.ts";
export type {
  Attributes,
  CertificateCheckOptions,
  CertificateInfo,
  CertificateType,
  CheckOptions,
  CmsOptions,
  CrlOptions,
  HashName,
  InvalidResult,
  OcspOptions,
  RawSignatureInput,
  RevocationInfo,
  RevocationOptions,
  RevocationReason,
  RootInfo,
  SignatureInfo,
  TrustAnchors,
  ValidResult,
  VerificationResult,
  Verifier,
  VerifierOptions,
  VerifyLimits,
} from "./types.ts";
