/**
 * The holder-side card client: JPKI operations as APDUs over any {@link CardReader}.
 *
 * It speaks exactly what a real My Number Card understands (short APDUs, SELECT by
 * AID and by EF, READ BINARY by offset, VERIFY, CHANGE REFERENCE DATA and 80 2A), so
 * the same code drives the virtual card in-process, through vpcd, or a real card in
 * a PC/SC reader. Status words are interpreted in one place (./apdu.ts) and failures
 * are {@link CardError}s with stable codes.
 */
import { createHash, X509Certificate } from "node:crypto";
import type { CardReader } from "../readers/reader.ts";
import { CardError, SW, buildApdu, errorForSw, parseResponse, type Response } from "./apdu.ts";
import { MAX_OBJECT_LENGTH, parseTlvChildren, readTlvHeader } from "./tlv.ts";

export { CardError, type CardErrorCode } from "./apdu.ts";

export const JPKI_AID = Uint8Array.from([0xd3, 0x92, 0xf0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01]);
export const KENHOJO_AID = Uint8Array.from([0xd3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x08]);

export type CertificateType = "auth" | "sign" | "auth-ca" | "sign-ca";
export type PinType = "auth" | "sign";
export type SignHash = "sha256" | "sha384" | "sha512" | "raw";

/** JPKI AP elementary files (card-protocol.md §2.2). */
export const JpkiFile = {
  signCert: 0x0001,
  signCaCert: 0x0002,
  tokenInfo: 0x0006,
  authCert: 0x000a,
  authCaCert: 0x000b,
  authKey: 0x0017,
  authPin: 0x0018,
  signKey: 0x001a,
  signPin: 0x001b,
} as const;

/** 券面事項入力補助AP elementary files (§3.1). */
export const KenhojoFile = { myNumber: 0x0001, attributes: 0x0002, pin: 0x0011 } as const;

const CERT_FILE: Record<CertificateType, number> = {
  auth: JpkiFile.authCert,
  sign: JpkiFile.signCert,
  "auth-ca": JpkiFile.authCaCert,
  "sign-ca": JpkiFile.signCaCert,
};
const PIN_FILE: Record<PinType, number> = { auth: JpkiFile.authPin, sign: JpkiFile.signPin };
const KEY_FILE: Record<PinType, number> = { auth: JpkiFile.authKey, sign: JpkiFile.signKey };

/** DER of DigestInfo up to the digest (RFC 8017 §9.2 note 1). */
const DIGEST_INFO_PREFIX: Record<Exclude<SignHash, "raw">, Uint8Array> = {
  sha256: Uint8Array.from(Buffer.from("3031300d060960864801650304020105000420", "hex")),
  sha384: Uint8Array.from(Buffer.from("3041300d060960864801650304020205000430", "hex")),
  sha512: Uint8Array.from(Buffer.from("3051300d060960864801650304020305000440", "hex")),
};
const DIGEST_LENGTH = { sha256: 32, sha384: 48, sha512: 64 } as const;
/** PKCS#1 v1.5 type 1 with RSA-2048 leaves room for at most 245 bytes. */
export const MAX_RAW_SIGN_INPUT = 245;

export type VerifyResult =
  | { ok: true }
  | { ok: false; blocked: false; triesLeft: number }
  | { ok: false; blocked: true; triesLeft: 0 };

export interface SignOptions {
  /** How `data` becomes the signed block. Default "sha256": hash it and wrap the digest in a DigestInfo.
   *  "raw": send `data` as is (1..245 bytes; the card pads it). */
  hash?: SignHash;
  /** `data` already is the digest of the chosen hash (only wrap it in a DigestInfo). */
  prehashed?: boolean;
  /** Verify this PIN right before signing (what OpenSC does for the signing key). */
  pin?: string;
}

export interface KenhojoData {
  /** 12-digit individual number. */
  myNumber: string;
  name: string;
  address: string;
  /** Date of birth as on the card, "YYYYMMDD". */
  birthDate: string;
  /** "1" male, "2" female, "9" not applicable (ISO/IEC 5218 style, as on the card). */
  sex: string;
}

/** The PINs' names, for messages (here and in the services that drive a card through this client). */
export const PIN_NAME: Readonly<Record<PinType | "kenhojo", { ja: string; en: string }>> = {
  auth: { ja: "利用者証明用電子証明書の暗証番号", en: "authentication PIN" },
  sign: { ja: "署名用パスワード", en: "signing password" },
  kenhojo: { ja: "券面事項入力補助用暗証番号", en: "券面事項入力補助 PIN" },
};

/** Checks a PIN's format before it reaches the card, so a typo never costs a try. Returns the bytes to send. */
export function encodePin(type: PinType | "kenhojo", pin: string): Uint8Array {
  if (typeof pin !== "string") throw new CardError("invalid-argument", "PIN must be a string");
  if (type === "sign") {
    // ASCII letters only: toUpperCase would turn "ß" into "SS", sending a password the holder never chose.
    const upper = pin.replace(/[a-z]/g, (c) => c.toUpperCase());
    if (!/^[A-Z0-9]{6,16}$/.test(upper)) {
      throw new CardError("invalid-argument", "署名用パスワードは英大文字と数字の6〜16文字です / the signing password must be 6–16 characters A–Z and 0–9");
    }
    return new TextEncoder().encode(upper);
  }
  if (!/^[0-9]{4}$/.test(pin)) throw new CardError("invalid-argument", `${PIN_NAME[type].ja}は数字4桁です / the ${PIN_NAME[type].en} must be 4 digits`);
  return new TextEncoder().encode(pin);
}

export class JpkiClient {
  readonly reader: CardReader;
  #current: "jpki" | "kenhojo" | null = null;

  constructor(reader: CardReader) {
    this.reader = reader;
  }

  /** Sends one APDU and splits the answer. Transport failures forget the current selection. */
  async transmit(apdu: Uint8Array): Promise<Response> {
    let raw: Uint8Array;
    try {
      raw = await this.reader.transmit(apdu);
    } catch (e) {
      this.#current = null;
      throw e;
    }
    return parseResponse(raw);
  }

  /** Forget which application is selected (call after a reset or reconnect done outside the client). */
  forgetSelection(): void {
    this.#current = null;
  }

  /** SELECT the JPKI AP (always sends the command). */
  async selectJpki(): Promise<void> {
    await this.#selectAp("jpki");
  }

  /** SELECT the 券面事項入力補助AP (always sends the command). */
  async selectKenhojo(): Promise<void> {
    await this.#selectAp("kenhojo");
  }

  /** The token label from EF 0006 ("JPKIAPICCTOKEN2" on a My Number Card). */
  async tokenLabel(): Promise<string> {
    await this.#ensure("jpki");
    await this.#selectEf(JpkiFile.tokenInfo, "token info");
    const data = await this.#readBinary(0, 32, "read token info");
    return new TextDecoder("latin1").decode(data).replace(/[\0 ]+$/, "");
  }

  /**
   * Reads a certificate (DER). The signing certificate needs the signing password:
   * verify it first or pass `signPin`. The length comes from the DER header; the file
   * may be padded after the certificate, as on real cards.
   */
  async readCertificate(type: CertificateType, opts: { signPin?: string } = {}): Promise<Uint8Array> {
    const fid = CERT_FILE[type];
    if (fid === undefined) throw new CardError("invalid-argument", `unknown certificate type ${String(type)}`);
    if (opts.signPin !== undefined) await this.#verifyOrThrow("sign", opts.signPin);
    await this.#ensure("jpki");
    await this.#selectEf(fid, `${type} certificate`);
    const cert = await this.#readObject(`read ${type} certificate`, 0x30);
    if (cert === null) throw new CardError("no-certificate", `the card holds no ${type} certificate`);
    // The DER header is all the reading could check: a card whose file holds another SEQUENCE, or a
    // certificate whose header announces fewer bytes than it has (cut short), is a broken answer.
    try {
      new X509Certificate(cert);
    } catch (e) {
      throw new CardError(
        "invalid-response",
        `カードの電子証明書を読み取れません / the ${type} certificate on the card is not a valid X.509 certificate (${cert.length} bytes)`,
        { cause: e },
      );
    }
    return cert;
  }

  /** VERIFY a PIN. Wrong and blocked PINs are results, not exceptions. */
  async verifyPin(type: PinType, pin: string): Promise<VerifyResult> {
    const encoded = encodePin(type, pin);
    await this.#ensure("jpki");
    await this.#selectEf(PIN_FILE[type], `${type} PIN`);
    return this.#verify(encoded, `verify ${type} PIN`);
  }

  /** Tries left for a PIN (empty VERIFY; does not use a try). 0 means blocked. */
  async triesLeft(type: PinType): Promise<number> {
    await this.#ensure("jpki");
    await this.#selectEf(PIN_FILE[type], `${type} PIN`);
    return this.#triesLeft(`${type} PIN retry counter`);
  }

  /**
   * Signs with the card's key: by default SHA-256 over `data` wrapped in a DigestInfo
   * (what CMS, XMLDSig and OpenSC's SHA256-RSA-PKCS produce). The key's PIN must be
   * verified first, or passed as `opts.pin`. Returns the 256-byte RSA signature.
   */
  async sign(type: PinType, data: Uint8Array, opts: SignOptions = {}): Promise<Uint8Array> {
    const block = signInput(data, opts.hash ?? "sha256", opts.prehashed ?? false);
    if (opts.pin !== undefined) await this.#verifyOrThrow(type, opts.pin);
    await this.#ensure("jpki");
    await this.#selectEf(KEY_FILE[type], `${type} key`);
    const r = await this.transmit(buildApdu(0x80, 0x2a, 0x00, 0x80, block, 256));
    if (r.sw !== SW.ok) throw errorForSw(r.sw, `sign with the ${type} key`);
    if (r.data.length < 128 || r.data.length > 512) {
      throw new CardError("invalid-response", `signature of ${r.data.length} bytes`);
    }
    return r.data;
  }

  /** CHANGE REFERENCE DATA after verifying the old PIN. Throws wrong-pin / pin-blocked. */
  async changePin(type: PinType, oldPin: string, newPin: string): Promise<void> {
    const encodedNew = encodePin(type, newPin);
    await this.#verifyOrThrow(type, oldPin);
    // #verifyOrThrow left the PIN EF selected
    const r = await this.transmit(buildApdu(0x00, 0x24, 0x01, 0x80, encodedNew));
    if (r.sw !== SW.ok) throw errorForSw(r.sw, `change ${type} PIN`);
  }

  /** Tries left for the 券面事項入力補助AP PIN. */
  async kenhojoTriesLeft(): Promise<number> {
    await this.#ensure("kenhojo");
    await this.#selectEf(KenhojoFile.pin, "kenhojo PIN");
    return this.#triesLeft("kenhojo PIN retry counter");
  }

  /** Reads My Number and the four attributes from the 券面事項入力補助AP with its 4-digit PIN. */
  async readKenhojo(pin: string): Promise<KenhojoData> {
    const encoded = encodePin("kenhojo", pin);
    await this.#ensure("kenhojo");
    await this.#selectEf(KenhojoFile.pin, "kenhojo PIN");
    const v = await this.#verify(encoded, "verify kenhojo PIN");
    if (!v.ok) throw pinFailure(v, "kenhojo");

    await this.#selectEf(KenhojoFile.myNumber, "My Number file");
    const numberFile = await this.#readBinary(0, 17, "read My Number");
    const myNumber = decodeMyNumber(numberFile);

    await this.#selectEf(KenhojoFile.attributes, "attributes file");
    const attrs = await this.#readObject("read the four attributes", 0xff20);
    if (attrs === null) throw new CardError("invalid-response", "the attributes file is empty");
    return { myNumber, ...decodeAttributes(attrs) };
  }

  async #selectAp(ap: "jpki" | "kenhojo"): Promise<void> {
    const aid = ap === "jpki" ? JPKI_AID : KENHOJO_AID;
    this.#current = null;
    const r = await this.transmit(buildApdu(0x00, 0xa4, 0x04, 0x0c, aid));
    if (r.sw === SW.fileNotFound) {
      // The first thing sent to a card: a card without the application is not a My Number Card.
      const name = ap === "jpki" ? { ja: "公的個人認証AP", en: "JPKI application" } : { ja: "券面事項入力補助AP", en: "券面事項入力補助 application" };
      throw new CardError(
        "file-not-found",
        `カードに${name.ja}がありません（マイナンバーカードではありませんか）/ the card has no ${name.en} (not a My Number Card?): SELECT answered 6A82`,
        { sw: r.sw },
      );
    }
    if (r.sw !== SW.ok) throw errorForSw(r.sw, `select the ${ap === "jpki" ? "JPKI" : "券面事項入力補助"} AP`);
    this.#current = ap;
  }

  /** Selects the AP only if it is not current, so verified PINs survive (§2.6). */
  async #ensure(ap: "jpki" | "kenhojo"): Promise<void> {
    if (this.#current !== ap) await this.#selectAp(ap);
  }

  async #selectEf(fid: number, what: string): Promise<void> {
    const r = await this.transmit(buildApdu(0x00, 0xa4, 0x02, 0x0c, Uint8Array.of(fid >> 8, fid & 0xff)));
    if (r.sw !== SW.ok) throw errorForSw(r.sw, `select ${what}`);
  }

  async #verify(encodedPin: Uint8Array, what: string): Promise<VerifyResult> {
    const r = await this.transmit(buildApdu(0x00, 0x20, 0x00, 0x80, encodedPin));
    if (r.sw === SW.ok) return { ok: true };
    const err = errorForSw(r.sw, what);
    if (err.code === "pin-blocked") return { ok: false, blocked: true, triesLeft: 0 };
    if (err.code === "wrong-pin") return { ok: false, blocked: false, triesLeft: err.triesLeft! };
    throw err;
  }

  async #verifyOrThrow(type: PinType, pin: string): Promise<void> {
    const v = await this.verifyPin(type, pin);
    if (!v.ok) throw pinFailure(v, type);
  }

  async #triesLeft(what: string): Promise<number> {
    const r = await this.transmit(buildApdu(0x00, 0x20, 0x00, 0x80));
    if ((r.sw & 0xfff0) === 0x63c0) return r.sw & 0x0f;
    if (r.sw === SW.referenceDataBlocked || r.sw === SW.authMethodBlocked) return 0;
    if (r.sw === SW.ok) throw new CardError("invalid-response", `${what}: the card answered 9000 without a retry count`, { sw: r.sw });
    throw errorForSw(r.sw, what);
  }

  /** READ BINARY (offset form). Returns exactly the bytes the card sent, at most `le`. */
  async #readBinary(offset: number, le: number, what: string): Promise<Uint8Array> {
    if (offset < 0 || offset > 0x7fff) throw new CardError("invalid-argument", `offset ${offset} beyond 0x7FFF`);
    const r = await this.transmit(buildApdu(0x00, 0xb0, offset >> 8, offset & 0xff, undefined, le));
    if (r.sw !== SW.ok) throw errorForSw(r.sw, what);
    if (r.data.length > le) throw new CardError("invalid-response", `${what}: ${r.data.length} bytes for Le=${le}`);
    return r.data;
  }

  /**
   * Reads one BER object from the start of the current EF, learning its length from its
   * header and fetching the rest in 256-byte chunks. Returns null when the file is
   * empty or does not start with `expectedTag` (unwritten files hold filler).
   */
  async #readObject(what: string, expectedTag: number): Promise<Uint8Array | null> {
    let first: Uint8Array;
    try {
      first = await this.#readBinary(0, 256, what);
    } catch (e) {
      if (e instanceof CardError && e.sw === SW.wrongP1P2Offset) return null; // empty file
      throw e;
    }
    let header;
    try {
      header = readTlvHeader(first);
    } catch {
      return null;
    }
    if (header === null || header.tag !== expectedTag) return null;
    const total = header.headerLength + header.length;
    if (total > MAX_OBJECT_LENGTH) throw new CardError("invalid-response", `${what}: object of ${total} bytes is too large`);
    const out = new Uint8Array(total);
    let got = Math.min(first.length, total);
    out.set(first.subarray(0, got), 0);
    while (got < total) {
      const chunk = await this.#readBinary(got, Math.min(256, total - got), what);
      if (chunk.length === 0) throw new CardError("invalid-response", `${what}: empty chunk at offset ${got}`);
      out.set(chunk, got);
      got += chunk.length;
    }
    return out;
  }
}

function pinFailure(v: Exclude<VerifyResult, { ok: true }>, type: PinType | "kenhojo"): CardError {
  const { ja, en } = PIN_NAME[type];
  return v.blocked
    ? new CardError("pin-blocked", `${ja}がロックされています / the ${en} is blocked`, { triesLeft: 0 })
    : new CardError("wrong-pin", `${ja}が違います（残り${v.triesLeft}回）/ wrong ${en}: ${v.triesLeft} ${v.triesLeft === 1 ? "try" : "tries"} left`, {
        triesLeft: v.triesLeft,
      });
}

/** The block the card pads and signs: a DigestInfo, or the caller's raw bytes. */
export function signInput(data: Uint8Array, hash: SignHash, prehashed = false): Uint8Array {
  if (!(data instanceof Uint8Array)) throw new CardError("invalid-argument", "data must be a Uint8Array");
  if (hash === "raw") {
    if (data.length < 1 || data.length > MAX_RAW_SIGN_INPUT) {
      throw new CardError("invalid-argument", `raw signature input must be 1–${MAX_RAW_SIGN_INPUT} bytes, got ${data.length}`);
    }
    return data;
  }
  const prefix = DIGEST_INFO_PREFIX[hash];
  if (prefix === undefined) throw new CardError("invalid-argument", `unsupported hash ${String(hash)}`);
  let digest: Uint8Array;
  if (prehashed) {
    if (data.length !== DIGEST_LENGTH[hash]) {
      throw new CardError("invalid-argument", `a ${hash} digest is ${DIGEST_LENGTH[hash]} bytes, got ${data.length}`);
    }
    digest = data;
  } else {
    digest = createHash(hash).update(data).digest();
  }
  const out = new Uint8Array(prefix.length + digest.length);
  out.set(prefix, 0);
  out.set(digest, prefix.length);
  return out;
}

/** EF 0001 of the 券面事項入力補助AP: `FF 10 0C` + 12 ASCII digits (+ filler). */
export function decodeMyNumber(file: Uint8Array): string {
  const h = readTlvHeader(file);
  if (h === null || h.tag !== 0xff10 || h.length !== 12 || file.length < h.headerLength + 12) {
    throw new CardError("invalid-response", "My Number file is not FF10 with 12 digits");
  }
  const text = new TextDecoder("latin1").decode(file.subarray(h.headerLength, h.headerLength + 12));
  if (!/^[0-9]{12}$/.test(text)) throw new CardError("invalid-response", "My Number is not 12 digits");
  return text;
}

/** EF 0002: `FF 20 { DF21 offsets, DF22 name, DF23 address, DF24 birth, DF25 sex }`. */
export function decodeAttributes(obj: Uint8Array): Omit<KenhojoData, "myNumber"> {
  const h = readTlvHeader(obj);
  if (h === null || h.tag !== 0xff20) throw new CardError("invalid-response", "attributes file is not FF20");
  if (obj.length < h.headerLength + h.length) {
    throw new CardError("invalid-response", `attributes object announces ${h.length} bytes but has ${obj.length - h.headerLength}`);
  }
  const children = parseTlvChildren(obj.subarray(h.headerLength, h.headerLength + h.length));
  const text = (tag: number, name: string): string => {
    const v = children.get(tag);
    if (v === undefined) throw new CardError("invalid-response", `attributes file lacks ${name} (${tag.toString(16).toUpperCase()})`);
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(v);
    } catch (e) {
      throw new CardError("invalid-response", `${name} is not UTF-8`, { cause: e });
    }
  };
  const birthDate = text(0xdf24, "date of birth");
  const sex = text(0xdf25, "sex");
  if (!/^[0-9]{8}$/.test(birthDate)) throw new CardError("invalid-response", `date of birth ${JSON.stringify(birthDate)} is not YYYYMMDD`);
  if (!/^[129]$/.test(sex)) throw new CardError("invalid-response", `sex code ${JSON.stringify(sex)} is not 1, 2 or 9`);
  return { name: text(0xdf22, "name"), address: text(0xdf23, "address"), birthDate, sex };
}
