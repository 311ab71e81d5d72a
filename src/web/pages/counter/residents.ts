import { html, type SafeHtml } from "../../html.ts";
import type { StaffMember } from "../../../services/counter/staff.ts";
import type { Resident } from "../../../services/registry.ts";
import type { Card } from "../../../services/cards.ts";
import type { CardView, CertificateView } from "../../../services/resident-view.ts";
import { KNOWN_MUNICIPALITIES } from "../../../services/resident-view.ts";
import { CERT_NAME, REVOCATION_REASON, formatDate, formatInstant } from "../../i18n.ts";
import type { View } from "../../layout.ts";
import { csrfField, field, selectField, successNotice, type Problem } from "../../forms.ts";
import { stateBadge } from "../common.ts";
import {
  APPLICATION_KIND,
  APPLICATION_STATE,
  IDENTITY_DOCUMENT_LABEL,
  CARD_STATUS,
  GENDERS,
  RESIDENT_STATUS,
  counterPage,
  counterProblem,
  feeReasonLabel,
  fieldError,
  label,
  yen,
  po,
  pc,
  pcomma,
} from "./common.ts";
import { PROCEDURES, proceduresFor, withdrawableDeparture } from "./procedures.ts";
import { RELATIONSHIP_LABEL, type RecordedLegalRepresentative } from "../../../services/counter/legal-representative.ts";
import type { IdentityDocument } from "../../../services/counter/identity.ts";

export interface ResidentListState {
  query: string;
  municipality: string;
  residents: Resident[];
  /** Cards per resident id (for the list's summary column). */
  cards: Map<string, Card[]>;
  failed?: { problem: Problem; values: Record<string, string> };
}

const REGISTER_FIELDS = { name: "r-name", birth: "r-birth", gender: "r-gender", address: "r-address", municipality: "r-municipality", nationality: "r-nationality", "residence-end": "r-residence-end" };

/** The console's start: search the register, and register a resident. */
export function counterHomePage(v: View, staff: StaffMember, s: ResidentListState): string {
  const t = v.t;
  const val = (name: string, fallback = "") => s.failed?.values[name] ?? fallback;
  const body = html`
<h1>${t("住民の検索・登録", "Residents: search and register")}</h1>
<form method="get" action="/counter" class="search" role="search" aria-label="${t("住民の検索", "Search residents")}">
${field(v, { id: "q", name: "q", label: t("氏名・住民ID・住所で検索", "Search by name, resident ID or address"), value: s.query, maxlength: 100 })}
${selectField(v, { id: "m", name: "municipality", label: t("市区町村", "Municipality"), value: s.municipality, options: [{ value: "", label: t("すべて", "All") }, ...KNOWN_MUNICIPALITIES.map((m) => ({ value: m.code, label: `${m.prefectureJa}${m.cityJa}` }))] })}
<div class="actions"><button type="submit">${t("検索", "Search")}</button></div>
</form>
<div class="table-scroll">
<table>
<caption>${t(`住民（${s.residents.length}件）`, `Residents (${s.residents.length})`)}</caption>
<thead><tr><th scope="col">${t("氏名", "Name")}</th><th scope="col">${t("住民ID", "Resident ID")}</th><th scope="col">${t("生年月日", "Born")}</th><th scope="col">${t("住所", "Address")}</th><th scope="col">${t("状態", "Status")}</th><th scope="col">${t("カード", "Cards")}</th></tr></thead>
<tbody>
${s.residents.length === 0 ? html`<tr><td colspan="6">${t("該当する住民はいません。", "No resident matches.")}</td></tr>` : ""}
${s.residents.map((r) => {
    const cards = s.cards.get(r.id) ?? [];
    const current = cards.find((c) => c.status === "active" || c.status === "suspended");
    return html`<tr><td><a href="/counter/residents/${r.id}">${r.name}</a></td><td class="mono">${r.id}</td><td>${formatDate(v.lang, r.birth)}</td><td>${r.address}</td><td>${label(v, RESIDENT_STATUS, r.status)}</td><td>${current ? html`<span class="mono">${current.id}</span>${po(v)}${label(v, CARD_STATUS, current.status)}${pc(v)}` : t("なし", "none")}</td></tr>`;
  })}
</tbody>
</table>
</div>

<h2 id="register">${t("住民を登録する", "Register a resident")}</h2>
<p>${t("住民基本台帳の4情報（氏名・生年月日・性別・住所）を登録します。外国人住民は国籍と在留期間の満了日も入力します。", "Enter the four attributes of the resident register (name, date of birth, gender, address). For a foreign resident, also the nationality and the end of the period of stay.")}</p>
<form method="post" action="/counter/residents" novalidate>
${csrfField(v)}
${counterProblem(v, s.failed?.problem, REGISTER_FIELDS)}
${field(v, { id: "r-name", name: "name", label: t("氏名", "Name"), hint: t("姓と名の間に空白を入れてください（例：町田 花子）", "Family name, a space, given name (e.g. 町田 花子)"), required: true, value: val("name"), autocomplete: "off", maxlength: 100, ...fieldError(v, s.failed?.problem, "name") })}
${field(v, { id: "r-birth", name: "birth", type: "date", label: t("生年月日", "Date of birth"), required: true, value: val("birth"), ...fieldError(v, s.failed?.problem, "birth") })}
${selectField(v, { id: "r-gender", name: "gender", label: t("性別", "Gender"), required: true, value: val("gender", "1"), options: GENDERS.map((g) => ({ value: g.value, label: t(g.ja, g.en) })), ...fieldError(v, s.failed?.problem, "gender") })}
${field(v, { id: "r-address", name: "address", label: t("住所", "Address"), required: true, value: val("address"), maxlength: 200, ...fieldError(v, s.failed?.problem, "address") })}
${selectField(v, { id: "r-municipality", name: "municipality", label: t("市区町村", "Municipality"), required: true, value: val("municipality", "132098"), options: KNOWN_MUNICIPALITIES.map((m) => ({ value: m.code, label: `${m.prefectureJa}${m.cityJa}${po(v)}${m.code}${pc(v)}` })), ...fieldError(v, s.failed?.problem, "municipality") })}
${field(v, { id: "r-nationality", name: "nationality", label: t("国籍（2文字の国コード）", "Nationality (two-letter code)"), hint: t("日本国籍は JP（空欄でも JP）", "JP for Japanese (empty means JP)"), value: val("nationality"), maxlength: 2, ...fieldError(v, s.failed?.problem, "nationality") })}
${field(v, { id: "r-residence-end", name: "residenceEnd", type: "date", label: t("在留期間の満了日（外国人住民）", "End of the period of stay (foreign residents)"), value: val("residenceEnd"), ...fieldError(v, s.failed?.problem, "residence-end") })}
<div class="choice"><input type="checkbox" id="r-guardianship" name="guardianship" value="1"${val("guardianship") ? html` checked` : ""}><label for="r-guardianship">${t("成年被後見人", "Adult under guardianship")}</label></div>
<div class="actions"><button type="submit">${t("登録する", "Register")}</button></div>
</form>`;
  return counterPage(v, staff, { title: t("住民の検索・登録", "Residents"), body, hasError: s.failed !== undefined });
}

export interface ApplicationRow {
  id: string;
  kind: string;
  state: string;
  cardId: string | null;
  feeYen: number;
  createdAt: string;
  createdBy: string;
  /** The legal representative who applied (a child under 15, an adult under guardianship). */
  legalRepresentative?: RecordedLegalRepresentative;
}

/** What a procedure just did, shown once after its redirect. */
export interface Outcome {
  title: { ja: string; en: string };
  applicationId?: string;
  issued?: { type: "auth" | "sign"; serialHex: string; expires: string }[];
  revoked?: { type: "auth" | "sign"; serialHex: string; reason: string }[];
  /** Put on hold (a loss report): not revoked — the card-found procedure revokes them, or nothing does. */
  putOnHold?: { type: "auth" | "sign"; serialHex: string }[];
  feeYen?: number;
  feeReason?: string;
  cardId?: string;
  newCardId?: string;
  held?: { type: "auth" | "sign"; serialHex: string }[];
  /** A 交付通知書 can be printed for this card. */
  noticeCardId?: string;
  /** The 照会書兼回答書 to print (a one-time download). */
  letter?: { token: string; applicationId: string; expiresOn: string; sameDayAllowed: boolean };
  note?: { ja: string; en: string };
}

export interface ResidentDetail {
  resident: Resident;
  /** Today in Japan (YYYY-MM-DD): a filed emigration is withdrawn only before its day. */
  today: string;
  certificates: (CertificateView & { cardId: string | null; issuedAt: string })[];
  cards: Card[];
  applications: ApplicationRow[];
  /** The card in the terminal's reader, with PIN tries read from the chip. */
  reader?: CardView;
  outcome?: Outcome;
  readerProblem?: Problem;
}

function outcomeNotice(v: View, o: Outcome): SafeHtml {
  const t = v.t;
  const certs = (list: { type: "auth" | "sign"; serialHex: string }[]) => list.map((c) => html`<li>${t(CERT_NAME[c.type].ja, CERT_NAME[c.type].en)} <span class="mono">${c.serialHex}</span>${"reason" in c && typeof c.reason === "string" ? html`${po(v)}${REVOCATION_REASON[c.reason as keyof typeof REVOCATION_REASON] ? t(REVOCATION_REASON[c.reason as keyof typeof REVOCATION_REASON].ja, REVOCATION_REASON[c.reason as keyof typeof REVOCATION_REASON].en) : c.reason}${pc(v)}` : ""}${"expires" in c && typeof c.expires === "string" ? html`${pcomma(v)}${t("有効期限", "expires")} ${formatDate(v.lang, c.expires)}` : ""}</li>`);
  return successNotice(
    t(o.title.ja, o.title.en),
    html`${o.applicationId ? html`<p>${t("申請番号", "Application")}: <span class="mono">${o.applicationId}</span></p>` : ""}
${o.newCardId ? html`<p>${t("新しいカード", "New card")}: <span class="mono">${o.newCardId}</span></p>` : ""}
${o.issued && o.issued.length > 0 ? html`<p>${t("発行した電子証明書", "Certificates issued")}:</p><ul>${certs(o.issued)}</ul>` : ""}
${o.putOnHold && o.putOnHold.length > 0 ? html`<p>${t("一時保留にした電子証明書", "Certificates put on hold")}:</p><ul class="held-list">${certs(o.putOnHold)}</ul>` : ""}
${o.revoked && o.revoked.length > 0 ? html`<p>${t("失効した電子証明書", "Certificates revoked")}:</p><ul class="revoked-list">${certs(o.revoked)}</ul>` : o.revoked && !o.putOnHold?.length ? html`<p>${t("失効した電子証明書はありません。", "No certificate was revoked.")}</p>` : ""}
${o.held && o.held.length > 0 ? html`<p>${t("一時保留のままの電子証明書（「発見」の手続きで失効・再発行が必要）", "Still on hold (they need the card-found procedure)")}:</p><ul>${certs(o.held)}</ul>` : ""}
${o.feeYen !== undefined ? html`<p>${t("手数料", "Fee")}: <strong class="fee-amount">${yen(v, o.feeYen)}</strong>${o.feeReason ? html` <span class="muted fee-reason">${po(v)}${feeReasonLabel(v, o.feeReason)}${pc(v)}</span>` : ""}</p>` : ""}
${o.noticeCardId ? html`<p><a href="/counter/cards/${o.noticeCardId}/issuance-notice" download>${t("交付通知書（PDF）をダウンロード", "Download the issuance notice (交付通知書, PDF)")}</a></p>` : ""}
${o.letter ? html`<p><a href="/counter/letters/${o.letter.token}" download>${t("照会書兼回答書（PDF）をダウンロード", "Download the inquiry letter (照会書兼回答書, PDF)")}</a> <span class="muted">${t("（1回限り・10分間。回答番号はこの書類にだけ印字されます）", "(once, within 10 minutes: the answer code is printed only on it)")}</span></p>
<p>${t("回答期限", "Answer by")}: ${formatDate(v.lang, o.letter.expiresOn)}${t("。", ". ")}${o.letter.sameDayAllowed ? t("この代理人は本日中に手続きを完了できます。", "This proxy may complete it today.") : t("代理人は翌日以降に回答書を持って再来庁します。", "The proxy comes back from the next day with the answer form.")}</p>` : ""}
${o.note ? html`<p>${t(o.note.ja, o.note.en)}</p>` : ""}`,
  );
}

function certificateRows(v: View, d: ResidentDetail): SafeHtml {
  const t = v.t;
  if (d.certificates.length === 0) return html`<p>${t("電子証明書はまだありません。", "No certificates yet.")}</p>`;
  return html`<div class="table-scroll"><table class="certs">
<caption>${t("電子証明書（新しい順）", "Certificates (newest first)")}</caption>
<thead><tr><th scope="col">${t("種類", "Type")}</th><th scope="col">${t("状態", "State")}</th><th scope="col">${t("有効期限", "Expires")}</th><th scope="col">${t("更新できる日", "Renewal from")}</th><th scope="col">${t("カード", "Card")}</th><th scope="col">${t("シリアル番号", "Serial")}</th></tr></thead>
<tbody>${[...d.certificates].reverse().map(
    (c) => html`<tr data-type="${c.type}" data-state="${c.state}"><td>${t(CERT_NAME[c.type].ja, CERT_NAME[c.type].en)}</td><td>${stateBadge(v, c.state)}${c.revocationReason && (c.state === "revoked" || c.state === "hold") ? html`<br><span class="muted">${t(REVOCATION_REASON[c.revocationReason].ja, REVOCATION_REASON[c.revocationReason].en)}</span>` : ""}</td><td class="nowrap">${formatDate(v.lang, c.expires)}</td><td class="nowrap">${c.state === "valid" ? html`${formatDate(v.lang, c.renewalFrom)}${c.renewalOpen ? html`<br><strong>${t("更新できます", "open now")}</strong>` : ""}` : "—"}</td><td class="mono nowrap">${c.cardId ?? "—"}</td><td class="mono">${c.serialHex}</td></tr>`,
  )}</tbody></table></div>`;
}

function cardRows(v: View, d: ResidentDetail): SafeHtml {
  const t = v.t;
  if (d.cards.length === 0) return html`<p>${t("カードはまだありません。", "No card yet.")}</p>`;
  return html`<div class="table-scroll"><table>
<caption>${t("カード", "Cards")}</caption>
<thead><tr><th scope="col">${t("カードID", "Card")}</th><th scope="col">${t("状態", "Status")}</th><th scope="col">${t("作製日（発行日）", "Produced (issued)")}</th><th scope="col">${t("交付日", "Handed over")}</th><th scope="col">${t("カードの有効期限", "Card expires")}</th><th scope="col">${t("交付通知書", "Issuance notice")}</th></tr></thead>
<tbody>${d.cards.map(
    (c) => html`<tr><td class="mono"><a href="/counter/residents/${d.resident.id}?card=${c.id}#reader">${c.id}</a></td><td>${label(v, CARD_STATUS, c.status)}</td><td>${formatDate(v.lang, c.producedDate)}</td><td>${c.handedOverDate ? formatDate(v.lang, c.handedOverDate) : t("未交付", "not yet")}</td><td>${formatDate(v.lang, c.expires)}</td><td>${c.status === "active" || c.status === "producing" ? html`<a href="/counter/cards/${c.id}/issuance-notice" download>PDF<span class="visually-hidden">${t(`：カード ${c.id} の交付通知書`, `: issuance notice of card ${c.id}`)}</span></a>` : "—"}</td></tr>`,
  )}</tbody></table></div>`;
}

/** The terminal's card reader: which card is in it, its PIN tries, and the procedures for it. */
function readerPanel(v: View, d: ResidentDetail): SafeHtml {
  const t = v.t;
  const usable = d.cards.filter((c) => c.status !== "spoiled");
  const r = d.reader;
  return html`<section class="reader" aria-labelledby="reader">
<h2 id="reader">${t("カードリーダー（窓口端末）", "Card reader (counter terminal)")}</h2>
${counterProblem(v, d.readerProblem)}
${r
    ? html`<p class="reader__slot" role="status">${t("リーダーにあるカード", "Card in the reader")}: <span class="mono" data-reader-card="${r.card.id}">${r.card.id}</span>${po(v)}${label(v, CARD_STATUS, r.card.status)}${pc(v)}</p>
<table><tbody>
<tr><th scope="row">${t("利用者証明用の暗証番号の残り回数", "Authentication PIN tries left")}</th><td class="tries-auth">${tries(v, r.triesLeft.auth, 3, r.certificates.auth !== undefined)}</td></tr>
<tr><th scope="row">${t("署名用の暗証番号の残り回数", "Signing password tries left")}</th><td class="tries-sign">${tries(v, r.triesLeft.sign, 5, r.certificates.sign !== undefined)}</td></tr>
</tbody></table>
<h3>${t("このカードの手続き", "Procedures for this card")}</h3>
${proceduresFor(r.card).length === 0 ? html`<p>${t("このカードでできる手続きはありません。", "No procedure is available for this card.")}</p>` : html`<ul class="procs">${proceduresFor(r.card).map((k) => html`<li><a href="/counter/cards/${r.card.id}/${k}">${t(PROCEDURES[k].ja, PROCEDURES[k].en)}<small>${t(PROCEDURES[k].dja, PROCEDURES[k].den)}</small></a></li>`)}</ul>`}`
    : html`<p class="reader__slot" role="status">${t("リーダーにカードはありません。", "The reader is empty.")}</p>`}
${usable.length > 0
    ? html`<form method="get" action="/counter/residents/${d.resident.id}" class="reader-form">
<fieldset><legend>${t("リーダーに置くカード", "Card to place in the reader")}</legend>
${usable.map((c, i) => html`<div class="choice"><input type="radio" name="card" id="reader-card-${i}" value="${c.id}"${r?.card.id === c.id ? html` checked` : ""}><label for="reader-card-${i}"><span class="mono">${c.id}</span>${po(v)}${label(v, CARD_STATUS, c.status)}${pcomma(v)}${t("有効期限", "expires")} ${formatDate(v.lang, c.expires)}${pc(v)}</label></div>`)}
</fieldset>
<div class="actions"><button type="submit" class="button--secondary">${t("リーダーに置く", "Place in the reader")}</button></div>
</form>`
    : ""}
</section>`;
}

function tries(v: View, left: number | undefined, max: number, present: boolean): SafeHtml | string {
  if (!present) return v.t("（電子証明書なし）", "(no certificate)");
  if (left === undefined) return v.t("読み取れませんでした", "could not be read");
  if (left === 0) return html`<strong class="status-bad">${v.t("0回（ロック中）", "0 (locked)")}</strong>`;
  return v.t(`${left}回（全${max}回）`, `${left} of ${max}`);
}

export function residentDetailPage(v: View, staff: StaffMember, d: ResidentDetail): string {
  const t = v.t;
  const r = d.resident;
  const gender = GENDERS.find((g) => g.value === r.gender);
  const registered = r.status === "registered";
  // Abroad with continued use the entry is the 戸籍の附票's: its address and name still change.
  const abroad = r.status === "emigrated" && r.continuedUse;
  const readerQuery = d.reader ? `?card=${d.reader.card.id}` : "";
  const body = html`
<p><a href="/counter">${t("← 住民の一覧へ", "← Back to the residents")}</a></p>
<h1>${r.name} <span class="mono muted">${r.id}</span></h1>
${d.outcome ? outcomeNotice(v, d.outcome) : ""}
<h2 id="attributes">${t("基本4情報", "The four attributes")}</h2>
<table><tbody>
<tr><th scope="row">${t("氏名", "Name")}</th><td>${r.name}</td></tr>
<tr><th scope="row">${t("生年月日", "Date of birth")}</th><td>${formatDate(v.lang, r.birth)}</td></tr>
<tr><th scope="row">${t("性別", "Gender")}</th><td>${gender ? t(gender.ja, gender.en) : r.gender}</td></tr>
<tr><th scope="row">${t("住所", "Address")}</th><td>${r.address}${po(v)}${r.municipality.prefectureJa}${r.municipality.cityJa}${t("・", ", ")}${r.municipality.code}${pc(v)}</td></tr>
<tr><th scope="row">${t("住民登録", "Registration")}</th><td>${label(v, RESIDENT_STATUS, r.status)}${r.nationality !== "JP" ? html`${pcomma(v)}${t("国籍", "nationality")} ${r.nationality}` : ""}${r.residenceEnd ? html`${pcomma(v)}${t("在留期間の満了日", "period of stay ends")} ${formatDate(v.lang, r.residenceEnd)}` : ""}${r.guardianship ? html`${pcomma(v)}${t("成年被後見人", "under guardianship")}` : ""}${departureNote(v, r)}</td></tr>
</tbody></table>

${readerPanel(v, d)}

<h2 id="certificates">${t("電子証明書", "Certificates")}</h2>
${certificateRows(v, d)}

<h2 id="cards">${t("カード", "Cards")}</h2>
${cardRows(v, d)}
${registered && !d.cards.some((c) => c.status === "active" || c.status === "suspended" || c.status === "producing")
    ? html`<p><a class="button" href="/counter/residents/${r.id}/apply">${t("カードの交付申請・作製", "Card application and production")}</a></p>`
    : registered
      ? html`<p class="muted">${t("有効なカードがあるため、新しいカードの交付申請はできません。紛失・盗難・破損の場合はカードをリーダーに置いて「カードの再交付」を行います。", "The resident holds a current card: no new application. For a lost, stolen or damaged card, place it in the reader and use reissue.")}</p>`
      : ""}

<h2 id="events">${t("住民票の異動", "Register events")}</h2>
${registered
    ? html`<ul class="procs events">
<li><a href="/counter/residents/${r.id}/events/change${readerQuery}">${t("転居・氏名変更など", "Move, name change…")}<small>${t("4情報の変更。署名用電子証明書は失効します", "The signing certificate is revoked")}</small></a></li>
<li><a href="/counter/residents/${r.id}/events/residence-period${readerQuery}">${t("在留期間の変更", "Period of stay")}<small>${t("外国人住民", "Foreign residents")}</small></a></li>
<li><a href="/counter/residents/${r.id}/events/death${readerQuery}">${t("死亡", "Death")}<small>${t("両方の電子証明書が失効します", "Both certificates are revoked")}</small></a></li>
${!r.departureDate
    ? html`<li><a href="/counter/residents/${r.id}/events/emigration${readerQuery}">${t("国外転出", "Emigration")}<small>${t("継続利用の有無を選びます", "With or without continued use")}</small></a></li>`
    : withdrawableDeparture(r, d.today)
      ? html`<li><a href="/counter/residents/${r.id}/events/emigration-withdrawal${readerQuery}">${t("国外転出の取消", "Withdraw the emigration")}<small>${t(`${formatDate("ja", r.departureDate)} 転出予定の届出を取り消します`, `Filed for departure on ${formatDate("en", r.departureDate)}`)}</small></a></li>`
      : html`<li class="muted departure-due">${t(`国外転出：転出日（${formatDate("ja", r.departureDate)}）を迎えました。まもなく適用されます（取消はできません）`, `Emigration: the day of departure (${formatDate("en", r.departureDate)}) has come; it is applied within a minute (no longer withdrawn)`)}</li>`}
</ul>`
    : abroad
      ? html`<ul class="procs events">
<li><a href="/counter/residents/${r.id}/events/change${readerQuery}">${t("戸籍の附票の住所・氏名の変更", "Change of the 戸籍の附票 address or name")}<small>${t("国外転出者（継続利用）。署名用電子証明書は失効します", "Abroad with continued use. The signing certificate is revoked")}</small></a></li>
</ul>`
      : html`<p>${t("住民登録がないため、異動は記録できません。", "The resident is not registered: no event can be recorded.")}</p>`}

<h2 id="applications">${t("申請の履歴", "Applications")}</h2>
${d.applications.length === 0
    ? html`<p>${t("まだありません。", "None yet.")}</p>`
    : html`<div class="table-scroll"><table>
<thead><tr><th scope="col">${t("申請番号", "Application")}</th><th scope="col">${t("手続き", "Procedure")}</th><th scope="col">${t("状態", "State")}</th><th scope="col">${t("カード", "Card")}</th><th scope="col" class="num">${t("手数料", "Fee")}</th><th scope="col">${t("受付", "Received")}</th></tr></thead>
<tbody>${[...d.applications].reverse().map(
        (a) => html`<tr><td class="mono">${a.id}</td><td>${label(v, APPLICATION_KIND, a.kind)}${a.legalRepresentative ? html`<br><span class="muted legal-representative">${t("法定代理人", "legal representative")}: ${a.legalRepresentative.name}${po(v)}${label(v, RELATIONSHIP_LABEL, a.legalRepresentative.relationship)}${a.legalRepresentative.identity ? html`${pcomma(v)}${identityLabel(v, a.legalRepresentative.identity.document)}` : ""}${pc(v)}</span>` : ""}</td><td>${label(v, APPLICATION_STATE, a.state)}${a.state === "awaiting-proxy" ? html`<br><a href="/counter/proxy/${a.id}">${t("代理人の再来庁を受け付ける", "Receive the proxy's second visit")}</a>` : ""}</td><td class="mono">${a.cardId ?? "—"}</td><td class="num">${yen(v, a.feeYen)}</td><td>${formatInstant(v.lang, a.createdAt)}<br><span class="muted">${a.createdBy}</span></td></tr>`,
      )}</tbody></table></div>`}
`;
  return counterPage(v, staff, { title: r.name, body, hasError: d.readerProblem !== undefined });
}

/** An identity document's short name, as a record shows it. */
function identityLabel(v: View, document: IdentityDocument): string {
  const { ja, en, shortJa, shortEn } = IDENTITY_DOCUMENT_LABEL[document];
  return v.t(shortJa ?? ja, shortEn ?? en);
}

/** A filed emigration still ahead, or continued use after it. */
function departureNote(v: View, r: Resident): SafeHtml | string {
  const continued = r.continuedUse ? v.t("・カード継続利用", ", continued use of the card") : "";
  if (r.status === "registered" && r.departureDate) return html`${pcomma(v)}<strong>${v.t("国外転出予定", "emigration filed: departure")} ${formatDate(v.lang, r.departureDate)}${continued}</strong>`;
  if (r.status === "emigrated" && r.departureDate) return html`${pcomma(v)}${v.t("転出日", "departed")} ${formatDate(v.lang, r.departureDate)}${continued}`;
  return "";
}
