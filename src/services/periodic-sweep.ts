/**
 * A cleanup run on the back of normal work, at most once per interval per process: tables that
 * anyone can add rows to (challenges, OIDC interactions) delete their expired rows as they grow,
 * with no timer to stop. A clock that went back (a test's, or a corrected one) sweeps again
 * rather than waiting.
 */
export class PeriodicSweep {
  #last: number | undefined;

  constructor(
    private readonly intervalMs: number,
    private readonly sweep: (now: Date) => Promise<unknown>,
  ) {}

  async maybe(now: Date): Promise<void> {
    if (this.#last !== undefined && Math.abs(now.getTime() - this.#last) < this.intervalMs) return;
    this.#last = now.getTime();
    await this.sweep(now);
  }
}
