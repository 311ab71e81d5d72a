import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { createOnce, removeDeadWritersTemporaries, replaceDurably } from "./atomic-file.ts";

/** What a PIN EF keeps: its reference data (a MAC, null = never set) and tries left. */
export interface PinRecord {
  mac: string | null;
  tries: number;
}

/** A private key EF: the sealed PKCS#8 and the public key (SPKI DER), base64. */
export interface KeyRecord {
  sealed: string;
  publicKey: string;
}

/** Per-card switches set at manufacture (spec card-protocol §2.6, rules §2.4). */
export interface CardSwitches {
  /** Re-selecting the AP that is already current clears verified PINs (default: keep). */
  reselectClearsPins: boolean;
  /** A kiosk terminal may reset the auth PIN after the signing password (the municipality offers the route). */
  kioskAuthPinReset: boolean;
}

/** The persisted chip: everything that survives power loss. */
export interface ChipImage {
  format: 1;
  cardId: string;
  manufacturedAt: string;
  masterKeyCheck: string;
  /** SPKI DER (base64) of the terminal CA the card trusts. */
  terminalCaPublicKey: string;
  switches: CardSwitches;
  /** EF contents by `fileKey(ap, fid)`, base64. */
  files: Record<string, string>;
  pins: Record<string, PinRecord>;
  keys: Record<string, KeyRecord>;
}

export const IMAGE_FILE = "chip.json";
const MAX_IMAGE_BYTES = 1 << 20;

/**
 * The card's non-volatile memory: one JSON image replaced atomically. Every change is
 * written to a temporary file, fsynced, renamed over the image and the directory
 * fsynced before `update` resolves, so a caller that answers only after `update`
 * never reports a state that a crash could undo.
 */
export class ChipStore {
  #image: ChipImage;
  readonly #dir: string;
  readonly #afterCommit: ((reason: string) => void) | undefined;

  private constructor(dir: string, image: ChipImage, afterCommit?: (reason: string) => void) {
    this.#dir = dir;
    this.#image = image;
    this.#afterCommit = afterCommit;
  }

  static async create(dir: string, image: ChipImage, afterCommit?: (reason: string) => void): Promise<ChipStore> {
    const store = new ChipStore(dir, image, afterCommit);
    // Manufacturing must not overwrite an existing card; and the image appears whole or not at
    // all (an empty guard file created first was left empty by a crash before the image).
    const target = join(dir, IMAGE_FILE);
    if (!(await createOnce(target, Buffer.from(JSON.stringify(image)), 0o600))) {
      throw Object.assign(new Error(`EEXIST: a chip image already exists at ${target}`), { code: "EEXIST" });
    }
    return store;
  }

  static async open(dir: string, afterCommit?: (reason: string) => void): Promise<ChipStore> {
    const path = join(dir, IMAGE_FILE);
    // Checked before reading: a damaged or planted image must not be read whole into memory.
    if ((await stat(path)).size > MAX_IMAGE_BYTES) throw new Error("chip image too large");
    const text = await readFile(path, "utf8");
    // Every write clears them too (atomic-file.ts); a card that is only read is cleared here.
    await removeDeadWritersTemporaries(path);
    const image = JSON.parse(text) as ChipImage;
    if (image.format !== 1) throw new Error(`unsupported chip image format ${String(image.format)}`);
    return new ChipStore(dir, image, afterCommit);
  }

  get image(): Readonly<ChipImage> {
    return this.#image;
  }

  /**
   * Apply `mutate` to a copy, persist the copy durably, then make it current. If the
   * write fails the in-memory state is unchanged and the error propagates.
   */
  async update(reason: string, mutate: (draft: ChipImage) => void): Promise<void> {
    const draft = structuredClone(this.#image);
    mutate(draft);
    await replaceDurably(join(this.#dir, IMAGE_FILE), JSON.stringify(draft), 0o600);
    this.#image = draft;
    this.#afterCommit?.(reason);
  }
}
