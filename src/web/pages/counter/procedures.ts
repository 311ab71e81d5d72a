import { html, type SafeHtml } from "../../html.ts";
import type { StaffMember } from "../../../services/counter/staff.ts";
import type { ProxyStatus } from "../../../services/counter/procedures.ts";
import type { Resident } from "../../../services/registry.ts";
import type { Card } from "../../../services/cards.ts";
import type { CardView } from "../../../services/resident-view.ts";
import { KNOWN_MUNICIPALITIES } from "../../../services/resident-view.ts";
import { CERT_NAME, formatDate } from "../../i18n.ts";
import type { View } from "../../layout.ts";
import { csrfField, field, selectField, type Problem } from "../../forms.ts";
import { stateBadge } from "../common.ts";
import {
  APPLICATION_KIND,
  APPLICATION_STATE,
  CARD_STATUS,
  GENDERS,
  LEGAL_REPRESENTATIVE_FIELD_IDS,
  counterPage,
  counterProblem,
  fieldError,
  identityFields,
  label,
  legalRepresentativeFields,
  pinPad,
  po,
  pc,
  pcomma,
} from "./common.ts";

/** The window procedures on a card, as the console's URLs name them. */
export type ProcedureSlug =
  | "handover"
  | "renewal"
  | "new-issuance"
  | "revocation"
  | "pin-init"
  | "loss-report"
  | "found"
  | "return"
  | "reissue"
  | "suspend"
  | "lift-suspension"
  | "proxy";

export const PROCEDURES: Record<ProcedureSlug, { ja: string; en: string; dja: string; den: string }> = {
  handover: { ja: "カードの交付", en: "Hand over the card", dja: "本人確認のうえ交付日を記録", den: "Identity check, 交付日 recorded" },
  renewal: { ja: "電子証明書の更新", en: "Renewal", dja: "有効期限の3か月前から", den: "From 3 months before expiry" },
  "new-issuance": { ja: "電子証明書の新規発行", en: "New issuance", dja: "有効な証明書がない種類", den: "A type with no valid certificate" },
  revocation: { ja: "失効申請", en: "Revocation on request", dja: "本人の申出による失効", den: "The holder asks" },
  "pin-init": { ja: "暗証番号の初期化", en: "PIN initialisation", dja: "ロックの解除・新しい暗証番号", den: "Unlock and set a new PIN" },
  "loss-report": { ja: "紛失の届出", en: "Loss report", dja: "証明書を一時保留・カード停止", den: "Hold certificates, suspend card" },
  found: { ja: "紛失カードの発見", en: "Lost card found", dja: "保留中の証明書を失効し再発行", den: "Revoke held ones, issue new" },
  return: { ja: "カードの返納", en: "Card return", dja: "両方の証明書が失効", den: "Both certificates revoked" },
  reissue: { ja: "カードの再交付", en: "Reissue", dja: "紛失・盗難・破損。手数料あり", den: "Loss, theft, damage; may cost" },
  suspend: { ja: "カードの一時停止", en: "Suspend the card", dja: "カードの状態のみ変更", den: "Card state only" },
  "lift-suspension": { ja: "一時停止の解除", en: "Lift the suspension", dja: "再交付前に見つかった場合", den: "Found before a reissue" },
  proxy: { ja: "代理人による申請", en: "Proxy application", dja: "照会書兼回答書を送付", den: "Inquiry letter sent" },
};

export function isProcedureSlug(value: string): value is ProcedureSlug {
  return Object.hasOwn(PROCEDURES, value);
}

/** The procedures offered for a card in its current state (the services still decide). */
export function proceduresFor(card: Card): ProcedureSlug[] {
  if (card.status === "active") {
    return [...(card.handedOverDate ? [] : (["handover"] as const)), "renewal", "new-issuance", "pin-init", "revocation", "loss-report", "suspend", "reissue", "return", "proxy"];
  }
  if (card.status === "suspended") return ["found", "lift-suspension", "revocation", "reissue", "return"];
  return [];
}

export interface ProcedureState {
  kind: ProcedureSlug;
  resident: Resident;
  card: Card;
  reader?: CardView;
  problem?: Problem;
  values: Record<string, string>;
}

const FIELD_IDS: Record<string, string> = {
  types: "type-auth",
  "new-pin": "new-pin",
  newPin: "new-pin",
  "auth-pin": "auth-pin",
  "sign-pin": "sign-pin",
  "auth-pin-confirm": "auth-pin-confirm",
  "sign-pin-confirm": "sign-pin-confirm",
  "new-pin-confirm": "new-pin-confirm",
  "kenhojo-pin": "kenhojo-pin",
  "kenhojo-pin-confirm": "kenhojo-pin-confirm",
  identity: "identity-document",
  "identity.document": "identity-document",
  "identity.note": "identity-note",
  reason: "reissue-reason",
  causedByHolder: "caused-yes",
  policeReportNumber: "police",
  pinType: "pin-type-auth",
  kind: "proxy-kind",
  "proxy.name": "proxy-name",
  "proxy.relationship": "proxy-relationship",
  "proxy.type": "proxy-type",
  answerCode: "answer-code",
  "proxyIdentity.name": "proxy-identity-name",
  name: "e-name",
  address: "e-address",
  municipality: "e-municipality",
  birth: "e-birth",
  gender: "e-gender",
  "residence-end": "e-residence-end",
  residenceEnd: "e-residence-end",
  ...LEGAL_REPRESENTATIVE_FIELD_IDS,
};

function checkbox(id: string, name: string, labelText: string, checked: boolean, describedBy?: string): SafeHtml {
  return html`<div class="choice"><input type="checkbox" id="${id}" name="${name}" value="1"${checked ? html` checked` : ""}${describedBy ? html` aria-describedby="${describedBy}"` : ""}><label for="${id}">${labelText}</label></div>`;
}

function radio(id: string, name: string, value: string, labelText: string, checked: boolean): SafeHtml {
  return html`<div class="choice"><input type="radio" id="${id}" name="${name}" value="${value}"${checked ? html` checked` : ""}><label for="${id}">${labelText}</label></div>`;
}

/** Which certificates: a group of two checkboxes (the form posts typeAuth / typeSign). */
function typesFields(v: View, s: { values: Record<string, string>; problem?: Problem | undefined }, legend: string, defaults: { auth: boolean; sign: boolean }): SafeHtml {
  const err = fieldError(v, s.problem, "types");
  const submitted = s.values.submitted === "1";
  const on = (k: "auth" | "sign") => (submitted ? s.values[k === "auth" ? "typeAuth" : "typeSign"] === "1" : defaults[k]);
  return html`<fieldset${"error" in err ? html` aria-describedby="types-error"` : ""}>
<legend>${legend}</legend>
${"error" in err ? html`<span class="field-error" id="types-error">${err.error}</span>` : ""}
${checkbox("type-auth", "typeAuth", v.t(CERT_NAME.auth.ja, CERT_NAME.auth.en), on("auth"))}
${checkbox("type-sign", "typeSign", v.t(CERT_NAME.sign.ja, CERT_NAME.sign.en), on("sign"))}
</fieldset>`;
}

function currentCertificates(v: View, reader: CardView | undefined): SafeHtml {
  const t = v.t;
  if (!reader) return html``;
  const rows = (["auth", "sign"] as const).map((type) => {
    const c = reader.certificates[type];
    return html`<tr><th scope="row">${t(CERT_NAME[type].ja, CERT_NAME[type].en)}</th><td>${c ? html`${stateBadge(v, c.state)} ${t("有効期限", "expires")} ${formatDate(v.lang, c.expires)}${pcomma(v)}${t("更新できる日", "renewal from")} <strong class="renewal-from">${formatDate(v.lang, c.renewalFrom)}</strong>` : t("なし", "none")}</td></tr>`;
  });
  return html`<table class="current-certs"><caption>${t("このカードの電子証明書", "Certificates on this card")}</caption><tbody>${rows}</tbody></table>`;
}

function intro(v: View, kind: ProcedureSlug): SafeHtml {
  const t = v.t;
  switch (kind) {
    case "handover":
      return html`<p>${t("作製したカードを住民の方にお渡しします。本人確認をして、本日を交付日として記録します（電子証明書の発行日は作製日のままです）。", "Hand the produced card to the resident. Check their identity; today is recorded as the handover date (the certificates keep the production date as their issuance date).")}</p>`;
    case "renewal":
      return html`<p>${t("有効期限の3か月前から更新できます。新しい電子証明書をカードに書き込み、古い電子証明書は失効します。暗証番号は変えなければ今のままです。", "Renewal opens three months before expiry. New certificates are written to the card and the old ones revoked. PINs stay as they are unless new ones are entered.")}</p>`;
    case "new-issuance":
      return html`<p>${t("有効な電子証明書がない種類（未発行・期限切れ・失効）を新しく発行します。住民の方に暗証番号を設定していただきます。", "Issue a certificate of a type the card holds no valid one of (never issued, expired or revoked). The resident sets the PIN.")}</p>`;
    case "revocation":
      return html`<p>${t("本人の申出により電子証明書を失効させます。失効した電子証明書は元に戻せません。", "Revoke certificates at the holder's request. A revoked certificate cannot be restored.")}</p>`;
    case "pin-init":
      return html`<p>${t("暗証番号を忘れた・ロックされた場合に、住民の方が新しい暗証番号を入力パッドで設定します。残り回数は元に戻ります。", "When a PIN is forgotten or locked, the resident types a new one on the PIN pad; its tries are restored.")}</p>`;
    case "loss-report":
      return html`<p>${t("紛失・盗難の届出です（24時間の電話受付と同じ）。両方の電子証明書を一時保留にし、カードを一時停止します。一時保留は解除されません。", "A loss or theft report (as on the 24-hour line): both certificates go on hold and the card is suspended. A hold is never lifted.")}</p>`;
    case "found":
      return html`<p>${t("紛失を届け出たカードが見つかった場合：一時保留の電子証明書を失効させ、新しい電子証明書を発行します。住民の方に暗証番号を設定していただきます。", "A card reported lost has been found: the held certificates are revoked and new ones issued. The resident sets the PINs.")}</p>`;
    case "return":
      return html`<p>${t("カードの返納を受け付けます。両方の電子証明書が失効し、カードは使えなくなります。", "Receive the returned card. Both certificates are revoked and the card can no longer be used.")}</p>`;
    case "reissue":
      return html`<p>${t("紛失・盗難・破損などで新しいカードを作ります。古いカードの電子証明書は失効します。本人の責めによる場合は手数料（カード＋電子証明書）がかかります。盗難で警察の受理番号がある場合、カードの不具合、有効期限の3か月前以降は無料です。", "Make a new card after a loss, theft or damage; the old card's certificates are revoked. When the holder caused it there is a fee (card + certificates); free for a theft with a police report, a fault of the card, or within three months of the old card's expiry.")}</p>`;
    case "suspend":
      return html`<p>${t("カードを一時停止します（カードの状態のみ。電子証明書は変わりません）。", "Suspend the card (card state only; the certificates are not touched).")}</p>`;
    case "lift-suspension":
      return html`<p>${t("再交付の前にカードが見つかった場合、一時停止を解除します。一時保留の電子証明書は保留のままで、「紛失カードの発見」の手続きが必要です。", "The card turned up before a reissue: lift its suspension. Certificates on hold stay on hold and need the card-found procedure.")}</p>`;
    case "proxy":
      return html`<p>${t("代理人による申請（1回目の来庁）です。申請は回答待ちになり、住民の方の住所あてに照会書兼回答書を送ります。代理人は翌日以降、回答書と本人確認書類を持って再来庁します（法定代理人、委任状のある同一世帯員は当日も可）。", "A proxy applies (first visit). The application waits and the inquiry letter (照会書兼回答書) goes to the holder's address. The proxy comes back from the next day with the answer form and ID (a legal representative, or a household member with a letter of attorney, may finish the same day).")}</p>`;
  }
}

function kindFields(v: View, s: ProcedureState): SafeHtml {
  const t = v.t;
  const p = s.problem;
  // The procedures that require the identity check are the holder's own, so their legal representative may apply (the suspension is taken from anyone).
  const idf = (required: boolean) => html`${identityFields(v, { required, values: s.values, problem: p })}${required ? legalRepresentativeFields(v, { values: s.values, problem: p }) : ""}`;
  const certs = s.reader?.certificates ?? {};
  switch (s.kind) {
    case "handover":
    case "return":
    case "lift-suspension":
      return idf(true);
    case "suspend":
      return idf(false);
    case "loss-report":
      return html``;
    case "renewal":
      return html`${typesFields(v, s, t("更新する電子証明書", "Certificates to renew"), { auth: certs.auth?.state === "valid", sign: certs.sign?.state === "valid" })}
${idf(true)}
${pinPad(v, { pins: ["auth", "sign"], required: false, problem: p, hint: t("暗証番号を変える場合だけ、住民の方に入力していただきます（空欄なら今の暗証番号のまま）。表示も記録もされません。", "Only if the resident wants new PINs (empty keeps the current ones). Never shown or recorded.") })}`;
    case "new-issuance":
      return html`${typesFields(v, s, t("発行する電子証明書", "Certificates to issue"), { auth: certs.auth?.state !== "valid", sign: certs.sign?.state !== "valid" })}
${idf(true)}
${pinPad(v, { pins: ["auth", "sign"], required: false, problem: p, hint: t("発行する電子証明書の暗証番号を、住民の方に2回ずつ入力していただきます。表示も記録もされません。", "The resident types the PIN of each certificate issued, twice. Never shown or recorded.") })}`;
    case "revocation":
      return html`${typesFields(v, s, t("失効させる電子証明書", "Certificates to revoke"), { auth: false, sign: false })}
${idf(true)}`;
    case "pin-init": {
      const chosen = s.values.pinType === "sign" ? "sign" : s.values.pinType === "auth" ? "auth" : s.reader?.triesLeft.sign === 0 && s.reader?.triesLeft.auth !== 0 ? "sign" : "auth";
      const err = fieldError(v, p, "pinType");
      return html`<fieldset${"error" in err ? html` aria-describedby="pin-type-error"` : ""}>
<legend>${t("初期化する暗証番号", "PIN to initialise")}</legend>
${"error" in err ? html`<span class="field-error" id="pin-type-error">${err.error}</span>` : ""}
${radio("pin-type-auth", "pinType", "auth", t("利用者証明用（数字4桁）", "Authentication PIN (4 digits)"), chosen === "auth")}
${radio("pin-type-sign", "pinType", "sign", t("署名用（英数字6〜16桁）", "Signing password (6–16 letters and digits)"), chosen === "sign")}
</fieldset>
${idf(true)}
${pinPad(v, { pins: ["new"], required: true, problem: p })}`;
    }
    case "found":
      return html`${idf(true)}
${pinPad(v, { pins: ["auth", "sign"], required: false, problem: p, hint: t("新しく発行する電子証明書の暗証番号です。不要と申し出のあった電子証明書は、暗証番号を空欄にして下のチェックを入れます。表示も記録もされません。", "PINs for the new certificates: for one the resident does not want, leave its PIN empty and tick the box below. Never shown or recorded.") })}
${checkbox("no-auth", "noAuth", t("利用者証明用電子証明書を発行しない", "No new authentication certificate"), s.values.noAuth === "1")}
${checkbox("no-sign", "noSign", t("署名用電子証明書を発行しない", "No new signing certificate"), s.values.noSign === "1")}`;
    case "reissue": {
      const reasons = [
        { value: "loss", ja: "紛失", en: "Loss" },
        { value: "theft", ja: "盗難", en: "Theft" },
        { value: "damage", ja: "破損・汚損", en: "Damage" },
        { value: "malfunction", ja: "カードの不具合", en: "Card fault" },
        { value: "other", ja: "その他", en: "Other" },
      ];
      const caused = s.values.causedByHolder ?? "yes";
      const err = fieldError(v, p, "causedByHolder");
      return html`${selectField(v, { id: "reissue-reason", name: "reason", label: t("再交付の理由", "Reason"), required: true, value: s.values.reason ?? "loss", options: reasons.map((r) => ({ value: r.value, label: t(r.ja, r.en) })), ...fieldError(v, p, "reason") })}
<fieldset${"error" in err ? html` aria-describedby="caused-error"` : ""}><legend>${t("本人の責めによるものか", "Caused by the holder?")}</legend>
${"error" in err ? html`<span class="field-error" id="caused-error">${err.error}</span>` : ""}
${radio("caused-yes", "causedByHolder", "yes", t("はい（手数料がかかります）", "Yes (a fee is charged)"), caused === "yes")}
${radio("caused-no", "causedByHolder", "no", t("いいえ（盗難で警察に届出済み、カードの不具合など）", "No (theft reported to the police, a card fault…)"), caused === "no")}
</fieldset>
${field(v, { id: "police", name: "policeReportNumber", label: t("警察の受理番号（盗難の場合）", "Police report number (theft)"), value: s.values.policeReportNumber ?? "", maxlength: 40, ...fieldError(v, p, "policeReportNumber") })}
${idf(true)}
${pinPad(v, { pins: ["auth", "sign", "kenhojo"], required: false, problem: p, hint: t("新しいカードの暗証番号です。不要と申し出のあった電子証明書は、暗証番号を空欄にして下のチェックを入れます。表示も記録もされません。", "PINs for the new card: for a certificate the resident does not want, leave its PIN empty and tick the box below. Never shown or recorded.") })}
${checkbox("no-auth", "noAuth", t("利用者証明用電子証明書を搭載しない", "No authentication certificate"), s.values.noAuth === "1")}
${checkbox("no-sign", "noSign", t("署名用電子証明書を搭載しない", "No signing certificate"), s.values.noSign === "1")}`;
    }
    case "proxy": {
      const kinds = ["renewal", "new-issuance", "pin-init", "revocation"] as const;
      return html`${selectField(v, { id: "proxy-kind", name: "kind", label: t("代理人が申請する手続き", "Procedure applied for"), required: true, value: s.values.kind ?? "renewal", options: kinds.map((k) => ({ value: k, label: label(v, APPLICATION_KIND, k) })), ...fieldError(v, p, "kind") })}
${typesFields(v, s, t("対象の電子証明書（更新・新規発行・失効の場合）", "Certificates (renewal, new issuance, revocation)"), { auth: true, sign: true })}
<fieldset><legend>${t("初期化する暗証番号（暗証番号の初期化の場合）", "PIN to initialise (PIN initialisation)")}</legend>
${radio("pin-type-auth", "pinType", "auth", t("利用者証明用（数字4桁）", "Authentication PIN (4 digits)"), s.values.pinType !== "sign")}
${radio("pin-type-sign", "pinType", "sign", t("署名用（英数字6〜16桁）", "Signing password (6–16 letters and digits)"), s.values.pinType === "sign")}
</fieldset>
<fieldset><legend>${t("代理人", "The proxy")}</legend>
${field(v, { id: "proxy-name", name: "proxyName", label: t("代理人の氏名", "Proxy's name"), required: true, value: s.values.proxyName ?? "", maxlength: 100, ...fieldError(v, p, "proxy.name") })}
${field(v, { id: "proxy-relationship", name: "proxyRelationship", label: t("本人との関係", "Relationship to the holder"), required: true, value: s.values.proxyRelationship ?? "", maxlength: 50, ...fieldError(v, p, "proxy.relationship") })}
${selectField(v, { id: "proxy-type", name: "proxyType", label: t("代理人の種類", "Kind of proxy"), value: s.values.proxyType ?? "appointed", options: [
          { value: "appointed", label: t("任意代理人", "Appointed proxy") },
          { value: "legal", label: t("法定代理人", "Legal representative") },
          { value: "household", label: t("同一世帯員", "Household member") },
        ], ...fieldError(v, p, "proxy.type") })}
${checkbox("letter", "letterOfAttorney", t("委任状あり", "Letter of attorney given"), s.values.letterOfAttorney === "1")}
</fieldset>
${identityFields(v, { required: false, values: s.values, problem: p, legend: t("代理人の本人確認", "The proxy's identity check") })}`;
    }
  }
}

/** One window procedure as a guided form on the card in the reader. */
export function procedurePage(v: View, staff: StaffMember, s: ProcedureState): string {
  const t = v.t;
  const title = t(PROCEDURES[s.kind].ja, PROCEDURES[s.kind].en);
  const danger = s.kind === "revocation" || s.kind === "return" || s.kind === "loss-report";
  const body = html`
<p><a href="/counter/residents/${s.resident.id}?card=${s.card.id}#reader">${t(`← ${s.resident.name} さんの画面へ`, `← Back to ${s.resident.name}`)}</a></p>
<h1>${title}</h1>
<div class="reader"><p class="reader__slot">${t("リーダーにあるカード", "Card in the reader")}: <span class="mono">${s.card.id}</span>${po(v)}${label(v, CARD_STATUS, s.card.status)}${pc(v)}— ${s.resident.name}</p>
${currentCertificates(v, s.reader)}</div>
${intro(v, s.kind)}
${counterProblem(v, s.problem, FIELD_IDS)}
<form method="post" action="/counter/cards/${s.card.id}/${s.kind}" novalidate>
${csrfField(v)}
<input type="hidden" name="submitted" value="1">
${kindFields(v, s)}
<div class="actions"><button type="submit"${danger ? html` class="button--danger"` : ""} data-busy="${t("処理しています…", "Working…")}">${t(`${PROCEDURES[s.kind].ja}を実行する`, `${PROCEDURES[s.kind].en}: confirm`)}</button>
<a href="/counter/residents/${s.resident.id}?card=${s.card.id}#reader">${t("やめる", "Cancel")}</a></div>
</form>`;
  return counterPage(v, staff, { title, body, hasError: s.problem !== undefined });
}

/** Card application and production: the resident sets both PINs on the pad. */
export function cardApplyPage(v: View, staff: StaffMember, s: { resident: Resident; problem?: Problem; values: Record<string, string> }): string {
  const t = v.t;
  const body = html`
<p><a href="/counter/residents/${s.resident.id}">${t(`← ${s.resident.name} さんの画面へ`, `← Back to ${s.resident.name}`)}</a></p>
<h1>${t("カードの交付申請・作製", "Card application and production")}</h1>
<p>${t("カードを作製し、両方の電子証明書を搭載します（不要と申し出のあったものを除く。その日が電子証明書の発行日）。作製後に交付通知書（PDF）を印刷できます。初めてのカード、期限切れ・返納後の新しいカードは無料です。", "The card is produced with both certificates, unless the resident says one is not wanted (that day is their issuance date); the issuance notice (PDF) can then be printed. A first card, or a new one after expiry or return, is free.")}</p>
<p>${t("住民", "Resident")}: <strong>${s.resident.name}</strong>${po(v)}${formatDate(v.lang, s.resident.birth)}${t("生", "")}${pc(v)}</p>
${counterProblem(v, s.problem, { ...FIELD_IDS, residentId: "auth-pin" })}
<form method="post" action="/counter/residents/${s.resident.id}/apply" novalidate>
${csrfField(v)}
${legalRepresentativeFields(v, { values: s.values, problem: s.problem })}
${pinPad(v, { pins: ["auth", "sign", "kenhojo"], required: false, problem: s.problem, hint: t("住民の方に暗証番号を2回ずつ入力していただきます。不要と申し出のあった電子証明書（署名用は15歳未満なども）は、暗証番号を空欄のまま下のチェックを入れます。表示も記録もされません。", "The resident types each PIN twice. For a certificate the resident does not want (or a signing certificate under 15), leave its PIN empty and tick the box below. Never shown or recorded.") })}
${checkbox("no-auth", "noAuth", t("利用者証明用電子証明書を搭載しない", "No authentication certificate"), s.values.noAuth === "1")}
${checkbox("no-sign", "noSign", t("署名用電子証明書を搭載しない", "No signing certificate"), s.values.noSign === "1")}
<div class="actions"><button type="submit" data-busy="${t("カードを作製しています…", "Producing the card…")}">${t("カードを作製する", "Produce the card")}</button></div>
</form>`;
  return counterPage(v, staff, { title: t("カードの交付申請・作製", "Card application"), body, hasError: s.problem !== undefined });
}

export type EventSlug = "change" | "residence-period" | "death" | "emigration" | "emigration-withdrawal";
export const EVENTS: Record<EventSlug, { ja: string; en: string }> = {
  change: { ja: "転居・氏名変更など（4情報の変更）", en: "Move, name change… (the four attributes)" },
  "residence-period": { ja: "在留期間の変更", en: "Period of stay changed" },
  death: { ja: "死亡", en: "Death" },
  emigration: { ja: "国外転出", en: "Emigration" },
  "emigration-withdrawal": { ja: "国外転出の取消", en: "Emigration withdrawn" },
};
export function isEventSlug(value: string): value is EventSlug {
  return Object.hasOwn(EVENTS, value);
}

/** The day of departure of a filed emigration that can still be withdrawn (before that day); undefined otherwise. */
export function withdrawableDeparture(r: Resident, today: string): string | undefined {
  // YYYY-MM-DD strings order as the dates do.
  return r.status === "registered" && r.departureDate !== null && r.departureDate > today ? r.departureDate : undefined;
}

/** A register event (住民票の異動) and what it revokes. */
export function eventPage(v: View, staff: StaffMember, s: { kind: EventSlug; resident: Resident; today: string; readerCard?: string; problem?: Problem; values: Record<string, string> }): string {
  const t = v.t;
  const r = s.resident;
  const p = s.problem;
  let fields: SafeHtml;
  let explain: string;
  switch (s.kind) {
    case "change":
      explain = t("変わった項目だけ入力します（空欄の項目は変わりません）。4情報のどれかが変わると署名用電子証明書は失効します。", "Fill in only what changed (empty fields stay as they are). A change of any of the four attributes revokes the signing certificate.");
      fields = html`${field(v, { id: "e-address", name: "address", label: t("新しい住所（転居）", "New address (move)"), value: s.values.address ?? "", hint: t(`今の住所：${r.address}`, `Now: ${r.address}`), maxlength: 200, ...fieldError(v, p, "address") })}
${selectField(v, { id: "e-municipality", name: "municipality", label: t("転入先の市区町村（市区町村をまたぐ場合）", "New municipality (when moving between municipalities)"), value: s.values.municipality ?? "", options: [{ value: "", label: t("変わらない", "Unchanged") }, ...KNOWN_MUNICIPALITIES.map((m) => ({ value: m.code, label: `${m.prefectureJa}${m.cityJa}${po(v)}${m.code}${pc(v)}` }))], ...fieldError(v, p, "municipality") })}
${field(v, { id: "e-name", name: "name", label: t("新しい氏名", "New name"), value: s.values.name ?? "", hint: t(`今の氏名：${r.name}`, `Now: ${r.name}`), maxlength: 100, ...fieldError(v, p, "name") })}
${field(v, { id: "e-birth", name: "birth", type: "date", label: t("生年月日の訂正", "Corrected date of birth"), value: s.values.birth ?? "", ...fieldError(v, p, "birth") })}
${selectField(v, { id: "e-gender", name: "gender", label: t("性別の変更", "Gender change"), value: s.values.gender ?? "", options: [{ value: "", label: t("変わらない", "Unchanged") }, ...GENDERS.map((g) => ({ value: g.value, label: t(g.ja, g.en) }))], ...fieldError(v, p, "gender") })}`;
      break;
    case "residence-period":
      explain = t("外国人住民の在留期間の満了日が変わった場合に記録します。満了日がなくなった場合（永住など）はチェックを入れます。", "Record a foreign resident's new end of stay. Tick the box when there is no end any more (permanent residence…).");
      fields = html`${field(v, { id: "e-residence-end", name: "residenceEnd", type: "date", label: t("新しい在留期間の満了日", "New end of the period of stay"), value: s.values.residenceEnd ?? "", ...fieldError(v, p, "residence-end", "residenceEnd") })}
${checkbox("e-no-end", "noEnd", t("満了日なし（永住者など）", "No end (permanent resident…)"), s.values.noEnd === "1")}`;
      break;
    case "death":
      explain = t("死亡の届出により住民登録を消除します。両方の電子証明書が失効します。", "The registration ends on the death notification; both certificates are revoked.");
      fields = html`${field(v, { id: "e-death-date", name: "date", type: "date", label: t("死亡日（空欄は本日）", "Day of death (empty: today)"), value: s.values.date ?? "", hint: t("届出が後日の場合、電子証明書はこの日から無効と記録されます", "When reported later, the certificates are recorded as invalid from this day"), ...fieldError(v, p, "date") })}
${checkbox("e-confirm", "confirm", t("死亡届の内容を確認しました", "I have checked the death notification"), false)}`;
      break;
    case "emigration":
      explain = t(
        "国外転出の届出です。転出日に適用されます（それまでは住民登録も電子証明書もそのまま）。カードを継続利用する場合（日本国籍の方、転出日の前日までの届出）、利用者証明用電子証明書は引き続き使え、署名用は転出日に失効し、戸籍の附票の住所で新たに発行できます。",
        "Emigration takes effect on the day of departure (until then the registration and the certificates stay as they are). With continued use of the card (Japanese nationals, filed before the day of departure) the authentication certificate stays usable; the signing certificate is revoked on that day and can be issued again with the 戸籍の附票 address.",
      );
      fields = html`${field(v, { id: "e-departure", name: "departureDate", type: "date", label: t("転出日（空欄は本日）", "Day of departure (empty: today)"), value: s.values.departureDate ?? "", ...fieldError(v, p, "departureDate") })}
<fieldset><legend>${t("カードの継続利用", "Continued use of the card")}</legend>
${radio("e-continued-yes", "continuedUse", "yes", t("継続利用する", "Continued use"), s.values.continuedUse !== "no")}
${radio("e-continued-no", "continuedUse", "no", t("継続利用しない", "No continued use"), s.values.continuedUse === "no")}
</fieldset>
${field(v, { id: "e-abroad-address", name: "abroadAddress", label: t("戸籍の附票に記録される住所（継続利用の場合）", "Address the 戸籍の附票 will record (with continued use)"), value: s.values.abroadAddress ?? "", hint: t("転出後の署名用電子証明書に記載されます", "The signing certificate issued after departure carries it"), maxlength: 200, ...fieldError(v, p, "abroadAddress") })}`;
      break;
    case "emigration-withdrawal": {
      const departure = withdrawableDeparture(r, s.today);
      explain = departure
        ? t(
            `${formatDate("ja", departure)} に転出予定の国外転出の届出を取り消します。住民登録と電子証明書はそのままです。転出日を迎えた後は取り消せません。`,
            `This withdraws the emigration filed for departure on ${formatDate("en", departure)}. The registration and the certificates stay as they are. From the day of departure it can no longer be withdrawn.`,
          )
        : r.status === "registered" && r.departureDate
          ? t(`転出日（${formatDate("ja", r.departureDate)}）を迎えたため、取り消せません。`, `The day of departure (${formatDate("en", r.departureDate)}) has come: the emigration can no longer be withdrawn.`)
          : t("取り消せる国外転出の届出はありません。", "No emigration is filed that could be withdrawn.");
      fields = checkbox("e-confirm", "confirm", t("転出の取消の申出を確認しました", "I have checked the request to withdraw it"), false);
      break;
    }
  }
  const title = t(EVENTS[s.kind].ja, EVENTS[s.kind].en);
  const body = html`
<p><a href="/counter/residents/${r.id}${s.readerCard ? `?card=${s.readerCard}` : ""}">${t(`← ${r.name} さんの画面へ`, `← Back to ${r.name}`)}</a></p>
<h1>${title}</h1>
<p>${t("住民", "Resident")}: <strong>${r.name}</strong> <span class="mono">${r.id}</span></p>
<p>${explain}</p>
${counterProblem(v, p, { ...FIELD_IDS, confirm: "e-confirm", date: "e-death-date", departureDate: "e-departure", abroadAddress: "e-abroad-address", continuedUse: "e-continued-yes" })}
<form method="post" action="/counter/residents/${r.id}/events/${s.kind}${s.readerCard ? `?card=${s.readerCard}` : ""}" novalidate>
${csrfField(v)}
${fields}
<div class="actions"><button type="submit"${s.kind === "death" ? html` class="button--danger"` : ""}>${t("記録する", "Record it")}</button>
<a href="/counter/residents/${r.id}">${t("やめる", "Cancel")}</a></div>
</form>`;
  return counterPage(v, staff, { title, body, hasError: p !== undefined });
}

/** The proxy's second visit: answer code, the proxy's identity, and the PINs when needed. */
export function proxyCompletePage(v: View, staff: StaffMember, s: { status: ProxyStatus; resident: Resident; problem?: Problem; values: Record<string, string> }): string {
  const t = v.t;
  const st = s.status;
  const p = s.problem;
  const pins: ("auth" | "sign" | "new")[] = st.kind === "pin-init" ? ["new"] : st.kind === "revocation" ? [] : ["auth", "sign"];
  const body = html`
<p><a href="/counter/residents/${s.resident.id}">${t(`← ${s.resident.name} さんの画面へ`, `← Back to ${s.resident.name}`)}</a></p>
<h1>${t("代理人の再来庁", "The proxy's second visit")}</h1>
<table><tbody>
<tr><th scope="row">${t("申請番号", "Application")}</th><td class="mono">${st.applicationId}</td></tr>
<tr><th scope="row">${t("手続き", "Procedure")}</th><td>${label(v, APPLICATION_KIND, st.kind)}</td></tr>
<tr><th scope="row">${t("状態", "State")}</th><td>${label(v, APPLICATION_STATE, st.state)}</td></tr>
<tr><th scope="row">${t("代理人", "Proxy")}</th><td>${st.proxy.name}${po(v)}${st.proxy.relationship}${pc(v)}</td></tr>
<tr><th scope="row">${t("申請日・回答期限", "Applied on, answer by")}</th><td>${formatDate(v.lang, st.startedOn)} — ${formatDate(v.lang, st.expiresOn)}</td></tr>
<tr><th scope="row">${t("回答番号の残り回数", "Answer-code tries left")}</th><td>${st.attemptsLeft}</td></tr>
</tbody></table>
${counterProblem(v, p, FIELD_IDS)}
${st.state === "awaiting-proxy"
    ? html`<form method="post" action="/counter/proxy/${st.applicationId}" novalidate>
${csrfField(v)}
${field(v, { id: "answer-code", name: "answerCode", label: t("回答書の回答番号（8桁）", "Answer code on the form (8 digits)"), hint: t("法定代理人・委任状のある同一世帯員が当日手続きする場合は空欄でかまいません。", "May be empty when a legal representative or a household member with a letter of attorney finishes the same day."), inputmode: "numeric", maxlength: 8, autocomplete: "off", value: "", ...fieldError(v, p, "answerCode") })}
${field(v, { id: "proxy-identity-name", name: "proxyIdentityName", label: t("来庁した代理人の氏名", "Name of the proxy present"), required: true, value: s.values.proxyIdentityName ?? "", maxlength: 100, ...fieldError(v, p, "proxyIdentity.name") })}
${identityFields(v, { required: true, values: s.values, problem: p, legend: t("代理人の本人確認", "The proxy's identity check"), prefix: "identity" })}
${pins.length > 0 ? pinPad(v, { pins, required: false, problem: p, hint: t("暗証番号は、代理人が住民の方から預かった回答書に基づき入力パッドで入力します。表示も記録もされません。", "The proxy types the PINs on the pad. Never shown or recorded.") }) : ""}
<div class="actions"><button type="submit" data-busy="${t("処理しています…", "Working…")}">${t("手続きを完了する", "Complete the procedure")}</button></div>
</form>`
    : html`<p>${t("この申請は回答待ちではありません。", "This application is not waiting for its proxy.")}</p>`}`;
  return counterPage(v, staff, { title: t("代理人の再来庁", "Proxy's second visit"), body, hasError: p !== undefined });
}
