// The pages in a real browser (Chromium through playwright-core): a newcomer's journeys from
// the developer console to the resident page, the e-Tax-style filing (accepted, then refused
// after a move), the signing-password reset through the app and the kiosk, and a document at
// the kiosk. Each journey ends with a screenshot (test-artifacts/web/) and the axe check.
import { createHash } from "node:crypto";
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Browser, Page } from "playwright-core";
import { JpkiClient } from "../../src/client/jpki-client.ts";
import type { TestContext } from "../helpers/context.ts";
import { assertAccessible, browserMissing, openBrowserSession, screenshotAndCheck, type BrowserSession } from "./browser.ts";

const skip = browserMissing();
if (skip) console.log(`# ${skip}`);

describe("web pages in a real browser", { skip: skip ?? false, timeout: 300_000 }, () => {
  let session: BrowserSession;
  let t: TestContext;
  let browser: Browser;
  let page: Page;
  let base: string;
  let residentId = "";
  let cardId = "";

  before(async () => {
    // The kiosk opens 06:30–23:00 by default; the test must not depend on the hour it runs at.
    session = await openBrowserSession({ settings: { kiosk: { hours: { opens: "00:00", closes: "23:59", closedPeriods: [] } } } });
    ({ t, browser, page, base } = session);
  });

  after(() => session?.close());

  test("developer console: create a resident and issue a card", async () => {
    await page.goto(`${base}/dev`);
    await page.fill("#r-name", "町田 花子");
    await page.fill("#r-birth", "1990-01-02");
    await page.selectOption("#r-gender", "2");
    await page.fill("#r-address", "東京都町田市森野２－２－２２");
    await page.selectOption("#r-municipality", "132098");
    await page.click("button:has-text('住民を作る')");
    await page.waitForSelector("text=住民を作りました");
    residentId = (await page.locator(".notice--success .mono").first().textContent())!.trim();
    assert.match(residentId, /^R-/);

    // A wrong form is refused on the page, with the field named.
    await page.fill("#c-auth", "12");
    await page.fill("#c-sign", "ABC123");
    await page.click("button:has-text('カードを発行する')");
    await page.waitForSelector("[role=alert]");
    assert.match(await page.locator("[role=alert]").first().innerText(), /auth-pin|暗証番号/);

    await page.selectOption("#c-resident", residentId);
    await page.fill("#c-auth", "1234");
    await page.fill("#c-sign", "ABC123");
    await page.click("button:has-text('カードを発行する')");
    await page.waitForSelector("text=カードを発行しました");
    cardId = (await page.locator(".notice--success .mono").first().textContent())!.trim();
    assert.match(cardId, /^C-/);
    assert.equal(await page.locator(`text=openjpki card attach --card ${cardId}`).count(), 1);
    await screenshotAndCheck(page, "01-dev-console");
  });

  test("resident page: log in with the card and see both certificates", async () => {
    await page.goto(`${base}/resident`);
    await page.check(`input[name=cardId][value="${cardId}"]`);
    await page.fill("#pin", "9999");
    await page.click("button:has-text('ログイン')");
    const alert = page.locator("[role=alert]");
    await alert.waitFor();
    assert.match(await alert.innerText(), /残り2回/);
    await screenshotAndCheck(page, "02-resident-wrong-pin");

    await page.check(`input[name=cardId][value="${cardId}"]`);
    await page.fill("#pin", "1234");
    await page.click("button:has-text('ログイン')");
    await page.waitForSelector("h1:has-text('マイページ')");
    const text = await page.locator("main").innerText();
    assert.match(text, /署名用電子証明書/);
    assert.match(text, /利用者証明用電子証明書/);
    assert.equal(await page.locator(".badge--valid").count(), 2);
    assert.match(text, /3回（全3回）/); // the correct PIN restored the counter
    assert.match(text, /5回（全5回）/);
    assert.match(text, /更新できる日/);
    assert.match(text, /忠生市民センター/);
    assert.match(text, /042-860-6195/);
    await screenshotAndCheck(page, "03-resident-certificates");
  });

  test("e-Tax demo: sign a return on the card and file it", async () => {
    await page.goto(`${base}/demo/etax`);
    await page.check(`input[name=cardId][value="${cardId}"]`);
    await page.fill("#sign-pin", "ABC123");
    await page.click("button:has-text('署名して提出する')");
    await page.waitForSelector("h2:has-text('受け付けました')");
    const text = await page.locator("main").innerText();
    assert.match(text, /町田　花子/);
    assert.match(text, /平成2年1月2日（1990-01-02）/);
    assert.match(text, /OCSP/);
    assert.match(text, /good/);
    assert.match(text, /OpenJPKI/);
    await screenshotAndCheck(page, "04-etax-accepted");
  });

  test("move the resident, and the next filing is refused as revoked", async () => {
    await page.goto(`${base}/dev`);
    await page.fill(`#move-${residentId}`, "東京都町田市中町１－１");
    await page.click(`section:has(#res-${residentId}) button:has-text('転居を記録する')`);
    await page.waitForSelector("text=住所を変更しました");
    assert.match(await page.locator(".notice--success").innerText(), /sign:/);

    await page.goto(`${base}/demo/etax`);
    await page.check(`input[name=cardId][value="${cardId}"]`);
    await page.fill("#sign-pin", "ABC123");
    await page.click("button:has-text('署名して提出する')");
    await page.waitForSelector("h2:has-text('受け付けできませんでした')");
    const text = await page.locator("main").innerText();
    assert.match(text, /revoked/);
    assert.match(text, /窓口で新しい署名用電子証明書/);
    await screenshotAndCheck(page, "05-etax-refused");
  });

  test("locked signing password: reserve in the app, reset at the kiosk", async () => {
    const resident = await t.context.registry.add({ name: "鶴川 太郎", birth: "1985-04-10", gender: "1", address: "東京都町田市鶴川１－１", municipality: "132098" });
    const card = await t.context.cards.issue({ residentId: resident.id, authPin: "4321", signPin: "XYZ789" });
    await t.context.cards.withReader(card.id, async (reader) => {
      const client = new JpkiClient(reader);
      for (let i = 0; i < 5; i++) await client.verifyPin("sign", "WRONG1");
      assert.equal(await client.triesLeft("sign"), 0);
    });

    // The resident page says it is locked and what to do.
    const mine = await browser.newContext({ bypassCSP: true, viewport: { width: 1100, height: 900 } });
    const residentPage = await mine.newPage();
    await residentPage.goto(`${base}/resident`);
    await residentPage.check(`input[name=cardId][value="${card.id}"]`);
    await residentPage.fill("#pin", "4321");
    await residentPage.click("button:has-text('ログイン')");
    await residentPage.waitForSelector("text=0回（ロック中）");
    assert.match(await residentPage.locator("main").innerText(), /アプリで予約して24時間以内/);
    await mine.close();

    const phone = await browser.newContext({ bypassCSP: true, viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    const app = await phone.newPage();
    await app.goto(`${base}/app`);
    await app.check(`input[name=cardId][value="${card.id}"]`);
    await app.fill("#pin", "4321");
    await app.click("button:has-text('予約する')");
    await app.waitForSelector("h1:has-text('予約しました')");
    assert.match(await app.locator(".deadline").innerText(), /\d{4}年\d{1,2}月\d{1,2}日 \d{2}:\d{2}（日本時間）/);
    // A reload of the result (a GET after the redirect) shows the booking again and books nothing.
    const reservations = async () => (await t.context.store.db.selectFrom("pin_reset_reservations").select("id").execute()).length;
    const booked = await reservations();
    await app.reload();
    await app.waitForSelector("h1:has-text('予約しました')");
    assert.equal(await reservations(), booked);
    await screenshotAndCheck(app, "06-app-reserved");
    await phone.close();

    const kiosk = await browser.newContext({ bypassCSP: true, viewport: { width: 1280, height: 1024 }, hasTouch: true });
    const k = await kiosk.newPage();
    await k.goto(`${base}/kiosk`);
    await k.click("a:has-text('行政サービス')");
    await k.click("a:has-text('署名用電子証明書の暗証番号初期化')");
    await k.check(`input[name=cardId][value="${card.id}"]`);
    await k.click("button:has-text('次へ')");
    await k.fill("#pin", "4321");
    await k.fill("#new-pin", "NEW456");
    await k.fill("#new-pin-2", "NEW999");
    await k.click("button:has-text('設定する')");
    await k.waitForSelector("[role=alert]");
    assert.match(await k.locator("[role=alert]").innerText(), /一致しません/);
    await k.fill("#pin", "4321");
    await k.fill("#new-pin", "NEW456");
    await k.fill("#new-pin-2", "NEW456");
    await k.click("button:has-text('設定する')");
    await k.waitForSelector("h1:has-text('新しい暗証番号を設定しました')");
    const resets = async () => (await t.context.store.db.selectFrom("audit_log").select("seq").where("action", "=", "pin-reset.kiosk").execute()).length;
    const done = await resets();
    await k.reload();
    await k.waitForSelector("h1:has-text('新しい暗証番号を設定しました')");
    assert.equal(await resets(), done, "a reload resets nothing");
    await screenshotAndCheck(k, "07-kiosk-pin-reset");
    await kiosk.close();

    await t.context.cards.withReader(card.id, async (reader) => {
      const client = new JpkiClient(reader);
      assert.equal(await client.triesLeft("sign"), 5);
      assert.deepEqual(await client.verifyPin("sign", "NEW456"), { ok: true });
    });
  });

  test("kiosk: a 住民票の写し from the card", async () => {
    const resident = await t.context.registry.add({ name: "南 次郎", birth: "1978-08-08", gender: "1", address: "東京都町田市鶴間３－４－１", municipality: "132098" });
    const card = await t.context.cards.issue({ residentId: resident.id, authPin: "2468", signPin: "KIOSK1" });
    const kiosk = await browser.newContext({ bypassCSP: true, viewport: { width: 1280, height: 1024 }, hasTouch: true });
    const k = await kiosk.newPage();
    await k.goto(`${base}/kiosk`);
    await k.click("a:has-text('行政サービス')");
    await k.click("a:has-text('証明書交付')");
    await k.check(`input[name=cardId][value="${card.id}"]`);
    await k.click("button:has-text('次へ')");
    await k.fill("#pin", "2468");
    await k.click("button:has-text('確認')");
    await k.waitForSelector("h1:has-text('証明書の種類を選んでください')");
    await k.check("input[name=document][value=juminhyo]");
    await k.click("button:has-text('次へ')");
    await k.waitForSelector(".fee");
    assert.match(await k.locator(".fee").innerText(), /200円/);
    const payForm = (await k.evaluate(`Object.fromEntries(new FormData(document.querySelector("button[type=submit]").form))`)) as Record<string, string>;
    // A triple click (three payments at once): one issuance and one fee; the others wait for it and show it.
    const count = async () => (await t.context.store.db.selectFrom("kiosk_issuances").select("id").execute()).length;
    const before = await count();
    const prints = await Promise.all([1, 2, 3].map(() => k.request.post(`${base}/kiosk/issue/print`, { form: payForm, headers: { origin: base } })));
    assert.deepEqual(prints.map((r) => r.status()).sort(), [200, 200, 201]);
    assert.equal(await count(), before + 1);
    await k.click("button:has-text('お支払いして交付')");
    await k.waitForSelector("h1:has-text('証明書を交付しました')");
    const pdf = await k.request.get(`${base}/kiosk/issue/pdf`);
    assert.equal(pdf.headers()["content-type"], "application/pdf");
    assert.equal((await pdf.body()).subarray(0, 5).toString(), "%PDF-");
    await screenshotAndCheck(k, "08-kiosk-document");
    // The same payment sent again later (a resubmitted form): that document is shown again, not
    // issued or charged twice, and stays printable (a second print used to lose the PDF).
    const repeat = await k.request.post(`${base}/kiosk/issue/print`, { form: payForm, headers: { origin: base } });
    assert.equal(repeat.status(), 200);
    assert.match(await repeat.text(), /証明書を交付しました/);
    assert.equal(await count(), before + 1);
    const again = await k.request.get(`${base}/kiosk/issue/pdf`);
    assert.deepEqual(await again.body(), await pdf.body());
    // The tamper check printed on the document: issue number and code give back the PDF's SHA-256.
    const issued = await t.context.store.db.selectFrom("kiosk_issuances").selectAll().orderBy("issued_at", "desc").executeTakeFirstOrThrow();
    await k.goto(`${base}/kiosk/verify`);
    await k.fill("#issue-number", issued.id);
    await k.fill("#code", issued.verification_code);
    await k.click("button:has-text('確認する')");
    await k.waitForSelector("h2:has-text('交付の記録があります')");
    const sha = createHash("sha256").update(await pdf.body()).digest("hex");
    assert.match(await k.locator("td.mono").innerText(), new RegExp(sha, "i"));
    await screenshotAndCheck(k, "09-kiosk-verify");
    await kiosk.close();
  });

  test("keyboard only: log in on the resident page without a mouse", async () => {
    const kb = await browser.newContext({ bypassCSP: true, viewport: { width: 1100, height: 900 } });
    const p = await kb.newPage();
    await p.goto(`${base}/resident`);
    await p.keyboard.press("Tab");
    assert.equal(await p.evaluate("document.activeElement.className"), "skip");
    await p.keyboard.press("Enter"); // skip to main
    // Tab to the first card's radio button, then arrow keys move within the group.
    let guard = 0;
    while ((await p.evaluate("document.activeElement.name")) !== "cardId" && guard++ < 20) await p.keyboard.press("Tab");
    assert.equal(await p.evaluate("document.activeElement.name"), "cardId");
    await p.keyboard.press("Space");
    assert.equal(await p.evaluate("document.activeElement.value"), cardId);
    await p.keyboard.press("Tab");
    assert.equal(await p.evaluate("document.activeElement.id"), "pin");
    await p.keyboard.type("1234");
    await p.keyboard.press("Enter");
    await p.waitForSelector("h1:has-text('マイページ')");
    // The focus indicator is drawn: the outline of a focused link is not "none".
    await p.keyboard.press("Tab");
    const outline = await p.evaluate("getComputedStyle(document.activeElement).outlineStyle");
    assert.notEqual(outline, "none");
    await kb.close();
  });

  test("every page switches to English and passes the accessibility check", async () => {
    const en = await browser.newContext({ bypassCSP: true, viewport: { width: 1100, height: 900 } });
    const p = await en.newPage();
    const pages = ["/", "/info", "/resident", "/kiosk", "/kiosk/services", "/kiosk/issue", "/kiosk/pin-reset", "/app", "/demo/etax", "/demo/portal", "/dev"];
    for (const path of pages) {
      await p.goto(`${base}${path}`);
      assert.equal(await p.getAttribute("html", "lang"), "ja", path);
      const ja = await p.locator("h1").innerText();
      await p.click("a.lang-switch");
      await p.waitForFunction("document.documentElement.lang === 'en'");
      const english = await p.locator("h1").innerText();
      assert.notEqual(english, ja, `${path}: the heading is translated`);
      assert.doesNotMatch(english, /[\u3040-\u30ff]/, `${path}: no kana in the English heading`);
      await assertAccessible(p, `${path} (en)`);
      // Back to Japanese for the next page (the choice is remembered in a cookie).
      await p.click("a.lang-switch");
      await p.waitForFunction("document.documentElement.lang === 'ja'");
      await assertAccessible(p, `${path} (ja)`);
    }
    await p.goto(`${base}/info?lang=en`);
    await screenshotAndCheck(p, "09-info-english");
    await p.goto(`${base}/?lang=ja`);
    await screenshotAndCheck(p, "00-top");
    await en.close();
  });
});
