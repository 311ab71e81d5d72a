import { html } from "../../html.ts";
import type { View } from "../../layout.ts";
import { csrfField, field, successNotice, type Problem } from "../../forms.ts";
import { counterPage, counterProblem, fieldError } from "./common.ts";

/** Staff login for the counter console. */
export function counterLoginPage(v: View, options: { problem?: Problem; login?: string; next?: string; loggedOut?: boolean } = {}): string {
  const t = v.t;
  const body = html`
<h1>${t("窓口端末 職員ログイン", "Counter terminal: staff login")}</h1>
${options.loggedOut ? successNotice(t("ログアウトしました", "Logged out"), t("窓口端末からログアウトしました。", "You have logged out of the counter terminal.")) : ""}
<p>${t("電子証明書の発行・更新・失効などの窓口業務を行う職員用の画面です。職員アカウントでログインしてください。", "The screens for the counter's certificate procedures (issuance, renewal, revocation…). Log in with your staff account.")}</p>
${counterProblem(v, options.problem, { login: "login", password: "password" })}
<form method="post" action="/counter/login" novalidate>
${csrfField(v)}
${options.next ? html`<input type="hidden" name="next" value="${options.next}">` : ""}
${field(v, { id: "login", name: "login", label: t("ログイン名", "Login"), required: true, autocomplete: "username", value: options.login ?? "", maxlength: 100, ...fieldError(v, options.problem, "login") })}
${field(v, { id: "password", name: "password", type: "password", label: t("パスワード", "Password"), required: true, autocomplete: "current-password", maxlength: 200, ...fieldError(v, options.problem, "password") })}
<div class="actions"><button type="submit" data-busy="${t("確認しています…", "Checking…")}">${t("ログイン", "Log in")}</button></div>
</form>
<p class="muted">${t("アカウントは管理者が作成します（例：", "Accounts are created by an administrator (e.g. ")}<code>openjpki staff add --office machida-mnc --login tanaka --name "田中 一郎" --role clerk --password-file pw.txt</code>${t("）。", ").")}</p>
`;
  return counterPage(v, undefined, { title: t("職員ログイン", "Staff login"), body, hasError: options.problem !== undefined });
}
