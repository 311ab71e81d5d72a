// The server in-process (inject) and over a real socket.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
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

  test("listens on a real port and answers over TCP", async () => {
    const server = await startServer(t.context, { host: "127.0.0.1", port: 0, handleSignals: false });
    try {
      const res = await fetch(`${server.url}/healthz`);
      assert.deepEqual(await res.json(), { status: "ok", store: "sqlite" });
    } finally {
      await server.close();
    }
  });
});
