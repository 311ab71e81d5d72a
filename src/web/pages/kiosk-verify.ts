import { html } from "../html.ts";
import type { KioskIssuanceRecord } from "../../services/kiosk.ts";
import { formatInstant } from "../i18n.ts";
import { page, type View } from "../layout.ts";
import { csrfField, errorFor, field, problemNotice, type Problem } from "../forms.ts";

/**
 * The tamper check printed on every kiosk document: the issue number and verification code
 * give back the recorded issuance and the SHA-256 of the PDF as issued.
 */
export function kioskVerifyPage(v: View, input: { issueNumber?: string; code?: string } = {}, problem?: Problem, record?: KioskIssuanceRecord): string {
  const t = v.t;
  const result = record
    ? html`<div class="notice notice--success" role="status">
<h2>${t("交付の記録があります", "This document was issued")}</h2>
<table>
<tr><th scope="row">${t("証明書", "Document")}</th><td>${v.lang === "ja" ? record.documentNameJa : record.documentNameEn}</td></tr>
<tr><th scope="row">${t("市区町村", "Municipality")}</th><td>${record.municipality.nameJa}</td></tr>
<tr><th scope="row">${t("交付日時", "Issued")}</th><td>${formatInstant(v.lang, record.issuedAt)}</td></tr>
<tr><th scope="row">${t("PDFのSHA-256", "SHA-256 of the PDF")}</th><td class="mono">${record.pdfSha256}</td></tr>
</table>
<p>${t("お手元のPDFファイルのSHA-256（例: sha256sum ファイル名）がこの値と一致すれば、交付されたときのままです。", "If the SHA-256 of your PDF file (e.g. sha256sum FILE) equals this value, it is unchanged since it was issued.")}</p>
</div>`
    : "";
  const body = html`
<h1>${t("コンビニ交付の証明書の確認", "Check a document issued at a kiosk")}</h1>
<p>${t("証明書に印刷された交付番号と照合番号を入力してください。", "Enter the issue number and the verification code printed on the document.")}</p>
${problemNotice(v, problem, { issueNumber: "issue-number", code: "code" })}
${result}
<form method="post" action="/kiosk/verify" novalidate>
${csrfField(v)}
${field(v, { id: "issue-number", name: "issueNumber", label: t("交付番号", "Issue number"), required: true, autocomplete: "off", value: input.issueNumber ?? "", ...(errorFor(v, problem, "issueNumber") ? { error: errorFor(v, problem, "issueNumber")! } : {}) })}
${field(v, { id: "code", name: "code", label: t("照合番号", "Verification code"), required: true, autocomplete: "off", value: input.code ?? "", ...(errorFor(v, problem, "code") ? { error: errorFor(v, problem, "code")! } : {}) })}
<button type="submit">${t("確認する", "Check")}</button>
</form>
`;
  return page(v, { title: t("証明書の確認", "Check a document"), body, hasError: problem !== undefined });
}
