import { DeparturesFailed, type EventOutcome, type RegisterEvents } from "./register-events.ts";

/** How often a running server looks for departures that have come due. */
export const DEPARTURE_CHECK_INTERVAL_MS = 60_000;

export interface DepartureSchedule {
  /** Stops the timer and waits for a run in progress, so the store can close after it. */
  stop(): Promise<void>;
}

/**
 * Applies filed emigrations on their day of departure while a server runs: once at start (a
 * server that was down at midnight catches up) and then every minute, so the signing
 * certificate of a holder who left is revoked within a minute of midnight JST. Runs never
 * overlap; a failed run is logged and the next one tries again.
 */
export function startDepartureSchedule(events: RegisterEvents, log: (line: string) => void, intervalMs = DEPARTURE_CHECK_INTERVAL_MS): DepartureSchedule {
  let running: Promise<void> | undefined;
  const logApplied = (applied: EventOutcome[]) => {
    for (const a of applied) {
      log(`国外転出を適用しました / emigration applied: ${a.residentId} (departure ${a.departureDate}, ${a.revoked.length} certificate(s) revoked)`);
    }
  };
  const run = () => {
    running ??= events
      .applyDueDepartures()
      .then(logApplied, (error: unknown) => {
        if (error instanceof DeparturesFailed) logApplied(error.applied);
        log(`国外転出の適用に失敗しました（1分後に再試行）/ applying due emigrations failed, retrying in a minute: ${error instanceof Error ? error.message : String(error)}`);
      })
      .finally(() => (running = undefined));
  };
  run();
  const timer = setInterval(run, intervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
