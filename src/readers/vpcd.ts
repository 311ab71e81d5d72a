/**
 * The vicc side of vsmartcard's vpcd: shows a {@link CardEndpoint} to the operating
 * system's pcscd, so that every PC/SC program on the machine sees the card.
 *
 * pcscd (with the vpcd driver) listens on TCP; the card is the client and connects in.
 * Every message in both directions is a 2-byte big-endian length followed by the
 * payload. vpcd always speaks first. A 1-byte payload is a control code
 * (00 power off, 01 power on, 02 reset: no answer; 04 get ATR: answer the ATR);
 * anything longer is a command APDU, answered with one frame holding the response APDU.
 * A zero-length answer would make vpcd drop the card, so none is ever sent.
 *
 * The connection is re-established with exponential backoff whenever it drops
 * (pcscd restarted, not yet started), until {@link VpcdAttachment.close} or the abort signal.
 */
import { Socket } from "node:net";
import type { CardEndpoint } from "./reader.ts";

export const VPCD_DEFAULT_HOST = "127.0.0.1";
export const VPCD_DEFAULT_PORT = 35963;

/** Control codes vpcd sends as 1-byte payloads. */
export const VpcdControl = {
  powerOff: 0x00,
  powerOn: 0x01,
  reset: 0x02,
  getAtr: 0x04,
} as const;

/** An ATR is at most 33 bytes (ISO 7816-3; vpcd's MAX_ATR_SIZE). */
const MAX_ATR_LENGTH = 33;
/** The length field is 16 bits; nothing larger can be framed. */
const MAX_FRAME_PAYLOAD = 0xffff;
/** Frames received and not yet answered beyond which the socket is not read (resumed at half). */
const MAX_WAITING_FRAMES = 16;
/** Answer when the card fails internally: "no precise diagnosis". */
const SW_NO_PRECISE_DIAGNOSIS = Uint8Array.of(0x6f, 0x00);

export type VpcdStatus =
  | { state: "connecting"; host: string; port: number; attempt: number }
  | { state: "connected"; host: string; port: number }
  | { state: "disconnected"; reason: string; retryInMs: number }
  | { state: "protocol-error"; reason: string }
  | { state: "closed" };

export interface VpcdOptions {
  host?: string;
  port?: number;
  /** Told about every connection change and protocol anomaly (for logs and the CLI). */
  onStatus?: (status: VpcdStatus) => void;
  /** Aborting it is the same as calling close(). */
  signal?: AbortSignal;
  /** First reconnect delay (ms); doubles on each failed attempt. Default 100. */
  initialRetryDelayMs?: number;
  /** Upper bound of the reconnect delay (ms). Default 3000. */
  maxRetryDelayMs?: number;
}

export interface VpcdAttachment {
  /** Resolves the first time the TCP connection to vpcd is established; rejects if closed before. */
  readonly connected: Promise<void>;
  /** True while a TCP connection to vpcd is up. */
  readonly isConnected: boolean;
  /** Disconnect (the card disappears from pcscd) and stop reconnecting. Powers the card off. */
  close(): Promise<void>;
}

/**
 * Splits a TCP byte stream into vpcd frames, whatever the chunking. Received pieces are kept as
 * they came and joined once per frame, so a frame that arrives a byte at a time costs linear,
 * not quadratic, time.
 */
export class VpcdFrameDecoder {
  #chunks: Uint8Array[] = [];
  /** Index of the first chunk not yet consumed (an index, not shift(): a long list of tiny chunks stays linear). */
  #head = 0;
  #length = 0;

  /** Feed received bytes; returns the complete frames they finish, in order. */
  push(chunk: Uint8Array): Uint8Array[] {
    if (chunk.length > 0) {
      this.#chunks.push(chunk);
      this.#length += chunk.length;
    }
    const frames: Uint8Array[] = [];
    while (this.#length >= 2) {
      const header = this.#peek(2);
      const total = 2 + ((header[0]! << 8) | header[1]!);
      if (this.#length < total) break;
      frames.push(this.#take(total).subarray(2));
    }
    if (this.#head > 0 && this.#head * 2 >= this.#chunks.length) {
      this.#chunks = this.#chunks.slice(this.#head);
      this.#head = 0;
    }
    return frames;
  }

  /** Bytes received that do not yet form a complete frame. */
  get pending(): number {
    return this.#length;
  }

  #peek(n: number): Uint8Array {
    const first = this.#chunks[this.#head]!;
    if (first.length >= n) return first.subarray(0, n);
    const out = new Uint8Array(n);
    let filled = 0;
    for (let i = this.#head; filled < n; i++) {
      const part = this.#chunks[i]!.subarray(0, n - filled);
      out.set(part, filled);
      filled += part.length;
    }
    return out;
  }

  /** Removes and returns the first `n` bytes (a copy: the caller owns it). */
  #take(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const c = this.#chunks[this.#head]!;
      const part = c.subarray(0, n - filled);
      out.set(part, filled);
      filled += part.length;
      if (part.length === c.length) this.#head += 1;
      else this.#chunks[this.#head] = c.subarray(part.length);
    }
    this.#length -= n;
    return out;
  }
}

/** Frames a payload: 2-byte big-endian length, then the bytes. Refuses empty and oversized payloads. */
export function encodeVpcdFrame(payload: Uint8Array): Uint8Array {
  if (payload.length === 0) throw new RangeError("vpcd: refusing to send an empty frame (vpcd would drop the card)");
  if (payload.length > MAX_FRAME_PAYLOAD) throw new RangeError(`vpcd: frame of ${payload.length} bytes exceeds 65535`);
  const frame = new Uint8Array(payload.length + 2);
  frame[0] = payload.length >> 8;
  frame[1] = payload.length & 0xff;
  frame.set(payload, 2);
  return frame;
}

/**
 * What the card answers to one vpcd message, or null when no answer is due.
 * Exported for tests; the card's own failures become 6F00, never an exception.
 */
export async function answerVpcdMessage(card: CardEndpoint, message: Uint8Array): Promise<Uint8Array | null> {
  if (message.length === 1) {
    switch (message[0]) {
      case VpcdControl.powerOff:
        await card.powerOff();
        return null;
      case VpcdControl.powerOn:
        await card.powerOn();
        return null;
      case VpcdControl.reset:
        await card.reset();
        return null;
      case VpcdControl.getAtr: {
        const atr = card.atr();
        if (atr.length < 2 || atr.length > MAX_ATR_LENGTH) {
          throw new RangeError(`vpcd: card ATR has ${atr.length} bytes (allowed 2..${MAX_ATR_LENGTH})`);
        }
        return atr;
      }
      default:
        throw new VpcdProtocolError(`unknown control code 0x${message[0]!.toString(16).padStart(2, "0")}`);
    }
  }
  if (message.length === 0) throw new VpcdProtocolError("empty frame from vpcd");
  let response: Uint8Array;
  try {
    response = await card.transmit(message);
  } catch {
    return SW_NO_PRECISE_DIAGNOSIS;
  }
  if (response.length < 2 || response.length > MAX_FRAME_PAYLOAD) return SW_NO_PRECISE_DIAGNOSIS;
  return response;
}

class VpcdProtocolError extends Error {
  override name = "VpcdProtocolError";
}

/** Resolves when the socket can take more (or is gone: then nothing more is written anyway). */
function drained(s: Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      s.off("drain", done);
      s.off("close", done);
      resolve();
    };
    s.on("drain", done);
    s.on("close", done);
  });
}

/**
 * Connect `card` to pcscd's vpcd listener and keep it connected until closed.
 *
 * Example: `const link = attachToVpcd(card, { port: 35963 }); await link.connected; … await link.close();`
 */
export function attachToVpcd(card: CardEndpoint, opts: VpcdOptions = {}): VpcdAttachment {
  const host = opts.host ?? VPCD_DEFAULT_HOST;
  const port = opts.port ?? VPCD_DEFAULT_PORT;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RangeError(`vpcd: invalid port ${port}`);
  const initialDelay = opts.initialRetryDelayMs ?? 100;
  const maxDelay = opts.maxRetryDelayMs ?? 3000;
  const report = (s: VpcdStatus): void => {
    try {
      opts.onStatus?.(s);
    } catch {
      // a faulty listener must not break the transport
    }
  };

  let closed = false;
  let socket: Socket | null = null;
  let isConnected = false;
  let retryTimer: NodeJS.Timeout | null = null;
  let attempt = 0;
  let everConnected = false;
  let resolveConnected!: () => void;
  let rejectConnected!: (e: Error) => void;
  const connected = new Promise<void>((resolve, reject) => {
    resolveConnected = resolve;
    rejectConnected = reject;
  });
  connected.catch(() => undefined); // callers who never await must not see an unhandled rejection
  let socketClosed: Promise<void> = Promise.resolve();

  const dial = (): void => {
    if (closed) return;
    attempt += 1;
    report({ state: "connecting", host, port, attempt });
    const s = new Socket();
    socket = s;
    const decoder = new VpcdFrameDecoder();
    // Messages are answered strictly one after another, in arrival order.
    let queue: Promise<void> = Promise.resolve();
    let waiting = 0;
    let resolveClosed!: () => void;
    const thisClosed = new Promise<void>((r) => (resolveClosed = r));
    socketClosed = thisClosed;

    s.setNoDelay(true);
    s.on("connect", () => {
      isConnected = true;
      attempt = 0;
      report({ state: "connected", host, port });
      if (!everConnected) {
        everConnected = true;
        resolveConnected();
      }
    });
    s.on("data", (chunk: Buffer) => {
      let frames: Uint8Array[];
      try {
        frames = decoder.push(chunk);
      } catch (e) {
        report({ state: "protocol-error", reason: String(e) });
        s.destroy();
        return;
      }
      for (const frame of frames) {
        waiting += 1;
        // Backpressure: a peer that sends faster than it reads the answers is not read from
        // either, so neither its commands nor our answers pile up in memory.
        if (waiting >= MAX_WAITING_FRAMES && !s.isPaused()) s.pause();
        queue = queue.then(async () => {
          try {
            if (s.destroyed) return;
            let answer: Uint8Array | null;
            try {
              answer = await answerVpcdMessage(card, frame);
            } catch (e) {
              report({ state: "protocol-error", reason: e instanceof Error ? e.message : String(e) });
              if (frame.length === 1 && frame[0] === VpcdControl.getAtr) s.destroy(); // vpcd waits for an answer that cannot come
              return;
            }
            if (answer !== null && !s.destroyed && !s.write(encodeVpcdFrame(answer))) await drained(s);
          } finally {
            waiting -= 1;
            if (waiting < MAX_WAITING_FRAMES / 2 && s.isPaused() && !s.destroyed) s.resume();
          }
        }).catch((e: unknown) => {
          report({ state: "protocol-error", reason: e instanceof Error ? e.message : String(e) });
          s.destroy();
        });
      }
    });
    s.on("error", () => {
      // "close" follows and carries the reconnect; the reason is reported there
    });
    s.on("close", (hadError) => {
      const wasConnected = isConnected;
      isConnected = false;
      if (socket === s) socket = null;
      void queue.then(async () => {
        if (wasConnected) {
          try {
            await card.powerOff(); // the card left the reader: volatile state goes
          } catch {
            // nothing to do
          }
        }
        resolveClosed();
      });
      if (closed) return;
      const delay = Math.min(maxDelay, initialDelay * 2 ** Math.min(attempt, 16));
      report({
        state: "disconnected",
        reason: wasConnected ? "connection to vpcd lost" : hadError ? "connection refused or failed" : "closed",
        retryInMs: delay,
      });
      retryTimer = setTimeout(() => {
        retryTimer = null;
        // Only once this connection's last command has finished and the card is powered off: a
        // slow command (GENERATE KEY) outliving the delay would otherwise power the card off
        // after the next connection powered it on.
        void thisClosed.then(dial);
      }, delay);
    });
    s.connect({ host, port });
  };

  const close = async (): Promise<void> => {
    if (closed) {
      await socketClosed;
      return;
    }
    closed = true;
    opts.signal?.removeEventListener("abort", onAbort);
    if (retryTimer) clearTimeout(retryTimer);
    retryTimer = null;
    if (!everConnected) rejectConnected(new Error("vpcd attachment closed before it connected"));
    const s = socket;
    if (s && !s.destroyed) s.destroy();
    await socketClosed;
    report({ state: "closed" });
  };
  const onAbort = (): void => void close();
  if (opts.signal?.aborted) {
    closed = true;
    rejectConnected(new Error("vpcd attachment aborted"));
  } else {
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    dial();
  }

  return {
    connected,
    get isConnected() {
      return isConnected;
    },
    close,
  };
}
