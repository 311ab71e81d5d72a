// The verifier an outside relying party runs (`openjpki verify`): given anchors, revocation over
// HTTP from the URLs the certificate names (OCSP first, then the CRL) or from a CRL at hand, with
// bounded fetches. A local HTTP server plays the CA's status endpoints.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { once } from "node:events";
import { relyingPartyVerifier, type TrustAnchors } from "../../src/services/relying-party.ts";
import { fixedClock } from "../../src/services/clock.ts";
import { ServiceError } from "../../src/services/errors.ts";
import { openTestContext, type TestContext } from "../helpers/context.ts";
import { testPublicKeys } from "../helpers/keys.ts";

const NOW = "2026-03-02T03:04:05Z";

describe("relyingPartyVerifier", () => {
  let t: TestContext;
  let server: Server;
  let base: string;
  let anchors: TrustAnchors;
  let certificateDer: Uint8Array;
  /** How the stand-in OCSP endpoint behaves. */
  let ocspMode: "answer" | "down" | "huge" = "answer";
  let crlUp = true;
  const requests: string[] = [];

  before(async () => {
    server = createServer((request, response) => {
      requests.push(`${request.method} ${request.url}`);
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", async () => {
        if (request.method === "POST" && request.url === "/ocsp/sign" && ocspMode !== "down") {
          const body = ocspMode === "huge" ? Buffer.alloc(65 * 1024) : Buffer.from((await t.context.ocsp.answer(Buffer.concat(chunks))).der);
          response.writeHead(200, { "content-type": "application/ocsp-response" }).end(body);
        } else if (request.method === "GET" && request.url === "/crl/sign/131016.crl" && crlUp) {
          response.writeHead(200, { "content-type": "application/pkix-crl" }).end(Buffer.from((await t.context.crls.current("sign", "131016")).der));
        } else {
          response.writeHead(503).end();
        }
      });
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    t = await openTestContext("sqlite", { now: NOW, settings: { publicBaseUrl: base } });
    const resident = await t.context.registry.add({ name: "検証 四郎", birth: "1975-07-07", gender: "1", address: "東京都千代田区霞が関２－１－２", municipality: "131016" });
    certificateDer = (await t.context.ca.issue({ type: "sign", residentId: resident.id, subjectPublicKey: testPublicKeys(1)[0]! })).der;
    anchors = { sign: [t.context.ca.authority("sign").certificateDer], auth: [t.context.ca.authority("auth").certificateDer] };
  });
  after(async () => {
    server.close();
    await t.cleanup();
  });

  const check = (revocation: Parameters<typeof relyingPartyVerifier>[1]) =>
    relyingPartyVerifier(anchors, revocation, fixedClock(NOW)).verifyCertificate(certificateDer, { expectedType: "sign" });

  test("asks the OCSP responder the certificate names, and its CRL when OCSP gives no answer", async () => {
    ocspMode = "answer";
    const viaOcsp = await check({});
    assert.ok(viaOcsp.valid, JSON.stringify(viaOcsp));
    assert.deepEqual([viaOcsp.revocation.method, viaOcsp.revocation.url], ["ocsp", `${base}/ocsp/sign`]);
    ocspMode = "down";
    const viaCrl = await check({});
    assert.ok(viaCrl.valid, JSON.stringify(viaCrl));
    assert.deepEqual([viaCrl.revocation.method, viaCrl.revocation.url], ["crl", `${base}/crl/sign/131016.crl`]);
  });

  test("a CRL at hand is used instead of fetching, under the name given", async () => {
    requests.length = 0;
    const der = (await t.context.crls.current("sign", "131016")).der;
    const result = await check({ crl: { der, url: "file:sign.crl" } });
    assert.ok(result.valid, JSON.stringify(result));
    assert.deepEqual([result.revocation.method, result.revocation.url], ["crl", "file:sign.crl"]);
    assert.deepEqual(requests, []);
  });

  test("an answer larger than 64 KiB is not taken: without another answer the result is revocation-unavailable", async () => {
    ocspMode = "huge";
    crlUp = false;
    try {
      const result = await check({});
      assert.equal(result.valid, false);
      assert.equal(!result.valid && result.code, "revocation-unavailable");
      assert.match(!result.valid ? result.message : "", /larger than 65536 bytes/);
    } finally {
      crlUp = true;
    }
  });

  test("trust anchors that are not CA certificates are invalid-input", () => {
    assert.throws(
      () => relyingPartyVerifier({ sign: [certificateDer], auth: [] }, {}, fixedClock(NOW)),
      (error: unknown) => error instanceof ServiceError && error.code === "invalid-input",
    );
  });
});
