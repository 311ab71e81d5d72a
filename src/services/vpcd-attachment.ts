import { attachToVpcd, VPCD_DEFAULT_HOST, VPCD_DEFAULT_PORT, type VpcdAttachment, type VpcdOptions } from "../readers/vpcd.ts";
import type { Cards } from "./cards.ts";

export { VPCD_DEFAULT_HOST, VPCD_DEFAULT_PORT } from "../readers/vpcd.ts";
export type { VpcdAttachment, VpcdOptions, VpcdStatus } from "../readers/vpcd.ts";

/**
 * Show a card of this data directory to the OS's pcscd through the vsmartcard-vpcd driver, so
 * any PC/SC program sees it in the reader "Virtual PCD 00 00". It stays attached, reconnecting
 * when pcscd restarts, until `options.signal` aborts or the attachment is closed. Meanwhile the
 * card is in that reader and nowhere else: the server and the CLI are refused it (card-in-use).
 */
export async function attachCardToVpcd(cards: Cards, cardId: string, options: VpcdOptions): Promise<VpcdAttachment> {
  const { card, takeOut } = await cards.insert(cardId, `attached to vpcd at ${options.host ?? VPCD_DEFAULT_HOST}:${options.port ?? VPCD_DEFAULT_PORT}`);
  let attachment: VpcdAttachment;
  try {
    attachment = attachToVpcd(card, options);
  } catch (e) {
    await takeOut();
    throw e;
  }
  const close = async (): Promise<void> => {
    try {
      await attachment.close();
    } finally {
      await takeOut();
    }
  };
  options.signal?.addEventListener("abort", () => void close(), { once: true });
  return {
    get connected() {
      return attachment.connected;
    },
    get isConnected() {
      return attachment.isConnected;
    },
    close,
  };
}
