import { html } from "../html.ts";
import type { CaView } from "../../services/resident-view.ts";
import { formatInstant } from "../i18n.ts";
import { page, type View } from "../layout.ts";

/** The start page: what this is, where to go, and the two CA certificates with their fingerprints. */
export function topPage(v: View, cas: CaView[]): string {
  const t = v.t;
  const families = [
    { href: "/info", ja: "電子証明書について", en: "About the certificates", dja: "2つの電子証明書、有効期限、更新、暗証番号について。", den: "The two certificates, how long they last, renewal and PINs." },
    { href: "/resident", ja: "マイページ（住民の方）", en: "My page (residents)", dja: "カードでログインして、電子証明書の状態と次にすることを確認します。", den: "Log in with your card to see your certificates and what to do next." },
    { href: "/kiosk", ja: "コンビニのキオスク端末", en: "Convenience-store kiosk", dja: "証明書の交付と、署名用暗証番号の初期化。", den: "Certificates such as the residence record, and resetting the signing password." },
    { href: "/app", ja: "暗証番号リセットアプリ", en: "PIN reset app", dja: "署名用暗証番号を初期化するための予約（24時間有効）。", den: "Book a signing-password reset (valid for 24 hours)." },
    { href: "/demo/etax", ja: "電子申告（体験）", en: "e-Filing demo", dja: "申告書にカードで署名して提出し、受付側の検証結果を見ます。", den: "Sign a tax return on the card, file it and see what the receiving side checked." },
    { href: "/demo/portal", ja: "カードでログイン（体験）", en: "Card login demo", dja: "個人情報を渡さずにログインする仕組みを見ます。", den: "See how a card login works without handing over personal data." },
    ...(v.devConsole
      ? [{ href: "/dev", ja: "開発者向けコンソール", en: "Developer console", dja: "認証局、失効リスト、OCSP、試験用の住民とカード。", den: "CAs, CRLs, OCSP, test residents and cards." }]
      : []),
  ];
  const body = html`
<h1>${t("マイナンバーカードの電子証明書（試験用システム）", "My Number Card certificates (test system)")}</h1>
<p class="lead">${t(
    "マイナンバーカードに搭載される2つの電子証明書（署名用電子証明書・利用者証明用電子証明書）を発行し、使い、確かめるための試験用のシステムです。",
    "A test system for issuing, using and checking the two certificates on the My Number Card: the signing certificate and the user-authentication certificate.",
  )}</p>
${v.devConsole ? html`<p>${t("初めての方は、開発者向けコンソールで試験用の住民とカードを作り、マイページ・電子申告・キオスクの順にお試しください。", "New here? Create a test resident and card in the developer console, then try My page, e-Filing and the kiosk.")}</p>` : ""}
<h2>${t("メニュー", "Menu")}</h2>
<ul class="cards">
${families.map((f) => html`<li class="card card--link"><a href="${f.href}">${t(f.ja, f.en)}</a><p>${t(f.dja, f.den)}</p></li>`)}
<li class="card card--link"><a href="/counter">${t("窓口端末（職員用）", "Counter console (staff)")}</a><p>${t("職員ログインのうえ、住民の登録、カードの作製・交付、更新・失効・暗証番号の初期化などの窓口の手続き、本日の手数料、監査記録。", "After a staff login: registering residents, producing and handing over cards, renewal, revocation, PIN initialisation and the other counter procedures, the day's fees, the audit trail.")}</p></li>
</ul>
<h2>${t("認証局", "Certificate authorities")}</h2>
<p>${t("この試験用システムの認証局の証明書です。実在の J-LIS の証明書とは異なります。", "The CA certificates of this test system. They are not the real J-LIS certificates.")}</p>
<table>
<thead><tr><th scope="col">${t("認証局", "CA")}</th><th scope="col">${t("名前", "Subject")}</th><th scope="col">${t("有効期限", "Valid until")}</th><th scope="col">SHA-256</th></tr></thead>
<tbody>
${cas.map(
  (ca) => html`<tr><td><a href="/ca/${ca.type}.crt">${ca.type === "sign" ? "署名用認証局" : "利用者証明用認証局"}</a>${v.lang === "en" ? html`<br><span lang="en">${ca.type === "sign" ? "Signing CA" : "User-authentication CA"}</span>` : ""}</td><td><code>${ca.subject}</code></td><td>${formatInstant(v.lang, ca.notAfter)}</td><td><code>${ca.sha256}</code></td></tr>`,
)}
</tbody>
</table>
`;
  return page(v, { title: t("トップ", "Home"), body });
}
