// The municipal counter over its HTTP API, on each back end: staff login, CSRF, and the window
// procedures end to end against in-process cards, with the rules' edge cases.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { buildApp } from "../../src/http/app.ts";
import { JpkiClient } from "../../src/client/jpki-client.ts";
import { whileIssuanceFails } from "../helpers/faults.ts";
import { backends, openTestContext, type TestContext } from "../helpers/context.ts";
import type { FastifyInstance } from "fastify";

let now = new Date("2026-11-25T01:00:00Z"); // 10:00 JST
const clock = () => new Date(now);
const ID = { document: "my-number-card" };

for (const backend of backends()) {
  describe(`counter API on ${backend}`, () => {
    let t: TestContext;
    let app: FastifyInstance;
    let cookie = "";
    let csrf = "";

    const call = async (method: "GET" | "POST", url: string, payload?: unknown, headers: Record<string, string> = {}) => {
      const res = await app.inject({ method, url, headers: { cookie, "x-csrf-token": csrf, ...headers }, ...(payload === undefined ? {} : { payload: payload as object }) });
      return { status: res.statusCode, body: res.json() as any };
    };

    /** Move the clock (JST instants) and log in again: staff sessions last 8 hours. */
    const at = async (instant: string) => {
      now = new Date(instant);
      const res = await app.inject({ method: "POST", url: "/api/counter/login", payload: { login: "tanaka", password: "correct horse battery" } });
      assert.equal(res.statusCode, 200, res.body);
      cookie = res.headers["set-cookie"]!.toString().split(";")[0]!;
      csrf = res.json().csrfToken;
    };

    before(async () => {
      now = new Date("2026-11-25T01:00:00Z");
      t = await openTestContext(backend, { clock });
      app = await buildApp(t.context);
      await t.context.staff.add({ officeId: "machida-mnc", login: "tanaka", name: "田中 一郎", role: "clerk", password: "correct horse battery" });
    });
    after(async () => {
      await app.close();
      await t.cleanup();
    });

    test("nothing works without a staff session; wrong passwords are throttled", async () => {
      const anonymous = await call("GET", "/api/counter/me");
      assert.equal(anonymous.status, 403);
      assert.equal(anonymous.body.error.reason, "no-session");
      for (let i = 0; i < 5; i++) {
        const bad = await call("POST", "/api/counter/login", { login: "tanaka", password: "wrong password!" });
        assert.equal(bad.body.error.reason, "bad-credentials");
      }
      const locked = await call("POST", "/api/counter/login", { login: "tanaka", password: "correct horse battery" });
      assert.equal(locked.body.error.reason, "login-locked");
      now = new Date(now.getTime() + 16 * 60_000);
      const res = await app.inject({ method: "POST", url: "/api/counter/login", payload: { login: "tanaka", password: "correct horse battery" } });
      assert.equal(res.statusCode, 200, res.body);
      cookie = res.headers["set-cookie"]!.toString().split(";")[0]!;
      csrf = res.json().csrfToken;
      assert.equal((await call("GET", "/api/counter/me")).body.staff.login, "tanaka");
      const noCsrf = await call("POST", "/api/counter/residents", { name: "x y", birth: "1990-01-01", gender: "1", address: "東京都", municipality: "132098" }, { "x-csrf-token": "nope" });
      assert.equal(noCsrf.body.error.reason, "csrf");
      const crossSite = await call("POST", "/api/counter/residents", { name: "x y", birth: "1990-01-01", gender: "1", address: "東京都", municipality: "132098" }, { origin: "https://evil.example", host: "localhost" });
      assert.equal(crossSite.body.error.reason, "csrf");
      // An opaque origin (what a sandboxed frame sends) or one that is not a URL: refused, not a 500.
      for (const origin of ["null", "not a url"]) {
        const opaque = await call("POST", "/api/counter/residents/R-0000000000/emigration", { continuedUse: false }, { origin });
        assert.equal(opaque.status, 403, `${origin}: ${JSON.stringify(opaque.body)}`);
        assert.equal(opaque.body.error.reason, "csrf");
      }
    });

    test("who asks is settled before the body: without a session 403, whatever the body says", async () => {
      const saved = cookie;
      cookie = "";
      try {
        for (const payload of [{}, { name: 1 }]) {
          const res = await call("POST", "/api/counter/residents", payload);
          assert.equal(res.status, 403, JSON.stringify(res.body));
          assert.equal(res.body.error.reason, "no-session");
        }
      } finally {
        cookie = saved;
      }
    });

    test("the residents API searches the whole register with q; a body-less POST to an endpoint whose body is optional is taken as {}", async () => {
      const created = await call("POST", "/api/counter/residents", { name: "検索 専用", birth: "1990-01-01", gender: "1", address: "東京都町田市森野３－３", municipality: "132098" });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const found = await call("GET", `/api/counter/residents?q=${encodeURIComponent("検索専用")}&municipality=132098`);
      assert.equal(found.status, 200, JSON.stringify(found.body));
      assert.deepEqual(found.body.residents.map((r: { id: string }) => r.id), [created.body.id]);
      assert.deepEqual((await call("GET", `/api/counter/residents?q=${encodeURIComponent("検索専用")}&municipality=131016`)).body.residents, []);
      assert.equal((await call("GET", "/api/counter/residents?municipality=13209")).status, 400, "a municipality code is 6 digits");

      const card = await t.context.cards.issue({ residentId: created.body.id, noAuth: true, noSign: true, kenhojoPin: "2468", myNumber: "123456789018" });
      const suspended = await app.inject({ method: "POST", url: `/api/counter/cards/${card.id}/suspend`, headers: { cookie, "x-csrf-token": csrf } });
      assert.equal(suspended.statusCode, 200, suspended.body);
      assert.equal((await t.context.cards.get(card.id)).status, "suspended");
    });

    test("a death reported later takes its day: the certificates are invalid from then; a day in the future is refused naming date", async () => {
      const created = await call("POST", "/api/counter/residents", { name: "届出 遅子", birth: "1950-01-01", gender: "2", address: "東京都町田市森野３－３", municipality: "132098" });
      const card = await t.context.cards.issue({ residentId: created.body.id, authPin: "1234", signPin: "ABC123" });
      const future = await call("POST", `/api/counter/residents/${created.body.id}/death`, { date: "2099-01-01" });
      assert.equal(future.status, 400, JSON.stringify(future.body));
      assert.equal(future.body.error.field, "date");
      const died = await call("POST", `/api/counter/residents/${created.body.id}/death`, { date: "2026-11-20" });
      assert.equal(died.status, 200, JSON.stringify(died.body));
      for (const c of card.certificates) {
        const record = await t.context.ca.certificate(c.type, c.serialHex);
        assert.equal(record.status, "revoked");
        assert.equal(record.invalidityDate, "2026-11-19T15:00:00.000Z", "the start of the day of death in JST");
      }
    });

    test("a query parameter given twice is 400 naming it; a value of the wrong type is not converted", async () => {
      const twice = await call("GET", "/api/counter/residents?municipality=132098&municipality=131016");
      assert.equal(twice.status, 400, JSON.stringify(twice.body));
      assert.deepEqual(twice.body.error, { code: "invalid-input", field: "municipality", message: "municipality: 同じパラメータが複数あります / given more than once" });
      const kiosk = await app.inject({ method: "GET", url: "/api/kiosk/documents?municipality=132098&municipality=131016" });
      assert.equal(kiosk.statusCode, 400, kiosk.body);
      // ["tanaka"] for a string, "false" for a boolean: fastify's default would have taken them.
      const arrayLogin = await app.inject({ method: "POST", url: "/api/counter/login", payload: { login: ["tanaka"], password: ["correct horse battery"] } });
      assert.equal(arrayLogin.statusCode, 400, arrayLogin.body);
      assert.equal(arrayLogin.json().error.field, "login");
      const stringBoolean = await call("POST", "/api/counter/residents/R-0000000000/emigration", { continuedUse: "false" });
      assert.equal(stringBoolean.status, 400, JSON.stringify(stringBoolean.body));
      assert.match(stringBoolean.body.error.message, /continuedUse: .*must be boolean/);
    });

    test("issuance, handover, a move (sign revoked, auth kept), renewal window edges with the 6th birthday", async () => {
      const resident = await call("POST", "/api/counter/residents", { name: "町田 花子", birth: "1990-03-15", gender: "2", address: "東京都町田市森野２－２－２２", municipality: "132098" });
      assert.equal(resident.status, 201, JSON.stringify(resident.body));
      const card = await call("POST", "/api/counter/cards", { residentId: resident.body.id, authPin: "1234", signPin: "ABC123" });
      assert.equal(card.status, 201, JSON.stringify(card.body));
      const cardId = card.body.id;
      assert.deepEqual(card.body.certificates.map((c: any) => [c.type, c.expires]), [["auth", "2031-03-15"], ["sign", "2031-03-15"]]);
      await at("2026-12-01T01:00:00Z");
      // The identity note goes to the audit trail: a control or bidi character is refused, nothing done.
      const badNote = await call("POST", `/api/counter/cards/${cardId}/handover`, { identity: { ...ID, note: "免許証\u202E" } });
      assert.equal(badNote.status, 400, JSON.stringify(badNote.body));
      assert.equal(badNote.body.error.field, "identity.note");
      const handover = await call("POST", `/api/counter/cards/${cardId}/handover`, { identity: ID });
      assert.equal(handover.status, 200, JSON.stringify(handover.body));
      const shown = await call("GET", `/api/counter/residents/${resident.body.id}`);
      assert.equal(shown.body.cards[0].handedOverDate, "2026-12-01");
      assert.equal(shown.body.cards[0].producedDate, "2026-11-25", "the issuance date differs from the 交付日");

      const moved = await call("POST", `/api/counter/residents/${resident.body.id}/change`, { address: "東京都町田市中町１－１" });
      assert.deepEqual(moved.body.revoked.map((r: any) => [r.type, r.reason]), [["sign", "affiliationChanged"]]);
      const reissued = await call("POST", `/api/counter/cards/${cardId}/new-issuance`, { identity: ID, types: ["sign"], signPin: "NEW123" });
      assert.equal(reissued.status, 200, JSON.stringify(reissued.body));
      const refusedAuth = await call("POST", `/api/counter/cards/${cardId}/new-issuance`, { identity: ID, types: ["auth"], authPin: "1234" });
      assert.equal(refusedAuth.body.error.reason, "already-valid");

      // Renewal opens 2030-12-15 (three months before 2031-03-15). One day before: refused.
      await at("2030-12-14T03:00:00Z");
      const early = await call("POST", `/api/counter/cards/${cardId}/renewal`, { identity: ID });
      assert.equal(early.status, 403);
      assert.equal(early.body.error.reason, "outside-renewal-window");
      assert.match(early.body.error.message, /2030-12-15/);
      await at("2030-12-15T03:00:00Z");
      const renewed = await call("POST", `/api/counter/cards/${cardId}/renewal`, { identity: ID });
      assert.equal(renewed.status, 200, JSON.stringify(renewed.body));
      // The 6th birthday after 2030-12-15 is 2036-03-15, but the card (10th birthday after 2026-11-25) ends 2036-03-15 too.
      assert.deepEqual(renewed.body.issued.map((c: any) => [c.type, c.expires]), [["auth", "2036-03-15"], ["sign", "2036-03-15"]]);
      assert.deepEqual(renewed.body.revoked.map((r: any) => r.reason), ["superseded", "superseded"]);
      await t.context.cards.withReader(cardId, async (reader) => {
        const onCard = await new JpkiClient(reader).readCertificate("auth");
        assert.equal(Buffer.from(onCard).toString("hex"), Buffer.from((await t.context.ca.certificate("auth", renewed.body.issued[0].serialHex)).der).toString("hex"));
      });
    });

    test("an under-15 gets no signing certificate; a blocked PIN is unblocked at the window", async () => {
      await at("2026-11-25T02:00:00Z");
      const child = await call("POST", "/api/counter/residents", { name: "町田 次郎", birth: "2014-01-01", gender: "1", address: "東京都町田市森野２－２－２２", municipality: "132098" });
      const parent = { name: "町田 太郎", relationship: "parent", identity: { document: "driver-licence" } };
      const refused = await call("POST", "/api/counter/cards", { residentId: child.body.id, authPin: "1234", signPin: "ABC123", legalRepresentative: parent });
      assert.equal(refused.status, 422);
      const card = await call("POST", "/api/counter/cards", { residentId: child.body.id, authPin: "1234", legalRepresentative: parent });
      assert.equal(card.body.signSkipped, "under-15");
      await t.context.cards.withReader(card.body.id, async (reader) => {
        const client = new JpkiClient(reader);
        for (let i = 0; i < 3; i++) await client.verifyPin("auth", "0000");
        assert.equal(await client.triesLeft("auth"), 0);
      });
      // No signing certificate, so no signing password to initialise (as at the kiosk).
      const noSign = await call("POST", `/api/counter/cards/${card.body.id}/pin-init`, { identity: ID, type: "sign", newPin: "ABC123", legalRepresentative: parent });
      assert.equal(noSign.status, 403, JSON.stringify(noSign.body));
      assert.equal(noSign.body.error.reason, "no-certificate");
      const noSignProxy = await call("POST", "/api/counter/proxy-applications", { kind: "pin-init", cardId: card.body.id, pinType: "sign", proxy: { name: "町田 太郎", relationship: "父" } });
      assert.equal(noSignProxy.body.error?.reason, "no-certificate", JSON.stringify(noSignProxy.body));
      const init = await call("POST", `/api/counter/cards/${card.body.id}/pin-init`, { identity: ID, type: "auth", newPin: "4321", legalRepresentative: parent });
      assert.equal(init.status, 200, JSON.stringify(init.body));
      await t.context.cards.withReader(card.body.id, async (reader) => {
        assert.deepEqual(await new JpkiClient(reader).verifyPin("auth", "4321"), { ok: true });
      });
    });

    test("loss report puts both on hold; the found card gets them revoked and new ones; returns revoke", async () => {
      const r = await call("POST", "/api/counter/residents", { name: "町田 三郎", birth: "1970-07-07", gender: "1", address: "東京都町田市森野１", municipality: "132098" });
      const card = await call("POST", "/api/counter/cards", { residentId: r.body.id, authPin: "1111", signPin: "LOST01" });
      const lost = await call("POST", `/api/counter/cards/${card.body.id}/loss-report`);
      assert.deepEqual(lost.body.revoked.map((x: any) => x.reason), ["certificateHold", "certificateHold"]);
      const suspended = await call("POST", `/api/counter/cards/${card.body.id}/renewal`, { identity: ID });
      assert.equal(suspended.body.error.reason, "card-suspended");
      // Refusals come before the held certificates are revoked: the card stays as it was, to try again.
      const statuses = async () => (await t.context.ca.certificatesOf(r.body.id)).map((c) => `${c.type}:${c.status}`).sort();
      for (const [body, field] of [
        [{ identity: ID, authPin: "１２３４", signPin: "FOUND1" }, "auth-pin"],
        [{ identity: ID, authPin: "2222" }, "sign-pin"],
        [{ identity: ID, authPin: "2222", signPin: "FOUND1", noSign: true }, "sign-pin"],
      ] as const) {
        const refused = await call("POST", `/api/counter/cards/${card.body.id}/found`, body);
        assert.equal(refused.status, 400, JSON.stringify(refused.body));
        assert.equal(refused.body.error.field, field);
        assert.deepEqual(await statuses(), ["auth:hold", "sign:hold"], JSON.stringify(body));
        assert.equal((await t.context.cards.get(card.body.id)).status, "suspended");
      }
      const found = await call("POST", `/api/counter/cards/${card.body.id}/found`, { identity: ID, authPin: "2222", signPin: "FOUND1" });
      assert.equal(found.status, 200, JSON.stringify(found.body));
      assert.deepEqual(found.body.revoked.map((x: any) => x.reason), ["keyCompromise", "keyCompromise"]);
      assert.deepEqual(found.body.issued.map((x: any) => x.type), ["auth", "sign"]);
      const returned = await call("POST", `/api/counter/cards/${card.body.id}/return`, { identity: ID });
      assert.deepEqual(returned.body.revoked.map((x: any) => x.reason), ["cessationOfOperation", "cessationOfOperation"]);
      const after = await call("POST", `/api/counter/cards/${card.body.id}/renewal`, { identity: ID });
      assert.equal(after.body.error.reason, "card-returned");
    });

    test("held certificates go only through card-found: new issuance after a lifted suspension is refused; a new signing certificate may be declined", async () => {
      const r = await call("POST", "/api/counter/residents", { name: "町田 八郎", birth: "1971-07-07", gender: "1", address: "東京都町田市森野１", municipality: "132098" });
      const card = await call("POST", "/api/counter/cards", { residentId: r.body.id, authPin: "1111", signPin: "LOST02" });
      await call("POST", `/api/counter/cards/${card.body.id}/loss-report`);
      const lifted = await call("POST", `/api/counter/cards/${card.body.id}/lift-suspension`, { identity: ID });
      assert.equal(lifted.status, 200, JSON.stringify(lifted.body));
      const fresh = await call("POST", `/api/counter/cards/${card.body.id}/new-issuance`, { identity: ID, authPin: "2222", signPin: "NEW789" });
      assert.equal(fresh.status, 403, JSON.stringify(fresh.body));
      assert.equal(fresh.body.error.reason, "on-hold");
      const found = await call("POST", `/api/counter/cards/${card.body.id}/found`, { identity: ID, authPin: "2222", noSign: true });
      assert.equal(found.status, 200, JSON.stringify(found.body));
      assert.deepEqual(found.body.issued.map((x: any) => x.type), ["auth"]);
      const live = (await t.context.ca.certificatesOf(r.body.id)).filter((c) => c.status === "valid" || c.status === "hold");
      assert.deepEqual(live.map((c) => c.type), ["auth"], "one valid authentication certificate, nothing held, no signing certificate");
    });

    test("a signing certificate on a card ends with the authentication certificate on that card, not one the holder has elsewhere", async () => {
      await at("2026-11-25T03:00:00Z");
      const r = await call("POST", "/api/counter/residents", { name: "町田 九郎", birth: "1990-01-02", gender: "1", address: "東京都町田市森野１", municipality: "132098" });
      const card = await call("POST", "/api/counter/cards", { residentId: r.body.id, authPin: "1111", signPin: "CAP001" });
      assert.deepEqual(card.body.certificates.map((c: any) => c.expires), ["2031-01-02", "2031-01-02"]);
      await at("2027-01-03T01:00:00Z"); // past the birthday: an authentication certificate issued now runs a year longer
      const elsewhere = await t.context.ca.issue({ type: "auth", residentId: r.body.id, subjectPublicKey: generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey });
      assert.equal(elsewhere.expires, "2032-01-02");
      await at("2027-02-01T03:00:00Z");
      const moved = await call("POST", `/api/counter/residents/${r.body.id}/change`, { address: "東京都町田市中町１－１" });
      assert.equal(moved.status, 200, JSON.stringify(moved.body));
      const fresh = await call("POST", `/api/counter/cards/${card.body.id}/new-issuance`, { identity: ID, types: ["sign"], signPin: "CAP002" });
      assert.equal(fresh.status, 200, JSON.stringify(fresh.body));
      assert.equal(fresh.body.issued[0].expires, "2031-01-02", "capped by the card's authentication certificate");
      await at("2026-11-25T03:00:00Z"); // the day the tests below start from
    });

    test("four clerks producing a card for one resident at once: one card, the others refused card-held", async () => {
      const r = await call("POST", "/api/counter/residents", { name: "町田 十郎", birth: "1985-05-05", gender: "1", address: "東京都町田市森野１", municipality: "132098" });
      // Straight to the service, so that the four checks fall between each other's (HTTP spreads them out).
      const clerk = { actor: "staff:tanaka", office: "machida-mnc" };
      const answers = await Promise.allSettled([1, 2, 3, 4].map(() => t.context.counter.produceCard({ residentId: r.body.id, authPin: "1111", signPin: "RACE02" }, clerk)));
      assert.equal(answers.filter((a) => a.status === "fulfilled").length, 1, JSON.stringify(answers.map((a) => (a.status === "rejected" ? String(a.reason) : a.value.id))));
      assert.ok(answers.every((a) => a.status === "fulfilled" || (a.reason as { reason?: string }).reason === "card-held"));
      const cards = await t.context.store.db.selectFrom("cards").select("status").where("resident_id", "=", r.body.id).execute();
      assert.deepEqual(cards.map((c) => c.status), ["active"]);
      assert.equal((await t.context.ca.certificatesOf(r.body.id)).length, 2);
    });

    test("a renewal cut off midway is put in step by the next procedure on the card", async () => {
      await at("2026-11-25T03:00:00Z");
      const r = await call("POST", "/api/counter/residents", { name: "町田 十一郎", birth: "1961-01-15", gender: "1", address: "東京都町田市森野１", municipality: "132098" });
      const card = await call("POST", "/api/counter/cards", { residentId: r.body.id, authPin: "1111", signPin: "CUT001" });
      const [oldAuth, oldSign] = card.body.certificates;
      assert.equal(oldAuth.expires, "2031-01-15");
      await at("2030-11-01T03:00:00Z"); // inside the renewal window
      // What a process killed midway leaves (the steps of loadCertificates, stopped): an application
      // in progress; for auth a new key, its certificate recorded but not written to the chip; for
      // sign a new key only.
      const created = new Date().toISOString();
      await t.context.store.db
        .insertInto("applications")
        .values({ id: "A-CUT0000001", kind: "renewal", resident_id: r.body.id, card_id: card.body.id, office_id: "machida-mnc", state: "in-progress", detail: "{}", fee_yen: 0, created_by: "staff:tanaka", created_at: "2030-11-01T02:59:00.000Z", updated_at: created })
        .execute();
      const newAuth = await t.context.cards.withCounterSession(card.body.id, async (session) => {
        const key = await session.generateKeyPair("auth");
        await session.generateKeyPair("sign");
        return t.context.ca.issue({ type: "auth", residentId: r.body.id, subjectPublicKey: key, cardId: card.body.id, renewal: true });
      });
      const retried = await call("POST", `/api/counter/cards/${card.body.id}/renewal`, { identity: ID, types: ["auth"] });
      // The renewal itself is now done: the recorded certificate is on the chip.
      assert.equal(retried.body.error?.reason, "outside-renewal-window", JSON.stringify(retried.body));
      await t.context.cards.withReader(card.body.id, async (reader) => {
        assert.equal(Buffer.from(await new JpkiClient(reader).readCertificate("auth")).toString("hex"), Buffer.from(newAuth.der).toString("hex"));
      });
      const status = async (type: "auth" | "sign", serial: string) => {
        const c = await t.context.ca.certificate(type, serial);
        return `${c.status}:${c.revocationReason}`;
      };
      assert.equal(await status("auth", oldAuth.serialHex), "revoked:superseded", "its key is gone from the chip");
      assert.equal(await status("auth", newAuth.serialHex), "valid:null");
      assert.equal(await status("sign", oldSign.serialHex), "revoked:superseded", "its key is gone from the chip");
      const application = await t.context.store.db.selectFrom("applications").select(["state", "detail"]).where("id", "=", "A-CUT0000001").executeTakeFirstOrThrow();
      assert.equal(application.state, "failed");
      assert.deepEqual(JSON.parse(application.detail).recovery.written, [{ type: "auth", serialHex: newAuth.serialHex }]);
      // The signing certificate is issued anew, free.
      const sign = await call("POST", `/api/counter/cards/${card.body.id}/new-issuance`, { identity: ID, types: ["sign"], signPin: "CUT002" });
      assert.equal(sign.status, 200, JSON.stringify(sign.body));
      await at("2026-11-25T03:00:00Z"); // the day the tests below start from
    });

    test("a renewal that fails after making a key on the chip puts card and store in step at once", async () => {
      await at("2026-11-25T03:00:00Z");
      const r = await call("POST", "/api/counter/residents", { name: "町田 十二郎", birth: "1961-02-15", gender: "1", address: "東京都町田市森野１", municipality: "132098" });
      const card = await call("POST", "/api/counter/cards", { residentId: r.body.id, authPin: "1111", signPin: "CUT003" });
      const oldAuth = card.body.certificates[0];
      await at("2030-12-01T03:00:00Z");
      const ca = t.context.ca;
      const failed = await whileIssuanceFails(ca, () => call("POST", `/api/counter/cards/${card.body.id}/renewal`, { identity: ID, types: ["auth"] }));
      assert.equal(failed.status, 500);
      assert.equal((await ca.certificate("auth", oldAuth.serialHex)).revocationReason, "superseded", "its key was replaced on the chip");
      // The failed renewal is closed once, as failed with what the recovery did (not also as interrupted).
      const renewal = await t.context.store.db.selectFrom("applications").select(["id", "state", "detail"]).where("card_id", "=", card.body.id).where("kind", "=", "renewal").executeTakeFirstOrThrow();
      assert.equal(renewal.state, "failed");
      const detail = JSON.parse(renewal.detail);
      assert.equal(detail.error, "the store went away");
      const sign = card.body.certificates[1];
      assert.deepEqual(detail.recovery, { applications: [], written: [{ type: "sign", serialHex: sign.serialHex }], revoked: [{ type: "auth", serialHex: oldAuth.serialHex, reason: "superseded" }] });
      const trail = await t.context.store.db.selectFrom("audit_log").select("action").where("subject", "=", renewal.id).orderBy("seq").execute();
      assert.deepEqual(trail.map((a) => a.action), ["application.renewal.start", "application.renewal.failed"]);
      const again = await call("POST", `/api/counter/cards/${card.body.id}/new-issuance`, { identity: ID, types: ["auth"], authPin: "2222" });
      assert.equal(again.status, 200, JSON.stringify(again.body));
      await at("2026-11-25T03:00:00Z");
    });

    test("a card production cut off midway is spoiled once its claim runs out, and the resident gets a new card", async () => {
      await at("2026-11-25T03:00:00Z");
      const r = await call("POST", "/api/counter/residents", { name: "町田 十三郎", birth: "1977-03-03", gender: "1", address: "東京都町田市森野１", municipality: "132098" });
      // What a process killed during production leaves: the card producing and claimed, its
      // application in progress naming it, its authentication certificate recorded.
      const claimedUntil = new Date(Date.parse("2026-11-25T03:00:00Z") + 120_000).toISOString();
      await t.context.store.db
        .insertInto("cards")
        .values({ id: "C-CUT0000001", resident_id: r.body.id, status: "producing", produced_date: "2026-11-25", expires: "2036-03-03", handed_over_date: null, created_at: "2026-11-25T03:00:00.000Z", updated_at: "2026-11-25T03:00:00.000Z", busy_until: claimedUntil, busy_with: "production" })
        .execute();
      await t.context.store.db
        .insertInto("applications")
        .values({ id: "A-CUT0000002", kind: "card-issuance", resident_id: r.body.id, card_id: "C-CUT0000001", office_id: "machida-mnc", state: "in-progress", detail: "{}", fee_yen: 0, created_by: "staff:tanaka", created_at: "2026-11-25T03:00:00.000Z", updated_at: "2026-11-25T03:00:00.000Z" })
        .execute();
      const orphan = await t.context.ca.issue({ type: "auth", residentId: r.body.id, subjectPublicKey: generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey, cardId: "C-CUT0000001" });
      // While the claim lasts it may still be in production (on another node, say): the resident holds it.
      const early = await call("POST", "/api/counter/cards", { residentId: r.body.id, authPin: "1111", signPin: "CUT004" });
      assert.equal(early.body.error?.reason, "card-held", JSON.stringify(early.body));
      await at("2026-11-25T03:02:01Z");
      const card = await call("POST", "/api/counter/cards", { residentId: r.body.id, authPin: "1111", signPin: "CUT004" });
      assert.equal(card.status, 201, JSON.stringify(card.body));
      assert.equal((await t.context.cards.get("C-CUT0000001")).status, "spoiled");
      assert.equal((await t.context.ca.certificate("auth", orphan.serialHex)).revocationReason, "unspecified");
      const application = await t.context.store.db.selectFrom("applications").select("state").where("id", "=", "A-CUT0000002").executeTakeFirstOrThrow();
      assert.equal(application.state, "failed");
      await at("2026-11-25T03:00:00Z");
    });

    test("a reissue cut off midway does not block the next reissue once its claim runs out", async () => {
      await at("2026-11-25T03:00:00Z");
      const r = await call("POST", "/api/counter/residents", { name: "町田 十四郎", birth: "1977-04-04", gender: "1", address: "東京都町田市森野１", municipality: "132098" });
      const old = await call("POST", "/api/counter/cards", { residentId: r.body.id, authPin: "1111", signPin: "CUT005" });
      // What a process killed while making the replacement leaves: a card still producing, its claim run out.
      await t.context.store.db
        .insertInto("cards")
        .values({ id: "C-CUT0000003", resident_id: r.body.id, status: "producing", produced_date: "2026-11-25", expires: "2036-04-04", handed_over_date: null, created_at: "2026-11-25T03:00:00.000Z", updated_at: "2026-11-25T03:00:00.000Z", busy_until: "2026-11-25T03:02:00.000Z", busy_with: "production", replaces_card_id: old.body.id })
        .execute();
      await at("2026-11-25T03:02:01Z");
      const reissued = await call("POST", `/api/counter/cards/${old.body.id}/reissue`, { identity: ID, reason: "damage", causedByHolder: false, authPin: "1111", signPin: "CUT006" });
      assert.equal(reissued.status, 201, JSON.stringify(reissued.body));
      assert.equal((await t.context.cards.get("C-CUT0000003")).status, "spoiled");
      await at("2026-11-25T03:00:00Z");
    });

    test("two clerks renewing the same card at once: one wins, the other gets a conflict", async () => {
      const r = await call("POST", "/api/counter/residents", { name: "町田 四郎", birth: "1960-12-01", gender: "1", address: "東京都町田市森野１", municipality: "132098" });
      const card = await call("POST", "/api/counter/cards", { residentId: r.body.id, authPin: "1111", signPin: "RACE01" });
      await at("2030-10-01T03:00:00Z"); // the certificates end 2030-12-01; the window opened 2030-09-01
      const [a, b] = await Promise.all([
        call("POST", `/api/counter/cards/${card.body.id}/renewal`, { identity: ID }),
        call("POST", `/api/counter/cards/${card.body.id}/renewal`, { identity: ID }),
      ]);
      assert.deepEqual([a.status, b.status].sort(), [200, 409], JSON.stringify([a.body, b.body]));
      assert.equal([a, b].find((x) => x.status === 409)!.body.error.reason, "card-busy");
    });

    test("a card produced without PINs: the resident sets them at handover (交付日), not before", async () => {
      await at("2026-11-25T03:00:00Z");
      const r = await call("POST", "/api/counter/residents", { name: "町田 六郎", birth: "1982-02-02", gender: "1", address: "東京都町田市森野１", municipality: "132098" });
      const card = await call("POST", "/api/counter/cards", { residentId: r.body.id, deferPins: true });
      assert.equal(card.status, 201, JSON.stringify(card.body));
      assert.equal(card.body.pinsPending, true);
      assert.deepEqual(card.body.certificates.map((c: any) => c.type), ["auth", "sign"]);
      await t.context.cards.withReader(card.body.id, async (reader) => {
        assert.equal(await new JpkiClient(reader).triesLeft("auth"), 0, "unset PINs behave as blocked");
      });
      const noPins = await call("POST", `/api/counter/cards/${card.body.id}/handover`, { identity: ID });
      assert.equal(noPins.body.error.field, "auth-pin");
      await at("2026-12-03T02:00:00Z");
      const handed = await call("POST", `/api/counter/cards/${card.body.id}/handover`, { identity: ID, authPin: "5555", signPin: "HAND01" });
      assert.equal(handed.status, 200, JSON.stringify(handed.body));
      await t.context.cards.withReader(card.body.id, async (reader) => {
        const client = new JpkiClient(reader);
        assert.deepEqual(await client.verifyPin("auth", "5555"), { ok: true });
        assert.deepEqual(await client.verifyPin("sign", "HAND01"), { ok: true });
      });
      const shown = await call("GET", `/api/counter/residents/${r.body.id}`);
      assert.equal(shown.body.cards[0].pinsPending, false);
      assert.equal(shown.body.cards[0].handedOverDate, "2026-12-03");
    });

    test("the authentication certificate may be declined at production: refusals name the field; pin-init and renewal refuse; new issuance adds it later", async () => {
      await at("2026-11-25T03:00:00Z");
      const r = await call("POST", "/api/counter/residents", { name: "町田 二十郎", birth: "1961-01-15", gender: "1", address: "東京都町田市森野１", municipality: "132098" });
      for (const [body, field] of [
        [{ signPin: "ABC123" }, "auth-pin"], // a blank authentication PIN is not a silent decline
        [{ noAuth: true, authPin: "1234", signPin: "ABC123", kenhojoPin: "1234" }, "auth-pin"],
        [{ noAuth: true, signPin: "ABC123" }, "kenhojo-pin"],
      ] as const) {
        const refused = await call("POST", "/api/counter/cards", { residentId: r.body.id, ...body });
        assert.equal(refused.status, 400, JSON.stringify(refused.body));
        assert.equal(refused.body.error.field, field, JSON.stringify(body));
      }
      const card = await call("POST", "/api/counter/cards", { residentId: r.body.id, noAuth: true, signPin: "NOAUTH1", kenhojoPin: "2468" });
      assert.equal(card.status, 201, JSON.stringify(card.body));
      assert.equal(card.body.authSkipped, "declined");
      assert.deepEqual(card.body.certificates.map((c: any) => [c.type, c.expires]), [["sign", "2031-01-15"]]);
      const cardId = card.body.id;

      const pinInit = await call("POST", `/api/counter/cards/${cardId}/pin-init`, { identity: ID, type: "auth", newPin: "1111" });
      assert.equal(pinInit.status, 403, JSON.stringify(pinInit.body));
      assert.equal(pinInit.body.error.reason, "no-certificate");
      await at("2030-11-01T03:00:00Z"); // the signing certificate's renewal window (from 2030-10-15) is open
      const both = await call("POST", `/api/counter/cards/${cardId}/renewal`, { identity: ID });
      assert.equal(both.body.error?.reason, "nothing-to-renew", JSON.stringify(both.body));
      assert.match(both.body.error.message, /利用者証明用電子証明書/);
      // With no authentication certificate on the card, a renewed signing certificate runs to the 6th
      // birthday after renewal (2036-01-15, also the card's expiry) instead of ending with an
      // authentication certificate (2031-01-15: see the card below, which has one).
      const renewed = await call("POST", `/api/counter/cards/${cardId}/renewal`, { identity: ID, types: ["sign"] });
      assert.equal(renewed.status, 200, JSON.stringify(renewed.body));
      assert.deepEqual(renewed.body.issued.map((c: any) => [c.type, c.expires]), [["sign", "2036-01-15"]]);
      await at("2026-11-25T03:00:00Z");
      const other = await call("POST", "/api/counter/residents", { name: "町田 二十一郎", birth: "1961-01-15", gender: "1", address: "東京都町田市森野１", municipality: "132098" });
      const withAuth = await call("POST", "/api/counter/cards", { residentId: other.body.id, authPin: "1111", signPin: "WITHAU1" });
      await at("2030-11-01T03:00:00Z");
      const capped = await call("POST", `/api/counter/cards/${withAuth.body.id}/renewal`, { identity: ID, types: ["sign"] });
      assert.deepEqual(capped.body.issued.map((c: any) => [c.type, c.expires]), [["sign", "2031-01-15"]], JSON.stringify(capped.body));

      // 新規発行 of the declined certificate later, with its PIN.
      const added = await call("POST", `/api/counter/cards/${cardId}/new-issuance`, { identity: ID, types: ["auth"], authPin: "1357" });
      assert.equal(added.status, 200, JSON.stringify(added.body));
      assert.deepEqual(added.body.issued.map((c: any) => [c.type, c.expires]), [["auth", "2035-01-15"]], "new issuance: the 5th birthday");
      await t.context.cards.withReader(cardId, async (reader) => {
        const client = new JpkiClient(reader);
        assert.deepEqual(await client.verifyPin("auth", "1357"), { ok: true });
        assert.equal((await client.readKenhojo("2468")).name, "町田　二十郎", "the 券面事項入力補助 PIN is the one given at production");
      });
      await at("2026-11-25T03:00:00Z");
    });

    test("reissue and card found may decline the authentication certificate; a card with none is lost and found", async () => {
      await at("2026-11-25T03:00:00Z");
      const r = await call("POST", "/api/counter/residents", { name: "町田 二十二郎", birth: "1975-05-05", gender: "1", address: "東京都町田市森野１", municipality: "132098" });
      const card = await call("POST", "/api/counter/cards", { residentId: r.body.id, authPin: "1111", signPin: "FOUND2" });
      await call("POST", `/api/counter/cards/${card.body.id}/loss-report`);
      const statuses = async () => (await t.context.ca.certificatesOf(r.body.id)).map((c) => `${c.type}:${c.status}`).sort();
      const withPin = await call("POST", `/api/counter/cards/${card.body.id}/found`, { identity: ID, authPin: "2222", signPin: "FOUND3", noAuth: true });
      assert.equal(withPin.status, 400, JSON.stringify(withPin.body));
      assert.equal(withPin.body.error.field, "auth-pin");
      assert.deepEqual(await statuses(), ["auth:hold", "sign:hold"], "a refusal leaves the card as it was");
      const noAuthPin = await call("POST", `/api/counter/cards/${card.body.id}/found`, { identity: ID, signPin: "FOUND3" });
      assert.equal(noAuthPin.body.error?.field, "auth-pin", "no PIN is not a decline");
      const found = await call("POST", `/api/counter/cards/${card.body.id}/found`, { identity: ID, signPin: "FOUND3", noAuth: true });
      assert.equal(found.status, 200, JSON.stringify(found.body));
      assert.deepEqual(found.body.revoked.map((x: any) => [x.type, x.reason]), [["auth", "keyCompromise"], ["sign", "keyCompromise"]]);
      assert.deepEqual(found.body.issued.map((x: any) => [x.type, x.expires]), [["sign", "2031-05-05"]]);

      // A reissue declining both: a new card with no certificates, charged for the card only.
      const refused = await call("POST", `/api/counter/cards/${card.body.id}/reissue`, { identity: ID, reason: "damage", causedByHolder: true, noAuth: true, noSign: true });
      assert.equal(refused.body.error?.field, "kenhojo-pin", JSON.stringify(refused.body));
      assert.equal((await t.context.cards.get(card.body.id)).status, "active", "refused before anything was done");
      const reissued = await call("POST", `/api/counter/cards/${card.body.id}/reissue`, { identity: ID, reason: "damage", causedByHolder: true, noAuth: true, noSign: true, kenhojoPin: "3579" });
      assert.equal(reissued.status, 201, JSON.stringify(reissued.body));
      assert.deepEqual(reissued.body.issued, []);
      assert.deepEqual([reissued.body.fee.cardYen, reissued.body.fee.certificatesYen], [800, 0]);
      const bare = reissued.body.newCardId;
      await t.context.cards.withReader(bare, async (reader) => {
        assert.equal((await new JpkiClient(reader).readKenhojo("3579")).name, "町田　二十二郎");
      });
      // Lost and found with nothing to hold: the suspension is lifted, nothing issued.
      const lost = await call("POST", `/api/counter/cards/${bare}/loss-report`);
      assert.deepEqual(lost.body.revoked, []);
      const back = await call("POST", `/api/counter/cards/${bare}/found`, { identity: ID });
      assert.equal(back.status, 200, JSON.stringify(back.body));
      assert.deepEqual(back.body.issued, []);
      assert.equal((await t.context.cards.get(bare)).status, "active");
    });

    test("a card produced without PINs and without the authentication certificate: the resident sets the others at handover", async () => {
      await at("2026-11-25T03:00:00Z");
      const r = await call("POST", "/api/counter/residents", { name: "町田 二十三郎", birth: "1982-02-02", gender: "1", address: "東京都町田市森野１", municipality: "132098" });
      const withPin = await call("POST", "/api/counter/cards", { residentId: r.body.id, deferPins: true, noAuth: true, kenhojoPin: "1234" });
      assert.equal(withPin.body.error?.field, "auth-pin", "no PIN with deferPins, as before");
      const card = await call("POST", "/api/counter/cards", { residentId: r.body.id, deferPins: true, noAuth: true });
      assert.equal(card.status, 201, JSON.stringify(card.body));
      assert.equal(card.body.pinsPending, true);
      assert.deepEqual(card.body.certificates.map((c: any) => c.type), ["sign"]);
      for (const [body, field] of [
        [{ signPin: "HAND02" }, "kenhojo-pin"],
        [{ authPin: "5555", signPin: "HAND02", kenhojoPin: "5555" }, "auth-pin"],
        [{ kenhojoPin: "5555" }, "sign-pin"],
      ] as const) {
        const refused = await call("POST", `/api/counter/cards/${card.body.id}/handover`, { identity: ID, ...body });
        assert.equal(refused.status, 400, JSON.stringify(refused.body));
        assert.equal(refused.body.error.field, field, JSON.stringify(body));
      }
      const handed = await call("POST", `/api/counter/cards/${card.body.id}/handover`, { identity: ID, signPin: "HAND02", kenhojoPin: "5555" });
      assert.equal(handed.status, 200, JSON.stringify(handed.body));
      await t.context.cards.withReader(card.body.id, async (reader) => {
        const client = new JpkiClient(reader);
        assert.deepEqual(await client.verifyPin("sign", "HAND02"), { ok: true });
        assert.equal((await client.readKenhojo("5555")).name, "町田　二十三郎");
        assert.equal(await client.triesLeft("auth"), 0, "no authentication PIN was set");
      });

      // And the other way round: a signing password for a card made without the signing certificate is refused, not dropped.
      const r2 = await call("POST", "/api/counter/residents", { name: "町田 二十四郎", birth: "1982-02-03", gender: "1", address: "東京都町田市森野２", municipality: "132098" });
      const authOnly = await call("POST", "/api/counter/cards", { residentId: r2.body.id, deferPins: true, noSign: true });
      assert.deepEqual(authOnly.body.certificates.map((c: any) => c.type), ["auth"]);
      const signPin = await call("POST", `/api/counter/cards/${authOnly.body.id}/handover`, { identity: ID, authPin: "6666", signPin: "HAND03" });
      assert.equal(signPin.status, 400, JSON.stringify(signPin.body));
      assert.equal(signPin.body.error.field, "sign-pin");
      assert.match(signPin.body.error.message, /署名用電子証明書がない/);
      assert.equal((await call("POST", `/api/counter/cards/${authOnly.body.id}/handover`, { identity: ID, authPin: "6666" })).status, 200);
    });

    test("a foreign resident's new period of stay caps what is issued next", async () => {
      await at("2026-11-25T03:00:00Z");
      const r = await call("POST", "/api/counter/residents", { name: "SMITH JANE", birth: "1985-04-10", gender: "2", address: "東京都町田市森野１", municipality: "132098", nationality: "US", residenceEnd: "2027-06-30" });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const key = (await import("../helpers/keys.ts")).testPublicKeys(1)[0]!;
      assert.equal((await t.context.ca.issue({ type: "auth", residentId: r.body.id, subjectPublicKey: key })).expires, "2027-06-30");
      const changed = await call("POST", `/api/counter/residents/${r.body.id}/residence-period`, { residenceEnd: "2029-06-30" });
      assert.equal(changed.status, 200, JSON.stringify(changed.body));
      assert.equal((await t.context.ca.issue({ type: "auth", residentId: r.body.id, subjectPublicKey: key })).expires, "2029-06-30");
      const permanent = await call("POST", `/api/counter/residents/${r.body.id}/residence-period`, { residenceEnd: null });
      assert.equal(permanent.body.residenceEnd, null);
      assert.equal((await t.context.ca.issue({ type: "auth", residentId: r.body.id, subjectPublicKey: key })).expires, "2031-04-10");
      const japanese = await call("POST", "/api/counter/residents", { name: "町田 五郎", birth: "1985-04-10", gender: "1", address: "東京都町田市森野１", municipality: "132098" });
      const refused = await call("POST", `/api/counter/residents/${japanese.body.id}/residence-period`, { residenceEnd: "2029-06-30" });
      assert.equal(refused.body.error.field, "residence-end");
    });

    test("roles: a clerk cannot check the audit trail or manage staff; a supervisor and an administrator can", async () => {
      const clerk = await call("GET", "/api/counter/audit/verify");
      assert.equal(clerk.status, 403);
      assert.equal(clerk.body.error.reason, "forbidden-role");
      await t.context.staff.add({ officeId: "machida-mnc", login: "admin", name: "管理 者", role: "administrator", password: "administrator password" });
      const res = await app.inject({ method: "POST", url: "/api/counter/login", payload: { login: "admin", password: "administrator password" } });
      cookie = res.headers["set-cookie"]!.toString().split(";")[0]!;
      csrf = res.json().csrfToken;
      const added = await call("POST", "/api/counter/staff", { login: "sato", name: "佐藤 次郎", officeId: "machida-tadao", role: "supervisor", password: "supervisor password" });
      assert.equal(added.status, 201, JSON.stringify(added.body));
      assert.ok((await call("GET", "/api/counter/staff")).body.staff.some((m: any) => m.login === "sato"));
    });

    test("the audit trail verifies; the OpenAPI document lists the procedures", async () => {
      const audit = await call("GET", "/api/counter/audit/verify");
      assert.equal(audit.body.ok, true);
      assert.ok(audit.body.records > 20);
      const doc = (await app.inject({ method: "GET", url: "/api/openapi.json" })).json();
      assert.equal(doc.openapi, "3.1.0");
      assert.ok(doc.paths["/api/counter/cards/{id}/renewal"].post);
      for (const path of ["/api/counter/cards", "/api/counter/cards/{id}/reissue", "/api/counter/cards/{id}/found"]) {
        const post = doc.paths[path].post;
        assert.deepEqual(post.requestBody.content["application/json"].schema.properties.noAuth, { type: "boolean" }, path);
        assert.match(post.summary, /noAuth/, path);
      }
    });
  });
}
