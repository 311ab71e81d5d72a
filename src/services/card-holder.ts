import { JpkiClient, PIN_NAME } from "../client/jpki-client.ts";
import { CardError } from "../client/apdu.ts";
import type { CardReader } from "../readers/reader.ts";
import { ServiceError } from "./errors.ts";
import { signedChallenge, type ChallengePurpose } from "./challenges.ts";

export type HolderKey = "auth" | "sign";

/**
 * What the card holder's side does with their card in a reader (the app, the kiosk, a browser
 * helper): verify a PIN, read the certificate, sign a challenge — in APDUs, through any reader.
 * Refusals become ServiceErrors with a stable reason and what to do next.
 */
export class CardHolder {
  readonly client: JpkiClient;

  constructor(reader: CardReader) {
    this.client = new JpkiClient(reader);
  }

  async verifyPin(type: HolderKey, pin: string): Promise<void> {
    let result;
    try {
      result = await this.client.verifyPin(type, pin);
    } catch (error) {
      // The PIN's form is checked before anything is sent: no try was used.
      if (error instanceof CardError && error.code === "invalid-argument") throw invalidPinForm(type, error);
      throw cardRefusal(error);
    }
    if (result.ok) return;
    const name = PIN_NAME[type];
    if (result.blocked) {
      // A card issued without the authentication certificate (declined) has no PIN for it, which
      // the card answers as blocked: say what is really missing, not to have a PIN reset that is
      // not there. (The signing certificate cannot be read without its PIN, so only auth is asked.)
      if (type === "auth" && !(await this.holdsCertificate("auth"))) throw noAuthCertificate();
      throw new ServiceError(
        "refused",
        `${name.ja}がロックされています。お住まいの市区町村の窓口で初期化してください / the ${name.en} is blocked: have it reset at your municipality's counter`,
        "pin",
        { reason: "pin-blocked", triesLeft: 0 },
      );
    }
    throw new ServiceError(
      "refused",
      `${name.ja}が違います（残り${result.triesLeft}回）/ wrong ${name.en}: ${result.triesLeft} ${result.triesLeft === 1 ? "try" : "tries"} left`,
      "pin",
      { reason: "wrong-pin", triesLeft: result.triesLeft },
    );
  }

  async certificate(type: HolderKey, signPin?: string): Promise<Uint8Array> {
    try {
      return await this.client.readCertificate(type, signPin ? { signPin } : {});
    } catch (error) {
      throw cardRefusal(error);
    }
  }

  /** Whether the card holds a certificate of `type` (read without a PIN: only the authentication one can be). */
  private async holdsCertificate(type: "auth"): Promise<boolean> {
    try {
      await this.client.readCertificate(type);
      return true;
    } catch (error) {
      if (error instanceof CardError && error.code === "no-certificate") return false;
      throw cardRefusal(error);
    }
  }

  /** Sign `data` (SHA-256 DigestInfo) with the key; its PIN must have been verified in this session. */
  async sign(type: HolderKey, data: Uint8Array): Promise<Uint8Array> {
    try {
      return await this.client.sign(type, data, { hash: "sha256" });
    } catch (error) {
      throw cardRefusal(error);
    }
  }
}

function noAuthCertificate(): ServiceError {
  return new ServiceError(
    "refused",
    "このカードには利用者証明用電子証明書が搭載されていません。お住まいの市区町村の窓口で発行の手続きをしてください / this card holds no authentication certificate: apply for one at your municipality's counter",
    "card",
    { reason: "no-certificate" },
  );
}

function invalidPinForm(type: HolderKey, cause: CardError): ServiceError {
  const message =
    type === "sign"
      ? "署名用パスワードは英大文字（A～Z）と数字の6～16文字です（試行回数は減っていません）/ the signing password is 6 to 16 characters A–Z and 0–9 (no try was used)"
      : "利用者証明用電子証明書の暗証番号は数字4桁です（試行回数は減っていません）/ the authentication PIN is 4 digits (no try was used)";
  return new ServiceError("invalid-input", message, "pin", { reason: "invalid-pin", cause });
}

function cardRefusal(error: unknown): unknown {
  if (error instanceof CardError) {
    return new ServiceError("refused", `カードを読み取れませんでした / the card refused: ${error.message}`, "card", {
      reason: `card-${error.code}`,
      cause: error,
    });
  }
  return error;
}

/** The holder's side: PIN on the card, the certificate, the card's signature over the challenge. */
export async function holderProof(
  reader: CardReader,
  type: HolderKey,
  pin: string,
  purpose: ChallengePurpose,
  challenge: Uint8Array,
): Promise<{ certificateDer: Uint8Array; signature: Uint8Array }> {
  const holder = new CardHolder(reader);
  await holder.verifyPin(type, pin);
  const certificateDer = await holder.certificate(type, type === "sign" ? pin : undefined);
  const signature = await holder.sign(type, signedChallenge(purpose, challenge));
  return { certificateDer, signature };
}

