import type { Kysely } from "kysely";
import type { Database } from "../../store/schema.ts";
import type { Municipality } from "../../config/municipalities.ts";
import { MACHIDA_CONTACT } from "../../config/offices.ts";
import { addDays, addMonthsClamped, compareJapanDates, parseJapanDate, type JapanDate } from "../../rules/japan-date.ts";
import { renewalFrom } from "../../rules/validity.ts";
import type { CaType } from "../../pki/jpki-profile.ts";
import type { Registry } from "../registry.ts";
import type { Clock } from "../clock.ts";
import { ServiceError } from "../errors.ts";
import { inputErrorAs } from "../input-errors.ts";
import { appendAudit, type Actor } from "../audit.ts";
import { checkCardId } from "../ids.ts";
import type { NoticePdfOptions, Sender } from "./notices-pdf.ts";

export interface NoticeDeps {
  db: Kysely<Database>;
  registry: Registry;
  clock: Clock;
}

/** The sender printed on a notice: the resident's municipality, the office, and its contact. */
export async function senderFor(db: Kysely<Database>, officeId: string | null, municipality: Municipality): Promise<Sender> {
  // The staff member's office names the sender only for its own municipality's residents.
  const office = officeId
    ? await db.selectFrom("offices").selectAll().where("id", "=", officeId).where("municipality_code", "=", municipality.code).executeTakeFirst()
    : undefined;
  const machida = municipality.code === "132098";
  return {
    municipalityJa: `${municipality.prefectureJa}${municipality.cityJa}`,
    officeJa: office?.name_ja ?? (machida ? "マイナンバーカードセンター" : `${municipality.cityJa}役所`),
    contactJa: machida ? MACHIDA_CONTACT.nameJa : `${municipality.cityJa} 窓口`,
    phone: machida ? MACHIDA_CONTACT.phone : (office?.phone ?? null),
    fax: machida ? MACHIDA_CONTACT.fax : null,
  };
}

/**
 * The 交付通知書 for a card: ready when the card is produced, addressed to the resident, with
 * the certificates' expiry dates where the card face shows them. Rendered on demand from the
 * card's record, dated the production day, so the same card gives the same document.
 */
export async function issuanceNotice(deps: NoticeDeps, cardId: string, actor: Actor, options: NoticePdfOptions = {}) {
  checkCardId(cardId);
  const card = await deps.db.selectFrom("cards").selectAll().where("id", "=", cardId).executeTakeFirst();
  if (!card) throw new ServiceError("not-found", `カード ${cardId} はありません / no card with id ${cardId}`, "card");
  if (card.status === "spoiled" || card.status === "producing") {
    throw new ServiceError("refused", `このカードの交付通知書はありません（${card.status}）/ card ${cardId} is ${card.status}: no notice`, "card", { reason: `card-${card.status}` });
  }
  const resident = await deps.registry.get(card.resident_id);
  const certs = await deps.db
    .selectFrom("certificates")
    .select(["ca_type", "expires", "status", "issued_at"])
    .where("card_id", "=", cardId)
    .orderBy("issued_at")
    .execute();
  // The certificates loaded at production (their issuance date is the production day).
  const loaded = certs.filter((c) => c.issued_at.length > 0 && c.status !== "revoked");
  const shown = (loaded.length > 0 ? loaded : certs).slice(0, 2);
  const byType = new Map<CaType, JapanDate>();
  for (const c of shown) byType.set(c.ca_type, c.expires);
  const { renderIssuanceNotice } = await import("./notices-pdf.ts"); // lazily: see kiosk-pdf.ts
  const pdf = await renderIssuanceNotice(
    {
      addressee: { name: resident.name, address: resident.address },
      sender: await senderFor(deps.db, actor.office ?? null, resident.municipality),
      cardId,
      producedDate: card.produced_date,
      cardExpires: card.expires,
      certificates: (["auth", "sign"] as const).filter((t) => byType.has(t)).map((t) => ({ type: t, expires: byType.get(t)! })),
      issuedAt: new Date(card.created_at),
    },
    options,
  );
  await deps.db.transaction().execute(async (trx) => {
    await appendAudit(trx, actor, { action: "notice.issuance.printed", subject: cardId, after: { resident: resident.id } }, deps.clock());
  });
  return { filename: `kofu-tsuchisho-${cardId}.pdf`, contentType: "application/pdf" as const, pdf };
}

export interface ExpiryNoticeRow {
  residentId: string;
  name: string;
  address: string;
  municipalityCode: string;
  cardId: string | null;
  certificates: { type: CaType; serialHex: string; expires: JapanDate; renewalFrom: JapanDate }[];
  earliestExpiry: JapanDate;
}

export interface ExpiryNoticeRun {
  from: JapanDate;
  /** Certificates expiring on or after this day … */
  windowStart: JapanDate;
  /** … and on or before this day (see {@link expiryNoticeWindow}). */
  windowEnd: JapanDate;
  residents: ExpiryNoticeRow[];
}

/**
 * The expiry days a run on `from` covers (spec §2.1: J-LIS mails the notice 2–3 months before
 * expiry). The rule: monthly runs on the same day of the month — for the 29th to 31st, that day,
 * or the month's last day in a month without it — cover every expiry day exactly once, with no
 * day in two runs and none left out.
 *
 * A run's window starts three months after the previous month's run (`from` one month back,
 * clamped to that month's last day) and ends the day before the next month's run's window starts:
 * - on the 1st–28th, that is from `from` + 2 months to the day before `from` + 3 months;
 * - on the 29th–31st, the start's day of the month is at most the previous month's length: the
 *   run on 31 March starts on 28 May (29 May in a leap year), where the run on 28 February
 *   stopped; and a run whose next month is shorter ends where that month's run starts (31 January
 *   ends on 27 April, the day before the 28 February run's window).
 * Why not simply `from` + 2 months up to `from` + 3 months: 28 February is the run of the 28th,
 * 29th, 30th and 31st alike, so its one window must end where each of the runs on 28–31 March
 * starts. Those starts coincide, on the earliest (28 May), which keeps runs on the 28th exactly
 * two to three months ahead; `from` + 2 months clamped instead gave runs on the 29th–31st a day
 * or two twice (April, around February's run) and left a day or two out (May; for the 31st also
 * after each 30-day month).
 */
export function expiryNoticeWindow(from: JapanDate): { windowStart: JapanDate; windowEnd: JapanDate } {
  const startOf = (run: JapanDate) => addMonthsClamped(addMonthsClamped(run, -1), 3);
  return { windowStart: startOf(from), windowEnd: addDays(startOf(addMonthsClamped(from, 1)), -1) };
}

/**
 * The 有効期限通知書 run: registered residents with a valid certificate expiring in the run's
 * window ({@link expiryNoticeWindow}). Read one expiry day at a time, each by an equality on the
 * certificates_expires (status, expires) index: no page re-reads or sorts what an earlier one
 * read, so the cost is linear in the window, and a certificate added, revoked or renewed while the
 * run reads is neither read twice nor makes another one be skipped (OFFSET pages did both). A day
 * is at most one day's expiries (≈110,000 nationally, far fewer for one municipality), and the run
 * keeps its whole window in memory anyway. A keyset over (expires, ca_type, serial_hex) would
 * need an index on all four, which PostgreSQL cannot deduplicate: ≈10× the (status, expires)
 * index, ≈14 GB more at 200 M certificates, for a monthly job. `onProgress` hears how many
 * certificates have been read, after each day.
 */
export async function expiryNoticeRun(
  deps: NoticeDeps,
  input: { from: string; municipality?: string; onProgress?: (read: number) => void },
): Promise<ExpiryNoticeRun> {
  let from: JapanDate;
  let windowStart: JapanDate;
  let windowEnd: JapanDate;
  try {
    from = parseJapanDate(input.from, "from");
    // Inside the check too: a date near 9999-12-31 (or in 0001-01) has no window.
    ({ windowStart, windowEnd } = expiryNoticeWindow(from));
  } catch (error) {
    throw inputErrorAs(error, "invalid-input", "from");
  }
  const byResident = new Map<string, ExpiryNoticeRow>();
  let read = 0;
  for (let day = windowStart; compareJapanDates(day, windowEnd) <= 0; day = addDays(day, 1)) {
    let query = deps.db
      .selectFrom("certificates")
      .innerJoin("residents", "residents.id", "certificates.resident_id")
      .select([
        "certificates.ca_type",
        "certificates.serial_hex",
        "certificates.expires",
        "certificates.card_id",
        "residents.id as resident_id",
        "residents.name",
        "residents.address",
        "residents.municipality_code",
      ])
      .where("certificates.status", "=", "valid")
      .where("certificates.expires", "=", day)
      .where("residents.status", "=", "registered");
    if (input.municipality) query = query.where("residents.municipality_code", "=", input.municipality);
    const rows = await query.execute();
    for (const r of rows) {
      const row = byResident.get(r.resident_id) ?? {
        residentId: r.resident_id,
        name: r.name,
        address: r.address,
        municipalityCode: r.municipality_code,
        cardId: r.card_id,
        certificates: [],
        earliestExpiry: r.expires,
      };
      row.certificates.push({ type: r.ca_type, serialHex: r.serial_hex, expires: r.expires, renewalFrom: renewalFrom(r.expires) });
      if (r.expires < row.earliestExpiry) row.earliestExpiry = r.expires;
      row.cardId ??= r.card_id;
      byResident.set(r.resident_id, row);
    }
    read += rows.length;
    input.onProgress?.(read);
  }
  // A resident's certificates in type order, as the notice and the CSV list them (the days are read in expiry order).
  for (const row of byResident.values()) row.certificates.sort((a, b) => a.type.localeCompare(b.type) || a.serialHex.localeCompare(b.serialHex));
  const residents = [...byResident.values()].sort((a, b) => a.earliestExpiry.localeCompare(b.earliestExpiry) || a.residentId.localeCompare(b.residentId));
  return { from, windowStart, windowEnd, residents };
}

/** CSV (RFC 4180, UTF-8 with a BOM so spreadsheet software in Japan opens it as UTF-8). */
export function expiryNoticesCsv(run: ExpiryNoticeRun): string {
  const header = ["resident_id", "name", "address", "municipality_code", "card_id", "auth_expires", "sign_expires", "earliest_expires", "renewal_from"];
  const lines = [header.join(",")];
  for (const r of run.residents) {
    const auth = r.certificates.find((c) => c.type === "auth")?.expires ?? "";
    const sign = r.certificates.find((c) => c.type === "sign")?.expires ?? "";
    lines.push([r.residentId, r.name, r.address, r.municipalityCode, r.cardId ?? "", auth, sign, r.earliestExpiry, renewalFrom(r.earliestExpiry)].map(csvField).join(","));
  }
  return `\uFEFF${lines.join("\r\n")}\r\n`;
}

/**
 * One CSV cell. A value a spreadsheet would run as a formula (= + - @, or a tab or CR first: a
 * resident's name or address can be anything the register accepts) is kept as text with a
 * leading apostrophe, as OWASP's CSV-injection advice says.
 */
function csvField(value: string): string {
  const text = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/**
 * How many notices one PDF answer over HTTP may hold: a month of expiries in a large town is
 * thousands of pages, rendered in one request. Larger runs are narrowed by municipality, or made
 * with the CLI (`openjpki counter expiry-notices --format pdf`, with a progress bar).
 */
export const EXPIRY_NOTICES_PDF_LIMIT = 3000;

/** The run as one PDF, one 有効期限通知書 per resident (a page each, more for a long list of certificates). */
export async function expiryNoticesPdf(
  deps: NoticeDeps,
  run: ExpiryNoticeRun,
  actor: Actor,
  options: NoticePdfOptions & { onPage?: (done: number) => void; maxNotices?: number } = {},
): Promise<Uint8Array> {
  if (options.maxNotices !== undefined && run.residents.length > options.maxNotices) {
    throw new ServiceError(
      "refused",
      `この期間の有効期限通知書は ${run.residents.length} 件あり、一度に作成できるのは ${options.maxNotices} 件までです。市区町村で絞るか、CLI（openjpki counter expiry-notices --format pdf）で作成してください / ` +
        `this run has ${run.residents.length} notices, over the ${options.maxNotices} one PDF answer may hold: narrow it by municipality, or make it with the CLI (openjpki counter expiry-notices --format pdf)`,
      "from",
      { reason: "run-too-large" },
    );
  }
  // Each notice is signed by the addressee's own municipality: a run over several municipalities
  // (no municipality filter) must not send one town's residents a letter from another's mayor.
  const senders = new Map<string, Sender>();
  const entries = [];
  for (const r of run.residents) {
    if (!senders.has(r.municipalityCode)) senders.set(r.municipalityCode, await senderFor(deps.db, actor.office ?? null, await deps.registry.municipality(r.municipalityCode)));
    entries.push({ addressee: { name: r.name, address: r.address }, residentId: r.residentId, cardId: r.cardId, certificates: r.certificates.map((c) => ({ type: c.type, expires: c.expires, renewalFrom: c.renewalFrom })), sender: senders.get(r.municipalityCode)! });
  }
  // The run's own sender, for its cover: the first notice's, or (an empty run) the default town's.
  const runSender = senders.values().next().value ?? (await senderFor(deps.db, actor.office ?? null, await deps.registry.municipality("132098")));
  const { renderExpiryNotices } = await import("./notices-pdf.ts"); // lazily: see kiosk-pdf.ts
  const pdf = await renderExpiryNotices(
    { sender: runSender, entries, runDate: run.from, issuedAt: deps.clock(), ...(options.onPage ? { onPage: options.onPage } : {}) },
    options.fontPath ? { fontPath: options.fontPath } : {},
  );
  await deps.db.transaction().execute(async (trx) => {
    await appendAudit(trx, actor, { action: "notice.expiry.run", subject: `expiry:${run.from}`, after: { windowStart: run.windowStart, windowEnd: run.windowEnd, residents: run.residents.length } }, deps.clock());
  });
  return pdf;
}
