import { html } from "../../html.ts";
import type { StaffMember, Office } from "../../../services/counter/staff.ts";
import type { FeeSummary } from "../../../services/counter/fees.ts";
import type { ExpiryNoticeListing } from "../../../services/counter/notices.ts";
import type { AuditVerification } from "../../../services/audit.ts";
import { KNOWN_MUNICIPALITIES } from "../../../services/resident-view.ts";
import { formatDate, formatInstant } from "../../i18n.ts";
import type { View } from "../../layout.ts";
import { field, selectField, type Problem } from "../../forms.ts";
import { APPLICATION_KIND, counterPage, counterProblem, feeReasonLabel, fieldError, label, timeOfDay, yen } from "./common.ts";

function officeName(v: View, offices: Office[], id: string | null): string {
  if (!id) return v.t("（事務所なし）", "(no office)");
  const o = offices.find((x) => x.id === id);
  return o ? v.t(o.nameJa, o.nameEn) : id;
}

/** The office's day: procedures recorded and the fees taken, per office and reason. */
export function summaryPage(v: View, staff: StaffMember, s: { date: string; office: string; offices: Office[]; summary?: FeeSummary; problem?: Problem }): string {
  const t = v.t;
  const sum = s.summary;
  const byKind = new Map<string, number>();
  for (const r of sum?.records ?? []) byKind.set(r.kind, (byKind.get(r.kind) ?? 0) + 1);
  const body = html`
<h1>${t("本日の集計・手数料", "Daily summary and fees")}</h1>
${counterProblem(v, s.problem, { date: "date", office: "office" })}
<form method="get" action="/counter/summary" class="search">
${field(v, { id: "date", name: "date", type: "date", label: t("日付（日本時間）", "Date (Japan)"), value: s.date, ...fieldError(v, s.problem, "date") })}
${selectField(v, { id: "office", name: "office", label: t("事務所", "Office"), value: s.office, options: [{ value: "", label: t("すべて", "All offices") }, ...s.offices.map((o) => ({ value: o.id, label: t(o.nameJa, o.nameEn) }))], ...fieldError(v, s.problem, "office") })}
<div class="actions"><button type="submit">${t("表示", "Show")}</button></div>
</form>
${sum
    ? html`<h2 id="totals">${t(`${formatDate("ja", sum.date)}の集計`, `${formatDate("en", sum.date)}`)}</h2>
<table class="totals"><tbody>
<tr><th scope="row">${t("手数料の合計", "Fees taken")}</th><td><p class="total" data-total="${sum.totalYen}">${yen(v, sum.totalYen)}</p></td></tr>
<tr><th scope="row">${t("手続きの件数", "Procedures")}</th><td>${t(`${sum.count}件（有料 ${sum.charged}件・無料 ${sum.free}件）`, `${sum.count} (${sum.charged} charged, ${sum.free} free)`)}</td></tr>
</tbody></table>
<h3>${t("手続き別", "By procedure")}</h3>
${byKind.size === 0 ? html`<p>${t("この日の手続きはありません。", "No procedure that day.")}</p>` : html`<table><thead><tr><th scope="col">${t("手続き", "Procedure")}</th><th scope="col" class="num">${t("件数", "Count")}</th></tr></thead><tbody>${[...byKind.entries()].map(([k, n]) => html`<tr><td>${label(v, APPLICATION_KIND, k)}</td><td class="num">${n}</td></tr>`)}</tbody></table>`}
<h3>${t("事務所別", "By office")}</h3>
${sum.byOffice.length === 0 ? html`<p>${t("なし", "None")}</p>` : html`<table><thead><tr><th scope="col">${t("事務所", "Office")}</th><th scope="col" class="num">${t("件数", "Count")}</th><th scope="col" class="num">${t("有料", "Charged")}</th><th scope="col" class="num">${t("手数料", "Fees")}</th></tr></thead><tbody>${sum.byOffice.map((o) => html`<tr><td>${officeName(v, s.offices, o.office)}</td><td class="num">${o.count}</td><td class="num">${o.charged}</td><td class="num">${yen(v, o.totalYen)}</td></tr>`)}</tbody></table>`}
<h3>${t("手数料の区分別", "By fee reason")}</h3>
${sum.byReason.length === 0 ? html`<p>${t("なし", "None")}</p>` : html`<table><thead><tr><th scope="col">${t("区分", "Reason")}</th><th scope="col" class="num">${t("件数", "Count")}</th><th scope="col" class="num">${t("手数料", "Fees")}</th></tr></thead><tbody>${sum.byReason.map((r) => html`<tr><td>${feeReasonLabel(v, r.reason)}</td><td class="num">${r.count}</td><td class="num">${yen(v, r.totalYen)}</td></tr>`)}</tbody></table>`}
<h3>${t("記録", "Records")}</h3>
${sum.records.length === 0 ? html`<p>${t("なし", "None")}</p>` : html`<div class="table-scroll"><table class="fee-records"><thead><tr><th scope="col">${t("時刻（日本時間）", "Time (JST)")}</th><th scope="col">${t("申請番号", "Application")}</th><th scope="col">${t("手続き", "Procedure")}</th><th scope="col" class="num">${t("カード", "Card")}</th><th scope="col" class="num">${t("電子証明書", "Certificates")}</th><th scope="col" class="num">${t("合計", "Total")}</th><th scope="col">${t("職員", "Staff")}</th></tr></thead><tbody>${sum.records.map((r) => html`<tr><td class="nowrap">${timeOfDay(r.recordedAt)}</td><td class="mono nowrap">${r.applicationId}</td><td>${label(v, APPLICATION_KIND, r.kind)}</td><td class="num">${yen(v, r.cardYen)}</td><td class="num">${yen(v, r.certificatesYen)}</td><td class="num">${yen(v, r.amountYen)}</td><td class="nowrap">${r.recordedBy}</td></tr>`)}</tbody></table></div>`}`
    : ""}`;
  return counterPage(v, staff, { title: t("本日の集計・手数料", "Daily summary and fees"), body, hasError: s.problem !== undefined });
}

/**
 * Rows the expiry-notice page lists: a large town's month runs to tens of thousands, which the
 * CSV carries. The route reads the run's listing with this many kept (the rest only counted).
 */
export const EXPIRY_LIST_SHOWN = 500;

/** The 有効期限通知書 list: who gets a notice for a run starting on `from` (the first {@link EXPIRY_LIST_SHOWN} of them), with a CSV. */
export function expiryNoticesPage(v: View, staff: StaffMember, s: { from: string; municipality: string; run?: ExpiryNoticeListing; problem?: Problem }): string {
  const t = v.t;
  const run = s.run;
  const qs = `from=${encodeURIComponent(s.from)}${s.municipality ? `&municipality=${encodeURIComponent(s.municipality)}` : ""}`;
  const body = html`
<h1>${t("有効期限通知の対象者", "Expiry notices")}</h1>
<p>${t("有効期限の2〜3か月前に送る有効期限通知書の対象者です（起算日から2か月後〜3か月後の前日までに有効期限が来る有効な電子証明書。29〜31日の実行は、毎月の実行が各日を一度ずつ扱うよう、短い月の前後で最大3日ずれます）。", "Residents who get an expiry notice 2–3 months before expiry: valid certificates expiring from two months after the run date up to the day before three months after it (runs on the 29th–31st shift by up to three days around short months, so that monthly runs cover each expiry day once).")}</p>
${counterProblem(v, s.problem, { from: "from" })}
<form method="get" action="/counter/expiry-notices" class="search">
${field(v, { id: "from", name: "from", type: "date", label: t("起算日", "Run date"), value: s.from, ...fieldError(v, s.problem, "from") })}
${selectField(v, { id: "municipality", name: "municipality", label: t("市区町村", "Municipality"), value: s.municipality, options: [{ value: "", label: t("すべて", "All") }, ...KNOWN_MUNICIPALITIES.map((m) => ({ value: m.code, label: `${m.prefectureJa}${m.cityJa}` }))] })}
<div class="actions"><button type="submit">${t("表示", "Show")}</button></div>
</form>
${run
    ? html`<p>${t(`対象期間：${formatDate("ja", run.windowStart)}〜${formatDate("ja", run.windowEnd)}に有効期限が来るもの。${run.count}人。`, `Expiring from ${formatDate("en", run.windowStart)} to ${formatDate("en", run.windowEnd)}: ${run.count} residents.`)}</p>
<p class="actions"><a class="button button--secondary" href="/counter/expiry-notices.csv?${qs}" download>${t("CSVをダウンロード", "Download the CSV")}</a></p>
${run.count === 0
        ? html`<p>${t("対象者はいません。", "Nobody in this run.")}</p>`
        : html`${run.count > EXPIRY_LIST_SHOWN
            ? html`<p class="hint">${t(`最初の${EXPIRY_LIST_SHOWN.toLocaleString("ja-JP")}人を表示しています。全員はCSVにあります。`, `The first ${EXPIRY_LIST_SHOWN.toLocaleString("en-US")} are shown; the CSV has everyone.`)}</p>`
            : ""}<div class="table-scroll"><table><thead><tr><th scope="col">${t("氏名", "Name")}</th><th scope="col">${t("住所", "Address")}</th><th scope="col">${t("カード", "Card")}</th><th scope="col">${t("有効期限", "Expires")}</th><th scope="col">${t("更新できる日", "Renewal from")}</th></tr></thead><tbody>${run.residents.slice(0, EXPIRY_LIST_SHOWN).map(
            (r) => html`<tr><td><a href="/counter/residents/${r.residentId}">${r.name}</a></td><td>${r.address}</td><td class="mono">${r.cardId ?? "—"}</td><td>${formatDate(v.lang, r.earliestExpiry)}</td><td>${formatDate(v.lang, r.certificates.find((c) => c.expires === r.earliestExpiry)?.renewalFrom ?? r.earliestExpiry)}</td></tr>`,
          )}</tbody></table></div>`}`
    : ""}`;
  return counterPage(v, staff, { title: t("有効期限通知", "Expiry notices"), body, hasError: s.problem !== undefined });
}

export interface AuditRow {
  seq: number;
  at: string;
  actor: string;
  office: string | null;
  action: string;
  subject: string;
}

/** The audit trail: its hash chain checked, and the latest records. */
export function auditPage(v: View, staff: StaffMember, s: { verification: AuditVerification & { wholeChainCheckedAt: Date }; records: AuditRow[] }): string {
  const t = v.t;
  const ok = s.verification.ok;
  const body = html`
<h1>${t("監査記録", "Audit trail")}</h1>
<p>${t("すべての操作は、前の記録のハッシュを含む連鎖として記録されます。記録の書き換え・削除・並べ替えがあると、検証でその位置が示されます。", "Every change is recorded in a chain where each record covers the previous one's hash; an edited, removed or reordered record shows up at its place when the chain is checked.")}</p>
<section class="notice ${ok ? "notice--success" : "notice--error"}" aria-labelledby="audit-status"${ok ? html` role="status"` : html` role="alert"`}>
<h2 id="audit-status">${t("検証結果：", "Verification: ")}<span class="audit-status ${ok ? "status-ok" : "status-bad"}" data-ok="${ok ? "true" : "false"}">${ok ? t("正常（改ざんなし）", "intact") : t("異常あり", "broken")}</span></h2>
${s.verification.ok
    ? html`<p>${t(`${s.verification.records}件の記録を検証しました。`, `${s.verification.records} records checked.`)}</p><p class="muted">${t("最新のハッシュ", "Latest hash")}: <code>${s.verification.head}</code></p><p class="muted whole-chain">${t(`連鎖全体の検証：${formatInstant(v.lang, s.verification.wholeChainCheckedAt.toISOString())}（10分ごと。その後の記録はこのページを開くたびに検証します。全体をすぐ検証するには openjpki audit verify）`, `Whole chain walked: ${formatInstant(v.lang, s.verification.wholeChainCheckedAt.toISOString())} (every 10 minutes; the records since are checked on each view; openjpki audit verify walks it whole now)`)}</p>`
    : html`<p>${t(`${s.verification.records}件目まで正常。最初の異常は${s.verification.firstBad}件目です。`, `${s.verification.records} records fit; the first bad one is record ${s.verification.firstBad}.`)}</p><p><code>${s.verification.problem}</code></p><p>${t("システム管理者に連絡してください。", "Contact the system administrator.")}</p>`}
</section>
<h2 id="latest">${t("最新の記録", "Latest records")}</h2>
<div class="table-scroll"><table>
<thead><tr><th scope="col" class="num">${t("番号", "No.")}</th><th scope="col">${t("日時", "When")}</th><th scope="col">${t("操作者", "Actor")}</th><th scope="col">${t("事務所", "Office")}</th><th scope="col">${t("操作", "Action")}</th><th scope="col">${t("対象", "Subject")}</th></tr></thead>
<tbody>${s.records.map((r) => html`<tr><td class="num">${r.seq}</td><td>${formatInstant(v.lang, r.at)}</td><td class="nowrap">${r.actor}</td><td class="nowrap">${r.office ?? "—"}</td><td class="mono">${r.action}</td><td class="mono">${r.subject}</td></tr>`)}</tbody>
</table></div>`;
  return counterPage(v, staff, { title: t("監査記録", "Audit trail"), body });
}
