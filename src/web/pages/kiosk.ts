import { html, type SafeHtml } from "../html.ts";
import type { CardChoice } from "../../services/resident-view.ts";
import { formatInstant } from "../i18n.ts";
import { page, type View } from "../layout.ts";
import { csrfField, errorFor, field, problemNotice, type Problem } from "../forms.ts";
import { cardPicker } from "./common.ts";
import { groupCode, kioskHoursInWords, type KioskHours, type KioskIssuance } from "../../services/kiosk.ts";

/** Kiosk screens: touch-sized, large type, one decision per screen. */
function kiosk(v: View, title: string, body: SafeHtml, hasError = false): string {
  return page(v, { title: `${title} | ${v.t("キオスク端末", "Kiosk")}`, body, variant: "kiosk", hasError });
}

const ISSUE_STEPS = [
  { ja: "カードを置く", en: "Card" },
  { ja: "暗証番号", en: "PIN" },
  { ja: "証明書の種類", en: "Document" },
  { ja: "料金", en: "Fee" },
  { ja: "交付", en: "Print" },
];

function steps(v: View, current: number): SafeHtml {
  return html`<ol class="steps" aria-label="${v.t("手順", "Steps")}">${ISSUE_STEPS.map(
    (s, i) => html`<li${i === current ? html` aria-current="step"` : ""}>${i + 1}. ${v.t(s.ja, s.en)}</li>`,
  )}</ol>`;
}

/** Which kiosk service a closed screen is about: the resident is told the one they chose, not another. */
export type KioskService = "all" | "issue" | "pin-reset";

const SERVICE_CLOSED = {
  all: { ja: "ただいま行政サービスはご利用いただけません", en: "Government services are closed now" },
  issue: { ja: "ただいま証明書の交付はご利用いただけません", en: "Certificate issuance is closed now" },
  "pin-reset": { ja: "ただいま署名用電子証明書の暗証番号初期化はご利用いただけません", en: "Signing-password reset is closed now" },
} as const;

/** The closed notice: said before any card or PIN is asked for, so no try of the PIN is spent for nothing. */
function closedNotice(v: View, hours: KioskHours, service: KioskService): SafeHtml {
  const t = v.t;
  const open = kioskHoursInWords(hours);
  return html`<div class="notice notice--warning" role="status"><h2>${t(SERVICE_CLOSED[service].ja, SERVICE_CLOSED[service].en)}</h2>
<p>${t("利用できる時間", "Open")}: ${t(open.ja, open.en)}</p>
<p>${t("利用できる時間内にもう一度お越しください。", "Please come back during service hours.")}</p>
<p class="muted">${t("理由コード", "Reason code")}: <span class="reason">kiosk-closed</span></p></div>`;
}

/** The start screen; while the kiosk is closed (`closed` = its hours) it says so instead of offering the services. */
export function kioskHomePage(v: View, closed?: KioskHours): string {
  const t = v.t;
  return kiosk(
    v,
    t("メニュー", "Menu"),
    html`<h1>${t("キオスク端末", "Kiosk")}</h1>
${
  closed
    ? closedNotice(v, closed, "all")
    : html`<p>${t("ご利用になるサービスを選んでください。", "Choose a service.")}</p>
<a class="button tile" href="/kiosk/services">${t("行政サービス", "Government services")}<small>${t("証明書の交付・暗証番号の初期化", "Certificates, PIN reset")}</small></a>`
}`,
  );
}

export function kioskServicesPage(v: View, closed?: KioskHours): string {
  const t = v.t;
  if (closed) {
    return kiosk(
      v,
      t("行政サービス", "Government services"),
      html`<h1>${t("行政サービス", "Government services")}</h1>
${closedNotice(v, closed, "all")}
<p><a href="/kiosk">${t("最初の画面に戻る", "Back to the start")}</a></p>`,
    );
  }
  return kiosk(
    v,
    t("行政サービス", "Government services"),
    html`<h1>${t("行政サービス", "Government services")}</h1>
<a class="button tile" href="/kiosk/issue">${t("証明書交付", "Get a certificate")}<small>${t("住民票の写しなど", "Residence record and others")}</small></a>
<a class="button tile button--secondary" href="/kiosk/pin-reset">${t("署名用電子証明書の暗証番号初期化", "Reset the signing password")}<small>${t("スマートフォンのアプリで予約した方", "If you booked in the smartphone app")}</small></a>
<p><a href="/kiosk">${t("最初の画面に戻る", "Back to the start")}</a></p>`,
  );
}

export function kioskIssueCardPage(v: View, cards: CardChoice[], problem?: Problem): string {
  const t = v.t;
  const cardError = errorFor(v, problem, "card");
  return kiosk(
    v,
    t("カードを置いてください", "Place your card"),
    html`${steps(v, 0)}<h1>${t("マイナンバーカードを置いてください", "Place your My Number Card")}</h1>
${problemNotice(v, problem, { card: "card-0" })}
<form method="post" action="/kiosk/issue/pin" novalidate>${csrfField(v)}
${cardPicker(v, cards, cardError ? { error: cardError } : {})}
<div class="actions"><button type="submit">${t("次へ", "Next")}</button> <a class="button button--secondary" href="/kiosk/services">${t("戻る", "Back")}</a></div>
</form>`,
    problem !== undefined,
  );
}

export function kioskIssuePinPage(v: View, cardId: string, problem?: Problem): string {
  const t = v.t;
  return kiosk(
    v,
    t("暗証番号", "PIN"),
    html`${steps(v, 1)}<h1>${t("暗証番号を入力してください", "Enter your PIN")}</h1>
${problemNotice(v, problem, { pin: "pin" })}
<form method="post" action="/kiosk/issue/documents" novalidate>${csrfField(v)}
<input type="hidden" name="cardId" value="${cardId}">
${field(v, { id: "pin", name: "pin", type: "password", label: t("利用者証明用電子証明書の暗証番号（数字4桁）", "Authentication PIN (4 digits)"), hint: t("3回続けて間違えるとロックされます。", "Three wrong tries in a row lock it."), required: true, inputmode: "numeric", maxlength: 4, autocomplete: "off", ...(errorFor(v, problem, "pin") ? { error: errorFor(v, problem, "pin")! } : {}) })}
<div class="actions"><button type="submit" data-busy="${t("確認しています…", "Checking…")}">${t("確認", "OK")}</button> <a class="button button--secondary" href="/kiosk/issue">${t("やめる", "Cancel")}</a></div>
</form>`,
    problem !== undefined,
  );
}

export interface KioskOfferView {
  id: string;
  nameJa: string;
  nameEn: string;
  feeYen: number;
}

/** A kiosk flow while the kiosk is closed: which service, and when it is open, with no card or PIN asked for. */
export function kioskClosedPage(v: View, hours: KioskHours, service: Exclude<KioskService, "all">): string {
  const t = v.t;
  return kiosk(
    v,
    t("ご利用いただけません", "Closed"),
    html`<h1>${t(SERVICE_CLOSED[service].ja, SERVICE_CLOSED[service].en)}</h1>
${closedNotice(v, hours, service)}
<p><a class="button" href="/kiosk">${t("最初の画面に戻る", "Back to the start")}</a></p>`,
  );
}

/** What the document form said, shown again after an error (the typed count as typed). */
export interface KioskDocumentChoice {
  document?: string;
  copies?: string;
}

export function kioskDocumentsPage(v: View, offers: KioskOfferView[], maxCopies: number, problem?: Problem, chosen: KioskDocumentChoice = {}): string {
  const t = v.t;
  // The resident's choice survives an error; the first document only when nothing (offered) was chosen.
  const selected = offers.some((o) => o.id === chosen.document) ? chosen.document : offers[0]?.id;
  const documentError = errorFor(v, problem, "document");
  const copiesError = errorFor(v, problem, "copies");
  return kiosk(
    v,
    t("証明書の種類", "Document"),
    html`${steps(v, 2)}<h1>${t("証明書の種類を選んでください", "Choose the document")}</h1>
${problemNotice(v, problem, { document: "doc-0", copies: "copies" })}
<form method="post" action="/kiosk/issue/fee" novalidate>${csrfField(v)}
<fieldset${documentError ? html` aria-describedby="document-error"` : ""}><legend>${t("証明書", "Document")}</legend>
${documentError ? html`<span class="field-error" id="document-error">${documentError}</span>` : ""}
${offers.map((o, i) => html`<div class="choice"><input type="radio" name="document" id="doc-${i}" value="${o.id}"${o.id === selected ? html` checked` : ""}><label for="doc-${i}">${t(o.nameJa, o.nameEn)}（${t(`1通 ${o.feeYen}円`, `¥${o.feeYen} per copy`)}）</label></div>`)}
</fieldset>
${field(v, { id: "copies", name: "copies", label: t(`部数（1〜${maxCopies}）`, `Copies (1–${maxCopies})`), inputmode: "numeric", value: chosen.copies ?? "1", maxlength: String(maxCopies).length, required: true, ...(copiesError ? { error: copiesError } : {}) })}
<div class="actions"><button type="submit">${t("次へ", "Next")}</button> <a class="button button--secondary" href="/kiosk/issue">${t("やめる", "Cancel")}</a></div>
</form>`,
    problem !== undefined,
  );
}

export function kioskFeePage(v: View, offer: KioskOfferView, copies: number): string {
  const t = v.t;
  return kiosk(
    v,
    t("料金", "Fee"),
    html`${steps(v, 3)}<h1>${t("料金の確認", "Check the fee")}</h1>
<p>${t(offer.nameJa, offer.nameEn)} × ${copies}</p>
<p class="fee">${t(`${offer.feeYen * copies}円`, `¥${offer.feeYen * copies}`)}</p>
<form method="post" action="/kiosk/issue/print">${csrfField(v)}
<input type="hidden" name="document" value="${offer.id}"><input type="hidden" name="copies" value="${String(copies)}">
<div class="actions"><button type="submit" data-busy="${t("交付しています…", "Issuing…")}">${t("お支払いして交付", "Pay and print")}</button> <a class="button button--secondary" href="/kiosk/issue">${t("やめる", "Cancel")}</a></div>
</form>`,
  );
}

export function kioskIssuedPage(
  v: View,
  issuance: Pick<KioskIssuance, "id" | "document" | "documentNameJa" | "documentNameEn" | "copies" | "feeYen" | "issuedAt" | "verificationCode">,
  pdfUrl: string,
): string {
  const t = v.t;
  const nameEn = issuance.documentNameEn;
  return kiosk(
    v,
    t("交付しました", "Issued"),
    html`${steps(v, 4)}<h1>${t("証明書を交付しました", "Your document is ready")}</h1>
<div class="notice notice--success" role="status"><p>${t(issuance.documentNameJa, nameEn)} × ${issuance.copies}　${t(`${issuance.feeYen}円`, `¥${issuance.feeYen}`)}</p>
<p>${t("交付番号", "Issue number")}: <span class="mono">${issuance.id}</span>　${t("照合番号", "Verification code")}: <span class="mono">${groupCode(issuance.verificationCode)}</span></p>
<p>${formatInstant(v.lang, issuance.issuedAt)}</p></div>
<p><a class="button" href="${pdfUrl}">${t("PDF を開く", "Open the PDF")}</a></p>
<p>${t("カードをお取りください。", "Please take your card.")}</p>
<p><a href="/kiosk">${t("最初の画面に戻る", "Back to the start")}</a></p>`,
  );
}

export function kioskResetCardPage(v: View, cards: CardChoice[], problem?: Problem): string {
  const t = v.t;
  const cardError = errorFor(v, problem, "card");
  return kiosk(
    v,
    t("署名用暗証番号の初期化", "Reset the signing password"),
    html`<h1>${t("署名用電子証明書の暗証番号初期化", "Reset the signing password")}</h1>
<p>${t("スマートフォンのアプリで予約してから24時間以内にご利用いただけます。", "Available within 24 hours of booking in the smartphone app.")}</p>
${problemNotice(v, problem, { card: "card-0" })}
<form method="post" action="/kiosk/pin-reset/pin" novalidate>${csrfField(v)}
${cardPicker(v, cards, { legend: t("マイナンバーカードを置いてください", "Place your My Number Card"), ...(cardError ? { error: cardError } : {}) })}
<div class="actions"><button type="submit">${t("次へ", "Next")}</button> <a class="button button--secondary" href="/kiosk/services">${t("戻る", "Back")}</a></div>
</form>`,
    problem !== undefined,
  );
}

export function kioskResetPinPage(v: View, cardId: string, problem?: Problem): string {
  const t = v.t;
  const err = (...f: string[]) => {
    const e = errorFor(v, problem, ...f);
    return e ? { error: e } : {};
  };
  return kiosk(
    v,
    t("暗証番号の入力", "Enter the PINs"),
    html`<h1>${t("暗証番号を入力してください", "Enter your PINs")}</h1>
${problemNotice(v, problem, { pin: "pin", "new-pin": "new-pin", confirm: "new-pin-2" })}
<form method="post" action="/kiosk/pin-reset" novalidate>${csrfField(v)}
<input type="hidden" name="cardId" value="${cardId}">
${field(v, { id: "pin", name: "pin", type: "password", label: t("利用者証明用電子証明書の暗証番号（数字4桁）", "Authentication PIN (4 digits)"), required: true, inputmode: "numeric", maxlength: 4, autocomplete: "off", ...err("pin") })}
${field(v, { id: "new-pin", name: "newPin", type: "password", label: t("新しい署名用の暗証番号（英数字6〜16桁）", "New signing password (6–16 letters and digits)"), hint: t("英字（大文字）と数字の両方を含めてください。", "Use capital letters and digits, at least one of each."), required: true, maxlength: 16, autocomplete: "new-password", ...err("new-pin") })}
${field(v, { id: "new-pin-2", name: "newPinConfirm", type: "password", label: t("新しい署名用の暗証番号（確認のためもう一度）", "New signing password again"), required: true, maxlength: 16, autocomplete: "new-password", ...err("confirm") })}
<div class="actions"><button type="submit" data-busy="${t("設定しています…", "Setting…")}">${t("設定する", "Set")}</button> <a class="button button--secondary" href="/kiosk/pin-reset">${t("やめる", "Cancel")}</a></div>
</form>`,
    problem !== undefined,
  );
}

export function kioskResetDonePage(v: View): string {
  const t = v.t;
  return kiosk(
    v,
    t("設定しました", "Done"),
    html`<h1>${t("新しい暗証番号を設定しました", "Your new signing password is set")}</h1>
<div class="notice notice--success" role="status"><p>${t("署名用電子証明書が、新しい暗証番号で使えるようになりました。予約は使用済みになりました。", "The signing certificate can now be used with the new password. The booking has been used.")}</p></div>
<p>${t("カードをお取りください。", "Please take your card.")}</p>
<p><a class="button" href="/kiosk">${t("最初の画面に戻る", "Back to the start")}</a></p>`,
  );
}
