/**
 * A {@link CardReader} over PC/SC (npm `pcsclite`), for real readers with real My Number
 * Cards, or any card pcscd shows (including our virtual card attached through vpcd).
 *
 * `pcsclite` is an optional native dependency and pcscd may not be running, so the module
 * is loaded lazily, inside the functions that need it. Both situations end in a
 * {@link PcscError} with a one-line message (Japanese and English), never a crash.
 * The PC/SC client library honours PCSCLITE_CSOCK_NAME to reach a pcscd on another socket.
 */
import type { CardReader } from "./reader.ts";

export type PcscErrorCode =
  /** The `pcsclite` module is not installed or did not build. */
  | "pcsc-module-missing"
  /** pcscd is not running or not reachable. */
  | "pcsc-unavailable"
  /** No reader is connected, or none with the requested name. */
  | "reader-not-found"
  /** The reader has no card (or the card was removed). */
  | "no-card"
  /** Any other PC/SC failure (the message carries pcsc-lite's text). */
  | "pcsc-error";

export class PcscError extends Error {
  override name = "PcscError";
  readonly code: PcscErrorCode;
  constructor(code: PcscErrorCode, message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.code = code;
  }
}

// The parts of pcsclite's API used here (declared locally so the build does not need the package).
interface NativeStatus {
  state: number;
  atr?: Buffer;
}
interface NativeReader {
  name: string;
  connected: boolean;
  SCARD_SHARE_SHARED: number;
  SCARD_SHARE_EXCLUSIVE: number;
  SCARD_PROTOCOL_T0: number;
  SCARD_PROTOCOL_T1: number;
  SCARD_STATE_PRESENT: number;
  SCARD_LEAVE_CARD: number;
  SCARD_RESET_CARD: number;
  SCARD_UNPOWER_CARD: number;
  on(event: "status", l: (s: NativeStatus) => void): unknown;
  on(event: "error", l: (e: unknown) => void): unknown;
  on(event: "end", l: () => void): unknown;
  connect(opts: { share_mode?: number; protocol?: number }, cb: (err: unknown, protocol: number) => void): void;
  disconnect(disposition: number, cb: (err: unknown) => void): void;
  transmit(data: Buffer, resLen: number, protocol: number, cb: (err: unknown, response: Buffer) => void): void;
  close(): void;
}
interface NativeContext {
  readers: Record<string, NativeReader>;
  start(cb: (err: unknown, data?: Buffer) => void): void;
  on(event: "error", l: (e: unknown) => void): unknown;
  on(event: "reader", l: (r: NativeReader) => void): unknown;
  close(): void;
}
type NativeFactory = () => NativeContext;

const MODULE_NAME = "pcsclite";
/** Largest response accepted: extended Le 65536 plus SW1-SW2. */
const MAX_RESPONSE = 65538;

let factoryPromise: Promise<NativeFactory> | null = null;

async function loadPcsclite(): Promise<NativeFactory> {
  factoryPromise ??= (async () => {
    try {
      const mod = (await import(MODULE_NAME)) as { default?: unknown };
      const factory = (mod.default ?? mod) as unknown;
      if (typeof factory !== "function") throw new TypeError("pcsclite does not export a function");
      return factory as NativeFactory;
    } catch (e) {
      factoryPromise = null;
      throw new PcscError(
        "pcsc-module-missing",
        "PC/SCモジュール (npm pcsclite) が利用できません / the PC/SC module (npm pcsclite) is not installed or failed to build",
        e,
      );
    }
  })();
  return factoryPromise;
}

function oneLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).replace(/\s+/g, " ").trim();
}

/** Maps a pcsc-lite error text to a typed error. */
function pcscFailure(e: unknown, what: string): PcscError {
  const text = oneLine(e);
  if (/Service not available|No service|Cannot find a smart card reader|0x8010001D|0x8010002E/i.test(text)) {
    return new PcscError(
      "pcsc-unavailable",
      `PC/SCサービス (pcscd) に接続できません / cannot reach the PC/SC service (pcscd is not running?): ${text}`,
      e,
    );
  }
  if (/No smart card inserted|Card was removed|0x8010000C|0x80100069|Card is unpowered|0x80100067/i.test(text)) {
    return new PcscError("no-card", `カードがありません / no card in the reader (${what}): ${text}`, e);
  }
  if (/Sharing violation|0x8010000B/i.test(text)) {
    return new PcscError("pcsc-error", `カードは他のプログラムが使用中です / the card is in use by another program (${what}): ${text}`, e);
  }
  if (/Unknown reader|0x80100009|Reader is unavailable|0x80100017/i.test(text)) {
    return new PcscError("reader-not-found", `カードリーダーが見つかりません / reader not available (${what}): ${text}`, e);
  }
  return new PcscError("pcsc-error", `PC/SCエラー / PC/SC error (${what}): ${text}`, e);
}

/** Opens a PC/SC context and waits for the first reader list. The caller must close() it. */
async function openContext(timeoutMs: number): Promise<NativeContext> {
  const factory = await loadPcsclite();
  let ctx: NativeContext;
  try {
    ctx = factory(); // throws synchronously when pcscd is not there
  } catch (e) {
    throw pcscFailure(e, "establish context");
  }
  let asyncError: unknown = null;
  ctx.on("error", (e) => (asyncError ??= e));
  ctx.on("reader", (r) => {
    r.on("error", () => undefined); // status monitor failures surface on connect/transmit
    firstStatus.set(r, new Promise<void>((resolve) => r.on("status", () => resolve())));
  });
  // pcsclite calls start() on the next tick; wrap it to learn when the first list has arrived.
  const firstList = new Promise<void>((resolve) => {
    const original = ctx.start.bind(ctx);
    ctx.start = (cb) =>
      original((err, data) => {
        try {
          cb(err, data);
        } finally {
          resolve();
        }
      });
    setTimeout(resolve, timeoutMs).unref();
  });
  await firstList;
  if (asyncError !== null) {
    await closeContext(ctx);
    throw pcscFailure(asyncError, "list readers");
  }
  return ctx;
}

/** When each reader's status monitor thread has reported for the first time. */
const firstStatus = new WeakMap<NativeReader, Promise<void>>();

/**
 * Closes the readers' monitors and the context. pcsclite's reader monitor thread only
 * notifies the event loop that it ended if it was cancelled while waiting inside
 * SCardGetStatusChange; closed earlier, it leaves a handle that keeps the process alive.
 * So wait for each monitor's first report, and a moment for it to be waiting again.
 */
async function closeContext(ctx: NativeContext): Promise<void> {
  const readers = Object.values(ctx.readers ?? {});
  await Promise.all(
    readers.map((r) => {
      const first = firstStatus.get(r) ?? Promise.resolve();
      return Promise.race([first, new Promise<void>((res) => setTimeout(res, 2000).unref())]);
    }),
  );
  if (readers.length > 0) await new Promise((res) => setTimeout(res, 25));
  for (const r of readers) {
    try {
      r.close();
    } catch {
      // already closed
    }
  }
  try {
    ctx.close();
  } catch {
    // already closed
  }
}

export interface PcscOptions {
  /** How long to wait for pcscd's reader list and the reader's first status (ms). Default 3000. */
  timeoutMs?: number;
}

/** Names of the readers pcscd knows. Throws PcscError (pcsc-unavailable, pcsc-module-missing). */
export async function listReaders(opts: PcscOptions = {}): Promise<string[]> {
  const ctx = await openContext(opts.timeoutMs ?? 3000);
  try {
    return Object.keys(ctx.readers ?? {});
  } finally {
    await closeContext(ctx);
  }
}

export interface OpenPcscReaderOptions extends PcscOptions {
  /** "exclusive" (default) keeps other programs off the card while connected. */
  shareMode?: "exclusive" | "shared";
}

/**
 * A reader by name (exact, or a unique substring), or when `name` is omitted the first
 * reader holding a card. Call connect() next; disconnect() releases everything.
 */
export async function openPcscReader(name?: string, opts: OpenPcscReaderOptions = {}): Promise<PcscReader> {
  const timeoutMs = opts.timeoutMs ?? 3000;
  const ctx = await openContext(timeoutMs);
  try {
    const readers = ctx.readers ?? {};
    const names = Object.keys(readers);
    if (names.length === 0) throw new PcscError("reader-not-found", "カードリーダーが接続されていません / no card reader is connected");
    let chosen: NativeReader | undefined;
    if (name !== undefined) {
      chosen = readers[name];
      if (!chosen) {
        const matches = names.filter((n) => n.includes(name));
        if (matches.length === 1) chosen = readers[matches[0]!];
        else if (matches.length > 1) {
          throw new PcscError("reader-not-found", `リーダー名が曖昧です / reader name "${name}" matches ${matches.map((m) => `"${m}"`).join(", ")}`);
        }
      }
      if (!chosen) {
        throw new PcscError("reader-not-found", `リーダーが見つかりません / no reader named "${name}" (available: ${names.map((n) => `"${n}"`).join(", ")})`);
      }
    }
    const statuses = new Map<string, NativeStatus>();
    await Promise.all(names.map((n) => waitForStatus(readers[n]!, timeoutMs).then((s) => s && statuses.set(n, s))));
    if (!chosen) {
      const withCard = names.find((n) => ((statuses.get(n)?.state ?? 0) & readers[n]!.SCARD_STATE_PRESENT) !== 0);
      chosen = readers[withCard ?? names[0]!]!;
    }
    return new PcscReader(ctx, chosen, statuses.get(chosen.name) ?? null, opts.shareMode ?? "exclusive");
  } catch (e) {
    await closeContext(ctx);
    throw e;
  }
}

function waitForStatus(reader: NativeReader, timeoutMs: number): Promise<NativeStatus | null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), timeoutMs);
    timer.unref();
    reader.on("status", (s) => {
      clearTimeout(timer);
      resolve(s);
    });
  });
}

export class PcscReader implements CardReader {
  readonly name: string;
  #ctx: NativeContext | null;
  #reader: NativeReader;
  #status: NativeStatus | null;
  #protocol: number | null = null;
  #share: number;

  /** Use {@link openPcscReader}. */
  constructor(ctx: NativeContext, reader: NativeReader, status: NativeStatus | null, share: "exclusive" | "shared") {
    this.#ctx = ctx;
    this.#reader = reader;
    this.#status = status;
    this.name = reader.name;
    this.#share = share === "shared" ? reader.SCARD_SHARE_SHARED : reader.SCARD_SHARE_EXCLUSIVE;
    reader.on("status", (s) => (this.#status = s));
  }

  /** Whether pcscd last reported a card in this reader. */
  get cardPresent(): boolean {
    return ((this.#status?.state ?? 0) & this.#reader.SCARD_STATE_PRESENT) !== 0;
  }

  async connect(): Promise<Uint8Array> {
    if (!this.#ctx) throw new PcscError("pcsc-error", "this reader was disconnected; open it again");
    if (this.#protocol === null) {
      const r = this.#reader;
      this.#protocol = await new Promise<number>((resolve, reject) => {
        r.connect({ share_mode: this.#share, protocol: r.SCARD_PROTOCOL_T0 | r.SCARD_PROTOCOL_T1 }, (err, protocol) =>
          err ? reject(pcscFailure(err, `connect to "${this.name}"`)) : resolve(protocol),
        );
      });
    }
    return this.#atr();
  }

  async transmit(command: Uint8Array): Promise<Uint8Array> {
    if (this.#protocol === null) throw new PcscError("pcsc-error", "not connected: call connect() first");
    if (!(command instanceof Uint8Array) || command.length < 4 || command.length > 65544) {
      throw new RangeError(`command APDU of ${command?.length} bytes`);
    }
    const protocol = this.#protocol;
    const response = await new Promise<Buffer>((resolve, reject) => {
      this.#reader.transmit(Buffer.from(command), MAX_RESPONSE, protocol, (err, data) =>
        err ? reject(pcscFailure(err, `transmit on "${this.name}"`)) : resolve(data),
      );
    });
    if (response.length < 2) {
      // vpcd answers an empty "success" when the card's connection closes mid-command (the card was
      // taken out); a real reader reports the removal as an error, which pcscFailure maps the same way.
      throw new PcscError(
        "no-card",
        `カードが応答しません（取り出されましたか）/ the card in "${this.name}" gave no answer (${response.length}-byte response without a status word; was it taken out?)`,
      );
    }
    return new Uint8Array(response);
  }

  /** Warm reset: disconnect with SCARD_RESET_CARD, then connect again. */
  async reset(): Promise<Uint8Array> {
    await this.#release("reset");
    return this.connect();
  }

  /** Powers the card off and closes the PC/SC context. */
  async disconnect(): Promise<void> {
    try {
      await this.#release("unpower");
    } finally {
      const ctx = this.#ctx;
      this.#ctx = null;
      if (ctx) await closeContext(ctx);
    }
  }

  async #release(how: "reset" | "unpower"): Promise<void> {
    if (this.#protocol === null) return;
    const r = this.#reader;
    this.#protocol = null;
    await new Promise<void>((resolve, reject) => {
      r.disconnect(how === "reset" ? r.SCARD_RESET_CARD : r.SCARD_UNPOWER_CARD, (err) =>
        err ? reject(pcscFailure(err, "disconnect")) : resolve(),
      );
    });
  }

  #atr(): Uint8Array {
    const atr = this.#status?.atr;
    return atr && atr.length <= 33 ? new Uint8Array(atr) : new Uint8Array(0);
  }
}
