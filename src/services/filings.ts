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
  verification: VerificationResult;
  submittedAt: string;
  /** Size and SHA-256 (hex) of the document as received; null for filings stored before they were kept. */
  received: { bytes: number; sha256: string } | null;
}

const MAX_DOCUMENT = 256 * 1024;

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

  async submit(input: { format: "xml" | "cms"; document: Uint8Array; content?: Uint8Array }): Promise<Filing> {
    if (input.document.length === 0 || input.document.length > MAX_DOCUMENT) {
      throw new ServiceError("invalid-input", `document: 1 byte to ${MAX_DOCUMENT / 1024} KiB`, "document");
    }
    const verification =
      input.format === "xml"
        ? // TextDecoder drops a leading BOM (Windows tools write one), as the CLI reading a file does.
          await this.verifier().verifyXml(new TextDecoder().decode(input.document), { expectedType: "sign" })
        : await this.verifier().verifyCms(input.document, { expectedType: "sign", ...(input.content ? { content: input.content } : {}) });
    const row: FilingTable = {
      id: `F-${randomBytes(6).toString("hex").toUpperCase()}`,
      format: input.format,
      document: verification.valid ? input.document : new Uint8Array(0),
      status: verification.valid ? "accepted" : "refused",
      reason: verification.valid ? null : verification.code,
      signer_serial: verification.valid ? verification.certificate.serialHex.toUpperCase() : clip(verification.certificate?.serialHex.toUpperCase() ?? null),
      verification: JSON.stringify(verification.valid ? withoutContent(verification) : bounded(verification)),
      submitted_at: this.clock().toISOString(),
      received_bytes: input.document.length,
      received_sha256: createHash("sha256").update(input.document).digest("hex"),
    };
    await this.db.insertInto("filings").values(row).execute();
    return toFiling(row);
  }

  async get(id: string): Promise<Filing & { document: Uint8Array }> {
    const row = await this.db.selectFrom("filings").selectAll().where("id", "=", id).executeTakeFirst();
    if (!row) throw new ServiceError("not-found", `no filing with id ${id}`, "id");
    return { ...toFiling(row), document: bytes(row.document) };
  }

  async list(limit = 50): Promise<Filing[]> {
    const rows = await this.db.selectFrom("filings").selectAll().orderBy("submitted_at", "desc").limit(Math.min(limit, 500)).execute();
    return rows.map(toFiling);
  }
}

function withoutContent(result: VerificationResult): unknown {
  if (!result.valid) return result;
  const { content: _content, ...rest } = result;
  return rest;
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
