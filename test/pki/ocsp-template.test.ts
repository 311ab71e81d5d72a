// OcspResponseTemplate (batch pre-signing) must give exactly buildOcspResponse's bytes, parse with
// @peculiar/asn1-ocsp, and verify with openssl.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { AsnConvert } from "@peculiar/asn1-schema";
import { BasicOCSPResponse, OCSPResponse } from "@peculiar/asn1-ocsp";
import {
  OcspResponseTemplate,
  buildOcspResponse,
  certIdFor,
  ocspResponseFromParts,
  signOcspResponse,
  ocspIssuerFromCertificate,
  type OcspCertStatus,
  type OcspIssuer,
} from "../../src/pki/ocsp.ts";
import { generateKey, makeCa, makeLeaf, makeOcspResponder, openssl, tempDir, type TestCa, type TestCert, type TestKey } from "../helpers/test-pki.ts";

// openssl checks thisUpdate/nextUpdate against the real clock, so these follow it.
const NOW = new Date(Math.floor(Date.now() / 1000) * 1000 - 600_000);
const NEXT = new Date(NOW.getTime() + 3_600_000);
const STATUSES: readonly OcspCertStatus[] = [
  { kind: "good" },
  { kind: "revoked", revokedAt: new Date("2026-02-14T03:04:05Z"), reason: "keyCompromise" },
  { kind: "revoked", revokedAt: new Date("2026-02-14T03:04:05Z"), reason: "unspecified" },
  { kind: "unknown" },
];

let ca: TestCa;
let responder: TestCert;
let responderKey: TestKey;
let issuer: OcspIssuer;
let tmp: ReturnType<typeof tempDir>;

before(async () => {
  tmp = tempDir("ocsp-template");
  const [caKey, rKey, leafKey] = await Promise.all([generateKey(), generateKey(), generateKey()]);
  responderKey = rKey;
  ca = await makeCa("C=JP, O=JPKI, CN=Template Test CA", caKey);
  responder = await makeOcspResponder(ca, rKey);
  issuer = ocspIssuerFromCertificate(ca.der);
  tmp.write("ca.pem", ca.pem);
  for (const [name, serialHex] of [["good", "4a2b3c4d5e6f708192a3b4c5d6e7f801"], ["revoked", "7f00000000000000000000000000ff01"]] as const) {
    tmp.write(`${name}.pem`, (await makeLeaf(ca, { serialHex, key: leafKey, cn: name })).pem);
  }
});

after(() => tmp.dispose());

describe("OcspResponseTemplate", () => {
  test("byte for byte what buildOcspResponse gives (RSA PKCS#1 v1.5 signatures are deterministic)", async () => {
    const serials = ["01", "7f", "80", "4a2b3c4d5e6f708192a3b4c5d6e7f801", "ff".repeat(20)].map((h) => Buffer.from(h, "hex"));
    for (const withCertificate of [true, false]) {
      for (const nextUpdate of [NEXT, undefined]) {
        const template = new OcspResponseTemplate({
          ...(withCertificate ? { responderCertificateDer: responder.der } : {}),
          signer: responderKey.signer,
          producedAt: NOW,
          thisUpdate: NOW,
          ...(nextUpdate ? { nextUpdate } : {}),
        });
        for (const serial of serials) {
          for (const status of STATUSES) {
            const certId = certIdFor(issuer, serial);
            const expected = await buildOcspResponse({
              ...(withCertificate ? { responderCertificateDer: responder.der } : {}),
              signer: responderKey.signer,
              producedAt: NOW,
              responses: [{ certId, status, thisUpdate: NOW, ...(nextUpdate ? { nextUpdate } : {}) }],
            });
            const actual = await template.build(certId, status);
            assert.deepEqual(Buffer.from(actual), Buffer.from(expected), `${serial.toString("hex")} ${status.kind} cert=${withCertificate} next=${Boolean(nextUpdate)}`);
          }
        }
      }
    }
  });

  test("@peculiar/asn1-ocsp reads it: successful, basic, the CertID, status, times and the responder certificate", async () => {
    const template = new OcspResponseTemplate({ responderCertificateDer: responder.der, signer: responderKey.signer, producedAt: NOW, thisUpdate: NOW, nextUpdate: NEXT });
    const serial = Buffer.from("4a2b3c4d5e6f708192a3b4c5d6e7f801", "hex");
    const der = await template.build(certIdFor(issuer, serial), STATUSES[1]!);
    const response = AsnConvert.parse(der, OCSPResponse);
    assert.equal(response.responseStatus, 0);
    assert.equal(response.responseBytes?.responseType, "1.3.6.1.5.5.7.48.1.1");
    const basic = AsnConvert.parse(response.responseBytes!.response.buffer, BasicOCSPResponse);
    const single = basic.tbsResponseData.responses[0]!;
    assert.equal(basic.tbsResponseData.responses.length, 1);
    assert.equal(Buffer.from(single.certID.serialNumber).toString("hex"), serial.toString("hex"));
    assert.equal(single.certID.hashAlgorithm.algorithm, "1.3.14.3.2.26");
    assert.equal(single.certStatus.revoked?.revocationTime.getTime(), Date.parse("2026-02-14T03:04:05Z"));
    assert.equal(single.thisUpdate.getTime(), NOW.getTime());
    assert.equal(single.nextUpdate?.getTime(), NEXT.getTime());
    assert.equal(basic.tbsResponseData.producedAt.getTime(), NOW.getTime());
    assert.equal(basic.certs?.length, 1);
    assert.deepEqual(Buffer.from(AsnConvert.serialize(basic.certs![0]!)), Buffer.from(responder.der));
    assert.equal(basic.signature.byteLength, 256);
  });

  test("openssl verifies its answers (good and revoked) for the certificates they name", async () => {
    const template = new OcspResponseTemplate({ responderCertificateDer: responder.der, signer: responderKey.signer, producedAt: NOW, thisUpdate: NOW, nextUpdate: NEXT });
    const cases = [
      ["good", "4a2b3c4d5e6f708192a3b4c5d6e7f801", STATUSES[0]!, /good\.pem: good/],
      ["revoked", "7f00000000000000000000000000ff01", STATUSES[1]!, /revoked\.pem: revoked/],
    ] as const;
    for (const [name, serialHex, status, expected] of cases) {
      tmp.write(`${name}.der`, await template.build(certIdFor(issuer, Buffer.from(serialHex, "hex")), status));
      const r = openssl(["ocsp", "-respin", `${name}.der`, "-CAfile", "ca.pem", "-issuer", "ca.pem", "-cert", `${name}.pem`, "-no_nonce"], tmp.dir);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr + r.stdout, /Response verify OK/);
      assert.match(r.stdout, expected);
    }
  });

  test("signed parts (what the response store keeps) put back together are the same bytes, with or without the certificate or a nonce", async () => {
    const certId = certIdFor(issuer, Buffer.from("4a2b3c4d5e6f708192a3b4c5d6e7f801", "hex"));
    const template = new OcspResponseTemplate({ responderCertificateDer: responder.der, signer: responderKey.signer, producedAt: NOW, thisUpdate: NOW, nextUpdate: NEXT });
    const parts = await template.sign(certId, STATUSES[1]!);
    assert.deepEqual(Buffer.from(ocspResponseFromParts(parts, responder.der)), Buffer.from(await template.build(certId, STATUSES[1]!)));
    assert.ok(parts.tbs.length + parts.signature.length < 600, `kept ${parts.tbs.length + parts.signature.length} bytes`);
    for (const nonce of [undefined, Uint8Array.of(0x04, 0x02, 0xab, 0xcd)]) {
      const options = { signer: responderKey.signer, producedAt: NOW, responses: [{ certId, status: STATUSES[0]!, thisUpdate: NOW, nextUpdate: NEXT }], ...(nonce ? { nonce } : {}) };
      const signed = await signOcspResponse(options);
      assert.deepEqual(Buffer.from(ocspResponseFromParts(signed, responder.der)), Buffer.from(await buildOcspResponse({ ...options, responderCertificateDer: responder.der })));
      assert.deepEqual(Buffer.from(ocspResponseFromParts(signed)), Buffer.from(await buildOcspResponse(options)));
    }
  });

  test("refuses nextUpdate not after thisUpdate", () => {
    assert.throws(() => new OcspResponseTemplate({ signer: responderKey.signer, producedAt: NOW, thisUpdate: NOW, nextUpdate: NOW }), RangeError);
  });
});
