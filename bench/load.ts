/**
 * A bounded HTTP/1.1 load generator over raw sockets, run in its own process so that it never
 * shares the measured server's event loop.
 *
 * - Fixed number of connections; each sends one request at a time (no pipelining), with
 *   keep-alive; when the server closes after a response (HTTP/1.0, `Connection: close`: the
 *   openssl responder) the next request goes on a new connection.
 * - **No empty probe connections**: a connection is opened only with its request already
 *   written to it, and readiness is checked with a real request. (`openssl ocsp -port` spins
 *   and stops answering after a connect-and-close; see the anchors file.)
 * - Bounded: a warm-up (not recorded), then at most `maxRequests` recorded responses or
 *   `maxSeconds`, whichever comes first; each request times out after `timeoutMs`.
 * - Records latency (p50/p90/p99/max) and checks every response (`check`).
 *
 * Used from the runner through `runLoad()` (fork + IPC), or as a command for peers that must
 * run in a private network namespace:
 *   node --import tsx bench/load.ts --spec spec.json --out result.json
 */
import { connect, type Socket } from "node:net";
import { fork } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { quantile, type Cleanup } from "./harness.ts";

export interface LoadRequest {
  method: "GET" | "POST";
  path: string;
  contentType?: string;
  /** Base64 of the body (the spec is JSON so it can cross IPC and files). */
  bodyBase64?: string;
  /** Extra request headers (e.g. Authorization). */
  headers?: Record<string, string>;
}

export type ResponseCheck = "ocsp" | "http-ok" | "cfssl-sign" | "issuance-batch";

/** The bounds of one HTTP load point: 4 s measured (8 s in full mode) after a warm-up, or a request count, whichever comes first. */
export function loadPointTiming(quick: boolean): Pick<LoadSpec, "maxSeconds" | "warmupSeconds" | "maxRequests"> {
  return quick ? { maxSeconds: 4, warmupSeconds: 1, maxRequests: 400_000 } : { maxSeconds: 8, warmupSeconds: 2, maxRequests: 1_000_000 };
}

export interface LoadSpec {
  host?: string;
  port: number;
  requests: LoadRequest[];
  connections: number;
  maxRequests: number;
  maxSeconds: number;
  warmupSeconds: number;
  check: ResponseCheck;
  timeoutMs?: number;
  /** Before starting, retry a real request until it is answered (never an empty connect). */
  waitReadyMs?: number;
  /** Robustness: keep these misbehaving connections open during the measured window. */
  disturb?: { idle: number; slow: number; emptyEveryMs?: number };
  /** After the load: one empty connect-and-close, then one real request; stalled if no answer in 2 s. */
  stallProbe?: boolean;
}

export interface LoadResult {
  recorded: number;
  /** Every response received, the warm-up's and those past the count included (CPU per response over the whole load). */
  answered: number;
  /**
   * What the recorded responses delivered, in units of work: certificates issued for a batch
   * issuance answer (its items answered 201), 1 for any other good response.
   */
  units: number;
  /** The same over every response received (`answered`). */
  answeredUnits: number;
  ok: number;
  failed: number;
  timeouts: number;
  seconds: number;
  rps: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  connectionsOpened: number;
  clientCpuS: number;
  firstError?: string;
  stall?: { stalled: boolean; ms: number };
  disturbances?: { idle: number; slow: number; empty: number };
}

// ---------------------------------------------------------------------------------------------
// The parent side
// ---------------------------------------------------------------------------------------------

const LOAD_PATH = fileURLToPath(import.meta.url);
const TSX_IMPORT = import.meta.resolve("tsx");

/** The command line that runs this file as a load client (for use inside a network namespace). */
export function loadCommand(specFile: string, outFile: string): string[] {
  return [process.execPath, "--import", TSX_IMPORT, LOAD_PATH, "--spec", specFile, "--out", outFile];
}

/** Run one bounded load in a forked child process and return its result. */
export function runLoad(cleanup: Cleanup, spec: LoadSpec): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = cleanup.child(fork(LOAD_PATH, [], { execArgv: ["--import", TSX_IMPORT], stdio: ["ignore", "inherit", "inherit", "ipc"] }));
    let result: LoadResult | undefined;
    child.on("message", (message) => {
      const m = message as { result?: LoadResult; error?: string };
      if (m.error) reject(new Error(`load client: ${m.error}`));
      else result = m.result;
    });
    child.on("error", reject);
    child.on("exit", (code) => (result ? resolve(result) : reject(new Error(`load client exited with ${code} and no result`))));
    child.send({ spec });
  });
}

export const body64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString("base64");

// ---------------------------------------------------------------------------------------------
// The client
// ---------------------------------------------------------------------------------------------

interface Parsed {
  status: number;
  body: Buffer;
  keepAlive: boolean;
}

/** Incremental HTTP/1.x response parser (Content-Length, chunked, or read-until-close). */
class ResponseReader {
  #buf: Buffer = Buffer.alloc(0);
  #head?: { status: number; keepAlive: boolean; length?: number; chunked: boolean; bodyStart: number };

  push(chunk: Buffer): Parsed | undefined {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    return this.#tryParse();
  }

  /** The connection closed: a read-until-close body is complete now. */
  end(): Parsed | undefined {
    const h = this.#head;
    if (!h || h.length !== undefined || h.chunked) return undefined;
    const body = this.#buf.subarray(h.bodyStart);
    this.reset();
    return { status: h.status, body, keepAlive: false };
  }

  reset(): void {
    this.#buf = Buffer.alloc(0);
    this.#head = undefined;
  }

  #tryParse(): Parsed | undefined {
    if (!this.#head) {
      const end = this.#buf.indexOf("\r\n\r\n");
      if (end < 0) return undefined;
      const lines = this.#buf.subarray(0, end).toString("latin1").split("\r\n");
      const statusLine = /^HTTP\/1\.(\d) (\d{3})/.exec(lines[0] ?? "");
      if (!statusLine) throw new Error(`bad status line ${JSON.stringify(lines[0])}`);
      const headers = new Map<string, string>();
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(":");
        if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim().toLowerCase());
      }
      const status = Number(statusLine[2]);
      const connection = headers.get("connection") ?? "";
      const keepAlive = statusLine[1] === "1" ? connection !== "close" : connection === "keep-alive";
      const noBody = status === 204 || status === 304 || (status >= 100 && status < 200);
      const length = noBody ? 0 : headers.has("content-length") ? Number(headers.get("content-length")) : undefined;
      this.#head = { status, keepAlive, length, chunked: headers.get("transfer-encoding") === "chunked", bodyStart: end + 4 };
    }
    const h = this.#head;
    if (h.length !== undefined) {
      if (this.#buf.length < h.bodyStart + h.length) return undefined;
      const body = this.#buf.subarray(h.bodyStart, h.bodyStart + h.length);
      this.reset();
      return { status: h.status, body, keepAlive: h.keepAlive };
    }
    if (h.chunked) {
      const parts: Buffer[] = [];
      let at = h.bodyStart;
      for (;;) {
        const lineEnd = this.#buf.indexOf("\r\n", at);
        if (lineEnd < 0) return undefined;
        const size = parseInt(this.#buf.subarray(at, lineEnd).toString("latin1"), 16);
        if (size === 0) {
          if (this.#buf.length < lineEnd + 4) return undefined;
          this.reset();
          return { status: h.status, body: Buffer.concat(parts), keepAlive: h.keepAlive };
        }
        if (this.#buf.length < lineEnd + 2 + size + 2) return undefined;
        parts.push(this.#buf.subarray(lineEnd + 2, lineEnd + 2 + size));
        at = lineEnd + 2 + size + 2;
      }
    }
    return undefined; // read until close
  }
}

interface Checked {
  problem?: string;
  /** Units of work delivered (see LoadResult.units). */
  units: number;
}

/** The start of a body, for an error message. */
const excerpt = (r: Parsed): string => r.body.subarray(0, 200).toString("utf8");

function checkResponse(check: ResponseCheck, r: Parsed): Checked {
  if (check === "issuance-batch") return checkBatch(r);
  const problem = responseProblem(check, r);
  return problem === undefined ? { units: 1 } : { problem, units: 0 };
}

function responseProblem(check: Exclude<ResponseCheck, "issuance-batch">, r: Parsed): string | undefined {
  if (check === "http-ok") return r.status >= 200 && r.status < 300 ? undefined : `HTTP ${r.status}`;
  if (r.status !== 200) return `HTTP ${r.status}: ${excerpt(r)}`;
  if (check === "cfssl-sign") return r.body.includes('"success":true') ? undefined : `cfssl: ${excerpt(r)}`;
  // OCSPResponse ::= SEQUENCE { responseStatus ENUMERATED (0 = successful), ... }
  const b = r.body;
  if (b[0] !== 0x30) return "not DER";
  const skip = b[1]! < 0x80 ? 2 : 2 + (b[1]! & 0x7f);
  if (b[skip] !== 0x0a || b[skip + 1] !== 1) return "no responseStatus";
  return b[skip + 2] === 0 ? undefined : `OCSP responseStatus ${b[skip + 2]}`;
}

/** A batch issuance answer: the certificates it issued (items answered 201), and a problem if any item was not issued. */
function checkBatch(r: Parsed): Checked {
  if (r.status !== 200) return { problem: `HTTP ${r.status}: ${excerpt(r)}`, units: 0 };
  let results: { status?: number; error?: { code?: string; message?: string } }[];
  try {
    results = (JSON.parse(r.body.toString("utf8")) as { results: typeof results }).results;
  } catch {
    return { problem: `batch: not JSON: ${excerpt(r)}`, units: 0 };
  }
  if (!Array.isArray(results) || results.length === 0) return { problem: "batch: no results", units: 0 };
  const units = results.filter((item) => item.status === 201).length;
  const bad = results.find((item) => item.status !== 201);
  return bad ? { problem: `batch item ${bad.status}: ${bad.error?.code ?? ""} ${bad.error?.message ?? ""}`.trim(), units } : { units };
}

function rawRequest(host: string, port: number, r: LoadRequest): Buffer {
  const body = r.bodyBase64 ? Buffer.from(r.bodyBase64, "base64") : undefined;
  let head = `${r.method} ${r.path} HTTP/1.1\r\nHost: ${host}:${port}\r\nAccept: */*\r\n`;
  for (const [name, value] of Object.entries(r.headers ?? {})) head += `${name}: ${value}\r\n`;
  if (body) head += `Content-Type: ${r.contentType ?? "application/octet-stream"}\r\nContent-Length: ${body.length}\r\n`;
  head += "\r\n";
  return body ? Buffer.concat([Buffer.from(head, "latin1"), body]) : Buffer.from(head, "latin1");
}

/** Send one request on a fresh connection and wait for its answer (or `timeoutMs`). */
function oneShot(host: string, port: number, raw: Buffer, timeoutMs: number): Promise<Parsed> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    socket.write(raw);
    const reader = new ResponseReader();
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error("timeout"));
    }, timeoutMs);
    const done = (r: Parsed | undefined) => {
      if (!r) return;
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    };
    socket.on("data", (c: Buffer) => done(reader.push(c)));
    socket.on("end", () => done(reader.end()));
    socket.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

async function waitReady(host: string, port: number, raw: Buffer, maxMs: number): Promise<void> {
  const deadline = Date.now() + maxMs;
  for (;;) {
    try {
      await oneShot(host, port, raw, 2000);
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`server on port ${port} not ready after ${maxMs} ms: ${(error as Error).message}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

export async function generateLoad(spec: LoadSpec): Promise<LoadResult> {
  const host = spec.host ?? "127.0.0.1";
  const raws = spec.requests.map((r) => rawRequest(host, spec.port, r));
  const timeoutMs = spec.timeoutMs ?? 5000;
  if (spec.waitReadyMs) await waitReady(host, spec.port, raws[0]!, spec.waitReadyMs);

  const latencies = new Float64Array(spec.maxRequests);
  let recorded = 0;
  let answered = 0;
  let units = 0;
  let answeredUnits = 0;
  let ok = 0;
  let failed = 0;
  let timeouts = 0;
  let opened = 0;
  let firstError: string | undefined;
  let next = 0;
  const t0 = performance.now();
  const warmEnd = t0 + spec.warmupSeconds * 1000;
  const hardEnd = warmEnd + spec.maxSeconds * 1000;
  let measureStart = Number.NaN;
  let lastDone = warmEnd;
  let cpuStart: NodeJS.CpuUsage | undefined;
  let stopping = false;
  let active = spec.connections;
  const disturbers: Socket[] = [];
  let emptyTimer: NodeJS.Timeout | undefined;
  let emptyCount = 0;
  let slowTimer: NodeJS.Timeout | undefined;
  let resolveAll!: () => void;
  const allDone = new Promise<void>((r) => (resolveAll = r));

  const startMeasuring = () => {
    if (!Number.isNaN(measureStart)) return;
    measureStart = performance.now();
    cpuStart = process.cpuUsage();
    if (spec.disturb) startDisturbing(spec.disturb);
  };
  if (spec.warmupSeconds <= 0) startMeasuring();

  function startDisturbing(d: NonNullable<LoadSpec["disturb"]>) {
    for (let i = 0; i < d.idle; i++) disturbers.push(connect({ host, port: spec.port }).on("error", () => {}));
    const partial = Buffer.from(`GET /ocsp/sign/ HTTP/1.1\r\nHost: ${host}\r\nX-Slow: `, "latin1");
    for (let i = 0; i < d.slow; i++) {
      const s = connect({ host, port: spec.port }).on("error", () => {});
      s.write(partial);
      disturbers.push(s);
    }
    if (d.slow > 0) {
      slowTimer = setInterval(() => {
        for (const s of disturbers.slice(d.idle)) if (!s.destroyed) s.write("a");
      }, 500);
    }
    if (d.emptyEveryMs) {
      emptyTimer = setInterval(() => {
        emptyCount++;
        const s = connect({ host, port: spec.port }).on("error", () => {});
        s.on("connect", () => s.destroy());
      }, d.emptyEveryMs);
    }
  }

  class Client {
    socket: Socket | undefined;
    reader = new ResponseReader();
    started = 0;
    timer: NodeJS.Timeout | undefined;
    busy = false;
    finished = false;

    send(): void {
      const now = performance.now();
      if (now >= warmEnd) startMeasuring();
      if (stopping || now >= hardEnd || recorded >= spec.maxRequests) return this.finish();
      const raw = raws[next++ % raws.length]!;
      if (!this.socket) this.open();
      this.busy = true;
      this.started = now;
      this.timer = setTimeout(() => this.fail("timeout"), timeoutMs);
      this.socket!.write(raw);
    }

    open(): void {
      opened++;
      const socket = connect({ host, port: spec.port });
      socket.setNoDelay(true);
      socket.on("data", (c: Buffer) => {
        if (this.socket !== socket) return;
        let parsed: Parsed | undefined;
        try {
          parsed = this.reader.push(c);
        } catch (error) {
          return this.fail((error as Error).message);
        }
        if (parsed) this.done(parsed);
      });
      socket.on("end", () => {
        if (this.socket !== socket) return;
        const parsed = this.reader.end();
        if (parsed) this.done(parsed);
        else if (this.busy) this.fail("connection closed");
        else this.drop();
      });
      socket.on("error", (e) => {
        if (this.socket === socket) this.fail(e.message);
      });
      this.socket = socket;
    }

    drop(): void {
      this.socket?.destroy();
      this.socket = undefined;
      this.reader.reset();
    }

    done(r: Parsed): void {
      clearTimeout(this.timer);
      this.busy = false;
      const end = performance.now();
      answered++;
      const { problem, units: delivered } = checkResponse(spec.check, r);
      answeredUnits += delivered;
      if (!Number.isNaN(measureStart) && this.started >= measureStart && recorded < spec.maxRequests) {
        latencies[recorded++] = end - this.started;
        lastDone = end;
        units += delivered;
        if (problem) {
          failed++;
          firstError ??= problem;
        } else ok++;
      }
      if (!r.keepAlive) this.drop();
      this.send();
    }

    fail(message: string): void {
      if (this.finished) return;
      clearTimeout(this.timer);
      const wasBusy = this.busy;
      this.busy = false;
      this.drop();
      if (wasBusy && !Number.isNaN(measureStart) && this.started >= measureStart) {
        if (message === "timeout") timeouts++;
        failed++;
        firstError ??= message;
      }
      // Back off a little so a refused connection does not spin.
      setTimeout(() => this.send(), message === "timeout" ? 0 : 10);
    }

    finish(): void {
      if (this.finished) return;
      this.finished = true;
      stopping = true;
      this.socket?.end();
      this.socket = undefined;
      this.timer = undefined;
      if (--active === 0) resolveAll();
    }
  }

  const clients = Array.from({ length: spec.connections }, () => new Client());
  for (const c of clients) c.send();
  await allDone;
  const cpu = cpuStart ? process.cpuUsage(cpuStart) : { user: 0, system: 0 };
  if (slowTimer) clearInterval(slowTimer);
  if (emptyTimer) clearInterval(emptyTimer);
  for (const s of disturbers) s.destroy();

  const seconds = Number.isNaN(measureStart) ? 0 : Math.max(1e-9, (lastDone - measureStart) / 1000);
  const sorted = latencies.subarray(0, recorded).sort();
  const result: LoadResult = {
    recorded,
    answered,
    units,
    answeredUnits,
    ok,
    failed,
    timeouts,
    seconds: round(seconds, 3),
    rps: round(ok / seconds, 1),
    p50Ms: round(quantile(sorted, 0.5), 3),
    p90Ms: round(quantile(sorted, 0.9), 3),
    p99Ms: round(quantile(sorted, 0.99), 3),
    maxMs: round(sorted.length ? sorted[sorted.length - 1]! : Number.NaN, 3),
    connectionsOpened: opened,
    clientCpuS: round((cpu.user + cpu.system) / 1e6, 2),
  };
  if (firstError) result.firstError = firstError;
  if (spec.disturb) result.disturbances = { idle: spec.disturb.idle, slow: spec.disturb.slow, empty: emptyCount };
  if (spec.stallProbe) result.stall = await stallProbe(host, spec.port, raws[0]!);
  return result;
}

/** An empty connect-and-close, then one real request: does the server still answer within 2 s? */
async function stallProbe(host: string, port: number, raw: Buffer): Promise<{ stalled: boolean; ms: number }> {
  await new Promise<void>((resolve) => {
    const s = connect({ host, port });
    s.on("connect", () => {
      s.destroy();
      resolve();
    });
    s.on("error", () => resolve());
  });
  await new Promise((r) => setTimeout(r, 100));
  const t = performance.now();
  try {
    await oneShot(host, port, raw, 2000);
    return { stalled: false, ms: round(performance.now() - t, 1) };
  } catch {
    return { stalled: true, ms: round(performance.now() - t, 1) };
  }
}

const round = (n: number, digits: number): number => (Number.isFinite(n) ? Math.round(n * 10 ** digits) / 10 ** digits : n);

// ---------------------------------------------------------------------------------------------
// Entry point (forked child or command)
// ---------------------------------------------------------------------------------------------

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const specFile = args[args.indexOf("--spec") + 1];
  if (args.includes("--spec") && specFile) {
    const outFile = args[args.indexOf("--out") + 1]!;
    generateLoad(JSON.parse(readFileSync(specFile, "utf8")) as LoadSpec).then(
      (result) => writeFileSync(outFile, JSON.stringify(result)),
      (error: Error) => {
        writeFileSync(outFile, JSON.stringify({ error: error.message }));
        process.exitCode = 1;
      },
    );
  } else if (process.send) {
    process.once("message", (message) => {
      const { spec } = message as { spec: LoadSpec };
      generateLoad(spec).then(
        (result) => process.send!({ result }, () => process.disconnect()),
        (error: Error) => process.send!({ error: error.message }, () => process.disconnect()),
      );
    });
  }
}
