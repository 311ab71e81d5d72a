// The server in-process (inject) and over a real socket.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { connect, type Socket } from "node:net";
import { buildApp } from "../../src/http/app.ts";
import { startServer } from "../../src/http/server.ts";
import { openTestContext, type TestContext } from "../helpers/context.ts";

describe("HTTP server", () => {
  let t: TestContext;
  before(async () => {
    t = await openTestContext("sqlite");
  });
  after(() => t.cleanup());

  test("serves both roots as DER with application/pkix-cert", async () => {
    const app = await buildApp(t.context);
    for (const type of ["sign", "auth"] as const) {
      const res = await app.inject({ method: "GET", url: `/ca/${type}.crt` });
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers["content-type"], "application/pkix-cert");
      assert.match(String(res.headers["cache-control"]), /max-age=/);
      const x = new X509Certificate(res.rawPayload);
      assert.match(x.subject, type === "sign" ? /digital signature/ : /user authentication/);
    }
    await app.close();
  });

  test("the start page is Japanese first, with English, and links the CA certificates", async () => {
    const app = await buildApp(t.context);
    const res = await app.inject({ method: "GET", url: "/" });
    assert.equal(res.statusCode, 200);
    assert.match(res.body, /<html lang="ja">/);
    assert.match(res.body, /署名用認証局/);
    assert.match(res.body, /href="\/ca\/auth\.crt"/);
    const missing = await app.inject({ method: "GET", url: "/nothing-here" });
    assert.equal(missing.statusCode, 404);
    await app.close();
  });

  test("the JSON APIs refuse bodies they would misread, and URLs the router cannot take apart, in the API's error form", async () => {
    const app = await buildApp(t.context);
    try {
      const post = (headers: Record<string, string>) =>
        app.inject({ method: "POST", url: "/api/counter/login", headers, payload: JSON.stringify({ login: "x", password: "y" }) });
      for (const [headers, message] of [
        [{ "content-type": "application/x-www-form-urlencoded" }, /send the body as JSON \(Content-Type: application\/json\), not "application\/x-www-form-urlencoded"/],
        [{ "content-type": "application/json; charset=utf-16" }, /JSON in UTF-8 only, not charset=utf-16/],
        [{ "content-type": "application/json", "content-encoding": "gzip" }, /send the body uncompressed, not Content-Encoding: gzip/],
      ] as const) {
        const res = await post(headers);
        assert.equal(res.statusCode, 415, JSON.stringify(headers));
        assert.equal(res.json().error.code, "unsupported-media-type");
        assert.match(res.json().error.message, message);
      }
      for (const payload of ['{"login":', '{"login":"x","password":"y","__proto__":{"admin":true}}']) {
        const res = await app.inject({ method: "POST", url: "/api/counter/login", headers: { "content-type": "application/json" }, payload });
        assert.equal(res.statusCode, 400, payload);
        assert.match(res.json().error.message, /the body is not valid JSON, or holds a __proto__ or constructor\.prototype key/);
      }
      const utf8 = await post({ "content-type": "application/json; charset=UTF-8" });
      assert.equal(utf8.json().error.reason, "bad-credentials", "JSON in UTF-8 is read");

      const badUrl = await app.inject({ method: "GET", url: "/api/counter/residents/%ZZ" });
      assert.equal(badUrl.statusCode, 400);
      assert.deepEqual(badUrl.json(), { error: { code: "bad-url", message: "URL を解釈できません / the URL is not validly percent-encoded UTF-8" } });
      const long = await app.inject({ method: "GET", url: `/api/counter/residents/R-${"0".repeat(200)}` });
      assert.equal(long.statusCode, 414);
      assert.equal(long.json().error.code, "uri-too-long");
    } finally {
      await app.close();
    }
  });

  test("a browser asking for a page is refused with a page, in its language; API clients keep the JSON form", async () => {
    const app = await buildApp(t.context);
    try {
      const html = { accept: "text/html,application/xhtml+xml,*/*;q=0.8" };
      const form = { ...html, "content-type": "application/x-www-form-urlencoded" };
      const page = (res: { statusCode: number; headers: Record<string, unknown>; body: string }, status: number, message: RegExp) => {
        assert.equal(res.statusCode, status, res.body.slice(0, 300));
        assert.match(String(res.headers["content-type"]), /^text\/html/);
        assert.equal(res.headers["x-frame-options"], "DENY");
        assert.match(res.body, /手続きできませんでした|This could not be done/);
        assert.match(res.body, message);
        return res.body;
      };
      page(await app.inject({ method: "GET", url: "/kiosk/nothing-here", headers: html }), 404, /そのような URL はありません/);
      const english = page(await app.inject({ method: "GET", url: "/nothing", headers: { ...html, cookie: "openjpki_lang=en" } }), 404, /no such route/);
      assert.match(english, /<html lang="en">/);
      // The language switch on a refusal links to our own page, never to another host.
      const hostile = page(await app.inject({ method: "GET", url: "//evil.example/x", headers: html }), 404, /そのような URL はありません/);
      assert.match(hostile, /class="lang-switch" href="\/\?lang=en"/);
      assert.doesNotMatch(hostile, /href="\/\/evil/);
      page(await app.inject({ method: "POST", url: "/resident/login", headers: form, payload: `x=${"a".repeat(9000)}` }), 413, /送信された内容が大きすぎます/);
      page(
        await app.inject({ method: "POST", url: "/resident/login", headers: { ...html, "content-type": "multipart/form-data; boundary=b" }, payload: "--b--" }),
        415,
        /この形式の本文は受け付けません/,
      );
      page(await app.inject({ method: "POST", url: "/resident/login", headers: { ...form, "content-type": "application/x-www-form-urlencoded; charset=Shift_JIS" }, payload: "cardId=x" }), 415, /フォームは UTF-8 で送ってください/);
      page(await app.inject({ method: "GET", url: "/kiosk?lang=en&lang=ja", headers: html }), 400, /lang: 同じパラメータが複数あります/);
      page(await app.inject({ method: "GET", url: "/kiosk/%ZZ", headers: html }), 400, /URL を解釈できません/);

      // Without text/html, and under /api/ whatever the client accepts: the JSON form.
      const plain = await app.inject({ method: "GET", url: "/nothing" });
      assert.equal(plain.json().error.code, "not-found");
      const api = await app.inject({ method: "GET", url: "/api/nothing", headers: html });
      assert.equal(api.statusCode, 404);
      assert.equal(api.json().error.code, "not-found");
      const big = await app.inject({ method: "POST", url: "/resident/login", headers: { "content-type": "application/x-www-form-urlencoded" }, payload: `x=${"a".repeat(9000)}` });
      assert.equal(big.statusCode, 413);
      assert.equal(big.json().error.code, "payload-too-large");
      // A form in UTF-8, declared or not, is still read.
      const utf8 = await app.inject({ method: "POST", url: "/resident/login", headers: { ...form, "content-type": "application/x-www-form-urlencoded; charset=UTF-8" }, payload: "cardId=x" });
      assert.notEqual(utf8.statusCode, 415);
    } finally {
      await app.close();
    }
  });

  test("listens on a real port and answers over TCP", async () => {
    const server = await startServer(t.context, { host: "127.0.0.1", port: 0, handleSignals: false });
    try {
      const res = await fetch(`${server.url}/healthz`);
      assert.deepEqual(await res.json(), { status: "ok", store: "sqlite" });
    } finally {
      await server.close();
    }
  });

  test("a client that stalls its headers or trickles its body is answered 408 and cut off; others are served meanwhile", async () => {
    const own = await openTestContext("sqlite"); // closing a server closes its context: the one above is gone
    const server = await startServer(own.context, { host: "127.0.0.1", port: 0, handleSignals: false, timeouts: { headersMs: 300, requestMs: 800, checkIntervalMs: 100 } });
    const { port } = new URL(server.url);
    /** Everything the server sends until it closes the connection (or "still open" after 10 s). */
    const untilClosed = (socket: Socket) =>
      new Promise<string>((resolve) => {
        let received = "";
        socket.on("data", (chunk) => (received += chunk));
        socket.on("error", () => {});
        socket.on("close", () => resolve(received));
        setTimeout(() => resolve(`still open: ${received}`), 10_000).unref();
      });
    const sockets: Socket[] = [];
    try {
      const stalled = connect(Number(port), "127.0.0.1", () => stalled.write("GET /healthz HTTP/1.1\r\nHost: x\r\n"));
      const trickling = connect(Number(port), "127.0.0.1", () =>
        trickling.write("POST /ocsp/sign HTTP/1.1\r\nHost: x\r\nContent-Type: application/ocsp-request\r\nContent-Length: 100\r\n\r\n"),
      );
      sockets.push(stalled, trickling);
      const drip = setInterval(() => trickling.writable && trickling.write("0"), 100); // 10 bytes a second: never done in time
      const [stalledGot, tricklingGot] = await Promise.all([
        untilClosed(stalled),
        untilClosed(trickling),
        (async () => {
          const res = await fetch(`${server.url}/healthz`); // a well-behaved client, while the two hold their connections
          assert.equal(res.status, 200);
        })(),
      ]).finally(() => clearInterval(drip));
      assert.match(stalledGot, /^HTTP\/1\.1 408 /);
      assert.match(tricklingGot, /^HTTP\/1\.1 408 /);
    } finally {
      for (const socket of sockets) socket.destroy();
      await server.close();
      await own.cleanup();
    }
  });
});

describe("HTTP server behind a TLS proxy, as a production node (no --dev)", () => {
  let t: TestContext;
  before(async () => {
    t = await openTestContext("sqlite", { settings: { publicBaseUrl: "https://jpki.example" } });
  });
  after(() => t.cleanup());

  test("the developer console is off: no page, and none of its forms does anything", async () => {
    const app = await buildApp(t.context);
    try {
      const page = await app.inject({ method: "GET", url: "/dev" });
      assert.equal(page.statusCode, 404);
      assert.match(page.body, /開発者向けコンソールは無効です/);
      const resident = await t.context.registry.add({ name: "町田 花子", birth: "1990-01-02", gender: "2", address: "東京都町田市森野２－２－２２", municipality: "132098" });
      const card = await t.context.cards.issue({ residentId: resident.id, authPin: "1234", signPin: "ABC123" });
      const loss = await app.inject({ method: "POST", url: `/dev/cards/${card.id}/loss`, headers: { "content-type": "application/x-www-form-urlencoded" }, payload: "_csrf=x" });
      assert.equal(loss.statusCode, 404);
      const statuses = (await t.context.ca.certificatesOf(resident.id)).map((c) => c.status);
      assert.deepEqual(statuses, ["valid", "valid"], "nothing was put on hold");
      // No page links to it: not the menu, the start page or a refusal page.
      for (const url of ["/", "/info", "/resident", "/nothing-here"]) {
        const res = await app.inject({ method: "GET", url, headers: { accept: "text/html" } });
        assert.match(res.body, /<nav class="site-nav"/, url);
        assert.doesNotMatch(res.body, /href="\/dev/, url);
      }
    } finally {
      await app.close();
    }
    const dev = await openTestContext("sqlite", { settings: { devConsole: true } });
    const devApp = await buildApp(dev.context);
    try {
      const top = await devApp.inject({ method: "GET", url: "/" });
      assert.match(top.body, /<li><a href="\/dev">開発者向け<\/a><\/li>/, "the menu links to the console under serve --dev");
      assert.match(top.body, /開発者向けコンソールで試験用の住民とカードを作り/);
    } finally {
      await devApp.close();
      await dev.cleanup();
    }
  });

  test("every cookie is Secure when the public URL is https, and each is sent once", async () => {
    const app = await buildApp(t.context);
    try {
      const res = await app.inject({ method: "GET", url: "/resident?lang=en" });
      const cookies = ([] as string[]).concat(res.headers["set-cookie"] ?? []);
      assert.deepEqual(cookies.map((c) => c.split("=")[0]).sort(), ["openjpki_csrf", "openjpki_lang"]);
      for (const c of cookies) assert.match(c, /; Secure$/, c);
    } finally {
      await app.close();
    }
  });

  test("OpenID Connect names the public URL, whatever Host the request carries", async () => {
    const app = await buildApp(t.context);
    try {
      const res = await app.inject({ method: "GET", url: "/oidc/.well-known/openid-configuration", headers: { host: "evil.example", "x-forwarded-proto": "http" } });
      assert.equal(res.statusCode, 200);
      const doc = res.json() as Record<string, unknown>;
      for (const key of ["issuer", "authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint"]) {
        assert.match(String(doc[key]), /^https:\/\/jpki\.example\/oidc(\/|$)/, `${key}: ${String(doc[key])}`);
      }
    } finally {
      await app.close();
    }
  });
});
