import { statusOnly } from "./apdu.ts";
import { SW } from "./status-words.ts";
import { equalBytes } from "./der.ts";
import type { CardContext, Handler } from "./context.ts";
import type { ApDefinition } from "./files.ts";

/**
 * SELECT (00 A4). By AID (P1 04) for the APs, by FID (P1 02, or 00) for EFs of the
 * current AP. P2 0C (no FCI) and 00 are both answered 90 00 without FCI: clients send
 * 0C, some send 00 and only look at the status word (spec §2.1).
 */
export function makeSelect(aps: readonly ApDefinition[], reselectClearsPins: () => boolean): Handler {
  return (ctx: CardContext, apdu) => {
    const { p1, p2, data } = apdu;
    if (p2 !== 0x00 && p2 !== 0x0c) return statusOnly(SW.WRONG_P1P2);
    const state = ctx.state;

    if (p1 === 0x04) {
      if (data.length === 0 || data.length > 16) return statusOnly(SW.WRONG_LENGTH);
      const ap = aps.find((a) => equalBytes(a.aid, data));
      // Unknown AIDs (other cards' applications, probed by OpenSC's drivers) keep the
      // current selection and answer 6A82, never 9000.
      if (!ap) return statusOnly(SW.FILE_NOT_FOUND);
      if (state.currentAp === ap.id && !reselectClearsPins()) {
        state.challenge = null;
        state.presentedTerminal = null;
      } else {
        state.clearAccessRights();
      }
      state.currentAp = ap.id;
      state.currentEf = null;
      return statusOnly(SW.OK);
    }

    if (p1 === 0x00 && data.length === 0) {
      // SELECT MF: a no-op while an AP is current, refused after a cold reset (§1).
      return statusOnly(state.currentAp ? SW.OK : SW.WRONG_P1P2);
    }

    if (p1 === 0x02 || p1 === 0x00) {
      if (data.length !== 2) return statusOnly(SW.WRONG_LENGTH);
      const fid = (data[0]! << 8) | data[1]!;
      if (!state.currentAp || !ctx.ef(fid)) return statusOnly(SW.FILE_NOT_FOUND);
      state.currentEf = fid;
      return statusOnly(SW.OK);
    }
    return statusOnly(SW.WRONG_P1P2);
  };
}
