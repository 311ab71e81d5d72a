// The counter console's words, posted and fetched as a browser does (form encoding, CSRF cookie
// and field, a staff session): validation messages in the page's language without the API's
// field keys, a plain 404 for an unknown resident or card, held certificates told from revoked
// ones, fee reasons and dates for people, English punctuation on English pages, format hints.
import { after, before, describe, mock, test } from "node:test";
import assert from "node:assert/strict";
import type { FastifyInstance } from "fastify";
import type { Kysely } from "kysely";
import type { Database } from "../../src/store/schema.ts";
import { buildApp } from "../../src/http/app.ts";
import { ServiceError } from "../../src/services/errors.ts";
import { openTestContext, type TestContext } from "../helpers/context.ts";
import { staffBrowser, type StaffBrowser } from "../helpers/staff-browser.ts";
import { failingFrom } from "../helpers/faults.ts";
import { expiryNoticeListing, expiryNoticeRun, expiryNoticesCsv } from "../../src/services/counter/notices.ts";
import { EXPIRY_LIST_SHOWN } from "../../src/web/pages/counter/office.ts";

describe("counter pages: messages, labels and dates", () => {
  let t: TestContext;
  let app: FastifyInstance;
  let get: StaffBrowser["get"];
  let post: StaffBrowser["post"];
  const twice = (kind: string, pin: string) => ({ [`${kind}Pin`]: pin, [`${kind}PinConfirm`]: pin });
  const resident = (name: string, extra: { nationality?: string; residenceEnd?: string } = {}) =>
    t.context.registry.add({ name, birth: "1980-04-04", gender: "2", address: "東京都町田市森野１", municipality: "132098", ...extra });
  /** The text a field shows under its label as its error. */
  const fieldErrorOf = (body: string, id: string) => new RegExp(`<span class="field-error" id="${id}-error">([^<]*)</span>`).exec(body)?.[1];
  /** The page a redirect (a procedure done) leads to. */
  const follow = async (res: Awaited<ReturnType<StaffBrowser["post"]>>, lang?: "en") => {
    assert.equal(res.statusCode, 303, res.body);
    const location = String(res.headers.location);
    return (await get(lang ? `${location}&lang=${lang}` : location)).body;
  };

  before(async () => {
    t = await openTestContext("sqlite", { now: "2026-11-25T03:00:00Z" });
    app = await buildApp(t.context);
    ({ get, post } = await staffBrowser(app, t.context));
  });
  after(async () => {
    await app.close();
    await t.cleanup();
  });

  test("a name without a space: the register form says so beforehand, and the refusal is Japanese, at the field, without the key", async () => {
    assert.match((await get("/counter")).body, /id="r-name-hint">姓と名の間に空白を入れてください（例：町田 花子）</);
    const form = { name: "山田花子", birth: "1990-01-02", gender: "2", address: "東京都町田市森野１", municipality: "132098" };
    const ja = await post("/counter/residents", form);
    assert.equal(ja.statusCode, 400);
    assert.equal(fieldErrorOf(ja.body, "r-name"), "氏と名の間に空白を入れてください（例：町田 花子）");
    assert.match(ja.body, /<a href="#r-name">氏と名の間に空白を入れてください（例：町田 花子）<\/a>/);
    assert.doesNotMatch(ja.body, /needs a surname|name: /);
    const en = await post("/counter/residents?lang=en", form);
    assert.equal(fieldErrorOf(en.body, "r-name"), "&quot;山田花子&quot; needs a surname and a given name separated by a space");

    // The API and the CLI keep the field, and the key in front of both languages.
    await assert.rejects(t.context.registry.add(form), (e: unknown) => {
      assert.ok(e instanceof ServiceError);
      assert.equal(e.field, "name");
      assert.equal(e.message, 'name: 氏と名の間に空白を入れてください（例：町田 花子） / "山田花子" needs a surname and a given name separated by a space');
      return true;
    });
  });

  test("a character no certificate carries: the profile's own words at the field, one language per page", async () => {
    const form = { name: "町田 𠮷子", birth: "1990-01-02", gender: "2", address: "東京都町田市森野１", municipality: "132098" };
    const ja = await post("/counter/residents", form);
    assert.equal(ja.statusCode, 400);
    assert.equal(fieldErrorOf(ja.body, "r-name"), "4文字目の &quot;𠮷&quot; (U+20BB7) は電子証明書に記録できない文字です（JIS X 0208/0212 にない文字）。代替の文字を使ってください");
    const en = await post("/counter/residents?lang=en", form);
    assert.equal(fieldErrorOf(en.body, "r-name"), "character &quot;𠮷&quot; (U+20BB7) at position 4 is outside JIS X 0208/0212 and cannot appear in a certificate; use a substitute character");
  });

  test("the register's other refusals are Japanese first, English after, with the field key (API and CLI)", async () => {
    const base = { name: "町田 花子", birth: "1990-01-02", gender: "2", address: "東京都町田市森野１", municipality: "132098" };
    const cases: [Partial<typeof base> & { nationality?: string; residenceEnd?: string }, string, RegExp][] = [
      [{ name: "町田  花子" }, "name", /^name: 空白が2つ続いています。空白は1つにしてください \/ has two spaces/],
      [{ name: "" }, "name", /^name: 入力してください \/ is empty$/],
      [{ name: `町田 ${"花".repeat(100)}` }, "name", /^name: 103文字あります。100文字以内にしてください \/ has 103 characters/],
      [{ name: "町田\t花子" }, "name", /^name: 3文字目の U\+0009 は使えない文字です \/ control character/],
      [{ name: "町田 𠮷子" }, "name", /^name: 4文字目の "𠮷" \(U\+20BB7\) は電子証明書に記録できない文字です.* \/ character/],
      [{ address: "東京都町田市\\1" }, "address", /^address: 7文字目の "\\" \(U\+005C\) はJISでは「¥」か「‾」か定まりません。全角の文字を使ってください \/ character/],
      [{ birth: "1990-02-30" }, "birth", /^birth: 1990-02-30 は暦にない日付です \/ 1990-02-30 is not a calendar date$/],
      [{ birth: "1990/01/02" }, "birth", /^birth: 日付を YYYY-MM-DD の形で入力してください \/ "1990\/01\/02" is not a date/],
      [{ birth: "2030-01-01" }, "birth", /^birth: 2030-01-01 は未来の日付です \/ 2030-01-01 is in the future$/],
      [{ birth: "1800-01-01" }, "birth", /^birth: 1800-01-01 は明治の始まり（1868-10-23）より前の日付のため扱えません \/ /],
      [{ gender: "9" }, "gender", /^gender: 性別は 1（男性）、2（女性）、3（不明）のどれかです \/ must be 1/],
      [{ nationality: "USA" }, "nationality", /^nationality: 国籍は2文字の国コード（ISO 3166、例：US）で入力してください \/ must be/],
      [{ residenceEnd: "2030-01-01" }, "residence-end", /^residence-end: 在留期間の満了日は外国人住民（国籍が JP 以外）だけに入力します \/ only foreign residents/],
      [{ nationality: "US", residenceEnd: "1980-01-01" }, "residence-end", /^residence-end: 在留期間の満了日が生年月日より前です \/ is before the date of birth$/],
      [{ municipality: "999999" }, "municipality", /^municipality: 市区町村コード 999999 は登録されていません \/ unknown municipality code 999999$/],
    ];
    for (const [change, field, message] of cases) {
      await assert.rejects(t.context.registry.add({ ...base, ...change }), (e: unknown) => {
        assert.ok(e instanceof ServiceError, String(e));
        assert.equal(e.field, field, JSON.stringify(change));
        assert.match(e.message, message);
        return true;
      });
    }
  });

  test("the proxy form with an empty name, the day's summary and the expiry notices with bad input: in Japanese, without keys", async () => {
    const r = await resident("代理 花子");
    const card = await t.context.cards.issue({ residentId: r.id, authPin: "1111", signPin: "ABC123" });
    const proxy = await post(`/counter/cards/${card.id}/proxy`, { submitted: "1", kind: "revocation", typeAuth: "1", proxyName: "", proxyRelationship: "子", proxyType: "appointed" });
    assert.equal(proxy.statusCode, 400);
    assert.equal(fieldErrorOf(proxy.body, "proxy-name"), "代理人の氏名を入力してください");
    assert.doesNotMatch(proxy.body, /proxy\.name|is empty/);
    const noRelationship = await post(`/counter/cards/${card.id}/proxy`, { submitted: "1", kind: "revocation", typeAuth: "1", proxyName: "代理 一郎", proxyRelationship: "", proxyType: "appointed" });
    assert.equal(fieldErrorOf(noRelationship.body, "proxy-relationship"), "代理人と本人との関係を入力してください");
    // The proxy's second visit asks for the name of the proxy present in the same words.
    const started = await t.context.counter.startProxy({ kind: "revocation", cardId: card.id, proxy: { name: "代理 一郎", relationship: "子" }, types: ["auth"] }, { actor: "staff:tanaka", office: "machida-mnc" });
    const second = await post(`/counter/proxy/${started.applicationId}`, { identityDocument: "passport", proxyIdentityName: "" });
    assert.equal(second.statusCode, 400);
    assert.equal(fieldErrorOf(second.body, "proxy-identity-name"), "来庁した代理人の氏名を入力してください");
    assert.doesNotMatch(second.body, /proxyIdentity\.name|is empty/);

    const date = await get("/counter/summary?date=2026-13-45");
    assert.equal(date.statusCode, 400);
    assert.equal(fieldErrorOf(date.body, "date"), "2026-13-45 は暦にない日付です");
    assert.equal(fieldErrorOf((await get("/counter/summary?date=2026-13-45&lang=en")).body, "date"), "2026-13-45 is not a calendar date");
    const office = await get("/counter/summary?office=nope");
    assert.equal(office.statusCode, 400);
    assert.equal(fieldErrorOf(office.body, "office"), "その事務所はありません。一覧から選んでください");
    const from = await get("/counter/expiry-notices?from=xx");
    assert.equal(from.statusCode, 400);
    assert.equal(fieldErrorOf(from.body, "from"), "日付を YYYY-MM-DD の形で入力してください");
  });

  test("PIN initialisation: the new PIN's format is said under it, and a bad one is refused without the field key", async () => {
    const r = await resident("暗証 花子");
    const card = await t.context.cards.issue({ residentId: r.id, authPin: "1111", signPin: "ABC123" });
    const form = await get(`/counter/cards/${card.id}/pin-init`);
    assert.match(form.body, /id="new-pin-hint">利用者証明用は数字4桁、署名用は英大文字と数字の6〜16桁（英字と数字をそれぞれ1文字以上）です。</);
    assert.match((await get(`/counter/cards/${card.id}/pin-init?lang=en`)).body, /id="new-pin-hint">Authentication PIN: 4 digits\. Signing password: 6–16 capital letters and digits \(at least one of each\)\.</);
    const bad = await post(`/counter/cards/${card.id}/pin-init`, { submitted: "1", pinType: "auth", identityDocument: "passport", ...twice("new", "12a4") });
    assert.equal(bad.statusCode, 400);
    assert.match(fieldErrorOf(bad.body, "new-pin") ?? "", /^暗証番号に使えるのは半角数字/);
    assert.doesNotMatch(bad.body, /new-pin: /);
  });

  test("an unknown resident or card: a plain 404 page in the page's language", async () => {
    const resident404 = await get("/counter/residents/R-NOPE");
    assert.equal(resident404.statusCode, 404);
    assert.match(resident404.body, /<h1>見つかりません<\/h1>/);
    assert.match(resident404.body, /住民ID R-NOPE の住民はいません/);
    assert.doesNotMatch(resident404.body, /住民（0件）|住民を登録する|no resident/);
    const en = await get("/counter/residents/R-NOPE?lang=en");
    assert.match(en.body, /<h1>Not found<\/h1>/);
    assert.match(en.body, /no resident with id R-NOPE/);

    const card404 = await get("/counter/cards/C-NOPE/renewal");
    assert.equal(card404.statusCode, 404);
    assert.match(card404.body, /<h1>見つかりません<\/h1>/);
    assert.match(card404.body, /そのカードはありません/);
    const wellFormed = await get("/counter/cards/C-0000000000/renewal");
    assert.equal(wellFormed.statusCode, 404);
    assert.match(wellFormed.body, /カード C-0000000000 はありません/);
    assert.doesNotMatch(wellFormed.body, /no card/);
  });

  test("production, handover and loss report: fee reasons and the handover day for people; held certificates are not called revoked", async () => {
    const r = await resident("結果 花子");
    const produced = await follow(await post(`/counter/residents/${r.id}/apply`, { ...twice("auth", "1234"), ...twice("sign", "ABC123") }));
    assert.match(produced, /手数料: <strong class="fee-amount">0円<\/strong> <span class="muted fee-reason">（初回交付（無料））<\/span>/);
    assert.doesNotMatch(produced, /first-issuance/);
    const [card] = await t.context.cards.list({ residentId: r.id });

    const handedOver = await post(`/counter/cards/${card!.id}/handover`, { submitted: "1", identityDocument: "passport" });
    const handoverPage = await follow(handedOver);
    assert.match(handoverPage, /交付日：2026年11月25日/);
    assert.match(handoverPage, /<span class="muted fee-reason">（カードの交付）<\/span>/);
    assert.doesNotMatch(handoverPage, /（handover）|2026-11-25/);

    const lost = await post(`/counter/cards/${card!.id}/loss-report`, { submitted: "1" });
    const lostPage = await follow(lost);
    assert.match(lostPage, /一時保留にした電子証明書/);
    assert.equal(/<ul class="held-list">(.*?)<\/ul>/s.exec(lostPage)?.[1]?.match(/<li>/g)?.length, 2);
    assert.doesNotMatch(lostPage, /失効した電子証明書|loss-report/);
    assert.match(lostPage, /（紛失の届出（一時停止））/);
  });

  test("the loss report in English: certificates put on hold", async () => {
    const r = await resident("保留 花子");
    const card = await t.context.cards.issue({ residentId: r.id, authPin: "1111", signPin: "ABC123" });
    const lost = await post(`/counter/cards/${card.id}/loss-report?lang=en`, { submitted: "1" });
    const page = await follow(lost, "en");
    assert.match(page, /Certificates put on hold/);
    assert.doesNotMatch(page, /Certificates revoked/);
  });

  test("a filed emigration: its day of departure as the pages write dates, and withdrawn with the same", async () => {
    const r = await resident("転出 花子");
    const filed = await follow(await post(`/counter/residents/${r.id}/events/emigration`, { departureDate: "2026-12-20", continuedUse: "no" }));
    assert.match(filed, /転出日 2026年12月20日 に適用されます/);
    assert.match(filed, /2026年12月20日 転出予定の届出を取り消します/);
    assert.doesNotMatch(filed, /2026-12-20/);
    const form = await get(`/counter/residents/${r.id}/events/emigration-withdrawal?lang=en`);
    assert.match(form.body, /filed for departure on 20 Dec 2026/);
    const withdrawn = await follow(await post(`/counter/residents/${r.id}/events/emigration-withdrawal`, { confirm: "1" }));
    assert.match(withdrawn, /2026年12月20日 転出予定の届出を取り消しました/);
  });

  test("English pages use English punctuation for a foreign resident's registration", async () => {
    const r = await resident("SMITH JOHN", { nationality: "US", residenceEnd: "2028-03-31" });
    const en = (await get(`/counter/residents/${r.id}?lang=en`)).body;
    assert.match(en, /registered, nationality US, period of stay ends 31 Mar 2028/);
    assert.match(en, /\(東京都町田市, 132098\)/);
    const ja = (await get(`/counter/residents/${r.id}?lang=ja`)).body;
    assert.match(ja, /住民登録あり、国籍 US、在留期間の満了日 2028年3月31日/);
  });

  test("the resident's certificate table keeps a card id on one line", async () => {
    const r = await resident("表示 花子");
    await t.context.cards.issue({ residentId: r.id, authPin: "1111", signPin: "ABC123" });
    const body = (await get(`/counter/residents/${r.id}`)).body;
    assert.match(body, /<td class="mono nowrap">C-[0-9A-Z]{10}<\/td>/);
  });

  test("the expiry-notice page: first shown for the office's own municipality, and at most 500 rows listed, the CSV holding everyone", async () => {
    const db = t.context.store.db;
    const authorities = Object.fromEntries((await db.selectFrom("authorities").select(["id", "ca_type"]).execute()).map((r) => [r.ca_type, r.id]));
    const template = await db.selectFrom("residents").selectAll().where("id", "=", (await resident("期限 見本")).id).executeTakeFirstOrThrow();
    /** `count` residents of `municipality`, each with an authentication certificate expiring in the run from 2031-05-10 (no other test's certificate does). */
    const seed = async (prefix: string, count: number, municipality: string) => {
      const ids = Array.from({ length: count }, (_, i) => `R-${prefix}${String(i).padStart(8, "0")}`);
      for (let i = 0; i < count; i += 200) {
        const slice = ids.slice(i, i + 200);
        await db.insertInto("residents").values(slice.map((id) => ({ ...template, id, municipality_code: municipality }))).execute();
        await db
          .insertInto("certificates")
          .values(slice.map((id) => ({
            ca_type: "auth" as const, serial_hex: `EE${id.slice(2)}`, authority_id: authorities.auth!, resident_id: id, card_id: null, subject_cn: `page ${id}`,
            municipality_code: municipality, not_before: "2026-01-10T00:00:00Z", not_after: "2031-07-20T14:59:59Z", expires: "2031-07-20", issued_at: "2026-01-10T00:00:00Z",
            status: "valid" as const, revoked_at: null, revocation_reason: null, invalidity_date: null, revoked_by: null,
          })))
          .execute();
      }
    };
    await seed("MA", 501, "132098");
    await seed("CH", 3, "131016");
    // One of them also has a signing certificate expiring first: the row's renewal date is that one's.
    await db.insertInto("certificates").values({
      ca_type: "sign", serial_hex: "EECH00000000", authority_id: authorities.sign!, resident_id: "R-CH00000000", card_id: null, subject_cn: "page sign R-CH00000000",
      municipality_code: "131016", not_before: "2026-01-10T00:00:00Z", not_after: "2031-07-15T14:59:59Z", expires: "2031-07-15", issued_at: "2026-01-10T00:00:00Z",
      status: "valid", revoked_at: null, revocation_reason: null, invalidity_date: null, revoked_by: null,
    }).execute();
    const first = (await get("/counter/expiry-notices?from=2031-05-10")).body;
    assert.match(first, /<option value="132098" selected/, "the office's municipality chosen");
    assert.match(first, /501人。/);
    assert.match(first, /最初の500人を表示しています。全員はCSVにあります。/);
    assert.equal(first.match(/<tr><td><a href="\/counter\/residents\//g)?.length, 500, "500 rows listed");
    const all = (await get("/counter/expiry-notices?from=2031-05-10&municipality=")).body;
    assert.match(all, /504人。/, "every municipality, when chosen");
    const csv = (await get("/counter/expiry-notices.csv?from=2031-05-10&municipality=132098")).body;
    assert.equal(csv.trim().split("\n").length, 502, "the CSV: a header and every resident");
    // Sent as it is read, the same text as the CSV of the whole run.
    const deps = { db, registry: t.context.registry, clock: t.context.clock };
    assert.equal(csv, expiryNoticesCsv(await expiryNoticeRun(deps, { from: "2031-05-10", municipality: "132098" })));
    // The page kept only the rows it shows, and counted the rest.
    const listing = await expiryNoticeListing(deps, { from: "2031-05-10", municipality: "132098" }, EXPIRY_LIST_SHOWN);
    assert.deepEqual([listing.residents.length, listing.count], [500, 501]);
    const small = (await get("/counter/expiry-notices?from=2031-05-10&municipality=131016&lang=en")).body;
    assert.match(small, /3 residents\./);
    assert.doesNotMatch(small, /The first 500 are shown/);
    const row = /<a href="\/counter\/residents\/R-CH00000000">.*?<\/tr>/.exec(small)?.[0] ?? "";
    const cells = [...row.matchAll(/<td>([^<]*)<\/td>/g)].map((m) => m[1]);
    assert.deepEqual(cells.slice(-2), ["15 Jul 2031", "15 Apr 2031"], `expires and renewal from, of the signing certificate: ${row}`);
  });

  test("the expiry-notice CSV is sent as it is read: a failure part way does not end as a complete file", async () => {
    const r = await resident("期限 途中");
    await t.context.cards.issue({ residentId: r.id, authPin: "1111", signPin: "ABC123" });
    const store = t.context.store as { db: Kysely<Database> };
    const { expires } = await store.db.selectFrom("certificates").select("expires").where("resident_id", "=", r.id).executeTakeFirstOrThrow();
    assert.equal(expires, "2031-04-04", "the 5th birthday after issuance: the first day of the run from 2031-02-04");
    const healthy = store.db;
    // The store goes away once the first day is read and sent.
    store.db = failingFrom(healthy, "2031-04-05");
    const logged = mock.method(console, "error", () => {});
    try {
      await assert.rejects(get("/counter/expiry-notices.csv?from=2031-02-04"), /destroyed before completion/);
      assert.match(String(logged.mock.calls[0]?.arguments[0]), /expiry-notices CSV: Error: the store went away/, "logged, as the answer cannot say it");
      // A mistake in `from` is still the page, before anything is sent.
      const bad = await get("/counter/expiry-notices.csv?from=2031-02-30");
      assert.equal(bad.statusCode, 400);
      assert.match(String(bad.headers["content-type"]), /text\/html/);
    } finally {
      store.db = healthy;
      logged.mock.restore();
    }
    const csv = (await get("/counter/expiry-notices.csv?from=2031-02-04")).body;
    assert.match(csv, new RegExp(`\r\n${r.id},`), "and the whole file once the store answers");
  });
});
