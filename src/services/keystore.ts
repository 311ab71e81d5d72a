import { createPrivateKey, randomBytes, type KeyObject } from "node:crypto";
import { chmodSync, closeSync, existsSync, fstatSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Kysely } from "kysely";
import type { Database } from "../store/schema.ts";
import { createOnce } from "../card/atomic-file.ts";
import { ServiceError } from "./errors.ts";
import {
  decryptPkcs8,
  encryptedPkcs8Der,
  encryptedPkcs8Pem,
  encryptPkcs8,
  MAX_PBKDF2_ITERATIONS,
  PBKDF2_ITERATIONS,
  Pbes2Error,
  readEncryptedPkcs8,
} from "../pki/pbes2.ts";

/**
 * The CA key store: private keys exist on disk or in the database only as encrypted PKCS#8
 * (PBES2: PBKDF2-HMAC-SHA256 and AES-256-CBC, the standard OpenSSL reads too), under a passphrase
 * the operator supplies. The embedded default generates one in the data directory with mode 0600.
 */
export interface PassphraseSource {
  passphrase: string;
  /** Where it came from, for the start-up message. */
  origin: "environment" | "file" | "generated";
  path?: string;
}

/** The shortest passphrase accepted, from the environment or a file alike. */
const MIN_PASSPHRASE_LENGTH = 16;

export async function resolveCaPassphrase(dataDir: string, env: NodeJS.ProcessEnv = process.env): Promise<PassphraseSource> {
  if (env.OPENJPKI_CA_PASSPHRASE) {
    if (env.OPENJPKI_CA_PASSPHRASE.length < MIN_PASSPHRASE_LENGTH) {
      throw new ServiceError(
        "bad-passphrase",
        `CA パスフレーズが短すぎます / OPENJPKI_CA_PASSPHRASE is shorter than ${MIN_PASSPHRASE_LENGTH} characters`,
      );
    }
    return { passphrase: env.OPENJPKI_CA_PASSPHRASE, origin: "environment" };
  }
  const explicitFile = env.OPENJPKI_CA_PASSPHRASE_FILE;
  if (explicitFile) return { passphrase: readPassphraseFile(explicitFile), origin: "file", path: explicitFile };
  const path = join(dataDir, "ca-passphrase");
  if (existsSync(path)) return { passphrase: readPassphraseFile(path), origin: "file", path };
  // Whole or not at all (a start killed midway leaves no empty file), and one winner: two first
  // starts at once both use the passphrase that was linked into place first.
  const created = await createOnce(path, Buffer.from(`${randomBytes(32).toString("base64url")}\n`), 0o600);
  if (created) chmodSync(path, 0o600); // whatever the umask
  return { passphrase: readPassphraseFile(path), origin: created ? "generated" : "file", path };
}

/**
 * A file holding a secret (the CA passphrase, the HSM PIN): its text, and its mode as octal when
 * group or others may read it (undefined when only its owner may). The mode is the one of the file
 * read, not of whatever the name points at a moment later. Throws the fs error when it cannot be read.
 */
export function readSecretFile(path: string): { text: string; readableByOthers: string | undefined } {
  const fd = openSync(path, "r");
  try {
    const mode = fstatSync(fd).mode;
    return { text: readFileSync(fd, "utf8"), readableByOthers: (mode & 0o077) !== 0 ? (mode & 0o777).toString(8).padStart(3, "0") : undefined };
  } finally {
    closeSync(fd);
  }
}

function readPassphraseFile(path: string): string {
  let text: string;
  let readableByOthers: string | undefined;
  try {
    ({ text, readableByOthers } = readSecretFile(path));
  } catch (error) {
    throw new ServiceError("bad-passphrase", `cannot read the CA passphrase file ${path}: ${(error as Error).message}`);
  }
  const passphrase = text.trim();
  if (passphrase.length === 0) {
    throw new ServiceError(
      "bad-passphrase",
      `the CA passphrase file ${path} is empty. An older version left it so when a first start was killed while writing it: ` +
        "if this store has no CA keys yet (a new data directory), delete the file and start again; otherwise put the passphrase the keys were made under in it",
    );
  }
  // Like the HSM PIN file: readable by its owner alone (an empty file holds no secret, and says what to do above).
  if (readableByOthers !== undefined) {
    throw new ServiceError(
      "bad-passphrase",
      `CA パスフレーズのファイルを他のユーザーが読めます / the CA passphrase file ${path} is readable by others (mode ${readableByOthers}); chmod 600 it`,
    );
  }
  if (passphrase.length < MIN_PASSPHRASE_LENGTH) {
    throw new ServiceError("bad-passphrase", `the CA passphrase in ${path} is shorter than ${MIN_PASSPHRASE_LENGTH} characters`);
  }
  return passphrase;
}

/**
 * A private key encrypted for the store: PBES2 EncryptedPrivateKeyInfo PEM (RFC 8018) with
 * PBKDF2-HMAC-SHA256 at {@link PBKDF2_ITERATIONS} and AES-256-CBC, which `openssl pkcs8` reads.
 * The derivation runs on the thread pool, not on the event loop. `iterations` is for tests only.
 */
export async function wrapPrivateKey(key: KeyObject, passphrase: string, iterations: number = PBKDF2_ITERATIONS): Promise<string> {
  const pkcs8 = key.export({ type: "pkcs8", format: "der" });
  try {
    return encryptedPkcs8Pem(await encryptPkcs8(pkcs8, passphrase, iterations));
  } finally {
    pkcs8.fill(0);
  }
}

/**
 * The key of a stored ENCRYPTED PRIVATE KEY PEM (written by {@link wrapPrivateKey} or, by versions
 * before 2026-12, by Node's export at OpenSSL's 2,048 iterations), and the iteration count it was stored at. Its parameters are checked
 * before anything is derived: a form or count outside the limits is refused, not tried.
 */
export async function unwrapPrivateKey(pem: string, passphrase: string, what: string): Promise<{ key: KeyObject; iterations: number }> {
  refuseClear(pem, what);
  const der = checkedEncryptedDer(pem, what);
  let pkcs8: Buffer | undefined;
  try {
    const decrypted = await decryptPkcs8(der, passphrase);
    pkcs8 = decrypted.pkcs8;
    return { key: createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" }), iterations: decrypted.parameters.iterations };
  } catch (error) {
    // A wrong passphrase fails the padding check, or (rarely) passes it and yields bytes that are no PKCS#8 key.
    throw wrongPassphrase(what, error);
  } finally {
    pkcs8?.fill(0);
  }
}

/**
 * The private keys the services keep under the CA passphrase besides the CA keys (OCSP responders,
 * terminals, the OIDC signing key), written at the CA keys' PBKDF2 count: one per context, held by
 * those services instead of the passphrase. Each derivation at the production count costs ≈0.2 s on
 * the thread pool, so the services read a key once and keep it in memory.
 */
export class KeyWrapping {
  constructor(
    private readonly passphrase: string,
    /** Production keeps the default; tests lower it (ContextOptions.caKdfIterations). */
    readonly iterations: number = PBKDF2_ITERATIONS,
  ) {}

  /** Keys this object wrapped, by their stored form, until read back once (the newest few: another node's row may have won). */
  readonly #written = new Map<string, KeyObject>();

  async wrap(key: KeyObject): Promise<string> {
    const pem = await wrapPrivateKey(key, this.passphrase, this.iterations);
    this.#written.set(pem, key);
    if (this.#written.size > 16) this.#written.delete(this.#written.keys().next().value!);
    return pem;
  }

  /**
   * A stored key, at whatever count it was written (the 2,048 of earlier versions included). A key
   * this object just wrapped is handed back without a derivation (≈0.2 s at the production count):
   * a service that makes a key, stores it and reads its row back pays once, not twice.
   */
  async unwrap(pem: string, what: string): Promise<KeyObject> {
    const written = this.#written.get(pem);
    if (written) {
      this.#written.delete(pem);
      return written;
    }
    return (await unwrapPrivateKey(pem, this.passphrase, what)).key;
  }

  /**
   * A stored key written at fewer iterations than this count, encrypted again at it; undefined when
   * it already is that strong (told from its parameters, nothing derived). The new form is read back
   * and proved to hold the same key before it is returned, so the caller can replace the stored value
   * in one statement guarded on the old one: a crash leaves either form, each readable.
   */
  async rewrap(pem: string, what: string, accept?: (key: KeyObject) => void): Promise<string | undefined> {
    if (storedIterations(pem, what) >= this.iterations) return undefined;
    const { key } = await unwrapPrivateKey(pem, this.passphrase, what);
    accept?.(key); // the caller's own check of the key as read (the CA's: it is the certificate's key)
    const rewrapped = await this.wrap(key);
    const check = await unwrapPrivateKey(rewrapped, this.passphrase, what);
    if (check.iterations !== this.iterations || !check.key.equals(key)) {
      throw new Error(`${what}: the re-encrypted key does not read back as the same key at ${this.iterations} iterations`);
    }
    return rewrapped;
  }
}

/** The PBKDF2 iteration count a stored key was encrypted at, read from its parameters (nothing derived). */
export function storedIterations(pem: string, what: string): number {
  refuseClear(pem, what);
  return readEncryptedPkcs8(checkedEncryptedDer(pem, what)).parameters.iterations;
}

function refuseClear(pem: string, what: string): void {
  // createPrivateKey ignores the passphrase of a key in clear: such a key is refused, not used.
  if (!/^\s*-----BEGIN ENCRYPTED PRIVATE KEY-----/.test(pem)) {
    throw new ServiceError(
      "ca-unavailable",
      `保存された ${what} 鍵が暗号化されていません / the ${what} key in the store is not encrypted (not an ENCRYPTED PRIVATE KEY PEM): a private key kept in clear is not used`,
    );
  }
}

/** The DER of a stored encrypted key whose parameters are within limits (say which one is not, never the key). */
function checkedEncryptedDer(pem: string, what: string): Uint8Array {
  try {
    const der = encryptedPkcs8Der(pem);
    readEncryptedPkcs8(der);
    return der;
  } catch (error) {
    if (!(error instanceof Pbes2Error)) throw error;
    throw new ServiceError(
      "ca-unavailable",
      `保存された ${what} 鍵の暗号化の形式またはパラメータが受け付けられる範囲外です / the ${what} key in the store is refused: ${error.message} ` +
        `(accepted: PBES2 with PBKDF2-HMAC-SHA-1/2 at 1–${MAX_PBKDF2_ITERATIONS} iterations and AES-CBC)`,
      undefined,
      { cause: error },
    );
  }
}

function wrongPassphrase(what: string, error: unknown): ServiceError {
  return new ServiceError("bad-passphrase", `${what} 鍵を復号できません。CA パスフレーズが違いませんか / cannot decrypt the ${what} key: wrong CA passphrase?`, undefined, { cause: error });
}

/** The tables that keep a key per row in `private_key_pem`, keyed by `id`. */
type KeyTable = "authorities" | "ocsp_responders" | "terminal_keys";

/**
 * Every stored key of `table` that `stronger` encrypts again (undefined: nothing to do), each
 * replaced by one UPDATE guarded on the old value, so a crash leaves either form and two nodes at
 * once change it once (`openjpki ca rewrap-keys`).
 */
export async function rewrapKeyTable<T extends KeyTable>(
  db: Kysely<Database>,
  table: T,
  stronger: (row: Database[T]) => Promise<string | undefined>,
): Promise<{ id: string; rewrapped: boolean }[]> {
  // One body for the three tables: kysely cannot type a column shared by a union of tables.
  const keys = db as unknown as Kysely<{ key_table: { id: string; private_key_pem: string } }>;
  const name = table as KeyTable as "key_table";
  const rows = (await keys.selectFrom(name).selectAll().orderBy("id").execute()) as unknown as Database[T][];
  const done: { id: string; rewrapped: boolean }[] = [];
  for (const row of rows) {
    const { id, private_key_pem: old } = row as unknown as { id: string; private_key_pem: string };
    const pem = await stronger(row);
    const updated = pem === undefined ? undefined : await keys.updateTable(name).set({ private_key_pem: pem }).where("id", "=", id).where("private_key_pem", "=", old).executeTakeFirst();
    done.push({ id, rewrapped: Number(updated?.numUpdatedRows ?? 0) === 1 });
  }
  return done;
}
