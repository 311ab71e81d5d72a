// Free text at the counter that no certificate carries — staff names and logins, a proxy's name
// and relationship, identity-check notes — is refused (400 naming the field) when it holds NUL,
// other controls, lone surrogates or bidi overrides, the way residents' names and addresses are;
// accepted text is stored trimmed and in NFC.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { buildApp } from "../../../src/http/app.ts";
import { openTestContext, type TestContext } from "../../helpers/context.ts";
import type { FastifyInstance } from "fastify";

const BAD: [string, string][] = [
  ["NUL", "佐藤\u0000一郎"],
  ["a lone high surrogate", "佐藤\ud800一郎"],
  ["a lone low surrogate", "佐藤\udfff一郎"],
  ["a right-to-left override", "\u202E佐藤一郎"],
  ["an ANSI escape after a newline", "\n\u001b[31m"],
];

describe("free-text inputs at the counter", () => {
  let t: TestContext;
  let app: FastifyInstance;
  let cookie = "";
  let csrf = "";
  let cardId = "";

  const call = async (method: "GET" | "POST", url: string, payload?: unknown) => {
    const res = await app.inject({ method, url, headers: { cookie, "x-csrf-token": csrf }, ...(payload === undefined ? {} : { payload: payload as object }) });
    return { status: res.statusCode, body: res.json() as any };
  };
  const refused = (res: { status: number; body: any }, field: string) => {
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.body.error.code, "invalid-input");
    assert.equal(res.body.error.field, field);
    assert.ok(res.body.error.message.startsWith(`${field}: `), res.body.error.message);
  };

  before(async () => {
    t = await openTestContext("sqlite", { now: "2026-11-25T01:00:00Z" });
    app = await buildApp(t.context);
    await t.context.staff.add({ officeId: "machida-mnc", login: "admin", name: "管理 太郎", role: "administrator", password: "correct horse battery" });
    const res = await app.inject({ method: "POST", url: "/api/counter/login", payload: { login: "admin", password: "correct horse battery" } });
    assert.equal(res.statusCode, 200, res.body);
    cookie = res.headers["set-cookie"]!.toString().split(";")[0]!;
    csrf = res.json().csrfToken;
    const resident = await t.context.registry.add({ name: "町田 花子", birth: "1985-06-20", gender: "2", address: "東京都町田市中町１－２０－２３", municipality: "132098" });
    cardId = (await t.context.cards.issue({ residentId: resident.id, authPin: "1234", signPin: "ABC123" })).id;
  });
  after(async () => {
    await app.close();
    await t.cleanup();
  });

  const staff = (name: string, login: string) => ({ login, name, officeId: "machida-mnc", role: "clerk", password: "correct horse battery" });

  for (const [what, name] of BAD) {
    test(`a staff name with ${what} is refused`, async () => refused(await call("POST", "/api/counter/staff", staff(name, "sato")), "name"));
  }

  test("none of the refused staff was stored; a good name is stored trimmed and in NFC", async () => {
    const added = await call("POST", "/api/counter/staff", staff(" 佐藤 か\u3099く ", "sato"));
    assert.equal(added.status, 201, JSON.stringify(added.body));
    assert.equal(added.body.name, "佐藤 がく");
    const list = await call("GET", "/api/counter/staff");
    assert.deepEqual(list.body.staff.map((s: { login: string; name: string }) => [s.login, s.name]), [["admin", "管理 太郎"], ["sato", "佐藤 がく"]]);
  });

  test("a login with NUL, a lone surrogate or a bidi override is refused before any lookup", async () => {
    for (const login of ["zz\u0000", "zz\ud800", "\u202Ezz"]) {
      const res = await app.inject({ method: "POST", url: "/api/counter/login", payload: { login, password: "y" } });
      refused({ status: res.statusCode, body: res.json() }, "login");
    }
    assert.equal((await t.context.store.db.selectFrom("login_throttle").selectAll().execute()).length, 0, "nothing recorded for them");
  });

  const proxyStart = (proxy: Record<string, unknown>, identity?: unknown) =>
    call("POST", "/api/counter/proxy-applications", { kind: "pin-init", cardId, pinType: "auth", proxy: { name: "町田 太郎", relationship: "夫", ...proxy }, ...(identity ? { identity } : {}) });

  for (const [what, name] of BAD) {
    test(`a proxy's name with ${what} is refused`, async () => refused(await proxyStart({ name }), "proxy.name"));
    test(`a proxy's relationship with ${what} is refused`, async () => refused(await proxyStart({ relationship: name }), "proxy.relationship"));
  }

  test("an identity note with a control character or bidi override is refused", async () => {
    refused(await proxyStart({}, { document: "driver-licence", note: "番号\u0000" }), "identity.note");
    refused(await proxyStart({}, { document: "driver-licence", note: "\u202Eabc" }), "identity.note");
  });

  test("nothing was started for the refused applications; a clean one is, its text trimmed and in NFC", async () => {
    assert.equal((await t.context.store.db.selectFrom("proxy_applications").selectAll().execute()).length, 0);
    const started = await proxyStart({ name: " 町田 た\u3099いすけ ", relationship: "夫 " }, { document: "driver-licence", note: " " });
    assert.equal(started.status, 201, JSON.stringify(started.body));
    const status = await call("GET", `/api/counter/proxy-applications/${started.body.applicationId}`);
    assert.deepEqual(status.body.proxy, { name: "町田 だいすけ", relationship: "夫", type: "appointed", letterOfAttorney: false });

    // The second visit checks the proxy's name and note the same way (before anything else).
    const complete = (proxyIdentity: Record<string, unknown>) =>
      call("POST", `/api/counter/proxy-applications/${started.body.applicationId}/complete`, { answerCode: "00000000", newPin: "5678", proxyIdentity: { document: "driver-licence", name: "町田 だいすけ", ...proxyIdentity } });
    refused(await complete({ name: "町田\u0000だいすけ" }), "proxyIdentity.name");
    refused(await complete({ name: "町田\ud800だいすけ" }), "proxyIdentity.name");
    refused(await complete({ note: "\u001b[31m" }), "proxyIdentity.note");
    const after = await call("GET", `/api/counter/proxy-applications/${started.body.applicationId}`);
    assert.equal(after.body.attempts, 0, "no answer-code attempt used");
  });
});
