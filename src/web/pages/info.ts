import { html } from "../html.ts";
import { page, type View } from "../layout.ts";
import { officesSection } from "./common.ts";

/** The two certificates, their validity, renewal and PIN help, in plain words (facts from the city's page). */
export function infoPage(v: View): string {
  const t = v.t;
  const body = html`
<h1>${t("マイナンバーカードの電子証明書について", "About the certificates on your My Number Card")}</h1>
<p class="lead">${t(
    "マイナンバーカードには「署名用電子証明書」と「利用者証明用電子証明書」の2つを搭載できます。カードを申請するときに不要と申し出なければ、2つとも搭載された状態で交付されます。",
    "Your My Number Card can hold two certificates: a signing certificate and a user-authentication certificate. Unless you say you do not want them when you apply, the card is issued with both.",
  )}</p>

<h2 id="sign">${t("署名用電子証明書", "The signing certificate")}</h2>
<p>${t("インターネットで申請書などの電子文書を作って送るときに使います（例：e-Tax などの電子申請）。その文書をあなたが作って送ったことを証明します。", "Used when you make and send a document online (for example an e-Tax return). It proves that you made and sent it.")}</p>
<p>${t("氏名・住所・生年月日・性別が記録されています。結婚や引っ越しで氏名や住所が変わると、この証明書は失効します。新しい氏名・住所で使うには、窓口で新しく発行する手続きが必要です。", "It carries your name, address, date of birth and gender. If your name or address changes (marriage, moving house…), it is revoked. To use it with your new details, apply for a new one at the counter.")}</p>

<h2 id="auth">${t("利用者証明用電子証明書", "The user-authentication certificate")}</h2>
<p>${t("ウェブサイトやコンビニのキオスク端末にログインするときに使います（例：マイナポータルや e-Tax へのログイン、コンビニでの住民票の写しなどの交付）。ログインしたのがあなた本人であることを証明します。", "Used to log in to websites and convenience-store kiosks (for example Myna Portal, logging in to e-Tax, getting a residence record at a convenience store). It proves that it is really you.")}</p>
<p>${t("氏名や住所は記録されていないため、氏名や住所が変わっても失効せず、そのまま使えます。", "It carries no name or address, so it stays valid when they change.")}</p>

<h2 id="validity">${t("有効期限", "How long they last")}</h2>
<ul>
<li>${t("発行日から5回目の誕生日までです。", "Until your 5th birthday after the day it was issued.")}</li>
<li>${t("発行日はカードに電子証明書が搭載された日で、カードを受け取った日とは異なります。有効期限はカードに手書きで記載されています。", "The issue date is the day the certificate was put on the card, not the day you received the card. The expiry date is handwritten on the card.")}</li>
<li>${t("カードの有効期限のほうが早い場合は、カードの有効期限までです。", "If the card expires earlier, the certificate ends with the card.")}</li>
<li>${t("外国人の方で、在留期間の満了日のほうが早い場合は、在留期間の満了日までです。", "For foreign residents whose period of stay ends earlier, it ends with the period of stay.")}</li>
</ul>

<h2 id="renewal">${t("更新", "Renewal")}</h2>
<p>${t("有効期限の3か月前から更新できます。手続きは原則としてご本人が窓口で行います。代理の方が手続きする場合は、流れや必要書類が異なるため事前にお問い合わせください。", "You can renew from 3 months before the expiry date, in principle in person at the counter. If someone else comes for you, the steps and documents differ: please ask first.")}</p>
<p>${t("電子証明書が搭載されていないカードにも、申請により搭載できます（新規発行）。", "A card without certificates can have them added on request (new issuance).")}</p>

<h2 id="pin">${t("暗証番号", "PINs")}</h2>
<table>
<thead><tr><th scope="col">${t("電子証明書", "Certificate")}</th><th scope="col">${t("暗証番号", "PIN")}</th><th scope="col">${t("ロックされるまでの回数", "Wrong tries before it locks")}</th></tr></thead>
<tbody>
<tr><th scope="row">${t("署名用電子証明書", "Signing certificate")}</th><td>${t("英数字6〜16桁（英字は大文字、英字と数字の両方を含む）", "6 to 16 letters and digits (capital letters; at least one letter and one digit)")}</td><td>${t("5回", "5")}</td></tr>
<tr><th scope="row">${t("利用者証明用電子証明書", "User-authentication certificate")}</th><td>${t("数字4桁", "4 digits")}</td><td>${t("3回", "3")}</td></tr>
</tbody>
</table>
<p>${t("暗証番号は、カードを受け取るときに設定したものです。", "The PINs are the ones you set when you received the card.")}</p>
<h3 id="pin-forgot">${t("暗証番号を忘れた・ロックされたとき", "If you forgot a PIN or it is locked")}</h3>
<ul>
<li>${t("お住まいの市区町村の窓口で暗証番号を初期化（再設定）できます。", "It can be reset at your municipality's counter.")}</li>
<li>${t("署名用電子証明書の暗証番号（英数字）だけを忘れた・ロックされた場合は、コンビニのキオスク端末でも初期化できます。スマートフォンの専用アプリで予約し、24時間以内にキオスク端末で手続きします。利用者証明用電子証明書の暗証番号（数字4桁）が必要です。", "If only the signing password (letters and digits) is forgotten or locked, you can also reset it at a convenience-store kiosk: book in the smartphone app, then finish at a kiosk within 24 hours. You need your 4-digit authentication PIN.")}
 <a href="/app">${t("アプリ画面へ", "Go to the app screen")}</a> · <a href="/kiosk">${t("キオスク端末画面へ", "Go to the kiosk screen")}</a></li>
<li>${t("利用者証明用電子証明書の暗証番号（数字4桁）を忘れた場合は、窓口で初期化してください。", "If you forgot the 4-digit authentication PIN, have it reset at the counter.")}</li>
</ul>
${officesSection(v)}
`;
  return page(v, { title: t("電子証明書について", "About the certificates"), body });
}
