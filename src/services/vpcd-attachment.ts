import { attachToVpcd, type VpcdAttachment, type VpcdOptions } from "../readers/vpcd.ts";
import type { Cards } from "./cards.ts";

export { VPCD_DEFAULT_HOST, VPCD_DEFAULT_PORT } from "../readers/vpcd.ts";
export type { VpcdAttachment, VpcdOptions, VpcdStatus } from "../readers/vpcd.ts";

/**
 * Show a card of this data directory to the OS's pcscd through the vsmartcard-vpcd driver, so
 * any PC/SC program sees it in the reader "Virtual PCD 00 00". It stays attached, reconnecting
 * when pcscd restarts, until `options.signal` aborts or the attachment is closed.
 */
export async function attachCardToVpcd(cards: Cards, cardId: string, options: VpcdOptions): Promise<VpcdAttachment> {
  return attachToVpcd(await cards.open(cardId), options);
}
