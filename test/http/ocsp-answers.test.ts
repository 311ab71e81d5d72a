// The OCSP endpoints' HTTP side: the headers of cacheable (RFC 5019 GET) and fresh (nonce) answers,
// conditional GET, HEAD, refused requests, and what is counted for registered verifiers.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { AsnConvert } from "@peculiar/asn1-schema";
import { BasicOCSPResponse, OCSPResponse } from "@peculiar/asn1-ocsp";
import { buildApp } from "../../src/http/app.ts";
import { certIdFor, ocspIssuerFromCertificate } from "../../src/pki/ocsp.ts";
import { DER_NULL, contextTag, octetString, oid, seq, tlv, unsignedInteger } from "../../src/pki/der.ts";
import { openTestContext, type TestContext } from "../helpers/context.ts";
import { testPublicKeys } from "../helpers/keys.ts";

const NOW = "2026-03-02T03:04:05.000Z";

function request(serialHex: string, issuerCertificate: Uint8Array, nonce = false): Buffer {
  const certId = certIdFor(ocspIssuerFromCertificate(issuerCertificate), Buffer.from(serialHex, "hex"));
  const reqCert = seq(seq(oid("1.3.14.3.2.26"), DER_NULL), octetString(certId.issuerNameHash), octetString(certId.issuerKeyHash), unsignedInteger(certId.serial));
  const parts = [seq(seq(reqCert))];
  if (nonce) parts.push(tlv(contextTag(2, true), seq(seq(oid("1.3.6.1.5.5.7.48.1.2"), octetString(octetString(randomBytes(16)))))));
  return Buffer.from(seq(seq(...parts)));
}

const statusOf = (der: Buffer): string => {
  const response = AsnConvert.parse(der, OCSPResponse);
  const single = AsnConvert.parse(response.responseBytes!.response.buffer, BasicOCSPResponse).tbsResponseData.responses[0]!;
  return single.certStatus.good !== undefined ? "good" : single.certStatus.revoked ? "revoked" : "unknown";
};

for (const openStatus of [true, false]) {
  describe(`OCSP over HTTP (${openStatus ? "open" : "registered verifiers"})`, () => {
    let t: TestContext;
    let app: FastifyInstance;
    let serialHex: string;
    let apiKey: string;
    const key = () => (openStatus ? {} : { "x-openjpki-verifier-key": apiKey });

    before(async () => {
      t = await openTestContext("sqlite", { now: NOW, settings: { openStatus } });
      app = await buildApp(t.context);
      const resident = await t.context.registry.add({ name: "応答 次郎", birth: "1975-07-07", gender: "1", address: "東京都千代田区霞が関２－１－２", municipality: "131016" });
      serialHex = (await t.context.ca.issue({ type: "sign", residentId: resident.id, subjectPublicKey: testPublicKeys(1)[0]! })).serialHex;
      apiKey = (await t.context.verifiers.add("HTTP テスト")).apiKey;
    });
    after(async () => {
      await app.close();
      await t.cleanup();
    });

    test("GET: the pre-signed answer with its cache headers; If-None-Match → 304 without a body; HEAD → headers only", async () => {
      const path = `/ocsp/sign/${encodeURIComponent(request(serialHex, t.context.ca.authority("sign").certificateDer).toString("base64"))}`;
      const first = await app.inject({ method: "GET", url: path, headers: key() });
      assert.equal(first.statusCode, 200);
      assert.equal(first.headers["content-type"], "application/ocsp-response");
      assert.equal(Number(first.headers["content-length"]), first.rawPayload.length);
      assert.equal(statusOf(first.rawPayload), "good");
      // Answers are valid 600 s from "now" (fixed): max-age counts down to nextUpdate.
      assert.equal(first.headers["cache-control"], "max-age=600, public, no-transform, must-revalidate");
      assert.equal(first.headers["last-modified"], new Date(NOW).toUTCString());
      assert.equal(first.headers["expires"], new Date(Date.parse(NOW) + 600_000).toUTCString());
      const etag = String(first.headers["etag"]);
      assert.match(etag, /^"[A-Za-z0-9_-]{22}"$/);

      const again = await app.inject({ method: "GET", url: path, headers: key() });
      assert.deepEqual(again.rawPayload, first.rawPayload, "the same pre-signed answer (from the path map)");
      const conditional = await app.inject({ method: "GET", url: path, headers: { ...key(), "if-none-match": etag } });
      assert.equal(conditional.statusCode, 304);
      assert.equal(conditional.rawPayload.length, 0);
      assert.equal(conditional.headers["etag"], etag);
      const head = await app.inject({ method: "HEAD", url: path, headers: key() });
      assert.equal(head.statusCode, 200);
      assert.equal(head.rawPayload.length, 0);
      assert.equal(head.headers["etag"], etag);
    });

    test("POST with a nonce: freshly signed, not cacheable; malformed requests get malformedRequest", async () => {
      const post = await app.inject({
        method: "POST",
        url: "/ocsp/sign",
        headers: { ...key(), "content-type": "application/ocsp-request" },
        payload: request(serialHex, t.context.ca.authority("sign").certificateDer, true),
      });
      assert.equal(post.statusCode, 200);
      assert.equal(post.headers["cache-control"], "no-store");
      assert.equal(post.headers["etag"], undefined);
      assert.equal(Number(post.headers["content-length"]), post.rawPayload.length);
      assert.equal(statusOf(post.rawPayload), "good");
      const bad = await app.inject({ method: "GET", url: "/ocsp/sign/MAA%3D", headers: key() });
      assert.equal(bad.statusCode, 200);
      assert.deepEqual([...bad.rawPayload], [0x30, 0x03, 0x0a, 0x01, 0x01]);
      assert.equal(bad.headers["cache-control"], "no-store");
    });

    test("a revocation shows on the next GET of the same path", async () => {
      const path = `/ocsp/sign/${encodeURIComponent(request(serialHex, t.context.ca.authority("sign").certificateDer).toString("base64"))}`;
      assert.equal(statusOf((await app.inject({ method: "GET", url: path, headers: key() })).rawPayload), "good");
      await t.context.ca.revoke({ type: "sign", serialHex, reason: "keyCompromise", by: "operator" });
      const after = await app.inject({ method: "GET", url: path, headers: key() });
      assert.equal(statusOf(after.rawPayload), "revoked");
    });

    if (!openStatus) {
      test("a registered verifier's lookups are counted (GET, HEAD, conditional and POST alike); without a key: 401", async () => {
        const denied = await app.inject({ method: "GET", url: "/ocsp/sign/MAA%3D" });
        assert.equal(denied.statusCode, 401);
        const report = await t.context.verifiers.report();
        const row = report.find((r) => r.type === "sign" && r.kind === "ocsp");
        // GET ×2, conditional, HEAD, POST, and the two GETs around the revocation: 7 answers about a certificate.
        assert.equal(row?.lookups, 7);
      });
    }
  });
}

describe("OCSP when the responder itself fails, and the answers' validity from the environment", () => {
  test("a store or signer failure is tryLater in OCSP's own form (never a JSON 500), and the operator gets a line", async () => {
    const t = await openTestContext("sqlite", { now: NOW, settings: { openStatus: true } });
    const lines: string[] = [];
    const app = await buildApp(t.context, { log: (line) => lines.push(line) });
    try {
      const resident = await t.context.registry.add({ name: "応答 三郎", birth: "1975-07-07", gender: "1", address: "東京都千代田区霞が関２－１－２", municipality: "131016" });
      const { serialHex } = await t.context.ca.issue({ type: "sign", residentId: resident.id, subjectPublicKey: testPublicKeys(1)[0]! });
      // The fault: the responder's store read fails (here, its table is gone).
      await t.context.store.db.schema.alterTable("revocation_versions").renameTo("revocation_versions_gone").execute();
      for (const [method, nonce] of [["POST", true], ["GET", false]] as const) {
        const body = request(serialHex, t.context.ca.authority("sign").certificateDer, nonce);
        const res =
          method === "POST"
            ? await app.inject({ method, url: "/ocsp/sign", headers: { "content-type": "application/ocsp-request" }, payload: body })
            : await app.inject({ method, url: `/ocsp/sign/${encodeURIComponent(body.toString("base64"))}` });
        assert.equal(res.statusCode, 200, method);
        assert.equal(res.headers["content-type"], "application/ocsp-response", method);
        assert.equal(res.headers["cache-control"], "no-store", method);
        assert.equal(AsnConvert.parse(res.rawPayload, OCSPResponse).responseStatus, 3, `${method}: tryLater`);
      }
      assert.ok(lines.some((line) => /revocation_versions/.test(line)), lines.join("\n"));
      await t.context.store.db.schema.alterTable("revocation_versions_gone").renameTo("revocation_versions").execute();
      const again = await app.inject({ method: "POST", url: "/ocsp/sign", headers: { "content-type": "application/ocsp-request" }, payload: request(serialHex, t.context.ca.authority("sign").certificateDer, true) });
      assert.equal(statusOf(again.rawPayload), "good", "answers again once the store is back");
    } finally {
      await app.close();
      await t.cleanup();
    }
  });

  test("a municipal CRL for a code nobody registered is 404, not bad input; a registered one is served", async () => {
    const t = await openTestContext("sqlite", { now: NOW, settings: { openStatus: true } });
    const app = await buildApp(t.context);
    try {
      const unknown = await app.inject({ method: "GET", url: "/crl/sign/999999.crl" });
      assert.equal(unknown.statusCode, 404);
      assert.equal(unknown.json().error.code, "not-found");
      assert.match(unknown.json().error.message, /no CRL for municipality 999999/);
      const known = await app.inject({ method: "GET", url: "/crl/sign/132098.crl" });
      assert.equal(known.statusCode, 200);
      assert.equal(known.headers["content-type"], "application/pkix-crl");
    } finally {
      await app.close();
      await t.cleanup();
    }
  });

  test("OPENJPKI_OCSP_VALIDITY_SECONDS sets thisUpdate → nextUpdate (and max-age); a value out of range is refused naming it", async () => {
    const t = await openTestContext("sqlite", { now: NOW, settings: { openStatus: true }, env: { OPENJPKI_OCSP_VALIDITY_SECONDS: "172800" } });
    const app = await buildApp(t.context);
    try {
      assert.equal(t.context.settings.ocspValiditySeconds, 172_800);
      const resident = await t.context.registry.add({ name: "応答 四郎", birth: "1975-07-07", gender: "1", address: "東京都千代田区霞が関２－１－２", municipality: "131016" });
      const { serialHex } = await t.context.ca.issue({ type: "sign", residentId: resident.id, subjectPublicKey: testPublicKeys(1)[0]! });
      const path = `/ocsp/sign/${encodeURIComponent(request(serialHex, t.context.ca.authority("sign").certificateDer).toString("base64"))}`;
      const res = await app.inject({ method: "GET", url: path });
      assert.equal(res.headers["cache-control"], "max-age=172800, public, no-transform, must-revalidate");
      const basic = AsnConvert.parse(AsnConvert.parse(res.rawPayload, OCSPResponse).responseBytes!.response.buffer, BasicOCSPResponse);
      const single = basic.tbsResponseData.responses[0]!;
      assert.equal(single.nextUpdate!.getTime() - single.thisUpdate.getTime(), 172_800_000);
    } finally {
      await app.close();
      await t.cleanup();
    }
    for (const bad of ["59", "604801", "1e3", "a day"]) {
      await assert.rejects(openTestContext("sqlite", { env: { OPENJPKI_OCSP_VALIDITY_SECONDS: bad } }), /OPENJPKI_OCSP_VALIDITY_SECONDS must be a whole number of seconds from 60 to 604800/, bad);
    }
  });
});
