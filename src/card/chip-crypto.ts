import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  hkdfSync,
  randomBytes,
  timingSafeEqual,
} from "node:crypto";

/**
 * The chip's own secrets, all derived from one 32-byte master key: a key-encryption
 * key for private keys at rest (AES-256-GCM) and a MAC key for PIN reference data,
 * so neither keys nor PINs appear in clear in the card's storage.
 */
export class ChipSecrets {
  readonly #kek: Buffer;
  readonly #pinKey: Buffer;
  readonly #checkKey: Buffer;

  constructor(masterKey: Uint8Array) {
    if (masterKey.length !== 32) throw new TypeError("chip master key must be 32 bytes");
    const derive = (info: string) =>
      Buffer.from(hkdfSync("sha256", masterKey, Buffer.alloc(0), `openjpki-chip ${info}`, 32));
    this.#kek = derive("key-encryption");
    this.#pinKey = derive("pin-mac");
    this.#checkKey = derive("check");
  }

  /** A value stored with the chip image so that a wrong master key is noticed at open. */
  checkValue(cardId: string): string {
    return createHmac("sha256", this.#checkKey).update(cardId).digest("base64");
  }

  /** Seal a private key (PKCS#8 DER) bound to the card and key EF by the GCM AAD. */
  seal(aad: string, plaintext: Uint8Array): string {
    const iv = randomBytes(12);
    const c = createCipheriv("aes-256-gcm", this.#kek, iv);
    c.setAAD(Buffer.from(aad));
    const body = Buffer.concat([c.update(plaintext), c.final()]);
    return Buffer.concat([iv, c.getAuthTag(), body]).toString("base64");
  }

  unseal(aad: string, sealed: string): Buffer {
    const raw = Buffer.from(sealed, "base64");
    if (raw.length < 28) throw new Error("sealed key too short");
    const d = createDecipheriv("aes-256-gcm", this.#kek, raw.subarray(0, 12));
    d.setAAD(Buffer.from(aad));
    d.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([d.update(raw.subarray(28)), d.final()]);
  }

  /** PIN reference data: HMAC over the PIN's place and value. */
  pinMac(ref: string, pin: Uint8Array): string {
    return createHmac("sha256", this.#pinKey).update(ref).update("\0").update(pin).digest("base64");
  }

  pinMatches(ref: string, pin: Uint8Array, stored: string): boolean {
    const a = Buffer.from(this.pinMac(ref, pin), "base64");
    const b = Buffer.from(stored, "base64");
    return a.length === b.length && timingSafeEqual(a, b);
  }
}
