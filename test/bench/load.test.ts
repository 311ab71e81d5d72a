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
      connections: 2,
      warmupSeconds: 0.3,
      maxSeconds: 0.3,
      maxRequests: 100,
      check: "http-ok",
    });
    assert.equal(result.failed, 0);
    assert.equal(result.ok, 100, "the measured window stops at maxRequests");
    assert.equal(result.recorded, 100);
    assert.ok(result.answered > result.ok, `the warm-up's answers are in answered (${result.answered}) but not in ok (${result.ok})`);
    // Every answer the server gave reached the client and was counted once.
    assert.equal(result.answered, served);
  });
});
