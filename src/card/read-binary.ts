import { responseApdu, statusOnly } from "./apdu.ts";
import { SW } from "./status-words.ts";
import type { CardContext, Handler } from "./context.ts";

/**
 * READ BINARY (00 B0). Offset form (P1 bit 8 clear, 15-bit offset) or SFI form
 * (P1 = 80|SFI, P2 = 8-bit offset, the EF becomes current). Answers exactly
 * min(Le, remaining) bytes, and 6B 00 at or past the end (spec §2.4).
 */
export const readBinary: Handler = (ctx: CardContext, apdu) => {
  const { p1, p2 } = apdu;
  if (apdu.data.length > 0 || !apdu.hasLe) return statusOnly(SW.WRONG_LENGTH);
  let fid: number;
  let offset: number;
  if (p1 & 0x80) {
    if (p1 & 0x60) return statusOnly(SW.WRONG_P1P2);
    const sfi = p1 & 0x1f;
    if (sfi === 0) return statusOnly(SW.WRONG_P1P2);
    if (!ctx.currentAp() || !ctx.ef(sfi)) return statusOnly(SW.FILE_NOT_FOUND);
    fid = sfi;
    offset = p2;
    ctx.state.currentEf = fid;
  } else {
    const current = ctx.state.currentEf;
    if (current === null || !ctx.currentAp()) return statusOnly(SW.NO_CURRENT_EF);
    fid = current;
    offset = (p1 << 8) | p2;
  }
  const ef = ctx.ef(fid);
  if (!ef) return statusOnly(SW.FILE_NOT_FOUND);
  if (ef.kind !== "binary") return statusOnly(SW.INCOMPATIBLE_FILE_STRUCTURE);
  if (ef.readPins.length > 0 && !ef.readPins.some((pin) => ctx.state.verified.has(pin))) {
    return statusOnly(SW.SECURITY_STATUS_NOT_SATISFIED);
  }
  const content = ctx.fileContent(fid);
  if (offset >= content.length) return statusOnly(SW.WRONG_OFFSET);
  const n = Math.min(apdu.ne, content.length - offset);
  return responseApdu(SW.OK, content.subarray(offset, offset + n));
};
