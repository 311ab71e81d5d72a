import { generateKeyPair, randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { responseApdu, statusOnly } from "./apdu.ts";
import { SW } from "./status-words.ts";
import { pinReference, type CardContext, type Handler } from "./context.ts";
import { checkTerminalCertificate, verifyTerminalSignature, CHALLENGE_MIN_FOR_AUTH, MAX_TERMINAL_CERT_LENGTH } from "./terminal-auth.ts";
import { JPKI_EF } from "./jpki-ap.ts";
import { KENHOJO_EF, myNumberDigits } from "./kenhojo-ap.ts";
import type { PinEf } from "./files.ts";

/**
 * The issuer side of the card: terminal authentication and the commands only an
 * authenticated terminal may use. The APDU table is in docs/card-issuer-commands.md.
 */

const generateRsa = promisify(generateKeyPair);
/** SubjectPublicKeyInfo DER of an RSA-2048 key with e = 65537. */
const RSA_2048_SPKI_LENGTH = 294;

/** GET CHALLENGE (00 84 00 00 Le): Le random bytes (1–256), kept for EXTERNAL AUTHENTICATE. */
export const getChallenge: Handler = (ctx: CardContext, apdu) => {
  if (apdu.p1 !== 0 || apdu.p2 !== 0) return statusOnly(SW.WRONG_P1P2);
  if (apdu.data.length > 0 || !apdu.hasLe) return statusOnly(SW.WRONG_LENGTH);
  // As on the real card (spec §2.8), the extended form is refused.
  if (apdu.extended) return statusOnly(SW.CONDITIONS_NOT_SATISFIED);
  const challenge = randomBytes(apdu.ne);
  ctx.state.challenge = challenge;
  return responseApdu(SW.OK, challenge);
};

/** PSO VERIFY CERTIFICATE (00 2A 00 BE <terminal certificate DER>). */
export const verifyCertificate: Handler = (ctx: CardContext, apdu) => {
  if (apdu.p1 !== 0x00 || apdu.p2 !== 0xbe) return statusOnly(SW.WRONG_P1P2);
  if (apdu.data.length === 0 || apdu.data.length > MAX_TERMINAL_CERT_LENGTH) return statusOnly(SW.WRONG_LENGTH);
  if (!ctx.currentAp()) return statusOnly(SW.CONDITIONS_NOT_SATISFIED);
  ctx.state.presentedTerminal = null;
  ctx.state.terminalRole = null;
  const result = checkTerminalCertificate(apdu.data, ctx.terminalCa, ctx.now());
  if (!result.ok) return statusOnly(SW.WRONG_DATA);
  ctx.state.presentedTerminal = { role: result.role, publicKey: result.publicKey };
  return statusOnly(SW.OK);
};

/** EXTERNAL AUTHENTICATE (00 82 00 00 <signature over context ‖ challenge>). */
export const externalAuthenticate: Handler = (ctx: CardContext, apdu) => {
  if (apdu.p1 !== 0 || apdu.p2 !== 0) return statusOnly(SW.WRONG_P1P2);
  if (apdu.data.length < 256 || apdu.data.length > 512) return statusOnly(SW.WRONG_LENGTH);
  const { challenge, presentedTerminal } = ctx.state;
  // The challenge is used at most once, whatever the outcome.
  ctx.state.challenge = null;
  if (!challenge || challenge.length < CHALLENGE_MIN_FOR_AUTH || !presentedTerminal) {
    return statusOnly(SW.CONDITIONS_NOT_SATISFIED);
  }
  if (!verifyTerminalSignature(presentedTerminal.publicKey, challenge, apdu.data)) {
    ctx.state.presentedTerminal = null;
    return statusOnly(SW.AUTH_FAILED);
  }
  ctx.state.terminalRole = presentedTerminal.role;
  ctx.state.presentedTerminal = null;
  return statusOnly(SW.OK);
};

/**
 * GENERATE ASYMMETRIC KEY PAIR (00 46 P1 P2 Le), P2 = 80|FID of a key EF (97, 9A).
 * P1 00 makes a new RSA-2048 key (e = 65537) inside the card, seals the private half
 * and answers the public key as SubjectPublicKeyInfo DER (294 bytes: needs extended Le).
 * P1 01 answers the existing public key. Counter terminals only. A new key empties
 * its certificate EF, so the card never shows a certificate for a key it lacks.
 */
export const generateKeyPairCommand: Handler = async (ctx: CardContext, apdu) => {
  if (apdu.p1 > 0x01) return statusOnly(SW.WRONG_P1P2);
  if (apdu.p2 <= 0x80 || apdu.p2 > 0x9e) return statusOnly(SW.WRONG_P1P2);
  if (ctx.state.terminalRole !== "counter") return statusOnly(SW.SECURITY_STATUS_NOT_SATISFIED);
  // Checked before generating, so a short Le never costs a key the terminal cannot see.
  if (apdu.data.length > 0 || !apdu.hasLe || apdu.ne < RSA_2048_SPKI_LENGTH) return statusOnly(SW.WRONG_LENGTH);
  const fid = apdu.p2 & 0x1f;
  const ef = ctx.ef(fid);
  if (!ef || ef.kind !== "key") return statusOnly(SW.REFERENCED_DATA_NOT_FOUND);
  const key = ctx.storageKey(ctx.state.currentAp!, fid);

  let spki: Uint8Array;
  if (apdu.p1 === 0x01) {
    const existing = ctx.image.keys[key];
    if (!existing) return statusOnly(SW.REFERENCED_DATA_NOT_FOUND);
    spki = Buffer.from(existing.publicKey, "base64");
  } else {
    const pair = await generateRsa("rsa", { modulusLength: 2048, publicExponent: 0x10001 });
    spki = pair.publicKey.export({ type: "spki", format: "der" });
    const pkcs8 = pair.privateKey.export({ type: "pkcs8", format: "der" });
    const sealed = ctx.secrets.seal(`${ctx.image.cardId}/${key}`, pkcs8);
    pkcs8.fill(0);
    const certKey = ctx.storageKey(ctx.state.currentAp!, ef.certificate);
    await ctx.commit("generate-key", (d) => {
      d.keys[key] = { sealed, publicKey: Buffer.from(spki).toString("base64") };
      delete d.files[certKey];
    });
  }
  if (apdu.ne < spki.length) return statusOnly(SW.WRONG_LENGTH);
  return responseApdu(SW.OK, spki);
};

/**
 * REPLACE BINARY (80 D6 00 00 <content>): replace the whole content of the current EF
 * in one atomic step. Counter terminals only; each EF validates what it accepts.
 */
export const replaceBinary: Handler = async (ctx: CardContext, apdu) => {
  if (apdu.p1 !== 0 || apdu.p2 !== 0) return statusOnly(SW.WRONG_P1P2);
  if (ctx.state.terminalRole !== "counter") return statusOnly(SW.SECURITY_STATUS_NOT_SATISFIED);
  const fid = ctx.state.currentEf;
  if (fid === null || !ctx.currentAp()) return statusOnly(SW.NO_CURRENT_EF);
  const ef = ctx.ef(fid);
  if (!ef || ef.kind !== "binary") return statusOnly(SW.INCOMPATIBLE_FILE_STRUCTURE);
  if (!ef.validate || ef.computed) return statusOnly(SW.CONDITIONS_NOT_SATISFIED);
  if (apdu.data.length === 0 || apdu.data.length > ef.capacity) return statusOnly(SW.WRONG_LENGTH);
  if (ef.validate(apdu.data) !== null) return statusOnly(SW.WRONG_DATA);
  const ap = ctx.state.currentAp!;
  const content = Buffer.from(apdu.data).toString("base64");
  const isMyNumber = ap === "kenhojo" && fid === KENHOJO_EF.MY_NUMBER;
  const matchKey = ctx.storageKey("kenhojo", KENHOJO_EF.MATCH_A);
  const matchMac = isMyNumber ? ctx.secrets.pinMac(matchKey, myNumberDigits(apdu.data)) : null;
  await ctx.commit("write-file", (d) => {
    d.files[ctx.storageKey(ap, fid)] = content;
    // 照合番号A is the My Number itself: it changes with EF 0001.
    if (matchMac) d.pins[matchKey] = { mac: matchMac, tries: 10 };
  });
  return statusOnly(SW.OK);
};

/**
 * RESET RETRY COUNTER (00 2C P1 P2 [new PIN]): P1 02 sets a new PIN and restores its
 * counter, P1 03 restores the counter only. P2 as for VERIFY. A counter terminal may
 * do either for any settable PIN. A kiosk terminal may only set a new JPKI PIN, and only
 * when the holder has verified the *other* JPKI PIN in this session: the signing
 * password after the auth PIN, the auth PIN after the signing password where the card's
 * switch allows it (spec rules §2.4).
 */
export const resetRetryCounter: Handler = async (ctx: CardContext, apdu) => {
  if (apdu.p1 !== 0x02 && apdu.p1 !== 0x03) return statusOnly(SW.WRONG_P1P2);
  const role = ctx.state.terminalRole;
  if (!role) return statusOnly(SW.SECURITY_STATUS_NOT_SATISFIED);
  const ref = pinReference(ctx, apdu.p2);
  if ("sw" in ref) return statusOnly(ref.sw);
  const ef = ctx.ef(ref.fid) as PinEf;
  if (role === "kiosk" && !kioskMayReset(ctx, apdu.p1, ref.fid)) return statusOnly(SW.SECURITY_STATUS_NOT_SATISFIED);
  if (!ef.settable) return statusOnly(SW.CONDITIONS_NOT_SATISFIED);

  const key = ctx.storageKey(ctx.state.currentAp!, ref.fid);
  let mac: string;
  if (apdu.p1 === 0x02) {
    if (apdu.data.length === 0 || apdu.data.length > 16) return statusOnly(SW.WRONG_LENGTH);
    if (!ef.format(apdu.data)) return statusOnly(SW.WRONG_DATA);
    mac = ctx.secrets.pinMac(key, apdu.data);
  } else {
    if (apdu.data.length > 0) return statusOnly(SW.WRONG_LENGTH);
    const existing = ctx.pin(ref.fid).mac;
    if (existing === null) return statusOnly(SW.CONDITIONS_NOT_SATISFIED);
    mac = existing;
  }
  await ctx.commit("reset-pin", (d) => {
    d.pins[key] = { mac, tries: ef.maxTries };
  });
  ctx.state.verified.delete(ref.fid);
  return statusOnly(SW.OK);
};

function kioskMayReset(ctx: CardContext, p1: number, fid: number): boolean {
  if (p1 !== 0x02 || ctx.state.currentAp !== "jpki") return false;
  const verified = ctx.state.verified;
  if (fid === JPKI_EF.SIGN_PIN) return verified.has(JPKI_EF.AUTH_PIN);
  if (fid === JPKI_EF.AUTH_PIN) return ctx.image.switches.kioskAuthPinReset && verified.has(JPKI_EF.SIGN_PIN);
  return false;
}
