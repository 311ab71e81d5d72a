import type { Kysely } from "kysely";
import type { Database } from "../../store/schema.ts";
import type { FeeSchedule } from "../../config/fees.ts";
import { addMonthsClamped, compareJapanDates, parseJapanDate, type JapanDate } from "../../rules/japan-date.ts";
import { ServiceError } from "../errors.ts";
import { inputErrorAs } from "../input-errors.ts";

/** Why a card is reissued (再交付). */
export type ReissueReason = "loss" | "theft" | "damage" | "malfunction" | "other";
export const REISSUE_REASONS: readonly ReissueReason[] = ["loss", "theft", "damage", "malfunction", "other"];

/** What a procedure costs and why; recorded with the application and in the day's fee records. */
export interface FeeDecision {
  amountYen: number;
  cardYen: number;
  certificatesYen: number;
  /** Stable: "first-issuance", "renewal", "reissue-holder-caused", "reissue-theft-police-report", … */
  reason: string;
}

/** A free procedure (first issuance, renewal, new issuance, PIN initialisation, …). */
export function freeFee(reason: string): FeeDecision {
  return { amountYen: 0, cardYen: 0, certificatesYen: 0, reason };
}

/**
 * The reissue fee (spec §2.6): charged — card plus certificates — when the holder caused the
 * loss or damage; free for reasons the holder did not cause (theft with a police report, a fault
 * of the card) and for a card within three months of its expiry.
 */
export function reissueFee(
  input: { reason: ReissueReason; causedByHolder: boolean; policeReportNumber?: string; oldCardExpires: JapanDate; today: JapanDate; withCertificates: boolean },
  schedule: FeeSchedule,
): FeeDecision {
  if (typeof input.causedByHolder !== "boolean") throw new ServiceError("invalid-input", "causedByHolder: true or false", "causedByHolder");
  if (input.reason === "theft" && !input.causedByHolder && !input.policeReportNumber?.trim()) {
    throw new ServiceError("invalid-input", "policeReportNumber: 盗難の場合は警察の受理番号が必要です / theft needs the police report's number", "policeReportNumber", { reason: "police-report-required" });
  }
  if (compareJapanDates(input.today, addMonthsClamped(input.oldCardExpires, -schedule.freeWithinMonthsOfExpiry)) >= 0) return freeFee("reissue-near-expiry");
  if (!input.causedByHolder) {
    if (input.reason === "theft") return freeFee("reissue-theft-police-report");
    if (input.reason === "malfunction") return freeFee("reissue-card-fault");
    return freeFee("reissue-not-holder-caused");
  }
  const cardYen = schedule.reissueCardYen;
  const certificatesYen = input.withCertificates ? schedule.reissueCertificatesYen : 0;
  return { amountYen: cardYen + certificatesYen, cardYen, certificatesYen, reason: "reissue-holder-caused" };
}

export interface FeeSummary {
  date: JapanDate;
  office: string | null;
  totalYen: number;
  /** Procedures recorded that day (free ones included). */
  count: number;
  charged: number;
  free: number;
  byOffice: { office: string | null; totalYen: number; count: number; charged: number }[];
  byReason: { reason: string; totalYen: number; count: number }[];
  records: { id: string; applicationId: string; office: string | null; kind: string; reason: string; cardYen: number; certificatesYen: number; amountYen: number; recordedBy: string; recordedAt: string }[];
}

/** The day's fees (a Japan date), for one office or all of them. */
export async function feeSummary(db: Kysely<Database>, input: { date: string; office?: string }): Promise<FeeSummary> {
  let date: JapanDate;
  try {
    date = parseJapanDate(input.date, "date");
  } catch (error) {
    throw inputErrorAs(error, "invalid-input", "date");
  }
  if (input.office !== undefined) {
    const office = await db.selectFrom("offices").select("id").where("id", "=", input.office).executeTakeFirst();
    if (!office) throw new ServiceError("invalid-input", `office: 窓口 ${input.office} はありません / unknown office ${input.office}`, "office");
  }
  let query = db.selectFrom("fee_records").selectAll().where("fee_date", "=", date).orderBy("recorded_at").orderBy("id");
  if (input.office !== undefined) query = query.where("office_id", "=", input.office);
  const rows = await query.execute();
  const records = rows.map((r) => ({
    id: r.id,
    applicationId: r.application_id,
    office: r.office_id,
    kind: r.kind,
    reason: r.reason,
    cardYen: Number(r.card_yen),
    certificatesYen: Number(r.certificates_yen),
    amountYen: Number(r.amount_yen),
    recordedBy: r.recorded_by,
    recordedAt: r.recorded_at,
  }));
  const byOffice = new Map<string | null, { office: string | null; totalYen: number; count: number; charged: number }>();
  const byReason = new Map<string, { reason: string; totalYen: number; count: number }>();
  for (const r of records) {
    const o = byOffice.get(r.office) ?? { office: r.office, totalYen: 0, count: 0, charged: 0 };
    o.totalYen += r.amountYen;
    o.count++;
    if (r.amountYen > 0) o.charged++;
    byOffice.set(r.office, o);
    const x = byReason.get(r.reason) ?? { reason: r.reason, totalYen: 0, count: 0 };
    x.totalYen += r.amountYen;
    x.count++;
    byReason.set(r.reason, x);
  }
  const charged = records.filter((r) => r.amountYen > 0).length;
  return {
    date,
    office: input.office ?? null,
    totalYen: records.reduce((a, r) => a + r.amountYen, 0),
    count: records.length,
    charged,
    free: records.length - charged,
    byOffice: [...byOffice.values()].sort((a, b) => String(a.office).localeCompare(String(b.office))),
    byReason: [...byReason.values()].sort((a, b) => a.reason.localeCompare(b.reason)),
    records,
  };
}
