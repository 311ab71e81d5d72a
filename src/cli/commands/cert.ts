import { X509Certificate } from "node:crypto";
import { REVOCATION_REASON_CODE, REVOCATION_REASON_MEANING, type RevocationReason } from "../../services/vocabulary.ts";
import { startOfJapanDayOf } from "../../services/japan-dates.ts";
import type { CertificateRecord } from "../../services/certificate-authority.ts";
import { withContext } from "../open-context.ts";
import { type Command, CliError, json, oneOf, optionalString, requireString } from "../command.ts";

const TYPES = ["sign", "auth"] as const;
const REASONS = Object.keys(REVOCATION_REASON_CODE) as RevocationReason[];
const CAUSES = ["counter", "hotline", "operator"] as const;
const STATUS_JA = { valid: "有効", revoked: "失効", hold: "一時保留" } as const;

function serialOf(values: Record<string, unknown>): string {
  const serial = requireString(values as never, "serial").replace(/[:\s]/g, "").toUpperCase();
  if (!/^[0-9A-F]{1,40}$/.test(serial)) throw new CliError(`--serial must be hexadecimal (up to 20 bytes), not ${JSON.stringify(serial)}`, 2);
  return serial;
}

function describe(record: CertificateRecord): string {
  const lines = [
    `${record.type === "sign" ? "署名用電子証明書" : "利用者証明用電子証明書"} ${record.serialHex}`,
    `  状態 / status:  ${STATUS_JA[record.status]} (${record.status})`,
    `  有効期限 / expires: ${record.expires}`,
    `  住民 / resident: ${record.residentId}`,
  ];
  if (record.revocationReason) {
    const meaning = REVOCATION_REASON_MEANING[record.revocationReason];
    lines.push(
      `  理由 / reason:  ${record.revocationReason} (${REVOCATION_REASON_CODE[record.revocationReason]}) — ${meaning.ja} / ${meaning.en}`,
      `  日時 / at:      ${record.revokedAt}${record.invalidityDate ? `, 無効となった日時 / invalid since ${record.invalidityDate}` : ""}`,
      `  原因 / by:      ${record.revokedBy}`,
    );
  }
  return `${lines.join("\n")}\n`;
}

function publicRecord(record: CertificateRecord) {
  const { der: _der, ...rest } = record;
  return { id: record.serialHex, ...rest, subject: new X509Certificate(record.der).subject.replace(/\n/g, ", ") };
}

export const certRevoke: Command = {
  path: ["cert", "revoke"],
  summary: "証明書を失効・一時保留 / revoke a certificate or put it on hold",
  usage: `--type sign|auth --serial HEX --reason R [--invalidity-date D] [--by ${CAUSES.join("|")}] [--json]`,
  help: [
    "  --type sign|auth      which CA issued it",
    "  --serial HEX          the certificate's serial number",
    `  --reason R            one of: ${REASONS.join(", ")}`,
    ...REASONS.map((r) => `                          ${r}: ${REVOCATION_REASON_MEANING[r].ja} / ${REVOCATION_REASON_MEANING[r].en}`),
    "  --invalidity-date D   when the key is known or suspected to have become unsafe (date or instant)",
    "  --by WHO              what caused it: counter (窓口), hotline (コールセンター) or operator (default)",
  ],
  options: {
    type: { type: "string" },
    serial: { type: "string" },
    reason: { type: "string" },
    "invalidity-date": { type: "string" },
    by: { type: "string" },
  },
  async run(values, io) {
    const type = oneOf(values, "type", TYPES);
    const serialHex = serialOf(values);
    const reason = oneOf(values, "reason", REASONS);
    const by = values.by === undefined ? "operator" : oneOf(values, "by", CAUSES);
    const invalidity = optionalString(values, "invalidity-date");
    // startOfJapanDayOf checks the text either way: a real date, and an instant with Z or an offset
    // (Date would read "…T10:00:00" in the machine's time zone, and roll 02-30 over to March).
    const startOfDay = invalidity ? startOfJapanDayOf(invalidity, "invalidity-date") : undefined;
    const invalidityDate = invalidity ? (invalidity.includes("T") ? new Date(invalidity) : startOfDay) : undefined;
    const record = await withContext(values, io, async (ctx) => {
      await ctx.ca.revoke({ type, serialHex, reason, by, ...(invalidityDate ? { invalidityDate } : {}) });
      return ctx.ca.certificate(type, serialHex);
    });
    if (values.json) return json(io, publicRecord(record));
    io.stdout(describe(record));
  },
};

export const certStatus: Command = {
  path: ["cert", "status"],
  summary: "証明書の状態 / show a certificate's status",
  usage: "--type sign|auth --serial HEX [--json]",
  help: ["  --type sign|auth      which CA issued it", "  --serial HEX          the certificate's serial number"],
  options: { type: { type: "string" }, serial: { type: "string" } },
  async run(values, io) {
    const type = oneOf(values, "type", TYPES);
    const serialHex = serialOf(values);
    const record = await withContext(values, io, (ctx) => ctx.ca.certificate(type, serialHex));
    if (values.json) return json(io, publicRecord(record));
    io.stdout(describe(record));
  },
};
