import { CardError, JpkiClient, type CertificateType, type PinType, type SignOptions, type VerifyResult } from "../client/jpki-client.ts";
import type { Cards } from "./cards.ts";

export type { CertificateType } from "../client/jpki-client.ts";

/**
 * A card of this data directory used as its holder would from a PC: powered on in an in-process
 * reader and driven in APDUs through the card client, one operation per session. The card's
 * refusals stay CardErrors, whose message says what the card answered.
 */

/** What a card shows without a PIN. */
export interface ChipState {
  token: string;
  /** The authentication certificate, or null when the card will not give one. */
  authCertificate: Uint8Array | null;
  triesLeft: { auth: number; sign: number; kenhojo: number };
}

export function readChipState(cards: Cards, cardId: string): Promise<ChipState> {
  return cards.withReader(cardId, async (reader) => {
    const client = new JpkiClient(reader);
    const authCertificate = await readOptional(() => client.readCertificate("auth"));
    return {
      token: await client.tokenLabel(),
      authCertificate,
      triesLeft: { auth: await client.triesLeft("auth"), sign: await client.triesLeft("sign"), kenhojo: await client.kenhojoTriesLeft() },
    };
  });
}

/** A certificate from the card; the signing certificate needs the signing password. */
export function readCardCertificate(cards: Cards, cardId: string, type: CertificateType, signPin?: string): Promise<Uint8Array> {
  return cards.withReader(cardId, (reader) => new JpkiClient(reader).readCertificate(type, signPin !== undefined ? { signPin } : {}));
}

/** Sign `data` with the card's key of `type`, its PIN given in `options.pin`. */
export function signOnCard(cards: Cards, cardId: string, type: PinType, data: Uint8Array, options: SignOptions): Promise<Uint8Array> {
  return cards.withReader(cardId, (reader) => new JpkiClient(reader).sign(type, data, options));
}

/** Verify a PIN on the card, and how many tries it has left afterwards. */
export function verifyCardPin(cards: Cards, cardId: string, type: PinType, pin: string): Promise<{ outcome: VerifyResult; triesLeft: number }> {
  return cards.withReader(cardId, async (reader) => {
    const client = new JpkiClient(reader);
    const outcome = await client.verifyPin(type, pin);
    return { outcome, triesLeft: await client.triesLeft(type) };
  });
}

async function readOptional(read: () => Promise<Uint8Array>): Promise<Uint8Array | null> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof CardError) return null;
    throw error;
  }
}
