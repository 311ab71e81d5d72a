import { html, type SafeHtml } from "../html.ts";
import type { Filing } from "../../services/filings.ts";
import type { CardChoice } from "../../services/resident-view.ts";
import type { VerificationResult } from "../../services/relying-party.ts";
import { REVOCATION_REASON, formatInstant } from "../i18n.ts";
import { page, type View } from "../layout.ts";
import { csrfField, errorFor, field, problemNotice, type Problem } from "../forms.ts";
import { cardPicker } from "./common.ts";

export interface ReturnValues {
  year: string;
  income: string;
  deductions: string;
}

/** A small income-tax return, signed on the card with the signing certificate and filed. */
export function etaxFormPage(v: View, cards: CardChoice[], filings: Filing[], values: Partial<ReturnValues> & { cardId?: string } = {}, problem?: Problem): string {
  const t = v.t;
  const err = (...f: string[]) => {
    const e = errorFor(v, problem, ...f);
    return e ? { error: e } : {};
  };
  const body = html`
<h1>${t("電子申告（体験）", "e-Filing (demo)")}</h1>
<p class="lead">${t("e-Tax のように、申告書にマイナンバーカードの署名用電子証明書で電子署名して提出します。受け付ける側は、署名・認証局までの経路・失効情報（OCSP）を確かめ、証明書に記録された4情報を読み取ります。", "As with e-Tax, you sign a return with the signing certificate on your My Number Card and file it. The receiving side checks the signature, the path to the CA and the revocation status (OCSP), and reads the four attributes in the certificate.")}</p>
${problemNotice(v, problem, { year: "year", income: "income", deductions: "deductions", pin: "sign-pin", cardId: "card-0" })}
<form method="post" action="/demo/etax" novalidate>
${csrfField(v)}
<fieldset><legend>${t("申告書", "The return")}</legend>
${field(v, { id: "year", name: "year", label: t("年分（西暦）", "Tax year"), required: true, inputmode: "numeric", maxlength: 4, value: values.year ?? "2025", ...err("year") })}
${field(v, { id: "income", name: "income", label: t("所得金額（円）", "Income (yen)"), required: true, inputmode: "numeric", maxlength: 12, value: values.income ?? "5400000", ...err("income") })}
${field(v, { id: "deductions", name: "deductions", label: t("所得控除の合計（円）", "Total deductions (yen)"), required: true, inputmode: "numeric", maxlength: 12, value: values.deductions ?? "480000", ...err("deductions") })}
</fieldset>
${cardPicker(v, cards, { ...(values.cardId ? { selected: values.cardId } : {}) })}
${field(v, { id: "sign-pin", name: "pin", type: "password", label: t("署名用電子証明書の暗証番号（英数字6〜16桁）", "Signing password (6–16 letters and digits)"), hint: t("5回続けて間違えるとロックされます。", "Five wrong tries in a row lock it."), required: true, maxlength: 16, autocomplete: "off", ...err("pin") })}
<div class="actions"><button type="submit" data-busy="${t("署名しています…", "Signing…")}">${t("署名して提出する", "Sign and file")}</button></div>
</form>
${filings.length > 0
    ? html`<h2>${t("これまでの提出", "Filed so far")}</h2><table><thead><tr><th scope="col">${t("受付番号", "Filing")}</th><th scope="col">${t("結果", "Result")}</th><th scope="col">${t("提出日時", "Filed")}</th></tr></thead><tbody>
${filings.map((f) => html`<tr><td><a href="/demo/etax/filings/${f.id}">${f.id}</a></td><td>${f.status === "accepted" ? t("受付", "Accepted") : html`${t("受付できません", "Refused")}（<span class="reason">${f.reason}</span>）`}</td><td>${formatInstant(v.lang, f.submittedAt)}</td></tr>`)}
</tbody></table>`
    : ""}
`;
  return page(v, { title: t("電子申告（体験）", "e-Filing (demo)"), body, hasError: problem !== undefined });
}

const REFUSAL_EXPLAINED: Record<string, { ja: string; en: string }> = {
  revoked: {
    ja: "署名に使われた署名用電子証明書は失効しています。住所や氏名が変わると失効します。窓口で新しい署名用電子証明書の発行を受けてから、もう一度署名して提出してください。",
    en: "The signing certificate used is revoked (it is revoked when the address or name changes). Get a new signing certificate at the counter, then sign and file again.",
  },
  "on-hold": {
    ja: "署名に使われた電子証明書は一時保留中です（紛失届など）。窓口へお越しください。",
    en: "The certificate used is on hold (for example after a loss report). Please visit the counter.",
  },
  expired: { ja: "電子証明書の有効期限が切れています。窓口で発行の手続きをしてください。", en: "The certificate has expired. Apply for a new one at the counter." },
  "bad-signature": { ja: "署名のあとで内容が変わったか、署名が正しくありません。", en: "The content changed after signing, or the signature is wrong." },
};

/** What the receiving side saw: accepted with the path, OCSP answer and attributes, or refused with the reason. */
export function filingPage(v: View, filing: Filing): string {
  const t = v.t;
  const result = filing.verification;
  const body = html`
<h1>${t("提出の結果", "Filing result")}</h1>
${filing.status === "accepted"
    ? html`<div class="notice notice--success" role="status"><h2>${t("受け付けました", "Accepted")}</h2><p>${t("受付番号", "Filing number")}: <span class="mono">${filing.id}</span></p></div>`
    : html`<div class="notice notice--error" role="alert"><h2>${t("受け付けできませんでした", "Refused")}</h2>
<p>${t("受付番号", "Filing number")}: <span class="mono">${filing.id}</span></p>
<p>${t("理由コード", "Reason code")}: <span class="reason">${filing.reason}</span></p>
${!result.valid ? html`<p>${refusalSummary(v, result)}</p>` : ""}
${filing.reason && REFUSAL_EXPLAINED[filing.reason] ? html`<p><strong>${t("どうすればよいか：", "What to do: ")}</strong>${t(REFUSAL_EXPLAINED[filing.reason]!.ja, REFUSAL_EXPLAINED[filing.reason]!.en)}</p>` : ""}
</div>`}
<h2>${t("受け付ける側が確かめたこと", "What the receiving side checked")}</h2>
${verificationTable(v, result)}
<p><a href="/demo/etax">${t("申告書の画面に戻る", "Back to the return")}</a></p>
`;
  return page(v, { title: t("提出の結果", "Filing result"), body });
}

/** What each refusal code of the verifier means, for residents; times from its detail are shown in JST. */
const REFUSAL_MEANING: Record<string, { ja: string; en: string }> = {
  "malformed-input": { ja: "署名付きの文書の形式が正しくないか、大きさの上限を超えています。", en: "The signed document is not well formed, or exceeds a size limit." },
  "unsupported-algorithm": { ja: "JPKI で使わない暗号方式が使われています。", en: "It uses an algorithm that JPKI does not use." },
  "bad-signature": { ja: "署名を検証できません。文書、署名または電子証明書が変更されています。", en: "The signature does not verify: the document, the signature or the certificate was altered." },
  "untrusted-root": { ja: "信頼する認証局につながらない電子証明書です。", en: "The certificate does not chain to a trusted certification authority." },
  "wrong-certificate-type": { ja: "種類の違う電子証明書です（署名には署名用電子証明書を使います）。", en: "A certificate of the other type (signing needs the signing certificate)." },
  "bad-policy": { ja: "JPKI の証明書ポリシーがない電子証明書です。", en: "The certificate lacks the JPKI certificate policy." },
  "bad-key-usage": { ja: "電子証明書の鍵の用途が、この使い方を認めていません。", en: "The certificate's key usage does not allow this use." },
  "not-yet-valid": { ja: "電子証明書の有効期間がまだ始まっていません。", en: "The certificate is not valid yet." },
  expired: { ja: "電子証明書の有効期限が過ぎています。", en: "The certificate has expired." },
  revoked: { ja: "電子証明書は失効しています。", en: "The certificate is revoked." },
  "on-hold": { ja: "電子証明書は一時保留中です。", en: "The certificate is on hold." },
  "unknown-certificate": { ja: "失効情報の応答者がこの電子証明書を知りません。", en: "The revocation responder does not know this certificate." },
  "revocation-unavailable": { ja: "失効情報を確かめられなかったため、安全のため無効として扱いました。", en: "The revocation status could not be checked, so the signature is treated as not valid." },
};

function refusalSummary(v: View, result: Extract<VerificationResult, { valid: false }>): string {
  const meaning = REFUSAL_MEANING[result.code];
  if (!meaning) return result.message;
  const detail = (result.detail ?? {}) as Record<string, unknown>;
  const when = (key: string) => (typeof detail[key] === "string" && !Number.isNaN(Date.parse(detail[key] as string)) ? formatInstant(v.lang, detail[key] as string) : undefined);
  const reason = typeof detail.reason === "string" && detail.reason in REVOCATION_REASON ? REVOCATION_REASON[detail.reason as keyof typeof REVOCATION_REASON] : undefined;
  const extra =
    result.code === "revoked" && when("revokedAt")
      ? v.t(`（${when("revokedAt")}${reason ? `、理由：${reason.ja}` : ""}）`, ` (${when("revokedAt")}${reason ? `, reason: ${reason.en}` : ""})`)
      : result.code === "on-hold" && when("revokedAt")
        ? v.t(`（${when("revokedAt")}から）`, ` (since ${when("revokedAt")})`)
        : result.code === "expired" && when("notAfter")
          ? v.t(`（有効期限：${when("notAfter")}）`, ` (expired ${when("notAfter")})`)
          : result.code === "not-yet-valid" && when("notBefore")
            ? v.t(`（${when("notBefore")}から有効）`, ` (valid from ${when("notBefore")})`)
            : "";
  return v.t(meaning.ja, meaning.en).replace(/[。.]$/, "") + extra + v.t("。", ".");
}

/** The verifier's answer as a table: certificate, path and root, revocation answer, the four attributes. */
export function verificationTable(v: View, result: VerificationResult): SafeHtml {
  const t = v.t;
  if (!result.valid) {
    const detail = result.detail ? JSON.stringify(result.detail) : "";
    return html`<table><tbody>
<tr><th scope="row">${t("結果", "Result")}</th><td>${t("無効", "Not valid")}（<span class="reason">${result.code}</span>）</td></tr>
<tr><th scope="row">${t("説明", "Explanation")}</th><td>${refusalSummary(v, result)}</td></tr>
<tr><th scope="row">${t("検証ライブラリの説明（英語）", "The verifier's message")}</th><td lang="en">${result.message}</td></tr>
${result.certificate ? html`<tr><th scope="row">${t("電子証明書のシリアル番号", "Certificate serial")}</th><td class="mono">${result.certificate.serialHex.toUpperCase()}</td></tr><tr><th scope="row">${t("発行者", "Issuer")}</th><td><code>${result.certificate.issuer}</code></td></tr>` : ""}
${detail ? html`<tr><th scope="row">${t("詳細", "Detail")}</th><td><code>${detail}</code></td></tr>` : ""}
</tbody></table>`;
  }
  const a = result.attributes;
  return html`<table><tbody>
<tr><th scope="row">${t("結果", "Result")}</th><td>${t("有効", "Valid")}</td></tr>
<tr><th scope="row">${t("電子証明書のシリアル番号", "Certificate serial")}</th><td class="mono">${result.certificate.serialHex.toUpperCase()}</td></tr>
<tr><th scope="row">${t("有効期間", "Validity")}</th><td>${formatInstant(v.lang, result.certificate.notBefore)} – ${formatInstant(v.lang, result.certificate.notAfter)}</td></tr>
<tr><th scope="row">${t("認証局までの経路（ルート）", "Path to the root")}</th><td><code>${result.path.root.subject}</code><br>${t("鍵識別子", "Key identifier")}: <code>${result.path.root.keyIdentifierHex}</code></td></tr>
<tr><th scope="row">${t("失効の確認", "Revocation check")}</th><td>${result.revocation.method.toUpperCase()}: <strong>${result.revocation.status === "good" ? t("失効していない（good）", "not revoked (good)") : result.revocation.status}</strong><br><code>${result.revocation.url}</code>${result.revocation.producedAt ? html`<br>${t("応答の作成", "Produced at")}: ${formatInstant(v.lang, result.revocation.producedAt)}` : ""}<br>${t("次回更新", "Next update")}: ${result.revocation.nextUpdate ? formatInstant(v.lang, result.revocation.nextUpdate) : "—"}</td></tr>
${result.signature ? html`<tr><th scope="row">${t("署名の形式", "Signature format")}</th><td>${result.signature.format.toUpperCase()}（${result.signature.digestAlgorithm}）</td></tr>` : ""}
${a
    ? html`<tr><th scope="row">${t("氏名", "Name")}</th><td>${a.name}</td></tr>
<tr><th scope="row">${t("住所", "Address")}</th><td>${a.address}</td></tr>
<tr><th scope="row">${t("生年月日", "Date of birth")}</th><td>${v.lang === "en" ? a.birth.eraEn ?? "" : a.birth.era ?? ""}（${a.birth.western}）</td></tr>
<tr><th scope="row">${t("性別", "Gender")}</th><td>${v.lang === "en" ? a.gender.en : a.gender.ja}</td></tr>`
    : html`<tr><th scope="row">${t("個人情報", "Personal data")}</th><td>${t("この電子証明書には氏名・住所などは記録されていません。", "This certificate carries no name, address or other personal data.")}</td></tr>`}
</tbody></table>`;
}
