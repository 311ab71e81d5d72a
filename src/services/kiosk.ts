import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { Kysely } from "kysely";
import type { Database } from "../store/schema.ts";
import type { Verifier } from "../verify/index.ts";
import type { CardReader } from "../readers/reader.ts";
import type { Settings } from "../config/defaults.ts";
import {
  DEFAULT_KIOSK_CONFIG,
  KIOSK_DOCUMENT_KINDS,
  checkKioskConfig,
  kioskOffersFor,
  type KioskConfig,
  type KioskDocumentId,
  type KioskDocumentKind,
  type KioskHours,
} from "../config/kiosk-documents.ts";
import { kioskEligibility } from "../rules/eligibility.ts";
import { checkFourDigitPin } from "../rules/pin-policy.ts";
import { japanDateOf } from "../rules/japan-date.ts";
import type { Challenges, IssuedChallenge } from "./challenges.ts";
import { signedChallenge } from "./challenges.ts";
import { holderProof } from "./card-holder.ts";
import { requireValid } from "./trust.ts";
import type { Registry, Resident } from "./registry.ts";
import { DEFAULT_KIOSK_TERMINAL } from "./cards.ts";
import { requireCardInUse } from "./card-in-use.ts";
import type { KioskPdfOptions } from "./kiosk-pdf.ts";
import { ServiceError } from "./errors.ts";
import { appendAudit } from "./audit.ts";
import type { Clock } from "./clock.ts";

export type { KioskHours } from "../config/kiosk-documents.ts";

/** What the Kiosk reads from the settings: the public URL (printed for the tamper check) and, optionally, its own configuration. */
export type KioskSettings = Pick<Settings, "publicBaseUrl" | "kiosk">;

export interface KioskDocumentOffer {
  id: KioskDocumentId;
  nameJa: string;
  nameEn: string;
  feeYen: number;
}

export interface KioskIssueInput {
  /** The 4-digit authentication PIN (利用者証明用電子証明書の暗証番号). */
  pin: string;
  document: string;
  /** 1 to 10 (default 1). */
  copies?: number;
  /** The kiosk terminal (default "kiosk-default"). */
  kioskId?: string;
}

export interface KioskIssuance {
  /** The issue number (交付番号), printed on the document. */
  id: string;
  document: KioskDocumentId;
  documentNameJa: string;
  documentNameEn: string;
  municipalityCode: string;
  copies: number;
  unitFeeYen: number;
  /** The fee charged: per copy × copies. */
  feeYen: number;
  /** 照合番号: 16 characters, printed on the document, recorded with the issuance. */
  verificationCode: string;
  issuedAt: string;
  kiosk: string;
  /** SHA-256 (hex) of the PDF as issued. */
  pdfSha256: string;
}

/** What anyone holding the issue number and verification code may learn: no personal data. */
export interface KioskIssuanceRecord {
  issueNumber: string;
  document: KioskDocumentId;
  documentNameJa: string;
  documentNameEn: string;
  municipality: { code: string; nameJa: string };
  issuedAt: string;
  pdfSha256: string;
  /** Present when the PDF was given to compare: whether its SHA-256 is the recorded one. */
  pdfMatches?: boolean;
}

// Crockford base32 without I, L, O, U: read off paper and typed without ambiguity.
const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const CODE_LENGTH = 16;

function randomBase32(length: number): string {
  let out = "";
  for (const b of randomBytes(length)) out += ALPHABET[b & 31];
  return out;
}

/**
 * コンビニ交付: the convenience-store kiosk. Card in the reader → the authentication PIN verified
 * on the card → the card signs the kiosk's challenge → signature, path and OCSP checked → the
 * resident found by the certificate → the document produced as a PDF, the issuance and its fee
 * recorded with an audit record in one transaction.
 *
 * The tamper check: every document carries its issue number and a random 16-character
 * verification code. `verifyDocument(issueNumber, code)` returns the recorded issuance with the
 * SHA-256 of the PDF as issued; whoever holds the PDF computes its SHA-256 (`sha256sum file.pdf`)
 * and compares. A PDF altered in any way no longer matches; a made-up document has no record.
 */
export class Kiosk {
  private readonly config: KioskConfig;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly challenges: Challenges,
    private readonly verifier: () => Verifier,
    private readonly registry: Registry,
    private readonly settings: KioskSettings,
    private readonly clock: Clock,
    private readonly pdfOptions: KioskPdfOptions = {},
  ) {
    this.config = checkKioskConfig({ ...DEFAULT_KIOSK_CONFIG, ...settings.kiosk });
  }

  /** The documents a municipality offers at the kiosk, with the fee per copy. */
  async documents(municipalityCode: string): Promise<KioskDocumentOffer[]> {
    const municipality = await this.registry.municipality(municipalityCode);
    return kioskOffersFor(this.config, municipality.code).map(({ id, nameJa, nameEn, feeYen }) => ({ id, nameJa, nameEn, feeYen }));
  }

  /** The service hours, for the kiosk's start screen. */
  hours(): KioskHours {
    return this.config.hours;
  }

  /** The most copies of one document a request may ask for. */
  maxCopies(): number {
    return this.config.maxCopies;
  }

  /** Whether the kiosk service is open at `at` (default now). */
  isOpen(at: Date = this.clock()): boolean {
    return isWithinHours(this.config.hours, at);
  }

  /** A challenge for a kiosk whose card reader is elsewhere (the terminal sends back the proof). */
  challenge(): Promise<IssuedChallenge> {
    this.requireOpen();
    return this.challenges.issue("kiosk");
  }

  /**
   * The whole kiosk flow with the card in `reader`. Refusal reasons: kiosk-closed, wrong-pin,
   * pin-blocked, revoked, on-hold, expired, not-registered, under-15, document-not-offered (and
   * the verifier's others); malformed input is invalid-input before the card is touched.
   */
  async issue(reader: CardReader, input: KioskIssueInput): Promise<{ issuance: KioskIssuance; pdf: Uint8Array }> {
    this.requireOpen();
    const request = this.checkRequest(input);
    const pin = checkFourDigitPin(input.pin);
    if (!pin.ok) throw new ServiceError("invalid-input", `pin: ${pin.message}`, "pin");
    const { id, challenge } = await this.challenges.issue("kiosk");
    let proof;
    try {
      proof = await holderProof(reader, "auth", pin.value, "kiosk", challenge);
    } catch (error) {
      throw kioskPinRefusal(error);
    }
    return this.issueWithProof({ challengeId: id, ...proof, ...request });
  }

  /** The server side: check the signed challenge (once, in time; signature, path, OCSP), then issue. */
  async issueWithProof(input: {
    challengeId: string;
    certificateDer: Uint8Array;
    signature: Uint8Array;
    document: string;
    copies?: number;
    kioskId?: string;
  }): Promise<{ issuance: KioskIssuance; pdf: Uint8Array }> {
    this.requireOpen();
    const request = this.checkRequest(input);
    const challenge = await this.challenges.consume(input.challengeId, "kiosk");
    const result = await this.verifier().verifyRawSignature({
      certificateDer: input.certificateDer,
      data: signedChallenge("kiosk", challenge),
      signature: input.signature,
      hash: "sha256",
      expectedType: "auth",
    });
    const serialHex = requireValid(result).certificate.serialHex.toUpperCase();
    await requireCardInUse(this.db, "auth", serialHex);
    const resident = await this.residentByAuthSerial(serialHex);
    const now = this.clock();
    if (!kioskEligibility({ birth: resident.birth, on: japanDateOf(now) }).eligible) {
      throw new ServiceError(
        "refused",
        "15歳未満の方はコンビニ交付を利用できません。市区町村の窓口で請求してください / residents under 15 cannot use convenience-store issuance: please ask at the municipal counter",
        "resident",
        { reason: "under-15" },
      );
    }
    const offers = kioskOffersFor(this.config, resident.municipality.code);
    const offer = offers.find((o) => o.id === request.document);
    if (!offer) {
      throw new ServiceError(
        "refused",
        `${resident.municipality.cityJa}ではこの証明書はコンビニ交付で取得できません（取得できるもの：${offers.map((o) => o.nameJa).join("、")}）/ ` +
          `${resident.municipality.cityRomaji} does not offer "${request.document}" at the kiosk (offered: ${offers.map((o) => o.id).join(", ")})`,
        "document",
        { reason: "document-not-offered" },
      );
    }
    return this.produce(resident, offer, request.copies, request.kioskId, serialHex, now);
  }

  /**
   * The tamper check: the recorded issuance for an issue number and its verification code
   * (hyphens and case ignored). Pass the PDF to have its SHA-256 compared too. An unknown
   * number and a wrong code are refused alike ("verification-failed"), so the check reveals
   * nothing about numbers one does not hold the code for.
   */
  async verifyDocument(issueNumber: string, verificationCode: string, pdf?: Uint8Array): Promise<KioskIssuanceRecord> {
    const failed = () =>
      new ServiceError(
        "refused",
        "交付番号または照合番号が一致しません / no issuance matches this issue number and verification code",
        "verification-code",
        { reason: "verification-failed" },
      );
    if (typeof issueNumber !== "string" || typeof verificationCode !== "string" || issueNumber.length > 40 || verificationCode.length > 40) throw failed();
    const code = normaliseCode(verificationCode);
    const row = await this.db
      .selectFrom("kiosk_issuances")
      .innerJoin("municipalities", "municipalities.code", "kiosk_issuances.municipality_code")
      .select([
        "kiosk_issuances.id",
        "kiosk_issuances.document",
        "kiosk_issuances.verification_code",
        "kiosk_issuances.pdf_sha256",
        "kiosk_issuances.issued_at",
        "municipalities.code",
        "municipalities.prefecture_ja",
        "municipalities.city_ja",
      ])
      .where("kiosk_issuances.id", "=", issueNumber.trim().toUpperCase())
      .executeTakeFirst();
    if (!row || !sameCode(row.verification_code, code)) throw failed();
    const kind: KioskDocumentKind | undefined = KIOSK_DOCUMENT_KINDS[row.document as KioskDocumentId];
    const record: KioskIssuanceRecord = {
      issueNumber: row.id,
      document: row.document as KioskDocumentId,
      documentNameJa: kind?.nameJa ?? row.document,
      documentNameEn: kind?.nameEn ?? row.document,
      municipality: { code: row.code, nameJa: `${row.prefecture_ja}${row.city_ja}` },
      issuedAt: row.issued_at,
      pdfSha256: row.pdf_sha256,
    };
    if (pdf) record.pdfMatches = sha256Hex(pdf) === row.pdf_sha256;
    return record;
  }

  /** Refuses (kiosk-closed, naming the hours) outside the service hours. */
  requireOpen(): void {
    if (this.isOpen()) return;
    throw new ServiceError("refused", closedMessage(this.config.hours), "time", { reason: "kiosk-closed" });
  }

  private checkRequest(input: { document: string; copies?: number; kioskId?: string }): { document: string; copies: number; kioskId: string } {
    if (typeof input.document !== "string" || !/^[a-z0-9-]{1,40}$/.test(input.document)) {
      throw new ServiceError("invalid-input", `document: a document code such as "juminhyo"`, "document");
    }
    const copies = input.copies ?? 1;
    if (!Number.isInteger(copies) || copies < 1 || copies > this.config.maxCopies) {
      throw new ServiceError("invalid-input", `copies: 1〜${this.config.maxCopies}通で指定してください / copies: from 1 to ${this.config.maxCopies}`, "copies");
    }
    const kioskId = input.kioskId ?? DEFAULT_KIOSK_TERMINAL;
    if (typeof kioskId !== "string" || !/^[A-Za-z0-9._-]{1,64}$/.test(kioskId)) {
      throw new ServiceError("invalid-input", "kiosk: a terminal id (letters, digits, . _ -)", "kiosk");
    }
    return { document: input.document, copies, kioskId };
  }

  /** The resident an authentication certificate was issued to, if they are still registered. */
  private async residentByAuthSerial(serialHex: string): Promise<Resident> {
    const row = await this.db
      .selectFrom("certificates")
      .select("resident_id")
      .where("ca_type", "=", "auth")
      .where("serial_hex", "=", serialHex)
      .executeTakeFirst();
    const resident = row ? await this.registry.get(row.resident_id) : undefined;
    if (!resident || resident.status !== "registered") {
      throw new ServiceError(
        "refused",
        "住民登録が確認できないため交付できません。市区町村の窓口へお問い合わせください / no registered resident for this card: please ask at the municipal counter",
        "resident",
        { reason: "not-registered" },
      );
    }
    if (resident.departureDate !== null) {
      // Spec §3 (コンビニ交付): not for someone who has filed to move out; the counter issues
      // what they need until the day of departure.
      throw new ServiceError(
        "refused",
        `転出の届出（${resident.departureDate}）がされているため、コンビニ交付は利用できません。市区町村の窓口で請求してください / ` +
          `a move out has been filed (departure ${resident.departureDate}), so convenience-store issuance is not available: please ask at the municipal counter`,
        "resident",
        { reason: "departure-filed" },
      );
    }
    return resident;
  }

  private async produce(
    resident: Resident,
    offer: KioskDocumentKind & { feeYen: number },
    copies: number,
    kioskId: string,
    serialHex: string,
    now: Date,
  ): Promise<{ issuance: KioskIssuance; pdf: Uint8Array }> {
    const id = `K${japanDateOf(now).replaceAll("-", "")}-${randomBase32(8)}`;
    const verificationCode = randomBase32(CODE_LENGTH);
    const feeYen = offer.feeYen * copies;
    const { renderKioskPdf } = await import("./kiosk-pdf.ts"); // lazily: see kiosk-pdf.ts
    const pdf = await renderKioskPdf(
      {
        document: offer,
        resident: {
          name: resident.name,
          address: resident.address,
          birth: resident.birth,
          gender: resident.gender,
          residentSince: japanDateOf(new Date(resident.createdAt)),
        },
        municipality: resident.municipality,
        issueNumber: id,
        verificationCode,
        issuedAt: now,
        kioskId,
        feeYen,
        copies,
        verifyUrl: `${this.settings.publicBaseUrl}/kiosk/verify`,
      },
      this.pdfOptions,
    );
    const pdfSha256 = sha256Hex(pdf);
    const issuance: KioskIssuance = {
      id,
      document: offer.id,
      documentNameJa: offer.nameJa,
      documentNameEn: offer.nameEn,
      municipalityCode: resident.municipality.code,
      copies,
      unitFeeYen: offer.feeYen,
      feeYen,
      verificationCode,
      issuedAt: now.toISOString(),
      kiosk: kioskId,
      pdfSha256,
    };
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto("kiosk_issuances")
        .values({
          id,
          resident_id: resident.id,
          municipality_code: issuance.municipalityCode,
          document: issuance.document,
          fee_yen: feeYen,
          kiosk: kioskId,
          verification_code: verificationCode,
          pdf_sha256: pdfSha256,
          issued_at: issuance.issuedAt,
        })
        .execute();
      await appendAudit(
        trx,
        { actor: "kiosk", terminal: kioskId },
        {
          action: "kiosk.issue",
          subject: resident.id,
          after: { issue: id, document: issuance.document, copies, feeYen, municipality: issuance.municipalityCode, certificate: `auth:${serialHex}`, pdfSha256 },
        },
        now,
      );
    });
    return { issuance, pdf };
  }
}

/** Open at `at` (JST): not on a closed day, and from `opens` up to (not including) `closes`. */
export function isWithinHours(hours: KioskHours, at: Date): boolean {
  const day = japanDateOf(at).slice(5); // MM-DD
  for (const { from, to } of hours.closedPeriods) {
    const closed = from <= to ? day >= from && day <= to : day >= from || day <= to;
    if (closed) return false;
  }
  const jst = new Date(at.getTime() + 9 * 3600_000);
  const time = `${String(jst.getUTCHours()).padStart(2, "0")}:${String(jst.getUTCMinutes()).padStart(2, "0")}`;
  return time >= hours.opens && time < hours.closes;
}

/**
 * The service hours in words, for the closed refusal and the kiosk's screens alike: "毎日6時30分から23時まで
 * （12月29日〜1月3日を除く）" / "06:30–23:00 JST every day except 29 Dec – 3 Jan".
 */
export function kioskHoursInWords(hours: KioskHours): { ja: string; en: string } {
  const jaTime = (t: string) => `${Number(t.slice(0, 2))}時${t.slice(3) === "00" ? "" : `${Number(t.slice(3))}分`}`;
  const jaDay = (d: string) => `${Number(d.slice(0, 2))}月${Number(d.slice(3))}日`;
  const enDay = (d: string) => `${Number(d.slice(3))} ${MONTHS_EN[Number(d.slice(0, 2)) - 1]}`;
  const periodsJa = hours.closedPeriods.map((p) => `${jaDay(p.from)}〜${jaDay(p.to)}`).join("、");
  const periodsEn = hours.closedPeriods.map((p) => `${enDay(p.from)} – ${enDay(p.to)}`).join(", ");
  return {
    ja: `毎日${jaTime(hours.opens)}から${jaTime(hours.closes)}まで${periodsJa ? `（${periodsJa}を除く）` : ""}`,
    en: `${hours.opens}–${hours.closes} JST every day${periodsEn ? ` except ${periodsEn}` : ""}`,
  };
}

const MONTHS_EN = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

function closedMessage(hours: KioskHours): string {
  const words = kioskHoursInWords(hours);
  return `ただいまコンビニ交付はご利用いただけません。利用時間は${words.ja}です / the kiosk service is closed: it is open ${words.en}`;
}

/** At a kiosk, a blocked authentication PIN cannot be reset: say where to go. */
function kioskPinRefusal(error: unknown): unknown {
  if (error instanceof ServiceError && error.reason === "pin-blocked") {
    return new ServiceError(
      "refused",
      "利用者証明用電子証明書の暗証番号がロックされています。コンビニでは解除できません。マイナンバーカードをお持ちのうえ、お住まいの市区町村の窓口で暗証番号の初期化をしてください / " +
        "the authentication PIN is blocked and cannot be reset at a kiosk: take your card to your municipality's counter to have it reset",
      "pin",
      { reason: "pin-blocked", cause: error },
    );
  }
  return error;
}

/** "0NB3WRZN2PW601JM" → "0NB3-WRZN-2PW6-01JM": the verification code as the PDF and the kiosk screen print it. */
export function groupCode(code: string): string {
  return code.match(/.{1,4}/g)?.join("-") ?? code;
}

function normaliseCode(code: string): string {
  return code.replace(/[\s-]/g, "").toUpperCase();
}

function sameCode(stored: string, given: string): boolean {
  const a = Buffer.from(stored, "utf8");
  const b = Buffer.from(given, "utf8");
  return a.length === b.length && timingSafeEqual(a, b);
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}
