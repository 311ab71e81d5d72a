import { createPrivateKey, type KeyObject } from "node:crypto";
import { parseCommandApdu, statusOnly, type CommandApdu } from "./apdu.ts";
import { SW } from "./status-words.ts";
import { SecurityState } from "./security-state.ts";
import { fileKey, type ApDefinition, type ApId, type Ef } from "./files.ts";
import { JPKI_AP } from "./jpki-ap.ts";
import { KENHOJO_AP, OTHER_APS } from "./kenhojo-ap.ts";
import { StorageError, type CardContext, type Handler } from "./context.ts";
import type { ChipImage, ChipStore, PinRecord } from "./chip-store.ts";
import type { ChipSecrets } from "./chip-crypto.ts";
import { makeSelect } from "./select.ts";
import { readBinary } from "./read-binary.ts";
import { verify, changeReferenceData } from "./pin-commands.ts";
import { computeSignature } from "./sign-command.ts";
import {
  getChallenge,
  verifyCertificate,
  externalAuthenticate,
  generateKeyPairCommand,
  replaceBinary,
  resetRetryCounter,
} from "./issuer-commands.ts";

/** The ATR OpenSC's jpki driver matches directly (spec §5.1, §8); T=1. */
export const DEFAULT_ATR = Uint8Array.from(Buffer.from("3BE000FF8131FE4514", "hex"));

const APS: readonly ApDefinition[] = [JPKI_AP, KENHOJO_AP, ...OTHER_APS];
const NO_CONTENT = new Uint8Array(0);

export interface RuntimeOptions {
  /** The card's notion of time, used only to check terminal certificates' validity. */
  clock?: () => Date;
  /** Called after every durable commit, before the answer leaves the card. For crash tests only. */
  afterCommit?: (reason: string) => void;
  atr?: Uint8Array;
}

/**
 * The chip's inside: storage, secrets, volatile state. Handed to command handlers
 * and never exposed by VirtualCard, so no public path leads to a private key.
 */
class ChipContext implements CardContext {
  readonly state = new SecurityState();
  readonly #store: ChipStore;
  readonly #secrets: ChipSecrets;
  readonly #terminalCa: KeyObject;
  readonly #clock: () => Date;
  #fileCache = new Map<string, Uint8Array>();
  #keyCache = new Map<string, { sealed: string; key: KeyObject }>();

  constructor(store: ChipStore, secrets: ChipSecrets, terminalCa: KeyObject, clock: () => Date) {
    this.#store = store;
    this.#secrets = secrets;
    this.#terminalCa = terminalCa;
    this.#clock = clock;
  }

  get image(): Readonly<ChipImage> {
    return this.#store.image;
  }
  get secrets(): ChipSecrets {
    return this.#secrets;
  }
  get terminalCa(): KeyObject {
    return this.#terminalCa;
  }
  now(): Date {
    return this.#clock();
  }
  currentAp(): ApDefinition | null {
    const id = this.state.currentAp;
    return id ? (APS.find((a) => a.id === id) ?? null) : null;
  }
  ef(fid: number): Ef | undefined {
    return this.currentAp()?.efs.get(fid);
  }
  storageKey(ap: ApId, fid: number): string {
    return fileKey(ap, fid);
  }
  fileContent(fid: number): Uint8Array {
    const ap = this.currentAp();
    const ef = ap?.efs.get(fid);
    if (!ap || !ef || ef.kind !== "binary") return NO_CONTENT;
    if (ef.computed) return ef.computed((f) => this.image.files[fileKey(ap.id, f)] !== undefined);
    const key = fileKey(ap.id, fid);
    let bytes = this.#fileCache.get(key);
    if (!bytes) {
      const stored = this.image.files[key];
      bytes = stored === undefined ? NO_CONTENT : Uint8Array.from(Buffer.from(stored, "base64"));
      this.#fileCache.set(key, bytes);
    }
    return bytes;
  }
  pin(fid: number): PinRecord {
    const ap = this.state.currentAp;
    return (ap && this.image.pins[fileKey(ap, fid)]) || { mac: null, tries: 0 };
  }
  privateKey(fid: number): KeyObject | null {
    const ap = this.state.currentAp;
    if (!ap) return null;
    const key = fileKey(ap, fid);
    const record = this.image.keys[key];
    if (!record) return null;
    const cached = this.#keyCache.get(key);
    if (cached && cached.sealed === record.sealed) return cached.key;
    const pkcs8 = this.#secrets.unseal(`${this.image.cardId}/${key}`, record.sealed);
    const privateKey = createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" });
    pkcs8.fill(0);
    this.#keyCache.set(key, { sealed: record.sealed, key: privateKey });
    return privateKey;
  }
  async commit(reason: string, mutate: (draft: ChipImage) => void): Promise<void> {
    try {
      await this.#store.update(reason, mutate);
    } catch (e) {
      throw new StorageError(`chip storage: ${(e as Error).message}`, { cause: e });
    } finally {
      this.#fileCache.clear();
    }
  }
}

/**
 * A My Number Card chip. APDUs in, APDUs out; nothing else of the card is reachable.
 * Commands are processed one at a time, as a card does, even if transmit is called
 * concurrently. No method returns private key material.
 *
 * Its public methods are, by shape, the `CardEndpoint` a reader talks to (src/readers/reader.ts).
 * The card imports nothing of ours, so it does not name that interface; the compiler checks the
 * fit where a card is handed to a reader.
 */
export class VirtualCard {
  readonly #ctx: ChipContext;
  readonly #atr: Uint8Array;
  readonly #iso: ReadonlyMap<number, Handler>;
  readonly #proprietary: ReadonlyMap<number, Handler>;
  #powered = false;
  #queue: Promise<unknown> = Promise.resolve();

  /** @internal use manufactureCard / openCard. */
  constructor(store: ChipStore, secrets: ChipSecrets, terminalCa: KeyObject, options: RuntimeOptions = {}) {
    this.#ctx = new ChipContext(store, secrets, terminalCa, options.clock ?? (() => new Date()));
    this.#atr = Uint8Array.from(options.atr ?? DEFAULT_ATR);
    this.#iso = new Map<number, Handler>([
      [0xa4, makeSelect(APS, () => this.#ctx.image.switches.reselectClearsPins)],
      [0xb0, readBinary],
      [0x20, verify],
      [0x24, changeReferenceData],
      [0x84, getChallenge],
      [0x2a, verifyCertificate],
      [0x82, externalAuthenticate],
      [0x46, generateKeyPairCommand],
      [0x2c, resetRetryCounter],
    ]);
    this.#proprietary = new Map<number, Handler>([
      [0x2a, computeSignature],
      [0xd6, replaceBinary],
    ]);
  }

  get cardId(): string {
    return this.#ctx.image.cardId;
  }

  atr(): Uint8Array {
    return Uint8Array.from(this.#atr);
  }

  powerOn(): Promise<Uint8Array> {
    return this.#serial(() => {
      this.#ctx.state.clearAll();
      this.#powered = true;
      return this.atr();
    });
  }

  powerOff(): Promise<void> {
    return this.#serial(() => {
      this.#ctx.state.clearAll();
      this.#powered = false;
    });
  }

  reset(): Promise<Uint8Array> {
    return this.powerOn();
  }

  transmit(command: Uint8Array): Promise<Uint8Array> {
    const copy = Uint8Array.from(command);
    return this.#serial(() => this.#process(copy));
  }

  #serial<T>(job: () => T | Promise<T>): Promise<T> {
    const run = this.#queue.then(job, job);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #process(raw: Uint8Array): Promise<Uint8Array> {
    if (!this.#powered) throw new Error("card is not powered");
    const parsed = parseCommandApdu(raw);
    if (!parsed.ok) return statusOnly(parsed.sw);
    const apdu = parsed.apdu;
    try {
      const handler = this.#route(apdu);
      if (typeof handler === "number") return statusOnly(handler);
      return await handler(this.#ctx, apdu);
    } catch (e) {
      // A card never throws at its terminal: storage trouble is 65 81, anything else 6F 00.
      return statusOnly(e instanceof StorageError ? SW.MEMORY_FAILURE : SW.UNKNOWN_ERROR);
    }
  }

  /** Pick the handler by class and instruction, or the status word that refuses it. */
  #route(apdu: CommandApdu): Handler | number {
    const { cla, ins } = apdu;
    if (cla === 0x80) {
      return this.#proprietary.get(ins) ?? (this.#iso.has(ins) ? SW.CLA_NOT_SUPPORTED : SW.INS_NOT_SUPPORTED);
    }
    if (cla & 0xe0) return SW.CLA_NOT_SUPPORTED;
    const handler = this.#iso.get(ins);
    if (!handler) return this.#proprietary.has(ins) ? SW.CLA_NOT_SUPPORTED : SW.INS_NOT_SUPPORTED;
    // Secure messaging (CLA 08/0C): JPKI has none; answered as the real card does (spec §2.8).
    if (cla & 0x0c) return ins === 0xa4 ? SW.SECURE_MESSAGING_NOT_SUPPORTED : SW.SM_NOT_ALLOWED;
    if (cla & 0x10) return SW.CHAINING_NOT_SUPPORTED;
    if (cla & 0x03) return SW.LOGICAL_CHANNEL_NOT_SUPPORTED;
    return handler;
  }
}
