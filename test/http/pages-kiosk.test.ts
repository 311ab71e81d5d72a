// The app and kiosk pages through the real HTTP server, as a browser uses them: a done page that a
// reload shows again without doing the work twice (post-redirect-get), the document form keeping
// what the resident chose, English names in English, the closed kiosk said before any card or
// PIN, and URLs left in the address bar by form posts opened with GET.
import { after, before, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startServer, type RunningServer } from "../../src/http/server.ts";
import { JpkiClient } from "../../src/client/jpki-client.ts";
import { openTestContext, type TestContext } from "../helpers/context.ts";
import type { IssuedCard } from "../../src/services/cards.ts";

// 12:00 JST on an ordinary day: the default hours (06:30–23:00, closed 12/29–1/3) are open.
const OPEN = "2026-06-10T03:00:00Z";

describe("kiosk and app pages", () => {
  let t: TestContext;
  let server: RunningServer;
  let now = new Date(OPEN);

  before(async () => {
    t = await openTestContext("sqlite", { clock: () => new Date(now), settings: { devConsole: true } });
    server = await startServer(t.context, { host: "127.0.0.1", port: 0, handleSignals: false, log: () => {} });
  });
  after(async () => {
    await server.close();
    await t.cleanup();
  });
  beforeEach(() => {
    now = new Date(OPEN);
  });

  let residents = 0;
  async function newCard(): Promise<IssuedCard> {
    residents++;
    const resident = await t.context.registry.add({
      name: `町田 太郎${"一二三四五六七八九"[residents % 9]}`, birth: "1980-05-05", gender: "1", address: "東京都町田市森野２－２－２２", municipality: "132098",
    });
    return t.context.cards.issue({ residentId: resident.id, authPin: "1234", signPin: "ABC123" });
  }

  /** One browser: its cookies (form token, language, kiosk session) kept between requests; redirects not followed. */
  async function browser(lang?: "en") {
    const cookies = new Map<string, string>();
    const keep = (res: Response) => {
      for (const c of res.headers.getSetCookie()) {
        const [pair] = c.split(";");
        const eq = pair!.indexOf("=");
        cookies.set(pair!.slice(0, eq), pair!.slice(eq + 1));
      }
    };
    const cookie = () => [...cookies].map(([k, v]) => `${k}=${v}`).join("; ");
    const get = async (path: string) => {
      const res = await fetch(`${server.url}${path}`, { redirect: "manual", headers: { cookie: cookie(), accept: "text/html" } });
      keep(res);
      return { status: res.status, location: res.headers.get("location"), text: await res.text() };
    };
    const post = async (path: string, fields: Record<string, string>) => {
      const res = await fetch(`${server.url}${path}`, {
        method: "POST",
        redirect: "manual",
        headers: { "content-type": "application/x-www-form-urlencoded", cookie: cookie(), origin: server.url, accept: "text/html" },
        body: new URLSearchParams({ _csrf: cookies.get("openjpki_csrf")!, ...fields }),
      });
      keep(res);
      return { status: res.status, location: res.headers.get("location"), text: await res.text() };
    };
    await get(lang ? `/kiosk?lang=${lang}` : "/kiosk");
    return { get, post };
  }

  const count = async (table: "pin_reset_reservations" | "kiosk_issuances") => (await t.context.store.db.selectFrom(table).select("id").execute()).length;
  const audits = async (action: string) => (await t.context.store.db.selectFrom("audit_log").select("seq").where("action", "=", action).execute()).length;

  test("A: the app's reservation redirects to its own page; reloading it shows the same reservation and makes none", async () => {
    const card = await newCard();
    const b = await browser();
    const before = await count("pin_reset_reservations");
    const reserved = await b.post("/app/reserve", { cardId: card.id, pin: "1234" });
    assert.equal(reserved.status, 303, reserved.text.slice(0, 300));
    const id = /^\/app\/reservations\/([A-Za-z0-9_-]+)$/.exec(reserved.location ?? "")?.[1];
    assert.ok(id, `Location: ${reserved.location}`);
    assert.equal(await count("pin_reset_reservations"), before + 1);
    for (const _ of [1, 2]) {
      const page = await b.get(reserved.location!);
      assert.equal(page.status, 200);
      assert.match(page.text, /予約しました/);
      assert.match(page.text, new RegExp(id));
    }
    assert.equal(await count("pin_reset_reservations"), before + 1, "a reload reserves nothing");
    assert.equal(await audits("pin-reset.reserve"), before + 1);
    // Another browser holding the URL learns nothing.
    const other = await browser();
    assert.equal((await other.get(reserved.location!)).status, 404);
  });

  test("B: the kiosk reset redirects to a done page; reloading it resets nothing", async () => {
    const card = await newCard();
    const b = await browser();
    assert.equal((await b.post("/app/reserve", { cardId: card.id, pin: "1234" })).status, 303);
    const resetsBefore = await audits("pin-reset.kiosk");
    const reset = await b.post("/kiosk/pin-reset", { cardId: card.id, pin: "1234", newPin: "NEW456", newPinConfirm: "NEW456" });
    assert.equal(reset.status, 303, reset.text.slice(0, 300));
    assert.match(reset.location ?? "", /^\/kiosk\/pin-reset\/done\/[A-Za-z0-9_-]+$/);
    for (const _ of [1, 2]) {
      const page = await b.get(reset.location!);
      assert.equal(page.status, 200);
      assert.match(page.text, /新しい暗証番号を設定しました/);
    }
    assert.equal(await audits("pin-reset.kiosk"), resetsBefore + 1, "a reload resets nothing");
    const tries = await t.context.cards.withReader(card.id, (reader) => new JpkiClient(reader).triesLeft("auth"));
    assert.equal(tries, 3, "the PIN was verified once, and rightly");
    assert.equal((await (await browser()).get(reset.location!)).status, 404, "another browser is not told");
  });

  /** A kiosk browser at the document step with `card`. */
  async function atDocuments(card: IssuedCard, lang?: "en") {
    const b = await browser(lang);
    const docs = await b.post("/kiosk/issue/documents", { cardId: card.id, pin: "1234" });
    assert.equal(docs.status, 200, docs.text.slice(0, 300));
    return b;
  }

  test("C: after an error the document form keeps the choice and the count, with the error on 部数; full-width digits are taken", async () => {
    const card = await newCard();
    const b = await atDocuments(card);
    for (const copies of ["11", "0", "abc", "", "1.5"]) {
      const page = await b.post("/kiosk/issue/fee", { document: "inkan-toroku", copies });
      assert.equal(page.status, 400, copies);
      assert.match(page.text, /<input type="radio" name="document" id="doc-\d" value="inkan-toroku" checked>/, copies);
      assert.doesNotMatch(page.text, /value="juminhyo" checked/, copies);
      assert.match(page.text, new RegExp(`<input type="text" id="copies" name="copies" value="${copies}"[^>]*aria-describedby="copies-error" aria-invalid="true">`), copies);
      assert.match(page.text, /<span class="field-error" id="copies-error">部数は1〜10の数字で入力してください<\/span>/, copies);
      assert.match(page.text, /<a href="#copies">/, copies);
    }
    const fee = await b.post("/kiosk/issue/fee", { document: "inkan-toroku", copies: "０２" });
    assert.equal(fee.status, 200, fee.text.slice(0, 300));
    assert.match(fee.text, /印鑑登録証明書 × 2/);
    assert.match(fee.text, /400円/);
    assert.match(fee.text, /name="copies" value="2"/);
    // No document chosen: the error is on the document, the count kept.
    const noDoc = await b.post("/kiosk/issue/fee", { copies: "3" });
    assert.equal(noDoc.status, 400);
    assert.match(noDoc.text, /id="document-error">証明書の種類を選んでください/);
    assert.match(noDoc.text, /name="copies" value="3"/);
  });

  test("D: the English result names the document in English; the verification code is grouped as on the PDF", async () => {
    const card = await newCard();
    const b = await atDocuments(card, "en");
    assert.equal((await b.post("/kiosk/issue/fee", { document: "inkan-toroku", copies: "2" })).status, 200);
    const printed = await b.post("/kiosk/issue/print", { document: "inkan-toroku", copies: "2" });
    assert.equal(printed.status, 201, printed.text.slice(0, 300));
    assert.match(printed.text, /Certificate of Seal Registration × 2/);
    assert.doesNotMatch(printed.text, /印鑑登録証明書/);
    const row = await t.context.store.db.selectFrom("kiosk_issuances").select(["id", "verification_code"]).orderBy("issued_at", "desc").executeTakeFirstOrThrow();
    const grouped = row.verification_code.match(/.{4}/g)!.join("-");
    assert.match(printed.text, new RegExp(`<span class="mono">${grouped}</span>`));
    // The print's URL opened again from the address bar: the same document, not a new one.
    const issued = await count("kiosk_issuances");
    const again = await b.get("/kiosk/issue/print");
    assert.equal(again.status, 200);
    assert.match(again.text, new RegExp(row.id));
    assert.equal(await count("kiosk_issuances"), issued);
  });

  test("E: a closed kiosk says so on its first screens, with the hours in words, before any card or PIN", async () => {
    const card = await newCard();
    for (const at of ["2026-06-10T15:00:00Z" /* 00:00 JST */, "2026-12-30T03:00:00Z" /* 12/30 noon JST */]) {
      now = new Date(OPEN);
      const b = await browser();
      now = new Date(at);
      const home = await b.get("/kiosk");
      assert.equal(home.status, 200, at);
      assert.match(home.text, /ただいま行政サービスはご利用いただけません/, at);
      assert.match(home.text, /毎日6時30分から23時まで（12月29日〜1月3日を除く）/, at);
      assert.doesNotMatch(home.text, /href="\/kiosk\/services"/, at);
      assert.doesNotMatch(home.text, /12-29|× /, at);
      const services = await b.get("/kiosk/services");
      assert.doesNotMatch(services.text, /href="\/kiosk\/(issue|pin-reset)"/, at);

      const issue = await b.get("/kiosk/issue");
      assert.equal(issue.status, 503, at);
      assert.match(issue.text, /ただいま証明書の交付はご利用いただけません/);
      assert.doesNotMatch(issue.text, /name="cardId"|name="pin"/);

      const reset = await b.get("/kiosk/pin-reset");
      assert.equal(reset.status, 503);
      assert.match(reset.text, /署名用電子証明書の暗証番号初期化はご利用いただけません/);
      assert.doesNotMatch(reset.text, /コンビニ交付/);
      assert.doesNotMatch(reset.text, /name="cardId"|name="pin"/);
      // A form opened before closing time: no PIN asked for, and the card is not touched.
      const pinStep = await b.post("/kiosk/pin-reset/pin", { cardId: card.id });
      assert.equal(pinStep.status, 503);
      assert.doesNotMatch(pinStep.text, /name="pin"/);
      const resetPost = await b.post("/kiosk/pin-reset", { cardId: card.id, pin: "9999", newPin: "NEW456", newPinConfirm: "NEW456" });
      assert.equal(resetPost.status, 503);
      assert.match(resetPost.text, /暗証番号初期化はご利用いただけません/);
      assert.doesNotMatch(resetPost.text, /コンビニ交付/);
      const issuePin = await b.post("/kiosk/issue/pin", { cardId: card.id });
      assert.equal(issuePin.status, 503);
      assert.doesNotMatch(issuePin.text, /name="pin"/);
    }
    const tries = await t.context.cards.withReader(card.id, (reader) => new JpkiClient(reader).triesLeft("auth"));
    assert.equal(tries, 3, "no PIN was tried while closed");

    now = new Date("2026-06-10T15:00:00Z");
    const en = await browser("en");
    const home = await en.get("/kiosk");
    assert.match(home.text, /06:30–23:00 JST every day except 29 Dec – 3 Jan/);
    assert.match(home.text, /Government services are closed now/);
    assert.match((await en.get("/kiosk/pin-reset")).text, /Signing-password reset is closed now/);
  });

  test("F: URLs only forms post to, opened with GET, go to the form's page (language kept)", async () => {
    const b = await browser();
    for (const [path, target] of [
      ["/resident/login", "/resident"],
      ["/resident/logout", "/resident"],
      ["/app/reserve", "/app"],
      ["/kiosk/issue/pin", "/kiosk/issue"],
      ["/kiosk/issue/documents", "/kiosk/issue"],
      ["/kiosk/issue/fee", "/kiosk/issue"],
      ["/kiosk/issue/print", "/kiosk/issue"],
      ["/kiosk/pin-reset/pin", "/kiosk/pin-reset"],
      ["/dev/residents", "/dev"],
      ["/dev/cards", "/dev"],
      ["/dev/residents/R-0000000000/move", "/dev"],
      ["/dev/cards/C-0000000000/loss", "/dev"],
    ] as const) {
      const res = await b.get(path);
      assert.deepEqual([res.status, res.location], [303, target], path);
      const en = await b.get(`${path}?lang=en`);
      assert.deepEqual([en.status, en.location], [303, `${target}?lang=en`], path);
    }
  });

  test("G: no card chosen says 「カードを選んでください」; kiosk sessions expire on the context's clock", async () => {
    const b = await browser();
    for (const path of ["/app/reserve", "/resident/login", "/kiosk/issue/pin", "/kiosk/pin-reset/pin"]) {
      const page = await b.post(path, { pin: "1234" });
      assert.equal(page.status, 400, path);
      assert.match(page.text, /カードを選んでください/, path);
      assert.doesNotMatch(page.text, /カードを入力してください/, path);
    }
    const en = await browser("en");
    assert.match((await en.post("/app/reserve", { pin: "1234" })).text, /Choose a card/);

    const card = await newCard();
    const k = await atDocuments(card);
    now = new Date(now.getTime() + 6 * 60_000);
    const late = await k.post("/kiosk/issue/fee", { document: "juminhyo", copies: "1" });
    assert.equal(late.status, 409, "five minutes on the context's clock end the session");
    assert.match(late.text, /challenge-expired/);
  });
});
