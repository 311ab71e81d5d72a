// Emigration at the counter, over the HTTP API on each back end: filed ahead with the day of
// departure and the 戸籍の附票 address; after departure with continued use the holder (in person,
// never by proxy) gets the 国外転出者向け signing certificate on the same card.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { FastifyInstance } from "fastify";
import { buildApp } from "../../src/http/app.ts";
import { attributesOf } from "../../src/verify/attributes.ts";
import { parseCertificate } from "../../src/verify/certificate.ts";
import { backends, openTestContext, type TestContext } from "../helpers/context.ts";
import { StaffApi, staffBrowser, type StaffBrowser } from "../helpers/staff-browser.ts";

let now = new Date("2026-12-07T01:00:00Z"); // 10:00 JST
const clock = () => new Date(now);
const ID = { document: "my-number-card" };
const ABROAD = "ドイツ連邦共和国ベルリン市";

for (const backend of backends()) {
  describe(`counter emigration on ${backend}`, () => {
    let t: TestContext;
    let app: FastifyInstance;
    const api = new StaffApi(() => app);

    const call = api.call.bind(api);
    const at = async (instant: string) => {
      now = new Date(instant);
      await api.login("suzuki");
    };

    before(async () => {
      now = new Date("2026-12-07T01:00:00Z");
      t = await openTestContext(backend, { clock });
      app = await buildApp(t.context);
      await t.context.staff.add({ officeId: "machida-mnc", login: "suzuki", name: "鈴木 一郎", role: "clerk", password: "correct horse battery" });
      await at("2026-12-07T01:00:00Z");
    });
    after(async () => {
      await app.close();
      await t.cleanup();
    });

    test("filed ahead, applied on the day; then the holder abroad gets a signing certificate with the 附票 address on the same card, never through a proxy", async () => {
      const resident = await call("POST", "/api/counter/residents", { name: "森 太郎", birth: "1985-07-07", gender: "1", address: "東京都町田市森野２－２－２２", municipality: "132098" });
      const card = await call("POST", "/api/counter/cards", { residentId: resident.body.id, authPin: "1234", signPin: "ABC123" });
      assert.equal(card.status, 201, JSON.stringify(card.body));
      const cardId = card.body.id;

      const noAddress = await call("POST", `/api/counter/residents/${resident.body.id}/emigration`, { continuedUse: true, departureDate: "2026-12-15" });
      assert.equal(noAddress.status, 400, JSON.stringify(noAddress.body));
      assert.equal(noAddress.body.error.field, "abroadAddress");
      const tooLate = await call("POST", `/api/counter/residents/${resident.body.id}/emigration`, { continuedUse: true, departureDate: "2026-12-07", abroadAddress: ABROAD });
      assert.equal(tooLate.body.error.reason, "continued-use-too-late");
      const filed = await call("POST", `/api/counter/residents/${resident.body.id}/emigration`, { continuedUse: true, departureDate: "2026-12-15", abroadAddress: ABROAD });
      assert.equal(filed.status, 200, JSON.stringify(filed.body));
      assert.deepEqual([filed.body.departureDate, filed.body.revoked], ["2026-12-15", []]);

      await at("2026-12-15T01:00:00Z");
      await t.context.events.applyDueDepartures();
      const shown = await call("GET", `/api/counter/residents/${resident.body.id}`);
      assert.equal(shown.body.resident.status, "emigrated");
      assert.equal(shown.body.resident.address, ABROAD);

      const byProxy = await call("POST", "/api/counter/proxy-applications", { kind: "new-issuance", cardId, types: ["sign"], proxy: { name: "森 花子", relationship: "妻" } });
      assert.equal(byProxy.body.error.reason, "not-registered", JSON.stringify(byProxy.body));
      const newCard = await call("POST", `/api/counter/cards/${cardId}/reissue`, { identity: ID, reason: "damage", causedByHolder: false, authPin: "1234", signPin: "ABC123" });
      assert.equal(newCard.body.error?.reason, "not-registered", `no new card made abroad here: ${JSON.stringify(newCard)}`);

      const signAbroad = await call("POST", `/api/counter/cards/${cardId}/new-issuance`, { identity: ID, types: ["sign"], signPin: "ABR123" });
      assert.equal(signAbroad.status, 200, JSON.stringify(signAbroad.body));
      assert.deepEqual(signAbroad.body.issued.map((c: any) => c.type), ["sign"]);
      const der = (await t.context.ca.certificate("sign", signAbroad.body.issued[0].serialHex)).der;
      assert.equal(attributesOf(parseCertificate(der)).address, ABROAD);
    });

    test("a filed emigration is withdrawn before its day of departure (the certificates stay valid), filed again, and no longer withdrawn once the day comes", async () => {
      await at("2026-12-07T01:00:00Z");
      const resident = await call("POST", "/api/counter/residents", { name: "森 五郎", birth: "1984-04-04", gender: "1", address: "東京都町田市森野２－２－２５", municipality: "132098" });
      const id = resident.body.id;
      const card = await call("POST", "/api/counter/cards", { residentId: id, authPin: "1234", signPin: "ABC123" });
      const withdraw = () => call("POST", `/api/counter/residents/${id}/emigration/withdrawal`);
      assert.equal((await withdraw()).body.error?.reason, "no-departure-filed");

      await call("POST", `/api/counter/residents/${id}/emigration`, { continuedUse: true, departureDate: "2026-12-20", abroadAddress: ABROAD });
      const withdrawn = await withdraw();
      assert.equal(withdrawn.status, 200, JSON.stringify(withdrawn.body));
      assert.deepEqual(withdrawn.body.withdrawn, { departureDate: "2026-12-20", continuedUse: true, abroadAddress: ABROAD });
      const shown = await call("GET", `/api/counter/residents/${id}`);
      assert.deepEqual([shown.body.resident.status, shown.body.resident.departureDate], ["registered", null]);
      await at("2026-12-20T01:00:00Z");
      assert.deepEqual(await t.context.events.applyDueDepartures(), [], "nothing is applied on the withdrawn day");
      for (const c of card.body.certificates) assert.equal((await t.context.ca.certificate(c.type, c.serialHex)).status, "valid");

      const refiled = await call("POST", `/api/counter/residents/${id}/emigration`, { continuedUse: false, departureDate: "2026-12-24" });
      assert.equal(refiled.status, 200, JSON.stringify(refiled.body));
      await at("2026-12-24T01:00:00Z");
      const due = await withdraw();
      assert.equal(due.status, 409);
      assert.equal(due.body.error.reason, "departure-due");
      const applied = await t.context.events.applyDueDepartures();
      assert.deepEqual(applied.map((o) => [o.residentId, o.departureDate, o.revoked.length]), [[id, "2026-12-24", 2]]);
      assert.equal((await withdraw()).body.error.reason, "not-registered");
      const trail = await t.context.store.db.selectFrom("audit_log").select("action").where("subject", "=", id).where("action", "like", "resident.emigration%").orderBy("seq").execute();
      assert.deepEqual(trail.map((a) => a.action), ["resident.emigration-filed", "resident.emigration-withdrawn", "resident.emigration-filed", "resident.emigration"]);
      await at("2026-12-07T01:00:00Z");
    });

    test("without continued use the card becomes invalid with the register entry: only its return is taken", async () => {
      const resident = await call("POST", "/api/counter/residents", { name: "森 次郎", birth: "1986-08-08", gender: "1", address: "東京都町田市森野２－２－２３", municipality: "132098" });
      const card = await call("POST", "/api/counter/cards", { residentId: resident.body.id, authPin: "1234", signPin: "ABC123" });
      const left = await call("POST", `/api/counter/residents/${resident.body.id}/emigration`, { continuedUse: false });
      assert.equal(left.body.revoked.length, 2);
      const shown = await call("GET", `/api/counter/residents/${resident.body.id}`);
      assert.equal(shown.body.cards[0].status, "invalid", "the card dies with the register entry");
      const pinInit = await call("POST", `/api/counter/cards/${card.body.id}/pin-init`, { identity: ID, type: "auth", newPin: "4321" });
      assert.equal(pinInit.body.error?.reason, "card-invalid", JSON.stringify(pinInit));
      const returned = await call("POST", `/api/counter/cards/${card.body.id}/return`, { identity: ID });
      assert.equal(returned.status, 200, JSON.stringify(returned.body));
      assert.equal((await call("GET", `/api/counter/residents/${resident.body.id}`)).body.cards[0].status, "returned", "its return is still taken");

      const deceased = await call("POST", "/api/counter/residents", { name: "森 四郎", birth: "1950-01-01", gender: "1", address: "東京都町田市森野２－２－２４", municipality: "132098" });
      await call("POST", "/api/counter/cards", { residentId: deceased.body.id, authPin: "1234", signPin: "ABC123" });
      await call("POST", `/api/counter/residents/${deceased.body.id}/death`);
      assert.equal((await call("GET", `/api/counter/residents/${deceased.body.id}`)).body.cards[0].status, "invalid", "on death too");
    });
  });
}

describe("counter page: the emigration form", () => {
  let t: TestContext;
  let app: FastifyInstance;
  let browser: StaffBrowser;

  before(async () => {
    t = await openTestContext("sqlite", { now: "2026-12-07T01:00:00Z" });
    app = await buildApp(t.context);
    browser = await staffBrowser(app, t.context);
  });
  after(async () => {
    await app.close();
    await t.cleanup();
  });

  test("takes the day of departure and the 附票 address, names a missing one at its field, and says when it takes effect", async () => {
    const r = await t.context.registry.add({ name: "森 三郎", birth: "1987-09-09", gender: "1", address: "東京都町田市森野１", municipality: "132098" });
    const url = `/counter/residents/${r.id}/events/emigration`;
    const form = await browser.get(url);
    assert.match(form.body, /<input type="date" id="e-departure" name="departureDate" value="">/);
    assert.match(form.body, /id="e-abroad-address"/);
    const missing = await browser.post(url, { continuedUse: "yes", departureDate: "2026-12-20" });
    assert.equal(missing.statusCode, 400);
    assert.match(missing.body, /戸籍の附票に記録される住所が必要です/);
    assert.match(missing.body, /href="#e-abroad-address"/, "the problem links to its field");
    assert.equal((await t.context.registry.get(r.id)).departureDate, null);
    const filed = await browser.post(url, { continuedUse: "yes", departureDate: "2026-12-20", abroadAddress: ABROAD });
    assert.equal(filed.statusCode, 303, filed.body);
    const done = await browser.get(String(filed.headers.location));
    assert.match(done.body, /転出日 2026年12月20日 に適用されます/);
    const resident = await t.context.registry.get(r.id);
    assert.deepEqual([resident.status, resident.departureDate, resident.continuedUse], ["registered", "2026-12-20", true]);
    const page = await browser.get(`/counter/residents/${r.id}`);
    assert.match(page.body, /<strong>国外転出予定 2026年12月20日・カード継続利用<\/strong>/);
    assert.doesNotMatch(page.body, /events\/emigration"/, "no second filing offered");
    assert.match(page.body, /href="\/counter\/residents\/[^"]+\/events\/emigration-withdrawal">国外転出の取消/);
  });

  test("the withdrawal form asks for the check, then withdraws the filing and says which", async () => {
    const r = await t.context.registry.add({ name: "森 六郎", birth: "1988-10-10", gender: "1", address: "東京都町田市森野１", municipality: "132098" });
    await t.context.events.endRegistration(r.id, { kind: "emigration", continuedUse: false, departureDate: "2026-12-21" });
    const url = `/counter/residents/${r.id}/events/emigration-withdrawal`;
    assert.match((await browser.get(url)).body, /2026年12月21日 に転出予定の国外転出の届出を取り消します/);
    const unchecked = await browser.post(url, {});
    assert.equal(unchecked.statusCode, 400);
    assert.match(unchecked.body, /href="#e-confirm"/);
    assert.equal((await t.context.registry.get(r.id)).departureDate, "2026-12-21");
    const done = await browser.post(url, { confirm: "1" });
    assert.equal(done.statusCode, 303, done.body);
    assert.match((await browser.get(String(done.headers.location))).body, /2026年12月21日 転出予定の届出を取り消しました/);
    assert.equal((await t.context.registry.get(r.id)).departureDate, null);
    assert.match((await browser.get(`/counter/residents/${r.id}`)).body, /events\/emigration">国外転出/, "a new filing is offered again");
  });

  test("a filing whose day has come (the scheduler not yet run) offers neither a withdrawal nor a second filing", async () => {
    const r = await t.context.registry.add({ name: "森 七郎", birth: "1989-11-11", gender: "1", address: "東京都町田市森野１", municipality: "132098" });
    // What a filing for today leaves between midnight and the scheduler's next minute.
    await t.context.store.db.updateTable("residents").set({ departure_date: "2026-12-07" }).where("id", "=", r.id).execute();
    const page = await browser.get(`/counter/residents/${r.id}`);
    assert.doesNotMatch(page.body, /events\/emigration(-withdrawal)?"/);
    assert.match(page.body, /転出日（2026年12月7日）を迎えました。まもなく適用されます/);
    const form = await browser.get(`/counter/residents/${r.id}/events/emigration-withdrawal`);
    assert.match(form.body, /転出日（2026年12月7日）を迎えたため、取り消せません/);
    const refused = await browser.post(`/counter/residents/${r.id}/events/emigration-withdrawal`, { confirm: "1" });
    assert.equal(refused.statusCode, 409);
    assert.match(refused.body, /転出日（2026-12-07）を迎えたため取り消せません/);
  });
});
