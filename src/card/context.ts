import type { KeyObject } from "node:crypto";
import type { ChipImage, PinRecord } from "./chip-store.ts";
import type { ChipSecrets } from "./chip-crypto.ts";
import type { SecurityState } from "./security-state.ts";
import type { ApDefinition, ApId, Ef } from "./files.ts";
import type { CommandApdu } from "./apdu.ts";

/** What every command handler sees of the card. Implemented by VirtualCard. */
export interface CardContext {
  readonly state: SecurityState;
  readonly image: Readonly<ChipImage>;
  readonly secrets: ChipSecrets;
  readonly terminalCa: KeyObject;
  now(): Date;
  /** The AP currently selected, or null right after power-up. */
  currentAp(): ApDefinition | null;
  /** An EF of the current AP. */
  ef(fid: number): Ef | undefined;
  /** Stored (or computed) content of a binary EF of the current AP; empty if never written. */
  fileContent(fid: number): Uint8Array;
  pin(fid: number): PinRecord;
  /** The decrypted private key of a key EF of the current AP, or null if none was generated. */
  privateKey(fid: number): KeyObject | null;
  /** Persist a change durably before anything is answered (throws StorageError on failure). */
  commit(reason: string, mutate: (draft: ChipImage) => void): Promise<void>;
  storageKey(ap: ApId, fid: number): string;
}

/** A failure of the card's non-volatile memory: answered 65 81, state unchanged. */
export class StorageError extends Error {}

/** Command handler: the parsed APDU in, the full response APDU out. */
export type Handler = (ctx: CardContext, apdu: CommandApdu) => Uint8Array | Promise<Uint8Array>;

/**
 * Resolve the P2 reference of VERIFY / CHANGE REFERENCE DATA / RESET RETRY COUNTER:
 * `80` = the current EF, `80|FID` = that EF by short identifier. Returns the FID, or a
 * status word when P2 cannot name a PIN of the current AP.
 */
export function pinReference(ctx: CardContext, p2: number): { fid: number } | { sw: number } {
  if (p2 === 0x80) {
    const fid = ctx.state.currentEf;
    if (fid === null || ctx.ef(fid)?.kind !== "pin") return { sw: 0x6a88 };
    return { fid };
  }
  if (p2 > 0x80 && p2 <= 0x9e) {
    const fid = p2 & 0x1f;
    if (ctx.ef(fid)?.kind !== "pin") return { sw: 0x6a88 };
    return { fid };
  }
  return { sw: 0x6a86 };
}
