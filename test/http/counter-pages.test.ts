// The staff pages' forms for declining a certificate (電子証明書が不要である旨の申し出), posted as
// a browser posts them (form encoding, CSRF cookie and field, a staff session): card production,
// reissue and card found at the counter, and the developer console's card form.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { FastifyInstance } from "fastify";
import { buildApp } from "../../src/http/app.ts";
import { JpkiClient } from "../../src/client/jpki-client.ts";
import { openTestContext, type TestContext } from "../helpers/context.ts";
import { staffBrowser, type StaffBrowser } from "../helpers/staff-browser.ts";

describe("counter pages: declining the authentication certificate", () => {
  let t: TestContext;
  let app: FastifyInstance;
  let get: StaffBrowser["get"];
  let post: StaffBrowser["post"];
  const twice = (kind: string, pin: string) => ({ [`${kind}Pin`]: pin, [`${kind}PinConfirm`]: pin });
  const resident = (name: string) =>
    t.context.registry.add({ name, birth: "1980-04-04", gender: "1", address: "東京都町田市森野１", municipality: "132098" });

  before(async () => {
    t = await openTestContext("sqlite", { now: "2026-11-25T03:00:00Z", settings: { devConsole: true } });
    app = await buildApp(t.context);
    ({ get, post } = await staffBrowser(app, t.context));
  });
  after(async () => {
    await app.close();
    await t.cleanup();
  });

  test("card production: the box declines it, the 券面事項入力補助 PIN is then asked for; a blank PIN alone is not a decline", async () => {
    const r = await resident("町田 一平");
    const form = await get(`/counter/residents/${r.id}/apply`);
    assert.equal(form.statusCode, 200);
    assert.match(form.body, /<input type="checkbox" id="no-auth" name="noAuth" value="1"><label for="no-auth">利用者証明用電子証明書を搭載しない<\/label>/);
    assert.match(form.body, /id="kenhojo-pin" name="kenhojoPin"/);

    const blank = await post(`/counter/residents/${r.id}/apply`, { ...twice("sign", "ABC123") });
    assert.equal(blank.statusCode, 400);
    assert.match(blank.body, /利用者証明用電子証明書が不要なら、その申し出を選んでください/);
    const noKenhojo = await post(`/counter/residents/${r.id}/apply`, { noAuth: "1", ...twice("sign", "ABC123") });
    assert.equal(noKenhojo.statusCode, 400);
    assert.match(noKenhojo.body, /券面事項入力補助用の暗証番号を入力してください/);
    assert.match(noKenhojo.body, /id="no-auth" name="noAuth" value="1" checked/, "the box stays ticked");
    const mismatch = await post(`/counter/residents/${r.id}/apply`, { noAuth: "1", ...twice("sign", "ABC123"), kenhojoPin: "1234", kenhojoPinConfirm: "1243" });
    assert.equal(mismatch.statusCode, 400);
    assert.match(mismatch.body, /確認のために入力した券面事項入力補助用の暗証番号が一致しません/);
    assert.deepEqual(await t.context.cards.list({ residentId: r.id }), [], "no card was produced");

    const done = await post(`/counter/residents/${r.id}/apply`, { noAuth: "1", ...twice("sign", "ABC123"), ...twice("kenhojo", "2468") });
    assert.equal(done.statusCode, 303, done.body);
    const [card] = await t.context.cards.list({ residentId: r.id });
    assert.deepEqual((await t.context.ca.certificatesOf(r.id)).map((c) => c.type), ["sign"]);
    await t.context.cards.withReader(card!.id, async (reader) => {
      assert.equal((await new JpkiClient(reader).readKenhojo("2468")).name, "町田　一平");
    });
  });

  test("reissue and card found: the box declines it on the new card or among the new certificates", async () => {
    const r = await resident("町田 二平");
    const card = await t.context.cards.issue({ residentId: r.id, authPin: "1111", signPin: "ABC123" });
    await t.context.counter.reportLoss({ cardId: card.id }, { actor: "staff:tanaka", office: "machida-mnc" });
    const foundForm = await get(`/counter/cards/${card.id}/found`);
    assert.match(foundForm.body, /id="no-auth" name="noAuth" value="1"><label for="no-auth">利用者証明用電子証明書を発行しない<\/label>/);
    const found = await post(`/counter/cards/${card.id}/found`, { submitted: "1", identityDocument: "passport", noAuth: "1", ...twice("sign", "FOUND1") });
    assert.equal(found.statusCode, 303, found.body);
    const live = (await t.context.ca.certificatesOf(r.id)).filter((c) => c.status === "valid");
    assert.deepEqual(live.map((c) => c.type), ["sign"]);

    const reissueForm = await get(`/counter/cards/${card.id}/reissue`);
    assert.match(reissueForm.body, /id="no-auth" name="noAuth" value="1"><label for="no-auth">利用者証明用電子証明書を搭載しない<\/label>/);
    const reissued = await post(`/counter/cards/${card.id}/reissue`, {
      submitted: "1", identityDocument: "passport", reason: "damage", causedByHolder: "yes", noAuth: "1", noSign: "1", ...twice("kenhojo", "3579"),
    });
    assert.equal(reissued.statusCode, 303, reissued.body);
    const newCard = (await t.context.cards.list({ residentId: r.id })).find((c) => c.status === "active")!;
    assert.notEqual(newCard.id, card.id);
    assert.deepEqual((await t.context.ca.certificatesOf(r.id)).filter((c) => c.cardId === newCard.id), [], "no certificates on the new card");
  });

  test("the developer console's card form declines it too", async () => {
    const r = await resident("町田 三平");
    const page = await get("/dev");
    assert.match(page.body, /id="c-noauth" name="noAuth" value="1"/);
    const refused = await post("/dev/cards", { residentId: r.id, authPin: "1234", noAuth: "1", signPin: "ABC123", kenhojoPin: "1234" });
    assert.equal(refused.statusCode, 400);
    assert.match(refused.body, /利用者証明用電子証明書を発行しない場合、利用者証明用の暗証番号は入力しません/);
    const made = await post("/dev/cards", { residentId: r.id, noAuth: "1", signPin: "ABC123", kenhojoPin: "1234" });
    assert.equal(made.statusCode, 303, made.body);
    assert.deepEqual((await t.context.ca.certificatesOf(r.id)).map((c) => c.type), ["sign"]);
  });
});
