import type { KeyObject } from "node:crypto";

/**
 * The narrow interface through which a CA key signs. The software signer keeps the key
 * encrypted at rest and in memory only as a KeyObject; an HSM (PKCS#11) signer can
 * replace it without touching certificate, CRL or OCSP code.
 */
export interface Signer {
  /** The only algorithm JPKI uses: RSA PKCS#1 v1.5 with SHA-256. */
  readonly algorithm: "sha256WithRSAEncryption";
  /** The public half, for SKI/AKI computation and self-checks. */
  readonly publicKey: KeyObject;
  /** Sign `data` (the DER of a to-be-signed structure) and return the raw signature. */
  sign(data: Uint8Array): Promise<Uint8Array>;
}
