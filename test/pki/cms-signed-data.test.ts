// The two-step CMS SignedData builder and the external-signer XML signature, with a software key
// standing in for the card: structure (DER SET order, attributes, times), refusals, and OpenSSL /
// xmlsec1 accepting the result. The card itself is exercised in test/services/document-signing.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, KeyObject, sign as rsaSign, webcrypto } from "node:crypto";
import { readFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { SignedXml } from "xml-crypto";
import { assembleSignedData, CmsBuildError, prepareSignedAttributes } from "../../src/pki/cms-signed-data.ts";
import { signXmlEnveloped, XmlSignError, type ExternalXmlSigner } from "../../src/pki/xml-signature.ts";
import { DerCursor, TAG, contentOf, encodingOf } from "../../src/profile/der-reader.ts";
import { contextTag } from "../../src/pki/der.ts";
import { generateKey, makeCa, makeLeaf, openssl, tempDir, type TestCa, type TestCert, type TestKey } from "../helpers/test-pki.ts";

const CONTENT = new TextEncoder().encode("令和8年分 確定申告書 / tax return 2026\n");
const AT = new Date("2026-11-25T03:00:00.789Z");

let ca: TestCa;
let leaf: TestCert;
let leafKey: TestKey;
let other: TestKey;
let tmp: ReturnType<typeof tempDir>;

before(async () => {
  const caKey = await generateKey();
  leafKey = await generateKey();
  other = await generateKey();
  ca = await makeCa("C=JP, O=OpenJPKI test, CN=Signing CA", caKey);
  leaf = await makeLeaf(ca, { serialHex: "00f1e2d3c4b5a697", key: leafKey, cn: "signer" });
  tmp = tempDir("cms-build");
  tmp.write("ca.pem", ca.pem);
  tmp.write("leaf.pem", leaf.pem);
  tmp.write("content.txt", CONTENT);
});
after(() => tmp.dispose());

const privateKey = (k: TestKey): KeyObject => KeyObject.from(k.keys.privateKey as unknown as webcrypto.CryptoKey);

/** Attribute OIDs (dotted) and their encodings, in the order of the signed SET. */
function attributesOf(setDer: Uint8Array): { oid: string; der: Uint8Array }[] {
  const set = DerCursor.only(setDer, TAG.SET, "signedAttrs", { remaining: 1000 });
  const out: { oid: string; der: Uint8Array }[] = [];
  while (!set.done) {
    const a = set.next(TAG.SEQUENCE, "Attribute");
    const inner = set.into(a, "Attribute");
    const oidBytes = contentOf(setDer, inner.next(TAG.OID, "attrType"));
    out.push({ oid: Buffer.from(oidBytes).toString("hex"), der: encodingOf(setDer, a) });
  }
  return out;
}

describe("prepareSignedAttributes", () => {
  test("a DER-sorted SET of contentType, signingTime, messageDigest (+ signingCertificateV2), and its digest", () => {
    for (const hash of ["sha256", "sha384", "sha512"] as const) {
      const p = prepareSignedAttributes({ content: CONTENT, hash, signingTime: AT, certificateDer: leaf.der });
      assert.equal(p.signedAttrsDer[0], 0x31);
      assert.deepEqual(Buffer.from(p.contentDigest), createHash(hash).update(CONTENT).digest());
      assert.deepEqual(Buffer.from(p.signedAttrsDigest), createHash(hash).update(p.signedAttrsDer).digest());
      const attrs = attributesOf(p.signedAttrsDer);
      assert.equal(attrs.length, 4);
      for (let i = 1; i < attrs.length; i++) assert.ok(Buffer.compare(Buffer.from(attrs[i - 1]!.der), Buffer.from(attrs[i]!.der)) < 0, "ascending DER order");
      // 1.2.840.113549.1.9.3 / .4 / .5 and 1.2.840.113549.1.9.16.2.47
      assert.deepEqual(new Set(attrs.map((a) => a.oid)), new Set(["2a864886f70d010903", "2a864886f70d010904", "2a864886f70d010905", "2a864886f70d010910022f"]));
      assert.equal(p.signingTime.toISOString(), "2026-11-25T03:00:00.000Z", "whole seconds");
    }
    const plain = prepareSignedAttributes({ content: CONTENT, signingTime: AT });
    assert.equal(plain.hash, "sha256");
    assert.equal(attributesOf(plain.signedAttrsDer).length, 3);
    // UTCTime before 2050, GeneralizedTime from 2050 (RFC 5652 §11.3).
    assert.ok(Buffer.from(plain.signedAttrsDer).includes(Buffer.from("17 0d 3236313132353033303030305a".replace(/ /g, ""), "hex")));
    const late = prepareSignedAttributes({ content: CONTENT, signingTime: new Date("2050-01-01T00:00:00Z") });
    assert.ok(Buffer.from(late.signedAttrsDer).includes(Buffer.from("180f32303530303130313030303030305a", "hex")));
  });

  test("bad arguments are refused", () => {
    const bad = (f: () => unknown) => assert.throws(f, (e: unknown) => e instanceof CmsBuildError && e.code === "invalid-argument");
    bad(() => prepareSignedAttributes({ content: CONTENT, hash: "sha1" as never, signingTime: AT }));
    bad(() => prepareSignedAttributes({ content: "text" as never, signingTime: AT }));
    bad(() => prepareSignedAttributes({ content: CONTENT, signingTime: new Date(Number.NaN) }));
    bad(() => prepareSignedAttributes({ content: CONTENT, signingTime: AT, certificateDer: Uint8Array.of(0x30, 0x00) }));
  });
});

describe("assembleSignedData", () => {
  for (const hash of ["sha256", "sha384", "sha512"] as const) {
    test(`${hash}: attached and detached verify with openssl cms -verify (signer and CA certificates inside)`, () => {
      const prepared = prepareSignedAttributes({ content: CONTENT, hash, signingTime: AT, certificateDer: leaf.der });
      const signature = rsaSign(hash, prepared.signedAttrsDer, privateKey(leafKey));
      for (const detached of [false, true]) {
        const der = assembleSignedData({ signedAttributes: prepared, signature, certificateDer: leaf.der, extraCertificatesDer: [ca.der], content: CONTENT, detached });
        const file = tmp.write(`s-${hash}-${detached}.p7s`, der);
        const r = openssl(
          ["cms", "-verify", "-inform", "DER", "-in", file, "-CAfile", "ca.pem", "-purpose", "any", "-binary", ...(detached ? ["-content", "content.txt"] : []), "-out", "out.txt"],
          tmp.dir,
        );
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stderr, /Verification successful/);
        assert.deepEqual(readFileSync(`${tmp.dir}/out.txt`), Buffer.from(CONTENT));
        // Attached carries the content; detached does not.
        assert.equal(Buffer.from(der).includes(Buffer.from(CONTENT)), !detached);
      }
    });
  }

  test("the SignedData's shape: version 1, sid = issuerAndSerialNumber, [0] IMPLICIT signed attributes", () => {
    const prepared = prepareSignedAttributes({ content: CONTENT, signingTime: AT });
    const der = assembleSignedData({ signedAttributes: prepared, signature: rsaSign("sha256", prepared.signedAttrsDer, privateKey(leafKey)), certificateDer: leaf.der, content: CONTENT });
    const r = openssl(["cms", "-cmsout", "-print", "-inform", "DER", "-in", tmp.write("shape.p7s", der)], tmp.dir);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /d\.issuerAndSerialNumber:/);
    assert.ok(r.stdout.includes(`serialNumber: ${BigInt("0xf1e2d3c4b5a697")}\n`), "the leaf's serial as sid");
    assert.match(r.stdout, /signingTime/);
    // The signed attributes inside the SignerInfo are the prepared SET with tag A0.
    const inner = Buffer.from(prepared.signedAttrsDer);
    inner[0] = contextTag(0, true);
    assert.ok(Buffer.from(der).includes(inner));
  });

  test("refuses a signature by another key, changed content, a missing attached content and a different certificate", () => {
    const prepared = prepareSignedAttributes({ content: CONTENT, signingTime: AT, certificateDer: leaf.der });
    const good = rsaSign("sha256", prepared.signedAttrsDer, privateKey(leafKey));
    const code = (c: string) => (e: unknown) => e instanceof CmsBuildError && e.code === c;
    assert.throws(() => assembleSignedData({ signedAttributes: prepared, signature: rsaSign("sha256", prepared.signedAttrsDer, privateKey(other)), certificateDer: leaf.der, content: CONTENT }), code("bad-signature"));
    assert.throws(() => assembleSignedData({ signedAttributes: prepared, signature: good, certificateDer: leaf.der, content: new TextEncoder().encode("other") }), code("invalid-argument"));
    assert.throws(() => assembleSignedData({ signedAttributes: prepared, signature: good, certificateDer: leaf.der }), code("invalid-argument"));
    assert.throws(() => assembleSignedData({ signedAttributes: prepared, signature: good, certificateDer: ca.der, content: CONTENT }), code("certificate-mismatch"));
    // Detached needs no content.
    assert.ok(assembleSignedData({ signedAttributes: prepared, signature: good, certificateDer: leaf.der, detached: true }).length > 1000);
  });
});

describe("signXmlEnveloped", () => {
  const DOC = `<?xml version="1.0" encoding="UTF-8"?><申告書 xmlns="urn:example:etax"><氏名>山田 太郎</氏名><所得>5000000</所得></申告書>`;
  const softwareSigner =
    (key: TestKey): ExternalXmlSigner =>
    async ({ signedInfo, digest }) => {
      assert.deepEqual(Buffer.from(digest), createHash("sha256").update(signedInfo).digest());
      await new Promise((r) => setImmediate(r)); // really asynchronous
      return rsaSign("sha256", signedInfo, privateKey(key));
    };

  test("an async external signer gives an enveloped signature that xml-crypto and xmlsec1 accept", async () => {
    const signed = await signXmlEnveloped({ xml: DOC, certificateDer: leaf.der, signer: softwareSigner(leafKey) });
    assert.match(signed, /<Reference URI="">/);
    assert.match(signed, /xmldsig#enveloped-signature/);
    assert.match(signed, /<X509Certificate>/);
    const check = new SignedXml({ publicCert: leaf.pem, getCertFromKeyInfo: () => null });
    const sigNode = /<Signature[\s\S]*<\/Signature>/.exec(signed)![0];
    check.loadSignature(sigNode);
    assert.equal(check.checkSignature(signed), true);
    tmp.write("signed.xml", signed);
    const x = spawnSync("xmlsec1", ["--verify", "--trusted-pem", "ca.pem", "signed.xml"], { cwd: tmp.dir, encoding: "utf8" });
    assert.equal(x.status, 0, x.stderr);
    assert.match(x.stderr, /OK/);
  });

  test("a signature by the wrong key, a DOCTYPE, a signed document and garbage are refused", async () => {
    await assert.rejects(signXmlEnveloped({ xml: DOC, certificateDer: leaf.der, signer: softwareSigner(other) }), (e: unknown) => e instanceof XmlSignError && e.code === "bad-signature");
    await assert.rejects(
      signXmlEnveloped({ xml: DOC, certificateDer: leaf.der, signer: async () => Promise.reject(new Error("card removed")) }),
      /card removed/,
    );
    const signed = await signXmlEnveloped({ xml: DOC, certificateDer: leaf.der, signer: softwareSigner(leafKey) });
    for (const xml of [signed, `<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>`, "<a><b></a>", ""]) {
      await assert.rejects(signXmlEnveloped({ xml, certificateDer: leaf.der, signer: softwareSigner(leafKey) }), (e: unknown) => e instanceof XmlSignError && e.code === "malformed-xml");
    }
  });
});
