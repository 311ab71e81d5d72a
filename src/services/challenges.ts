import { randomBytes } from "node:crypto";
import type { Kysely } from "kysely";
import type { ChallengeTable, Database } from "../store/schema.ts";
import { ServiceError } from "./errors.ts";
import type { Clock } from "./clock.ts";
import { PeriodicSweep } from "./periodic-sweep.ts";

export type ChallengePurpose = ChallengeTable["purpose"];

/** What the card signs: a purpose label and the challenge, so a signature for one use is worthless for another. */
export function signedChallenge(purpose: ChallengePurpose, challenge: Uint8Array): Uint8Array {
  return Buffer.concat([Buffer.from(`OpenJPKI ${purpose} v1\0`, "utf8"), challenge]);
}

export interface IssuedChallenge {
  id: string;
  purpose: ChallengePurpose;
  challenge: Uint8Array;
  expiresAt: string;
}

/**
 * How long an expired challenge is kept: an answer a little late is refused as
 * `challenge-expired`; after that the row is deleted and the id is `challenge-unknown`.
 */
export const EXPIRED_CHALLENGE_KEPT_SECONDS = 600;
/** Expired challenges are deleted by an issue at most this often (per process). */
const SWEEP_INTERVAL_MS = 60_000;

/**
 * One-time challenges: used at most once, within their lifetime; the use is recorded before
 * checking. Anyone may ask for one, so the table must not grow with the asking: issuing deletes
 * the challenges expired more than {@link EXPIRED_CHALLENGE_KEPT_SECONDS} ago (at most once a
 * minute, one indexed delete). A used challenge is kept until then, so a replay within its
 * lifetime is always found used.
 */
export class Challenges {
  readonly #sweep = new PeriodicSweep(SWEEP_INTERVAL_MS, (now) => this.deleteExpired(now));

  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
    private readonly lifetimeSeconds = 300,
  ) {}

  async issue(purpose: ChallengePurpose): Promise<IssuedChallenge> {
    const now = this.clock();
    const challenge = randomBytes(32);
    const id = randomBytes(16).toString("base64url");
    const expiresAt = new Date(now.getTime() + this.lifetimeSeconds * 1000).toISOString();
    await this.db
      .insertInto("challenges")
      .values({ id, purpose, challenge: challenge.toString("base64url"), created_at: now.toISOString(), expires_at: expiresAt, used_at: null })
      .execute();
    await this.#sweep.maybe(now);
    return { id, purpose, challenge: new Uint8Array(challenge), expiresAt };
  }

  /** Deletes the challenges expired more than {@link EXPIRED_CHALLENGE_KEPT_SECONDS} before `now`; returns how many. */
  async deleteExpired(now: Date = this.clock()): Promise<number> {
    const before = new Date(now.getTime() - EXPIRED_CHALLENGE_KEPT_SECONDS * 1000).toISOString();
    const gone = await this.db.deleteFrom("challenges").where("expires_at", "<", before).executeTakeFirst();
    return Number(gone.numDeletedRows);
  }

  /**
   * Take a challenge for use: marks it used atomically (a replay, even a concurrent one, finds it
   * used) and returns its bytes. Refusals: unknown, another purpose, used, expired.
   */
  async consume(id: string, purpose: ChallengePurpose): Promise<Uint8Array> {
    if (typeof id !== "string" || id.length > 64) throw new ServiceError("invalid-input", "challenge: not a challenge id", "challenge");
    const now = this.clock().toISOString();
    const row = await this.db.selectFrom("challenges").selectAll().where("id", "=", id).executeTakeFirst();
    if (!row || row.purpose !== purpose) throw new ServiceError("not-found", "challenge: unknown challenge", "challenge", { reason: "challenge-unknown" });
    if (row.used_at) throw new ServiceError("conflict", "このチャレンジは使用済みです / challenge already used (replay)", "challenge", { reason: "challenge-used" });
    if (row.expires_at <= now) throw new ServiceError("conflict", "チャレンジの有効期限切れです / challenge expired", "challenge", { reason: "challenge-expired" });
    const taken = await this.db.updateTable("challenges").set({ used_at: now }).where("id", "=", id).where("used_at", "is", null).executeTakeFirst();
    if (Number(taken.numUpdatedRows) !== 1) {
      throw new ServiceError("conflict", "このチャレンジは使用済みです / challenge already used (replay)", "challenge", { reason: "challenge-used" });
    }
    return new Uint8Array(Buffer.from(row.challenge, "base64url"));
  }
}
