// A card of the data directory used as its holder would from a PC (`openjpki card show`, `read-cert`,
// `sign`, `verify-pin`): each operation a session of APDUs through an in-process reader.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { verify, X509Certificate } from "node:crypto";
import { CardError } from "../../src/client/jpki-client.ts";
import { readCardCertificate, readChipState, signOnCard, verifyCardPin } from "../../src/services/card-session.ts";
import { CARD_PINS, openTestContextWithCard, type TestContextWithCard } from "../helpers/context.ts";

describe("card sessions", () => {
  let t: TestContextWithCard;
  before(async () => {
    t = await openTestContextWithCard("2026-11-25T03:00:00Z");
  });
  after(() => t.cleanup());

  test("without a PIN: the token, the authentication certificate and the tries left", async () => {
    const state = await readChipState(t.context.cards, t.card.id);
    assert.ok(state.token.length > 0);
    assert.deepEqual(Buffer.from(state.authCertificate!), Buffer.from(t.card.certificates.find((c) => c.type === "auth")!.der));
    assert.deepEqual(state.triesLeft, { auth: 3, sign: 5, kenhojo: 3 });
  });

  test("certificates: the CA's without a PIN, the signing certificate with the signing password", async () => {
    const authCa = await readCardCertificate(t.context.cards, t.card.id, "auth-ca");
    assert.deepEqual(Buffer.from(authCa), Buffer.from(t.context.ca.authority("auth").certificateDer));
    const sign = await readCardCertificate(t.context.cards, t.card.id, "sign", CARD_PINS.sign);
    assert.deepEqual(Buffer.from(sign), Buffer.from(t.card.certificates.find((c) => c.type === "sign")!.der));
  });

  test("an empty signing password is refused as such, not sent as no password (which the card answers 6982)", async () => {
    await assert.rejects(
      readCardCertificate(t.context.cards, t.card.id, "sign", ""),
      (e: unknown) => e instanceof CardError && e.code === "invalid-argument" && /signing password/.test(e.message),
    );
  });

  test("a signature by the card's key verifies with its certificate", async () => {
    const data = Buffer.from("申請書");
    const signature = await signOnCard(t.context.cards, t.card.id, "auth", data, { hash: "sha256", pin: CARD_PINS.auth });
    const certificate = new X509Certificate(t.card.certificates.find((c) => c.type === "auth")!.der);
    assert.ok(verify("sha256", data, certificate.publicKey, signature));
  });

  test("a PIN check says right or wrong, and the tries left afterwards", async () => {
    assert.deepEqual(await verifyCardPin(t.context.cards, t.card.id, "auth", CARD_PINS.auth), { outcome: { ok: true }, triesLeft: 3 });
    const wrong = await verifyCardPin(t.context.cards, t.card.id, "sign", "WRONG1");
    assert.deepEqual(wrong, { outcome: { ok: false, blocked: false, triesLeft: 4 }, triesLeft: 4 });
    assert.equal((await readChipState(t.context.cards, t.card.id)).triesLeft.sign, 4);
  });
});
