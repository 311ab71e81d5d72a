import { createPublicKey, randomBytes, verify as rsaVerify, type KeyObject } from "node:crypto";
import { realpathSync } from "node:fs";
import { isAbsolute } from "node:path";
import type * as Pkcs11 from "pkcs11js";
import type { Signer } from "./signer.ts";

/**
 * CA keys in a hardware security module, through PKCS#11 (SoftHSM2 in development and tests, a
 * network HSM in production). The private keys are generated inside the token as sensitive,
 * never extractable and usable only to sign, so they never exist outside it; this module only
 * asks the token to sign.
 *
 * PKCS#11 is process-global: a library is initialised once per process and its login state is
 * shared by every session on a token. So each library (by its real path: two paths to one file
 * are one library) is initialised once and finalised when its last user closes, and a token is
 * logged in once: a later open of the same token must present the PIN that logged in, since the
 * token itself would no longer check it.
 */
export interface Pkcs11Config {
  /** Absolute path of the vendor's PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so. */
  readonly module: string;
  /** The token's label, e.g. "openjpki-ca". */
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
  readonly path: string;
  readonly api: Pkcs11.PKCS11;
  readonly C: Pkcs11Module;
  /** false when someone else in this process had initialised it: then it is not ours to finalise. */
  readonly initialisedHere: boolean;
  /** Tokens this process is logged in to: slot (hex) → the PIN that logged in and the open tokens using it. */
  readonly loggedIn: Map<string, { pin: string; users: number }>;
}

interface LibraryEntry {
  users: number;
  readonly library: Promise<Library>;
}

const libraries = new Map<string, LibraryEntry>();

/** Load and initialise a library once per process; the caller must `releaseLibrary` it. */
async function acquireLibrary(module: string): Promise<Library> {
  if (!isAbsolute(module)) throw new Pkcs11TokenError(`the PKCS#11 library path must be absolute, not ${module}`);
  let path: string;
  try {
    path = realpathSync(module);
  } catch (error) {
    throw new Pkcs11TokenError(`no PKCS#11 library at ${module}: ${(error as Error).message}`, { cause: error });
  }
  let entry = libraries.get(path);
  if (!entry) {
    entry = { users: 0, library: loadLibrary(path) };
    libraries.set(path, entry);
  }
  // Counted before waiting, so a close that runs meanwhile cannot finalise it under this caller.
  entry.users++;
  try {
    return await entry.library;
  } catch (error) {
    if (--entry.users === 0 && libraries.get(path) === entry) libraries.delete(path);
    throw error;
  }
}

async function loadLibrary(path: string): Promise<Library> {
  // Loaded only when an HSM is configured: the native module is not needed otherwise.
  // The default export is the one that carries the CK* constants (the namespace has none in ESM).
  const C = (await import("pkcs11js")).default as unknown as Pkcs11Module;
  const api = new C.PKCS11();
  try {
    api.load(path);
  } catch (error) {
    throw new Pkcs11TokenError(`cannot load the PKCS#11 library ${path}: ${(error as Error).message}`, { cause: error });
  }
  let initialisedHere = true;
  try {
    // Signatures run on the addon's worker threads, so the library must lock for itself.
    api.C_Initialize({ flags: C.CKF_OS_LOCKING_OK });
  } catch (error) {
    if (resultCode(error) !== C.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
      throw new Pkcs11TokenError(`the PKCS#11 library ${path} failed to initialise: ${(error as Error).message}`, { cause: error });
    }
    initialisedHere = false;
  }
  return { path, api, C, initialisedHere, loggedIn: new Map() };
}

function releaseLibrary(library: Library): void {
  const entry = libraries.get(library.path);
  if (!entry || --entry.users > 0) return;
  libraries.delete(library.path);
  if (!library.initialisedHere) return;
  try {
    library.api.C_Finalize();
  } catch {
    // Nothing is left to release if it was already finalised.
  }
}

/** The CKR_* value of a PKCS#11 failure (pkcs11js puts it in `code`, or only in the message for callbacks). */
function resultCode(error: unknown): number | undefined {
  if (typeof (error as { code?: unknown })?.code === "number") return (error as { code: number }).code;
  const match = /CKR_[A-Z_]+:(\d+)/.exec(String((error as Error)?.message ?? ""));
  return match ? Number(match[1]) : undefined;
}

/** Run a token call, naming the token and the step if it fails. */
function step<T>(token: string, what: string, call: () => T): T {
  try {
    return call();
  } catch (error) {
    if (error instanceof Pkcs11TokenError) throw error;
    throw new Pkcs11TokenError(`the token ${token}: ${what} failed: ${(error as Error).message}`, { cause: error });
  }
}

const LABEL_MAX_BYTES = 64;
const TOKEN_LABEL_MAX_BYTES = 32; // CK_TOKEN_INFO.label is 32 bytes, blank-padded UTF-8

interface Waiter {
  resolve(session: Handle): void;
  reject(error: Error): void;
}

/** An open, logged-in token with a pool of sessions for signing. */
export class Pkcs11Token {
  readonly #config: Pkcs11Config;
  readonly #library: Library;
  readonly #slot: Handle;
  /** The session used for object management (find, generate); never used to sign. */
  readonly #admin: Handle;
  readonly #idle: Handle[] = [];
  readonly #waiting: Waiter[] = [];
  readonly #inFlight = new Set<Promise<unknown>>();
  #open: Handle[] = [];
  #closing: Promise<void> | undefined;

  private constructor(config: Pkcs11Config, library: Library, slot: Handle, admin: Handle) {
    this.#config = config;
    this.#library = library;
    this.#slot = slot;
    this.#admin = admin;
    this.#open.push(admin);
  }

  static async open(config: Pkcs11Config): Promise<Pkcs11Token> {
    if (!config.module) throw new Pkcs11TokenError("no PKCS#11 library path given");
    const tokenBytes = Buffer.byteLength(config.token ?? "");
    if (tokenBytes === 0 || tokenBytes > TOKEN_LABEL_MAX_BYTES) throw new Pkcs11TokenError(`the token label must be 1–${TOKEN_LABEL_MAX_BYTES} bytes`);
    if (!config.pin || config.pin.length > 255) throw new Pkcs11TokenError("the token PIN must be 1–255 characters");
    const sessions = config.sessions ?? 4;
    if (!Number.isSafeInteger(sessions) || sessions < 1 || sessions > 64) throw new Pkcs11TokenError("sessions must be 1–64");
    const library = await acquireLibrary(config.module);
    let admin: Handle | undefined;
    let token: Pkcs11Token | undefined;
    try {
      const slot = findSlot(library, config);
      admin = openSession(library, slot, config.token);
      login(library, slot, admin, config);
      token = new Pkcs11Token(config, library, slot, admin);
      for (let i = 0; i < sessions; i++) token.#idle.push(token.#openSession());
      return token;
    } catch (error) {
      if (token) await token.close();
      else {
        if (admin) closeQuietly(library, admin);
        releaseLibrary(library);
      }
      throw error;
    }
  }

  get label(): string {
    return this.#config.token;
  }

  /**
   * Generate an RSA-2048 key pair inside the token under `label`. The private half is sensitive,
   * never extractable, cannot be copied or modified, and can only sign; both halves are token
   * objects, so they survive restarts. Refuses a label already in use, so an existing CA key is
   * never shadowed. Returns the new key's signer.
   */
  async generateRsaKey(label: string): Promise<Pkcs11Signer> {
    this.#assertOpen();
    checkLabel(label);
    const { api, C } = this.#library;
    if (this.#find(label, C.CKO_PRIVATE_KEY)) throw new Pkcs11TokenError(`the token ${this.label} already holds a key labelled ${label}`);
    const id = randomBytes(16);
    const common = [
      { type: C.CKA_TOKEN, value: true },
      { type: C.CKA_LABEL, value: label },
      { type: C.CKA_ID, value: id },
      { type: C.CKA_MODIFIABLE, value: false },
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
          { type: C.CKA_VERIFY_RECOVER, value: false },
          { type: C.CKA_MODULUS_BITS, value: 2048 },
          { type: C.CKA_PUBLIC_EXPONENT, value: Buffer.from([1, 0, 1]) },
        ],
        [
          ...common,
          { type: C.CKA_PRIVATE, value: true },
          { type: C.CKA_SENSITIVE, value: true },
          { type: C.CKA_EXTRACTABLE, value: false },
          { type: C.CKA_COPYABLE, value: false },
          // A CA key signs and does nothing else (tokens default decrypt, unwrap and the rest to on).
          { type: C.CKA_SIGN, value: true },
          { type: C.CKA_SIGN_RECOVER, value: false },
          { type: C.CKA_DECRYPT, value: false },
          { type: C.CKA_UNWRAP, value: false },
          { type: C.CKA_DERIVE, value: false },
        ],
        (error, pair) => (error ? reject(new Pkcs11TokenError(`the token ${this.label} could not generate a key: ${error.message}`, { cause: error })) : resolve(pair)),
      ),
    );
    return new Pkcs11Signer(this, keys.privateKey, this.#publicKeyOf(keys.publicKey));
  }

  /** A signer for the private key labelled `label`; its public key comes from the token's public object. */
  signer(label: string): Pkcs11Signer {
    this.#assertOpen();
    checkLabel(label);
    const privateKey = this.#privateKey(label);
    const publicObject = this.#find(label, this.#library.C.CKO_PUBLIC_KEY);
    if (!publicObject) throw new Pkcs11TokenError(`the token ${this.label} holds no public key labelled ${label}`);
    return new Pkcs11Signer(this, privateKey, this.#publicKeyOf(publicObject));
  }

  /** What the token says the private key labelled `label` may do and how it is protected. */
  protection(label: string): Record<"sensitive" | "extractable" | "neverExtractable" | "local" | "modifiable" | "copyable" | "sign" | "signRecover" | "decrypt" | "unwrap" | "derive", boolean> {
    this.#assertOpen();
    checkLabel(label);
    const { api, C } = this.#library;
    const key = this.#privateKey(label);
    const names = ["sensitive", "extractable", "neverExtractable", "local", "modifiable", "copyable", "sign", "signRecover", "decrypt", "unwrap", "derive"] as const;
    const types = [C.CKA_SENSITIVE, C.CKA_EXTRACTABLE, C.CKA_NEVER_EXTRACTABLE, C.CKA_LOCAL, C.CKA_MODIFIABLE, C.CKA_COPYABLE, C.CKA_SIGN, C.CKA_SIGN_RECOVER, C.CKA_DECRYPT, C.CKA_UNWRAP, C.CKA_DERIVE];
    const attributes = step(this.label, "reading key attributes", () => api.C_GetAttributeValue(this.#admin, key, types.map((type) => ({ type }))));
    return Object.fromEntries(names.map((name, i) => [name, (attributes[i]?.value as Buffer | undefined)?.[0] === 1])) as ReturnType<Pkcs11Token["protection"]>;
  }

  /**
   * Whether the private key labelled `label` can leave the token: its CKA_SENSITIVE and
   * CKA_EXTRACTABLE only (attributes every PKCS#11 version has, unlike some `protection` reads).
   */
  exposure(label: string): { sensitive: boolean; extractable: boolean } {
    this.#assertOpen();
    checkLabel(label);
    const { api, C } = this.#library;
    const key = this.#privateKey(label);
    const [sensitive, extractable] = step(this.label, "reading key attributes", () =>
      api.C_GetAttributeValue(this.#admin, key, [{ type: C.CKA_SENSITIVE }, { type: C.CKA_EXTRACTABLE }]),
    );
    return { sensitive: (sensitive?.value as Buffer | undefined)?.[0] === 1, extractable: (extractable?.value as Buffer | undefined)?.[0] !== 0 };
  }

  /** Sign with a pooled session: PKCS#11 allows one operation at a time per session. */
  sign(privateKey: Handle, data: Uint8Array, signatureLength: number): Promise<Uint8Array> {
    if (this.#closing) return Promise.reject(new Pkcs11TokenError(`the token ${this.label} is closed`));
    const signing = this.#signOnSession(privateKey, data, signatureLength);
    this.#inFlight.add(signing);
    void signing.catch(() => undefined).finally(() => this.#inFlight.delete(signing));
    return signing;
  }

  async #signOnSession(privateKey: Handle, data: Uint8Array, signatureLength: number): Promise<Uint8Array> {
    const session = this.#idle.pop() ?? (await new Promise<Handle>((resolve, reject) => this.#waiting.push({ resolve, reject })));
    const { api, C } = this.#library;
    // The addon keeps only a pointer to the input while its worker signs: this closure holds our own copy until then.
    const input = Buffer.from(data);
    try {
      api.C_SignInit(session, { mechanism: C.CKM_SHA256_RSA_PKCS }, privateKey);
      // The callback form runs in the addon's worker, off the event loop, like Node's own async sign.
      const signature = await new Promise<Buffer>((resolve, reject) =>
        api.C_Sign(session, input, Buffer.alloc(signatureLength), (error, out) => (error ? reject(error) : resolve(out))),
      );
      return new Uint8Array(signature.buffer, signature.byteOffset, signature.byteLength);
    } catch (error) {
      // A token that dropped its sessions or forgot its objects (a reset HSM) keeps failing
      // here, closed, until the process opens it again: re-finding keys behind the CA's back is
      // left to a restart, which also re-checks each key against its certificate.
      throw new Pkcs11TokenError(`the token ${this.label} refused to sign: ${(error as Error).message}`, { cause: error });
    } finally {
      this.#release(session);
    }
  }

  /**
   * Close the token: refuse new signatures, fail the waiting ones, let those already in the
   * token finish (closing a session under a running C_Sign is undefined behaviour), then close
   * the sessions and release the library (finalised when its last user in this process closes).
   */
  close(): Promise<void> {
    return (this.#closing ??= (async () => {
      for (const waiter of this.#waiting.splice(0)) waiter.reject(new Pkcs11TokenError(`the token ${this.label} is closed`));
      await Promise.allSettled([...this.#inFlight]);
      for (const session of this.#open) closeQuietly(this.#library, session);
      this.#open = [];
      this.#idle.length = 0;
      // Closing the last session on a token logs the process out of it; forget the login then.
      const slotKey = this.#slot.toString("hex");
      const login = this.#library.loggedIn.get(slotKey);
      if (login && --login.users === 0) this.#library.loggedIn.delete(slotKey);
      releaseLibrary(this.#library);
    })());
  }

  #release(session: Handle): void {
    if (this.#closing) return; // close() closes every session it opened
    const next = this.#waiting.shift();
    if (next) next.resolve(session);
    else this.#idle.push(session);
  }

  #openSession(): Handle {
    const session = openSession(this.#library, this.#slot, this.label);
    this.#open.push(session);
    return session;
  }

  #privateKey(label: string): Handle {
    const key = this.#find(label, this.#library.C.CKO_PRIVATE_KEY);
    if (!key) throw new Pkcs11TokenError(`the token ${this.label} holds no private key labelled ${label}`);
    return key;
  }

  #find(label: string, objectClass: number): Handle | undefined {
    const { api, C } = this.#library;
    return step(this.label, `finding ${label}`, () => {
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
    });
  }

  #publicKeyOf(object: Handle): KeyObject {
    const { api, C } = this.#library;
    const [modulus, exponent] = step(this.label, "reading a public key", () =>
      api.C_GetAttributeValue(this.#admin, object, [{ type: C.CKA_MODULUS }, { type: C.CKA_PUBLIC_EXPONENT }]),
    );
    const n = modulus?.value;
    const e = exponent?.value;
    if (!Buffer.isBuffer(n) || !Buffer.isBuffer(e) || n.length < 256 || n.length > 512 || e.length === 0 || e.length > 8) {
      throw new Pkcs11TokenError(`the token ${this.label} returned no usable RSA public key`);
    }
    return createPublicKey({ key: { kty: "RSA", n: n.toString("base64url"), e: e.toString("base64url") }, format: "jwk" });
  }

  #assertOpen(): void {
    if (this.#closing) throw new Pkcs11TokenError(`the token ${this.label} is closed`);
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

/** The one slot whose token has this label; two tokens with the same label are refused (which one would sign?). */
function findSlot(library: Library, config: Pkcs11Config): Handle {
  const { api } = library;
  const labels: string[] = [];
  const matching: Handle[] = [];
  for (const slot of step(config.token, "listing slots", () => api.C_GetSlotList(true))) {
    const label = step(config.token, "reading token information", () => api.C_GetTokenInfo(slot)).label.trim();
    if (label === config.token) matching.push(slot);
    else if (label) labels.push(label); // SoftHSM always offers one free, unlabelled slot
  }
  if (matching.length > 1) throw new Pkcs11TokenError(`${matching.length} tokens are labelled ${config.token} in ${library.path}; relabel all but one`);
  if (matching[0]) return matching[0];
  throw new Pkcs11TokenError(`no token labelled ${config.token} in ${library.path} (tokens present: ${labels.length ? labels.join(", ") : "none"})`);
}

function login(library: Library, slot: Handle, session: Handle, config: Pkcs11Config): void {
  const { api, C } = library;
  const slotKey = slot.toString("hex");
  const previous = library.loggedIn.get(slotKey);
  if (previous !== undefined) {
    // Another open token in this process logged in already, and the token would accept anything
    // now: the PIN must be the one it checked.
    if (previous.pin !== config.pin) throw new Pkcs11TokenError(`wrong PIN for the token ${config.token}`);
    previous.users++;
    return;
  }
  try {
    api.C_Login(session, C.CKU_USER, config.pin);
  } catch (error) {
    const code = resultCode(error);
    if (code === C.CKR_PIN_INCORRECT) throw new Pkcs11TokenError(`wrong PIN for the token ${config.token}`, { cause: error });
    if (code === C.CKR_PIN_LOCKED) throw new Pkcs11TokenError(`the PIN of the token ${config.token} is locked`, { cause: error });
    if (code === C.CKR_USER_ALREADY_LOGGED_IN) {
      // Logged in by code outside this module, so this PIN was never checked: fail closed.
      throw new Pkcs11TokenError(`the token ${config.token} is already logged in by other code in this process; its PIN cannot be checked`, { cause: error });
    }
    throw new Pkcs11TokenError(`cannot log in to the token ${config.token}: ${(error as Error).message}`, { cause: error });
  }
  library.loggedIn.set(slotKey, { pin: config.pin, users: 1 });
}

function checkLabel(label: string): void {
  if (Buffer.byteLength(label) > LABEL_MAX_BYTES || !/^[\x21-\x7e]+$/.test(label)) {
    throw new Pkcs11TokenError(`a key label must be 1–${LABEL_MAX_BYTES} printable ASCII characters without spaces: ${JSON.stringify(label.slice(0, 80))}`);
  }
}

function openSession(library: Library, slot: Handle, token: string): Handle {
  const { api, C } = library;
  return step(token, "opening a session", () => api.C_OpenSession(slot, C.CKF_SERIAL_SESSION | C.CKF_RW_SESSION));
}

function closeQuietly(library: Library, session: Handle): void {
  try {
    library.api.C_CloseSession(session);
  } catch {
    // A session the library already closed needs nothing more.
  }
}
