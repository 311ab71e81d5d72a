/**
 * Signing documents on the card (DESIGN.md path 5, the signer's side): a CMS SignedData or an
 * enveloped XML signature made with the **signing** key of a My Number Card. The card is reached
 * in APDUs through a reader; it reads out its signing certificate once the signing password is
 * verified, and signs the PKCS#1 v1.5 DigestInfo of what is to be signed (the signed attributes,
 * or the canonical SignedInfo). The private key never leaves the card.
 */
import { CardError, JpkiClient } from "../client/jpki-client.ts";
import type { CardReader } from "../readers/reader.ts";
import { assembleSignedData, CMS_HASHES, MAX_CMS_CONTENT_BYTES, prepareSignedAttributes, type CmsHash } from "../pki/cms-signed-data.ts";
import { checkXmlForSigning, signXmlEnveloped, XmlSignError } from "../pki/xml-signature.ts";
import { systemClock, type Clock } from "./clock.ts";
import { ServiceError } from "./errors.ts";

/** What the card-signing workflows need of {@link Cards}. */
export interface CardAccess {
  withReader<T>(id: string, body: (reader: CardReader) => Promise<T>): Promise<T>;
}

/**
 * The refusals of card signing, as `ServiceError("refused")` reasons like every other card flow:
 * - `wrong-pin`: the signing password was wrong; `triesLeft` says how many tries remain;
 * - `pin-blocked`: the signing password is blocked (reset it at the counter or the kiosk);
 * - `invalid-pin`: the password does not have the signing password's form (no try was used);
 * - `no-signing-certificate`: the card holds no signing certificate (under 15, declined, …);
 * - `invalid-document`: the document cannot be signed (malformed XML, an existing signature, too large).
 */
export type DocumentSigningRefusal = "wrong-pin" | "pin-blocked" | "invalid-pin" | "no-signing-certificate" | "invalid-document";

function refusal(reason: DocumentSigningRefusal, message: string, cause: unknown, triesLeft?: number): ServiceError {
  // The form field at fault: the password, or the card; a bad document has no field of its own.
  const field = reason === "invalid-document" ? undefined : reason === "no-signing-certificate" ? "card" : "pin";
  return new ServiceError("refused", message, field, { reason, cause, ...(triesLeft !== undefined ? { triesLeft } : {}) });
}

export interface CardSigningRequest {
  cardId: string;
  /** The signing password (署名用パスワード); lower case is upper-cased, as the card's policy says. */
  pin: string;
}

export interface CmsSigningRequest extends CardSigningRequest {
  content: Uint8Array;
  /** Leave the content out of the SignedData. Default false (attached). */
  detached?: boolean;
  /** Default sha256. */
  hash?: CmsHash;
  /** Also put the signing CA's certificate (read from the card) into `certificates`. Default false. */
  includeCaCertificate?: boolean;
  /** Leave out the ESS signingCertificateV2 attribute. Default false (it is included). */
  omitSigningCertificateAttribute?: boolean;
  /** The signingTime attribute; default: `clock()`. */
  signingTime?: Date;
  clock?: Clock;
}

export interface XmlSigningRequest extends CardSigningRequest {
  xml: string;
}

export interface CmsSigned {
  /** DER ContentInfo (SignedData). */
  der: Uint8Array;
  certificateDer: Uint8Array;
  hash: CmsHash;
  detached: boolean;
  signingTime: Date;
}

export interface XmlSigned {
  xml: string;
  certificateDer: Uint8Array;
}

/**
 * Opens the card, checks it has a signing certificate, verifies the signing password and reads the
 * certificate, then runs `body` with the client (the password stays verified for the signature).
 */
async function withSigningKey<T>(
  cards: CardAccess,
  request: CardSigningRequest,
  body: (client: JpkiClient, certificate: { der: Uint8Array; caDer: Uint8Array }) => Promise<T>,
): Promise<T> {
  if (typeof request.cardId !== "string") throw new TypeError("cardId must be a string");
  return cards.withReader(request.cardId, async (reader) => {
    const client = new JpkiClient(reader);
    try {
      // A card without the signing certificate has no signing CA certificate either (readable without
      // a password); its signing password is unset and answers "blocked", which would mislead.
      const caDer = await client.readCertificate("sign-ca");
      const der = await client.readCertificate("sign", { signPin: request.pin });
      return await body(client, { der, caDer });
    } catch (error) {
      throw translate(error);
    }
  });
}

function translate(error: unknown): unknown {
  if (!(error instanceof CardError)) return error;
  switch (error.code) {
    case "wrong-pin": {
      const left = error.triesLeft ?? 0;
      return refusal("wrong-pin", `署名用パスワードが違います（残り${left}回）/ wrong signing password: ${left} ${left === 1 ? "try" : "tries"} left`, error, left);
    }
    case "pin-blocked":
      return refusal(
        "pin-blocked",
        "署名用パスワードがロックされています。市区町村の窓口またはコンビニのキオスクで初期化してください / the signing password is blocked: reset it at the municipal counter or a kiosk",
        error,
        0,
      );
    case "invalid-argument":
      return refusal("invalid-pin", "署名用パスワードは英大文字と数字の6〜16文字です / the signing password is 6–16 characters A–Z and 0–9 (no try was used)", error);
    case "no-certificate":
    case "file-not-found":
      return refusal("no-signing-certificate", "このカードには署名用電子証明書がありません / this card holds no signing certificate", error);
    default:
      return error;
  }
}

/** Sign `content` on the card as a CMS SignedData (attached unless `detached`). */
export async function signCmsOnCard(cards: CardAccess, request: CmsSigningRequest): Promise<CmsSigned> {
  const hash = request.hash ?? "sha256";
  if (!CMS_HASHES.includes(hash)) throw new TypeError(`hash must be one of ${CMS_HASHES.join(", ")}`);
  if (!(request.content instanceof Uint8Array)) throw new TypeError("content must be a Uint8Array");
  // Refuse what cannot be signed before the card (and its retry counter) is touched.
  if (request.content.length > MAX_CMS_CONTENT_BYTES) {
    throw refusal(
      "invalid-document",
      `${MAX_CMS_CONTENT_BYTES / 1024 / 1024}MiB を超える内容には署名できません / cannot sign content larger than ${MAX_CMS_CONTENT_BYTES / 1024 / 1024} MiB`,
      undefined,
    );
  }
  const detached = request.detached === true;
  const signingTime = request.signingTime ?? (request.clock ?? systemClock)();
  if (!(signingTime instanceof Date) || Number.isNaN(signingTime.getTime())) throw new TypeError("signingTime must be a valid Date");
  return withSigningKey(cards, request, async (client, certificate) => {
    const prepared = prepareSignedAttributes({
      content: request.content,
      hash,
      signingTime,
      ...(request.omitSigningCertificateAttribute ? {} : { certificateDer: certificate.der }),
    });
    const signature = await client.sign("sign", prepared.signedAttrsDigest, { hash, prehashed: true, pin: request.pin });
    const der = assembleSignedData({
      signedAttributes: prepared,
      signature,
      certificateDer: certificate.der,
      ...(request.includeCaCertificate ? { extraCertificatesDer: [certificate.caDer] } : {}),
      content: request.content,
      detached,
    });
    return { der, certificateDer: certificate.der, hash, detached, signingTime: prepared.signingTime };
  });
}

/** Sign an XML document on the card with an enveloped signature (RSA-SHA256, exclusive c14n). */
export async function signXmlOnCard(cards: CardAccess, request: XmlSigningRequest): Promise<XmlSigned> {
  if (typeof request.xml !== "string") throw new TypeError("xml must be a string");
  // Refuse a document that cannot be signed before the card (and its retry counter) is touched.
  try {
    checkXmlForSigning(request.xml);
  } catch (error) {
    if (error instanceof XmlSignError) {
      throw refusal("invalid-document", `XML に署名できません / cannot sign this XML: ${error.message}`, error);
    }
    throw error;
  }
  return withSigningKey(cards, request, async (client, certificate) => {
    const xml = await signXmlEnveloped({
      xml: request.xml,
      certificateDer: certificate.der,
      signer: ({ digest, hash }) => client.sign("sign", digest, { hash, prehashed: true, pin: request.pin }),
    });
    return { xml, certificateDer: certificate.der };
  });
}
