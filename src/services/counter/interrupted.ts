import { X509Certificate } from "node:crypto";
import type { Kysely } from "kysely";
import type { Database } from "../../store/schema.ts";
import type { CaType } from "../../pki/jpki-profile.ts";
import type { RevocationReason } from "../../rules/revocation.ts";
import type { CertificateAuthorities } from "../certificate-authority.ts";
import type { Cards } from "../cards.ts";
import type { Clock } from "../clock.ts";
import { appendAudit, type Actor } from "../audit.ts";
import { applyRevocation } from "../revocation.ts";

/** What a recovery found and did, kept in the interrupted applications' detail and the audit trail. */
export interface Recovery {
  applications: string[];
  /** Certificates whose key is on the chip, written to it again (the write may not have happened). */
  written: { type: CaType; serialHex: string }[];
  /** Valid certificates whose key is not on the chip: no one can use them, so they are revoked. */
  revoked: { type: CaType; serialHex: string; reason: RevocationReason }[];
}

/**
 * A counter procedure that stopped midway (the process killed, the machine down) leaves the
 * card and the store out of step: loading a certificate makes a new key on the chip, records the
 * certificate, writes it to the chip, and only then revokes the one it replaces. Stopped after
 * the key, the card's old certificate names a key that is gone; stopped after the record, the
 * store holds a valid certificate the card does not, which also made a retried renewal "too early".
 *
 * The next procedure on the card, holding its claim (so no live procedure is under way), finds
 * the applications left in progress and puts the two in step again: the valid certificate whose
 * key is on the chip is written to it; every other valid one of that card is revoked — as
 * superseded when it predates the interrupted procedure, as unspecified (never delivered, J-LIS's
 * 交付前に破棄) when that procedure issued it. Certificates on hold are left to the card-found
 * procedure. The applications end as failed, with what was done.
 *
 * A live procedure that fails after changing the chip calls this too, naming itself as `live`:
 * its own application counts for the reasons but is left to it to close (once, as failed).
 */
export async function recoverInterrupted(
  deps: { db: Kysely<Database>; cards: Cards; ca: CertificateAuthorities; clock: Clock },
  card: { id: string; residentId: string },
  actor: Actor,
  live?: string,
): Promise<Recovery | undefined> {
  const { db, cards, ca, clock } = deps;
  const unfinished = await db
    .selectFrom("applications")
    .select(["id", "kind", "created_at", "detail"])
    .where("resident_id", "=", card.residentId)
    .where("card_id", "=", card.id)
    .where("state", "=", "in-progress")
    .execute();
  if (unfinished.length === 0) return undefined;
  const since = unfinished.map((a) => a.created_at).sort()[0]!;
  const open = unfinished.filter((a) => a.id !== live);
  const valid = (await ca.certificatesOf(card.residentId)).filter((c) => c.cardId === card.id && c.status === "valid");
  const records = await Promise.all(valid.map((c) => ca.certificate(c.type, c.serialHex)));
  const recovery: Recovery = { applications: open.map((a) => a.id), written: [], revoked: [] };
  await cards.withCounterSession(card.id, async (session) => {
    for (const type of ["auth", "sign"] as const) {
      const key = await session.readPublicKey(type).then(
        (k) => k.export({ type: "spki", format: "der" }),
        () => undefined, // no key of this type on the chip (declined, or never made)
      );
      for (const record of records.filter((r) => r.type === type)) {
        const spki = new X509Certificate(record.der).publicKey.export({ type: "spki", format: "der" });
        if (key && spki.equals(key)) {
          await session.writeCertificate(type, record.der);
          await session.writeCertificate(`${type}-ca`, ca.authority(type).certificateDer);
          recovery.written.push({ type, serialHex: record.serialHex });
        } else {
          recovery.revoked.push({ type, serialHex: record.serialHex, reason: record.issuedAt >= since ? "unspecified" : "superseded" });
        }
      }
    }
  });
  const now = clock();
  await db.transaction().execute(async (trx) => {
    for (const r of recovery.revoked) await applyRevocation(trx, { type: r.type, serialHex: r.serialHex, reason: r.reason, at: now, by: "counter" });
    for (const a of open) {
      await trx
        .updateTable("applications")
        .set({ state: "failed", detail: JSON.stringify({ ...(JSON.parse(a.detail) as object), interrupted: true, recovery }), updated_at: now.toISOString() })
        .where("id", "=", a.id)
        .where("state", "=", "in-progress")
        .execute();
      await appendAudit(trx, actor, { action: `application.${a.kind}.interrupted`, subject: a.id, after: { card: card.id, ...recovery } }, now);
    }
  });
  return recovery;
}
