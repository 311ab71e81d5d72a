import { createHash, randomBytes } from "node:crypto";
import type { Kysely } from "kysely";
import type { Database, FilingTable } from "../store/schema.ts";
import { bytes } from "../store/database.ts";
import type { InvalidResult, VerificationResult, Verifier } from "../verify/index.ts";
import { ServiceError } from "./errors.ts";
import type { Clock } from "./clock.ts";

export interface Filing {
  id: string;
  format: FilingTable["format"];
  status: FilingTable["status"];
  reason: string | null;
  signerSerial: string | null;
  /**
   * What the verifier said, as recorded: an accepted filing's result without its bytes (`content`,
   * `signature.value`), which the stored document holds; a refusal with long strings cut.
   */
  verification: VerificationResult;
  submittedAt: string;
  /** Size and SHA-256 (hex) of the document as received; null for filings stored before they were kept. */
  received: { bytes: number; sha256: string } | null;
}

/** Largest document or detached content, in bytes. */
export const MAX_DOCUMENT = 256 * 1024;
const MAX_LIST = 500;

/**
 * The e-Tax-style demo relying party: a signed return (enveloped XML signature or CMS) is
 * verified with the relying-party library — signature, path to the signing root, OCSP — and
 * stored with what the verifier saw. A refused filing is recorded too, but small: its time,
 * reason, what the verifier said (long strings cut) and the size and SHA-256 of what was
 * received — never the document, since anyone may send one without logging in.
 */
export class Filings {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly verifier: () => Verifier,
    private readonly clock: Clock,
  ) {}

  /**
   * Verifies and records a filing. The same signature filed again (a retry, or a replay by anyone
   * who saw the document) records nothing new: the answer is the filing first accepted, marked
   * `duplicate`. An accepted filing's id is derived from its signature value, so the store's
   * primary key keeps this true for parallel submissions and several servers too.
   */
  async submit(input: { format: "xml" | "cms"; document: Uint8Array; content?: Uint8Array }): Promise<Filing & { duplicate?: true }> {
    if (input.document.length === 0 || input.document.length > MAX_DOCUMENT) {
      throw new ServiceError("invalid-input", `document: 1バイトから${MAX_DOCUMENT / 1024}KiBまでです / document: 1 byte to ${MAX_DOCUMENT / 1024} KiB`, "document");
    }
    if (input.content !== undefined) {
      if (input.format !== "cms") {
        throw new ServiceError("invalid-input", "content: XML の申告には指定できません（CMS の分離署名の内容だけです）/ content: only for a detached CMS signature, not for XML", "content");
      }
      if (input.content.length === 0 || input.content.length > MAX_DOCUMENT) {
        throw new ServiceError("invalid-input", `content: 1バイトから${MAX_DOCUMENT / 1024}KiBまでです / content: 1 byte to ${MAX_DOCUMENT / 1024} KiB`, "content");
      }
    }
    // The verifier refuses what the signature does not cover (a processing instruction beside the
    // root, an XML declaration naming another encoding than UTF-8) and a CMS signingTime outside the
    // certificate's validity; such a filing is recorded as refused, like any other.
    const verification =
      input.format === "xml"
        ? await this.verifier().verifyXml(xmlText(input.document), { expectedType: "sign" })
        : await this.verifier().verifyCms(input.document, { expectedType: "sign", ...(input.content ? { content: input.content } : {}) });
    const signatureValue = verification.valid ? verification.signature?.value : undefined;
    if (verification.valid && !signatureValue) throw new Error("a verified filing without its signature value");
    const row: FilingTable = {
      id: signatureValue ? acceptedId(signatureValue) : `F-${randomBytes(6).toString("hex").toUpperCase()}`,
      format: input.format,
      document: verification.valid ? input.document : new Uint8Array(0),
      status: verification.valid ? "accepted" : "refused",
      reason: verification.valid ? null : verification.code,
      signer_serial: verification.valid ? verification.certificate.serialHex.toUpperCase() : clip(verification.certificate?.serialHex.toUpperCase() ?? null),
      verification: JSON.stringify(verification.valid ? withoutBytes(verification) : bounded(verification)),
      submitted_at: this.clock().toISOString(),
      received_bytes: input.document.length,
      received_sha256: createHash("sha256").update(input.document).digest("hex"),
      content: verification.valid && input.content ? input.content : null,
    };
    if (row.status === "accepted") {
      const inserted = await this.db.insertInto("filings").values(row).onConflict((oc) => oc.column("id").doNothing()).executeTakeFirst();
      if (Number(inserted.numInsertedOrUpdatedRows ?? 0n) === 0) {
        const { document: _document, content: _content, ...first } = await this.get(row.id);
        return { ...first, duplicate: true };
      }
    } else {
      await this.db.insertInto("filings").values(row).execute();
    }
    return toFiling(row);
  }

  /** A filing with what was stored of it: the signed document, and a detached CMS filing's content. */
  async get(id: string): Promise<Filing & { document: Uint8Array; content?: Uint8Array }> {
    const row = await this.db.selectFrom("filings").selectAll().where("id", "=", id).executeTakeFirst();
    if (!row) throw new ServiceError("not-found", `申告 ${clip(id)} はありません / no filing with id ${clip(id)}`, "id");
    return { ...toFiling(row), document: bytes(row.document), ...(row.content ? { content: bytes(row.content) } : {}) };
  }

  /** The newest `limit` filings (1–500). */
  async list(limit = 50): Promise<Filing[]> {
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST) {
      throw new ServiceError("invalid-input", `limit: 1から${MAX_LIST}までの整数です / limit: a whole number from 1 to ${MAX_LIST}`, "limit");
    }
    const rows = await this.db.selectFrom("filings").selectAll().orderBy("submitted_at", "desc").orderBy("id", "desc").limit(limit).execute();
    return rows.map(toFiling);
  }
}

/**
 * An XML filing's text. It must be UTF-8 (a leading BOM is read past): bytes that are not would be
 * stored as received while U+FFFD was verified in their place. (The verifier takes text, so this
 * is checked here; it refuses a declaration naming another encoding itself.)
 */
function xmlText(document: Uint8Array): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(document);
  } catch {
    throw new ServiceError("invalid-input", "document: UTF-8 として読めません / document: not UTF-8", "document");
  }
}

/** An accepted filing's id: 96 bits of the SHA-256 of its signature value (the same signature, the same filing). */
function acceptedId(signatureValue: Uint8Array): string {
  const hash = createHash("sha256").update("openjpki filing\0").update(signatureValue).digest("hex");
  return `F-${hash.slice(0, 24).toUpperCase()}`;
}

/**
 * An accepted filing's result as recorded: without the bytes (the content, the signature value),
 * which the stored document holds and which JSON would spell out byte by byte.
 */
function withoutBytes(result: VerificationResult): unknown {
  if (!result.valid) return result;
  const { content: _content, signature, ...rest } = result;
  if (!signature) return rest;
  const { value: _value, ...described } = signature;
  return { ...rest, signature: described };
}

/** Longest string a refusal's record keeps: a refused document's certificate may carry any subject. */
const MAX_RECORDED_STRING = 512;

function clip<T extends string | null>(text: T): T {
  return (text !== null && text.length > MAX_RECORDED_STRING ? `${text.slice(0, MAX_RECORDED_STRING)}…` : text) as T;
}

/** A refusal as recorded: what the verifier said, with strings cut and nesting and lists limited. */
function bounded(result: InvalidResult): unknown {
  const walk = (value: unknown, depth: number): unknown => {
    if (typeof value === "string") return clip(value);
    if (value === null || typeof value !== "object") return value;
    if (depth >= 4) return "…";
    if (Array.isArray(value)) return value.slice(0, 16).map((v) => walk(v, depth + 1));
    return Object.fromEntries(Object.entries(value).slice(0, 32).map(([k, v]) => [clip(k), walk(v, depth + 1)]));
  };
  return walk(result, 0);
}

function toFiling(row: FilingTable): Filing {
  return {
    id: row.id,
    format: row.format,
    status: row.status,
    reason: row.reason,
    signerSerial: row.signer_serial,
    verification: JSON.parse(row.verification) as VerificationResult,
    submittedAt: row.submitted_at,
    received: row.received_sha256 === null || row.received_bytes === null ? null : { bytes: Number(row.received_bytes), sha256: row.received_sha256 },
  };
}
