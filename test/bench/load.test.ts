/**
 * The load generator's counts: what it records is the measured window only, and `answered` is
 * every response the server gave, warm-up included — the figure a server's own CPU over the
 * whole load is divided by (OCSP-SIGN's CPU per answer). Against a real HTTP server that counts
 * the requests it answered.
 */
import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { generateLoad } from "../../bench/load.ts";

describe("bench load generator", () => {
  let served = 0;
  const server = createServer((request, response) => {
    request.resume();
    request.on("end", () => {
      served++;
      response.end("ok");
    });
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("counts the warm-up's answers in `answered`, not in `ok`", async () => {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;
    const result = await generateLoad({
      port,
      requests: [{ method: "GET", path: "/" }],
      // One connection: once the 100th is recorded nothing else is sent, so every answer past the warm-up is counted in ok.
      connections: 1,
      warmupSeconds: 0.3,
      maxSeconds: 30,
      maxRequests: 100,
      check: "http-ok",
    });
    assert.equal(result.failed, 0);
    assert.equal(result.ok, 100, "the measured window stops at maxRequests");
    assert.equal(result.recorded, 100);
    // Every answer the server gave reached the client and was counted once…
    assert.equal(result.answered, served);
    // …and those of the warm-up are in answered only.
    assert.ok(served > 100, `the warm-up was answered too (${served} served)`);
    assert.equal(result.answered - result.ok, served - 100);
    assert.equal(result.units, 100, "one unit per good answer");
    assert.equal(result.answeredUnits, served);
  });

  it("counts a batch issuance answer's certificates, and fails it when an item was not issued", async () => {
    const batch = createServer((request, response) => {
      request.resume();
      request.on("end", () => {
        response.setHeader("content-type", "application/json");
        response.end(JSON.stringify({ results: [{ status: 201 }, { status: 201 }, { status: 422, error: { code: "not-eligible", message: "under 15" } }] }));
      });
    });
    await new Promise<void>((resolve) => batch.listen(0, "127.0.0.1", resolve));
    try {
      const result = await generateLoad({
        port: (batch.address() as AddressInfo).port,
        requests: [{ method: "POST", path: "/api/ca/sign/certificates/batch", contentType: "application/json", bodyBase64: Buffer.from("{}").toString("base64") }],
        connections: 1,
        warmupSeconds: 0,
        maxSeconds: 30,
        maxRequests: 10,
        check: "issuance-batch",
      });
      assert.equal(result.recorded, 10);
      assert.equal(result.failed, 10, "an item not issued fails its call");
      assert.match(result.firstError ?? "", /batch item 422: not-eligible under 15/);
      assert.equal(result.units, 20, "the two certificates of each call still count");
      assert.equal(result.answeredUnits, 20);
    } finally {
      await new Promise<void>((resolve) => batch.close(() => resolve()));
    }
  });
});
