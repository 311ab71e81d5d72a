// The counter console in a real browser (Chromium through playwright-core): a clerk logs in,
// registers a resident, produces a card with the resident's PINs, hands it over, initialises a
// PIN locked through the card API, is refused an early renewal, records a move, reissues a card
// for a fee, and checks the day's fees and the audit trail. Each main page is screenshotted
// (test-artifacts/web/) and checked with axe.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { JpkiClient } from "../../src/client/jpki-client.ts";
import type { TestContext } from "../helpers/context.ts";
import { ARTIFACTS, assertAccessible, browserMissing, openBrowserSession, screenshotAndCheck, type BrowserSession } from "./browser.ts";

const skip = browserMissing();
if (skip) console.log(`# ${skip}`);

// A supervisor: the window procedures and the audit trail (a clerk is refused the trail, below).
const LOGIN = "supervisor.machida";
const PASSWORD = "correct horse battery staple";
const CLERK = "clerk.machida";

describe("counter console in a real browser", { skip: skip ?? false, timeout: 120_000 }, () => {
  let session: BrowserSession;
  let t: TestContext;
  let page: Page;
  let base: string;
  let residentId = "";
  let cardId = "";

  before(async () => {
    session = await openBrowserSession({
      setup: async (t) => {
        await t.context.staff.add({ officeId: "machida-mnc", login: LOGIN, name: "町田 窓口", role: "supervisor", password: PASSWORD });
        await t.context.staff.add({ officeId: "machida-mnc", login: CLERK, name: "町田 職員", role: "clerk", password: PASSWORD });
      },
    });
    ({ t, page, base } = session);
  });

  after(() => session?.close());

  const readerProcedure = async (name: string) => {
    await page.click(`.reader .procs a:has-text('${name}')`);
    await page.waitForSelector(`h1:has-text('${name}')`);
  };

  test("every counter page needs a staff login; a wrong password is refused", async () => {
    for (const path of ["/counter", "/counter/summary", "/counter/audit", "/counter/expiry-notices"]) {
      const r = await page.request.get(`${base}${path}`, { maxRedirects: 0 });
      assert.equal(r.status(), 303, path);
      assert.match(r.headers().location ?? "", /^\/counter\/login\?next=/, path);
    }
    await page.goto(`${base}/counter/audit`);
    await page.waitForSelector("h1:has-text('職員ログイン')");
    await page.fill("#login", LOGIN);
    await page.fill("#password", "not the password");
    await page.click("main button:has-text('ログイン')");
    const alert = page.locator("[role=alert]");
    await alert.waitFor();
    assert.match(await alert.innerText(), /ログイン名またはパスワードが違います/);
    assert.equal(await page.inputValue("#password"), "", "the password is not shown back");
    await screenshotAndCheck(page, "20-counter-login");

    await page.fill("#login", LOGIN);
    await page.fill("#password", PASSWORD);
    await page.click("main button:has-text('ログイン')");
    await page.waitForSelector("h1:has-text('監査記録')"); // back to the page asked for
    assert.match(await page.locator(".counter-bar").innerText(), /町田 窓口/);
  });

  test("register a resident", async () => {
    await page.goto(`${base}/counter`);
    await page.fill("#r-name", "窓口 花子");
    await page.fill("#r-birth", "1988-05-06");
    await page.selectOption("#r-gender", "2");
    await page.fill("#r-address", "東京都町田市森野２－２－２２");
    await page.click("button:has-text('登録する')");
    await page.waitForSelector("text=住民を登録しました");
    residentId = new URL(page.url()).pathname.split("/").pop()!;
    assert.match(residentId, /^R-/);
    assert.match(await page.locator("main").innerText(), /1988年5月6日/);

    await page.goto(`${base}/counter?q=${encodeURIComponent("窓口")}`);
    assert.equal(await page.locator(`a[href="/counter/residents/${residentId}"]`).count(), 1);
    await screenshotAndCheck(page, "21-counter-residents");
  });

  test("produce a card with the resident's PINs, print the notice, hand it over", async () => {
    await page.goto(`${base}/counter/residents/${residentId}`);
    await page.click("a:has-text('カードの交付申請・作製')");
    await page.fill("#auth-pin", "1234");
    await page.fill("#auth-pin-confirm", "1243");
    await page.fill("#sign-pin", "ABC123");
    await page.fill("#sign-pin-confirm", "ABC123");
    await page.click("button:has-text('カードを作製する')");
    const alert = page.locator("[role=alert]");
    await alert.waitFor();
    assert.match(await alert.innerText(), /一致しません/);
    for (const id of ["#auth-pin", "#auth-pin-confirm", "#sign-pin", "#sign-pin-confirm"]) {
      assert.equal(await page.getAttribute(id, "type"), "password");
      assert.equal(await page.inputValue(id), "", `${id} is never filled back`);
    }
    assert.doesNotMatch(await page.content(), /ABC123|1243/);

    // A blank signing password is not a silent decline (the certificate comes unless the resident
    // declines it), and a PIN is taken as typed: spaces around it are refused, as by the API.
    for (const [authPin, signPin, message] of [
      ["1234", "", /署名用の暗証番号を入力してください/],
      [" 1234", "ABC123", /暗証番号/],
      ["1234", " ABC123 ", /暗証番号/],
    ] as const) {
      await page.fill("#auth-pin", authPin);
      await page.fill("#auth-pin-confirm", authPin);
      await page.fill("#sign-pin", signPin);
      await page.fill("#sign-pin-confirm", signPin);
      await page.click("button:has-text('カードを作製する')");
      await page.locator("[role=alert]").waitFor();
      assert.match(await page.locator("[role=alert]").innerText(), message, JSON.stringify([authPin, signPin]));
    }
    assert.deepEqual(await t.context.ca.certificatesOf(residentId), [], "no card was produced");

    await page.fill("#auth-pin", "1234");
    await page.fill("#auth-pin-confirm", "1234");
    await page.fill("#sign-pin", "ABC123");
    await page.fill("#sign-pin-confirm", "ABC123");
    await page.click("button:has-text('カードを作製する')");
    await page.waitForSelector("text=カードを作製しました");
    cardId = (await page.getAttribute("[data-reader-card]", "data-reader-card"))!;
    assert.match(cardId, /^C-/);
    const pdf = await page.request.get(`${base}/counter/cards/${cardId}/issuance-notice`);
    assert.equal(pdf.headers()["content-type"], "application/pdf");
    assert.equal((await pdf.body()).subarray(0, 5).toString(), "%PDF-");
    assert.equal(await page.locator(".certs .badge--valid").count(), 2);

    await readerProcedure("カードの交付");
    await page.selectOption("#identity-document", "driver-licence");
    await page.click("button:has-text('カードの交付を実行する')");
    await page.waitForSelector("text=カードの交付が完了しました");
    assert.match(await page.locator("#cards ~ .table-scroll").first().innerText(), /\d{4}年\d{1,2}月\d{1,2}日\s+\d{4}年/);
    assert.doesNotMatch(await page.locator("#cards ~ .table-scroll").first().innerText(), /未交付/);
  });

  test("at 1280 px the certificate table keeps each state badge and card id on one line", async () => {
    await page.setViewportSize({ width: 1280, height: 900 });
    try {
      await page.goto(`${base}/counter/residents/${residentId}?card=${cardId}`);
      // The lines a cell's or badge's text takes: one box per line in the range's client rects.
      const lines = (await page.evaluate(
        `[...document.querySelectorAll("table.certs .badge, table.certs tbody td:nth-child(5)")].map((el) => { const r = document.createRange(); r.selectNodeContents(el); return new Set([...r.getClientRects()].map((x) => Math.round(x.top))).size; })`,
      )) as number[];
      assert.equal(lines.length, 4, "two badges and two card ids");
      assert.deepEqual(lines, [1, 1, 1, 1], "有効 not broken into 有／効, nor the card id");
      await page.locator("table.certs").screenshot({ path: `${ARTIFACTS}/21b-counter-certificates-1280.png` });
    } finally {
      await page.setViewportSize({ width: 1100, height: 900 });
    }
  });

  test("a PIN locked through the card API is initialised at the window", async () => {
    await t.context.cards.withReader(cardId, async (reader) => {
      const client = new JpkiClient(reader);
      for (let i = 0; i < 3; i++) await client.verifyPin("auth", "0000");
      assert.equal(await client.triesLeft("auth"), 0);
    });
    await page.goto(`${base}/counter/residents/${residentId}?card=${cardId}`);
    assert.match(await page.locator(".tries-auth").innerText(), /0回（ロック中）/);
    await readerProcedure("暗証番号の初期化");
    await page.check("#pin-type-auth");
    await page.fill("#new-pin", "5678");
    await page.fill("#new-pin-confirm", "5678");
    await screenshotAndCheck(page, "22-counter-pin-init");
    await page.click("button:has-text('暗証番号の初期化を実行する')");
    await page.waitForSelector("text=暗証番号の初期化が完了しました");
    assert.match(await page.locator(".tries-auth").innerText(), /3回（全3回）/);
    await t.context.cards.withReader(cardId, async (reader) => {
      const client = new JpkiClient(reader);
      assert.deepEqual(await client.verifyPin("auth", "5678"), { ok: true });
    });
  });

  test("a renewal three months too early is refused with the day it opens", async () => {
    await page.goto(`${base}/counter/residents/${residentId}?card=${cardId}`);
    await readerProcedure("電子証明書の更新");
    const opens = (await page.locator(".renewal-from").first().innerText()).trim();
    await page.click("button:has-text('電子証明書の更新を実行する')");
    const alert = page.locator("[role=alert]");
    await alert.waitFor();
    const text = await alert.innerText();
    assert.match(text, /更新は有効期限の3か月前（\d{4}-\d{2}-\d{2}）からです/);
    assert.match(text, /outside-renewal-window/);
    assert.match(opens, /\d{4}年\d{1,2}月\d{1,2}日/);
    await screenshotAndCheck(page, "23-counter-renewal-refused");
  });

  test("a move revokes the signing certificate", async () => {
    await page.goto(`${base}/counter/residents/${residentId}?card=${cardId}`);
    await page.click("a:has-text('転居・氏名変更など')");
    await page.fill("#e-address", "東京都町田市中町１－１");
    await page.click("button:has-text('記録する')");
    await page.waitForSelector("text=転居・氏名変更など（4情報の変更）を記録しました");
    assert.match(await page.locator(".revoked-list").innerText(), /署名用電子証明書/);
    assert.equal(await page.locator(".certs tr[data-type=sign][data-state=revoked]").count(), 1);
    assert.equal(await page.locator(".certs tr[data-type=auth][data-state=valid]").count(), 1);
    assert.match(await page.locator("#attributes + table").innerText(), /中町/);
    await screenshotAndCheck(page, "24-counter-resident");
  });

  test("a reissue caused by the holder is charged, and the day's fees show it", async () => {
    await page.goto(`${base}/counter/residents/${residentId}?card=${cardId}`);
    await readerProcedure("カードの再交付");
    await page.selectOption("#reissue-reason", "loss");
    await page.check("#caused-yes");
    await page.fill("#auth-pin", "2468");
    await page.fill("#auth-pin-confirm", "2468");
    await page.check("#no-sign");
    await page.click("button:has-text('カードの再交付を実行する')");
    await page.waitForSelector("text=カードの再交付が完了しました");
    assert.match(await page.locator(".fee-amount").innerText(), /1,000円/);

    await page.goto(`${base}/counter/summary`);
    assert.equal(await page.getAttribute(".total", "data-total"), "1000");
    const text = await page.locator("main").innerText();
    assert.match(text, /交付申請・カード作製/);
    assert.match(text, /暗証番号の初期化/);
    assert.match(text, /再交付（本人の責め）/);
    await screenshotAndCheck(page, "25-counter-summary");
  });

  test("proxy application with its letter, loss report, card found, return", async () => {
    await page.goto(`${base}/counter/residents/${residentId}`);
    await page.check(".reader-form input[name=card]:not(:disabled) >> nth=-1");
    await page.click("button:has-text('リーダーに置く')");
    const newCard = (await page.getAttribute("[data-reader-card]", "data-reader-card"))!;
    assert.notEqual(newCard, cardId);

    await readerProcedure("代理人による申請");
    await page.selectOption("#proxy-kind", "revocation");
    await page.fill("#proxy-name", "窓口 太郎");
    await page.fill("#proxy-relationship", "夫");
    await page.click("button:has-text('代理人による申請を実行する')");
    await page.waitForSelector("text=代理人による申請を受け付けました");
    const href = (await page.getAttribute("a:has-text('照会書兼回答書')", "href"))!;
    const letter = await page.request.get(`${base}${href}`);
    assert.equal(letter.headers()["content-type"], "application/pdf");
    assert.equal((await page.request.get(`${base}${href}`)).status(), 404, "the letter is handed out once");
    await page.click("a:has-text('代理人の再来庁を受け付ける')");
    await page.fill("#answer-code", "12345678");
    await page.fill("#proxy-identity-name", "窓口 太郎");
    await page.click("button:has-text('手続きを完了する')");
    const alert = page.locator("[role=alert]");
    await alert.waitFor();
    assert.match(await alert.innerText(), /proxy-same-day/);
    await assertAccessible(page, "proxy completion");

    await page.goto(`${base}/counter/residents/${residentId}?card=${newCard}`);
    await readerProcedure("紛失の届出");
    await page.click("button:has-text('紛失の届出を実行する')");
    await page.waitForSelector("text=紛失の届出が完了しました");
    assert.match(await page.locator(".reader__slot").innerText(), /一時停止/);
    await readerProcedure("紛失カードの発見");
    await page.fill("#auth-pin", "1357");
    await page.fill("#auth-pin-confirm", "1357");
    await page.click("button:has-text('紛失カードの発見を実行する')");
    await page.waitForSelector("text=紛失カードの発見が完了しました");
    assert.match(await page.locator(".notice--success").innerText(), /発行した電子証明書/);
    await readerProcedure("カードの返納");
    await page.click("button:has-text('カードの返納を実行する')");
    await page.waitForSelector("text=カードの返納が完了しました");
    assert.match(await page.locator(".reader__slot").innerText(), /返納済み/);
  });

  test("expiry notices and the audit trail", async () => {
    await page.goto(`${base}/counter/expiry-notices`);
    await page.waitForSelector("h1:has-text('有効期限通知の対象者')");
    const csv = await page.request.get(`${base}/counter/expiry-notices.csv?from=2030-01-01`);
    assert.match(csv.headers()["content-type"] ?? "", /text\/csv/);
    assert.match(await csv.text(), /resident_id,name/);
    await assertAccessible(page, "expiry notices");

    await page.goto(`${base}/counter/audit`);
    assert.equal(await page.getAttribute(".audit-status", "data-ok"), "true");
    assert.match(await page.locator("main").innerText(), /application\.pin-init\.completed/);
    await page.click("a.lang-switch");
    await page.waitForFunction("document.documentElement.lang === 'en'");
    assert.match(await page.locator(".audit-status").innerText(), /intact/);
    await screenshotAndCheck(page, "26-counter-audit-english");
    await page.click("a.lang-switch");
    await page.waitForFunction("document.documentElement.lang === 'ja'");

    await page.click("button:has-text('ログアウト')");
    await page.waitForSelector("text=ログアウトしました");
    const r = await page.request.get(`${base}/counter`, { maxRedirects: 0 });
    assert.equal(r.status(), 303);
  });

  test("a clerk is refused the audit trail (supervisors and up, as in the API) and is not offered it", async () => {
    await page.goto(`${base}/counter/login`);
    await page.fill("#login", CLERK);
    await page.fill("#password", PASSWORD);
    await page.click("main button:has-text('ログイン')");
    await page.waitForSelector(".counter-bar");
    assert.doesNotMatch(await page.locator(".counter-nav").innerText(), /監査記録/);
    const refused = await page.goto(`${base}/counter/audit`);
    assert.equal(refused?.status(), 403);
    assert.match(await page.locator("main").innerText(), /監査記録は監督者以上が閲覧できます/);
    assert.equal(await page.locator(".audit-status").count(), 0);
    await page.goto(`${base}/counter`);
    // A login's way back goes only to a counter path in plain URL characters (a raw CR/LF or non-ASCII one answered 500).
    await page.click("button:has-text('ログアウト')");
    await page.waitForSelector("text=ログアウトしました");
    for (const next of ["/counter/%0d%0aSet-Cookie:%20x=1", "/counter/\\evil.example"]) {
      await page.goto(`${base}/counter/login?next=${encodeURIComponent(next)}`);
      await page.fill("#login", CLERK);
      await page.fill("#password", PASSWORD);
      const [response] = await Promise.all([page.waitForResponse((res) => res.request().method() === "POST"), page.click("main button:has-text('ログイン')")]);
      assert.equal(response.status(), 303, next);
      assert.equal(response.headers().location, "/counter", next);
      await page.click("button:has-text('ログアウト')");
      await page.waitForSelector("text=ログアウトしました");
    }
  });
});
