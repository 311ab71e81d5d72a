import type { KeyObject } from "node:crypto";

/**
 * A private key as versions before 2026-12 stored it: Node's own export, with OpenSSL's PBES2
 * defaults (PBKDF2-HMAC-SHA256 at 2,048 iterations, AES-256-CBC). Stores written then must still load.
 */
export function legacyEncryptedKey(key: KeyObject, passphrase: string): string {
  return key.export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase }) as string;
}
