import { html, type SafeHtml } from "../html.ts";
import type { CardChoice, CertificateView, CardView } from "../../services/resident-view.ts";
import { CERT_NAME, REVOCATION_REASON, STATE_NAME, formatDate, formatInstant } from "../i18n.ts";
import type { View } from "../layout.ts";
import { MACHIDA_CONTACT, MACHIDA_OFFICES } from "../offices.ts";
import { localMessage } from "../i18n.ts";

/** "Place your card": the virtual cards on this server as a radio group. */
export function cardPicker(v: View, cards: CardChoice[], options: { selected?: string; error?: string; legend?: string } = {}): SafeHtml {
  if (cards.length === 0) {
    const create = v.devConsole
      ? html` <a href="/dev">${v.t("開発者向けページで住民とカードを作成できます。", "Create a resident and a card on the developer page.")}</a>`
      : html` ${v.t("カードは窓口で作製します。", "Cards are made at the counter.")}`;
    return html`<div class="notice notice--info"><p>${v.t("このサーバーにはまだカードがありません。", "There are no cards on this server yet.")}${create}</p></div>`;
  }
  const selected = options.selected ?? (cards.length === 1 ? cards[0]!.id : undefined);
  return html`<fieldset${options.error ? html` aria-describedby="card-error"` : ""}>
<legend>${options.legend ?? v.t("カードを選んでください（カードリーダーに置く代わり）", "Choose your card (instead of placing it on the reader)")}</legend>
${options.error ? html`<span class="field-error" id="card-error">${options.error}</span>` : ""}
${cards.map(
  (c, i) => html`<div class="choice"><input type="radio" name="cardId" id="card-${i}" value="${c.id}"${c.id === selected ? html` checked` : ""} required>
<label for="card-${i}"><span class="mono">${c.id}</span> — ${c.residentName}（${c.municipality}）</label></div>`,
)}
</fieldset>`;
}

export function stateBadge(v: View, state: CertificateView["state"]): SafeHtml {
  return html`<span class="badge badge--${state}">${v.t(STATE_NAME[state].ja, STATE_NAME[state].en)}</span>`;
}

/** What a resident should do next about one certificate, in plain words. */
export function nextStep(v: View, c: CertificateView, triesLeft: number | undefined): SafeHtml {
  const items: string[] = [];
  switch (c.state) {
    case "valid":
      items.push(
        c.renewalOpen
          ? v.t(
              `更新できる期間に入っています。${formatDate("ja", c.expires)}までに、マイナンバーカードセンターか市民センターで更新してください。`,
              `You can renew it now. Renew at the My Number Card Center or a citizen centre before ${formatDate("en", c.expires)}.`,
            )
          : v.t(
              `今は手続きは必要ありません。更新は${formatDate("ja", c.renewalFrom)}からできます。`,
              `Nothing to do now. You can renew from ${formatDate("en", c.renewalFrom)}.`,
            ),
      );
      break;
    case "expired":
      items.push(v.t("有効期限が切れています。窓口で電子証明書の発行手続きをしてください。", "It has expired. Apply for a new certificate at the counter."));
      break;
    case "revoked":
      items.push(
        c.revocationReason === "affiliationChanged"
          ? v.t("住所や氏名などが変わったため失効しました。新しい住所・氏名の署名用電子証明書は、窓口で発行の手続きをしてください。", "It was revoked because your address, name or other details changed. Apply for a new signing certificate at the counter.")
          : v.t("この電子証明書は使えません。窓口で発行の手続きをしてください。", "This certificate can no longer be used. Apply for a new one at the counter."),
      );
      break;
    case "hold":
      items.push(v.t("紛失届により利用を止めています。カードが見つかった場合も、窓口で新しい電子証明書の発行手続きが必要です。", "It is suspended after a loss report. Even if the card is found, a new certificate must be issued at the counter."));
      break;
  }
  if (triesLeft === 0 && (c.state === "valid" || c.state === "expired")) {
    items.push(
      c.type === "sign"
        ? v.t("暗証番号がロックされています。窓口で初期化するか、スマートフォンのアプリで予約して24時間以内にコンビニのキオスク端末で初期化できます（利用者証明用の数字4桁の暗証番号が必要です）。", "The password is locked. Reset it at the counter, or book in the smartphone app and reset it at a convenience-store kiosk within 24 hours (you need your 4-digit authentication PIN).")
        : v.t("暗証番号がロックされています。お住まいの市区町村の窓口で初期化してください。", "The PIN is locked. Have it reset at your municipality's counter."),
    );
  } else if (triesLeft !== undefined && triesLeft > 0 && triesLeft < (c.type === "sign" ? 5 : 3)) {
    items.push(v.t(`暗証番号をあと${triesLeft}回間違えるとロックされます。`, `${triesLeft} more wrong tries will lock the PIN.`));
  }
  return html`<div class="next"><p><strong>${v.t("次にすること", "What to do next")}</strong></p><ul>${items.map((i) => html`<li>${i}</li>`)}</ul></div>`;
}

/** One certificate with its state, dates and tries left. */
export function certificateBlock(v: View, c: CertificateView | undefined, type: "sign" | "auth", triesLeft: number | undefined): SafeHtml {
  const name = v.t(CERT_NAME[type].ja, CERT_NAME[type].en);
  if (!c) {
    return html`<section class="cert" aria-labelledby="cert-${type}"><h3 id="cert-${type}">${name}</h3>
<p>${v.t("このカードには搭載されていません。必要な場合は窓口で発行の手続きをしてください（15歳未満の方には署名用電子証明書は発行されません）。", "This card does not hold one. Apply at the counter if you need it (no signing certificate is issued to people under 15).")}</p></section>`;
  }
  const max = type === "sign" ? 5 : 3;
  return html`<section class="cert" aria-labelledby="cert-${type}"><h3 id="cert-${type}">${name} ${stateBadge(v, c.state)}</h3>
<table><tbody>
<tr><th scope="row">${v.t("状態", "State")}</th><td>${v.t(STATE_NAME[c.state].ja, STATE_NAME[c.state].en)}${
    c.revocationReason && (c.state === "revoked" || c.state === "hold")
      ? html`（${v.t(REVOCATION_REASON[c.revocationReason].ja, REVOCATION_REASON[c.revocationReason].en)}${c.revokedAt ? html`、${formatInstant(v.lang, c.revokedAt)}` : ""}）`
      : ""
  }</td></tr>
<tr><th scope="row">${v.t("有効期限", "Expires")}</th><td>${formatDate(v.lang, c.expires)}</td></tr>
<tr><th scope="row">${v.t("更新できる日", "Renewal opens")}</th><td>${
    // Only a valid certificate is renewed; an expired, revoked or held one needs a new issuance.
    c.state !== "valid" ? "—" : html`${formatDate(v.lang, c.renewalFrom)}${c.renewalOpen ? html`（${v.t("更新できます", "open now")}）` : ""}`
  }</td></tr>
<tr><th scope="row">${v.t("暗証番号の残り回数", "PIN tries left")}</th><td>${
    triesLeft === undefined ? v.t("読み取れませんでした", "could not be read") : triesLeft === 0 ? html`<strong>${v.t("0回（ロック中）", "0 (locked)")}</strong>` : v.t(`${triesLeft}回（全${max}回）`, `${triesLeft} of ${max}`)
  }</td></tr>
<tr><th scope="row">${v.t("シリアル番号", "Serial number")}</th><td class="mono">${c.serialHex}</td></tr>
</tbody></table>
${nextStep(v, c, triesLeft)}
</section>`;
}

export function cardCertificates(v: View, view: CardView): SafeHtml {
  return html`${certificateBlock(v, view.certificates.sign, "sign", view.triesLeft.sign)}${certificateBlock(v, view.certificates.auth, "auth", view.triesLeft.auth)}`;
}

/** Machida's offices and the page's contact. */
export function officesSection(v: View, headingLevel: 2 | 3 = 2): SafeHtml {
  const h = (text: string, id: string) => (headingLevel === 2 ? html`<h2 id="${id}">${text}</h2>` : html`<h3 id="${id}">${text}</h3>`);
  return html`<section aria-labelledby="offices">
${h(v.t("手続きができる窓口（町田市）", "Where to go (Machida City)"), "offices")}
<p>${v.t("電子証明書の発行・更新・暗証番号の初期化は、次の窓口でできます。手続きは原則としてご本人が行います。代理の方が手続きする場合は流れや必要書類が異なるため、事前にお問い合わせください。", "Issuance, renewal and PIN resets are done at these offices, in principle by the holder in person. If someone else comes for you, the steps and documents differ: please ask first.")}</p>
<table>
<thead><tr><th scope="col">${v.t("窓口", "Office")}</th><th scope="col">${v.t("所在地・電話・受付時間", "Address, phone, hours")}</th></tr></thead>
<tbody>
${MACHIDA_OFFICES.map(
  (o) => html`<tr><th scope="row">${v.t(o.nameJa, o.nameEn)}</th><td>${o.address ? html`${o.address}<br>` : ""}${o.phone ? html`${v.t("電話", "Phone")}: ${o.phone}<br>` : ""}${o.hours ? html`${o.hours}<br>` : ""}${
    o.address && o.hours ? "" : v.t(`所在地・受付時間は、町田市ホームページの各センターの「アクセスマップ」（${o.accessMapJa}）でご確認ください。`, `For the address and hours, see the centre's access map on Machida City's website (${o.accessMapEn}).`)
  }</td></tr>`,
)}
</tbody>
</table>
${headingLevel === 2 ? html`<h3>${v.t("このページの問い合わせ先", "Contact for this page")}</h3>` : html`<h4>${v.t("このページの問い合わせ先", "Contact for this page")}</h4>`}
<p>${v.t(MACHIDA_CONTACT.nameJa, MACHIDA_CONTACT.nameEn)}<br>
${v.t("電話", "Phone")}: <a href="tel:${MACHIDA_CONTACT.phone}">${MACHIDA_CONTACT.phone}</a>　FAX: ${MACHIDA_CONTACT.fax}<br>
${v.t("町田市役所（代表）", "Machida City Hall (main)")}: ${MACHIDA_CONTACT.mainPhone}</p>
</section>`;
}

export function splitMessage(v: View, message: string): string {
  return localMessage(v.lang, message);
}
