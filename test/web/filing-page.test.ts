// The e-Tax demo's filing result: a refusal is explained in the page's language, with times in JST;
// the verifier's own (English) message is kept, marked as English.
import { test } from "node:test";
import assert from "node:assert/strict";
import { filingPage } from "../../src/web/pages/etax.ts";
import { view } from "../../src/web/layout.ts";
import type { Filing } from "../../src/services/filings.ts";

const revoked: Filing = {
  id: "F-0123456789AB",
  format: "xml",
  status: "refused",
  reason: "revoked",
  signerSerial: "0A1B",
  verification: {
    valid: false,
    code: "revoked",
    message: "the certificate was revoked at 2026-12-07T15:11:00.000Z, reason affiliationChanged (ocsp)",
    detail: { reason: "affiliationChanged", reasonCode: 3, revokedAt: "2026-12-07T15:11:00.000Z", method: "ocsp", url: "http://127.0.0.1/ocsp/sign" },
  },
  submittedAt: "2026-12-07T15:20:00.000Z",
  received: { bytes: 100, sha256: "00" },
};

test("a revoked signer: the Japanese page says so in Japanese, in JST, with the reason; the English page in English", () => {
  const ja = filingPage(view("ja", "/demo/etax/filings/F-0123456789AB", "token", false), revoked);
  assert.match(ja, /電子証明書は失効しています（2026年12月8日 00:11（日本時間）、理由：氏名・住所などの変更）。/);
  const alert = /<div class="notice notice--error"[\s\S]*?<\/div>/.exec(ja)![0];
  assert.doesNotMatch(alert, /the certificate was revoked/, "no English in the Japanese alert");
  assert.match(ja, /<td lang="en">the certificate was revoked at 2026-12-07T15:11:00.000Z/);
  const en = filingPage(view("en", "/demo/etax/filings/F-0123456789AB", "token", false), revoked);
  assert.match(en, /The certificate is revoked \(8 Dec 2026, 00:11 JST, reason: name, address or other details changed\)\./);
});
