import { efTable, hex, digits, singleDerSequence, type ApDefinition } from "./files.ts";

/** 公的個人認証AP. FIDs and access rules per spec card-protocol §2.2. */
export const JPKI_AID = hex("D392F000260100000001");

export const JPKI_EF = {
  SIGN_CERT: 0x0001,
  SIGN_CA_CERT: 0x0002,
  TOKEN_INFO: 0x0006,
  CERT_PRESENCE: 0x0008,
  AUTH_CERT: 0x000a,
  AUTH_CA_CERT: 0x000b,
  AUTH_KEY: 0x0017,
  AUTH_PIN: 0x0018,
  SIGN_KEY: 0x001a,
  SIGN_PIN: 0x001b,
} as const;

/** Real cards keep certificates in EFs larger than the certificate; this is ours. */
export const CERT_EF_CAPACITY = 4096;

const signPassword = (pin: Uint8Array): boolean =>
  pin.length >= 6 &&
  pin.length <= 16 &&
  pin.every((b) => (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a));

const cert = (fid: number, readPins: number[]) =>
  ({ kind: "binary", fid, capacity: CERT_EF_CAPACITY, readPins, validate: singleDerSequence }) as const;

export const JPKI_AP: ApDefinition = {
  id: "jpki",
  aid: JPKI_AID,
  efs: efTable([
    cert(JPKI_EF.SIGN_CERT, [JPKI_EF.SIGN_PIN]),
    cert(JPKI_EF.SIGN_CA_CERT, []),
    cert(JPKI_EF.AUTH_CERT, []),
    cert(JPKI_EF.AUTH_CA_CERT, []),
    { kind: "binary", fid: JPKI_EF.TOKEN_INFO, capacity: 160, readPins: [], validate: null },
    {
      kind: "binary",
      fid: JPKI_EF.CERT_PRESENCE,
      capacity: 3,
      readPins: [],
      validate: null,
      // One byte per certificate, 8F when present (a real card with both reads 8F 8F 00).
      computed: (present) =>
        Uint8Array.of(
          present(JPKI_EF.AUTH_CERT) ? 0x8f : 0x00,
          present(JPKI_EF.SIGN_CERT) ? 0x8f : 0x00,
          0x00,
        ),
    },
    { kind: "key", fid: JPKI_EF.AUTH_KEY, pin: JPKI_EF.AUTH_PIN, certificate: JPKI_EF.AUTH_CERT },
    { kind: "key", fid: JPKI_EF.SIGN_KEY, pin: JPKI_EF.SIGN_PIN, certificate: JPKI_EF.SIGN_CERT },
    { kind: "pin", fid: JPKI_EF.AUTH_PIN, maxTries: 3, format: digits(4), settable: true },
    { kind: "pin", fid: JPKI_EF.SIGN_PIN, maxTries: 5, format: signPassword, settable: true },
  ]),
};

/**
 * EF 0006: a PKCS#11 CK_TOKEN_INFO laid out as on a real card (160 bytes, 4-byte
 * big-endian integers). Clients read only the label, but the full layout costs nothing.
 */
export function tokenInfo(serial: string, issuedAt: Date): Uint8Array {
  const out = new Uint8Array(160);
  let pos = 0;
  const text = (s: string, width: number): void => {
    const ascii = s.replace(/[^\x20-\x7e]/g, "?").slice(0, width).padEnd(width, " ");
    out.set(Buffer.from(ascii, "ascii"), pos);
    pos += width;
  };
  const u32 = (v: number): void => {
    new DataView(out.buffer).setUint32(pos, v >>> 0);
    pos += 4;
  };
  text("JPKIAPICCTOKEN2", 32);
  text("JPKI", 32);
  text("JPKI", 16);
  text(serial, 16);
  u32(0x0000040d); // flags: RNG, login required, user PIN initialised, token initialised
  for (const v of [1, 0, 1, 0]) u32(v); // session counts
  u32(16); // max PIN length
  u32(6); // min PIN length (of the signing password, as on real cards)
  for (let i = 0; i < 4; i++) u32(0xffffffff); // memory: not available
  text("03", 2); // hardware version
  text("01", 2); // firmware version
  const t = issuedAt.toISOString().replace(/[-:T]/g, "").slice(0, 14);
  text(`${t}00`, 16); // YYYYMMDDhhmmss00
  return out;
}
