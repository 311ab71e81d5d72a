/** A bare RSA PKCS#1 v1.5 signature with its certificate: what a card returns for a login challenge. */
import { verify } from "node:crypto";
import { failure } from "./errors.ts";
import { certificateInfo, checkCallOptions, type VerifierCore } from "./verifier.ts";
import type { HashName, RawSignatureInput, VerificationResult } from "./types.ts";

const HASHES: readonly HashName[] = ["sha256", "sha384", "sha512"];
const BYTE_FIELDS = ["certificateDer", "data", "signature"] as const;

export async function verifyRawSignature(core: VerifierCore, input: RawSignatureInput): Promise<VerificationResult> {
  if (!input || typeof input !== "object") throw new TypeError("verifyRawSignature needs { certificateDer, data, signature }");
  const { expectedType, at } = checkCallOptions(input, "sign", "verifyRawSignature");
  for (const key of BYTE_FIELDS) {
    if (!(input[key] instanceof Uint8Array)) throw new TypeError(`verifyRawSignature: ${key} must be a Uint8Array`);
  }
  const hash = input.hash ?? "sha256";
  if (!HASHES.includes(hash)) throw new TypeError('verifyRawSignature: hash must be "sha256", "sha384" or "sha512"');
  return core.run(async (state) => {
    if (input.data.length > core.limits.contentBytes) failure("malformed-input", `the signed data is larger than ${core.limits.contentBytes} bytes`);
    const cert = core.certificates.get(input.certificateDer);
    state.certificate = certificateInfo(cert);
    if (cert.publicKey.asymmetricKeyType !== "rsa") failure("unsupported-algorithm", "the certificate's key is not RSA");
    if (input.signature.length > 1024) failure("malformed-input", "the signature is longer than any RSA signature we accept");
    let ok = false;
    try {
      ok = verify(hash, input.data, cert.publicKey, input.signature);
    } catch {
      ok = false;
    }
    if (!ok) failure("bad-signature", "the signature does not verify with the certificate's key", { target: "data" });
    const checked = await core.checkCertificate(cert, expectedType, at, state);
    // A copy: the result must not change when the caller reuses its input buffer.
    return core.result(checked, { format: "raw", digestAlgorithm: hash, value: input.signature.slice() });
  });
}
