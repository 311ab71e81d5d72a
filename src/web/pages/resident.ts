import { html } from "../html.ts";
import type { CardChoice, CardView } from "../../services/resident-view.ts";
import { formatDate, formatInstant } from "../i18n.ts";
import { page, type View } from "../layout.ts";
import { csrfField, errorFor, field, problemNotice, type Problem } from "../forms.ts";
import { cardCertificates, cardPicker, officesSection } from "./common.ts";

/** Log in with the card: choose the card (the server's reader stands in for yours) and enter the 4-digit PIN. */
export function residentLoginPage(v: View, cards: CardChoice[], problem?: Problem, selected?: string): string {
  const t = v.t;
  const body = html`
<h1>${t("マイページにログイン", "Log in to My page")}</h1>
${problemNotice(v, problem, { pin: "pin", cardId: "card-0", card: "card-0" })}
<p>${t("マイナンバーカードの利用者証明用電子証明書でログインします。カードをカードリーダーに置き、数字4桁の暗証番号を入力してください。", "You log in with the user-authentication certificate on your My Number Card. Place the card on the reader and enter your 4-digit PIN.")}</p>
<p class="muted">${t("この試験用システムでは、サーバーの中のカードリーダーがあなたのカードリーダーの代わりをします。下の一覧からカードを選んでください。", "In this test system a reader inside the server stands in for yours: choose the card from the list below.")}</p>
<form method="post" action="/resident/login" novalidate>
${csrfField(v)}
${cardPicker(v, cards, { ...(selected ? { selected } : {}), ...(errorFor(v, problem, "cardId", "card") ? { error: errorFor(v, problem, "cardId", "card")! } : {}) })}
${field(v, {
    id: "pin",
    name: "pin",
    type: "password",
    label: t("利用者証明用電子証明書の暗証番号（数字4桁）", "Authentication PIN (4 digits)"),
    hint: t("3回続けて間違えるとロックされます。", "Three wrong tries in a row lock it."),
    required: true,
    inputmode: "numeric",
    autocomplete: "off",
    maxlength: 4,
    ...(errorFor(v, problem, "pin") ? { error: errorFor(v, problem, "pin")! } : {}),
  })}
<div class="actions"><button type="submit" data-busy="${t("カードを確認しています…", "Checking the card…")}">${t("ログイン", "Log in")}</button></div>
</form>
<p><a href="/info#pin-forgot">${t("暗証番号を忘れた・ロックされたとき", "Forgot your PIN, or is it locked?")}</a></p>
`;
  return page(v, { title: t("マイページにログイン", "Log in to My page"), body, hasError: problem !== undefined });
}

/** The holder's certificates, their state and what to do next, with the offices. */
export function residentPage(v: View, card: CardView, session: { serialHex: string; expiresAt: string }): string {
  const t = v.t;
  const body = html`
<h1>${t("マイページ", "My page")}</h1>
<p class="lead">${t(`${card.resident.name} さんのマイナンバーカードの電子証明書`, `The certificates on ${card.resident.name}'s My Number Card`)}</p>
<table><tbody>
<tr><th scope="row">${t("カード", "Card")}</th><td><span class="mono">${card.card.id}</span></td></tr>
<tr><th scope="row">${t("カードの有効期限", "Card expires")}</th><td>${formatDate(v.lang, card.card.expires)}</td></tr>
<tr><th scope="row">${t("ログインの有効期限", "Session ends")}</th><td>${formatInstant(v.lang, session.expiresAt)}</td></tr>
</tbody></table>
<h2>${t("電子証明書", "Your certificates")}</h2>
${cardCertificates(v, card)}
${officesSection(v)}
<form method="post" action="/resident/logout">${csrfField(v)}<button type="submit" class="button--secondary">${t("ログアウト", "Log out")}</button></form>
`;
  return page(v, { title: t("マイページ", "My page"), body });
}
