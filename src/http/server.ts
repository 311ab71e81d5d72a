import type { Context } from "../services/context.ts";
import { buildApp } from "./app.ts";

export interface RunningServer {
  url: string;
  close(): Promise<void>;
  /** Settles when the server has stopped (Ctrl+C, SIGTERM or close()). */
  closed: Promise<void>;
}

/** Process concerns only: listen, stop cleanly on signals, close the store last. */
export async function startServer(
  context: Context,
  options: { host: string; port: number; log?: (line: string) => void; handleSignals?: boolean },
): Promise<RunningServer> {
  const app = await buildApp(context, options.log ? { log: options.log } : {});
  await app.listen({ host: options.host, port: options.port });
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;

  let resolveClosed!: () => void;
  const closed = new Promise<void>((resolve) => (resolveClosed = resolve));
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      await app.close();
      await context.close();
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      resolveClosed();
    })());
  const onSignal = () => {
    options.log?.("停止しています / shutting down");
    void close();
  };
  if (options.handleSignals ?? true) {
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  }
  return { url: `http://${host}:${port}`, close, closed };
}
