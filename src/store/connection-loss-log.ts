import { performance } from "node:perf_hooks";

/**
 * One line for the operator when PostgreSQL connections are lost (a restart, a failover, an idle
 * timeout, pg_terminate_backend). The pools carry on over new connections, so this is news, not
 * an error: at most one line per `intervalMs`, counting the losses it did not print, so that a
 * failover that cuts every connection at once shows as one line and not as a flood.
 */
export function connectionLossLog(log: (line: string) => void, intervalMs = 10_000): (error: Error) => void {
  let lastLine = -Infinity;
  let unreported = 0;
  return (error) => {
    const now = performance.now();
    if (now - lastLine < intervalMs) {
      unreported++;
      return;
    }
    const more = unreported > 0 ? ` (前回から他に ${unreported} 件 / ${unreported} more since the last line)` : "";
    lastLine = now;
    unreported = 0;
    log(`PostgreSQL への接続が切れました。新しい接続で続けます / lost a connection to PostgreSQL, carrying on over a new one: ${error.message}${more}`);
  };
}
