import { html } from "../html.ts";
import type { CardChoice } from "../../services/resident-view.ts";
import { formatInstant } from "../i18n.ts";
import { page, type View } from "../layout.ts";
import { csrfField, errorFor, field, problemNotice, type Problem } from "../forms.ts";
import { cardPicker } from "./common.ts";

/** The PIN-reset app (JPKI暗証番号リセット) on a phone: book a signing-password reset with the card and the 4-digit PIN. */
export function appPage(v: View, cards: CardChoice[], problem?: Problem, selected?: string): string {
  const t = v.t;
  const cardError = errorFor(v, problem, "card");
  const body = html`
<h1>${t("署名用暗証番号の初期化を予約", "Book a signing-password reset")}</h1>
<p>${t("署名用電子証明書の暗証番号（英数字6〜16桁）を忘れた・ロックされたときは、ここで予約してから24時間以内に、コンビニなどのキオスク端末で新しい暗証番号を設定できます。", "If you forgot your signing password (6–16 letters and digits) or it is locked, book here, then set a new one at a convenience-store kiosk within 24 hours.")}</p>
<p>${t("予約には利用者証明用電子証明書の暗証番号（数字4桁）が必要です。", "You need your 4-digit authentication PIN to book.")}</p>
${problemNotice(v, problem, { pin: "pin", card: "card-0" })}
<form method="post" action="/app/reserve" novalidate>
${csrfField(v)}
${cardPicker(v, cards, { legend: t("スマートフォンにかざすカード", "The card you hold to the phone"), ...(selected ? { selected } : {}), ...(cardError ? { error: cardError } : {}) })}
${field(v, { id: "pin", name: "pin", type: "password", label: t("利用者証明用電子証明書の暗証番号（数字4桁）", "Authentication PIN (4 digits)"), required: true, inputmode: "numeric", maxlength: 4, autocomplete: "off", ...(errorFor(v, problem, "pin") ? { error: errorFor(v, problem, "pin")! } : {}) })}
<button type="submit" data-busy="${t("カードを読み取っています…", "Reading the card…")}">${t("予約する", "Book")}</button>
</form>
`;
  return page(v, { title: t("暗証番号リセットアプリ", "PIN reset app"), body, variant: "app", hasError: problem !== undefined });
}

export function appDonePage(v: View, reservation: { id: string; expiresAt: string }): string {
  const t = v.t;
  const body = html`
<h1>${t("予約しました", "Booked")}</h1>
<div class="notice notice--success" role="status">
<p>${t("次の日時までに、コンビニなどのキオスク端末で手続きしてください。", "Finish at a convenience-store kiosk before:")}</p>
<p class="deadline">${formatInstant(v.lang, reservation.expiresAt)}</p>
</div>
<ol>
<li>${t("キオスク端末で「行政サービス」を選びます。", "At the kiosk, choose “Government services”.")}</li>
<li>${t("「署名用電子証明書の暗証番号初期化」を選び、カードを置きます。", "Choose “Reset the signing password” and place your card.")}</li>
<li>${t("利用者証明用の暗証番号（数字4桁）と、新しい署名用の暗証番号を入力します。", "Enter your 4-digit authentication PIN and the new signing password.")}</li>
</ol>
<p class="muted">${t("予約番号", "Booking number")}: <span class="mono">${reservation.id}</span></p>
<p><a class="button" href="/kiosk/pin-reset">${t("キオスク端末の画面へ", "Go to the kiosk screen")}</a></p>
`;
  return page(v, { title: t("予約しました", "Booked"), body, variant: "app" });
}
