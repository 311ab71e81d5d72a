import { createHash, privateEncrypt, constants } from "node:crypto";
import { responseApdu, statusOnly } from "./apdu.ts";
import { SW } from "./status-words.ts";
import type { CardContext, Handler } from "./context.ts";

/** Largest input to EMSA-PKCS1-v1_5 type 1 for a 2048-bit modulus (256 − 11). */
export const MAX_SIGN_INPUT = 245;
const SIGNATURE_LENGTH = 256;
const SHA256_DIGEST_INFO_PREFIX = Buffer.from("3031300d060960864801650304020105000420", "hex");

/**
 * COMPUTE DIGITAL SIGNATURE (80 2A P1 P2 <data> 00) with the key EF selected just
 * before (P2 80) or named by SFI (P2 97 / 9A). The key signs only after its own PIN.
 * P1 00 pads the given bytes (PKCS#1 v1.5 type 1) and signs, which is what every
 * client uses; 01–03 are the hashing variants probed on real cards (spec §2.7).
 * The PSS variants 04/05 are not emulated (6A 86).
 */
export const computeSignature: Handler = (ctx: CardContext, apdu) => {
  const { p1, p2, data } = apdu;
  if (p1 > 0x03) return statusOnly(SW.WRONG_P1P2);
  let fid: number;
  if (p2 === 0x80) {
    const current = ctx.state.currentEf;
    if (current === null || !ctx.currentAp()) return statusOnly(SW.NO_CURRENT_EF);
    fid = current;
  } else if (p2 > 0x80 && p2 <= 0x9e) {
    fid = p2 & 0x1f;
  } else {
    return statusOnly(SW.WRONG_P1P2);
  }
  const ef = ctx.ef(fid);
  if (!ef) return statusOnly(SW.REFERENCED_DATA_NOT_FOUND);
  if (ef.kind !== "key") return statusOnly(SW.INCOMPATIBLE_FILE_STRUCTURE);

  if (apdu.hasLe && apdu.ne < SIGNATURE_LENGTH) return statusOnly(SW.WRONG_LENGTH);
  let block: Buffer;
  if (p1 === 0x00) {
    if (data.length < 1 || data.length > MAX_SIGN_INPUT) return statusOnly(SW.WRONG_LENGTH);
    block = Buffer.from(data);
  } else if (p1 === 0x02) {
    if (data.length !== 32) return statusOnly(SW.WRONG_LENGTH);
    block = Buffer.concat([SHA256_DIGEST_INFO_PREFIX, data]);
  } else {
    if (data.length < 1) return statusOnly(SW.WRONG_LENGTH);
    const digest = createHash("sha256").update(data).digest();
    block = p1 === 0x01 ? digest : Buffer.concat([SHA256_DIGEST_INFO_PREFIX, digest]);
  }

  if (!ctx.state.verified.has(ef.pin)) return statusOnly(SW.SECURITY_STATUS_NOT_SATISFIED);
  const key = ctx.privateKey(fid);
  if (!key) return statusOnly(SW.REFERENCED_DATA_NOT_FOUND);
  // privateEncrypt with RSA_PKCS1_PADDING is exactly EMSA-PKCS1-v1_5 block type 1.
  const signature = privateEncrypt({ key, padding: constants.RSA_PKCS1_PADDING }, block);
  return responseApdu(SW.OK, signature);
};
