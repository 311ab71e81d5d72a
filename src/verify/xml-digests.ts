import { Worker } from "node:worker_threads";
import type { DigestCheck } from "./xml-digest-check.ts";
import type { DigestJob } from "./xml-digest-worker.ts";

/** Why a digest check gave no answer: it ran past its time (the worker was stopped) or the worker failed. */
export class DigestCheckUnavailable extends Error {
  override readonly name = "DigestCheckUnavailable";
}

/** Documents that may wait for the worker; more are refused at once. */
const MAX_WAITING = 16;

interface Queued {
  xml: string;
  publicKeyPem: string;
  timeoutMs: number;
  resolve: (check: DigestCheck) => void;
  reject: (error: Error) => void;
}

/**
 * xml-crypto's digest work off the event loop: one worker thread, one document at a time, each
 * with a time limit. A document past its limit stops the worker (a new one starts for the next),
 * so no input can hold the verifier, or a server around it, for longer than that. The worker is
 * started on first use and does not keep the process alive while idle.
 */
class XmlDigestPool {
  #worker: Worker | null = null;
  #queue: Queued[] = [];
  #current: { job: Queued; id: number; timer: NodeJS.Timeout } | null = null;
  #nextId = 0;

  check(xml: string, publicKeyPem: string, timeoutMs: number): Promise<DigestCheck> {
    // Each waiting document is held in memory (up to the size limit): a flood must not queue without end.
    if (this.#queue.length >= MAX_WAITING) {
      return Promise.reject(new DigestCheckUnavailable(`${MAX_WAITING} documents are already waiting for the digest check; try again`));
    }
    return new Promise((resolve, reject) => {
      this.#queue.push({ xml, publicKeyPem, timeoutMs, resolve, reject });
      this.#pump();
    });
  }

  #pump(): void {
    if (this.#current || this.#queue.length === 0) return;
    const job = this.#queue.shift()!;
    const worker = this.#ensureWorker();
    const id = ++this.#nextId;
    const timer = setTimeout(() => this.#fail(new DigestCheckUnavailable(`checking the digests took over ${job.timeoutMs} ms`), true), job.timeoutMs);
    this.#current = { job, id, timer };
    worker.ref();
    worker.postMessage({ id, xml: job.xml, publicKeyPem: job.publicKeyPem } satisfies DigestJob);
  }

  #ensureWorker(): Worker {
    if (this.#worker) return this.#worker;
    // The worker is TypeScript like the rest: a two-line bootstrap registers tsx's loader in the
    // new thread (as bin/openjpki.js does), found from here rather than the current directory.
    const bootstrap = `import(${JSON.stringify(import.meta.resolve("tsx/esm/api"))}).then((tsx) => { tsx.register(); return import(${JSON.stringify(new URL("./xml-digest-worker.ts", import.meta.url).href)}); });`;
    const worker = new Worker(bootstrap, { eval: true });
    worker.on("message", (answer: DigestCheck & { id: number }) => {
      const current = this.#current;
      if (!current || current.id !== answer.id) return;
      clearTimeout(current.timer);
      this.#current = null;
      worker.unref();
      current.job.resolve({ ok: answer.ok, why: answer.why, references: answer.references });
      this.#pump();
    });
    worker.on("error", (error) => this.#fail(new DigestCheckUnavailable(`the digest worker failed: ${error.message}`), false));
    worker.on("exit", () => {
      if (this.#worker === worker) {
        this.#worker = null;
        this.#fail(new DigestCheckUnavailable("the digest worker stopped"), false);
      }
    });
    worker.unref();
    this.#worker = worker;
    return worker;
  }

  /** Ends the job in hand with `error`; `stop` ends the worker running it too. Then the next job. */
  #fail(error: Error, stop: boolean): void {
    const current = this.#current;
    this.#current = null;
    if (current) {
      clearTimeout(current.timer);
      current.job.reject(error);
    }
    if (stop && this.#worker) {
      const worker = this.#worker;
      this.#worker = null;
      void worker.terminate();
    }
    this.#pump();
  }
}

const pool = new XmlDigestPool();

/** Check an XML signature's digests and value off the event loop, within `timeoutMs`. */
export function checkXmlDigestsOffThread(xml: string, publicKeyPem: string, timeoutMs: number): Promise<DigestCheck> {
  return pool.check(xml, publicKeyPem, timeoutMs);
}
