/**
 * Japanese first, English switchable: every string a page shows is written in both, next to
 * where it is used, through `t(ja, en)`. Dates are Japan dates; instants are shown in JST.
 */
export type Lang = "ja" | "en";

export type Translate = (ja: string, en: string) => string;

export function translator(lang: Lang): Translate {
  return lang === "en" ? (_ja, en) => en : (ja) => ja;
}

export function isLang(value: unknown): value is Lang {
  return value === "ja" || value === "en";
}

const MONTHS_EN = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** A Japan calendar date (YYYY-MM-DD) for people: 2031年1月2日 / 2 Jan 2031. */
export function formatDate(lang: Lang, date: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (!m) return date;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return lang === "en" ? `${d} ${MONTHS_EN[mo - 1]} ${y}` : `${y}年${mo}月${d}日`;
}

/** An instant shown in Japan time: 2026年11月26日 14:03（日本時間） / 26 Nov 2026, 14:03 JST. */
export function formatInstant(lang: Lang, iso: string): string {
  const t = new Date(iso);
  if (Number.isNaN(t.getTime())) return iso;
  const jst = new Date(t.getTime() + 9 * 3600_000);
  const date = jst.toISOString().slice(0, 10);
  const time = jst.toISOString().slice(11, 16);
  return lang === "en" ? `${formatDate(lang, date)}, ${time} JST` : `${formatDate(lang, date)} ${time}（日本時間）`;
}

/**
 * Service messages are written "日本語 / English"; show the half for the page's language
 * (the whole message when it has no such split).
 */
export function localMessage(lang: Lang, message: string): string {
  // The split is "/ " after a space or after Japanese ("…（残り2回）/ wrong PIN…"); a slash inside
  // an English word pair or a URL has neither.
  const split = /(?: |(?<=[^\x00-\x7f]))\/ /.exec(message);
  if (!split) return message;
  return lang === "en" ? message.slice(split.index + split[0].length) : message.slice(0, split.index);
}

export const CERT_NAME = {
  sign: { ja: "署名用電子証明書", en: "Signing certificate" },
  auth: { ja: "利用者証明用電子証明書", en: "User-authentication certificate" },
} as const;

export const PIN_NAME = {
  sign: { ja: "署名用電子証明書の暗証番号（英数字6〜16桁）", en: "signing password (6–16 letters and digits)" },
  auth: { ja: "利用者証明用電子証明書の暗証番号（数字4桁）", en: "authentication PIN (4 digits)" },
} as const;

export const STATE_NAME = {
  valid: { ja: "有効", en: "Valid" },
  expired: { ja: "有効期限切れ", en: "Expired" },
  revoked: { ja: "失効", en: "Revoked" },
  hold: { ja: "一時保留（利用停止中）", en: "On hold (suspended)" },
} as const;

export const REVOCATION_REASON = {
  unspecified: { ja: "交付前に廃棄", en: "destroyed before delivery" },
  keyCompromise: { ja: "カードの紛失・盗難など", en: "card lost or stolen (key compromise)" },
  cACompromise: { ja: "認証局の事故", en: "CA compromise" },
  affiliationChanged: { ja: "氏名・住所などの変更", en: "name, address or other details changed" },
  superseded: { ja: "更新により新しい証明書に置き換え", en: "replaced by a renewal" },
  cessationOfOperation: { ja: "利用の終了（失効の申請、カードの返納、死亡など）", en: "use ended (at the holder's request, card returned, or the holder died)" },
  certificateHold: { ja: "紛失届による一時保留", en: "put on hold after a loss report" },
} as const;

/**
 * What a resident should do after a refusal, keyed by the stable `reason` (or `code`) of the
 * service or verifier. The service's own message is always shown too.
 */
const ADVICE: Record<string, { ja: string; en: string }> = {
  "wrong-pin": {
    ja: "暗証番号を確かめて、もう一度入力してください。規定の回数を間違えるとロックされます。",
    en: "Check the PIN and enter it again. After too many wrong tries it is locked.",
  },
  "pin-blocked": {
    ja: "暗証番号がロックされています。利用者証明用（数字4桁）はお住まいの市区町村の窓口で初期化します。署名用（英数字）は窓口のほか、スマートフォンのアプリで予約してからコンビニのキオスク端末でも初期化できます。",
    en: "The PIN is locked. The 4-digit authentication PIN is reset at your municipality's counter. The signing password can also be reset at a convenience-store kiosk after booking in the smartphone app.",
  },
  "invalid-pin": {
    ja: "利用者証明用の暗証番号は数字4桁、署名用電子証明書の暗証番号は英大文字と数字の6〜16桁です。入力し直してください（カードには送っていないので、試行回数は減っていません）。",
    en: "The authentication PIN is 4 digits; the signing password is 6 to 16 capital letters and digits. Enter it again (it was not sent to the card, so no try was used).",
  },
  revoked: {
    ja: "この電子証明書は失効しています。新しい電子証明書の発行はお住まいの市区町村の窓口で手続きしてください。",
    en: "This certificate has been revoked. Apply for a new one at your municipality's counter.",
  },
  "on-hold": {
    ja: "紛失届などで利用が止められています。窓口へお越しください。",
    en: "The certificate is suspended (for example after a loss report). Please visit the counter.",
  },
  expired: {
    ja: "有効期限が切れています。窓口で電子証明書の発行手続きをしてください。",
    en: "The certificate has expired. Apply for a new one at the counter.",
  },
  "no-reservation": {
    ja: "先にスマートフォンのアプリで予約してください。予約から24時間以内にキオスク端末で手続きできます。",
    en: "Book first in the smartphone app. You then have 24 hours to finish at a kiosk.",
  },
  "reservation-used": { ja: "アプリでもう一度予約してください。", en: "Make a new booking in the app." },
  "reservation-expired": {
    ja: "予約から24時間が過ぎました。アプリでもう一度予約してください。",
    en: "More than 24 hours have passed since the booking. Make a new booking in the app.",
  },
  "route-not-offered": { ja: "窓口で手続きしてください。", en: "Please use the counter." },
  "no-session": { ja: "カードでもう一度ログインしてください。", en: "Log in again with your card." },
  "challenge-used": { ja: "最初からやり直してください。", en: "Please start again." },
  "challenge-expired": { ja: "時間がたちすぎました。最初からやり直してください。", en: "Too much time passed. Please start again." },
  "wrong-certificate-type": {
    ja: "この手続きには別の電子証明書が必要です。",
    en: "This step needs the other certificate.",
  },
  "no-signing-certificate": {
    ja: "このカードには署名用電子証明書がありません。必要な場合は窓口で発行の手続きをしてください。",
    en: "This card has no signing certificate. Apply for one at the counter if you need it.",
  },
  "invalid-input": { ja: "入力内容を確かめて、直してからもう一度送信してください。", en: "Check what you entered, correct it and send again." },
  "not-found": { ja: "見つかりませんでした。入力内容を確かめてください。", en: "Nothing was found. Check what you entered." },
  "not-eligible": { ja: "この手続きの対象になりません。窓口にお問い合わせください。", en: "This procedure is not available for you. Please ask at the counter." },
  conflict: { ja: "すでに手続き済みか、状態が変わっています。ページを読み込み直して確かめてください。", en: "This was already done or the state changed. Reload the page and check." },
  "bad-signature": { ja: "署名を確認できませんでした。最初からやり直してください。", en: "The signature could not be verified. Please start again." },
  "revocation-unavailable": {
    ja: "失効情報を確認できませんでした。しばらくしてからもう一度お試しください。",
    en: "The revocation status could not be checked. Please try again later.",
  },
  "kiosk-closed": { ja: "利用できる時間内にもう一度お越しください。", en: "Please come back during service hours." },
  csrf: {
    ja: "ページを開いてから時間がたったか、別の画面から送信されました。ページを読み込み直して、もう一度操作してください。",
    en: "The form is too old or came from another page. Reload the page and try again.",
  },
};

export function adviceFor(reason: string | undefined, code?: string): { ja: string; en: string } | undefined {
  if (reason && ADVICE[reason]) return ADVICE[reason];
  if (reason?.startsWith("card-")) {
    return { ja: "カードを置き直して、もう一度お試しください。", en: "Place the card again and retry." };
  }
  return code ? ADVICE[code] : undefined;
}
