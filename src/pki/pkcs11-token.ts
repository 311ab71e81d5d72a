import { createPublicKey, randomBytes, verify as rsaVerify, type KeyObject } from "node:crypto";
import type * as Pkcs11 from "pkcs11js";
import type { Signer } from "./signer.ts";

/**
 * CA keys in a hardware security module, through PKCS#11 (SoftHSM2 in development and tests, a
 * network HSM in production). The private keys are generated inside the token as sensitive and
 * non-extractable, so they never exist outside it; this module only asks the token to sign.
 *
 * PKCS#11 is process-global: a library is initialised once per process and its login state is
 * shared by every session on a token. Each open token here therefore shares one initialised
 * library (counted, finalised when the last user closes) and logs in once per token.
 */
export interface Pkcs11Config {
  /** Path of the vendor's PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so. */
  readonly module: string;
  /** The token's label (CKA token label), e.g. "openjpki-ca". */
  readonly token: string;
  /** The user PIN. */
  readonly pin: string;
  /** Sessions kept open for signing: one signature runs per session at a time (default 4). */
  readonly sessions?: number;
}

export class Pkcs11TokenError extends Error {
  override readonly name = "Pkcs11TokenError";
}

type Pkcs11Module = typeof Pkcs11;
type Handle = Buffer;

interface Library {
  readonly api: Pkcs11.PKCS11;
  readonly constants: Pkcs11Module;
  users: number;
  /** Tokens this process is logged in to: slot (hex) → the PIN that logged in and the open tokens using it. */
  readonly loggedIn: Map<string, { pin: string; users: number }>;
}

const libraries = new Map<string, Promise<Library>>();

async function acquireLibrary(path: string): Promise<Library> {
  let pending = libraries.get(path);
  if (!pending) {
    pending = (async () => {
      // Loaded only when an HSM is configured: the native module is not needed otherwise.
      // The default export is the one that carries the CK* constants (the namespace has none in ESM).
      const constants = (await import("pkcs11js")).default as unknown as Pkcs11Module;
      const api = new constants.PKCS11();
      try {
        api.load(path);
      } catch (error) {
        throw new Pkcs11TokenError(`cannot load the PKCS#11 library ${path}: ${(error as Error).message}`, { cause: error });
      }
      try {
        // Signatures run on the addon's worker threads, so the library must lock for itself.
        api.C_Initialize({ flags: constants.CKF_OS_LOCKING_OK });
      } catch (error) {
        if (!hasCode(error, "CKR_CRYPTOKI_ALREADY_INITIALIZED")) {
          throw new Pkcs11TokenError(`the PKCS#11 library ${path} failed to initialise: ${(error as Error).message}`, { cause: error });
        }
      }
      return { api, constants, users: 0, loggedIn: new Map() };
    })();
    libraries.set(path, pending);
    pending.catch(() => libraries.delete(path));
  }
  const library = await pending;
  library.users++;
  return library;
}

function releaseLibrary(path: string, library: Library): void {
  if (--library.users > 0) return;
  libraries.delete(path);
  try {
    library.api.C_Finalize();
  } catch {
    // Already finalised by someone else in this process; nothing is left to release.
  }
}

function hasCode(error: unknown, code: string): boolean {
  return error instanceof Error && error.message.includes(code);
}

const LABEL_MAX = 64;

/** An open, logged-in token with a pool of sessions for signing. */
export class Pkcs11Token {
  readonly #config: Pkcs11Config;
  readonly #library: Library;
  readonly #slot: Handle;
  /** The session used for object management (find, generate); never used to sign. */
  readonly #admin: Handle;
  readonly #idle: Handle[] = [];
  readonly #waiting: ((session: Handle) => void)[] = [];
  #open: Handle[] = [];
  #closed = false;

  private constructor(config: Pkcs11Config, library: Library, slot: Handle, admin: Handle) {
    this.#config = config;
    this.#library = library;
    this.#slot = slot;
    this.#admin = admin;
  }

  static async open(config: Pkcs11Config): Promise<Pkcs11Token> {
    if (!config.module) throw new Pkcs11TokenError("no PKCS#11 library path given");
    if (!config.token || config.token.length > 32) throw new Pkcs11TokenError("the token label must be 1–32 characters");
    if (!config.pin || config.pin.length > 255) throw new Pkcs11TokenError("the token PIN must be 1–255 characters");
    const sessions = config.sessions ?? 4;
    if (!Number.isSafeInteger(sessions) || sessions < 1 || sessions > 64) throw new Pkcs11TokenError("sessions must be 1–64");
    const library = await acquireLibrary(config.module);
    const { api, constants: C } = library;
    const opened: Handle[] = [];
    let token: Pkcs11Token | undefined;
    try {
      const slot = findSlot(library, config);
      const flags = C.CKF_SERIAL_SESSION | C.CKF_RW_SESSION;
      const admin = api.C_OpenSession(slot, flags);
      opened.push(admin);
      login(library, slot, admin, config);
      token = new Pkcs11Token(config, library, slot, admin);
      token.#open = opened;
      for (let i = 0; i < sessions; i++) {
        const session = api.C_OpenSession(slot, flags);
        opened.push(session);
        token.#idle.push(session);
      }
      return token;
    } catch (error) {
      if (token) token.close();
      else {
        for (const session of opened) closeQuietly(library, session);
        releaseLibrary(config.module, library);
      }
      throw error;
    }
  }

  get label(): string {
    return this.#config.token;
  }

  /** Whether a private key with this label exists on the token. */
  hasKey(label: string): boolean {
    return this.#find(label, this.#library.constants.CKO_PRIVATE_KEY) !== undefined;
  }

  /**
   * Generate an RSA-2048 key pair inside the token under `label`. The private half is sensitive
   * and not extractable; both halves are token objects, so they survive restarts. Refuses a
   * label already in use, so an existing CA key is never shadowed.
   */
  async generateRsaKey(label: string): Promise<KeyObject> {
    this.#assertOpen();
    checkLabel(label);
    const { api, constants: C } = this.#library;
    if (this.hasKey(label)) throw new Pkcs11TokenError(`the token ${this.label} already holds a key labelled ${label}`);
    const id = randomBytes(16);
    const common = [
      { type: C.CKA_TOKEN, value: true },
      { type: C.CKA_LABEL, value: label },
      { type: C.CKA_ID, value: id },
    ];
    const keys = await new Promise<Pkcs11.KeyPair>((resolve, reject) =>
      api.C_GenerateKeyPair(
        this.#admin,
        { mechanism: C.CKM_RSA_PKCS_KEY_PAIR_GEN },
        [
          ...common,
          { type: C.CKA_VERIFY, value: true },
          { type: C.CKA_ENCRYPT, value: false },
          { type: C.CKA_WRAP, value: false },
          { type: C.CKA_MODULUS_BITS, value: 2048 },
          { type: C.CKA_PUBLIC_EXPONENT, value: Buffer.from([1, 0, 1]) },
        ],
        [
          ...common,
          { type: C.CKA_PRIVATE, value: true },
          { type: C.CKA_SENSITIVE, value: true },
          { type: C.CKA_EXTRACTABLE, value: false },
          { type: C.CKA_SIGN, value: true },
          // A CA key signs and does nothing else (tokens default decrypt and unwrap to on).
          { type: C.CKA_DECRYPT, value: false },
          { type: C.CKA_UNWRAP, value: false },
        ],
        (error, pair) => (error ? reject(new Pkcs11TokenError(`the token ${this.label} could not generate a key: ${error.message}`, { cause: error })) : resolve(pair)),
      ),
    );
    return this.#publicKeyOf(keys.publicKey);
  }

  /** A signer for the private key labelled `label`; its public key comes from the token's public object. */
  signer(label: string): Pkcs11Signer {
    this.#assertOpen();
    checkLabel(label);
    const C = this.#library.constants;
    const privateKey = this.#find(label, C.CKO_PRIVATE_KEY);
    if (!privateKey) throw new Pkcs11TokenError(`the token ${this.label} holds no private key labelled ${label}`);
    const publicObject = this.#find(label, C.CKO_PUBLIC_KEY);
    if (!publicObject) throw new Pkcs11TokenError(`the token ${this.label} holds no public key labelled ${label}`);
    return new Pkcs11Signer(this, privateKey, this.#publicKeyOf(publicObject));
  }

  /** The key's protection attributes as the token reports them (for checks and `openjpki` status). */
  protection(label: string): { sensitive: boolean; extractable: boolean; neverExtractable: boolean; local: boolean } {
    this.#assertOpen();
    const { api, constants: C } = this.#library;
    const key = this.#find(label, C.CKO_PRIVATE_KEY);
    if (!key) throw new Pkcs11TokenError(`the token ${this.label} holds no private key labelled ${label}`);
    const attributes = api.C_GetAttributeValue(this.#admin, key, [
      { type: C.CKA_SENSITIVE },
      { type: C.CKA_EXTRACTABLE },
      { type: C.CKA_NEVER_EXTRACTABLE },
      { type: C.CKA_LOCAL },
    ]);
    const flag = (i: number) => (attributes[i]?.value as Buffer | undefined)?.[0] === 1;
    return { sensitive: flag(0), extractable: flag(1), neverExtractable: flag(2), local: flag(3) };
  }

  /** Sign with a pooled session: PKCS#11 allows one operation at a time per session. */
  async sign(privateKey: Handle, data: Uint8Array, signatureLength: number): Promise<Uint8Array> {
    this.#assertOpen();
    const session = this.#idle.pop() ?? (await new Promise<Handle>((resolve) => this.#waiting.push(resolve)));
    const { api, constants: C } = this.#library;
    try {
      api.C_SignInit(session, { mechanism: C.CKM_SHA256_RSA_PKCS }, privateKey);
      // The callback form runs in the addon's worker, off the event loop, like Node's own async sign.
      const signature = await new Promise<Buffer>((resolve, reject) =>
        api.C_Sign(session, Buffer.from(data.buffer, data.byteOffset, data.byteLength), Buffer.alloc(signatureLength), (error, out) =>
          error ? reject(error) : resolve(out),
        ),
      );
      return new Uint8Array(signature.buffer, signature.byteOffset, signature.byteLength);
    } catch (error) {
      throw new Pkcs11TokenError(`the token ${this.label} refused to sign: ${(error as Error).message}`, { cause: error });
    } finally {
      const next = this.#waiting.shift();
      if (next) next(session);
      else this.#idle.push(session);
    }
  }

  /** Close the sessions and release the library (finalised when its last user closes). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const session of this.#open) closeQuietly(this.#library, session);
    this.#open = [];
    // Closing the last session on a token logs the process out of it; forget the login then.
    const slotKey = this.#slot.toString("hex");
    const login = this.#library.loggedIn.get(slotKey);
    if (login && --login.users === 0) this.#library.loggedIn.delete(slotKey);
    releaseLibrary(this.#config.module, this.#library);
  }

  #find(label: string, objectClass: number): Handle | undefined {
    const { api, constants: C } = this.#library;
    api.C_FindObjectsInit(this.#admin, [
      { type: C.CKA_CLASS, value: objectClass },
      { type: C.CKA_LABEL, value: label },
    ]);
    try {
      const found = api.C_FindObjects(this.#admin, 2);
      if (found.length > 1) throw new Pkcs11TokenError(`the token ${this.label} holds more than one key labelled ${label}`);
      return found[0];
    } finally {
      api.C_FindObjectsFinal(this.#admin);
    }
  }

  #publicKeyOf(object: Handle): KeyObject {
    const { api, constants: C } = this.#library;
    const [modulus, exponent] = api.C_GetAttributeValue(this.#admin, object, [{ type: C.CKA_MODULUS }, { type: C.CKA_PUBLIC_EXPONENT }]);
    const n = modulus?.value;
    const e = exponent?.value;
    if (!Buffer.isBuffer(n) || !Buffer.isBuffer(e) || n.length < 256 || n.length > 512) {
      throw new Pkcs11TokenError(`the token ${this.label} returned no usable RSA public key`);
    }
    return createPublicKey({ key: { kty: "RSA", n: n.toString("base64url"), e: e.toString("base64url") }, format: "jwk" });
  }

  #assertOpen(): void {
    if (this.#closed) throw new Pkcs11TokenError(`the token ${this.label} is closed`);
  }
}

/** A CA key held by the token. */
export class Pkcs11Signer implements Signer {
  readonly algorithm = "sha256WithRSAEncryption" as const;
  readonly #token: Pkcs11Token;
  readonly #privateKey: Handle;
  readonly #signatureLength: number;

  constructor(
    token: Pkcs11Token,
    privateKey: Handle,
    readonly publicKey: KeyObject,
  ) {
    this.#token = token;
    this.#privateKey = privateKey;
    const bits = publicKey.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < 2048) throw new Pkcs11TokenError(`the token key has a ${bits}-bit modulus; JPKI needs RSA-2048 or more`);
    this.#signatureLength = Math.ceil(bits / 8);
  }

  sign(data: Uint8Array): Promise<Uint8Array> {
    return this.#token.sign(this.#privateKey, data, this.#signatureLength);
  }

  /**
   * Sign a random probe and verify it with `expected` (the CA certificate's key): proves the token
   * key is the certificate's before the CA signs anything with it.
   */
  async assertMatches(expected: KeyObject): Promise<void> {
    const probe = randomBytes(32);
    const signature = await this.sign(probe);
    if (!rsaVerify("sha256", probe, expected, signature)) {
      throw new Pkcs11TokenError("the token key does not match the CA certificate's public key");
    }
  }
}

function findSlot(library: Library, config: Pkcs11Config): Handle {
  const { api } = library;
  const labels: string[] = [];
  for (const slot of api.C_GetSlotList(true)) {
    const label = api.C_GetTokenInfo(slot).label.trim();
    if (label === config.token) return slot;
    if (label) labels.push(label); // SoftHSM always offers one free, unlabelled slot
  }
  throw new Pkcs11TokenError(
    `no token labelled ${config.token} in ${config.module} (tokens present: ${labels.length ? labels.join(", ") : "none"})`,
  );
}

function login(library: Library, slot: Handle, session: Handle, config: Pkcs11Config): void {
  const { api, constants: C } = library;
  const slotKey = slot.toString("hex");
  const previous = library.loggedIn.get(slotKey);
  if (previous !== undefined) {
    // Another open token in this process already logged in; a different PIN must not ride on it.
    if (previous.pin !== config.pin) throw new Pkcs11TokenError(`wrong PIN for the token ${config.token}`);
    previous.users++;
    return;
  }
  try {
    api.C_Login(session, C.CKU_USER, config.pin);
  } catch (error) {
    if (hasCode(error, "CKR_PIN_INCORRECT")) throw new Pkcs11TokenError(`wrong PIN for the token ${config.token}`, { cause: error });
    if (hasCode(error, "CKR_PIN_LOCKED")) throw new Pkcs11TokenError(`the PIN of the token ${config.token} is locked`, { cause: error });
    if (!hasCode(error, "CKR_USER_ALREADY_LOGGED_IN")) {
      throw new Pkcs11TokenError(`cannot log in to the token ${config.token}: ${(error as Error).message}`, { cause: error });
    }
  }
  library.loggedIn.set(slotKey, { pin: config.pin, users: 1 });
}

function checkLabel(label: string): void {
  if (label.length === 0 || label.length > LABEL_MAX || !/^[\x21-\x7e]+$/.test(label)) {
    throw new Pkcs11TokenError(`a key label must be 1–${LABEL_MAX} printable ASCII characters without spaces: ${JSON.stringify(label)}`);
  }
}

function closeQuietly(library: Library, session: Handle): void {
  try {
    library.api.C_CloseSession(session);
  } catch {
    // A session the library already closed (finalised elsewhere) needs nothing more.
  }
}
