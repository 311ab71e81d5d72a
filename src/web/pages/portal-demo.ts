import { html } from "../html.ts";
import type { CardChoice } from "../../services/resident-view.ts";
import type { VerificationResult } from "../../services/relying-party.ts";
import { formatInstant } from "../i18n.ts";
import { page, type View } from "../layout.ts";
import { csrfField, errorFor, field, problemNotice, type Problem } from "../forms.ts";
import { cardPicker } from "./common.ts";
import { verificationTable } from "./etax.ts";

export interface PortalDemoResult {
  serialHex: string;
  expiresAt: string;
  verification: VerificationResult;
}

/** Myna Portal-style login: the card signs a one-time challenge; the site learns a serial number, nothing personal. */
export function portalDemoPage(v: View, cards: CardChoice[], result?: PortalDemoResult, problem?: Problem, selected?: string): string {
  const t = v.t;
  const body = html`
<h1>${t("カードでログイン（体験）", "Card login (demo)")}</h1>
<p class="lead">${t("マイナポータルのように、利用者証明用電子証明書でログインします。サイトが受け取るのは電子証明書とその署名だけで、氏名・住所などの個人情報は受け取りません。", "As on Myna Portal, you log in with the user-authentication certificate. The site receives only the certificate and a signature, never your name, address or other personal data.")}</p>
${result
    ? html`<div class="notice notice--success" role="status"><h2>${t("ログインしました", "Logged in")}</h2>
<p>${t("サイトが記録したのは電子証明書のシリアル番号だけです", "All the site recorded is the certificate's serial number")}: <span class="mono">${result.serialHex}</span></p>
<p>${t("ログインの有効期限", "Session ends")}: ${formatInstant(v.lang, result.expiresAt)}</p></div>
<h2>${t("サイトが確かめたこと", "What the site checked")}</h2>
${verificationTable(v, result.verification)}
<p>${t("受け取っていない情報：氏名、住所、生年月日、性別、マイナンバー。", "Not received: name, address, date of birth, gender, My Number.")}</p>`
    : ""}
${problemNotice(v, problem, { pin: "pin", cardId: "card-0" })}
<form method="post" action="/demo/portal" novalidate>
${csrfField(v)}
${cardPicker(v, cards, selected ? { selected } : {})}
${field(v, { id: "pin", name: "pin", type: "password", label: t("利用者証明用電子証明書の暗証番号（数字4桁）", "Authentication PIN (4 digits)"), required: true, inputmode: "numeric", maxlength: 4, autocomplete: "off", ...(errorFor(v, problem, "pin") ? { error: errorFor(v, problem, "pin")! } : {}) })}
<div class="actions"><button type="submit" data-busy="${t("確認しています…", "Checking…")}">${t("ログイン", "Log in")}</button></div>
</form>
<h2>${t("開発者の方へ", "For developers")}</h2>
<p>${t("同じログインを OpenID Connect で使えます（PKCE 必須、ID トークンに個人情報なし）。", "The same login is offered over OpenID Connect (PKCE required, no personal data in the ID token).")} <a href="/oidc/.well-known/openid-configuration">${t("ディスカバリー文書", "Discovery document")}</a></p>
`;
  return page(v, { title: t("カードでログイン（体験）", "Card login (demo)"), body, hasError: problem !== undefined });
}
