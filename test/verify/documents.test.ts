// CMS, raw and XML signatures with certificates from the project's CA, and interop both ways with
// OpenSSL (`openssl cms`) and xmlsec1.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate, createHash, sign as rsaSign, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import "reflect-metadata";
import { AsnConvert, OctetString } from "@peculiar/asn1-schema";
import * as cms from "@peculiar/asn1-cms";
import { AlgorithmIdentifier, Certificate } from "@peculiar/asn1-x509";
import type { VerificationResult } from "../../src/verify/index.ts";
import { assembleSignedData, prepareSignedAttributes } from "../../src/pki/cms-signed-data.ts";
import { openssl, tempDir } from "../helpers/test-pki.ts";
import { keyPem, makeWorld, ocspFake, pem, signXml, verifierFor, type World } from "./fixtures.ts";

let w: World;
let tmp: ReturnType<typeof tempDir>;
const CONTENT = new TextEncoder().encode("令和8年分 確定申告書 / tax return 2026\n");

function assertValid(r: VerificationResult): asserts r is Extract<VerificationResult, { valid: true }> {
  assert.equal(r.valid, true, r.valid ? "" : `${r.code}: ${r.message}`);
}
function assertCode(r: VerificationResult, code: string, message?: RegExp): void {
  assert.equal(r.valid, false, `expected ${code}`);
  if (!r.valid) assert.equal(r.code, code, r.message);
  if (!r.valid && message) assert.match(r.message, message);
}

const verifier = () => verifierFor(w, { ocsp: { fetch: ocspFake(w).fetch } });

const HASH_OID = { sha256: "2.16.840.1.101.3.4.2.1", sha384: "2.16.840.1.101.3.4.2.2", sha512: "2.16.840.1.101.3.4.2.3" } as const;

/** A CMS signing helper for tests (what a card-signing client would produce): signed attributes, one signer. */
function signCms(
  content: Uint8Array,
  certDer: Uint8Array,
  key: KeyObject,
  opts: { detached?: boolean; hash?: keyof typeof HASH_OID; certificateCopies?: number; signingTimes?: Uint8Array[][] } = {},
): Uint8Array {
  const hash = opts.hash ?? "sha256";
  const cert = AsnConvert.parse(certDer, Certificate);
  const digest = createHash(hash).update(content).digest();
  // contentType: the OID id-data; messageDigest: an OCTET STRING.
  const attrs = [new cms.Attribute({ attrType: "1.2.840.113549.1.9.3", attrValues: [Uint8Array.of(0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01).buffer] })];
  attrs.push(new cms.Attribute({ attrType: "1.2.840.113549.1.9.4", attrValues: [AsnConvert.serialize(new OctetString(digest))] }));
  // signingTime attributes as given: each one's values, as DER (so a test can write two, or a bad one).
  for (const values of opts.signingTimes ?? []) attrs.push(new cms.Attribute({ attrType: "1.2.840.113549.1.9.5", attrValues: values.map((v) => v.slice().buffer) }));
  // DER SET OF: sort the encoded attributes.
  const encoded = attrs.map((a) => Buffer.from(AsnConvert.serialize(a))).sort(Buffer.compare);
  const sorted = encoded.map((b) => AsnConvert.parse(b, cms.Attribute));
  const setDer = Buffer.concat([Buffer.from([0x31]), derLength(encoded.reduce((n, b) => n + b.length, 0)), ...encoded]);
  const signature = rsaSign(hash, setDer, key);
  const signerInfo = new cms.SignerInfo({
    version: cms.CMSVersion.v1,
    sid: new cms.SignerIdentifier({ issuerAndSerialNumber: new cms.IssuerAndSerialNumber({ issuer: cert.tbsCertificate.issuer, serialNumber: cert.tbsCertificate.serialNumber }) }),
    digestAlgorithm: new AlgorithmIdentifier({ algorithm: HASH_OID[hash], parameters: null }),
    signedAttrs: sorted,
    signatureAlgorithm: new AlgorithmIdentifier({ algorithm: "1.2.840.113549.1.1.1", parameters: null }),
    signature: new OctetString(signature),
  });
  const signedData = new cms.SignedData({
    version: cms.CMSVersion.v1,
    digestAlgorithms: new cms.DigestAlgorithmIdentifiers([new AlgorithmIdentifier({ algorithm: HASH_OID[hash], parameters: null })]),
    encapContentInfo: new cms.EncapsulatedContentInfo({
      eContentType: cms.id_data,
      ...(opts.detached ? {} : { eContent: new cms.EncapsulatedContent({ single: new OctetString(content) }) }),
    }),
    certificates: new cms.CertificateSet(Array.from({ length: opts.certificateCopies ?? 1 }, () => new cms.CertificateChoices({ certificate: cert }))),
    signerInfos: new cms.SignerInfos([signerInfo]),
  });
  return new Uint8Array(AsnConvert.serialize(new cms.ContentInfo({ contentType: cms.id_signedData, content: AsnConvert.serialize(signedData) })));
}

function derLength(n: number): Buffer {
  if (n < 128) return Buffer.from([n]);
  const bytes: number[] = [];
  while (n > 0) {
    bytes.unshift(n & 0xff);
    n >>= 8;
  }
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

before(async () => {
  w = await makeWorld();
  tmp = tempDir("verify-docs");
  tmp.write("sign-root.pem", pem(w.roots.sign));
  tmp.write("auth-root.pem", pem(w.roots.auth));
  tmp.write("leaf.pem", pem(w.holder.sign.der));
  tmp.write("key.pem", keyPem(w.holder.signKey.privateKey));
  tmp.write("auth-leaf.pem", pem(w.holder.auth.der));
  tmp.write("auth-key.pem", keyPem(w.holder.authKey.privateKey));
  tmp.write("content.txt", CONTENT);
});
after(async () => {
  tmp.dispose();
  await w.cleanup();
});

describe("CMS", () => {
  for (const md of ["sha256", "sha384", "sha512"] as const) {
    for (const detached of [false, true]) {
      test(`openssl cms -sign (${detached ? "detached" : "attached"}, ${md}) verifies, with the attributes`, async () => {
        const out = `o-${md}-${detached}.der`;
        const r = openssl(["cms", "-sign", "-signer", "leaf.pem", "-inkey", "key.pem", "-binary", "-outform", "DER", "-md", md, ...(detached ? [] : ["-nodetach"]), "-in", "content.txt", "-out", out], tmp.dir);
        assert.equal(r.status, 0, r.stderr);
        const der = new Uint8Array(readFileSync(`${tmp.dir}/${out}`));
        const result = await verifier().verifyCms(der, detached ? { content: CONTENT } : {});
        assertValid(result);
        assert.equal(result.signature?.digestAlgorithm, md);
        assert.equal(result.signature?.detached, detached);
        assert.equal(result.attributes?.birth.era, "平成2年1月2日");
        if (!detached) assert.deepEqual(Buffer.from(result.content!), Buffer.from(CONTENT));
        if (md === "sha256") {
          // Tampered content → bad-signature; a detached one without its content → malformed-input.
          const changed = new TextEncoder().encode("令和8年分 確定申告書 / tax return 2027\n");
          if (detached) {
            assertCode(await verifier().verifyCms(der, { content: changed }), "bad-signature");
            assertCode(await verifier().verifyCms(der), "malformed-input", /the signature is detached: give the signed content too \(--content FILE/);
          } else {
            const i = Buffer.from(der).indexOf(Buffer.from("2026"));
            const tampered = der.slice();
            tampered[i + 3] = 0x37;
            assertCode(await verifier().verifyCms(tampered), "bad-signature");
          }
        }
      });
    }
  }

  test("a tampered signature value is bad-signature; garbage is malformed-input", async () => {
    const der = signCms(CONTENT, w.holder.sign.der, w.holder.signKey.privateKey);
    const tampered = der.slice();
    tampered[tampered.length - 10] ^= 0x01; // inside the signature, the last field
    assertCode(await verifier().verifyCms(tampered), "bad-signature");
    assertCode(await verifier().verifyCms(Uint8Array.of(0x30, 0x80, 0x00)), "malformed-input");
    // Not CMS at all (PEM, XML): named as such, not with the ASN.1 parser's internal complaint.
    assertCode(await verifier().verifyCms(new TextEncoder().encode("-----BEGIN CMS-----\nMIAG\n-----END CMS-----\n")), "malformed-input", /not a BER\/DER ContentInfo: it does not begin with a SEQUENCE/);
    // BER whose signer is named by a [0] key id of indefinite length: a refusal, not a thrown DER error.
    const berKeyId = Buffer.from("MIAGCSqGSIb3DQEHAqAiMCACAQExADALBgkqhkiG9w0BBwExDDAKAgEDoIAEAQEAAAAA", "base64");
    assertCode(await verifier().verifyCms(berKeyId), "malformed-input", /subjectKeyIdentifier is not a primitive definite-length \[0\]/);
  });

  test("a SignedData with a bag of certificates is refused before they are read (16 at most)", async () => {
    assertValid(await verifier().verifyCms(signCms(CONTENT, w.holder.sign.der, w.holder.signKey.privateKey, { certificateCopies: 16 })));
    assertCode(await verifier().verifyCms(signCms(CONTENT, w.holder.sign.der, w.holder.signKey.privateKey, { certificateCopies: 17 })), "malformed-input", /17 certificates; at most 16/);
  });

  test("a CMS made by the test signing helper verifies with the library and with openssl cms -verify", async () => {
    for (const detached of [false, true]) {
      const der = signCms(CONTENT, w.holder.sign.der, w.holder.signKey.privateKey, { detached });
      assertValid(await verifier().verifyCms(der, detached ? { content: CONTENT } : {}));
      tmp.write("helper.der", der);
      const r = openssl(
        ["cms", "-verify", "-inform", "DER", "-in", "helper.der", "-CAfile", "sign-root.pem", "-purpose", "any", "-binary", ...(detached ? ["-content", "content.txt"] : []), "-out", "out.txt"],
        tmp.dir,
      );
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, /Verification successful/);
      assert.deepEqual(readFileSync(`${tmp.dir}/out.txt`), Buffer.from(CONTENT));
    }
  });

  test("an authentication certificate's CMS is wrong-certificate-type by default, valid when auth is expected", async () => {
    const der = signCms(CONTENT, w.holder.auth.der, w.holder.authKey.privateKey);
    assertCode(await verifier().verifyCms(der), "wrong-certificate-type");
    assertValid(await verifier().verifyCms(der, { expectedType: "auth" }));
  });
});

describe("CMS signingTime: the certificate was valid when the signer says it signed", () => {
  /** An attached CMS with a signingTime (as prepareSignedAttributes writes it) and the signature value put in it. */
  function signedAt(when: Date): { der: Uint8Array; signature: Uint8Array } {
    const signedAttributes = prepareSignedAttributes({ content: CONTENT, signingTime: when, certificateDer: w.holder.sign.der });
    const signature = new Uint8Array(rsaSign(signedAttributes.hash, signedAttributes.signedAttrsDer, w.holder.signKey.privateKey));
    return { der: assembleSignedData({ signedAttributes, signature, certificateDer: w.holder.sign.der, content: CONTENT }), signature };
  }
  const validity = () => new X509Certificate(w.holder.sign.der);

  test("a signingTime before notBefore is not-yet-valid, after notAfter expired, and revocation is not asked", async () => {
    const cert = validity();
    const notBefore = new Date(cert.validFrom);
    const notAfter = new Date(cert.validTo);
    const ocsp = ocspFake(w);
    const v = verifierFor(w, { ocsp: { fetch: ocsp.fetch } });
    const early = await v.verifyCms(signedAt(new Date("2020-01-01T00:00:00Z")).der);
    assertCode(early, "not-yet-valid", /signingTime 2020-01-01T00:00:00\.000Z is outside the certificate's validity/);
    assert.deepEqual(!early.valid && early.detail, { signingTime: "2020-01-01T00:00:00.000Z", notBefore: notBefore.toISOString(), notAfter: notAfter.toISOString() });
    assert.equal(!early.valid && early.certificate?.serialHex.toUpperCase(), w.holder.sign.serialHex.toUpperCase());
    const late = await v.verifyCms(signedAt(new Date(notAfter.getTime() + 1000)).der);
    assertCode(late, "expired", /outside the certificate's validity/);
    assert.equal(ocsp.calls.length, 0, "a signature refused for its time asks no responder");
    // At the edges it is valid, and the time is reported.
    const first = await v.verifyCms(signedAt(notBefore).der);
    assertValid(first);
    assert.equal(first.signature?.signingTime, notBefore.toISOString());
    assertValid(await v.verifyCms(signedAt(notAfter).der));
  });

  test("a signingTime twice, with two values, or not a DER time is malformed-input (another reader might show a time never checked)", async () => {
    const utc = (text: string) => Uint8Array.from([0x17, text.length, ...Buffer.from(text, "latin1")]);
    const generalized = (text: string) => Uint8Array.from([0x18, text.length, ...Buffer.from(text, "latin1")]);
    const sign = (signingTimes: Uint8Array[][]) => signCms(CONTENT, w.holder.sign.der, w.holder.signKey.privateKey, { signingTimes });
    assertValid(await verifier().verifyCms(sign([[utc("261125030000Z")]])));
    assertCode(await verifier().verifyCms(sign([[utc("261125030000Z")], [utc("200101000000Z")]])), "malformed-input", /exactly one signingTime/);
    assertCode(await verifier().verifyCms(sign([[utc("261125030000Z"), utc("200101000000Z")]])), "malformed-input", /exactly one signingTime/);
    assertCode(await verifier().verifyCms(sign([[generalized("20200101000000.5Z")]])), "malformed-input", /signingTime is not a DER UTCTime or GeneralizedTime/);
    assertCode(await verifier().verifyCms(sign([[Uint8Array.of(0x04, 0x01, 0x00)]])), "malformed-input", /signingTime is not a DER UTCTime or GeneralizedTime/);
  });
});

describe("the signature value in the result", () => {
  test("CMS: the SignerInfo's signature, a copy", async () => {
    const signedAttributes = prepareSignedAttributes({ content: CONTENT, signingTime: new Date(), certificateDer: w.holder.sign.der });
    const signature = new Uint8Array(rsaSign(signedAttributes.hash, signedAttributes.signedAttrsDer, w.holder.signKey.privateKey));
    const der = assembleSignedData({ signedAttributes, signature, certificateDer: w.holder.sign.der, content: CONTENT });
    const r = await verifier().verifyCms(der);
    assertValid(r);
    assert.deepEqual(Buffer.from(r.signature!.value), Buffer.from(signature));
    der.fill(0); // the caller reuses its buffer
    assert.deepEqual(Buffer.from(r.signature!.value), Buffer.from(signature));
  });

  test("raw: the signature given, a copy", async () => {
    const challenge = new Uint8Array(32).fill(9);
    const signature = new Uint8Array(rsaSign("sha256", challenge, w.holder.authKey.privateKey));
    const r = await verifier().verifyRawSignature({ certificateDer: w.holder.auth.der, data: challenge, signature, expectedType: "auth" });
    assertValid(r);
    const expected = Buffer.from(signature);
    signature.fill(0);
    assert.deepEqual(Buffer.from(r.signature!.value), expected);
  });
});

describe("raw signatures", () => {
  test("a PKCS#1 v1.5 signature over a login challenge verifies with the auth certificate", async () => {
    const challenge = new Uint8Array(32).fill(7);
    const signature = rsaSign("sha256", challenge, w.holder.authKey.privateKey);
    const r = await verifier().verifyRawSignature({ certificateDer: w.holder.auth.der, data: challenge, signature, expectedType: "auth" });
    assertValid(r);
    assert.equal(r.signature?.format, "raw");
    assertCode(await verifier().verifyRawSignature({ certificateDer: w.holder.auth.der, data: new Uint8Array(32), signature, expectedType: "auth" }), "bad-signature");
    // A signing certificate used for login is refused.
    const s2 = rsaSign("sha256", challenge, w.holder.signKey.privateKey);
    assertCode(await verifier().verifyRawSignature({ certificateDer: w.holder.sign.der, data: challenge, signature: s2, expectedType: "auth" }), "wrong-certificate-type");
    const s384 = rsaSign("sha384", challenge, w.holder.signKey.privateKey);
    assertValid(await verifier().verifyRawSignature({ certificateDer: w.holder.sign.der, data: challenge, signature: s384, hash: "sha384" }));
  });
});

describe("XML", () => {
  const DOC = `<?xml version="1.0" encoding="UTF-8"?><申告書 xmlns="urn:example:etax"><氏名>山田 太郎</氏名><所得>5000000</所得></申告書>`;


  test("an enveloped signature made with xml-crypto verifies with the library and with xmlsec1", async () => {
    const signed = signXml(DOC, w.holder.sign.der, w.holder.signKey.privateKey);
    const r = await verifier().verifyXml(signed);
    assertValid(r);
    assert.equal(r.attributes?.name, "山田\u3000太郎");
    assert.equal(r.signature?.format, "xml");
    tmp.write("signed.xml", signed);
    const x = spawnSync("xmlsec1", ["--verify", "--trusted-pem", "sign-root.pem", "signed.xml"], { cwd: tmp.dir, encoding: "utf8" });
    assert.equal(x.status, 0, x.stderr);
    assert.match(x.stderr, /OK/);
  });

  test("tampered content is bad-signature; wrapping and a DOCTYPE are refused", async () => {
    const signed = signXml(DOC, w.holder.sign.der, w.holder.signKey.privateKey);
    assertCode(await verifier().verifyXml(signed.replace("5000000", "500")), "bad-signature");
    // A second Signature (wrapping attempt): refused before any digest is checked.
    const sigXml = /<Signature[\s\S]*<\/Signature>/.exec(signed)![0];
    assertCode(await verifier().verifyXml(signed.replace("<所得>", `<所得>${sigXml}`)), "malformed-input");
    // The signed document moved under a new root: the Signature is no longer enveloped by the document element.
    assertCode(await verifier().verifyXml(`<wrap>${signed.replace(/^<\?xml[^>]*\?>/, "")}</wrap>`), "malformed-input");
    assertCode(await verifier().verifyXml(`<!DOCTYPE x [<!ENTITY a "b">]>${signed.replace(/^<\?xml[^>]*\?>/, "")}`), "malformed-input");
    assertCode(await verifier().verifyXml("<a><b></a>"), "malformed-input");
    assertCode(await verifier().verifyXml(DOC), "malformed-input");
    // A processing instruction beside the document element is outside what the digest covers
    // (xmlsec1 refuses it too); the XML declaration itself is no such instruction.
    const styled = signed.startsWith("<?xml") ? signed.replace("?>", '?><?xml-stylesheet href="other.xsl"?>') : `<?xml-stylesheet href="other.xsl"?>${signed}`;
    assertCode(await verifier().verifyXml(styled), "malformed-input");
    assertCode(await verifier().verifyXml(`${signed}<?trailing instruction?>`), "malformed-input");
    assertValid(await verifier().verifyXml(signed.startsWith("<?xml") ? signed : `<?xml version="1.0" encoding="UTF-8"?>${signed}`));
  });

  test("an XML declaration naming another encoding than UTF-8 is malformed-input: it is not signed, and a reader following it reads other characters", async () => {
    const signed = signXml(DOC, w.holder.sign.der, w.holder.signKey.privateKey);
    assert.ok(signed.startsWith('<?xml version="1.0" encoding="UTF-8"?>'));
    for (const encoding of ["ISO-8859-1", "Shift_JIS", "UTF-16"]) {
      const r = await verifier().verifyXml(signed.replace('encoding="UTF-8"', `encoding='${encoding}'`));
      assertCode(r, "malformed-input", new RegExp(`XML declaration names encoding ${encoding}; only UTF-8`));
      assert.deepEqual(!r.valid && r.detail, { encoding });
    }
    assertValid(await verifier().verifyXml(signed.replace('encoding="UTF-8"', "encoding='utf-8'")));
    assertValid(await verifier().verifyXml(signed.replace(' encoding="UTF-8"', "")));
    assertValid(await verifier().verifyXml(signed.replace(/^<\?xml[^>]*\?>/, "")));
  });

  test("the result carries the signature value verified; a SignatureValue xml-crypto would read differently is refused", async () => {
    const signed = signXml(DOC, w.holder.sign.der, w.holder.signKey.privateKey);
    const text = /<SignatureValue>([^<]*)<\/SignatureValue>/.exec(signed)![1]!;
    const r = await verifier().verifyXml(signed);
    assertValid(r);
    assert.deepEqual(Buffer.from(r.signature!.value), Buffer.from(text, "base64"));
    assert.equal(r.signature!.value.length, 256);
    // Wrapped in lines, as some signers write it: the same value.
    const wrapped = signed.replace(text, text.replace(/(.{64})/g, "$1\n"));
    assert.notEqual(wrapped, signed);
    const w2 = await verifier().verifyXml(wrapped);
    assertValid(w2);
    assert.deepEqual(Buffer.from(w2.signature!.value), Buffer.from(text, "base64"));
    // xml-crypto takes the first text of the first element named SignatureValue: a second one
    // (here in KeyInfo, which the signature does not cover, placed first) or a comment splitting
    // the value would make the value verified differ from the one reported.
    const keyInfoFirst = signed
      .replace(/<SignatureValue>[^<]*<\/SignatureValue>/, `<SignatureValue>${Buffer.alloc(256, 1).toString("base64")}</SignatureValue>`)
      .replace(/(<KeyInfo>[\s\S]*<\/KeyInfo>)/, "")
      .replace("<SignatureValue>", `${/<KeyInfo>[\s\S]*<\/KeyInfo>/.exec(signed)![0].replace("<X509Data>", `<x:SignatureValue xmlns:x="urn:x">${text}</x:SignatureValue><X509Data>`)}<SignatureValue>`);
    assertCode(await verifier().verifyXml(keyInfoFirst), "malformed-input", /only one element named SignatureValue/);
    assertCode(await verifier().verifyXml(signed.replace(text, `${text.slice(0, 8)}<!-- -->${text.slice(8)}`)), "malformed-input", /only its base64 text/);
    assertCode(await verifier().verifyXml(signed.replace(text, `${text}!`)), "malformed-input", /SignatureValue is not base64/);
  });

  test("a KeyInfo certificate OpenSSL cannot parse (bad UTF-8 in the subject) is judged, not thrown: its altered bytes fail the chain", async () => {
    const cert = w.holder.sign.der.slice();
    const cn = Buffer.from(cert).indexOf(Buffer.from("0c", "hex"), Buffer.from(cert).indexOf(Buffer.from("550403", "hex"), 150)); // the subject's CN UTF8String
    cert[cn + 4] = 0xa8; // a lone continuation byte
    assert.throws(() => new X509Certificate(cert), "OpenSSL refuses this certificate");
    // Signed with the real certificate, then its KeyInfo copy swapped (the enveloped signature does not cover KeyInfo).
    const good = signXml(DOC, w.holder.sign.der, w.holder.signKey.privateKey);
    const signed = good.replace(Buffer.from(w.holder.sign.der).toString("base64"), Buffer.from(cert).toString("base64"));
    assert.notEqual(signed, good);
    const r = await verifier().verifyXml(signed);
    assert.equal(r.valid, false);
    assert.ok(!r.valid && r.code !== "malformed-input", !r.valid ? `${r.code}: ${r.message}` : "");
  });

  test("documents that would hold the event loop in xml-crypto are refused first, naming the limit", async () => {
    const signed = signXml(DOC, w.holder.sign.der, w.holder.signKey.privateKey);
    const body = (inner: string) => signed.replace("<所得>5000000</所得>", `<所得>5000000</所得>${inner}`);
    // 20,000 elements took 12 s before the limit; the certificate here is trusted, the digest wrong.
    assertCode(await verifier().verifyXml(body("<a>x</a>".repeat(2_000))), "malformed-input", /more than 2000 elements/);
    assertCode(await verifier().verifyXml(body(`${"<a>".repeat(101)}${"</a>".repeat(101)}`)), "malformed-input", /more than 100 deep/);
    let attrs = "";
    for (let i = 0; i < 10_001; i++) attrs += ` a${i}="1"`;
    assertCode(await verifier().verifyXml(body(`<a${attrs}/>`)), "malformed-input", /more than 10000 attributes/);
    // A third transform (each re-serialises the document): refused before any digest.
    const exc = '<Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>';
    assertCode(await verifier().verifyXml(signed.replace(exc, exc + exc)), "malformed-input", /each once/);
    // The digest work runs in a worker thread: with a larger element limit, the event loop keeps
    // turning while a big document is checked, and a time limit stops it.
    const big = body("<a>x</a>".repeat(6_000));
    // A generous time limit: on a busy shared host the check can take longer than the default 5 s,
    // and what this part checks is the event loop turning, not the limit (`hasty` below checks that).
    const roomy = verifierFor(w, { ocsp: { fetch: ocspFake(w).fetch } }, { limits: { xmlElements: 10_000, xmlMillis: 120_000 } });
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 5);
    const result = await roomy.verifyXml(big);
    clearInterval(ticker);
    assertCode(result, "bad-signature");
    assert.ok(ticks >= 3, `the event loop turned ${ticks} times while 6,000 elements were checked`);
    const hasty = verifierFor(w, { ocsp: { fetch: ocspFake(w).fetch } }, { limits: { xmlElements: 10_000, xmlMillis: 20 } });
    assertCode(await hasty.verifyXml(big), "malformed-input", /checking the digests took over 20 ms/);
    assertValid(await verifier().verifyXml(signed)); // the next document after a stopped worker: a new one checks it
    // One document in the worker and 16 waiting: more at once are refused rather than held in memory.
    const burst = await Promise.all(Array.from({ length: 20 }, () => verifier().verifyXml(signed)));
    const busy = burst.filter((r) => !r.valid && /already waiting/.test(r.message));
    assert.equal(busy.length, 3, burst.map((r) => (r.valid ? "valid" : r.message)).join("; "));
    assert.equal(burst.filter((r) => r.valid).length, 17);
    // Within the limits the same document verifies (and a larger limit can be chosen).
    const within = body("<a>x</a>".repeat(100));
    assertCode(await verifier().verifyXml(within), "bad-signature");
    assertValid(await verifier().verifyXml(signXml(within.replace(/<Signature[\s\S]*<\/Signature>/, ""), w.holder.sign.der, w.holder.signKey.privateKey)));
  });
});
