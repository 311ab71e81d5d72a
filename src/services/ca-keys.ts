import { createPublicKey, generateKeyPair, randomBytes, type KeyObject } from "node:crypto";
import { promisify } from "node:util";
import type { CaType } from "../pki/jpki-profile.ts";
import type { Signer } from "../pki/signer.ts";
import { SoftwareSigner } from "../pki/software-signer.ts";
import { Pkcs11Token, Pkcs11TokenError, type Pkcs11Config } from "../pki/pkcs11-token.ts";
import { ServiceError } from "./errors.ts";
import { KeyWrapping, readSecretFile } from "./keystore.ts";

const generateRsa = promisify(generateKeyPair);

/** A CA key as the store records it (`authorities.private_key_pem`) and the signer that uses it. */
export interface CaKey {
  readonly publicKey: KeyObject;
  readonly signer: Signer;
  /** Encrypted PKCS#8 PEM for a software key; an RFC 7512 `pkcs11:` URI for a key in the HSM. */
  readonly stored: string;
}

export interface CaKeysOptions {
  /** PBKDF2 iterations for new software keys: tests lower it; production keeps the default. */
  kdfIterations?: number;
}

/** Where new CA keys are made, for the start-up message. */
export type CaKeyLocation = { kind: "software" } | { kind: "hsm"; token: string; module: string };

/**
 * The CA keys: software keys encrypted under the CA passphrase, or, when an HSM is configured
 * (OPENJPKI_CA_PKCS11_MODULE, _TOKEN and _PIN or _PIN_FILE), keys generated inside a PKCS#11
 * token that never leave it. With an HSM configured, new roots get token keys; roots made earlier with software
 * keys keep working. A root whose key is in a token refuses to load without that token.
 */
export class CaKeys {
  private constructor(
    /** Software keys' encryption; the context hands the same one to the services' other keys. */
    readonly wrapping: KeyWrapping,
    private readonly token: Pkcs11Token | undefined,
    readonly location: CaKeyLocation,
  ) {}

  static async open(env: NodeJS.ProcessEnv, passphrase: string, options: CaKeysOptions = {}): Promise<CaKeys> {
    const wrapping = new KeyWrapping(passphrase, options.kdfIterations);
    const config = pkcs11ConfigFrom(env);
    if (!config) return new CaKeys(wrapping, undefined, { kind: "software" });
    const token = await asServiceError(() => Pkcs11Token.open(config));
    return new CaKeys(wrapping, token, { kind: "hsm", token: config.token, module: config.module });
  }

  /** A new RSA-2048 key for generation `generation` of the `type` CA. */
  async create(type: CaType, generation: number): Promise<CaKey> {
    if (!this.token) {
      const { privateKey, publicKey } = await generateRsa("rsa", { modulusLength: 2048, publicExponent: 65537 });
      return { publicKey, signer: new SoftwareSigner(privateKey), stored: await this.wrapping.wrap(privateKey) };
    }
    const token = this.token;
    const label = keyLabel(type, generation);
    return asServiceError(async () => {
      const signer = await token.generateRsaKey(label);
      return { publicKey: signer.publicKey, signer: new TokenSigner(signer, `${type} CA`), stored: pkcs11Uri(token.label, label) };
    });
  }

  /**
   * The signer for a stored key. `certificateKey` is the CA certificate's public key: a token key
   * must prove it is that key (one probe signature) before the CA signs anything with it.
   */
  async load(stored: string, what: string, certificateKey: KeyObject): Promise<Signer> {
    if (!stored.startsWith("pkcs11:")) {
      const key = await this.wrapping.unwrap(stored, what);
      refuseOtherKey(key, what, certificateKey);
      return new SoftwareSigner(key);
    }
    const { token: tokenLabel, object } = parsePkcs11Uri(stored, what);
    const token = this.token;
    if (!token) {
      throw new ServiceError(
        "ca-unavailable",
        `the ${what} key is in the HSM token ${tokenLabel}; set OPENJPKI_CA_PKCS11_MODULE, OPENJPKI_CA_PKCS11_TOKEN and OPENJPKI_CA_PKCS11_PIN (or _PIN_FILE)`,
      );
    }
    if (token.label !== tokenLabel) {
      throw new ServiceError("ca-unavailable", `the ${what} key is in the HSM token ${tokenLabel}, but the configured token is ${token.label}`);
    }
    return asServiceError(async () => {
      const signer = token.signer(object);
      // A key the token would hand out (made by hand, or imported without these attributes) is
      // not a key that never leaves it: refused, like a key kept in clear in the store.
      const protection = token.exposure(object);
      if (!protection.sensitive || protection.extractable) {
        throw new Pkcs11TokenError(
          `the token ${token.label} lets the key ${object} be ${protection.extractable ? "extracted" : "read"} (CKA_SENSITIVE ${protection.sensitive}, CKA_EXTRACTABLE ${protection.extractable}): a CA key must be sensitive and not extractable`,
        );
      }
      await signer.assertMatches(certificateKey);
      return new TokenSigner(signer, what);
    }, what);
  }

  /**
   * A stored software key written at fewer PBKDF2 iterations than new keys get (the 2,048 of
   * earlier versions), encrypted again at the current count under the same passphrase; undefined
   * when it needs nothing (already strong, or a token key). The new form is read back and proved
   * to be the certificate's key before it is returned, so the caller can replace the stored value
   * in one statement (`… SET private_key_pem = new WHERE id = … AND private_key_pem = old`): a crash
   * leaves either form, each readable under the passphrase.
   */
  async rewrap(stored: string, what: string, certificateKey: KeyObject): Promise<string | undefined> {
    if (stored.startsWith("pkcs11:")) return undefined;
    // The certificate's key, checked on the key as read, before it is written again.
    return this.wrapping.rewrap(stored, what, (key) => refuseOtherKey(key, what, certificateKey));
  }

  /** Close the token (if any), after the signatures under way; the CAs cannot sign afterwards. */
  async close(): Promise<void> {
    await this.token?.close();
  }
}

/**
 * The HSM settings from the environment: the library, the token and its PIN (inline, or better a
 * file: the environment of a process is readable in /proc), all or none (software keys).
 */
export function pkcs11ConfigFrom(env: NodeJS.ProcessEnv): Pkcs11Config | undefined {
  const { OPENJPKI_CA_PKCS11_MODULE: module, OPENJPKI_CA_PKCS11_TOKEN: token, OPENJPKI_CA_PKCS11_PIN: pin, OPENJPKI_CA_PKCS11_PIN_FILE: pinFile } = env;
  if (!module && !token && !pin && !pinFile) return undefined;
  if (pin && pinFile) throw new ServiceError("ca-unavailable", "set OPENJPKI_CA_PKCS11_PIN or OPENJPKI_CA_PKCS11_PIN_FILE, not both");
  const missing = [!module && "OPENJPKI_CA_PKCS11_MODULE", !token && "OPENJPKI_CA_PKCS11_TOKEN", !pin && !pinFile && "OPENJPKI_CA_PKCS11_PIN (or _PIN_FILE)"].filter(Boolean);
  if (missing.length > 0) throw new ServiceError("ca-unavailable", `HSM configuration incomplete: ${missing.join(", ")} missing`);
  return { module: module!, token: token!, pin: pin ?? readPinFile(pinFile!) };
}

function readPinFile(path: string): string {
  let text: string;
  let readableByOthers: string | undefined;
  try {
    ({ text, readableByOthers } = readSecretFile(path));
  } catch (error) {
    throw new ServiceError("ca-unavailable", `cannot read the HSM PIN file ${path}: ${(error as Error).message}`);
  }
  // Like a card's PIN file: readable by its owner alone.
  if (readableByOthers !== undefined) throw new ServiceError("ca-unavailable", `the HSM PIN file ${path} is readable by others; chmod 600 it`);
  const pin = text.replace(/\r?\n$/, "");
  if (pin.length === 0 || pin.length > 255 || /[\r\n]/.test(pin)) throw new ServiceError("ca-unavailable", `the HSM PIN file ${path} must hold one line of 1–255 characters`);
  return pin;
}

/**
 * The label of a new CA key in the token. The random part keeps stores that share a token apart
 * and lets a start that crashed after generating a key (before recording its root) simply make
 * another: the orphan is never picked up as some other store's CA key.
 */
export function keyLabel(type: CaType, generation: number): string {
  return `openjpki-${type}-ca-${generation}-${randomBytes(4).toString("hex")}`;
}

/** RFC 7512: `pkcs11:token=…;object=…;type=private`, the label parts percent-encoded. */
export function pkcs11Uri(token: string, object: string): string {
  return `pkcs11:token=${encodeURIComponent(token)};object=${encodeURIComponent(object)};type=private`;
}

/** Reads back exactly what `pkcs11Uri` writes (token, object, type=private, each once); anything else is refused. */
function parsePkcs11Uri(uri: string, what: string): { token: string; object: string } {
  const refuse = () => new ServiceError("ca-unavailable", `the ${what} key reference in the store is not a PKCS#11 private-key URI: ${uri.slice(0, 200)}`);
  if (uri.length > 512) throw refuse();
  const attributes = new Map<string, string>();
  for (const part of uri.slice("pkcs11:".length).split(";")) {
    const eq = part.indexOf("=");
    const name = part.slice(0, eq);
    if (eq <= 0 || !["token", "object", "type"].includes(name) || attributes.has(name)) throw refuse();
    try {
      attributes.set(name, decodeURIComponent(part.slice(eq + 1)));
    } catch {
      throw refuse();
    }
  }
  const token = attributes.get("token");
  const object = attributes.get("object");
  if (!token || !object || attributes.get("type") !== "private") throw refuse();
  return { token, object };
}

/**
 * A token key's signer whose failures (a reset or unreachable HSM) refuse what was to be signed
 * as the CA being unavailable (503: try again later), naming the CA, not as an internal error.
 */
class TokenSigner implements Signer {
  readonly algorithm = "sha256WithRSAEncryption" as const;
  readonly publicKey: KeyObject;

  constructor(
    private readonly signer: Signer,
    private readonly what: string,
  ) {
    this.publicKey = signer.publicKey;
  }

  async sign(data: Uint8Array): Promise<Uint8Array> {
    try {
      return await this.signer.sign(data);
    } catch (error) {
      if (!(error instanceof Pkcs11TokenError)) throw error;
      throw new ServiceError("ca-unavailable", `${this.what} の HSM で署名できません。しばらくしてからやり直してください / ${this.what}: ${error.message}`, undefined, { cause: error });
    }
  }
}

async function asServiceError<T>(body: () => Promise<T>, what?: string): Promise<T> {
  try {
    return await body();
  } catch (error) {
    if (error instanceof Pkcs11TokenError) {
      throw new ServiceError("ca-unavailable", what ? `${what}: ${error.message}` : error.message, undefined, { cause: error });
    }
    throw error;
  }
}

/** As for a token key: the store's key must be the certificate's before the CA signs with it. */
function refuseOtherKey(privateKey: KeyObject, what: string, certificateKey: KeyObject): void {
  if (!createPublicKey(privateKey).equals(certificateKey)) {
    throw new ServiceError("ca-unavailable", `${what}: the key in the store is not the CA certificate's key; its certificates and CRLs would not verify`);
  }
}
