// How `openjpki serve` stops: what only a process of its own shows.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { certIdFor, ocspIssuerFromCertificate } from "../../src/pki/ocsp.ts";
import { readAnswer, requestDer } from "../helpers/ocsp.ts";
import { spawnServe, type SpawnedServe } from "../helpers/serve.ts";

/** An OCSP POST whose body has not all arrived yet: a request in flight, as long as the test wants. */
async function requestInFlight(server: SpawnedServe): Promise<{ socket: Socket; finish(): void; answer: Promise<string> }> {
  const caDer = new Uint8Array(await (await fetch(`${server.base}/ca/sign.crt`)).arrayBuffer());
  const body = Buffer.from(requestDer(certIdFor(ocspIssuerFromCertificate(caDer), Buffer.from("7E".repeat(16), "hex"))));
  const { hostname, port } = new URL(server.base);
  const socket = connect(Number(port), hostname);
  await new Promise<void>((resolve) => socket.once("connect", resolve));
  const chunks: Buffer[] = [];
  socket.on("error", () => {});
  const answer = new Promise<string>((resolve) => socket.on("close", () => resolve(Buffer.concat(chunks).toString("latin1"))));
  // Until the server has read the headers, the connection counts as idle and stopping closes it;
  // its "100 Continue" says it has.
  const headersRead = new Promise<void>((resolve) => socket.on("data", (chunk: Buffer) => (chunks.push(chunk), resolve())));
  socket.write(`POST /ocsp/sign HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/ocsp-request\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\n\r\n`);
  await headersRead;
  assert.match(Buffer.concat(chunks).toString("latin1"), /^HTTP\/1\.1 100 Continue\r\n\r\n$/);
  chunks.length = 0;
  socket.write(body.subarray(0, 10));
  // write, not end: Node's HTTP server drops the request of a client that half-closes its connection.
  return { socket, finish: () => socket.write(body.subarray(10)), answer };
}

/** The exit code, or "still running" after the given time. */
const exitWithin = (server: SpawnedServe, ms: number) => Promise.race([server.exited, sleep(ms).then(() => "still running" as const)]);

describe("`openjpki serve` stopping", () => {
  let dataDir: string;
  before(() => (dataDir = mkdtempSync(join(tmpdir(), "openjpki-serve-stop-"))));
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  test("SIGTERM lets a request in flight finish and be answered, closes its keep-alive connection, then exits 0", { timeout: 90_000 }, async () => {
    const server = await spawnServe({ dataDir });
    try {
      const inFlight = await requestInFlight(server);
      server.process.kill("SIGTERM");
      assert.equal(await exitWithin(server, 500), "still running", "waits for the request in flight");
      inFlight.finish();
      const answer = await inFlight.answer;
      assert.match(answer, /^HTTP\/1\.1 200 /, server.stderr());
      const der = Buffer.from(answer.slice(answer.indexOf("\r\n\r\n") + 4), "latin1");
      assert.equal(readAnswer(new Uint8Array(der)).status, "unknown");
      assert.equal(await exitWithin(server, 10_000), 0, server.stderr());
      assert.match(server.stderr(), /停止しています/);
    } finally {
      await server.stop();
    }
  });

  test("the developer console is there only with --dev (npm start's), and says so at start", { timeout: 90_000 }, async () => {
    for (const dev of [false, true]) {
      const server = await spawnServe({ dataDir, ...(dev ? { args: ["--dev"] } : {}) });
      try {
        const page = await fetch(`${server.base}/dev`);
        assert.equal(page.status, dev ? 200 : 404, server.stderr());
        if (dev) assert.match(server.stdout(), /developer console: http:\/\/127\.0\.0\.1:\d+\/dev/);
        else assert.doesNotMatch(server.stdout(), /developer console/);
      } finally {
        await server.stop();
      }
    }
  });

  test("a second SIGTERM (or Ctrl+C) exits at once, without waiting for the request in flight", { timeout: 90_000 }, async () => {
    const server = await spawnServe({ dataDir });
    try {
      const inFlight = await requestInFlight(server);
      server.process.kill("SIGTERM");
      assert.equal(await exitWithin(server, 300), "still running");
      server.process.kill("SIGINT");
      assert.equal(await exitWithin(server, 5_000), 1, server.stderr());
      assert.match(server.stderr(), /強制終了します \/ exiting now: 二度目の停止要求/);
      inFlight.socket.destroy();
    } finally {
      if (server.exitCode() === undefined) server.process.kill("SIGKILL");
      await server.exited;
    }
  });
});
