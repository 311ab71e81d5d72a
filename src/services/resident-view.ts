/**
 * Read-only views for the web pages (resident pages, kiosk and app screens, developer console):
 * what a card holds and in what state, put together from the registry, the CA records and the
 * card itself (PIN tries are read from the chip in APDUs, without a PIN). Nothing here changes
 * state except `checkHolderPin`, which is the card's own PIN check (a wrong PIN uses a try, as
 * on a real card).
 */
import { X509Certificate } from "node:crypto";
import { JpkiClient } from "../client/jpki-client.ts";
import { renewalFrom, isRenewalWindowOpen } from "../rules/validity.ts";
import { compareJapanDates, japanDateOf, type JapanDate } from "../rules/japan-date.ts";
import { DEFAULT_MUNICIPALITIES, type Municipality } from "../config/municipalities.ts";
import type { CaType } from "../pki/jpki-profile.ts";
import type { RevocationReason } from "../rules/revocation.ts";
import type { VerificationResult } from "../verify/index.ts";
import type { Context } from "./context.ts";
import type { Card } from "./cards.ts";
import type { Resident } from "./registry.ts";
import type { CertificateSummary } from "./certificate-authority.ts";
import { CardHolder, type HolderKey } from "./card-holder.ts";
import { ownVerifier } from "./trust.ts";

export type CertificateState = "valid" | "expired" | "revoked" | "hold";

export interface CertificateView {
  type: CaType;
  serialHex: string;
  state: CertificateState;
  expires: JapanDate;
  renewalFrom: JapanDate;
  renewalOpen: boolean;
  revocationReason: RevocationReason | null;
  revokedAt: string | null;
}

export interface CardView {
  card: Card;
  resident: Resident;
  certificates: { auth?: CertificateView; sign?: CertificateView };
  /** PIN tries left, read from the card; absent when the card has no such certificate or could not be read. */
  triesLeft: { auth?: number; sign?: number };
}

export interface CardChoice {
  id: string;
  residentName: string;
  municipality: string;
  expires: JapanDate;
}

export const KNOWN_MUNICIPALITIES: readonly Municipality[] = DEFAULT_MUNICIPALITIES;

export function certificateView(record: CertificateSummary, today: JapanDate): CertificateView {
  const expired = compareJapanDates(record.expires, today) < 0;
  const state: CertificateState = record.status === "revoked" ? "revoked" : record.status === "hold" ? "hold" : expired ? "expired" : "valid";
  return {
    type: record.type,
    serialHex: record.serialHex,
    state,
    expires: record.expires,
    renewalFrom: renewalFrom(record.expires),
    renewalOpen: state === "valid" && isRenewalWindowOpen(record.expires, today),
    revocationReason: record.revocationReason,
    revokedAt: record.revokedAt,
  };
}

/** How many cards the "place your card" pickers offer: the most recently made. */
export const CARD_CHOICES = 200;

/**
 * Active virtual cards on this server, for the "place your card" pickers: the newest
 * CARD_CHOICES of them, so a store holding a town's cards does not put them all on every page.
 */
export async function cardChoices(context: Context): Promise<CardChoice[]> {
  const cards = await context.cards.list({ status: "active", newest: CARD_CHOICES });
  const names = new Map<string, Resident>();
  const out: CardChoice[] = [];
  for (const card of cards) {
    let resident = names.get(card.residentId);
    if (!resident) {
      resident = await context.registry.get(card.residentId);
      names.set(card.residentId, resident);
    }
    out.push({ id: card.id, residentName: resident.name, municipality: resident.municipality.cityJa, expires: card.expires });
  }
  return out;
}

/** Everything the resident page shows about one card: its certificates, their state and the PIN tries left. */
export async function cardView(context: Context, cardId: string): Promise<CardView> {
  const card = await context.cards.get(cardId);
  const resident = await context.registry.get(card.residentId);
  const today = japanDateOf(context.clock());
  const certificates: CardView["certificates"] = {};
  for (const record of await context.ca.certificatesOf(resident.id)) {
    if (record.cardId !== card.id) continue;
    certificates[record.type] = certificateView(record, today); // ordered by issue time: the newest wins
  }
  const triesLeft: CardView["triesLeft"] = {};
  if (card.status === "active") {
    try {
      await context.cards.withReader(card.id, async (reader) => {
        const client = new JpkiClient(reader);
        if (certificates.auth) triesLeft.auth = await client.triesLeft("auth");
        if (certificates.sign) triesLeft.sign = await client.triesLeft("sign");
      });
    } catch {
      // The chip could not be read: the page says the tries are unknown rather than failing.
    }
  }
  return { card, resident, certificates, triesLeft };
}

/** The card view for a portal session (bound to the authentication certificate's serial). */
export async function cardViewForSerial(context: Context, authSerialHex: string): Promise<CardView> {
  const record = await context.ca.certificate("auth", authSerialHex);
  if (!record.cardId) throw new Error(`certificate ${authSerialHex} is on no card`);
  return cardView(context, record.cardId);
}

/** What a relying party's verifier says about one of our certificates right now (path, OCSP). */
export async function verifyOwnCertificate(context: Context, type: CaType, serialHex: string): Promise<VerificationResult> {
  const record = await context.ca.certificate(type, serialHex);
  return ownVerifier(context.ca, context.ocsp, context.clock).verifyCertificate(record.der, { expectedType: type });
}

/** The card's own PIN check (a kiosk's PIN screen): refusals carry wrong-pin (with tries left) or pin-blocked. */
export async function checkHolderPin(context: Context, cardId: string, type: HolderKey, pin: string): Promise<void> {
  await context.cards.withReader(cardId, (reader) => new CardHolder(reader).verifyPin(type, pin));
}

export interface CaView {
  type: CaType;
  subject: string;
  notAfter: string;
  sha256: string;
  crl: { number: string; thisUpdate: string; nextUpdate: string } | null;
}

/** The two roots and the state of their full CRLs. */
export async function caViews(context: Context): Promise<CaView[]> {
  const out: CaView[] = [];
  for (const type of ["sign", "auth"] as const) {
    const x = new X509Certificate(context.ca.authority(type).certificateDer);
    let crl: CaView["crl"] = null;
    try {
      const current = await context.crls.current(type);
      crl = { number: current.crlNumber.toString(), thisUpdate: current.thisUpdate.toISOString(), nextUpdate: current.nextUpdate.toISOString() };
    } catch {
      crl = null;
    }
    out.push({ type, subject: x.subject.replace(/\n/g, ", "), notAfter: new Date(x.validTo).toISOString(), sha256: x.fingerprint256, crl });
  }
  return out;
}

export interface ResidentRow {
  resident: Resident;
  cards: { card: Card; certificates: CertificateView[] }[];
}

/** Residents with their cards and certificates, newest first (the developer console). */
export async function residentRows(context: Context, limit = 50): Promise<ResidentRow[]> {
  const today = japanDateOf(context.clock());
  const residents = (await context.registry.list({ limit })).reverse();
  const rows: ResidentRow[] = [];
  for (const resident of residents) {
    const cards = await context.cards.list({ residentId: resident.id });
    const records = await context.ca.certificatesOf(resident.id);
    rows.push({
      resident,
      cards: cards.map((card) => ({
        card,
        certificates: records.filter((r) => r.cardId === card.id).map((r) => certificateView(r, today)),
      })),
    });
  }
  return rows;
}

/** The certificates of a card still valid (not revoked, held or expired): what a loss report puts on hold. */
export async function liveCertificatesOfCard(context: Context, cardId: string): Promise<CertificateView[]> {
  const card = await context.cards.get(cardId);
  const today = japanDateOf(context.clock());
  return (await context.ca.certificatesOf(card.residentId))
    .filter((r) => r.cardId === card.id)
    .map((r) => certificateView(r, today))
    .filter((c) => c.state === "valid");
}
