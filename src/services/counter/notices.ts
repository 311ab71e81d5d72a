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

/** A run's date and the expiry days it covers. */
export interface ExpiryNoticeDates {
  from: JapanDate;
  /** Certificates expiring on or after this day … */
  windowStart: JapanDate;
  /** … and on or before this day (see {@link expiryNoticeWindow}). */
  windowEnd: JapanDate;
}

export interface ExpiryNoticeRun extends ExpiryNoticeDates {
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

/** What a run reads: the run's date, and optionally one municipality's residents only. */
export interface ExpiryNoticeInput {
  from: string;
  municipality?: string;
  /** Hears how many certificates have been read so far, after each expiry day. */
  onProgress?: (read: number) => void;
}

/** The run's date and window, `from` checked: a date that is not one, or has no window, is the caller's `from` mistake. */
export function expiryNoticeDates(from: string): ExpiryNoticeDates {
  try {
    const day = parseJapanDate(from, "from");
    // Inside the check too: a date near 9999-12-31 (or in 0001-01) has no window.
    return { from: day, ...expiryNoticeWindow(day) };
  } catch (error) {
    throw inputErrorAs(error, "invalid-input", "from");
  }
}

/**
 * The 有効期限通知書 run, as it is read: registered residents with a valid certificate expiring
 * in the run's window ({@link expiryNoticeWindow}), each once with all its valid certificates in
 * the window. Rows come in the order they are listed: by the expiry day read, then resident id.
 * That is the order of their earliest expiry, but for one case: a resident whose earlier
 * certificate was on hold when its day was read, and valid again by a later day's, is listed on
 * that later day, with the earlier certificate and its earliestExpiry.
 *
 * Read one expiry day at a time, each by an equality on the certificates_expires (status, expires)
 * index: no page re-reads or sorts what an earlier one read, so the cost is linear in the window,
 * and a certificate added, revoked or renewed while the run reads is neither read twice nor makes
 * another one be skipped (OFFSET pages did both). A keyset over (expires, ca_type, serial_hex)
 * would need an index on all four, which PostgreSQL cannot deduplicate: ≈10× the (status, expires)
 * index, ≈14 GB more at 200 M certificates, for a monthly job.
 *
 * Memory is bounded by one day, and the residents pending: a day's rows are yielded before the
 * next day is read (a day is at most one day's expiries, ≈110,000 nationally, far fewer for one
 * municipality), so a national month (≈3.3 M certificates) can be written out as it is read. A
 * resident is listed on the first day read that finds it, with its other valid certificates in
 * the window, looked up together for the day's residents (by the certificates_resident index).
 * Whether it was listed already is what this run remembers, not what the register says now (a
 * certificate held, lifted or revoked while the run reads would list it twice, or never): a
 * resident listed with a certificate on a later day is kept until that day is read ({@link
 * ListedUntil}). Both certificates normally expire on the same birthday, so that is rarely many.
 *
 * The `from` check is made on the first read; {@link expiryNoticeDates} makes it beforehand.
 */
export async function* expiryNoticeRows(deps: NoticeDeps, input: ExpiryNoticeInput): AsyncGenerator<ExpiryNoticeRow, void, undefined> {
  const window = expiryNoticeDates(input.from);
  const listed: ListedUntil = new Map();
  let read = 0;
  for (let day = window.windowStart; compareJapanDates(day, window.windowEnd) <= 0; day = addDays(day, 1)) {
    forgetListedBefore(listed, day);
    const expiring = await certificatesExpiringOn(deps.db, day, input.municipality);
    read += expiring.length;
    const rows = await residentsListedOn(deps.db, day, expiring, window, listed);
    input.onProgress?.(read);
    yield* rows;
  }
}

/** A valid certificate expiring on the day read, with its registered holder. */
type ExpiringCertificate = Awaited<ReturnType<typeof certificatesExpiringOn>>[number];

/**
 * The certificates a run lists, whatever their expiry: valid, of a registered resident (of
 * `municipality`, when one is given). The day's read and the page's count both start here, so
 * the count is of the residents the run lists.
 */
function listedCertificates(db: Kysely<Database>, municipality: string | undefined) {
  const query = db
    .selectFrom("certificates")
    .innerJoin("residents", "residents.id", "certificates.resident_id")
    .where("certificates.status", "=", "valid")
    .where("residents.status", "=", "registered");
  return municipality ? query.where("residents.municipality_code", "=", municipality) : query;
}

async function certificatesExpiringOn(db: Kysely<Database>, day: JapanDate, municipality: string | undefined) {
  return listedCertificates(db, municipality)
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
    .where("certificates.expires", "=", day)
    .execute();
}

function pushTo<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/** Residents per query looking up other certificates: few enough parameters for either store, many enough to be few queries. */
const RESIDENTS_PER_LOOKUP = 500;

/**
 * The valid certificates in the window of these residents, by resident, in batches by the
 * certificates_resident index. Whether one is valid is checked here, not in the query: with
 * `status = 'valid'` there, SQLite's planner (which has no statistics) takes the
 * certificates_expires (status, expires) index instead, and reads the whole window for each batch.
 */
async function validInWindowOf(db: Kysely<Database>, residentIds: string[], window: ExpiryNoticeDates) {
  const byResident = new Map<string, { ca_type: CaType; serial_hex: string; expires: JapanDate; card_id: string | null }[]>();
  for (let i = 0; i < residentIds.length; i += RESIDENTS_PER_LOOKUP) {
    const rows = await db
      .selectFrom("certificates")
      .select(["resident_id", "ca_type", "serial_hex", "expires", "card_id", "status"])
      .where("resident_id", "in", residentIds.slice(i, i + RESIDENTS_PER_LOOKUP))
      .where("expires", ">=", window.windowStart)
      .where("expires", "<=", window.windowEnd)
      .execute();
    for (const { status, ...r } of rows) if (status === "valid") pushTo(byResident, r.resident_id, r);
  }
  return byResident;
}

/**
 * The residents this run listed whose valid certificates in the window go on past the day they
 * were listed, each with the last of those days: on a day up to then, the resident is skipped as
 * listed. Not the register, which may have changed since (a hold lifted, a certificate revoked).
 */
type ListedUntil = Map<string, JapanDate>;

/** Forget the residents listed whose last certificate in the window expires before `day`: no later day reads them. */
function forgetListedBefore(listed: ListedUntil, day: JapanDate): void {
  for (const [residentId, lastExpiry] of listed) if (lastExpiry < day) listed.delete(residentId);
}

const byExpiryTypeSerial = (a: { expires: JapanDate; ca_type: CaType; serial_hex: string }, b: { expires: JapanDate; ca_type: CaType; serial_hex: string }) =>
  a.expires.localeCompare(b.expires) || a.ca_type.localeCompare(b.ca_type) || a.serial_hex.localeCompare(b.serial_hex);

/**
 * The rows of day `day`: its certificates' holders not listed yet by this run, in resident id
 * order, each with all its valid certificates in the window. Those with one expiring on a later
 * day are remembered in `listed` until then.
 */
async function residentsListedOn(db: Kysely<Database>, day: JapanDate, expiring: ExpiringCertificate[], window: ExpiryNoticeDates, listed: ListedUntil): Promise<ExpiryNoticeRow[]> {
  const holders = new Map<string, ExpiringCertificate[]>();
  for (const c of expiring) if (!listed.has(c.resident_id)) pushTo(holders, c.resident_id, c);
  const residentIds = [...holders.keys()].sort((a, b) => a.localeCompare(b));
  const inWindow = await validInWindowOf(db, residentIds, window);
  const rows: ExpiryNoticeRow[] = [];
  for (const residentId of residentIds) {
    const onDay = holders.get(residentId)!;
    const others = (inWindow.get(residentId) ?? []).filter((c) => c.expires !== day);
    // Earliest first. One before `day` is valid now but was not when its day was read (a hold lifted since).
    const certificates = [...onDay, ...others].sort(byExpiryTypeSerial);
    const lastExpiry = certificates[certificates.length - 1]!.expires;
    if (lastExpiry > day) listed.set(residentId, lastExpiry);
    const { name, address, municipality_code } = onDay[0]!;
    rows.push({
      residentId,
      name,
      address,
      municipalityCode: municipality_code,
      // The card of the earliest certificate that names one.
      cardId: certificates.find((c) => c.card_id !== null)?.card_id ?? null,
      // In type order, as the notice and the CSV list them.
      certificates: certificates
        .map((c) => ({ type: c.ca_type, serialHex: c.serial_hex, expires: c.expires, renewalFrom: renewalFrom(c.expires) }))
        .sort((a, b) => a.type.localeCompare(b.type) || a.serialHex.localeCompare(b.serialHex)),
      earliestExpiry: certificates[0]!.expires,
    });
  }
  return rows;
}

/**
 * The whole run, collected from {@link expiryNoticeRows}: for the JSON answer and the PDF, which
 * hold it anyway. With `atMost`, reading stops at the first resident over it, refused as
 * `run-too-large` (the answers over HTTP), without reading the rest of the window; `tooLargeFor`
 * (default the PDF) says which answer, for what the refusal advises instead.
 */
export async function expiryNoticeRun(deps: NoticeDeps, input: ExpiryNoticeInput & { atMost?: number; tooLargeFor?: TooLargeFor }): Promise<ExpiryNoticeRun> {
  const dates = expiryNoticeDates(input.from);
  const residents: ExpiryNoticeRow[] = [];
  for await (const row of expiryNoticeRows(deps, input)) {
    if (input.atMost !== undefined && residents.length >= input.atMost) throw runTooLarge(input.atMost, input.tooLargeFor ?? "pdf");
    residents.push(row);
  }
  return { ...dates, residents };
}

/** The run as a list shows it: its first `shown` residents, and how many there are in all. */
export interface ExpiryNoticeListing extends ExpiryNoticeDates {
  residents: ExpiryNoticeRow[];
  count: number;
}

/**
 * The run's first `shown` residents and its count. Reading stops after the rows shown; the rest
 * are counted by one query rather than read (a run over every municipality is millions). The
 * run lists each resident with a valid certificate expiring in the window once, so that count is
 * the run's length; a register changing between the two reads is seen by the count only, which
 * is never less than the rows shown.
 */
export async function expiryNoticeListing(deps: NoticeDeps, input: ExpiryNoticeInput, shown: number): Promise<ExpiryNoticeListing> {
  const dates = expiryNoticeDates(input.from);
  const residents: ExpiryNoticeRow[] = [];
  let more = false;
  for await (const row of expiryNoticeRows(deps, input)) {
    if (residents.length === shown) {
      more = true;
      break;
    }
    residents.push(row);
  }
  const count = more ? Math.max(residents.length + 1, await residentsExpiringIn(deps.db, dates, input.municipality)) : residents.length;
  return { ...dates, residents, count };
}

/** The registered residents with a valid certificate expiring in the window: those the run lists. */
async function residentsExpiringIn(db: Kysely<Database>, window: ExpiryNoticeDates, municipality: string | undefined): Promise<number> {
  const { residents } = await listedCertificates(db, municipality)
    .select((eb) => eb.fn.count<number | string | bigint>("certificates.resident_id").distinct().as("residents"))
    .where("certificates.expires", ">=", window.windowStart)
    .where("certificates.expires", "<=", window.windowEnd)
    .executeTakeFirstOrThrow();
  return Number(residents);
}

const CSV_HEADER = ["resident_id", "name", "address", "municipality_code", "card_id", "auth_expires", "sign_expires", "earliest_expires", "renewal_from"];

/** The CSV's start: a BOM, so spreadsheet software in Japan opens it as UTF-8, and the header line. */
export function expiryNoticesCsvHeader(): string {
  return `\uFEFF${CSV_HEADER.join(",")}\r\n`;
}

/** One resident's CSV line, with its CRLF. */
export function expiryNoticeCsvLine(r: ExpiryNoticeRow): string {
  const auth = r.certificates.find((c) => c.type === "auth")?.expires ?? "";
  const sign = r.certificates.find((c) => c.type === "sign")?.expires ?? "";
  return `${[r.residentId, r.name, r.address, r.municipalityCode, r.cardId ?? "", auth, sign, r.earliestExpiry, renewalFrom(r.earliestExpiry)].map(csvField).join(",")}\r\n`;
}

/** CSV (RFC 4180, UTF-8 with a BOM) of a collected run; {@link expiryNoticesCsvChunks} writes the same as it reads. */
export function expiryNoticesCsv(run: ExpiryNoticeRun): string {
  return expiryNoticesCsvHeader() + run.residents.map(expiryNoticeCsvLine).join("");
}

/** Text gathered before a CSV chunk is handed on: writes of a useful size, not a line at a time. */
const CSV_CHUNK_CHARS = 64 * 1024;

/**
 * The CSV of `rows` as they are read, in chunks: the same text as {@link expiryNoticesCsv}. An
 * error reading the rows is thrown on to the consumer, which must not let what was written
 * look complete (a stream destroyed with it, a file removed).
 */
export async function* expiryNoticesCsvChunks(rows: AsyncIterable<ExpiryNoticeRow>): AsyncGenerator<string, void, undefined> {
  yield expiryNoticesCsvHeader();
  let chunk = "";
  for await (const row of rows) {
    chunk += expiryNoticeCsvLine(row);
    if (chunk.length >= CSV_CHUNK_CHARS) {
      yield chunk;
      chunk = "";
    }
  }
  if (chunk) yield chunk;
}

/** The run's CSV as it is read: its file name and chunks, and how many residents were written so far. */
export interface ExpiryNoticesCsvStream extends ExpiryNoticeDates {
  filename: string;
  chunks: AsyncIterable<string>;
  written(): number;
}

/**
 * The run's CSV, to be written as it is read (the CLI's file, both CSV downloads): `from` is
 * checked now, before an answer or a file is begun, and the run is read as `chunks` are taken.
 */
export function expiryNoticesCsvStream(deps: NoticeDeps, input: ExpiryNoticeInput): ExpiryNoticesCsvStream {
  const dates = expiryNoticeDates(input.from);
  let written = 0;
  async function* counted(): AsyncGenerator<ExpiryNoticeRow, void, undefined> {
    for await (const row of expiryNoticeRows(deps, input)) {
      written++;
      yield row;
    }
  }
  return { ...dates, filename: `expiry-notices-${dates.from}.csv`, chunks: expiryNoticesCsvChunks(counted()), written: () => written };
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

/**
 * How many residents the API's JSON answer may hold: it is collected before it is sent (≈1 KB a
 * resident). The CSV (format=csv) is sent as it is read, whatever its size.
 */
export const EXPIRY_NOTICES_JSON_LIMIT = 10_000;

/** The answer a run is too large for, and what to do instead. */
export type TooLargeFor = "pdf" | "json";

const TOO_LARGE_ADVICE: Record<TooLargeFor, { ja: string; en: string }> = {
  pdf: {
    ja: "一度に作成できるのは {max} 件までです。市区町村で絞るか、CLI（openjpki counter expiry-notices --format pdf）で作成してください",
    en: "over the {max} one PDF answer may hold: narrow it by municipality, or make it with the CLI (openjpki counter expiry-notices --format pdf)",
  },
  json: {
    ja: "JSON で一度に返せるのは {max} 件までです。CSV（format=csv）で取得するか、市区町村で絞ってください",
    en: "over the {max} one JSON answer may hold: ask for the CSV (format=csv), sent as it is read, or narrow it by municipality",
  },
};

/**
 * A run over the `max` notices one `answer` may hold: with its `count`, or (reading stopped at
 * the first one over, see {@link expiryNoticeRun}) without it.
 */
function runTooLarge(max: number, answer: TooLargeFor, count?: number): ServiceError {
  const [ja, en] = count === undefined ? [`${max} 件を超え`, `more than ${max} notices`] : [`${count} 件あり`, `${count} notices`];
  const advice = TOO_LARGE_ADVICE[answer];
  return new ServiceError(
    "refused",
    `この期間の有効期限通知書は ${ja}、${advice.ja.replace("{max}", String(max))} / this run has ${en}, ${advice.en.replace("{max}", String(max))}`,
    "from",
    { reason: "run-too-large" },
  );
}

/** The run as one PDF, one 有効期限通知書 per resident (a page each, more for a long list of certificates). */
export async function expiryNoticesPdf(
  deps: NoticeDeps,
  run: ExpiryNoticeRun,
  actor: Actor,
  options: NoticePdfOptions & { onPage?: (done: number) => void; maxNotices?: number } = {},
): Promise<Uint8Array> {
  if (options.maxNotices !== undefined && run.residents.length > options.maxNotices) throw runTooLarge(options.maxNotices, "pdf", run.residents.length);
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
