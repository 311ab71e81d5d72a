import { randomBytes } from "node:crypto";
import type { Kysely } from "kysely";
import type { Database } from "../store/schema.ts";
import type { Verifier } from "../verify/index.ts";
import type { CardReader } from "../readers/reader.ts";
import { Challenges, signedChallenge, type IssuedChallenge } from "./challenges.ts";
import { holderProof } from "./card-holder.ts";
import { requireValid } from "./trust.ts";
import { ServiceError } from "./errors.ts";
import type { Clock } from "./clock.ts";
import { PeriodicSweep } from "./periodic-sweep.ts";

export interface PortalSession {
  id: string;
  serialHex: string;
  subjectCn: string;
  expiresAt: string;
}

const SESSION_SECONDS = 30 * 60;

/**
 * Myna Portal-style login with the authentication certificate: the server issues a one-time
 * challenge, the card signs it after the 4-digit PIN, the server checks signature, path and
 * OCSP, and opens a session bound to the certificate's serial. No personal data is needed.
 */
export class PortalLogin {
  /** Expired sessions go as new ones are opened (at most once a minute); before, every login's row stayed for good. */
  readonly #sweep = new PeriodicSweep(60_000, async (now) => {
    await this.db.deleteFrom("portal_sessions").where("expires_at", "<=", now.toISOString()).execute();
  });

  constructor(
    private readonly db: Kysely<Database>,
    private readonly challenges: Challenges,
    private readonly verifier: () => Verifier,
    private readonly clock: Clock,
  ) {}

  challenge(): Promise<IssuedChallenge> {
    return this.challenges.issue("login");
  }

  /** Check a signed challenge; refusals carry the reason (challenge-used, challenge-expired, revoked, on-hold, wrong-certificate-type, bad-signature…). */
  async complete(input: { challengeId: string; certificateDer: Uint8Array; signature: Uint8Array }): Promise<PortalSession> {
    const valid = await this.verified(input);
    const now = this.clock();
    const session: PortalSession = {
      id: randomBytes(24).toString("base64url"),
      serialHex: valid.certificate.serialHex.toUpperCase(),
      subjectCn: valid.certificate.subject.replace(/^.*CN=/, ""),
      expiresAt: new Date(now.getTime() + SESSION_SECONDS * 1000).toISOString(),
    };
    await this.db
      .insertInto("portal_sessions")
      .values({ id: session.id, serial_hex: session.serialHex, subject_cn: session.subjectCn, created_at: now.toISOString(), expires_at: session.expiresAt })
      .execute();
    await this.#sweep.maybe(now);
    return session;
  }

  /**
   * The session, while it lasts and while its certificate is still valid: a session whose
   * certificate was revoked, put on hold or has expired since the login ends at once (deleted),
   * with that reason.
   */
  async session(id: string): Promise<PortalSession> {
    const row = await this.db
      .selectFrom("portal_sessions")
      .leftJoin("certificates", (join) => join.on("certificates.ca_type", "=", "auth").onRef("certificates.serial_hex", "=", "portal_sessions.serial_hex"))
      .select(["portal_sessions.id", "portal_sessions.serial_hex", "portal_sessions.subject_cn", "portal_sessions.expires_at", "certificates.status", "certificates.not_after"])
      .where("portal_sessions.id", "=", id)
      .executeTakeFirst();
    if (!row || row.expires_at <= this.clock().toISOString()) {
      throw new ServiceError("refused", "ログインしてください / please log in", "session", { reason: "no-session" });
    }
    if (row.status === "valid" && row.not_after !== null && new Date(row.not_after).getTime() <= this.clock().getTime()) {
      await this.end(id);
      throw new ServiceError("refused", "ログインに使った電子証明書の有効期限が切れました。窓口で更新してください / the certificate of this login has expired: renew it at the counter", "session", { reason: "expired" });
    }
    if (row.status !== "valid") {
      await this.end(id);
      const [reason, ja, en] = row.status === "hold" ? ["on-hold", "一時停止", "on hold"] : ["revoked", "失効", "revoked"];
      throw new ServiceError("refused", `ログインに使った電子証明書が${ja}しています。もう一度ログインしてください / the certificate of this login is ${en}; log in again`, "session", { reason });
    }
    return { id: row.id, serialHex: row.serial_hex, subjectCn: row.subject_cn, expiresAt: row.expires_at };
  }

  /** Log out: the session is deleted, so its id (cookie or bearer) is worthless from now on. */
  async end(id: string): Promise<void> {
    await this.db.deleteFrom("portal_sessions").where("id", "=", id).execute();
  }

  /** The signed challenge checked (used up first, then signature, path, OCSP): the valid certificate, or a refusal. */
  private async verified(input: { challengeId: string; certificateDer: Uint8Array; signature: Uint8Array }) {
    const challenge = await this.challenges.consume(input.challengeId, "login");
    const result = await this.verifier().verifyRawSignature({
      certificateDer: input.certificateDer,
      data: signedChallenge("login", challenge),
      signature: input.signature,
      hash: "sha256",
      expectedType: "auth",
    });
    return requireValid(result);
  }

  /**
   * The same proof as {@link loginWithCard} without opening a portal session, for a login that
   * keeps its own (OpenID Connect): the serial of the authentication certificate the card proved.
   */
  async proveWithCard(reader: CardReader, pin: string): Promise<{ serialHex: string }> {
    const { id, challenge } = await this.challenge();
    const proof = await holderProof(reader, "auth", pin, "login", challenge);
    const valid = await this.verified({ challengeId: id, ...proof });
    return { serialHex: valid.certificate.serialHex.toUpperCase() };
  }

  /** The holder's side in one call (demos, tests, the browser's card panel): PIN, sign, submit. */
  async loginWithCard(reader: CardReader, pin: string): Promise<PortalSession> {
    const { id, challenge } = await this.challenge();
    const proof = await holderProof(reader, "auth", pin, "login", challenge);
    return this.complete({ challengeId: id, ...proof });
  }
}

