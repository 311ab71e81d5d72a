import { html, type SafeHtml } from "./html.ts";
import { translator, type Lang, type Translate } from "./i18n.ts";

/** What every page renderer gets: the language, its translator, the page's own path and the form token. */
export interface View {
  lang: Lang;
  t: Translate;
  /** The path of the page as a GET (the language switch links to it). */
  path: string;
  /** The per-session form token (hidden field `_csrf`). */
  csrf: string;
  /** Whether this server offers the developer console (`serve --dev`): only then do pages link to it. */
  devConsole: boolean;
}

export function view(lang: Lang, path: string, csrf: string, devConsole: boolean): View {
  return { lang, t: translator(lang), path, csrf, devConsole };
}

export type Variant = "site" | "kiosk" | "app";

const NAV: { href: string; ja: string; en: string }[] = [
  { href: "/", ja: "トップ", en: "Home" },
  { href: "/info", ja: "電子証明書について", en: "About the certificates" },
  { href: "/resident", ja: "マイページ", en: "My page" },
  { href: "/kiosk", ja: "キオスク端末", en: "Kiosk" },
  { href: "/app", ja: "暗証番号リセットアプリ", en: "PIN reset app" },
  { href: "/demo/etax", ja: "電子申告（体験）", en: "e-Filing demo" },
  { href: "/demo/portal", ja: "ログイン（体験）", en: "Login demo" },
  { href: "/dev", ja: "開発者向け", en: "Developers" },
  { href: "/counter", ja: "窓口（職員）", en: "Counter (staff)" },
];

/** The same page in the other language: the switch every page carries. */
export function languageSwitch(v: View): SafeHtml {
  const other: Lang = v.lang === "ja" ? "en" : "ja";
  const sep = v.path.includes("?") ? "&" : "?";
  return html`<a class="lang-switch" href="${v.path}${sep}lang=${other}" lang="${other}" hreflang="${other}">${other === "en" ? "English" : "日本語"}</a>`;
}

function navLinks(v: View): SafeHtml {
  const current = v.path.split("?")[0]!;
  const items = v.devConsole ? NAV : NAV.filter((item) => item.href !== "/dev");
  return html`<nav class="site-nav" aria-label="${v.t("サイト内の移動", "Site")}"><ul>${items.map((item) => {
    const active = item.href === "/" ? current === "/" : current === item.href || current.startsWith(`${item.href}/`);
    return html`<li><a href="${item.href}"${active ? html` aria-current="page"` : ""}>${v.t(item.ja, item.en)}</a></li>`;
  })}</ul></nav>`;
}

/** The page shell: language, skip link, header with the language switch, navigation, main, footer. */
export function page(v: View, options: { title: string; body: SafeHtml; variant?: Variant; hasError?: boolean }): string {
  const variant = options.variant ?? "site";
  const title = `${options.hasError ? v.t("エラー：", "Error: ") : ""}${options.title} | OpenJPKI`;
  return html`<!doctype html>
<html lang="${v.lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<link rel="stylesheet" href="/assets/tokens.css">
<link rel="stylesheet" href="/assets/web.css">
<script src="/assets/web.js" defer></script>
</head>
<body class="${variant}">
<a class="skip" href="#main">${v.t("本文へ移動", "Skip to main content")}</a>
<header class="site-header"><div class="site-header__inner">
<a class="site-title" href="/">OpenJPKI <small>${v.t("公的個人認証サービス（試験用）", "Public Personal Authentication Service (test system)")}</small></a>
${languageSwitch(v)}
</div></header>
${variant === "site" ? navLinks(v) : ""}
<main id="main" tabindex="-1">
${options.body}
</main>
<footer class="site-footer"><div class="site-footer__inner">
<p>${v.t(
    "これは試験・開発用のシステムです。実在の公的個人認証サービス（J-LIS）や町田市とは関係ありません。",
    "This is a test and development system. It is not the real JPKI run by J-LIS, nor a service of Machida City.",
  )}</p>
${variant === "site" ? "" : html`<p><a href="/">${v.t("トップページへ戻る", "Back to the home page")}</a></p>`}
</div></footer>
</body>
</html>
`.value;
}
