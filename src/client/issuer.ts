/**
 * The terminal side of the card's issuer commands (docs/card-issuer-commands.md), over
 * any CardReader. A counter terminal uses it to personalise a card (keys, certificates,
 * PINs, 券面事項入力補助AP data); a kiosk terminal to reset a PIN after the holder has
 * verified the other one. Everything is APDUs: nothing here knows the card is virtual.
 */
import { createPublicKey, sign as rsaSign, constants, type KeyObject } from "node:crypto";
import type { CardReader } from "../readers/reader.ts";
import { encodeAttributesFile, encodeMyNumberFile, type KenhojoRecord } from "./kenhojo-encoding.ts";
import type { TerminalRole } from "./terminal-credentials.ts";

export type { KenhojoRecord } from "./kenhojo-encoding.ts";

const JPKI_AID = Uint8Array.from(Buffer.from("D392F000260100000001", "hex"));
const KENHOJO_AID = Uint8Array.from(Buffer.from("D3921000310001010408", "hex"));
/** Must equal the card's TERMINAL_AUTH_CONTEXT (src/card/terminal-auth.ts). */
export const TERMINAL_AUTH_CONTEXT = "OpenJPKI terminal authentication v1\0";
const CHALLENGE_LENGTH = 16;

const CERT_EF = { sign: 0x0001, "sign-ca": 0x0002, auth: 0x000a, "auth-ca": 0x000b } as const;
const KEY_EF = { auth: 0x0017, sign: 0x001a } as const;
const PIN_EF = { auth: 0x0018, sign: 0x001b, kenhojo: 0x0011 } as const;

export type CertificateEf = keyof typeof CERT_EF;
export type KeyType = keyof typeof KEY_EF;
export type IssuerPinType = keyof typeof PIN_EF;

export interface TerminalIdentity {
  role: TerminalRole;
  privateKey: KeyObject;
  certificateDer: Uint8Array;
}

/** A non-9000 answer to an issuer command. */
export class IssuerCommandError extends Error {
  override name = "IssuerCommandError";
  constructor(
    readonly command: string,
    readonly sw: number,
  ) {
    super(`${command}: card answered ${sw.toString(16).toUpperCase().padStart(4, "0")}`);
  }
}

/** Encode a command APDU, short when it fits and extended otherwise. */
export function commandApdu(cla: number, ins: number, p1: number, p2: number, data?: Uint8Array, ne?: number): Uint8Array {
  const nc = data?.length ?? 0;
  if (nc > 65535 || (ne !== undefined && (ne < 1 || ne > 65536))) throw new RangeError("APDU too long");
  const extended = nc > 255 || (ne !== undefined && ne > 256);
  const out: number[] = [cla, ins, p1, p2];
  if (nc > 0) {
    if (extended) out.push(0, nc >> 8, nc & 0xff);
    else out.push(nc);
    out.push(...data!);
  }
  if (ne !== undefined) {
    if (extended) {
      if (nc === 0) out.push(0);
      out.push((ne >> 8) & 0xff, ne & 0xff);
    } else {
      out.push(ne & 0xff);
    }
  }
  return Uint8Array.from(out);
}

export class IssuerSession {
  readonly #reader: CardReader;
  #terminal: TerminalIdentity | null = null;
  #ap: "jpki" | "kenhojo" | null = null;

  constructor(reader: CardReader) {
    this.#reader = reader;
  }

  /**
   * Prove the terminal to the card: GET CHALLENGE, PSO VERIFY CERTIFICATE, EXTERNAL
   * AUTHENTICATE. Selects the JPKI AP first unless `select` is false, which a kiosk
   * passes when the holder has just verified a PIN on a card whose switch clears PINs
   * on re-selection.
   */
  async authenticate(terminal: TerminalIdentity, opts: { select?: boolean } = {}): Promise<void> {
    this.#terminal = terminal;
    if (opts.select !== false) await this.#select("jpki");
    else this.#ap = "jpki";
    await this.#authenticateInCurrentAp();
  }

  /** Generate a key pair inside the card (empties the matching certificate EF). Returns the public key. */
  async generateKeyPair(type: KeyType): Promise<KeyObject> {
    await this.#in("jpki");
    const spki = await this.#run("GENERATE KEY PAIR", commandApdu(0x00, 0x46, 0x00, 0x80 | KEY_EF[type], undefined, 65536));
    return createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" });
  }

  /** The public key of a key already on the card. */
  async readPublicKey(type: KeyType): Promise<KeyObject> {
    await this.#in("jpki");
    const spki = await this.#run("READ PUBLIC KEY", commandApdu(0x00, 0x46, 0x01, 0x80 | KEY_EF[type], undefined, 65536));
    return createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" });
  }

  async writeCertificate(ef: CertificateEf, der: Uint8Array): Promise<void> {
    await this.#in("jpki");
    await this.#writeEf(CERT_EF[ef], der, `WRITE ${ef} CERTIFICATE`);
  }

  /** Set a new PIN and restore its retry counter (RESET RETRY COUNTER, P1 02). */
  async setPin(type: IssuerPinType, pin: string): Promise<void> {
    await this.#in(type === "kenhojo" ? "kenhojo" : "jpki");
    // ASCII letters only are folded (toUpperCase would turn "ß" into "SS"), and other characters
    // go as their UTF-8 bytes, not Buffer's lossy "ascii": the card judges the PIN's form itself.
    const value = new TextEncoder().encode(type === "sign" ? pin.replace(/[a-z]/g, (c) => c.toUpperCase()) : pin);
    await this.#run(`SET ${type} PIN`, commandApdu(0x00, 0x2c, 0x02, 0x80 | PIN_EF[type], value));
  }

  /** Restore a PIN's retry counter without changing it (P1 03). */
  async restoreRetryCounter(type: IssuerPinType): Promise<void> {
    await this.#in(type === "kenhojo" ? "kenhojo" : "jpki");
    await this.#run(`RESET ${type} COUNTER`, commandApdu(0x00, 0x2c, 0x03, 0x80 | PIN_EF[type]));
  }

  /** Write the My Number and the four attributes to the 券面事項入力補助AP. */
  async writeKenhojo(data: KenhojoRecord): Promise<void> {
    const myNumber = encodeMyNumberFile(data.myNumber);
    const attributes = encodeAttributesFile(data);
    await this.#in("kenhojo");
    await this.#writeEf(0x0001, myNumber, "WRITE MY NUMBER");
    await this.#writeEf(0x0002, attributes, "WRITE ATTRIBUTES");
  }

  // Terminal authentication belongs to the AP session: switching AP means proving again.
  async #in(ap: "jpki" | "kenhojo"): Promise<void> {
    if (!this.#terminal) throw new Error("authenticate the terminal first");
    if (this.#ap === ap) return;
    await this.#select(ap);
    await this.#authenticateInCurrentAp();
  }

  async #select(ap: "jpki" | "kenhojo"): Promise<void> {
    this.#ap = null;
    await this.#run("SELECT AP", commandApdu(0x00, 0xa4, 0x04, 0x0c, ap === "jpki" ? JPKI_AID : KENHOJO_AID));
    this.#ap = ap;
  }

  async #authenticateInCurrentAp(): Promise<void> {
    const terminal = this.#terminal!;
    const challenge = await this.#run("GET CHALLENGE", commandApdu(0x00, 0x84, 0x00, 0x00, undefined, CHALLENGE_LENGTH));
    if (challenge.length !== CHALLENGE_LENGTH) throw new Error(`GET CHALLENGE: expected ${CHALLENGE_LENGTH} bytes`);
    await this.#run("PSO VERIFY CERTIFICATE", commandApdu(0x00, 0x2a, 0x00, 0xbe, terminal.certificateDer));
    const signature = rsaSign(
      "sha256",
      Buffer.concat([Buffer.from(TERMINAL_AUTH_CONTEXT, "latin1"), challenge]),
      { key: terminal.privateKey, padding: constants.RSA_PKCS1_PADDING },
    );
    await this.#run("EXTERNAL AUTHENTICATE", commandApdu(0x00, 0x82, 0x00, 0x00, signature));
  }

  async #writeEf(fid: number, content: Uint8Array, what: string): Promise<void> {
    await this.#run(`${what} (SELECT)`, commandApdu(0x00, 0xa4, 0x02, 0x0c, Uint8Array.of(fid >> 8, fid & 0xff)));
    await this.#run(what, commandApdu(0x80, 0xd6, 0x00, 0x00, content));
  }

  async #run(what: string, apdu: Uint8Array): Promise<Uint8Array> {
    const response = await this.#reader.transmit(apdu);
    if (response.length < 2) throw new Error(`${what}: response shorter than a status word`);
    const sw = (response[response.length - 2]! << 8) | response[response.length - 1]!;
    if (sw !== 0x9000) throw new IssuerCommandError(what, sw);
    return response.subarray(0, response.length - 2);
  }
}
