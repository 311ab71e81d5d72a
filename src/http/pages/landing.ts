import { X509Certificate } from "node:crypto";
import type { Context } from "../../services/context.ts";
import { html } from "./html.ts";

/** The start page: what this server is and where its CA certificates are. Japanese first. */
export function landingPage(context: Context): string {
  const cas = (["sign", "auth"] as const).map((type) => {
    const x = new X509Certificate(context.ca.authority(type).certificateDer);
    return {
      type,
      ja: type === "sign" ? "署名用認証局" : "利用者証明用認証局",
      en: type === "sign" ? "Signing CA" : "User-authentication CA",
      subject: x.subject.replace(/\n/g, ", "),
      notAfter: new Date(x.validTo).toISOString(),
      sha256: x.fingerprint256,
    };
  });
  return html`<!doctype html>
<html lang="ja">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>OpenJPKI — 公的個人認証サービス（模擬）</title>
<style>
  body { font-family: "Noto Sans JP", "IPAGothic", sans-serif; color: #1a1a1a; margin: 0 auto; max-width: 56rem; padding: 1.5rem; line-height: 1.7; }
  h1 { font-size: 1.75rem; } h2 { font-size: 1.25rem; margin-top: 2rem; }
  .en { color: #4d4d4d; } a { color: #0017c1; } a:focus { outline: 3px solid #ffd43d; }
  table { border-collapse: collapse; width: 100%; } td, th { border: 1px solid #949494; padding: .5rem; text-align: left; vertical-align: top; }
  code { word-break: break-all; }
</style>
</head>
<body>
<main>
<h1>OpenJPKI <span class="en">— 公的個人認証サービス（模擬） / JPKI, open implementation</span></h1>
<p>マイナンバーカードの2つの電子証明書（署名用電子証明書・利用者証明用電子証明書）を発行・検証する試験用のシステムです。実在の公的個人認証サービス（J-LIS）とは関係ありません。</p>
<p class="en" lang="en">A test system that issues and verifies the two certificates of the My Number Card (signing and user authentication). It is not the real JPKI operated by J-LIS.</p>
<h2>認証局 <span class="en">/ Certificate authorities</span></h2>
<table>
<thead><tr><th scope="col">認証局 / CA</th><th scope="col">名前 / Subject</th><th scope="col">有効期限 / Valid until</th><th scope="col">SHA-256</th></tr></thead>
<tbody>
${cas.map(
  (ca) => html`<tr><td><a href="/ca/${ca.type}.crt">${ca.ja}</a><br><span class="en" lang="en">${ca.en}</span></td><td><code>${ca.subject}</code></td><td>${ca.notAfter}</td><td><code>${ca.sha256}</code></td></tr>`,
)}
</tbody>
</table>
<p>保存先 / store: ${context.store.dialect}</p>
</main>
</body>
</html>
`.value;
}
