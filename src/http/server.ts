import type { Context } from "../services/context.ts";
import { startDepartureSchedule } from "../services/departure-schedule.ts";
import { buildApp, DEFAULT_HTTP_TIMEOUTS, type HttpTimeouts } from "./app.ts";

export interface RunningServer {
  url: string;
  close(): Promise<void>;
  /** Settles when the server has stopped (Ctrl+C, SIGTERM or close()). */
  closed: Promise<void>;
}

export interface ServerOptions {
  host: string;
  port: number;
  log?: (line: string) => void;
  /** Stop on SIGINT and SIGTERM (the CLI); tests that run several servers in one process say no. */
  handleSignals?: boolean;
  timeouts?: Partial<HttpTimeouts>;
  /** After the first signal, requests in flight get this long to finish before the process exits anyway. */
  shutdownGraceMs?: number;
  /** How often filed emigrations are checked for their day of departure (default a minute). */
  departureCheckMs?: number;
}

/** Beyond the request timeout: the slowest request a client may still be sending arrives, or is cut, first. */
const SHUTDOWN_GRACE_BEYOND_REQUEST_MS = 5_000;

/** Process concerns only: listen, run the scheduled work, stop cleanly on signals, close the store last. */
export async function startServer(context: Context, options: ServerOptions): Promise<RunningServer> {
  const app = await buildApp(context, { ...(options.log ? { log: options.log } : {}), ...(options.timeouts ? { timeouts: options.timeouts } : {}) });
  await app.listen({ host: options.host, port: options.port });
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  const departures = startDepartureSchedule(context.events, options.log ?? (() => {}), options.departureCheckMs);

  let resolveClosed!: () => void;
  let rejectClosed!: (error: unknown) => void;
  const closed = new Promise<void>((resolve, reject) => ((resolveClosed = resolve), (rejectClosed = reject)));
  closed.catch(() => {}); // a failed close() also rejects its caller; nobody need await `closed`
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      try {
        // Stops accepting, closes idle keep-alive connections, waits for the requests in flight;
        // the store closes after them, so nothing they commit is cut off. Node closes the idle
        // connections once, when closing starts: one whose request was in flight then would stay
        // open after its answer for the keep-alive timeout (72 s), so they are swept until done.
        const sweep = setInterval(() => app.server.closeIdleConnections(), 100);
        try {
          await Promise.all([app.close(), departures.stop()]);
        } finally {
          clearInterval(sweep);
        }
        await context.close();
        resolveClosed();
      } catch (error) {
        rejectClosed(error);
        throw error;
      } finally {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
      }
    })());
  let signalled = false;
  const forceExit = (why: string) => {
    options.log?.(`強制終了します / exiting now: ${why}`);
    // Committed work is already durable; a transaction still open is rolled back by the store.
    process.exit(1);
  };
  const onSignal = () => {
    if (signalled) return forceExit("二度目の停止要求 / second stop request");
    signalled = true;
    const graceMs = options.shutdownGraceMs ?? (options.timeouts?.requestMs ?? DEFAULT_HTTP_TIMEOUTS.requestMs) + SHUTDOWN_GRACE_BEYOND_REQUEST_MS;
    options.log?.(`停止しています（処理中の要求を待ちます。もう一度 Ctrl+C で即時終了）/ shutting down: waiting for requests in flight (Ctrl+C again to exit now)`);
    const grace = setTimeout(() => forceExit(`${graceMs / 1000} 秒以内に終わらない要求 / requests still running after ${graceMs / 1000} s`), graceMs);
    grace.unref();
    close()
      .catch(() => {}) // reported through `closed`, which the CLI awaits
      .finally(() => clearTimeout(grace));
  };
  if (options.handleSignals ?? true) {
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  }
  return { url: `http://${host}:${port}`, close, closed };
}
