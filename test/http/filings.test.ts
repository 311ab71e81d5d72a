// The e-Tax-style signed filing over the real HTTP server: a return signed on the card (XML
// signature and CMS), verified with the library including OCSP, stored with the signer's four
// attributes; after a move the old card's new filing is refused as revoked.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startServer, type RunningServer } from "../../src/http/server.ts";
import { signCmsOnCard, signXmlOnCard } from "../../src/services/document-signing.ts";
import { openTestContext, type TestContext } from "../helpers/context.ts";
import type { IssuedCard } from "../../src/services/cards.ts";

const RETURN = `<?xml version="1.0" encoding="UTF-8"?><Return xmlns="urn:openjpki:demo:return"><Year>2026</Year><Income>5400000</Income><Deductions>480000</Deductions></Return>`;

describe("signed filing (e-Tax style) over HTTP", () => {
  let t: TestContext;
  let server: RunningServer;
  let card: IssuedCard;
  let residentId: string;

  const submit = async (body: unknown) => {
    const res = await fetch(`${server.url}/api/filings`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as any };
  };

  before(async () => {
    t = await openTestContext("sqlite");
    server = await startServer(t.context, { host: "127.0.0.1", port: 0, handleSignals: false });
    const resident = await t.context.registry.add({
      name: "町田 花子", birth: "1990-01-02", gender: "2", address: "東京都町田市森野２－２－２２", municipality: "132098",
    });
    residentId = resident.id;
    card = await t.context.cards.issue({ residentId, authPin: "1234", signPin: "ABC123" });
  });
  after(async () => {
    await server.close();
    await t.cleanup();
  });

  test("an XML return signed on the card is accepted and shows the signer's four attributes", async () => {
    const signed = await signXmlOnCard(t.context.cards, { cardId: card.id, pin: "ABC123", xml: RETURN });
    const res = await submit({ format: "xml", document: signed.xml });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.status, "accepted");
    const attributes = res.body.verification.attributes;
    assert.equal(attributes.name, "町田　花子");
    assert.equal(attributes.address, "東京都町田市森野２－２－２２");
    assert.equal(attributes.birth.western, "1990-01-02");
    assert.equal(attributes.birth.era, "平成2年1月2日");
    assert.equal(attributes.gender.code, "2");
    assert.equal(res.body.verification.revocation.method, "ocsp");
    assert.equal(res.body.verification.revocation.status, "good");
    const stored = await fetch(`${server.url}/api/filings/${res.body.id}`);
    assert.equal(((await stored.json()) as any).status, "accepted");
    // A byte-order mark in front (Windows tools write one) is read past, as the CLI reading the file does;
    // it is the same signature, so the answer is the filing already accepted (200), not a new one.
    const withBom = await submit({ format: "xml", document: `\uFEFF${signed.xml}` });
    assert.equal(withBom.status, 200, JSON.stringify(withBom.body));
    assert.equal(withBom.body.status, "accepted", JSON.stringify(withBom.body));
    assert.equal(withBom.body.id, res.body.id);
  });

  test("a CMS return (detached) is accepted; tampered content is refused and stored as refused", async () => {
    const content = new Uint8Array(Buffer.from(RETURN));
    const signed = await signCmsOnCard(t.context.cards, { cardId: card.id, pin: "ABC123", content, detached: true });
    const ok = await submit({ format: "cms", document: Buffer.from(signed.der).toString("base64"), content: Buffer.from(content).toString("base64") });
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    const tampered = await submit({
      format: "cms",
      document: Buffer.from(signed.der).toString("base64"),
      content: Buffer.from(RETURN.replace("5400000", "540000")).toString("base64"),
    });
    assert.equal(tampered.status, 422);
    assert.equal(tampered.body.reason, "bad-signature");
  });

  test("after a move, a new filing signed with the old card is refused as revoked", async () => {
    await t.context.events.changeAttributes(residentId, { address: "東京都町田市中町１－１" });
    const signed = await signXmlOnCard(t.context.cards, { cardId: card.id, pin: "ABC123", xml: RETURN });
    const res = await submit({ format: "xml", document: signed.xml });
    assert.equal(res.status, 422);
    assert.equal(res.body.reason, "revoked");
    assert.equal(res.body.verification.detail.reason, "affiliationChanged");
    const list = (await (await fetch(`${server.url}/api/filings`)).json()) as any;
    assert.equal(list.filings.length, 4); // the accepted one (its BOM copy is the same filing), the CMS one, the tampered one, this
  });
});
