import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import {
  OCSP_INTERNAL_ERROR,
  OCSP_MALFORMED_REQUEST,
  OCSP_TRY_LATER,
  OCSP_UNAUTHORIZED,
  OcspMalformedError,
  OcspRequestError,
  OcspUnsupportedHashError,
  buildOcspResponse,
  certIdFor,
  certIdMatchesIssuer,
  decodeOcspGetPath,
  ocspErrorResponseFor,
  ocspIssuerFromCertificate,
  parseOcspRequest,
  responderKeyHashOf,
  type OcspCertId,
  type OcspIssuer,
  type OcspRequestInfo,
  type OcspSingleResponse,
} from "../../src/pki/ocsp.ts";
import { generateKey, makeCa, makeLeaf, makeOcspResponder, openssl, tempDir, type TestCa, type TestCert } from "../helpers/test-pki.ts";

// openssl checks thisUpdate/nextUpdate against the real clock, so these follow it (with milliseconds, to see them dropped).
const NOW = new Date(Math.floor(Date.now() / 1000) * 1000 - 3_600_000 + 456);
const NEXT = new Date(NOW.getTime() + 86_400_000);
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
/** openssl's ASN1_TIME_print form: `Mar  1 09:00:00 2026 GMT`. */
function opensslTime(d: Date): string {
  const p2 = (n: number): string => String(n).padStart(2, "0");
  return `${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, " ")} ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())} ${d.getUTCFullYear()} GMT`;
}

let ca: TestCa;
let otherCa: TestCa;
let responder: TestCert;
let responderKey: Awaited<ReturnType<typeof generateKey>>;
let issuer: OcspIssuer;
let otherIssuer: OcspIssuer;
let tmp: ReturnType<typeof tempDir>;
/** Request DER made by openssl, by name. */
const req: Record<string, Uint8Array> = {};

const LEAVES = { good: "1a2b3c", revoked: "8899aabbccddeeff0011", unknown: "05", other: "77" } as const;

function mkReq(name: string, args: string[]): void {
  const r = openssl(["ocsp", "-issuer", "ca.pem", ...args, "-reqout", `${name}.der`], tmp.dir);
  assert.equal(r.status, 0, r.stderr);
  req[name] = new Uint8Array(readFileSync(`${tmp.dir}/${name}.der`));
}

before(async () => {
  tmp = tempDir("ocsp");
  const [caKey, rKey, leafKey, otherKey] = await Promise.all([generateKey(), generateKey(), generateKey(), generateKey()]);
  responderKey = rKey;
  ca = await makeCa("C=JP, O=JPKI, OU=JPKI for user authentication, CN=Test Auth CA", caKey);
  otherCa = await makeCa("C=JP, O=Elsewhere, CN=Other CA", otherKey);
  responder = await makeOcspResponder(ca, rKey);
  tmp.write("ca.pem", ca.pem);
  tmp.write("other-ca.pem", otherCa.pem);
  tmp.write("responder.pem", responder.pem);
  for (const [name, serialHex] of Object.entries(LEAVES)) {
    const leaf = await makeLeaf(name === "other" ? otherCa : ca, { serialHex, key: leafKey, cn: name });
    tmp.write(`${name}.pem`, leaf.pem);
  }
  issuer = ocspIssuerFromCertificate(ca.der);
  otherIssuer = ocspIssuerFromCertificate(otherCa.der);

  mkReq("sha256-nonce", ["-sha256", "-cert", "good.pem"]);
  mkReq("sha256-nononce", ["-sha256", "-cert", "good.pem", "-no_nonce"]);
  mkReq("sha1-nonce", ["-cert", "revoked.pem"]);
  mkReq("sha1-nononce", ["-cert", "revoked.pem", "-no_nonce"]);
  mkReq("multi", ["-sha256", "-cert", "good.pem", "-cert", "revoked.pem", "-cert", "unknown.pem"]);
  mkReq("multi-sha1", ["-cert", "good.pem", "-cert", "revoked.pem", "-cert", "unknown.pem", "-no_nonce"]);
  const r = openssl(["ocsp", "-issuer", "other-ca.pem", "-sha256", "-cert", "other.pem", "-reqout", "other.der"], tmp.dir);
  assert.equal(r.status, 0, r.stderr);
  req["other"] = new Uint8Array(readFileSync(`${tmp.dir}/other.der`));
});

after(() => tmp.dispose());

/** What the responder's status source would say, for the test. */
function statusFor(certId: OcspCertId): OcspSingleResponse["status"] {
  if (!certIdMatchesIssuer(certId, issuer)) return { kind: "unknown" };
  const hex = Buffer.from(certId.serial).toString("hex");
  if (hex === LEAVES.good) return { kind: "good" };
  if (hex === LEAVES.revoked) return { kind: "revoked", revokedAt: new Date("2026-02-14T03:04:05.678Z"), reason: "affiliationChanged" };
  return { kind: "unknown" };
}

async function respond(parsed: OcspRequestInfo, extra: { delegated?: boolean } = {}): Promise<Uint8Array> {
  const delegated = extra.delegated ?? true;
  return buildOcspResponse({
    ...(delegated ? { responderCertificateDer: responder.der } : {}),
    signer: delegated ? responderKey.signer : ca.key.signer,
    producedAt: NOW,
    responses: parsed.requests.map((certId) => ({ certId, status: statusFor(certId), thisUpdate: NOW, nextUpdate: NEXT })),
    ...(parsed.nonce ? { nonce: parsed.nonce } : {}),
  });
}

describe("parseOcspRequest on openssl's requests", () => {
  test("SHA-256 CertID with a nonce", () => {
    const p = parseOcspRequest(req["sha256-nonce"]!);
    assert.equal(p.requests.length, 1);
    const [id] = p.requests;
    assert.equal(id!.hashAlgorithm, "sha256");
    assert.equal(id!.issuerNameHash.length, 32);
    assert.equal(Buffer.from(id!.serial).toString("hex"), LEAVES.good);
    assert.ok(certIdMatchesIssuer(id!, issuer));
    assert.ok(!certIdMatchesIssuer(id!, otherIssuer));
    assert.ok(p.nonce, "nonce");
    assert.equal(p.nonce![0], 0x04, "nonce extnValue is an OCTET STRING");
    assert.equal(p.nonce!.length, 18);
  });

  test("SHA-1 CertID without a nonce; a serial with the top bit set", () => {
    const p = parseOcspRequest(req["sha1-nononce"]!);
    assert.equal(p.nonce, undefined);
    assert.equal(p.requests[0]!.hashAlgorithm, "sha1");
    assert.equal(p.requests[0]!.issuerKeyHash.length, 20);
    assert.equal(Buffer.from(p.requests[0]!.serial).toString("hex"), LEAVES.revoked);
    assert.ok(certIdMatchesIssuer(p.requests[0]!, issuer));
  });

  test("several certificates in one request", () => {
    const p = parseOcspRequest(req["multi"]!);
    assert.deepEqual(
      p.requests.map((r) => Buffer.from(r.serial).toString("hex")),
      [LEAVES.good, LEAVES.revoked, LEAVES.unknown],
    );
  });

  test("another CA's certificate does not match our issuer", () => {
    const p = parseOcspRequest(req["other"]!);
    assert.ok(!certIdMatchesIssuer(p.requests[0]!, issuer));
    assert.ok(certIdMatchesIssuer(p.requests[0]!, otherIssuer));
  });

  test("certIdFor gives the CertID openssl sends", () => {
    for (const [name, alg] of [["sha256-nononce", "sha256"], ["sha1-nononce", "sha1"]] as const) {
      const parsed = parseOcspRequest(req[name]!).requests[0]!;
      const mine = certIdFor(issuer, parsed.serial, alg);
      assert.deepEqual(Buffer.from(mine.issuerNameHash), Buffer.from(parsed.issuerNameHash));
      assert.deepEqual(Buffer.from(mine.issuerKeyHash), Buffer.from(parsed.issuerKeyHash));
    }
  });
});

describe("buildOcspResponse checked by openssl", () => {
  test("good, with the nonce echoed: verifies against the request (delegated responder)", async () => {
    const parsed = parseOcspRequest(req["sha256-nonce"]!);
    tmp.write("resp-good.der", await respond(parsed));
    const r = openssl(["ocsp", "-respin", "resp-good.der", "-reqin", "sha256-nonce.der", "-CAfile", "ca.pem", "-resp_text"], tmp.dir);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr + r.stdout, /Response verify OK/);
    assert.doesNotMatch(r.stderr + r.stdout, /WARNING: no nonce|Nonce Verify error/);
    assert.match(r.stdout, /Responder Id: [0-9A-F]{40}/);
    assert.match(r.stdout, /Cert Status: good/);
    assert.ok(r.stdout.includes(`Produced At: ${opensslTime(NOW)}`), r.stdout);
    assert.match(r.stdout, /OCSP Nonce:/);
    const s = openssl(["ocsp", "-respin", "resp-good.der", "-CAfile", "ca.pem", "-issuer", "ca.pem", "-sha256", "-cert", "good.pem", "-no_nonce"], tmp.dir);
    assert.match(s.stdout, /good\.pem: good/);
    assert.ok(s.stdout.includes(`This Update: ${opensslTime(NOW)}\n\tNext Update: ${opensslTime(NEXT)}`), s.stdout);
    assert.doesNotMatch(s.stdout + s.stderr, /WARNING/);
  });

  test("revoked with time and reason (SHA-1 CertID, with nonce)", async () => {
    const parsed = parseOcspRequest(req["sha1-nonce"]!);
    tmp.write("resp-revoked.der", await respond(parsed));
    const v = openssl(["ocsp", "-respin", "resp-revoked.der", "-reqin", "sha1-nonce.der", "-CAfile", "ca.pem"], tmp.dir);
    assert.match(v.stderr + v.stdout, /Response verify OK/);
    assert.doesNotMatch(v.stderr + v.stdout, /Nonce Verify error/);
    const s = openssl(["ocsp", "-respin", "resp-revoked.der", "-CAfile", "ca.pem", "-issuer", "ca.pem", "-cert", "revoked.pem", "-no_nonce"], tmp.dir);
    assert.match(s.stdout, /revoked\.pem: revoked/);
    assert.match(s.stdout, /Reason: affiliationChanged/);
    assert.match(s.stdout, /Revocation Time: Feb 14 03:04:05 2026 GMT/);
  });

  test("several answers in one response: good, revoked, unknown", async () => {
    for (const [name, sha] of [["multi", ["-sha256"]], ["multi-sha1", []]] as const) {
      const parsed = parseOcspRequest(req[name]!);
      tmp.write(`resp-${name}.der`, await respond(parsed));
      const v = openssl(["ocsp", "-respin", `resp-${name}.der`, "-reqin", `${name}.der`, "-CAfile", "ca.pem"], tmp.dir);
      assert.match(v.stderr + v.stdout, /Response verify OK/, name);
      const s = openssl(
        ["ocsp", "-respin", `resp-${name}.der`, "-CAfile", "ca.pem", "-issuer", "ca.pem", ...sha, "-cert", "good.pem", "-cert", "revoked.pem", "-cert", "unknown.pem", "-no_nonce"],
        tmp.dir,
      );
      assert.match(s.stdout, /good\.pem: good/, name);
      assert.match(s.stdout, /revoked\.pem: revoked/, name);
      assert.match(s.stdout, /unknown\.pem: unknown/, name);
    }
  });

  test("signed by the CA itself, no certificate embedded (verify with -verify_other)", async () => {
    const parsed = parseOcspRequest(req["sha256-nononce"]!);
    tmp.write("resp-ca.der", await respond(parsed, { delegated: false }));
    const v = openssl(["ocsp", "-respin", "resp-ca.der", "-reqin", "sha256-nononce.der", "-CAfile", "ca.pem", "-verify_other", "ca.pem"], tmp.dir);
    assert.match(v.stderr + v.stdout, /Response verify OK/);
  });

  test("pre-signed without a request: certIdFor answers both SHA-1 and SHA-256 lookups", async () => {
    const serial = Buffer.from(LEAVES.revoked, "hex");
    for (const alg of ["sha1", "sha256"] as const) {
      const der = await buildOcspResponse({
        responderCertificateDer: responder.der,
        signer: responderKey.signer,
        producedAt: NOW,
        responses: [{ certId: certIdFor(issuer, serial, alg), status: { kind: "revoked", revokedAt: NOW, reason: "keyCompromise" }, thisUpdate: NOW, nextUpdate: NEXT }],
      });
      tmp.write(`pre-${alg}.der`, der);
      const s = openssl(
        ["ocsp", "-respin", `pre-${alg}.der`, "-CAfile", "ca.pem", "-issuer", "ca.pem", ...(alg === "sha256" ? ["-sha256"] : []), "-cert", "revoked.pem", "-no_nonce"],
        tmp.dir,
      );
      assert.match(s.stderr + s.stdout, /Response verify OK/, alg);
      assert.match(s.stdout, /revoked\.pem: revoked/, alg);
      assert.match(s.stdout, /Reason: keyCompromise/, alg);
    }
  });

  test("a response from a responder the CA did not certify fails verification", async () => {
    const parsed = parseOcspRequest(req["sha256-nononce"]!);
    const der = await buildOcspResponse({
      responderCertificateDer: responder.der,
      signer: otherCa.key.signer, // wrong key for that certificate
      producedAt: NOW,
      responses: parsed.requests.map((certId) => ({ certId, status: { kind: "good" }, thisUpdate: NOW })),
    });
    tmp.write("resp-forged.der", der);
    const v = openssl(["ocsp", "-respin", "resp-forged.der", "-reqin", "sha256-nononce.der", "-CAfile", "ca.pem"], tmp.dir);
    assert.doesNotMatch(v.stderr + v.stdout, /Response verify OK/);
  });

  test("the byKey ResponderID is SHA-1 of the signer's public key", () => {
    const fromCert = ocspIssuerFromCertificate(responder.der).spkiKeyBits;
    const expected = createHash("sha1").update(fromCert).digest();
    assert.deepEqual(Buffer.from(responderKeyHashOf(responderKey.signer.publicKey)), expected);
  });

  test("the pre-encoded error responses", () => {
    const cases = [
      [OCSP_MALFORMED_REQUEST, "malformedrequest (1)"],
      [OCSP_INTERNAL_ERROR, "internalerror (2)"],
      [OCSP_TRY_LATER, "trylater (3)"],
      [OCSP_UNAUTHORIZED, "unauthorized (6)"],
    ] as const;
    for (const [der, text] of cases) {
      tmp.write("err.der", der);
      const r = openssl(["ocsp", "-respin", "err.der", "-resp_text", "-noverify"], tmp.dir);
      assert.ok((r.stdout + r.stderr).includes(`Responder Error: ${text}`), r.stdout + r.stderr);
    }
    assert.equal(ocspErrorResponseFor(new OcspMalformedError("x")), OCSP_MALFORMED_REQUEST);
    assert.equal(ocspErrorResponseFor(new OcspUnsupportedHashError("1.2.3")), OCSP_UNAUTHORIZED);
  });

  test("refuses misuse", async () => {
    const certId = certIdFor(issuer, Uint8Array.of(1));
    const base = { signer: responderKey.signer, producedAt: NOW };
    await assert.rejects(buildOcspResponse({ ...base, responses: [] }), TypeError);
    await assert.rejects(buildOcspResponse({ ...base, responses: [{ certId, status: { kind: "good" }, thisUpdate: NOW, nextUpdate: NOW }] }), RangeError);
    await assert.rejects(buildOcspResponse({ ...base, responses: [{ certId: { ...certId, issuerKeyHash: new Uint8Array(5) }, status: { kind: "good" }, thisUpdate: NOW }] }), TypeError);
    await assert.rejects(buildOcspResponse({ ...base, responderKeyHash: new Uint8Array(32), responses: [{ certId, status: { kind: "good" }, thisUpdate: NOW }] }), TypeError);
  });
});

// ---------------------------------------------------------------------------------------------
// Untrusted input
// ---------------------------------------------------------------------------------------------

/** A hand-made OCSPRequest: `certIds` are CertID contents (already encoded), `exts` request extensions. */
function tlv(tag: number, ...parts: (Uint8Array | number[])[]): Uint8Array {
  const body = Buffer.concat(parts.map((p) => Buffer.from(p)));
  const len = body.length;
  const lenBytes = len < 0x80 ? [len] : len < 0x100 ? [0x81, len] : len < 0x10000 ? [0x82, len >> 8, len & 0xff] : [0x83, len >> 16, (len >> 8) & 0xff, len & 0xff];
  return new Uint8Array(Buffer.concat([Buffer.from([tag, ...lenBytes]), body]));
}
const SHA1_ALG = [0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00];
const SHA384_ALG = [0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00];
const NONCE_OID = [0x06, 0x09, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x02];
const h20 = new Uint8Array(20).fill(0x11);
function certId(alg: number[] = SHA1_ALG, serial: number[] = [0x02, 0x01, 0x05], nameHash = h20, keyHash = h20): Uint8Array {
  return tlv(0x30, alg, tlv(0x04, nameHash), tlv(0x04, keyHash), serial);
}
function request(certIds: Uint8Array[], exts?: Uint8Array, prefix: Uint8Array[] = []): Uint8Array {
  const list = tlv(0x30, ...certIds.map((c) => tlv(0x30, c)));
  const tbs = tlv(0x30, ...prefix, list, ...(exts ? [tlv(0xa2, exts)] : []));
  return tlv(0x30, tbs);
}
const nonceExt = (value: Uint8Array): Uint8Array => tlv(0x30, NONCE_OID, tlv(0x04, value));

describe("malformed requests", () => {
  function expectMalformed(der: Uint8Array, label: string): void {
    assert.throws(() => parseOcspRequest(der), (err: unknown) => {
      assert.ok(err instanceof OcspMalformedError, `${label}: ${String(err)}`);
      assert.equal(err.code, "malformedRequest");
      return true;
    }, label);
  }

  test("hand-made requests parse (sanity check for the corpus below)", () => {
    const p = parseOcspRequest(request([certId()], tlv(0x30, nonceExt(tlv(0x04, new Uint8Array(16))))));
    assert.equal(p.requests.length, 1);
    assert.equal(p.nonce!.length, 18);
    assert.equal(parseOcspRequest(request([certId()], undefined, [tlv(0xa0, [0x02, 0x01, 0x00])])).requests.length, 1);
    assert.equal(parseOcspRequest(request(Array.from({ length: 16 }, () => certId()))).requests.length, 16);
    // hash parameters absent instead of NULL: accepted, and the CertID bytes kept for the echo
    const noParams = certId([0x30, 0x07, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a]);
    const parsedNoParams = parseOcspRequest(request([noParams])).requests[0]!;
    assert.equal(parsedNoParams.hashAlgorithm, "sha1");
    assert.deepEqual(Buffer.from(parsedNoParams.der!), Buffer.from(noParams));
    // unknown non-critical extension ignored; signed request's signature ignored
    const unknownExt = tlv(0x30, [0x06, 0x03, 0x2a, 0x03, 0x04], tlv(0x04, [1, 2, 3]));
    assert.equal(parseOcspRequest(request([certId()], tlv(0x30, unknownExt))).nonce, undefined);
    // critical FALSE spelled out (not DER, harmless) is accepted
    const explicitFalse = tlv(0x30, NONCE_OID, [0x01, 0x01, 0x00], tlv(0x04, tlv(0x04, [9])));
    assert.deepEqual([...parseOcspRequest(request([certId()], tlv(0x30, explicitFalse))).nonce!], [0x04, 0x01, 9]);
    const signed = request([certId()]);
    const inner = signed.subarray(2);
    assert.equal(parseOcspRequest(tlv(0x30, inner, tlv(0xa0, tlv(0x30, [0x05, 0x00])))).requests.length, 1);
  });

  test("every truncation of openssl's requests", () => {
    for (const [name, der] of Object.entries(req)) {
      for (let n = 0; n < der.length; n++) expectMalformed(der.subarray(0, n), `${name}[0..${n}]`);
    }
  });

  test("structural garbage", () => {
    const good = req["sha256-nonce"]!;
    const corpus: Record<string, Uint8Array> = {
      "empty": new Uint8Array(0),
      "one byte": Uint8Array.of(0x30),
      "wrong outer tag": Uint8Array.of(0x31, ...good.subarray(1)),
      "OCTET STRING at the top": Uint8Array.of(0x04, ...good.subarray(1)),
      "trailing byte": Uint8Array.of(...good, 0),
      "trailing element": Uint8Array.of(...good, 0x05, 0x00),
      "indefinite length": Uint8Array.of(0x30, 0x80, ...good.subarray(2), 0, 0),
      "huge length (4 bytes)": Uint8Array.of(0x30, 0x84, 0x7f, 0xff, 0xff, 0xff, ...good.subarray(2)),
      "length of length 5": Uint8Array.of(0x30, 0x85, 0, 0, 0, 0, 0x10),
      "length of length 127": Uint8Array.of(0x30, 0xff, 1, 2, 3),
      "non-minimal length": Uint8Array.of(0x30, 0x81, 0x05, 0x30, 0x03, 0x30, 0x01, 0x00),
      "high tag number": Uint8Array.of(0x3f, 0x81, 0x00, 0x00),
      "empty requestList": request([]),
      "17 requests": request(Array.from({ length: 17 }, () => certId())),
      "SET instead of CertID": request([tlv(0x31, SHA1_ALG, tlv(0x04, h20), tlv(0x04, h20), [0x02, 0x01, 0x05])]),
      "hash OID truncated": request([certId([0x30, 0x07, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x9a, 0x05, 0x00])]),
      "hash OID empty": request([certId([0x30, 0x04, 0x06, 0x00, 0x05, 0x00])]),
      "hash OID not an OID": request([certId([0x30, 0x09, 0x04, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00])]),
      "hash parameters not NULL": request([certId([0x30, 0x0a, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x02, 0x01, 0x00])]),
      "sha1 with 32-byte hashes": request([certId(SHA1_ALG, [0x02, 0x01, 0x05], new Uint8Array(32), new Uint8Array(32))]),
      "sha1 with empty hashes": request([certId(SHA1_ALG, [0x02, 0x01, 0x05], new Uint8Array(0), new Uint8Array(0))]),
      "negative serial": request([certId(SHA1_ALG, [0x02, 0x01, 0x85])]),
      "empty serial": request([certId(SHA1_ALG, [0x02, 0x00])]),
      "non-minimal serial": request([certId(SHA1_ALG, [0x02, 0x02, 0x00, 0x05])]),
      "serial too long": request([certId(SHA1_ALG, [0x02, 0x21, 0x01, ...new Uint8Array(32)])]),
      "serial not an INTEGER": request([certId(SHA1_ALG, [0x04, 0x01, 0x05])]),
      "missing serial": request([tlv(0x30, SHA1_ALG, tlv(0x04, h20), tlv(0x04, h20))]),
      "extra CertID field": request([tlv(0x30, SHA1_ALG, tlv(0x04, h20), tlv(0x04, h20), [0x02, 0x01, 0x05, 0x05, 0x00])]),
      "version 2": request([certId()], undefined, [tlv(0xa0, [0x02, 0x01, 0x01])]),
      "nonce of 33 octets": request([certId()], tlv(0x30, nonceExt(tlv(0x04, new Uint8Array(33))))),
      "empty nonce": request([certId()], tlv(0x30, nonceExt(tlv(0x04, [])))),
      "two nonces": request([certId()], tlv(0x30, nonceExt(tlv(0x04, [1])), nonceExt(tlv(0x04, [2])))),
      "unknown critical extension": request([certId()], tlv(0x30, tlv(0x30, [0x06, 0x03, 0x2a, 0x03, 0x04], [0x01, 0x01, 0xff], tlv(0x04, [1])))),
      "critical neither TRUE nor FALSE": request([certId()], tlv(0x30, tlv(0x30, NONCE_OID, [0x01, 0x01, 0x01], tlv(0x04, tlv(0x04, [1]))))),
      "empty Extensions": request([certId()], tlv(0x30)),
      "extension OID garbage": request([certId()], tlv(0x30, tlv(0x30, [0x06, 0x02, 0x2a, 0x83], tlv(0x04, [1])))),
      "requestorName then garbage": request([certId()], undefined, [tlv(0xa1, [0x05, 0x00]), Uint8Array.of(0x05, 0x00)]),
      "100 KiB random": new Uint8Array(100 * 1024).map((_, i) => (i * 7919 + 13) & 0xff),
      "100 KiB valid-looking": tlv(0x30, tlv(0x30, tlv(0x30, ...Array.from({ length: 8000 }, () => tlv(0x30, certId()))))),
      "over 8 KiB: a valid request with a big nonce": tlv(0x30, tlv(0x30, tlv(0x30, tlv(0x30, certId())), tlv(0xa2, tlv(0x30, nonceExt(new Uint8Array(8160)))))),
      "deep nesting": (() => {
        let d: Uint8Array = Uint8Array.of(0x05, 0x00);
        for (let i = 0; i < 2000; i++) d = tlv(0x30, d);
        return d;
      })(),
      "many small extensions (node budget)": request(
        [certId()],
        tlv(0x30, ...Array.from({ length: 200 }, (_, i) => tlv(0x30, [0x06, 0x03, 0x2a, 0x03, i & 0x7f], tlv(0x04, [1])))),
      ),
    };
    for (const [label, der] of Object.entries(corpus)) expectMalformed(der, label);
  });

  test("an unsupported CertID hash (SHA-384) is unauthorized, not malformed", () => {
    const der = request([certId(SHA384_ALG, [0x02, 0x01, 0x05], new Uint8Array(48), new Uint8Array(48))]);
    assert.throws(() => parseOcspRequest(der), (err: unknown) => {
      assert.ok(err instanceof OcspUnsupportedHashError);
      assert.ok(err instanceof OcspRequestError);
      assert.equal(err.code, "unauthorized");
      assert.equal(err.algorithm, "2.16.840.1.101.3.4.2.2");
      return true;
    });
    // structure is checked first: a malformed request with an odd hash is still malformed
    expectMalformed(Uint8Array.of(...der, 0), "odd hash + trailing byte");
  });

  test("limits are configurable", () => {
    const multi = req["multi"]!;
    assert.throws(() => parseOcspRequest(multi, { maxRequests: 2 }), OcspMalformedError);
    assert.throws(() => parseOcspRequest(multi, { maxBytes: multi.length - 1 }), OcspMalformedError);
    assert.throws(() => parseOcspRequest(multi, { maxNodes: 10 }), OcspMalformedError);
    assert.equal(parseOcspRequest(multi, { maxRequests: 3, maxBytes: multi.length }).requests.length, 3);
  });

  test("random mutations of real requests: only OcspRequestError, never a hang", () => {
    let seed = 12345;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed % n;
    };
    const bases = Object.values(req);
    const t0 = performance.now();
    let parsed = 0;
    for (let i = 0; i < 20_000; i++) {
      const b = bases[rand(bases.length)]!;
      const m = Uint8Array.from(b);
      const kind = rand(4);
      let der: Uint8Array = m;
      if (kind === 0) m[rand(m.length)] = rand(256);
      else if (kind === 1) m[rand(m.length)]! ^= 1 << rand(8);
      else if (kind === 2) {
        const at = rand(m.length);
        der = Uint8Array.of(...m.subarray(0, at), rand(256), ...m.subarray(at));
      } else {
        for (let k = 0; k < 4; k++) m[rand(m.length)] = rand(256);
      }
      try {
        parseOcspRequest(der);
        parsed++;
      } catch (err) {
        if (!(err instanceof OcspRequestError)) throw new Error(`mutation ${i} threw ${String(err)}`, { cause: err });
      }
    }
    const ms = performance.now() - t0;
    assert.ok(ms < 5000, `20k mutations took ${ms} ms`);
    assert.ok(parsed > 0 && parsed < 20_000);
  });
});

describe("decodeOcspGetPath (RFC 5019 GET)", () => {
  const der = (): Uint8Array => req["sha256-nonce"]!;
  const b64 = (): string => Buffer.from(der()).toString("base64");

  test("URL-encoded base64, plain base64, base64url, unpadded, leading slashes", () => {
    const forms = [
      encodeURIComponent(b64()),
      b64(),
      "/" + b64(),
      b64().replace(/\+/g, "-").replace(/\//g, "_"),
      b64().replace(/=+$/, ""),
      b64().replace(/=/g, "%3d").replace(/\+/g, "%2b").replace(/\//g, "%2F"),
    ];
    for (const f of forms) {
      const decoded = decodeOcspGetPath(f);
      assert.deepEqual(Buffer.from(decoded), Buffer.from(der()), f);
      assert.equal(parseOcspRequest(decoded).requests.length, 1);
    }
  });

  test("refuses bad escapes, characters, lengths and oversize input", () => {
    for (const bad of ["", "/", "%", "%G0AAAA", "MEQw!", "MEQw\n", "MEQwM", "MEQ=MEQ=", "A===", "%00AAAA", "あいう", "A".repeat(40_000)]) {
      assert.throws(() => decodeOcspGetPath(bad), OcspMalformedError, JSON.stringify(bad.slice(0, 20)));
    }
    const big = Buffer.alloc(9000, 0x30).toString("base64");
    assert.throws(() => decodeOcspGetPath(big), OcspMalformedError);
    assert.equal(decodeOcspGetPath(big, { maxBytes: 9000 }).length, 9000);
  });
});

describe("speed", () => {
  test("parse + build + sign one response (reported)", async (t) => {
    const n = 300;
    const der = req["sha256-nonce"]!;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) parseOcspRequest(der);
    const t1 = performance.now();
    const parsed = parseOcspRequest(der);
    for (let i = 0; i < n; i++) await respond(parsed);
    const t2 = performance.now();
    const parseUs = ((t1 - t0) * 1000) / n;
    const respondUs = ((t2 - t1) * 1000) / n;
    t.diagnostic(`parse ${parseUs.toFixed(1)} µs, build+sign ${respondUs.toFixed(0)} µs per response`);
    assert.ok(parseUs < 200, `parse took ${parseUs} µs`);
    assert.ok(respondUs < 5000, `build+sign took ${respondUs} µs`);
  });
});
