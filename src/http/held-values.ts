import { randomBytes } from "node:crypto";

/**
 * What a POST leaves for the page it redirects to (post-redirect-get): a procedure's outcome, a
 * letter to download, a done page to show again on a reload. Kept a while for their owner only
 * (a staff member, or the browser's form-token cookie), and at most `max` at once: past that the
 * oldest go first, so a flood of posts holds bounded memory. Expired ones are swept as new ones
 * come (all share one lifetime, so the oldest are at the front).
 */
export class HeldValues<T> {
  private readonly entries = new Map<string, { owner: string; value: T; expires: number }>();

  constructor(
    private readonly lifetimeMs: number,
    private readonly nowMs: () => number,
    private readonly max = 10_000,
  ) {}

  /** Holds `value` for `owner` under `id`, or under a new unguessable token; returns the id. */
  put(owner: string, value: T, id: string = randomBytes(16).toString("base64url")): string {
    const now = this.nowMs();
    for (const [key, entry] of this.entries) {
      if (entry.expires >= now) break;
      this.entries.delete(key);
    }
    this.entries.delete(id); // held again: to the back, with a new lifetime
    while (this.entries.size >= this.max) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(id, { owner, value, expires: now + this.lifetimeMs });
    return id;
  }

  /** The value held under `id` for `owner` while it lasts (an empty owner is nobody's). */
  get(id: unknown, owner: string | undefined): T | undefined {
    if (typeof id !== "string" || !owner) return undefined;
    const entry = this.entries.get(id);
    return entry && entry.owner === owner && entry.expires >= this.nowMs() ? entry.value : undefined;
  }

  /** As `get`, and forgotten: shown once. */
  take(id: unknown, owner: string | undefined): T | undefined {
    const value = this.get(id, owner);
    if (value !== undefined) this.entries.delete(id as string);
    return value;
  }
}
