import { AsyncLocalStorage } from "node:async_hooks";
import { createHash } from "node:crypto";
import { realpathSync } from "node:fs";
import { createConnection, createServer, type Socket } from "node:net";
import { resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { ServiceError } from "./errors.ts";

/**
 * A card is in one reader at a time. The chip's state (PIN retry counters, keys, files) is one
 * image on disk, and each open card works on its own copy of it: two copies in use at once
 * would each count PIN tries from the same starting value, and whichever saved last would undo
 * the other's changes (a lost try, a PIN reset or a new key rolled back). So every use of a
 * card — a login, a signature, a counter procedure, an attachment to vpcd — holds the card's
 * slot, and opens the card afresh from disk inside it.
 *
 * Within a process, users of one card queue for it (briefly: a session takes milliseconds).
 * Across processes (the server, the CLI, `card attach`) the slot is an abstract Unix socket
 * bound for as long as it is held: the kernel refuses a second bind and releases the name when
 * the holder exits, crash included, so no stale lock file can outlive its process. Abstract
 * sockets are Linux's, and are per network namespace: processes sharing a data directory must
 * share one (as they do on one host).
 */

export interface SlotOptions {
  /** How long to wait for a card another user holds before refusing (ms). Default 3000. */
  waitMs?: number;
  /** Users waiting for one card in this process beyond which a request is refused as busy. Default 32. */
  maxWaiting?: number;
}

/** What a holder says about itself when another process asks (shown in the refusal). */
export interface SlotHolder {
  pid: number;
  what: string;
}

interface LocalQueue {
  tail: Promise<void>;
  waiting: number;
  /** What the current holder in this process is doing (for the refusal). */
  holder: string | null;
}

const localQueues = new Map<string, LocalQueue>();
const heldHere = new AsyncLocalStorage<ReadonlySet<string>>();

const DEFAULT_WAIT_MS = 3000;
const DEFAULT_MAX_WAITING = 32;
const RETRY_MS = 20;
const HOLDER_REPLY_LIMIT = 512;
/** How long a peer asking who holds the slot may keep its connection open. */
const HOLDER_REPLY_TIMEOUT_MS = 1000;

export class CardSlots {
  readonly #cardsDir: string;
  /** The cards directory's real path, once it exists (the slot's name must not depend on how the path was spelt). */
  #realDir: string | undefined;
  readonly #waitMs: number;
  readonly #maxWaiting: number;

  constructor(cardsDir: string, options: SlotOptions = {}) {
    this.#cardsDir = cardsDir;
    this.#waitMs = options.waitMs ?? DEFAULT_WAIT_MS;
    this.#maxWaiting = options.maxWaiting ?? DEFAULT_MAX_WAITING;
  }

  /** Run `body` holding card `id`'s slot; released when it settles. */
  async hold<T>(id: string, what: string, body: () => Promise<T>): Promise<T> {
    const key = this.#key(id);
    if (heldHere.getStore()?.has(key)) {
      // A nested use would open a second copy of the chip inside the first: the very thing the slot prevents.
      throw new Error(`card ${id} is already in a reader in this procedure (nested use of the card)`);
    }
    const release = await this.#take(key, id, what);
    try {
      const held = new Set(heldHere.getStore() ?? []);
      held.add(key);
      return await heldHere.run(held, body);
    } finally {
      await release();
    }
  }

  /** Take card `id`'s slot until the returned function is called (for a card left in a reader). */
  async take(id: string, what: string): Promise<() => Promise<void>> {
    return this.#take(this.#key(id), id, what);
  }

  /**
   * Synchronous on purpose: users join the queue in the order they asked, which an await here
   * (each finishing when it likes) would shuffle. The real path is read once, when it exists.
   */
  #key(id: string): string {
    if (this.#realDir === undefined) {
      try {
        this.#realDir = realpathSync(this.#cardsDir);
      } catch {
        return `${resolve(this.#cardsDir)}/${id}`; // no card made yet: nothing to resolve
      }
    }
    return `${this.#realDir}/${id}`;
  }

  async #take(key: string, id: string, what: string): Promise<() => Promise<void>> {
    const deadline = Date.now() + this.#waitMs;
    const releaseLocal = await this.#queueLocally(key, id, what, deadline);
    try {
      const slot = await bindSlot(key, id, what, deadline);
      let released = false;
      return async () => {
        if (released) return;
        released = true;
        await slot.close();
        releaseLocal();
      };
    } catch (e) {
      releaseLocal();
      throw e;
    }
  }

  /** Wait for this process's earlier users of the card; resolves to the release of our turn. */
  async #queueLocally(key: string, id: string, what: string, deadline: number): Promise<() => void> {
    let queue = localQueues.get(key);
    if (!queue) {
      queue = { tail: Promise.resolve(), waiting: 0, holder: null };
      localQueues.set(key, queue);
    }
    if (queue.waiting >= this.#maxWaiting) {
      throw new ServiceError("service-unavailable", `card ${id}: ${queue.waiting} requests are already waiting for this card; try again`, "card", {
        reason: "card-busy",
      });
    }
    const q = queue;
    const before = q.tail;
    let releaseTurn!: () => void;
    const turn = new Promise<void>((r) => (releaseTurn = r));
    q.tail = before.then(() => turn);
    q.waiting += 1;
    const settle = () => {
      q.waiting -= 1;
      if (q.waiting === 0 && localQueues.get(key) === q) localQueues.delete(key);
    };
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), Math.max(0, deadline - Date.now()))));
    const outcome = await Promise.race([before.then(() => "ready" as const), timedOut]);
    clearTimeout(timer);
    if (outcome === "timeout") {
      // Our turn still comes; pass it straight on so the queue does not stall behind us.
      void before.then(() => {
        releaseTurn();
        settle();
      });
      throw inUse(id, q.holder === null ? null : { pid: process.pid, what: q.holder });
    }
    q.holder = what;
    return () => {
      q.holder = null;
      releaseTurn();
      settle();
    };
  }
}

/** The abstract socket name of a card's slot (a hash: the name space is shared by the whole host). */
function slotName(key: string): string {
  return `\0openjpki-card-slot-${createHash("sha256").update(key).digest("hex").slice(0, 40)}`;
}

interface BoundSlot {
  /** Give the name back and drop any connection still open (the slot is free when this resolves). */
  close(): Promise<void>;
}

async function bindSlot(key: string, id: string, what: string, deadline: number): Promise<BoundSlot> {
  const name = slotName(key);
  const greeting = JSON.stringify({ pid: process.pid, what } satisfies SlotHolder);
  for (;;) {
    // Anyone on the host can connect to an abstract socket. server.close() waits for every open
    // connection, so one peer that never closes its end would keep the card held for ever: the
    // connections are tracked and destroyed on release.
    const connections = new Set<Socket>();
    const server = createServer((socket) => {
      connections.add(socket);
      socket.on("close", () => connections.delete(socket));
      socket.on("error", () => undefined);
      socket.setTimeout(HOLDER_REPLY_TIMEOUT_MS, () => socket.destroy());
      socket.end(greeting);
    });
    const bound = await new Promise<NodeJS.ErrnoException | null>((done) => {
      server.once("error", (e: NodeJS.ErrnoException) => done(e));
      server.listen({ path: name, exclusive: true }, () => done(null));
    });
    if (bound === null) {
      // Nobody connects to a slot for long; it must never keep the process alive.
      server.unref();
      return {
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            for (const socket of connections) socket.destroy();
          }),
      };
    }
    if (bound.code !== "EADDRINUSE") throw bound;
    if (Date.now() >= deadline) throw inUse(id, await askHolder(name));
    await sleep(RETRY_MS);
  }
}

/** Who holds the slot, as the holder says; null when it does not answer. */
async function askHolder(name: string): Promise<SlotHolder | null> {
  return new Promise((done) => {
    let text = "";
    const socket = createConnection({ path: name });
    socket.setTimeout(500, () => socket.destroy());
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      text += chunk;
      if (text.length > HOLDER_REPLY_LIMIT) socket.destroy();
    });
    socket.on("error", () => undefined);
    socket.on("close", () => {
      try {
        const parsed = JSON.parse(text) as Partial<SlotHolder>;
        done(typeof parsed.pid === "number" && typeof parsed.what === "string" ? { pid: parsed.pid, what: parsed.what.slice(0, 100) } : null);
      } catch {
        done(null);
      }
    });
  });
}

function inUse(id: string, holder: SlotHolder | null): ServiceError {
  const by = holder
    ? holder.pid === process.pid
      ? ` (this process: ${holder.what})`
      : ` (process ${holder.pid}: ${holder.what})`
    : "";
  return new ServiceError(
    "conflict",
    `card ${id} is in another reader${by}; try again when it is taken out (a card attached to vpcd stays in until \`card attach\` stops)`,
    "card",
    { reason: "card-in-use" },
  );
}
