// What the OCSP endpoints send: the responder's answer, or for a request it refuses the
// pre-encoded RFC 6960 error response, for the POST and the RFC 5019 GET forms alike.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { ocspReplyToGet, ocspReplyToPost } from "../../src/services/ocsp-http.ts";
import { certIdDer, certIdFor, ocspIssuerFromCertificate, OCSP_MALFORMED_REQUEST } from "../../src/pki/ocsp.ts";
import { seq } from "../../src/pki/der.ts";
import { openTestContext, type TestContext } from "../helpers/context.ts";
import { testPublicKeys } from "../helpers/keys.ts";

describe("OCSP replies for HTTP", () => {
  let t: TestContext;
  let requestDer: Uint8Array;
  before(async () => {
    t = await openTestContext("sqlite", { now: "2026-03-02T03:04:05Z" });
    const resident = await t.context.registry.add({ name: "応答 三郎", birth: "1975-07-07", gender: "1", address: "東京都千代田区霞が関２－１－２", municipality: "131016" });
    const { serialHex } = await t.context.ca.issue({ type: "sign", residentId: resident.id, subjectPublicKey: testPublicKeys(1)[0]! });
    const certId = certIdFor(ocspIssuerFromCertificate(t.context.ca.authority("sign").certificateDer), Buffer.from(serialHex, "hex"));
    // OCSPRequest { tbsRequest { requestList { Request { reqCert } } } }
    requestDer = seq(seq(seq(seq(certIdDer(certId)))));
  });
  after(() => t.cleanup());

  test("a good request is answered, by the CA it names, the same by POST and by GET", async () => {
    const posted = await ocspReplyToPost(t.context.ocsp, requestDer, "sign");
    assert.ok(posted.answered);
    assert.equal(posted.answer.type, "sign");
    assert.equal(posted.answer.lookups, 1);
    const got = await ocspReplyToGet(t.context.ocsp, Buffer.from(requestDer).toString("base64"));
    assert.ok(got.answered);
    assert.deepEqual(Buffer.from(got.answer.der), Buffer.from(posted.answer.der));
  });

  test("a request that cannot be read gets the malformedRequest response, not an exception", async () => {
    const posted = await ocspReplyToPost(t.context.ocsp, Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x00), "sign");
    assert.deepEqual(posted, { answered: false, errorResponse: OCSP_MALFORMED_REQUEST });
    const got = await ocspReplyToGet(t.context.ocsp, "not*base64", "auth");
    assert.deepEqual(got, { answered: false, errorResponse: OCSP_MALFORMED_REQUEST });
  });
});
