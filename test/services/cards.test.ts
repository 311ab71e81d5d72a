// Issuance onto a virtual card at a counter terminal (DESIGN path 1), on each back end: keys made
// on the card, certificates written back, PINs set — and everything checked through the card's APDUs.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { verify, X509Certificate } from "node:crypto";
import { JpkiClient } from "../../src/client/jpki-client.ts";
import { ServiceError } from "../../src/services/errors.ts";
import { isValidMyNumber, myNumberCheckDigit } from "../../src/profile/my-number.ts";
import { backends, openTestContext, type TestContext } from "../helpers/context.ts";

describe("My Number check digit", () => {
  test("matches the ordinance's formula on hand-computed numbers", () => {
    // 12345678901: weights from the right 2..7,2..6 → Σ = 1·2+0·3+9·4+8·5+7·6+6·7+5·2+4·3+3·4+2·5+1·6 = 212; 212 mod 11 = 3 → 8.
    assert.equal(myNumberCheckDigit("12345678901"), 8);
    assert.ok(isValidMyNumber("123456789018"));
    assert.ok(!isValidMyNumber("123456789012"));
    // Σ mod 11 ≤ 1 gives 0: 00000000001 → 1·2 = 2 → 9; 00000000000 → 0 → 0.
    assert.equal(myNumberCheckDigit("00000000000"), 0);
    assert.equal(myNumberCheckDigit("00000000001"), 9);
  });
});

for (const backend of backends()) {
  describe(`card issuance on ${backend}`, () => {
    let t: TestContext;
    let clockNow = new Date("2026-11-25T03:00:00Z");
    before(async () => {
      t = await openTestContext(backend, { clock: () => clockNow });
    });
    after(() => t.cleanup());

    test("an adult's card holds both certificates, made for keys generated on the card", async () => {
      const resident = await t.context.registry.add({
        name: "町田 花子", birth: "1990-01-02", gender: "2", address: "東京都町田市森野２－２－２２", municipality: "132098",
      });
      const card = await t.context.cards.issue({ residentId: resident.id, authPin: "1234", signPin: "pass1234", myNumber: "123456789018" });
      assert.equal(card.status, "active");
      assert.equal(card.expires, "2036-01-02", "10th birthday after issuance for an adult");
      assert.deepEqual(card.certificates.map((c) => [c.type, c.cardId, c.expires]), [
        ["auth", card.id, "2031-01-02"],
        ["sign", card.id, "2031-01-02"],
      ]);

      await t.context.cards.withReader(card.id, async (reader) => {
        const client = new JpkiClient(reader);
        const authDer = await client.readCertificate("auth");
        assert.deepEqual(Buffer.from(authDer), Buffer.from(card.certificates[0]!.der));
        assert.deepEqual(Buffer.from(await client.readCertificate("auth-ca")), Buffer.from(t.context.ca.authority("auth").certificateDer));
        assert.deepEqual(Buffer.from(await client.readCertificate("sign-ca")), Buffer.from(t.context.ca.authority("sign").certificateDer));
        assert.equal(await client.triesLeft("auth"), 3);
        assert.equal(await client.triesLeft("sign"), 5);
        // The signing password was upper-cased by the policy.
        const signDer = await client.readCertificate("sign", { signPin: "PASS1234" });
        const data = Buffer.from("確定申告 2026");
        for (const [type, der, pin] of [["auth", authDer, "1234"], ["sign", signDer, "PASS1234"]] as const) {
          const signature = await client.sign(type, data, { pin });
          const publicKey = new X509Certificate(der).publicKey;
          assert.ok(verify("sha256", data, publicKey, signature), `${type} signature verifies with the certificate's key`);
        }
        const kenhojo = await client.readKenhojo("1234");
        assert.equal(kenhojo.myNumber, "123456789018");
        assert.equal(kenhojo.name, "町田　花子");
        assert.equal(kenhojo.birthDate, "19900102");
        assert.equal(kenhojo.sex, "2");
      });
    });

    test("an under-15 gets a card with the authentication certificate only", async () => {
      const child = await t.context.registry.add({
        name: "町田 一郎", birth: "2015-06-01", gender: "1", address: "東京都町田市森野２－２－２２", municipality: "132098",
      });
      const card = await t.context.cards.issue({ residentId: child.id, authPin: "4321" });
      assert.equal(card.signSkipped, "under-15");
      assert.deepEqual(card.certificates.map((c) => c.type), ["auth"]);
      assert.equal(card.expires, "2031-06-01", "5th birthday after issuance for under-18s");
      assert.equal(card.certificates[0]!.expires, "2031-06-01");
      await assert.rejects(
        t.context.cards.issue({ residentId: child.id, authPin: "4321", signPin: "ABC123" }),
        (e: unknown) => e instanceof ServiceError && e.code === "not-eligible" && e.field === "sign-pin",
      );
    });

    test("bad PINs and numbers are refused before anything is made, naming the field", async () => {
      const resident = await t.context.registry.add({
        name: "町田 次郎", birth: "1980-01-01", gender: "1", address: "東京都町田市森野１", municipality: "132098",
      });
      const cases: [Parameters<TestContext["context"]["cards"]["issue"]>[0], string][] = [
        [{ residentId: resident.id, authPin: "12345", signPin: "ABC123" }, "auth-pin"],
        [{ residentId: resident.id, authPin: "1234", signPin: "ABCDEF" }, "sign-pin"],
        [{ residentId: resident.id, authPin: "1234", signPin: "AB12" }, "sign-pin"],
        [{ residentId: resident.id, authPin: "1234" }, "sign-pin"],
        [{ residentId: resident.id, authPin: "1234", noSign: true, myNumber: "123456789012" }, "my-number"],
      ];
      for (const [request, field] of cases) {
        await assert.rejects(t.context.cards.issue(request), (e: unknown) => e instanceof ServiceError && e.field === field);
      }
      assert.deepEqual(await t.context.cards.list({ residentId: resident.id }), []);
      const declined = await t.context.cards.issue({ residentId: resident.id, authPin: "1234", noSign: true });
      assert.equal(declined.signSkipped, "declined");
    });

    test("the authentication certificate may be declined: no key, no certificate, no PIN for it; the 券面事項入力補助 PIN is asked for instead", async () => {
      const resident = await t.context.registry.add({
        name: "町田 四郎", birth: "1990-01-02", gender: "1", address: "東京都町田市森野１", municipality: "132098",
      });
      const field = (name: string) => (e: unknown) => e instanceof ServiceError && e.code === "invalid-input" && e.field === name;
      // A blank authentication PIN is not a silent decline: the error says how to decline.
      await assert.rejects(t.context.cards.issue({ residentId: resident.id, signPin: "ABC123" }), (e: unknown) => field("auth-pin")(e) && /noAuth/.test((e as Error).message));
      // A PIN given with the decline is refused, not dropped.
      await assert.rejects(t.context.cards.issue({ residentId: resident.id, noAuth: true, authPin: "1234", signPin: "ABC123", kenhojoPin: "1234" }), field("auth-pin"));
      // With no authentication PIN, the 券面事項入力補助 PIN has nothing to default to.
      await assert.rejects(t.context.cards.issue({ residentId: resident.id, noAuth: true, signPin: "ABC123" }), field("kenhojo-pin"));
      await assert.rejects(t.context.cards.issue({ residentId: resident.id, noAuth: true, signPin: "ABC123", kenhojoPin: "12" }), field("kenhojo-pin"));
      assert.deepEqual(await t.context.cards.list({ residentId: resident.id }), [], "nothing was made");

      const card = await t.context.cards.issue({ residentId: resident.id, noAuth: true, signPin: "ABC123", kenhojoPin: "9876", myNumber: "123456789018" });
      assert.equal(card.authSkipped, "declined");
      assert.equal(card.signSkipped, undefined);
      // No authentication certificate on the card to cap it: the signing certificate runs to the 5th birthday.
      assert.deepEqual(card.certificates.map((c) => [c.type, c.expires]), [["sign", "2031-01-02"]]);
      await t.context.cards.withReader(card.id, async (reader) => {
        const client = new JpkiClient(reader);
        await assert.rejects(client.readCertificate("auth"), (e: unknown) => (e as { code?: string }).code === "no-certificate");
        assert.equal(await client.triesLeft("auth"), 0, "no authentication PIN was set (an unset PIN answers as blocked)");
        assert.deepEqual(await client.verifyPin("sign", "ABC123"), { ok: true });
        assert.equal((await client.readKenhojo("9876")).myNumber, "123456789018");
      });
    });

    test("both certificates may be declined: a card with the 券面事項入力補助AP only", async () => {
      const resident = await t.context.registry.add({
        name: "町田 五郎", birth: "1985-03-03", gender: "1", address: "東京都町田市森野１", municipality: "132098",
      });
      const card = await t.context.cards.issue({ residentId: resident.id, noAuth: true, noSign: true, kenhojoPin: "2468", myNumber: "123456789018" });
      assert.equal(card.status, "active");
      assert.deepEqual(card.certificates, []);
      assert.equal(card.authSkipped, "declined");
      assert.equal(card.signSkipped, "declined");
      assert.deepEqual(await t.context.ca.certificatesOf(resident.id), []);
      await t.context.cards.withReader(card.id, async (reader) => {
        assert.equal((await new JpkiClient(reader).readKenhojo("2468")).name, "町田　五郎");
      });
    });

    test("a claim that outran its time and was taken by another procedure is not released by the first one", async () => {
      const resident = await t.context.registry.add({ name: "占有 太郎", birth: "1985-03-03", gender: "1", address: "東京都町田市森野１", municipality: "132098" });
      const card = await t.context.cards.issue({ residentId: resident.id, noAuth: true, noSign: true, kenhojoPin: "2468", myNumber: "123456789018" });
      const slow = await t.context.cards.claim(card.id, "renewal");
      await assert.rejects(t.context.cards.claim(card.id, "return"), (e: unknown) => e instanceof ServiceError && e.reason === "card-busy");
      clockNow = new Date(clockNow.getTime() + 121_000); // the slow procedure's claim ran out
      const next = await t.context.cards.claim(card.id, "return");
      await slow(); // the slow one finishes late
      await assert.rejects(t.context.cards.claim(card.id, "pin-init"), (e: unknown) => e instanceof ServiceError && e.reason === "card-busy", "the second claim stands");
      await next();
      await (await t.context.cards.claim(card.id, "pin-init"))();
    });

    test("card lists narrow in the store: by residents, by state, and to the newest few (oldest of them first)", async () => {
      const ids: string[] = [];
      const cards: string[] = [];
      for (const name of ["一覧 一郎", "一覧 二郎", "一覧 三郎"]) {
        const resident = await t.context.registry.add({ name, birth: "1985-03-03", gender: "1", address: "東京都町田市森野１", municipality: "132098" });
        ids.push(resident.id);
        cards.push((await t.context.cards.issue({ residentId: resident.id, noAuth: true, noSign: true, kenhojoPin: "2468", myNumber: "123456789018" })).id);
      }
      const all = (await t.context.cards.list({ residentIds: ids })).map((c) => c.id);
      assert.deepEqual([...all].sort(), [...cards].sort(), "exactly these residents' cards");
      assert.deepEqual((await t.context.cards.list({ residentIds: ids, newest: 2 })).map((c) => c.id), all.slice(-2));
      await t.context.cards.setStatus(all[2]!, "returned");
      const active = await t.context.cards.list({ residentIds: ids, status: "active" });
      assert.deepEqual(active.map((c) => c.id), all.slice(0, 2));
      assert.deepEqual((await t.context.cards.list({ residentIds: ids, status: "active", newest: 1 })).map((c) => c.id), [all[1]]);
      assert.deepEqual(await t.context.cards.list({ residentIds: [] }), []);
      assert.ok((await t.context.cards.list({ status: "active", newest: 1 })).length === 1);
    });

    test("a foreign resident's signing certificate on a card without authentication certificate ends with the period of stay", async () => {
      const resident = await t.context.registry.add({
        name: "SMITH JOHN", birth: "1990-01-02", gender: "1", address: "東京都町田市森野１", municipality: "132098", nationality: "US", residenceEnd: "2028-06-30",
      });
      const card = await t.context.cards.issue({ residentId: resident.id, noAuth: true, signPin: "ABC123", kenhojoPin: "1357" });
      assert.equal(card.expires, "2028-06-30");
      assert.deepEqual(card.certificates.map((c) => [c.type, c.expires]), [["sign", "2028-06-30"]]);
    });
  });
}
