/**
 * The virtual My Number Card. Reached only through APDUs (VirtualCard implements
 * CardEndpoint); this module makes and opens cards and exports the card's constants.
 * It imports nothing of the rest of OpenJPKI.
 */
import { createPublicKey, randomBytes, type KeyObject } from "node:crypto";
import { mkdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { createOnce } from "./atomic-file.ts";
import { ChipSecrets } from "./chip-crypto.ts";
import { ChipStore, type CardSwitches, type ChipImage } from "./chip-store.ts";
import { VirtualCard, type RuntimeOptions } from "./card.ts";
import { fileKey } from "./files.ts";
import { JPKI_EF, tokenInfo } from "./jpki-ap.ts";

export { VirtualCard, DEFAULT_ATR, type RuntimeOptions } from "./card.ts";
export type { CardSwitches } from "./chip-store.ts";
export { JPKI_AID, JPKI_EF } from "./jpki-ap.ts";
export { KENHOJO_AID, KENHOJO_EF } from "./kenhojo-ap.ts";
export { TERMINAL_ROLE_OID, OPENJPKI_ARC, TERMINAL_AUTH_CONTEXT } from "./terminal-auth.ts";

export const MASTER_KEY_FILE = "chip-master.key";

export interface OpenCardOptions extends RuntimeOptions {
  /** The 32-byte chip master key. Without it, the key is read from `chipMasterKeyFile`. */
  chipMasterKey?: Uint8Array;
  /** A 0600 file holding the master key; default `<dir>/chip-master.key`. */
  chipMasterKeyFile?: string;
}

export interface ManufactureOptions extends OpenCardOptions {
  /** The card's own directory (created if missing; must not already hold a card). */
  dir: string;
  cardId: string;
  /** SubjectPublicKeyInfo DER of the terminal CA whose terminals the card will obey. */
  terminalCaPublicKeyDer: Uint8Array;
  switches?: Partial<CardSwitches>;
  /** Serial number shown in EF 0006 (16 ASCII characters at most); default the card ID. */
  serialNumber?: string;
  /** Time of manufacture (EF 0006); default now. */
  manufacturedAt?: Date;
}

/**
 * Make a blank card: empty certificate EFs, no keys, PINs not set (they behave as
 * blocked until a counter terminal sets them). If no master key is given and the key
 * file does not exist, a fresh random key is written to it with mode 0600; concurrent
 * first manufactures all end with the same key (loadOrCreateMasterKey).
 */
export async function manufactureCard(opts: ManufactureOptions): Promise<VirtualCard> {
  if (!/^[\x21-\x7e]{1,64}$/.test(opts.cardId)) throw new TypeError("cardId must be 1–64 printable ASCII characters");
  const terminalCa = parseTerminalCaKey(opts.terminalCaPublicKeyDer);
  await mkdir(opts.dir, { recursive: true, mode: 0o700 });
  const masterKey = opts.chipMasterKey ?? (await loadOrCreateMasterKey(masterKeyPath(opts.dir, opts), true));
  const secrets = new ChipSecrets(masterKey);
  const manufacturedAt = opts.manufacturedAt ?? new Date();
  const image: ChipImage = {
    format: 1,
    cardId: opts.cardId,
    manufacturedAt: manufacturedAt.toISOString(),
    masterKeyCheck: secrets.checkValue(opts.cardId),
    terminalCaPublicKey: Buffer.from(opts.terminalCaPublicKeyDer).toString("base64"),
    switches: {
      reselectClearsPins: opts.switches?.reselectClearsPins ?? false,
      kioskAuthPinReset: opts.switches?.kioskAuthPinReset ?? false,
    },
    files: {
      [fileKey("jpki", JPKI_EF.TOKEN_INFO)]: Buffer.from(
        tokenInfo(opts.serialNumber ?? opts.cardId, manufacturedAt),
      ).toString("base64"),
    },
    pins: {},
    keys: {},
  };
  const store = await ChipStore.create(opts.dir, image, opts.afterCommit);
  return new VirtualCard(store, secrets, terminalCa, opts);
}

/** Open a card made earlier by manufactureCard. */
export async function openCard(dir: string, opts: OpenCardOptions = {}): Promise<VirtualCard> {
  const store = await ChipStore.open(dir, opts.afterCommit);
  const masterKey = opts.chipMasterKey ?? (await loadOrCreateMasterKey(masterKeyPath(dir, opts), false));
  const secrets = new ChipSecrets(masterKey);
  if (secrets.checkValue(store.image.cardId) !== store.image.masterKeyCheck) {
    throw new Error(`wrong chip master key for card ${store.image.cardId}`);
  }
  const terminalCa = parseTerminalCaKey(Buffer.from(store.image.terminalCaPublicKey, "base64"));
  return new VirtualCard(store, secrets, terminalCa, opts);
}

function masterKeyPath(dir: string, opts: OpenCardOptions): string {
  return opts.chipMasterKeyFile ?? join(dir, MASTER_KEY_FILE);
}

function parseTerminalCaKey(der: Uint8Array): KeyObject {
  const key = createPublicKey({ key: Buffer.from(der), format: "der", type: "spki" });
  if (key.asymmetricKeyType !== "rsa") throw new TypeError("the terminal CA key must be RSA");
  return key;
}

/**
 * The master key file is written once and then never changed: every card made with a key needs
 * that same key to open again. The key is written whole to a temporary file and linked into
 * place (atomic-file.ts), so a reader never sees part of it and, when several processes make
 * their first card at once, exactly one key wins and all of them use it.
 */
async function loadOrCreateMasterKey(path: string, create: boolean): Promise<Uint8Array> {
  try {
    return await readMasterKey(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT" || !create) throw e;
  }
  await createOnce(path, randomBytes(32), 0o600);
  return readMasterKey(path); // ours, or a concurrent winner's: whole either way
}

async function readMasterKey(path: string): Promise<Uint8Array> {
  const info = await stat(path);
  // What an older version left when it crashed between creating the file and writing the key.
  // No card can have been made with it, but removing it here could race another process that
  // has just put a real key in its place: the operator removes it, once.
  if (info.size === 0) {
    throw new Error(`${path} is empty (left by a crash before any card was made with it): delete it, and a new key is made with the next card`);
  }
  // Like ssh with its keys: refuse a master key others can read.
  if (info.mode & 0o077) throw new Error(`${path} must not be accessible to group or others (chmod 600)`);
  const key = await readFile(path);
  if (key.length !== 32) {
    throw new Error(
      `${path} must hold exactly 32 bytes but holds ${key.length}: it is not replaced, since cards may need the key ` +
        "it should hold (restore it from a backup)",
    );
  }
  return key;
}
