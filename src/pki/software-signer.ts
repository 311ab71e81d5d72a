import { createPublicKey, sign as rsaSign, type KeyObject } from "node:crypto";
import type { Signer } from "./signer.ts";

/** A signer over an in-memory private key (decrypted from the CA key store at start-up). */
export class SoftwareSigner implements Signer {
  readonly algorithm = "sha256WithRSAEncryption" as const;
  readonly publicKey: KeyObject;
  readonly #privateKey: KeyObject;

  constructor(privateKey: KeyObject) {
    if (privateKey.type !== "private" || privateKey.asymmetricKeyType !== "rsa") {
      throw new TypeError("SoftwareSigner needs an RSA private key");
    }
    this.#privateKey = privateKey;
    this.publicKey = createPublicKey(privateKey);
  }

  sign(data: Uint8Array): Promise<Uint8Array> {
    // The callback form runs on libuv's thread pool, so concurrent signatures use both cores.
    return new Promise((resolve, reject) => {
      rsaSign("sha256", data, this.#privateKey, (err, signature) =>
        err ? reject(err) : resolve(new Uint8Array(signature.buffer, signature.byteOffset, signature.byteLength)),
      );
    });
  }
}
