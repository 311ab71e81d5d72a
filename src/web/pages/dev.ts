import { html, type SafeHtml } from "../html.ts";
import type { CaView, ResidentRow } from "../../services/resident-view.ts";
import { KNOWN_MUNICIPALITIES } from "../../services/resident-view.ts";
import { CERT_NAME, formatDate, formatInstant } from "../i18n.ts";
import { page, type View } from "../layout.ts";
import { csrfField, errorFor, field, problemNotice, selectField, successNotice, type Problem } from "../forms.ts";
import { stateBadge } from "./common.ts";
import { CARD_STATUS, RESIDENT_STATUS } from "./counter/common.ts";

export type DevForm = "resident" | "card" | "move" | "loss";

export interface DevState {
  baseUrl: string;
  cas: CaView[];
  rows: ResidentRow[];
  /** What the last action did (after its redirect). */
  done?: { kind: "resident" | "card" | "move" | "loss"; id: string; detail?: string };
  failed?: { form: DevForm; problem: Problem; values: Record<string, string>; target?: string };
}

const GENDERS = [
  { value: "1", ja: "男性", en: "Male" },
  { value: "2", ja: "女性", en: "Female" },
  { value: "3", ja: "不明", en: "Unknown" },
];

/** The developer console: CAs, CRL and OCSP URLs and state, test residents and cards. */
export function devPage(v: View, s: DevState): string {
  const t = v.t;
  const failed = (form: DevForm, target?: string) => (s.failed && s.failed.form === form && (target === undefined || s.failed.target === target) ? s.failed : undefined);
  const residentFail = failed("resident");
  const cardFail = failed("card");
  const val = (f: typeof residentFail, name: string, fallback = "") => f?.values[name] ?? fallback;
  const body = html`
<h1>${t("開発者向けコンソール", "Developer console")}</h1>
<p class="lead">${t("依拠当事者（電子証明書を受け付けるサービス）を作る方が、1分で試験の準備をするためのページです。", "For developers of relying parties (services that accept these certificates): set up a test in a minute.")}</p>
${s.done ? doneNotice(v, s.done) : ""}

<h2 id="status">${t("認証局と失効情報", "CAs and revocation data")}</h2>
<table>
<thead><tr><th scope="col">${t("認証局", "CA")}</th><th scope="col">${t("CA証明書", "CA certificate")}</th><th scope="col">CRL</th><th scope="col">OCSP</th></tr></thead>
<tbody>
${s.cas.map(
  (ca) => html`<tr><th scope="row">${t(CERT_NAME[ca.type].ja.replace("電子証明書", "認証局"), ca.type === "sign" ? "Signing CA" : "User-authentication CA")}</th>
<td><a href="/ca/${ca.type}.crt">${s.baseUrl}/ca/${ca.type}.crt</a><br><span class="muted">SHA-256:</span> <code>${ca.sha256}</code></td>
<td><a href="/crl/${ca.type}.crl">${s.baseUrl}/crl/${ca.type}.crl</a><br>${
    ca.crl
      ? html`${t("CRL番号", "CRL number")}: ${ca.crl.number}<br>${t("発行", "This update")}: ${formatInstant(v.lang, ca.crl.thisUpdate)}<br>${t("次回更新", "Next update")}: ${formatInstant(v.lang, ca.crl.nextUpdate)}`
      : t("まだ作成できません", "not available")
  }</td>
<td><code>${s.baseUrl}/ocsp/${ca.type}</code><br><span class="muted">POST (RFC 6960), GET (RFC 5019)</span></td></tr>`,
)}
</tbody>
</table>
<p>${t("カードでのログインは OpenID Connect でも使えます", "Card login is also offered over OpenID Connect")}: <a href="/oidc/.well-known/openid-configuration">${s.baseUrl}/oidc/.well-known/openid-configuration</a></p>

<h2 id="new-resident">${t("試験用の住民を作る", "Create a test resident")}</h2>
<form method="post" action="/dev/residents" novalidate>
${csrfField(v)}
${problemNotice(v, residentFail?.problem, { name: "r-name", birth: "r-birth", gender: "r-gender", address: "r-address", municipality: "r-municipality" })}
${field(v, { id: "r-name", name: "name", label: t("氏名", "Name"), hint: t("姓と名の間に空白を入れてください（例：町田 花子）", "Family name, a space, given name (e.g. 町田 花子)"), required: true, value: val(residentFail, "name"), ...(errorFor(v, residentFail?.problem, "name") ? { error: errorFor(v, residentFail?.problem, "name")! } : {}) })}
${field(v, { id: "r-birth", name: "birth", type: "date", label: t("生年月日", "Date of birth"), hint: t("15歳未満の方には署名用電子証明書は発行されません", "No signing certificate is issued under 15"), required: true, value: val(residentFail, "birth", "1990-01-02"), ...(errorFor(v, residentFail?.problem, "birth") ? { error: errorFor(v, residentFail?.problem, "birth")! } : {}) })}
${selectField(v, { id: "r-gender", name: "gender", label: t("性別", "Gender"), required: true, value: val(residentFail, "gender", "2"), options: GENDERS.map((g) => ({ value: g.value, label: t(g.ja, g.en) })), ...(errorFor(v, residentFail?.problem, "gender") ? { error: errorFor(v, residentFail?.problem, "gender")! } : {}) })}
${field(v, { id: "r-address", name: "address", label: t("住所", "Address"), required: true, value: val(residentFail, "address", "東京都町田市森野２－２－２２"), ...(errorFor(v, residentFail?.problem, "address") ? { error: errorFor(v, residentFail?.problem, "address")! } : {}) })}
${selectField(v, { id: "r-municipality", name: "municipality", label: t("市区町村", "Municipality"), required: true, value: val(residentFail, "municipality", "132098"), options: KNOWN_MUNICIPALITIES.map((m) => ({ value: m.code, label: `${m.prefectureJa}${m.cityJa}（${m.code}）` })) })}
<div class="actions"><button type="submit">${t("住民を作る", "Create the resident")}</button></div>
</form>

<h2 id="new-card">${t("カードを発行する", "Issue a card")}</h2>
${s.rows.length === 0
    ? html`<p>${t("先に住民を作ってください。", "Create a resident first.")}</p>`
    : html`<form method="post" action="/dev/cards" novalidate>
${csrfField(v)}
${problemNotice(v, cardFail?.problem, { residentId: "c-resident", "auth-pin": "c-auth", "sign-pin": "c-sign", "kenhojo-pin": "c-kenhojo" })}
${selectField(v, { id: "c-resident", name: "residentId", label: t("住民", "Resident"), required: true, value: val(cardFail, "residentId", s.done?.kind === "resident" ? s.done.id : ""), options: s.rows.filter((r) => r.resident.status === "registered").map((r) => ({ value: r.resident.id, label: `${r.resident.name}（${r.resident.id}）` })) })}
${field(v, { id: "c-auth", name: "authPin", type: "password", label: t("利用者証明用の暗証番号（数字4桁）", "Authentication PIN (4 digits)"), hint: t("利用者証明用電子証明書が不要な場合は空欄のまま下のチェックを入れてください。", "Leave it empty and tick the box below if no authentication certificate is wanted."), inputmode: "numeric", maxlength: 4, autocomplete: "new-password", ...(errorFor(v, cardFail?.problem, "auth-pin") ? { error: errorFor(v, cardFail?.problem, "auth-pin")! } : {}) })}
${field(v, { id: "c-sign", name: "signPin", type: "password", label: t("署名用の暗証番号（英数字6〜16桁）", "Signing password (6–16 letters and digits)"), hint: t("英字と数字の両方を含めてください。署名用電子証明書が不要な場合は空欄のまま下のチェックを入れてください。", "Include a letter and a digit. Leave it empty and tick the box below if no signing certificate is wanted."), maxlength: 16, autocomplete: "new-password", ...(errorFor(v, cardFail?.problem, "sign-pin") ? { error: errorFor(v, cardFail?.problem, "sign-pin")! } : {}) })}
${field(v, { id: "c-kenhojo", name: "kenhojoPin", type: "password", label: t("券面事項入力補助用の暗証番号（数字4桁）", "Card-data PIN (券面事項入力補助, 4 digits)"), hint: t("空欄なら利用者証明用と同じ暗証番号になります。利用者証明用電子証明書を搭載しない場合は必須です。", "Empty: the same as the authentication PIN. Required when no authentication certificate is loaded."), inputmode: "numeric", maxlength: 4, autocomplete: "new-password", ...(errorFor(v, cardFail?.problem, "kenhojo-pin") ? { error: errorFor(v, cardFail?.problem, "kenhojo-pin")! } : {}) })}
<div class="choice"><input type="checkbox" id="c-noauth" name="noAuth" value="1"${val(cardFail, "noAuth") ? html` checked` : ""}><label for="c-noauth">${t("利用者証明用電子証明書を搭載しない", "No authentication certificate")}</label></div>
<div class="choice"><input type="checkbox" id="c-nosign" name="noSign" value="1"${val(cardFail, "noSign") ? html` checked` : ""}><label for="c-nosign">${t("署名用電子証明書を搭載しない", "No signing certificate")}</label></div>
<div class="actions"><button type="submit" data-busy="${t("カードを作っています…", "Making the card…")}">${t("カードを発行する", "Issue the card")}</button></div>
</form>`}

<h2 id="residents">${t("試験用の住民とカード", "Test residents and cards")}</h2>
${s.rows.length === 0 ? html`<p>${t("まだいません。", "None yet.")}</p>` : s.rows.map((row) => residentBlock(v, row, s))}

<h2 id="attach">${t("カードをPC/SCにつなぐ", "Attach a card to PC/SC")}</h2>
<p>${t("仮想カードを vpcd 経由で pcscd に見せると、OpenSC などの PC/SC のプログラムから実物のカードと同じように使えます。", "Shown to pcscd through vpcd, a virtual card can be used by any PC/SC program (OpenSC…) like a real one.")}</p>
<pre><code>openjpki card attach --card C-XXXXXXXXXX</code></pre>
`;
  return page(v, { title: t("開発者向けコンソール", "Developer console"), body, hasError: s.failed !== undefined });
}

function doneNotice(v: View, done: NonNullable<DevState["done"]>): SafeHtml {
  const t = v.t;
  switch (done.kind) {
    case "resident":
      return successNotice(t("住民を作りました", "Resident created"), html`<p>${t("住民ID", "Resident ID")}: <span class="mono">${done.id}</span>。<a href="#new-card">${t("続けてカードを発行する", "Now issue a card")}</a></p>`);
    case "card":
      return successNotice(t("カードを発行しました", "Card issued"), html`<p>${t("カードID", "Card ID")}: <span class="mono">${done.id}</span>。<a href="/resident">${t("マイページでログインする", "Log in on My page")}</a></p>`);
    case "move":
      return successNotice(t("住所を変更しました", "Address changed"), html`<p>${t("失効した電子証明書", "Revoked certificates")}: ${done.detail || t("なし", "none")}</p>`);
    case "loss":
      return successNotice(t("紛失を届け出ました", "Loss reported"), html`<p>${t("一時保留にした電子証明書", "Certificates put on hold")}: ${done.detail || t("なし", "none")}</p>`);
  }
}

function residentBlock(v: View, row: ResidentRow, s: DevState): SafeHtml {
  const t = v.t;
  const r = row.resident;
  const moveFail = s.failed?.form === "move" && s.failed.target === r.id ? s.failed : undefined;
  return html`<section class="card" aria-labelledby="res-${r.id}" style="margin-bottom:1rem">
<h3 id="res-${r.id}">${r.name} <span class="mono muted">${r.id}</span></h3>
<p>${t("生年月日", "Born")}: ${formatDate(v.lang, r.birth)}　${t("住所", "Address")}: ${r.address}（${r.municipality.cityJa}）　${t("状態", "Status")}: ${RESIDENT_STATUS[r.status] ? t(RESIDENT_STATUS[r.status]!.ja, RESIDENT_STATUS[r.status]!.en) : r.status}</p>
${row.cards.length === 0 ? html`<p>${t("カードはまだありません。", "No card yet.")}</p>` : ""}
${row.cards.map(
  ({ card, certificates }) => html`<table>
<caption>${t("カード", "Card")} <span class="mono">${card.id}</span>（${CARD_STATUS[card.status] ? t(CARD_STATUS[card.status]!.ja, CARD_STATUS[card.status]!.en) : card.status}、${t("有効期限", "expires")} ${formatDate(v.lang, card.expires)}）</caption>
<thead><tr><th scope="col">${t("電子証明書", "Certificate")}</th><th scope="col">${t("状態", "State")}</th><th scope="col">${t("有効期限", "Expires")}</th><th scope="col">${t("シリアル番号", "Serial")}</th></tr></thead>
<tbody>${certificates.map((c) => html`<tr><td>${t(CERT_NAME[c.type].ja, CERT_NAME[c.type].en)}</td><td>${stateBadge(v, c.state)}</td><td>${formatDate(v.lang, c.expires)}</td><td class="mono">${c.serialHex}</td></tr>`)}</tbody>
</table>
${card.status === "active" && certificates.some((c) => c.state === "valid")
    ? html`<form method="post" action="/dev/cards/${card.id}/loss" class="inline-form">${csrfField(v)}<button type="submit" class="button--danger">${t("紛失を届け出る（一時保留）", "Report lost (hold)")}<span class="visually-hidden">${t(`：カード ${card.id}`, `: card ${card.id}`)}</span></button></form>`
    : ""}
${s.failed?.form === "loss" && s.failed.target === card.id ? problemNotice(v, s.failed.problem) : ""}
<p class="muted">${t("PC/SCにつなぐ", "Attach to PC/SC")}: <code>openjpki card attach --card ${card.id}</code></p>`,
)}
${r.status === "registered"
    ? html`<form method="post" action="/dev/residents/${r.id}/move" class="inline-form" novalidate>
${csrfField(v)}
${problemNotice(v, moveFail?.problem)}
${field(v, { id: `move-${r.id}`, name: "address", label: t("転居先の住所", "New address"), required: true, value: moveFail?.values.address ?? "", ...(moveFail ? { error: errorFor(v, moveFail.problem, "address") ?? "" } : {}) })}
<button type="submit" class="button--secondary">${t("転居を記録する", "Record the move")}</button>
</form>`
    : ""}
</section>`;
}
