// Review of the e-Tax-style filing relying party (src/services/filings.ts, src/http/routes/filings.ts)
// and of signing on the card: replays, what is stored being what was signed, refusing the
// authentication certificate, limits and error answers.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, X509Certificate } from "node:crypto";
import { spawnSync } from "node:child_process";
import { startServer, type RunningServer } from "../../src/http/server.ts";
import { JpkiClient } from "../../src/client/jpki-client.ts";
import { assembleSignedData, prepareSignedAttributes } from "../../src/pki/cms-signed-data.ts";
import { signCmsOnCard, signXmlOnCard } from "../../src/services/document-signing.ts";
import { ServiceError } from "../../src/services/errors.ts";
import { ownVerifier } from "../../src/services/trust.ts";
import { readSignedData } from "../../src/verify/cms.ts";
import { backends, openTestContext, type TestContext } from "../helpers/context.ts";
import { tempDir } from "../helpers/test-pki.ts";

const NOW = "2026-11-25T03:00:00Z";
const PIN = "ABC123";
const RETURN = `<?xml version="1.0" encoding="UTF-8"?><Return xmlns="urn:openjpki:demo:return"><Year>2026</Year><Income>5400000</Income></Return>`;

let t: TestContext;
let server: RunningServer;
let cardId: string;

async function submit(body: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${server.url}/api/filings`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as any };
}

async function count(): Promise<number> {
  const row = await t.context.store.db.selectFrom("filings").select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
  return Number(row.n);
}

before(async () => {
  t = await openTestContext("sqlite", { now: NOW });
  server = await startServer(t.context, { host: "127.0.0.1", port: 0, handleSignals: false });
  const resident = await t.context.registry.add({ name: "町田 花子", birth: "1990-01-02", gender: "2", address: "東京都町田市森野２－２－２２", municipality: "132098" });
  cardId = (await t.context.cards.issue({ residentId: resident.id, authPin: "1234", signPin: PIN })).id;
});
after(async () => {
  await server.close();
  await t.cleanup();
});

describe("replays: the same signed document filed again", () => {
  test("XML: a second submission (also with a byte-order mark) records nothing new and answers the first filing", async () => {
    const signed = await signXmlOnCard(t.context.cards, { cardId, pin: PIN, xml: RETURN.replace("5400000", "1111111") });
    const first = await submit({ format: "xml", document: signed.xml });
    assert.equal(first.status, 201, JSON.stringify(first.body));
    // The id comes from the signature value as the document spells it (so filings stored before
    // the verifier reported the value are still found), and the record keeps no bytes of it.
    const value = Buffer.from(/<(?:ds:)?SignatureValue>([^<]*)</.exec(signed.xml)![1]!.replace(/\s+/g, ""), "base64");
    assert.equal(first.body.id, `F-${createHash("sha256").update("openjpki filing\0").update(value).digest("hex").slice(0, 24).toUpperCase()}`);
    assert.deepEqual(Object.keys(first.body.verification.signature).sort(), ["digestAlgorithm", "format"]);
    const before = await count();
    for (const document of [signed.xml, `\uFEFF${signed.xml}`]) {
      const again = await submit({ format: "xml", document });
      assert.equal(again.status, 200, JSON.stringify(again.body));
      assert.equal(again.body.id, first.body.id);
      assert.equal(again.body.status, "accepted");
      assert.equal(again.body.duplicate, true);
    }
    assert.equal(await count(), before, "no second record");
  });

  test("CMS: the same signature again (attached, or detached with its content) is the first filing", async () => {
    const content = new TextEncoder().encode(RETURN.replace("5400000", "2222222"));
    const signed = await signCmsOnCard(t.context.cards, { cardId, pin: PIN, content, detached: true, clock: t.context.clock });
    const body = { format: "cms", document: Buffer.from(signed.der).toString("base64"), content: Buffer.from(content).toString("base64") };
    const first = await submit(body);
    assert.equal(first.status, 201, JSON.stringify(first.body));
    const signatureValue = readSignedData(signed.der).signers[0]!.signature;
    assert.equal(first.body.id, `F-${createHash("sha256").update("openjpki filing\0").update(signatureValue).digest("hex").slice(0, 24).toUpperCase()}`);
    assert.deepEqual(Object.keys(first.body.verification.signature).sort(), ["detached", "digestAlgorithm", "format", "signingTime"]);
    const again = await submit(body);
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.equal(again.body.id, first.body.id);
    assert.equal(again.body.content, undefined, "the answer carries no stored bytes");
    // The detached content is kept with its SignedData: the filing verifies again from the store alone.
    const stored = await t.context.filings.get(first.body.id);
    assert.deepEqual(Buffer.from(stored.content!), Buffer.from(content));
    const reverified = await ownVerifier(t.context.ca, t.context.ocsp, t.context.clock).verifyCms(stored.document, { expectedType: "sign", content: stored.content! });
    assert.equal(reverified.valid, true, JSON.stringify(reverified));
  });

  test("parallel submissions of one document record it once", async () => {
    const signed = await signXmlOnCard(t.context.cards, { cardId, pin: PIN, xml: RETURN.replace("5400000", "3333333") });
    const before = await count();
    const answers = await Promise.all([1, 2, 3].map(() => t.context.filings.submit({ format: "xml", document: new Uint8Array(Buffer.from(signed.xml)) })));
    assert.equal(new Set(answers.map((a) => a.id)).size, 1);
    assert.equal(await count(), before + 1);
  });
});

for (const backend of backends().filter((b) => b === "postgres")) {
  test(`${backend}: parallel submissions of one signed document record it once`, async () => {
    const pg = await openTestContext(backend, { now: NOW });
    try {
      const resident = await pg.context.registry.add({ name: "町田 一郎", birth: "1990-01-02", gender: "1", address: "東京都町田市森野２－２－２２", municipality: "132098" });
      const card = await pg.context.cards.issue({ residentId: resident.id, authPin: "1234", signPin: PIN });
      const signed = await signXmlOnCard(pg.context.cards, { cardId: card.id, pin: PIN, xml: RETURN });
      const answers = await Promise.all([1, 2, 3].map(() => pg.context.filings.submit({ format: "xml", document: new Uint8Array(Buffer.from(signed.xml)) })));
      assert.equal(new Set(answers.map((a) => a.id)).size, 1);
      assert.equal(answers.filter((a) => a.duplicate).length, 2);
      assert.equal((await pg.context.filings.list()).length, 1);
    } finally {
      await pg.cleanup();
    }
  });
}

describe("what is stored is what was signed", () => {
  test("bytes that are not UTF-8 are refused (they would be stored, but a U+FFFD was verified)", async () => {
    const signed = await signXmlOnCard(t.context.cards, { cardId, pin: PIN, xml: RETURN.replace("</Year>", "</Year><Note>\uFFFD</Note>") });
    const bytes = Buffer.from(signed.xml, "utf8");
    const at = bytes.indexOf(Buffer.from("\uFFFD", "utf8"));
    const altered = Buffer.concat([bytes.subarray(0, at), Buffer.from([0xff]), bytes.subarray(at + 3)]);
    await assert.rejects(t.context.filings.submit({ format: "xml", document: new Uint8Array(altered) }), (e: unknown) => {
      assert.ok(e instanceof ServiceError, String(e));
      assert.equal(e.code, "invalid-input");
      assert.equal(e.field, "document");
      assert.match(e.message, / \/ /);
      return true;
    });
  });

  test("a document declaring an encoding other than UTF-8 is refused by the verifier and recorded (it is read as UTF-8; the declaration is not signed)", async () => {
    const signed = await signXmlOnCard(t.context.cards, { cardId, pin: PIN, xml: RETURN.replace("5400000", "4444444") });
    const relabelled = signed.xml.replace('encoding="UTF-8"', 'encoding="ISO-8859-1"');
    assert.notEqual(relabelled, signed.xml);
    const before = await count();
    const res = await submit({ format: "xml", document: relabelled });
    assert.equal(res.status, 422, JSON.stringify(res.body));
    assert.equal(res.body.status, "refused");
    assert.equal(res.body.reason, "malformed-input");
    assert.match(res.body.verification.message, /XML declaration names encoding ISO-8859-1; only UTF-8/);
    assert.equal(await count(), before + 1, "recorded as a refused filing");
    const stored = await t.context.filings.get(res.body.id);
    assert.equal(stored.status, "refused");
    assert.equal(stored.document.length, 0, "a refusal keeps no document");
  });

  test("the signer refuses to sign a document declaring an encoding other than UTF-8, before the card is asked", async () => {
    await assert.rejects(
      signXmlOnCard(t.context.cards, { cardId, pin: "WRONG1", xml: `<?xml version="1.0" encoding="Shift_JIS"?><a>b</a>` }),
      (e: unknown) => e instanceof ServiceError && e.reason === "invalid-document",
    );
    assert.equal(await t.context.cards.withReader(cardId, (reader) => new JpkiClient(reader).triesLeft("sign")), 5);
  });
});

describe("processing instructions outside the document element (not covered by the signature)", () => {
  test("one added after signing is refused (xmlsec1 refuses the document too); the signer refuses to sign one", async () => {
    const signed = await signXmlOnCard(t.context.cards, { cardId, pin: PIN, xml: RETURN.replace("5400000", "6666666") });
    const styled = signed.xml.replace("?>", '?><?xml-stylesheet type="text/xsl" href="https://evil.example/show-other-figures.xsl"?>');
    const tmp = tempDir("filing-pi");
    try {
      tmp.write("ca.pem", new X509Certificate(t.context.ca.authority("sign").certificateDer).toString());
      tmp.write("styled.xml", styled);
      const x = spawnSync("xmlsec1", ["--verify", "--trusted-pem", "ca.pem", "styled.xml"], { cwd: tmp.dir, encoding: "utf8" });
      assert.notEqual(x.status, 0, "xmlsec1 says the signature does not cover this document");
    } finally {
      tmp.dispose();
    }
    const before = await count();
    const res = await submit({ format: "xml", document: styled });
    assert.equal(res.status, 422, JSON.stringify(res.body));
    assert.equal(res.body.reason, "malformed-input");
    assert.match(res.body.verification.message, /xml-stylesheet/);
    assert.equal(await count(), before + 1, "recorded as a refused filing");

    await assert.rejects(
      signXmlOnCard(t.context.cards, { cardId, pin: "WRONG1", xml: `<?xml version="1.0"?><?xml-stylesheet href="a.xsl"?><a>b</a>` }),
      (e: unknown) => e instanceof ServiceError && e.reason === "invalid-document",
    );
    assert.equal(await t.context.cards.withReader(cardId, (reader) => new JpkiClient(reader).triesLeft("sign")), 5);
  });
});

describe("the certificate", () => {
  test("a CMS whose signingTime is before the certificate was issued is refused (not-yet-valid at signing time)", async () => {
    const content = new TextEncoder().encode(RETURN.replace("5400000", "7777777"));
    const signed = await signCmsOnCard(t.context.cards, { cardId, pin: PIN, content, signingTime: new Date("2020-01-01T00:00:00Z") });
    const res = await submit({ format: "cms", document: Buffer.from(signed.der).toString("base64") });
    assert.equal(res.status, 422, JSON.stringify(res.body));
    assert.equal(res.body.reason, "not-yet-valid");
    assert.equal(res.body.verification.detail.signingTime, "2020-01-01T00:00:00.000Z");
  });

  test("a CMS signed with the authentication key is refused as wrong-certificate-type", async () => {
    const content = new TextEncoder().encode(RETURN);
    const der = await t.context.cards.withReader(cardId, async (reader) => {
      const client = new JpkiClient(reader);
      const certificateDer = await client.readCertificate("auth");
      const prepared = prepareSignedAttributes({ content, signingTime: t.context.clock(), certificateDer });
      const signature = await client.sign("auth", prepared.signedAttrsDigest, { prehashed: true, pin: "1234" });
      return assembleSignedData({ signedAttributes: prepared, signature, certificateDer, content });
    });
    const res = await submit({ format: "cms", document: Buffer.from(der).toString("base64") });
    assert.equal(res.status, 422);
    assert.equal(res.body.reason, "wrong-certificate-type");
  });
});

describe("limits and error answers", () => {
  test("a document over 256 KiB: 400 naming the field, in Japanese and English", async () => {
    const res = await submit({ format: "xml", document: `<a>${"x".repeat(270_000)}</a>` });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.field, "document");
    assert.match(res.body.error.message, /^document: .*[\u3040-\u30ff\u4e00-\u9fff].* \/ /);
  });

  test("a CMS document that is not base64 is a 400 naming the field, not a refused filing", async () => {
    const before = await count();
    const res = await submit({ format: "cms", document: "this is not base64!" });
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.body.error.field, "document");
    const content = await submit({ format: "cms", document: "MAA=", content: "***" });
    assert.equal(content.status, 400, JSON.stringify(content.body));
    assert.equal(content.body.error.field, "content");
    assert.equal(await count(), before);
  });

  test("content with an XML filing is a 400 naming content (it would be ignored)", async () => {
    const res = await submit({ format: "xml", document: RETURN, content: "AAAA" });
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.body.error.field, "content");
  });

  test("an unknown filing: 404 in Japanese and English", async () => {
    const res = await fetch(`${server.url}/api/filings/F-000000000000`);
    assert.equal(res.status, 404);
    const body = (await res.json()) as any;
    assert.match(body.error.message, /[\u3040-\u30ff\u4e00-\u9fff].* \/ /);
  });

  test("the list takes ?limit (1–500), refuses anything else, and is newest first", async () => {
    const two = (await (await fetch(`${server.url}/api/filings?limit=2`)).json()) as any;
    assert.equal(two.filings.length, 2);
    for (const limit of ["0", "-1", "abc", "501"]) {
      const res = await fetch(`${server.url}/api/filings?limit=${limit}`);
      assert.equal(res.status, 400, limit);
    }
    for (const limit of [0, -1, Number.NaN, 1.5]) {
      await assert.rejects(t.context.filings.list(limit), (e: unknown) => e instanceof ServiceError && e.code === "invalid-input", String(limit));
    }
  });

  test("the received digest is of the bytes received", async () => {
    const signed = await signXmlOnCard(t.context.cards, { cardId, pin: PIN, xml: RETURN.replace("5400000", "5555555") });
    const bytes = new Uint8Array(Buffer.from(signed.xml));
    const filing = await t.context.filings.submit({ format: "xml", document: bytes });
    assert.equal(filing.received?.sha256, createHash("sha256").update(bytes).digest("hex"));
  });
});

describe("signing on the card: refusals before the password is tried", () => {
  test("content over the CMS limit is refused as invalid-document and costs no try (it failed after the password before)", async () => {
    // Zero-filled and never read: the pages are not touched.
    const huge = new Uint8Array(256 * 1024 * 1024 + 1);
    await assert.rejects(signCmsOnCard(t.context.cards, { cardId, pin: "WRONG1", content: huge }), (e: unknown) => {
      assert.ok(e instanceof ServiceError, String(e));
      assert.equal(e.reason, "invalid-document");
      assert.match(e.message, / \/ /);
      return true;
    });
    assert.equal(await t.context.cards.withReader(cardId, (reader) => new JpkiClient(reader).triesLeft("sign")), 5);
  });
});
