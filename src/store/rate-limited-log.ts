import { performance } from "node:perf_hooks";

/**
 * Lines for the operator about events that come in bursts — PostgreSQL connections lost (a
 * restart, a failover, an idle timeout, pg_terminate_backend: the pool carries on over new ones),
 * a standby read that failed (the primary answers instead). News, not errors: at most one line
 * per `intervalMs`, counting the ones it did not print, so that a failover that cuts every
 * connection at once shows as one line and not as a flood.
 */
export function rateLimitedLog(log: (line: string) => void, intervalMs = 10_000): (line: string) => void {
  let lastLine = -Infinity;
  let unreported = 0;
  return (line) => {
    const now = performance.now();
    if (now - lastLine < intervalMs) {
      unreported++;
      return;
    }
    const more = unreported > 0 ? ` (前回から他に ${unreported} 件 / ${unreported} more since the last line)` : "";
    lastLine = now;
    unreported = 0;
    log(`${line}${more}`);
  };
}

/** The line for a lost PostgreSQL connection. */
export const connectionLostLine = (error: Error) =>
  `PostgreSQL への接続が切れました。新しい接続で続けます / lost a connection to PostgreSQL, carrying on over a new one: ${error.message}`;
