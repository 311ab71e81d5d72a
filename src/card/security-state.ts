import type { KeyObject } from "node:crypto";
import type { ApId } from "./files.ts";

export type TerminalRole = "counter" | "kiosk";

/**
 * Everything the card forgets when it loses power: the current AP and EF, which PINs
 * were verified, the last challenge and the terminal that proved itself. Nothing
 * here is persisted.
 */
export class SecurityState {
  currentAp: ApId | null = null;
  currentEf: number | null = null;
  /** Verified PIN EFs of the current AP, by FID. */
  readonly verified = new Set<number>();
  /** The last GET CHALLENGE answer; consumed by the next EXTERNAL AUTHENTICATE. */
  challenge: Uint8Array | null = null;
  /** A terminal certificate that passed PSO VERIFY CERTIFICATE, awaiting proof of its key. */
  presentedTerminal: { role: TerminalRole; publicKey: KeyObject } | null = null;
  /** The role of a terminal that completed EXTERNAL AUTHENTICATE in this AP session. */
  terminalRole: TerminalRole | null = null;

  /** Power off, power on, reset. */
  clearAll(): void {
    this.currentAp = null;
    this.currentEf = null;
    this.clearAccessRights();
  }

  /** Verified PINs and terminal authentication; also the pending challenge. */
  clearAccessRights(): void {
    this.verified.clear();
    this.challenge = null;
    this.presentedTerminal = null;
    this.terminalRole = null;
  }
}
