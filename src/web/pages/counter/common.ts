import { html, type SafeHtml } from "../../html.ts";
import { IDENTITY_DOCUMENTS as SERVICE_IDENTITY_DOCUMENTS, type IdentityDocument } from "../../../services/counter/identity.ts";
import { hasRole, type StaffMember } from "../../../services/counter/staff.ts";
import { adviceFor, localMessage } from "../../i18n.ts";
import { page, type View } from "../../layout.ts";
import { csrfField, field, selectField, type Problem } from "../../forms.ts";
import { LEGAL_REPRESENTATIVE_RELATIONSHIPS, RELATIONSHIP_LABEL } from "../../../services/counter/legal-representative.ts";

/** The counter console's shell: the site page with the staff bar and the console's own menu. */
export function counterPage(v: View, staff: StaffMember | undefined, options: { title: string; body: SafeHtml; hasError?: boolean }): string {
  const t = v.t;
  const current = v.path.split("?")[0]!;
  const items = [
    { href: "/counter", ja: "住民の検索・登録", en: "Residents" },
    { href: "/counter/summary", ja: "本日の集計・手数料", en: "Daily summary and fees" },
    { href: "/counter/expiry-notices", ja: "有効期限通知", en: "Expiry notices" },
    ...(staff && hasRole(staff.role, "supervisor") ? [{ href: "/counter/audit", ja: "監査記録", en: "Audit trail" }] : []),
  ];
  const bar = staff
    ? html`<div class="counter-bar">
<div class="counter-bar__top"><p class="counter-bar__who">${t("窓口端末：", "Counter terminal: ")}<strong>${staff.name}</strong> <span class="muted">${t("（", " (")}${staff.login}・${staff.officeId}・${ROLE[staff.role] ? t(ROLE[staff.role]!.ja, ROLE[staff.role]!.en) : staff.role}${t("）", ")")}</span></p>
<form method="post" action="/counter/logout" class="counter-bar__logout">${csrfField(v)}<button type="submit" class="button--secondary">${t("ログアウト", "Log out")}</button></form></div>
<nav aria-label="${t("窓口業務のメニュー", "Counter menu")}"><ul class="counter-nav">${items.map((i) => {
        const active = i.href === "/counter" ? current === "/counter" || current.startsWith("/counter/residents") || current.startsWith("/counter/cards") || current.startsWith("/counter/proxy") : current.startsWith(i.href);
        return html`<li><a href="${i.href}"${active ? html` aria-current="page"` : ""}>${t(i.ja, i.en)}</a></li>`;
      })}</ul></nav>
</div>`
    : html``;
  return page(v, { title: `${options.title} | ${t("窓口", "Counter")}`, body: html`${COUNTER_STYLE}${bar}${options.body}`, ...(options.hasError ? { hasError: true } : {}) });
}

/** The console's few extra rules, on top of web.css (same tokens). */
const COUNTER_STYLE = html`<style>
.counter-bar { border: 1px solid var(--color-neutral-solid-gray-420); border-radius: var(--border-radius-8); background: var(--color-neutral-solid-gray-50); padding: 0.5rem 1rem; margin: 0 0 1.5rem; }
.counter-bar p { margin: 0; }
.counter-bar__top { display: flex; flex-wrap: wrap; gap: 0.5rem 1.5rem; align-items: center; justify-content: space-between; border-bottom: 1px solid var(--color-neutral-solid-gray-200); padding-bottom: 0.5rem; margin-bottom: 0.25rem; }
.counter-nav { display: flex; flex-wrap: wrap; gap: 0.25rem 1rem; list-style: none; margin: 0; padding: 0; }
.counter-nav a { display: inline-block; padding: 0.5rem 0; }
.counter-nav a[aria-current="page"] { font-weight: var(--font-weight-700); color: var(--color-neutral-solid-gray-900); text-decoration-thickness: 3px; }
.counter-bar__logout { margin: 0; }
.counter-bar__logout button { min-height: 2.75rem; padding: 0.25rem 1rem; }
.reader { border: 3px solid var(--color-primitive-blue-900); border-radius: var(--border-radius-12); padding: 1rem 1.25rem; margin: 0 0 1.5rem; background: var(--color-primitive-blue-50); }
.reader h2, .reader h3 { margin-top: 0; border: 0; }
.reader__slot { font-size: var(--font-size-20); font-weight: var(--font-weight-700); }
.pinpad { border: 3px dashed var(--color-neutral-solid-gray-600); background: var(--color-neutral-white); }
.pinpad legend { font-size: var(--font-size-18); }
.pinpad input[type="password"] { letter-spacing: 0.3em; font-size: var(--font-size-24); max-width: 16rem; }
.procs { display: grid; grid-template-columns: repeat(auto-fill, minmax(14rem, 1fr)); gap: 0.5rem 1rem; list-style: none; padding: 0; }
.procs a { display: block; padding: 0.75rem 1rem; border: 1px solid var(--color-neutral-solid-gray-420); border-radius: var(--border-radius-8); font-weight: var(--font-weight-700); min-height: 3rem; }
.procs small { display: block; font-weight: var(--font-weight-400); color: var(--color-neutral-solid-gray-700); }
.search { display: flex; flex-wrap: wrap; gap: 0.75rem; align-items: flex-end; }
.search .field { margin: 0; flex: 1 1 16rem; }
.status-ok { color: var(--color-primitive-green-900, #115a36); font-weight: var(--font-weight-700); }
.status-bad { color: var(--color-primitive-red-1000, #a50000); font-weight: var(--font-weight-700); }
.total { font-size: var(--font-size-32); font-weight: var(--font-weight-700); margin: 0; }
td.num, th.num { text-align: right; white-space: nowrap; }
.nowrap { white-space: nowrap; overflow-wrap: normal; }
.table-scroll { overflow-x: auto; }
.choice + .actions, fieldset + .actions { margin-top: 1rem; }
</style>`;

export const ROLE: Record<string, { ja: string; en: string }> = {
  clerk: { ja: "窓口職員", en: "clerk" },
  supervisor: { ja: "責任者", en: "supervisor" },
  administrator: { ja: "管理者", en: "administrator" },
};

export const RESIDENT_STATUS: Record<string, { ja: string; en: string }> = {
  registered: { ja: "住民登録あり", en: "registered" },
  deceased: { ja: "死亡", en: "deceased" },
  emigrated: { ja: "国外転出", en: "emigrated" },
};

export const CARD_STATUS: Record<string, { ja: string; en: string }> = {
  producing: { ja: "作製中", en: "being produced" },
  active: { ja: "利用中", en: "in use" },
  suspended: { ja: "一時停止", en: "suspended" },
  returned: { ja: "返納済み", en: "returned" },
  spoiled: { ja: "廃棄", en: "spoiled" },
  invalid: { ja: "失効（住民登録の消除）", en: "invalid (registration ended)" },
  replaced: { ja: "再交付により無効", en: "replaced by a new card" },
};

export const APPLICATION_STATE: Record<string, { ja: string; en: string }> = {
  "in-progress": { ja: "処理中", en: "in progress" },
  completed: { ja: "完了", en: "completed" },
  failed: { ja: "不成立", en: "failed" },
  "awaiting-proxy": { ja: "代理人の再来庁待ち", en: "awaiting the proxy" },
};

export const APPLICATION_KIND: Record<string, { ja: string; en: string }> = {
  "card-issuance": { ja: "交付申請・カード作製", en: "card application and production" },
  "new-issuance": { ja: "電子証明書の新規発行", en: "new issuance" },
  renewal: { ja: "電子証明書の更新", en: "renewal" },
  revocation: { ja: "失効申請", en: "revocation on request" },
  "pin-init": { ja: "暗証番号の初期化", en: "PIN initialisation" },
  "loss-report": { ja: "紛失の届出（一時停止）", en: "loss report" },
  "card-found": { ja: "紛失カードの発見", en: "lost card found" },
  "card-return": { ja: "カードの返納", en: "card return" },
  handover: { ja: "カードの交付", en: "card handover" },
  reissue: { ja: "カードの再交付", en: "card reissue" },
  "card-suspension": { ja: "カードの一時停止", en: "card suspension" },
  "suspension-lift": { ja: "一時停止の解除", en: "suspension lifted" },
};

/** Each identity document's name: as the forms offer it, and short where a record shows it. */
export const IDENTITY_DOCUMENT_LABEL: Record<IdentityDocument, { ja: string; en: string; shortJa?: string; shortEn?: string }> = {
  "my-number-card": { ja: "マイナンバーカード", en: "My Number Card" },
  "driver-licence": { ja: "運転免許証", en: "Driver's licence" },
  passport: { ja: "旅券（パスポート）", en: "Passport" },
  "residence-card": { ja: "在留カード", en: "Residence card" },
  other: { ja: "その他（備考に記入）", en: "Other (write it in the note)", shortJa: "その他の書類", shortEn: "other document" },
};

/** The documents in the order the services list them (one list: services/counter/identity.ts). */
export const IDENTITY_DOCUMENTS = SERVICE_IDENTITY_DOCUMENTS.map((value) => ({ value, ...IDENTITY_DOCUMENT_LABEL[value] }));

export const GENDERS = [
  { value: "1", ja: "男性", en: "Male" },
  { value: "2", ja: "女性", en: "Female" },
  { value: "3", ja: "不明", en: "Unknown" },
] as const;

export function label(v: View, map: Record<string, { ja: string; en: string }>, key: string): string {
  const x = map[key];
  return x ? v.t(x.ja, x.en) : key;
}

/** What the clerk should do after a refusal, keyed by the service's stable reason. */
const COUNTER_ADVICE: Record<string, { ja: string; en: string }> = {
  "bad-credentials": { ja: "ログイン名とパスワードを確かめてください。5回続けて間違えると15分間ログインできなくなります。", en: "Check the login and password. Five failures lock the login for 15 minutes." },
  "login-locked": { ja: "15分ほど待ってから、もう一度ログインしてください。", en: "Wait about 15 minutes, then log in again." },
  "no-session": { ja: "職員としてログインし直してください。", en: "Log in again as staff." },
  "outside-renewal-window": { ja: "更新できるのは有効期限の3か月前からです。表示された日以降にもう一度お越しいただくよう案内してください。", en: "Renewal opens three months before expiry. Ask the resident to come back on or after the date shown." },
  "nothing-to-renew": { ja: "有効な電子証明書がないため更新できません。「新規発行」の手続きをしてください。", en: "There is no valid certificate to renew: use new issuance." },
  "already-valid": { ja: "有効な電子証明書があります。更新期間に入ってから「更新」の手続きをしてください。", en: "A valid certificate is on the card: use renewal once the window opens." },
  "card-held": { ja: "有効なカードがあります。紛失・破損の場合は「再交付」の手続きをしてください。", en: "The resident holds a current card: use reissue for a lost or damaged one." },
  "card-suspended": { ja: "カードは一時停止中です。「発見」「一時停止の解除」または「再交付」の手続きをしてください。", en: "The card is suspended: use card found, lift the suspension, or reissue." },
  "card-returned": { ja: "返納済みのカードでは手続きできません。新しいカードの交付申請をしてください。", en: "A returned card cannot be used: apply for a new card." },
  "card-replaced": { ja: "再交付により無効になったカードです。新しいカードで手続きしてください。", en: "This card was replaced: use the new card." },
  "card-busy": { ja: "このカードは別の端末で手続き中です。終わるのを待ってからもう一度操作してください。", en: "Another terminal is working on this card. Wait and try again." },
  "not-registered": { ja: "住民登録がないため、この手続きはできません。", en: "The resident is not registered: this procedure is not available." },
  "already-handed-over": { ja: "このカードは交付済みです。", en: "This card has already been handed over." },
  "replacement-issued": { ja: "再交付のカードが発行済みのため、一時停止は解除できません。", en: "A replacement was issued: the suspension cannot be lifted." },
  "not-suspended": { ja: "カードは一時停止されていません。", en: "The card is not suspended." },
  "already-suspended": { ja: "カードはすでに一時停止中です。", en: "The card is already suspended." },
  "police-report-required": { ja: "盗難の場合は警察の受理番号を記入してください。", en: "For a theft, enter the police report number." },
  "under-15": { ja: "15歳未満の方には署名用電子証明書を発行しません。利用者証明用のみを選んでください。", en: "No signing certificate under 15: choose the authentication certificate only." },
  guardianship: { ja: "成年被後見人の方には署名用電子証明書を発行しません。", en: "No signing certificate for an adult under guardianship." },
  "proxy-same-day": { ja: "照会書兼回答書を住所に送付しました。代理人には翌日以降に回答書を持って再来庁するよう案内してください。", en: "The inquiry letter was sent to the holder's address: the proxy comes back from the next day with the answer form." },
  "bad-answer-code": { ja: "回答書に書かれた8桁の回答番号を確かめてください。5回間違えると申請をやり直します。", en: "Check the 8-digit code on the answer form. Five wrong codes end the application." },
  "answer-code-locked": { ja: "新たに代理人申請をしてください。", en: "Start a new proxy application." },
  "proxy-expired": { ja: "回答期限を過ぎました。新たに代理人申請をしてください。", en: "The answer form expired: start a new proxy application." },
  "proxy-mismatch": { ja: "申請時の代理人ご本人が来庁する必要があります。", en: "The proxy named in the application must come in person." },
  "proxy-pending": { ja: "このカードには回答待ちの代理人申請があります。先にその申請を完了させてください。", en: "A proxy application is already waiting for this card: complete it first." },
  "proxy-not-waiting": { ja: "この申請はすでに完了したか、不成立です。", en: "This application is already completed or failed." },
  "pin-mismatch": { ja: "住民の方に、同じ暗証番号を2回入力していただいてください。", en: "Ask the resident to enter the same PIN twice." },
  "legal-representative-required": {
    ja: "法定代理人（15歳未満の方は親権者または未成年後見人、成年被後見人の方は成年後見人）の氏名と本人との関係を入力してください。15歳未満の方の暗証番号は法定代理人が設定します。法定代理人が来庁できない場合は「代理人による申請」の手続きをしてください。",
    en: "Enter the legal representative's name and relationship (a parent or a guardian of a minor for a child under 15, the adult guardian for an adult under guardianship). For a child under 15 the representative sets the PINs. If the representative cannot come, use the proxy application.",
  },
  "legal-representative-mismatch": { ja: "本人との関係を確かめてください。15歳未満の方は親権者または未成年後見人、成年被後見人の方は成年後見人です。", en: "Check the relationship: a parent or a guardian of a minor for a child under 15, the adult guardian for an adult under guardianship." },
  "legal-representative-not-needed": { ja: "法定代理人の欄を空欄にしてください。15歳以上で成年被後見人でない方は本人が申請します。代理人による場合は「代理人による申請」の手続きをしてください。", en: "Leave the legal representative empty: from 15, and not under guardianship, the holder applies in person. For a proxy, use the proxy application." },
};

/**
 * The service's message in the page's language, without the leading "<field>: " the API and the
 * CLI keep: on a page the box links to the field and the field shows its own message, so the key
 * ("new-pin", "proxy.name") says nothing to the clerk.
 */
export function problemMessage(v: View, problem: Problem): string {
  const message = localMessage(v.lang, problem.message);
  const key = problem.field ? `${problem.field}: ` : undefined;
  return key && message.startsWith(key) ? message.slice(key.length) : message;
}

/** The error box, as `problemNotice` in forms.ts, with advice written for the clerk. */
export function counterProblem(v: View, problem: Problem | undefined, fieldIds: Record<string, string> = {}): SafeHtml {
  if (!problem) return html``;
  const advice = (problem.reason ? COUNTER_ADVICE[problem.reason] : undefined) ?? adviceFor(problem.reason, problem.code);
  const target = problem.field ? fieldIds[problem.field] : undefined;
  return html`<div class="notice notice--error" role="alert" tabindex="-1" id="problem" autofocus>
<h2>${v.t("手続きできませんでした", "This could not be done")}</h2>
<p>${target ? html`<a href="#${target}">${problemMessage(v, problem)}</a>` : problemMessage(v, problem)}</p>
${advice ? html`<p><strong>${v.t("対応：", "What to do: ")}</strong>${v.t(advice.ja, advice.en)}</p>` : ""}
${problem.reason || problem.code ? html`<p class="muted">${v.t("理由コード", "Reason code")}: <span class="reason">${problem.reason ?? problem.code}</span></p>` : ""}
</div>`;
}

/** The message for a field when the problem names it. */
export function fieldError(v: View, problem: Problem | undefined, ...fields: string[]): { error: string } | Record<string, never> {
  if (!problem?.field || !fields.includes(problem.field)) return {};
  return { error: problemMessage(v, problem) };
}

/**
 * A page for what is not there (an unknown resident, card or application: 404), or another
 * refusal with no form to go back to, in the console's shell and the page's language.
 */
export function counterErrorPage(v: View, staff: StaffMember, problem: Problem): string {
  const t = v.t;
  const notFound = problem.code === "not-found";
  // A message with no Japanese half (a service's English-only "no card with id …") is not shown on a Japanese page.
  const bilingual = localMessage("ja", problem.message) !== localMessage("en", problem.message);
  const title = notFound ? t("見つかりません", "Not found") : t("手続きできませんでした", "This could not be done");
  const body = html`<h1>${title}</h1>
${notFound
    ? html`<p class="not-found">${bilingual ? problemMessage(v, problem) : t("お探しの住民・カード・申請は見つかりませんでした。", "There is no such resident, card or application.")}</p>
<p>${t("IDを確かめて、住民の検索からやり直してください。", "Check the ID, or start again from the resident search.")}</p>`
    : counterProblem(v, problem)}
<p><a href="/counter">${t("住民の検索・登録へ", "Go to the resident search")}</a></p>`;
  return counterPage(v, staff, { title, body, hasError: !notFound });
}

/** Why a procedure cost what it did: the fee reasons of the services, or the procedure when it was free by its nature. */
const FEE_REASON: Record<string, { ja: string; en: string }> = {
  "first-issuance": { ja: "初回交付（無料）", en: "first card (free)" },
  "new-card": { ja: "新しいカード（無料）", en: "new card (free)" },
  "reissue-holder-caused": { ja: "再交付（本人の責め）", en: "reissue caused by the holder" },
  "reissue-theft-police-report": { ja: "再交付（盗難・警察届出済み、無料）", en: "reissue after a reported theft (free)" },
  "reissue-card-fault": { ja: "再交付（カードの不具合、無料）", en: "reissue, card fault (free)" },
  "reissue-not-holder-caused": { ja: "再交付（本人の責めによらない、無料）", en: "reissue not caused by the holder (free)" },
  "reissue-near-expiry": { ja: "再交付（有効期限の3か月前以降、無料）", en: "reissue near expiry (free)" },
};

/** A fee reason for people: the summary's and a procedure's result use the same words. */
export function feeReasonLabel(v: View, reason: string): string {
  return label(v, FEE_REASON[reason] ? FEE_REASON : APPLICATION_KIND, reason);
}

/** How the holder (or proxy) proved who they are. */
export function identityFields(v: View, options: { required: boolean; values: Record<string, string>; problem: Problem | undefined; legend?: string; prefix?: string }): SafeHtml {
  const t = v.t;
  const p = options.prefix ?? "identity";
  return html`<fieldset>
<legend>${options.legend ?? t("本人確認", "Identity check")}</legend>
${selectField(v, {
    id: `${p}-document`,
    name: `${p}Document`,
    label: t("確認した書類", "Document checked"),
    ...(options.required ? { required: true } : {}),
    value: options.values[`${p}Document`] || "my-number-card",
    options: [...(options.required ? [] : [{ value: "", label: t("（なし）", "(none)") }]), ...IDENTITY_DOCUMENTS.map((d) => ({ value: d.value, label: t(d.ja, d.en) }))],
    ...fieldError(v, options.problem, "identity", `${p}.document`),
  })}
${field(v, { id: `${p}-note`, name: `${p}Note`, label: t("備考", "Note"), hint: t("任意。書類の種類など（200字まで）", "Optional: e.g. which document (up to 200 characters)"), value: options.values[`${p}Note`] ?? "", maxlength: 200, ...fieldError(v, options.problem, `${p}.note`) })}
</fieldset>`;
}

/**
 * The legal representative (法定代理人) who applies for a child under 15 or an adult under
 * guardianship: on every form that takes the holder's identity check, left empty for anyone else
 * (the service decides, and says which field is wrong).
 */
export function legalRepresentativeFields(v: View, options: { values: Record<string, string>; problem: Problem | undefined }): SafeHtml {
  const t = v.t;
  return html`<fieldset aria-describedby="legal-representative-hint">
<legend>${t("法定代理人（15歳未満の方・成年被後見人の方）", "Legal representative (a child under 15, an adult under guardianship)")}</legend>
<p class="hint" id="legal-representative-hint">${t("15歳未満の方と成年被後見人の方の手続きは、法定代理人が申請します（15歳未満の方の暗証番号も法定代理人が設定します）。それ以外の方は空欄のまま、本人が申請します。", "For a child under 15 or an adult under guardianship the legal representative applies (and, for a child under 15, sets the PINs). For anyone else leave this empty: the holder applies.")}</p>
${field(v, { id: "legal-representative-name", name: "legalRepresentativeName", label: t("法定代理人の氏名", "Representative's name"), value: options.values.legalRepresentativeName ?? "", maxlength: 100, autocomplete: "off", ...fieldError(v, options.problem, "legalRepresentative", "legalRepresentative.name") })}
${selectField(v, {
    id: "legal-representative-relationship",
    name: "legalRepresentativeRelationship",
    label: t("本人との関係", "Relationship to the holder"),
    value: options.values.legalRepresentativeRelationship ?? "",
    options: [{ value: "", label: t("（なし：本人が申請）", "(none: the holder applies)") }, ...LEGAL_REPRESENTATIVE_RELATIONSHIPS.map((r) => ({ value: r, label: t(RELATIONSHIP_LABEL[r].ja, RELATIONSHIP_LABEL[r].en) }))],
    ...fieldError(v, options.problem, "legalRepresentative.relationship"),
  })}
${selectField(v, {
    id: "legal-representative-identity-document",
    name: "legalRepresentativeIdentityDocument",
    label: t("法定代理人の本人確認書類", "Document the representative showed"),
    value: options.values.legalRepresentativeIdentityDocument ?? "",
    options: [{ value: "", label: t("（なし：本人が申請）", "(none: the holder applies)") }, ...IDENTITY_DOCUMENTS.map((d) => ({ value: d.value, label: t(d.ja, d.en) }))],
    ...fieldError(v, options.problem, "legalRepresentative.identity", "legalRepresentative.identity.document"),
  })}
${field(v, { id: "legal-representative-identity-note", name: "legalRepresentativeIdentityNote", label: t("備考（法定代理人の確認）", "Note (the representative's check)"), hint: t("任意。戸籍謄本・登記事項証明書など代理権の確認（200字まで）", "Optional: e.g. how the representation was proven — family register, registry certificate (up to 200 characters)"), value: options.values.legalRepresentativeIdentityNote ?? "", maxlength: 200, ...fieldError(v, options.problem, "legalRepresentative.identity.note") })}
</fieldset>`;
}

/** Where a legal representative's problem points on a form. */
export const LEGAL_REPRESENTATIVE_FIELD_IDS: Record<string, string> = {
  legalRepresentative: "legal-representative-name",
  "legalRepresentative.name": "legal-representative-name",
  "legalRepresentative.relationship": "legal-representative-relationship",
  "legalRepresentative.identity": "legal-representative-identity-document",
  "legalRepresentative.identity.document": "legal-representative-identity-document",
  "legalRepresentative.identity.note": "legal-representative-identity-note",
};

export interface PinPadOptions {
  /** Which PINs the resident enters. */
  pins: ("auth" | "sign" | "kenhojo" | "new")[];
  required: boolean;
  problem: Problem | undefined;
  hint?: string;
}

const PIN_LABEL = {
  auth: { ja: "利用者証明用電子証明書の暗証番号（数字4桁）", en: "Authentication PIN (4 digits)" },
  sign: { ja: "署名用電子証明書の暗証番号（英数字6〜16桁）", en: "Signing password (6–16 letters and digits)" },
  kenhojo: { ja: "券面事項入力補助用の暗証番号（数字4桁）", en: "Card-data PIN (券面事項入力補助, 4 digits)" },
  new: { ja: "新しい暗証番号", en: "New PIN" },
} as const;

/** The format of each PIN, under its input (the new PIN's depends on which is initialised: both are said). */
const PIN_HINT: Partial<Record<PinPadOptions["pins"][number], { ja: string; en: string }>> = {
  sign: { ja: "英大文字と数字を組み合わせてください。", en: "Capital letters and digits." },
  kenhojo: { ja: "空欄なら利用者証明用と同じ暗証番号になります。利用者証明用電子証明書を搭載しない場合は必須です。", en: "Empty: the same as the authentication PIN. Required when no authentication certificate is loaded." },
  new: {
    ja: "利用者証明用は数字4桁、署名用は英大文字と数字の6〜16桁（英字と数字をそれぞれ1文字以上）です。",
    en: "Authentication PIN: 4 digits. Signing password: 6–16 capital letters and digits (at least one of each).",
  },
};

/**
 * The PIN pad the resident uses: each PIN typed twice, as password inputs. The values are
 * never rendered back into the page (not even after an error) and never logged.
 */
export function pinPad(v: View, o: PinPadOptions): SafeHtml {
  const t = v.t;
  return html`<fieldset class="pinpad" aria-describedby="pinpad-hint">
<legend>${t("暗証番号入力パッド（住民の方が入力）", "PIN pad (the resident types)")}</legend>
<p class="hint" id="pinpad-hint">${o.hint ?? t("画面を住民の方に向けてください。入力した暗証番号は表示も記録もされません。", "Turn the pad to the resident. What is typed is never shown or recorded.")}</p>
${o.pins.map((kind) => {
    const numeric = kind === "auth" || kind === "kenhojo";
    const id = `${kind}-pin`;
    const base = { type: "password" as const, autocomplete: "new-password", ...(numeric ? { inputmode: "numeric" as const, maxlength: 4 } : { maxlength: 16 }), ...(o.required ? { required: true } : {}) };
    const hint = PIN_HINT[kind];
    return html`${field(v, { id, name: `${kind}Pin`, label: t(PIN_LABEL[kind].ja, PIN_LABEL[kind].en), ...base, ...(hint ? { hint: t(hint.ja, hint.en) } : {}), ...fieldError(v, o.problem, id, `${kind}Pin`, kind === "new" ? "newPin" : id) })}
${field(v, { id: `${id}-confirm`, name: `${kind}PinConfirm`, label: t(`確認のため、もう一度（${PIN_LABEL[kind].ja}）`, `Again, to confirm (${PIN_LABEL[kind].en})`), ...base, ...fieldError(v, o.problem, `${id}-confirm`) })}`;
  })}
</fieldset>`;
}

/** The time of day in Japan (HH:MM), for lists within one day. */
export function timeOfDay(iso: string): string {
  const t = new Date(iso);
  return Number.isNaN(t.getTime()) ? iso : new Date(t.getTime() + 9 * 3600_000).toISOString().slice(11, 16);
}

/** Brackets and the list comma in the page's language. */
export const po = (v: View): string => v.t("（", " (");
export const pc = (v: View): string => v.t("）", ")");
export const pcomma = (v: View): string => v.t("、", ", ");

export function yen(v: View, amount: number): string {
  return v.t(`${amount.toLocaleString("ja-JP")}円`, `¥${amount.toLocaleString("en-US")}`);
}
