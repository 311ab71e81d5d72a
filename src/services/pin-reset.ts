import { randomBytes } from "node:crypto";
import type { Kysely } from "kysely";
import type { Database, PinResetReservationTable } from "../store/schema.ts";
import type { Verifier } from "../verify/index.ts";
import type { CardReader } from "../readers/reader.ts";
import { IssuerCommandError, IssuerSession } from "../client/issuer.ts";
import { checkFourDigitPin, checkSigningPassword } from "../rules/pin-policy.ts";
import type { Settings } from "../config/defaults.ts";
import type { Challenges } from "./challenges.ts";
import { signedChallenge } from "./challenges.ts";
import { holderProof, type HolderKey } from "./card-holder.ts";
import { requireValid } from "./trust.ts";
import { requireCardInUse } from "./card-in-use.ts";
import type { Terminals } from "./terminals.ts";
import { DEFAULT_KIOSK_TERMINAL } from "./cards.ts";
import { ServiceError } from "./errors.ts";
import { appendAudit } from "./audit.ts";
import type { Clock } from "./clock.ts";
import { PeriodicSweep } from "./periodic-sweep.ts";

export interface Reservation {
  id: string;
  target: HolderKey;
  expiresAt: string;
}

const RESERVATION_HOURS = 24;
/**
 * A reservation is kept this long after it expired, so that the kiosk can still say "used" or
 * "expired" rather than "none"; then it goes (the audit chain keeps its record). Any holder may
 * make reservations, so the table must not grow with the asking.
 */
const EXPIRED_RESERVATION_KEPT_MS = 7 * 24 * 3600_000;

/**
 * Resetting a PIN without the counter (JPKI暗証番号リセット): in the app, the card, the *other*
 * certificate's PIN and a signature over a server challenge make a reservation valid 24 hours;
 * at a kiosk within that time the same PIN and a signature again, then the kiosk terminal
 * authenticates to the card (kiosk rights: the PIN reset only) and sets the new PIN, restoring
 * its retry counter. The PIN used to prove the holder is only verified, never changed.
 *
 * The usual route resets the signing password with the authentication PIN; the reverse route
 * (authentication PIN with the signing password) only where the municipality offers it.
 */
export class PinReset {
  readonly #sweep = new PeriodicSweep(3_600_000, (now) => this.deleteExpired(now));

  constructor(
    private readonly db: Kysely<Database>,
    private readonly challenges: Challenges,
    private readonly verifier: () => Verifier,
    private readonly terminals: Terminals,
    private readonly settings: Settings,
    private readonly clock: Clock,
    /** The convenience-store service hours: the kiosk step is a kiosk service like any other. */
    private readonly kioskHours: { requireOpen(): void },
  ) {}

  /** The app: reserve a reset of `target` with the other certificate and its PIN (holder side and server side in one). */
  async reserve(reader: CardReader, input: { target: HolderKey; pin: string }): Promise<Reservation> {
    const prover: HolderKey = input.target === "sign" ? "auth" : "sign";
    const { id, challenge } = await this.challenges.issue("pin-reset-app");
    const proof = await holderProof(reader, prover, input.pin, "pin-reset-app", challenge);
    return this.reserveWithProof({ target: input.target, challengeId: id, ...proof });
  }

  /** A challenge for the app to have the card sign. */
  appChallenge() {
    return this.challenges.issue("pin-reset-app");
  }

  /** The server side of the app reservation: check the signed challenge (path, OCSP) and record the reservation. */
  async reserveWithProof(input: { target: HolderKey; challengeId: string; certificateDer: Uint8Array; signature: Uint8Array }): Promise<Reservation> {
    if (input.target !== "sign" && input.target !== "auth") throw new ServiceError("invalid-input", "target: sign or auth", "target");
    const prover: HolderKey = input.target === "sign" ? "auth" : "sign";
    const serialHex = await this.checkProof(prover, "pin-reset-app", input);
    await requireCardInUse(this.db, prover, serialHex);
    await this.checkRouteOffered(prover, serialHex, input.target);
    await this.checkTargetCertificate(prover, serialHex, input.target);
    const now = this.clock();
    const reservation: PinResetReservationTable = {
      id: randomBytes(12).toString("base64url"),
      target: input.target,
      ca_type: prover,
      serial_hex: serialHex,
      created_at: now.toISOString(),
      expires_at: new Date(now.getTime() + RESERVATION_HOURS * 3600_000).toISOString(),
      used_at: null,
    };
    await this.#sweep.maybe(now);
    await this.db.transaction().execute(async (trx) => {
      await trx.insertInto("pin_reset_reservations").values(reservation).execute();
      await appendAudit(trx, { actor: "app" }, { action: "pin-reset.reserve", subject: `${prover}:${serialHex}`, after: { target: input.target, expiresAt: reservation.expires_at } }, now);
    });
    return { id: reservation.id, target: input.target, expiresAt: reservation.expires_at };
  }

  /** The kiosk: within 24 hours of a reservation, prove the holder again and set the new PIN. */
  async resetAtKiosk(
    reader: CardReader,
    input: { target: HolderKey; pin: string; newPin: string; kioskTerminalId?: string },
  ): Promise<{ reservationId: string }> {
    // Closed hours first: outside them the kiosk does not even ask the card for the PIN.
    this.kioskHours.requireOpen();
    const newPin = checkNewPin(input.target, input.newPin);
    const prover: HolderKey = input.target === "sign" ? "auth" : "sign";
    // PIN and signature first: they happen in this card session, which the kiosk terminal then uses.
    const { id, challenge } = await this.challenges.issue("pin-reset-kiosk");
    const proof = await holderProof(reader, prover, input.pin, "pin-reset-kiosk", challenge);
    const serialHex = await this.checkProof(prover, "pin-reset-kiosk", { challengeId: id, ...proof });
    await requireCardInUse(this.db, prover, serialHex);
    await this.checkTargetCertificate(prover, serialHex, input.target);
    const reservation = await this.claimReservation(prover, serialHex, input.target);
    const terminal = input.kioskTerminalId ?? DEFAULT_KIOSK_TERMINAL;
    const audit = (after: Record<string, unknown>) =>
      this.db.transaction().execute((trx) =>
        appendAudit(trx, { actor: "kiosk", terminal }, { action: "pin-reset.kiosk", subject: `${prover}:${serialHex}`, after: { target: input.target, reservation: reservation.id, ...after } }, this.clock()),
      );
    let setPinSent = false;
    try {
      const session = new IssuerSession(reader);
      const kiosk = await this.terminals.terminal(terminal, "kiosk");
      await session.authenticate(kiosk, { select: false });
      setPinSent = true;
      await session.setPin(input.target, newPin);
    } catch (error) {
      if (!setPinSent || error instanceof IssuerCommandError) {
        // Nothing was set: the terminal was refused before, or the card answered SET PIN with a
        // refusal. The reservation stays usable.
        await this.db.updateTable("pin_reset_reservations").set({ used_at: null }).where("id", "=", reservation.id).execute();
        throw error;
      }
      // The reader failed after SET PIN went out: the card may have set the new PIN with its
      // answer lost. The reservation stays used (a second reset on it could not be told from
      // the first) and the attempt is audited as unknown; the holder tries the new PIN or
      // reserves again in the app.
      await audit({ outcome: "unknown", error: String(error instanceof Error ? error.message : error).slice(0, 200) });
      throw new ServiceError(
        "service-unavailable",
        "カードからの応答がなく、暗証番号が変わったかどうか確認できませんでした。新しい暗証番号をお試しください。使えない場合はアプリでもう一度予約してください / " +
          "the card did not answer, so it is not known whether the new PIN was set: try the new PIN; if it does not work, make a new reservation in the app",
        "card",
        { reason: "result-unknown", cause: error },
      );
    }
    await audit({});
    return { reservationId: reservation.id };
  }

  /** Deletes the reservations that expired over a week ago; returns how many. */
  async deleteExpired(now: Date = this.clock()): Promise<number> {
    const before = new Date(now.getTime() - EXPIRED_RESERVATION_KEPT_MS).toISOString();
    const gone = await this.db.deleteFrom("pin_reset_reservations").where("expires_at", "<", before).executeTakeFirst();
    return Number(gone.numDeletedRows);
  }

  /** The server's check of a holder proof: the challenge (once, in time), signature, path and OCSP. Returns the serial. */
  private async checkProof(
    type: HolderKey,
    purpose: "pin-reset-app" | "pin-reset-kiosk",
    proof: { challengeId: string; certificateDer: Uint8Array; signature: Uint8Array },
  ): Promise<string> {
    const challenge = await this.challenges.consume(proof.challengeId, purpose);
    const result = await this.verifier().verifyRawSignature({
      certificateDer: proof.certificateDer,
      data: signedChallenge(purpose, challenge),
      signature: proof.signature,
      hash: "sha256",
      expectedType: type,
    });
    return requireValid(result).certificate.serialHex.toUpperCase();
  }

  private async checkRouteOffered(prover: HolderKey, serialHex: string, target: HolderKey): Promise<void> {
    if (target === "sign") return;
    const row = await this.db
      .selectFrom("certificates")
      .innerJoin("residents", "residents.id", "certificates.resident_id")
      .select("residents.municipality_code")
      .where("certificates.ca_type", "=", prover)
      .where("certificates.serial_hex", "=", serialHex)
      .executeTakeFirst();
    if (!row || !this.settings.kioskAuthPinResetMunicipalities.includes(row.municipality_code)) {
      throw new ServiceError(
        "refused",
        "お住まいの市区町村ではコンビニでの利用者証明用暗証番号の初期化はできません。窓口へお越しください / resetting the authentication PIN at a kiosk is not offered by your municipality: please visit the counter",
        "target",
        { reason: "route-not-offered" },
      );
    }
  }

  /**
   * A PIN is reset only for a certificate that can be used with it: the card that holds the
   * prover must hold a valid certificate of the target type. A card issued without a signing
   * certificate (declined, under 15), or whose one was revoked, has no signing password to reset.
   */
  private async checkTargetCertificate(prover: HolderKey, serialHex: string, target: HolderKey): Promise<void> {
    const now = this.clock().toISOString();
    const found = await this.db
      .selectFrom("certificates as p")
      .innerJoin("certificates as t", (join) => join.onRef("t.card_id", "=", "p.card_id"))
      .select("t.serial_hex")
      .where("p.ca_type", "=", prover)
      .where("p.serial_hex", "=", serialHex)
      .where("t.ca_type", "=", target)
      .where("t.status", "=", "valid")
      .where("t.not_after", ">", now)
      .executeTakeFirst();
    if (found) return;
    const what = target === "sign" ? ["署名用電子証明書", "signing certificate"] : ["利用者証明用電子証明書", "authentication certificate"];
    throw new ServiceError(
      "refused",
      `このカードには有効な${what[0]}がないため、暗証番号の初期化はできません。窓口へお越しください / this card holds no valid ${what[1]}, so there is no PIN to reset for it: please visit the counter`,
      "target",
      { reason: "no-certificate" },
    );
  }

  /** Take the reservation for this certificate atomically; refusals say why. */
  private async claimReservation(prover: HolderKey, serialHex: string, target: HolderKey) {
    const now = this.clock().toISOString();
    // Only the newest open reservation is needed, and the newest of all to say why there is
    // none: one row each, found through the certificate's index, not every reservation it had.
    const forThis = () =>
      this.db
        .selectFrom("pin_reset_reservations")
        .selectAll()
        .where("ca_type", "=", prover)
        .where("serial_hex", "=", serialHex)
        .where("target", "=", target)
        .orderBy("created_at", "desc")
        .limit(1);
    const open = await forThis().where("used_at", "is", null).where("expires_at", ">", now).executeTakeFirst();
    if (!open) {
      const latest = await forThis().executeTakeFirst();
      const reason = !latest ? "no-reservation" : latest.used_at ? "reservation-used" : "reservation-expired";
      const message = {
        "no-reservation": "このカードの予約がありません。アプリで予約してください / no reservation for this card: make one in the app first",
        "reservation-used": "この予約は使用済みです。アプリでもう一度予約してください / this reservation was already used: make a new one in the app",
        "reservation-expired": "予約の有効期限（24時間）が過ぎています。アプリでもう一度予約してください / the reservation is older than 24 hours: make a new one in the app",
      }[reason];
      throw new ServiceError("refused", message, "reservation", { reason });
    }
    const taken = await this.db
      .updateTable("pin_reset_reservations")
      .set({ used_at: now })
      .where("id", "=", open.id)
      .where("used_at", "is", null)
      .executeTakeFirst();
    if (Number(taken.numUpdatedRows) !== 1) {
      throw new ServiceError("refused", "この予約は使用済みです / this reservation was already used", "reservation", { reason: "reservation-used" });
    }
    return open;
  }
}

function checkNewPin(target: HolderKey, pin: string): string {
  const check = target === "sign" ? checkSigningPassword(pin) : checkFourDigitPin(pin);
  if (!check.ok) throw new ServiceError("invalid-input", check.message, "new-pin");
  return check.value;
}
