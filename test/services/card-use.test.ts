// Using the certificates (issue 8 §3, §5): card login with challenge–response, and the
// signing-password reset through an app reservation and a kiosk, with every refusal's reason.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { JpkiClient } from "../../src/client/jpki-client.ts";
import { signedChallenge } from "../../src/services/challenges.ts";
import { ServiceError } from "../../src/services/errors.ts";
import { openTestContext, type TestContext } from "../helpers/context.ts";
import type { IssuedCard } from "../../src/services/cards.ts";
import type { CardReader } from "../../src/readers/reader.ts";

let now = new Date("2026-11-25T03:00:00Z");
const clock = () => new Date(now);
const refused = (reason: string) => (e: unknown) => {
  assert.ok(e instanceof ServiceError, String(e));
  assert.equal(e.reason, reason, e.message);
  return true;
};

describe("card login and PIN reset", () => {
  let t: TestContext;
  let card: IssuedCard;
  let residentId: string;

  before(async () => {
    t = await openTestContext("sqlite", { clock });
    const resident = await t.context.registry.add({
      name: "町田 花子", birth: "1990-01-02", gender: "2", address: "東京都町田市森野２－２－２２", municipality: "132098",
    });
    residentId = resident.id;
    card = await t.context.cards.issue({ residentId, authPin: "1234", signPin: "ABC123" });
  });
  after(() => t.cleanup());

  test("login: PIN, signature over the challenge, path and OCSP → a session bound to the serial", async () => {
    const session = await t.context.cards.withReader(card.id, (reader) => t.context.portal.loginWithCard(reader, "1234"));
    const auth = card.certificates.find((c) => c.type === "auth")!;
    assert.equal(session.serialHex, auth.serialHex);
    assert.equal((await t.context.portal.session(session.id)).serialHex, auth.serialHex);
  });

  test("login refusals: replay, expired challenge, signing certificate, wrong PIN — each with its reason", async () => {
    await t.context.cards.withReader(card.id, async (reader) => {
      const client = new JpkiClient(reader);
      const { id, challenge } = await t.context.portal.challenge();
      assert.deepEqual(await client.verifyPin("auth", "1234"), { ok: true });
      const certificateDer = await client.readCertificate("auth");
      const signature = await client.sign("auth", signedChallenge("login", challenge));
      await t.context.portal.complete({ challengeId: id, certificateDer, signature });
      await assert.rejects(t.context.portal.complete({ challengeId: id, certificateDer, signature }), refused("challenge-used"));

      const late = await t.context.portal.challenge();
      now = new Date(now.getTime() + 301_000);
      const lateSignature = await client.sign("auth", signedChallenge("login", late.challenge));
      await assert.rejects(t.context.portal.complete({ challengeId: late.id, certificateDer, signature: lateSignature }), refused("challenge-expired"));

      const withSign = await t.context.portal.challenge();
      assert.deepEqual(await client.verifyPin("sign", "ABC123"), { ok: true });
      const signCert = await client.readCertificate("sign");
      const signSig = await client.sign("sign", signedChallenge("login", withSign.challenge));
      await assert.rejects(
        t.context.portal.complete({ challengeId: withSign.id, certificateDer: signCert, signature: signSig }),
        refused("wrong-certificate-type"),
      );
    });
    await assert.rejects(
      t.context.cards.withReader(card.id, (reader) => t.context.portal.loginWithCard(reader, "9999")),
      refused("wrong-pin"),
    );
    // The wrong try counted: one correct entry restores it.
    await t.context.cards.withReader(card.id, (reader) => t.context.portal.loginWithCard(reader, "1234"));
  });

  test("signing-password reset: blocked password, app reservation, kiosk within 24 h, new password works", async () => {
    // Block the signing password with 5 wrong tries.
    await t.context.cards.withReader(card.id, async (reader) => {
      const client = new JpkiClient(reader);
      for (let i = 0; i < 5; i++) await client.verifyPin("sign", "WRONG1");
      assert.equal(await client.triesLeft("sign"), 0);
    });
    // No reservation yet: the kiosk refuses.
    await assert.rejects(
      t.context.cards.withReader(card.id, (reader) => t.context.pinReset.resetAtKiosk(reader, { target: "sign", pin: "1234", newPin: "NEW999" })),
      refused("no-reservation"),
    );
    const reservation = await t.context.cards.withReader(card.id, (reader) => t.context.pinReset.reserve(reader, { target: "sign", pin: "1234" }));
    assert.equal(new Date(reservation.expiresAt).getTime() - now.getTime(), 24 * 3600_000);
    // A bad new password is refused without using the reservation.
    await assert.rejects(
      t.context.cards.withReader(card.id, (reader) => t.context.pinReset.resetAtKiosk(reader, { target: "sign", pin: "1234", newPin: "short" })),
      (e: unknown) => e instanceof ServiceError && e.field === "new-pin",
    );
    now = new Date(now.getTime() + 23 * 3600_000 + 59 * 60_000); // 23:59 later: still valid
    await t.context.cards.withReader(card.id, (reader) => t.context.pinReset.resetAtKiosk(reader, { target: "sign", pin: "1234", newPin: "new999" }));
    await t.context.cards.withReader(card.id, async (reader) => {
      const client = new JpkiClient(reader);
      assert.equal(await client.triesLeft("sign"), 5, "retry counter restored");
      assert.deepEqual(await client.verifyPin("sign", "NEW999"), { ok: true });
      assert.equal(await client.triesLeft("auth"), 3, "the authentication PIN was only verified");
    });
    await assert.rejects(
      t.context.cards.withReader(card.id, (reader) => t.context.pinReset.resetAtKiosk(reader, { target: "sign", pin: "1234", newPin: "NEW888" })),
      refused("reservation-used"),
    );
  });

  test("a reservation 24:01 old is refused; the reverse route is refused where not offered", async () => {
    await t.context.cards.withReader(card.id, (reader) => t.context.pinReset.reserve(reader, { target: "sign", pin: "1234" }));
    now = new Date(now.getTime() + 24 * 3600_000 + 60_000);
    await assert.rejects(
      t.context.cards.withReader(card.id, (reader) => t.context.pinReset.resetAtKiosk(reader, { target: "sign", pin: "1234", newPin: "NEW777" })),
      refused("reservation-expired"),
    );
    await assert.rejects(
      t.context.cards.withReader(card.id, (reader) => t.context.pinReset.reserve(reader, { target: "auth", pin: "NEW999" })),
      refused("route-not-offered"),
    );
  });

  test("the reverse route where offered (那覇市): auth PIN reset with the signing password", async () => {
    const resident = await t.context.registry.add({
      name: "那覇 太郎", birth: "1985-05-05", gender: "1", address: "沖縄県那覇市泉崎１－１－１", municipality: "472018",
    });
    const nahaCard = await t.context.cards.issue({ residentId: resident.id, authPin: "1111", signPin: "NAHA01" });
    await t.context.cards.withReader(nahaCard.id, (reader) => t.context.pinReset.reserve(reader, { target: "auth", pin: "NAHA01" }));
    await t.context.cards.withReader(nahaCard.id, (reader) => t.context.pinReset.resetAtKiosk(reader, { target: "auth", pin: "NAHA01", newPin: "2222" }));
    await t.context.cards.withReader(nahaCard.id, async (reader) => {
      assert.deepEqual(await new JpkiClient(reader).verifyPin("auth", "2222"), { ok: true });
    });
  });

  test("after a move the old card's signing certificate is refused as revoked; login still works", async () => {
    await t.context.events.changeAttributes(residentId, { address: "東京都町田市中町１－１" });
    await t.context.cards.withReader(card.id, (reader) => t.context.portal.loginWithCard(reader, "1234"));
    await t.context.events.endRegistration(residentId, { kind: "death" });
    await assert.rejects(
      t.context.cards.withReader(card.id, (reader) => t.context.portal.loginWithCard(reader, "1234")),
      refused("revoked"),
    );
  });

  test("no signing password is reset for a card without a valid signing certificate; a closed kiosk asks the card nothing", async () => {
    const resident = await t.context.registry.add({
      name: "町田 三郎", birth: "1975-07-07", gender: "1", address: "東京都町田市原町田１－１－１", municipality: "132098",
    });
    const authOnly = await t.context.cards.issue({ residentId: resident.id, authPin: "4321", noSign: true });
    await assert.rejects(
      t.context.cards.withReader(authOnly.id, (reader) => t.context.pinReset.reserve(reader, { target: "sign", pin: "4321" })),
      refused("no-certificate"),
    );
    // 23:30 JST: the kiosk is closed (06:30–23:00), so the reset is refused before the PIN is tried.
    now = new Date("2026-11-26T14:30:00Z");
    await assert.rejects(
      t.context.cards.withReader(card.id, (reader) => t.context.pinReset.resetAtKiosk(reader, { target: "sign", pin: "0000", newPin: "NEW555" })),
      refused("kiosk-closed"),
    );
    await t.context.cards.withReader(card.id, async (reader) => {
      assert.equal(await new JpkiClient(reader).triesLeft("auth"), 3, "no try spent on a closed kiosk");
    });
  });

  test("a card issued without the authentication certificate: the kiosk, login and the PIN-reset app say so (not 'PIN blocked')", async () => {
    now = new Date("2026-11-27T03:00:00Z"); // 12:00 JST: the kiosk is open
    const resident = await t.context.registry.add({
      name: "那覇 次郎", birth: "1980-08-08", gender: "1", address: "沖縄県那覇市泉崎１－１－１", municipality: "472018",
    });
    const signOnly = await t.context.cards.issue({ residentId: resident.id, noAuth: true, signPin: "NAHA02", kenhojoPin: "1111" });
    const withCard = <T>(body: (reader: CardReader) => Promise<T>) => t.context.cards.withReader(signOnly.id, body);
    await assert.rejects(withCard((reader) => t.context.kiosk.issue(reader, { pin: "1111", document: "juminhyo" })), refused("no-certificate"));
    await assert.rejects(withCard((reader) => t.context.portal.loginWithCard(reader, "1111")), refused("no-certificate"));
    // The signing password's reset needs the authentication certificate to prove the holder.
    await assert.rejects(withCard((reader) => t.context.pinReset.reserve(reader, { target: "sign", pin: "1111" })), refused("no-certificate"));
    // The reverse route (offered in Naha) proves with the signing password, but there is no authentication PIN to reset.
    await assert.rejects(withCard((reader) => t.context.pinReset.reserve(reader, { target: "auth", pin: "NAHA02" })), refused("no-certificate"));
    await withCard(async (reader) => {
      assert.equal(await new JpkiClient(reader).triesLeft("sign"), 5, "no try of the signing password was spent");
    });
  });
});

describe("PIN reset: the card's state, the PIN's form, a lost answer", () => {
  let t: TestContext;
  let noon = new Date("2026-12-02T03:00:00Z"); // 12:00 JST: the kiosk is open
  const at = () => new Date(noon);
  const staff = { actor: "staff:test", office: "machida-mnc" };

  before(async () => {
    t = await openTestContext("sqlite", { clock: at });
  });
  after(() => t.cleanup());

  async function newCard(name: string, authPin: string, signPin: string) {
    const resident = await t.context.registry.add({ name, birth: "1990-01-02", gender: "2", address: "東京都町田市森野２－２－２２", municipality: "132098" });
    return t.context.cards.issue({ residentId: resident.id, authPin, signPin });
  }
  const kioskAudits = async () =>
    (await t.context.store.db.selectFrom("audit_log").selectAll().execute()).filter((row) => JSON.stringify(row).includes("pin-reset.kiosk"));

  test("a suspended card (一時停止) is refused by the app and at the kiosk, as by the counter; lifted, the reservation serves", async () => {
    const card = await newCard("町田 一子", "1234", "ABC123");
    const reservation = await t.context.cards.withReader(card.id, (reader) => t.context.pinReset.reserve(reader, { target: "sign", pin: "1234" }));
    await t.context.counter.suspend({ cardId: card.id }, staff);
    await assert.rejects(
      t.context.cards.withReader(card.id, (reader) => t.context.pinReset.reserve(reader, { target: "sign", pin: "1234" })),
      refused("card-suspended"),
    );
    await assert.rejects(
      t.context.cards.withReader(card.id, (reader) => t.context.pinReset.resetAtKiosk(reader, { target: "sign", pin: "1234", newPin: "NEW123" })),
      refused("card-suspended"),
    );
    await t.context.counter.liftSuspension({ cardId: card.id, identity: { document: "my-number-card" } }, staff);
    const done = await t.context.cards.withReader(card.id, (reader) => t.context.pinReset.resetAtKiosk(reader, { target: "sign", pin: "1234", newPin: "NEW123" }));
    assert.equal(done.reservationId, reservation.id, "the refusal did not use the reservation");
    await t.context.cards.withReader(card.id, async (reader) => assert.deepEqual(await new JpkiClient(reader).verifyPin("sign", "NEW123"), { ok: true }));
  });

  test("a PIN typed in the wrong form is invalid input, and the card is not asked (ß is not SS)", async () => {
    const card = await newCard("町田 二子", "2345", "STRASSE1");
    const invalidPin = (e: unknown) => {
      assert.ok(e instanceof ServiceError, String(e));
      assert.equal(e.code, "invalid-input", e.message);
      assert.equal(e.reason, "invalid-pin");
      assert.equal(e.field, "pin");
      assert.match(e.message, /試行回数は減っていません.*no try was used/);
      return true;
    };
    const withCard = <T>(body: (reader: CardReader) => Promise<T>) => t.context.cards.withReader(card.id, body);
    await assert.rejects(withCard((reader) => t.context.pinReset.reserve(reader, { target: "sign", pin: "12a4" })), invalidPin);
    await assert.rejects(withCard((reader) => t.context.pinReset.resetAtKiosk(reader, { target: "sign", pin: "12345", newPin: "NEW123" })), invalidPin);
    await assert.rejects(withCard((reader) => t.context.portal.loginWithCard(reader, "abcd")), invalidPin);
    // A signing password the holder never chose is not reached by folding: "straße1" is not "STRASSE1".
    await assert.rejects(withCard((reader) => new JpkiClient(reader).verifyPin("sign", "straße1")), (e: unknown) => e instanceof Error && /6–16/.test(e.message));
    await withCard(async (reader) => {
      const client = new JpkiClient(reader);
      assert.equal(await client.triesLeft("auth"), 3);
      assert.equal(await client.triesLeft("sign"), 5);
    });
  });

  test("the reader fails after the new PIN went out: the reservation stays used and the attempt is audited as unknown", async () => {
    const card = await newCard("町田 三子", "3456", "ABC345");
    const before = (await kioskAudits()).length;
    await t.context.cards.withReader(card.id, (reader) => t.context.pinReset.reserve(reader, { target: "sign", pin: "3456" }));
    // The card applies SET PIN (00 2C 02 ..), then its answer is lost.
    const losesSetPinAnswer = (inner: CardReader): CardReader => ({
      name: "loses the SET PIN answer",
      connect: () => inner.connect(),
      reset: () => inner.reset(),
      disconnect: () => inner.disconnect(),
      async transmit(apdu) {
        const answer = await inner.transmit(apdu);
        if (apdu[1] === 0x2c && apdu[2] === 0x02) throw new Error("reader: card removed");
        return answer;
      },
    });
    await assert.rejects(
      t.context.cards.withReader(card.id, (reader) => t.context.pinReset.resetAtKiosk(losesSetPinAnswer(reader), { target: "sign", pin: "3456", newPin: "FIRST1" })),
      (e: unknown) => e instanceof ServiceError && e.code === "service-unavailable" && e.reason === "result-unknown" && /新しい暗証番号をお試しください/.test(e.message),
    );
    await t.context.cards.withReader(card.id, async (reader) => assert.deepEqual(await new JpkiClient(reader).verifyPin("sign", "FIRST1"), { ok: true }, "the card did set it"));
    const audits = (await kioskAudits()).slice(before);
    assert.equal(audits.length, 1);
    assert.equal(JSON.parse(String(audits[0]!.after)).outcome, "unknown");
    await assert.rejects(
      t.context.cards.withReader(card.id, (reader) => t.context.pinReset.resetAtKiosk(reader, { target: "sign", pin: "3456", newPin: "SECOND2" })),
      refused("reservation-used"),
    );
  });

  test("a card's refusal of SET PIN leaves the reservation usable", async () => {
    const card = await newCard("町田 四子", "4567", "ABC456");
    const reservation = await t.context.cards.withReader(card.id, (reader) => t.context.pinReset.reserve(reader, { target: "sign", pin: "4567" }));
    const refusesSetPin = (inner: CardReader): CardReader => ({
      name: "card refuses SET PIN",
      connect: () => inner.connect(),
      reset: () => inner.reset(),
      disconnect: () => inner.disconnect(),
      transmit: (apdu) => (apdu[1] === 0x2c && apdu[2] === 0x02 ? Promise.resolve(Uint8Array.of(0x69, 0x82)) : inner.transmit(apdu)),
    });
    await assert.rejects(
      t.context.cards.withReader(card.id, (reader) => t.context.pinReset.resetAtKiosk(refusesSetPin(reader), { target: "sign", pin: "4567", newPin: "NEW456" })),
      /6982/,
    );
    const done = await t.context.cards.withReader(card.id, (reader) => t.context.pinReset.resetAtKiosk(reader, { target: "sign", pin: "4567", newPin: "NEW456" }));
    assert.equal(done.reservationId, reservation.id);
  });

  test("reservations expired over a week ago are deleted as new ones are made (hourly at most)", async () => {
    const card = await newCard("町田 五子", "5678", "ABC567");
    const count = async () => (await t.context.store.db.selectFrom("pin_reset_reservations").select("id").execute()).length;
    const reserve = () => t.context.cards.withReader(card.id, (reader) => t.context.pinReset.reserve(reader, { target: "sign", pin: "5678" }));
    await reserve();
    const before = await count();
    noon = new Date(noon.getTime() + 8 * 24 * 3600_000 + 3600_000); // 8 days on: everything made before expired over a week ago
    await reserve();
    assert.equal(await count(), 1, `${before} old reservations, then only the new one`);
    // The new one serves.
    await t.context.cards.withReader(card.id, (reader) => t.context.pinReset.resetAtKiosk(reader, { target: "sign", pin: "5678", newPin: "NEW567" }));
  });
});
