import { randomBytes } from "node:crypto";
import type { Kysely } from "kysely";
import type { ChallengeTable, Database } from "../store/schema.ts";
import { ServiceError } from "./errors.ts";
import type { Clock } from "./clock.ts";

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

/** One-time challenges: used at most once, within their lifetime; the use is recorded before checking. */
export class Challenges {
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
    return { id, purpose, challenge: new Uint8Array(challenge), expiresAt };
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
