// The legal representative (法定代理人) at the counter (spec §2.1): a child under 15 or an adult
// under guardianship applies through them — card production and the window procedures on the
// card are refused without one, the relationship must fit, anyone else applies in person — and
// who applied is recorded in the application and the audit trail. Over the counter API and the
// staff pages, on the SQLite store.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { FastifyInstance } from "fastify";
import { buildApp } from "../../src/http/app.ts";
import { openTestContext, type TestContext } from "../helpers/context.ts";
import { StaffApi, staffBrowser, type StaffBrowser } from "../helpers/staff-browser.ts";

let now = new Date("2026-11-25T01:00:00Z"); // 10:00 JST
const clock = () => new Date(now);
const ID = { document: "my-number-card" };
const PARENT = { name: "町田 花子", relationship: "parent", identity: { document: "driver-licence" } } as const;
const ADULT_GUARDIAN = { name: "後見 一郎", relationship: "adult-guardian", identity: { document: "my-number-card", note: "登記事項証明書" } } as const;

describe("counter: the legal representative of a child under 15 or an adult under guardianship", () => {
  let t: TestContext;
  let app: FastifyInstance;
  const api = new StaffApi(() => app);
  let page: StaffBrowser;

  const call = api.call.bind(api);
  /** Move the clock and log in again (staff sessions last 8 hours). */
  const at = async (instant: string) => {
    now = new Date(instant);
    await api.login("tanaka");
  };
  const resident = async (name: string, birth: string, guardianship = false) => {
    const r = await call("POST", "/api/counter/residents", { name, birth, gender: "1", address: "東京都町田市森野２－２－２２", municipality: "132098", ...(guardianship ? { guardianship } : {}) });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body.id as string;
  };
  const applications = async (residentId: string) => (await call("GET", `/api/counter/residents/${residentId}`)).body.applications as { id: string; kind: string; state: string; detail: string }[];
  const audited = async (action: string, subject: string) => {
    const row = await t.context.store.db.selectFrom("audit_log").select("after").where("action", "=", action).where("subject", "=", subject).executeTakeFirstOrThrow();
    return JSON.parse(row.after!);
  };
  const refusal = (res: { status: number; body: any }, field: string, reason?: string) => {
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.body.error.code, "invalid-input");
    assert.equal(res.body.error.field, field);
    if (reason) assert.equal(res.body.error.reason, reason);
  };

  before(async () => {
    now = new Date("2026-11-25T01:00:00Z");
    t = await openTestContext("sqlite", { clock });
    app = await buildApp(t.context);
    page = await staffBrowser(app, t.context);
    await at("2026-11-25T01:00:00Z");
  });
  after(async () => {
    await app.close();
    await t.cleanup();
  });

  test("card production for a child under 15: refused without the representative (nothing opened), the relationship must fit; recorded with the application and in the audit trail", async () => {
    const child = await resident("町田 小太郎", "2014-01-01");
    const missing = await call("POST", "/api/counter/cards", { residentId: child, authPin: "1234" });
    refusal(missing, "legalRepresentative", "legal-representative-required");
    assert.match(missing.body.error.message, /^15歳未満の方の手続きは法定代理人.*暗証番号も法定代理人が設定します.* \/ legalRepresentative: .*sets the PINs/);
    refusal(await call("POST", "/api/counter/cards", { residentId: child, authPin: "1234", legalRepresentative: ADULT_GUARDIAN }), "legalRepresentative.relationship", "legal-representative-mismatch");
    // The name goes to the application and the audit trail: no bidi overrides, as every free text.
    refusal(await call("POST", "/api/counter/cards", { residentId: child, authPin: "1234", legalRepresentative: { ...PARENT, name: "町田\u202E花子" } }), "legalRepresentative.name");
    refusal(await call("POST", "/api/counter/cards", { residentId: child, authPin: "1234", legalRepresentative: { ...PARENT, relationship: "uncle" } }), "legalRepresentative/relationship");
    // The representative's own identity check is taken, as the holder's is.
    const { identity: _none, ...unidentified } = PARENT;
    refusal(await call("POST", "/api/counter/cards", { residentId: child, authPin: "1234", legalRepresentative: unidentified }), "legalRepresentative/identity");
    assert.equal((await t.context.counter.produceCard({ residentId: child, authPin: "1234", legalRepresentative: unidentified }, { actor: "staff:tanaka" }).catch((e: { field?: string }) => e.field)), "legalRepresentative.identity");
    refusal(await call("POST", "/api/counter/cards", { residentId: child, authPin: "1234", legalRepresentative: { ...PARENT, identity: { document: "library-card" } } }), "legalRepresentative/identity/document");
    assert.deepEqual(await applications(child), [], "a refusal opens no application");
    assert.deepEqual(await t.context.cards.list({ residentId: child }), []);

    const card = await call("POST", "/api/counter/cards", { residentId: child, authPin: "1234", legalRepresentative: PARENT });
    assert.equal(card.status, 201, JSON.stringify(card.body));
    assert.deepEqual(card.body.legalRepresentative, PARENT);
    const [production] = await applications(child);
    assert.equal(production!.state, "completed");
    assert.deepEqual(JSON.parse(production!.detail).legalRepresentative, PARENT);
    assert.deepEqual((await audited("application.card-issuance.start", production!.id)).legalRepresentative, PARENT);

    // Handing the card over is the representative's too.
    refusal(await call("POST", `/api/counter/cards/${card.body.id}/handover`, { identity: ID }), "legalRepresentative", "legal-representative-required");
    assert.equal((await applications(child)).length, 1, "the refusal opened no application");
    const guardian = { name: "町田 次郎", relationship: "minor-guardian", identity: { document: "passport" } };
    const handover = await call("POST", `/api/counter/cards/${card.body.id}/handover`, { identity: ID, legalRepresentative: guardian });
    assert.equal(handover.status, 200, JSON.stringify(handover.body));
    assert.deepEqual(handover.body.legalRepresentative, guardian);
    assert.deepEqual((await audited("application.handover.completed", handover.body.applicationId)).legalRepresentative, guardian);
  });

  test("a child's lost card: the loss report needs no representative; card found, reissue and return do", async () => {
    const child = await resident("町田 小次郎", "2016-05-05");
    const card = await call("POST", "/api/counter/cards", { residentId: child, authPin: "1111", legalRepresentative: PARENT });
    assert.equal(card.status, 201, JSON.stringify(card.body));
    // The call centre takes a loss report from anyone.
    assert.equal((await call("POST", `/api/counter/cards/${card.body.id}/loss-report`)).status, 200);
    refusal(await call("POST", `/api/counter/cards/${card.body.id}/found`, { identity: ID, authPin: "2222" }), "legalRepresentative", "legal-representative-required");
    assert.deepEqual((await t.context.ca.certificatesOf(child)).map((c) => c.status), ["hold"], "refused before the held certificate is revoked");
    const found = await call("POST", `/api/counter/cards/${card.body.id}/found`, { identity: ID, authPin: "2222", legalRepresentative: PARENT });
    assert.equal(found.status, 200, JSON.stringify(found.body));

    const reissue = { identity: ID, reason: "damage", causedByHolder: true, authPin: "3333" };
    refusal(await call("POST", `/api/counter/cards/${card.body.id}/reissue`, reissue), "legalRepresentative", "legal-representative-required");
    const reissued = await call("POST", `/api/counter/cards/${card.body.id}/reissue`, { ...reissue, legalRepresentative: PARENT });
    assert.equal(reissued.status, 201, JSON.stringify(reissued.body));
    refusal(await call("POST", `/api/counter/cards/${reissued.body.newCardId}/return`, { identity: ID }), "legalRepresentative", "legal-representative-required");
    const returned = await call("POST", `/api/counter/cards/${reissued.body.newCardId}/return`, { identity: ID, legalRepresentative: PARENT });
    assert.equal(returned.status, 200, JSON.stringify(returned.body));
    const recorded = (await applications(child)).map((a) => [a.kind, JSON.parse(a.detail).legalRepresentative?.name ?? null]);
    assert.deepEqual(recorded, [["card-issuance", "町田 花子"], ["loss-report", null], ["card-found", "町田 花子"], ["reissue", "町田 花子"], ["card-return", "町田 花子"]]);
  });

  test("an adult under guardianship: only the adult guardian represents them; a legal proxy's visit needs no more", async () => {
    const adult = await resident("後見 花子", "1960-02-02", true);
    refusal(await call("POST", "/api/counter/cards", { residentId: adult, authPin: "1234", legalRepresentative: PARENT }), "legalRepresentative.relationship", "legal-representative-mismatch");
    const card = await call("POST", "/api/counter/cards", { residentId: adult, authPin: "1234", legalRepresentative: ADULT_GUARDIAN });
    assert.equal(card.status, 201, JSON.stringify(card.body));
    assert.equal(card.body.signSkipped, "guardianship");

    const missing = await call("POST", `/api/counter/cards/${card.body.id}/pin-init`, { identity: ID, type: "auth", newPin: "4321" });
    refusal(missing, "legalRepresentative", "legal-representative-required");
    assert.match(missing.body.error.message, /^成年被後見人の方の手続きは法定代理人（成年後見人）が申請します/);
    const init = await call("POST", `/api/counter/cards/${card.body.id}/pin-init`, { identity: ID, type: "auth", newPin: "4321", legalRepresentative: ADULT_GUARDIAN });
    assert.equal(init.status, 200, JSON.stringify(init.body));
    assert.deepEqual(JSON.parse((await applications(adult)).find((a) => a.id === init.body.applicationId)!.detail).legalRepresentative, ADULT_GUARDIAN);

    // The proxy application (proxy type "legal") is its own procedure: its proxy is recorded, nothing more is asked.
    const started = await call("POST", "/api/counter/proxy-applications", { kind: "pin-init", cardId: card.body.id, pinType: "auth", proxy: { name: "後見 一郎", relationship: "成年後見人", type: "legal" } });
    assert.equal(started.status, 201, JSON.stringify(started.body));
    const completed = await call("POST", `/api/counter/proxy-applications/${started.body.applicationId}/complete`, { proxyIdentity: { document: "driver-licence", name: "後見 一郎" }, newPin: "5678" });
    assert.equal(completed.status, 200, JSON.stringify(completed.body));
    assert.equal(completed.body.proxy.type, "legal");
  });

  test("anyone else applies in person: a representative given is refused, naming the field; from the 15th birthday (a Japan date) too", async () => {
    const adult = await resident("町田 三郎", "1980-04-04");
    const given = await call("POST", "/api/counter/cards", { residentId: adult, authPin: "1234", signPin: "ABC123", legalRepresentative: PARENT });
    refusal(given, "legalRepresentative", "legal-representative-not-needed");
    assert.match(given.body.error.message, /^15歳以上で成年被後見人でない方は、本人が申請します/);
    assert.deepEqual(await applications(adult), []);

    // 15 on 2026-11-26: the day before, the representative applies; from 00:30 JST on the
    // birthday (still the 25th in UTC) the holder does.
    const teen = await resident("町田 四郎", "2011-11-26");
    const card = await call("POST", "/api/counter/cards", { residentId: teen, authPin: "1234", legalRepresentative: PARENT });
    assert.equal(card.status, 201, JSON.stringify(card.body));
    await at("2026-11-25T15:30:00Z");
    refusal(await call("POST", `/api/counter/cards/${card.body.id}/new-issuance`, { identity: ID, types: ["sign"], signPin: "TEEN15", legalRepresentative: PARENT }), "legalRepresentative", "legal-representative-not-needed");
    const own = await call("POST", `/api/counter/cards/${card.body.id}/new-issuance`, { identity: ID, types: ["sign"], signPin: "TEEN15" });
    assert.equal(own.status, 200, JSON.stringify(own.body));
    assert.deepEqual(own.body.issued.map((c: any) => c.type), ["sign"]);
    assert.equal(JSON.parse((await applications(teen)).at(-1)!.detail).legalRepresentative, undefined);
    await at("2026-11-25T01:00:00Z");
  });

  test("staff pages: a refused identity note, the holder's or the representative's, points at its own field", async () => {
    const twice = (kind: string, pin: string) => ({ [`${kind}Pin`]: pin, [`${kind}PinConfirm`]: pin });
    const child = await t.context.registry.add({ name: "町田 八郎", birth: "2018-08-08", gender: "1", address: "東京都町田市森野１", municipality: "132098" });
    const card = await t.context.counter.produceCard({ residentId: child.id, authPin: "1234", legalRepresentative: PARENT }, { actor: "staff:tanaka" });
    const form = { submitted: "1", pinType: "auth", identityDocument: "passport", ...twice("new", "7777"), legalRepresentativeName: "町田 花子", legalRepresentativeRelationship: "parent", legalRepresentativeIdentityDocument: "passport" };
    const holder = await page.post(`/counter/cards/${card.id}/pin-init`, { ...form, identityNote: "学生証\u202E" });
    assert.equal(holder.statusCode, 400, holder.body);
    assert.match(holder.body, /<a href="#identity-note">/);
    assert.match(holder.body, /id="identity-note" name="identityNote"[^>]*aria-invalid="true"/);
    const representative = await page.post(`/counter/cards/${card.id}/pin-init`, { ...form, legalRepresentativeIdentityNote: "戸籍謄本\u202E" });
    assert.equal(representative.statusCode, 400, representative.body);
    assert.match(representative.body, /<a href="#legal-representative-identity-note">/);
    assert.match(representative.body, /value="passport" selected/, "the document chosen is kept");
  });

  test("staff pages: the production and procedure forms ask for the representative with a hint; a refusal points at the field; the history shows who applied", async () => {
    const twice = (kind: string, pin: string) => ({ [`${kind}Pin`]: pin, [`${kind}PinConfirm`]: pin });
    const child = await t.context.registry.add({ name: "町田 五郎", birth: "2019-03-03", gender: "1", address: "東京都町田市森野１", municipality: "132098" });
    const form = await page.get(`/counter/residents/${child.id}/apply`);
    assert.equal(form.statusCode, 200);
    assert.match(form.body, /id="legal-representative-name" name="legalRepresentativeName"/);
    assert.match(form.body, /<select id="legal-representative-relationship" name="legalRepresentativeRelationship"[^>]*>[\s\S]*<option value="parent">親権者<\/option><option value="minor-guardian">未成年後見人<\/option><option value="adult-guardian">成年後見人<\/option>/);
    assert.match(form.body, /15歳未満の方の暗証番号も法定代理人が設定します/);

    const missing = await page.post(`/counter/residents/${child.id}/apply`, { ...twice("auth", "1234") });
    assert.equal(missing.statusCode, 400, missing.body);
    assert.match(missing.body, /<a href="#legal-representative-name">15歳未満の方の手続きは法定代理人/);
    assert.match(missing.body, /id="legal-representative-name" name="legalRepresentativeName"[^>]*aria-invalid="true"/);
    const mismatch = await page.post(`/counter/residents/${child.id}/apply`, { ...twice("auth", "1234"), legalRepresentativeName: "町田 花子", legalRepresentativeRelationship: "adult-guardian" });
    assert.equal(mismatch.statusCode, 400, mismatch.body);
    assert.match(mismatch.body, /<a href="#legal-representative-relationship">成年後見人は成年被後見人の方の法定代理人です/);
    assert.match(mismatch.body, /value="町田 花子"/, "what was typed is shown again");
    assert.match(mismatch.body, /<option value="adult-guardian" selected>/);
    assert.deepEqual(await t.context.cards.list({ residentId: child.id }), []);

    const unidentified = await page.post(`/counter/residents/${child.id}/apply`, { ...twice("auth", "1234"), legalRepresentativeName: "町田 花子", legalRepresentativeRelationship: "parent" });
    assert.equal(unidentified.statusCode, 400, unidentified.body);
    assert.match(unidentified.body, /<a href="#legal-representative-identity-document">法定代理人の本人確認書類を選んでください/);
    const done = await page.post(`/counter/residents/${child.id}/apply`, { ...twice("auth", "1234"), legalRepresentativeName: "町田 花子", legalRepresentativeRelationship: "parent", legalRepresentativeIdentityDocument: "driver-licence", legalRepresentativeIdentityNote: "戸籍謄本" });
    assert.equal(done.statusCode, 303, done.body);
    const [card] = await t.context.cards.list({ residentId: child.id });
    const shown = await page.get(`/counter/residents/${child.id}`);
    assert.match(shown.body, /交付申請・カード作製<br><span class="muted legal-representative">法定代理人: 町田 花子（親権者、運転免許証）<\/span>/);
    const production = (await t.context.counter.applications(child.id)).find((a) => a.kind === "card-issuance")!;
    assert.deepEqual(JSON.parse(production.detail).legalRepresentative.identity, { document: "driver-licence", note: "戸籍謄本" });

    // A procedure form: the adult's representative is refused, pointing at the field.
    const adult = await t.context.registry.add({ name: "町田 六郎", birth: "1985-06-06", gender: "1", address: "東京都町田市森野１", municipality: "132098" });
    const adultCard = await t.context.cards.issue({ residentId: adult.id, authPin: "1111", signPin: "ABC123" });
    const pinForm = await page.get(`/counter/cards/${adultCard.id}/pin-init`);
    assert.match(pinForm.body, /id="legal-representative-name" name="legalRepresentativeName"/);
    const refused = await page.post(`/counter/cards/${adultCard.id}/pin-init`, { submitted: "1", pinType: "auth", identityDocument: "passport", ...twice("new", "9999"), legalRepresentativeName: "町田 花子", legalRepresentativeRelationship: "parent", legalRepresentativeIdentityDocument: "passport" });
    assert.equal(refused.statusCode, 400, refused.body);
    assert.match(refused.body, /<a href="#legal-representative-name">15歳以上で成年被後見人でない方は、本人が申請します/);
    assert.match(refused.body, /legal-representative-not-needed/);

    const childInit = await page.post(`/counter/cards/${card!.id}/pin-init`, { submitted: "1", pinType: "auth", identityDocument: "passport", ...twice("new", "8888"), legalRepresentativeName: "町田 花子", legalRepresentativeRelationship: "parent", legalRepresentativeIdentityDocument: "passport" });
    assert.equal(childInit.statusCode, 303, childInit.body);
    const history = await page.get(`/counter/residents/${child.id}`);
    assert.match(history.body, /暗証番号の初期化<br><span class="muted legal-representative">法定代理人: 町田 花子（親権者、旅券（パスポート））<\/span>/);
  });
});
