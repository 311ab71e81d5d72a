// Review of the register events that change certificates: a notation is not a change, a
// departure applied late records when the certificates became invalid, a holder abroad with
// continued use can still die, and a period of stay is checked like any other register date.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ServiceError } from "../../src/services/errors.ts";
import { certifiedResident } from "../helpers/certified-resident.ts";
import { backends, openTestContext, type TestContext } from "../helpers/context.ts";
import { testPublicKeys } from "../helpers/keys.ts";
import { cli } from "../helpers/cli.ts";

let now = new Date("2026-12-07T03:00:00Z"); // 2026-12-07 12:00 JST
const clock = () => new Date(now);
const ABROAD = "アメリカ合衆国カリフォルニア州ロサンゼルス市";
const refused = (code: string, detail: { reason?: string; field?: string; message?: RegExp }) => (e: unknown) =>
  e instanceof ServiceError &&
  e.code === code &&
  (detail.reason === undefined || e.reason === detail.reason) &&
  (detail.field === undefined || e.field === detail.field) &&
  (detail.message === undefined || detail.message.test(e.message));

for (const backend of backends()) {
  describe(`register events (review) on ${backend}`, () => {
    let t: TestContext;
    const [k1, k2] = testPublicKeys(2);

    const holder = (name: string, address?: string, extra: { nationality?: string; residenceEnd?: string } = {}) =>
      certifiedResident(t.context, [k1!, k2!], name, { ...(address ? { address } : {}), ...extra });
    const status = async (type: "sign" | "auth", serial: string) => (await t.context.ca.certificate(type, serial)).status;

    before(async () => {
      t = await openTestContext(backend, { clock });
    });
    after(() => t.cleanup());

    test("the same address or name written in other widths or dash forms is not a change: nothing is revoked", async () => {
      now = new Date("2026-12-07T03:00:00Z");
      const { resident, sign } = await holder("田中 一郎");
      for (const address of ["東京都町田市森野2-2-22", "東京都町田市森野２−２−２２", "東京都町田市森野２ー２ー２２", " 東京都町田市森野 ２－２－２２ "]) {
        await assert.rejects(
          t.context.events.changeAttributes(resident.id, { address }),
          refused("invalid-input", { message: /nothing changes/ }),
          address,
        );
      }
      await assert.rejects(t.context.events.changeAttributes(resident.id, { name: "田中　一郎" }), refused("invalid-input", { message: /nothing changes/ }));
      assert.equal(await status("sign", sign), "valid", "a notation is not a 異動");
      assert.equal((await t.context.registry.get(resident.id)).address, "東京都町田市森野２－２－２２", "the register keeps the notation the certificate carries");
      const events = await t.context.store.db.selectFrom("registry_events").select("id").where("resident_id", "=", resident.id).execute();
      assert.equal(events.length, 0);

      const latin = await holder("SMITH JOHN", "東京都町田市中町１－１－１");
      await assert.rejects(t.context.events.changeAttributes(latin.resident.id, { name: "ＳＭＩＴＨ　ＪＯＨＮ" }), refused("invalid-input", { message: /nothing changes/ }));
      assert.equal(await status("sign", latin.sign), "valid");

      // A real change still revokes, even written in the other width.
      const moved = await t.context.events.changeAttributes(resident.id, { address: "東京都町田市森野2-2-23" });
      assert.deepEqual(moved.revoked.map((r) => [r.type, r.serialHex, r.reason]), [["sign", sign, "affiliationChanged"]]);
      assert.equal((await t.context.registry.get(resident.id)).address, "東京都町田市森野2-2-23");
    });

    test("a departure applied late (the server was down on the day) records the day of departure as the invalidity date", async () => {
      now = new Date("2026-12-07T03:00:00Z");
      const { resident, sign, auth } = await holder("木村 二郎");
      await t.context.events.endRegistration(resident.id, { kind: "emigration", continuedUse: false, departureDate: "2026-12-10" });
      now = new Date("2026-12-12T01:00:00Z"); // two days late
      const [applied] = await t.context.events.applyDueDepartures();
      assert.equal(applied!.residentId, resident.id);
      for (const [type, serial] of [["sign", sign], ["auth", auth]] as const) {
        const record = await t.context.ca.certificate(type, serial);
        assert.equal(record.status, "revoked");
        assert.equal(record.revokedAt, "2026-12-12T01:00:00.000Z", "revoked when the CA learnt it (RFC 5280 revocationDate)");
        assert.equal(record.invalidityDate, "2026-12-09T15:00:00.000Z", "invalid from 00:00 JST on the day of departure");
      }
    });

    test("a holder abroad with continued use who dies: the certificates still in use are revoked and the card dies", async () => {
      now = new Date("2026-12-07T03:00:00Z");
      const { resident, auth } = await holder("松本 三郎");
      const card = await t.context.store.db.selectFrom("cards").select("id").where("resident_id", "=", resident.id).execute();
      await t.context.events.endRegistration(resident.id, { kind: "emigration", continuedUse: true, departureDate: "2026-12-08", abroadAddress: ABROAD });
      now = new Date("2026-12-08T03:00:00Z");
      await t.context.events.applyDueDepartures();
      const signAbroad = await t.context.ca.issue({ type: "sign", residentId: resident.id, subjectPublicKey: k2! });
      assert.equal(await status("auth", auth), "valid");
      now = new Date("2026-12-20T03:00:00Z");
      const death = await t.context.events.endRegistration(resident.id, { kind: "death" });
      assert.deepEqual(death.revoked.map((r) => [r.type, r.serialHex, r.reason]).sort(), [
        ["auth", auth, "cessationOfOperation"],
        ["sign", signAbroad.serialHex, "cessationOfOperation"],
      ]);
      assert.equal((await t.context.registry.get(resident.id)).status, "deceased");
      assert.equal(card.length, 0, "no card in this test; cards are covered by the counter tests");
      await assert.rejects(t.context.events.endRegistration(resident.id, { kind: "death" }), refused("conflict", { message: /deceased/ }));
      // Emigrated without continued use: nothing left to end.
      const gone = await holder("松本 四郎");
      await t.context.events.endRegistration(gone.resident.id, { kind: "emigration", continuedUse: false });
      await assert.rejects(t.context.events.endRegistration(gone.resident.id, { kind: "death" }), refused("conflict", { message: /emigrated/ }));
    });

    test("one event for one entry: two deaths or a death and an emigration recorded at once on two desks apply once", async () => {
      now = new Date("2026-12-07T03:00:00Z");
      for (const second of [{ kind: "death" }, { kind: "emigration", continuedUse: false }] as const) {
        const { resident, auth } = await holder("小川 五郎");
        const results = await Promise.allSettled([
          t.context.events.endRegistration(resident.id, { kind: "death" }),
          t.context.events.endRegistration(resident.id, second),
        ]);
        assert.equal(results.filter((r) => r.status === "fulfilled").length, 1, JSON.stringify(results.map((r) => r.status === "rejected" ? String(r.reason) : "ok")));
        const loser = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
        assert.ok(loser.reason instanceof ServiceError && loser.reason.code === "conflict", String(loser.reason));
        const events = await t.context.store.db.selectFrom("registry_events").select("kind").where("resident_id", "=", resident.id).execute();
        assert.equal(events.length, 1, JSON.stringify(events));
        assert.equal(await status("auth", auth), "revoked");
      }
    });

    test("a death reported days later: the certificates are invalid from the day of death; the day is checked", async () => {
      now = new Date("2026-12-07T03:00:00Z");
      const { resident, sign, auth } = await holder("村上 六郎");
      await assert.rejects(t.context.events.endRegistration(resident.id, { kind: "death", date: "2026-12-08" }), refused("invalid-input", { field: "date", message: /future/ }));
      await assert.rejects(t.context.events.endRegistration(resident.id, { kind: "death", date: "1970-01-01" }), refused("invalid-input", { field: "date", message: /before the date of birth/ }));
      await assert.rejects(t.context.events.endRegistration(resident.id, { kind: "death", date: "2026-11-31" }), refused("invalid-input", { field: "date" }));
      assert.equal(await status("sign", sign), "valid", "nothing recorded by a refused filing");
      const death = await t.context.events.endRegistration(resident.id, { kind: "death", date: "2026-12-02" });
      assert.equal(death.revoked.length, 2);
      for (const [type, serial] of [["sign", sign], ["auth", auth]] as const) {
        const record = await t.context.ca.certificate(type, serial);
        assert.equal(record.revokedAt, "2026-12-07T03:00:00.000Z");
        assert.equal(record.invalidityDate, "2026-12-01T15:00:00.000Z", "from 00:00 JST on the day of death");
      }
      const event = await t.context.store.db.selectFrom("registry_events").selectAll().where("id", "=", death.id).executeTakeFirstOrThrow();
      assert.equal(event.effective_date, "2026-12-02");
    });

    test("after the day of departure, before it is applied, the domestic entry takes no change; once applied, no withdrawal, and the refusal says why", async () => {
      now = new Date("2026-12-07T03:00:00Z");
      const { resident, sign } = await holder("近藤 七郎");
      await t.context.events.endRegistration(resident.id, { kind: "emigration", continuedUse: true, departureDate: "2026-12-09", abroadAddress: ABROAD });
      now = new Date("2026-12-09T03:00:00Z"); // the day has come; the server has not applied it yet
      await assert.rejects(t.context.events.changeAttributes(resident.id, { address: "東京都町田市中町３－３－３" }), refused("conflict", { reason: "departure-pending" }));
      assert.equal(await status("sign", sign), "valid");
      const [applied] = await t.context.events.applyDueDepartures();
      assert.deepEqual(applied!.revoked.map((r) => r.reason), ["affiliationChanged"], "revoked for the departure, not for a domestic move");
      await assert.rejects(t.context.events.withdrawEmigration(resident.id), refused("conflict", { reason: "not-registered", message: /took effect on its day of departure \(2026-12-09\)/ }));
    });

    test("a second revocation is refused in Japanese and English, with a reason a caller can act on", async () => {
      now = new Date("2026-12-07T03:00:00Z");
      const { sign } = await holder("岡田 八郎");
      await t.context.ca.revoke({ type: "sign", serialHex: sign, reason: "certificateHold", by: "hotline" });
      await assert.rejects(t.context.ca.revoke({ type: "sign", serialHex: sign, reason: "certificateHold", by: "hotline" }), refused("conflict", { reason: "already-on-hold", message: /一時保留中です \/ sign certificate [0-9A-F]+ is already on hold/ }));
      await t.context.ca.revoke({ type: "sign", serialHex: sign, reason: "keyCompromise", by: "counter" });
      await assert.rejects(t.context.ca.revoke({ type: "sign", serialHex: sign, reason: "superseded", by: "counter" }), refused("conflict", { reason: "already-revoked", message: /すでに失効しています（keyCompromise）\/ sign certificate [0-9A-F]+ is already revoked/ }));
    });

    test("a period of stay is a register date like any other: not before birth, not already over, not on an ended entry", async () => {
      now = new Date("2026-12-07T03:00:00Z");
      const foreign = await t.context.registry.add({ name: "NGUYEN AN", birth: "1995-01-01", gender: "2", address: "東京都町田市中町１－１－２", municipality: "132098", nationality: "VN", residenceEnd: "2027-06-30" });
      await assert.rejects(t.context.events.changeResidencePeriod(foreign.id, "1990-01-01"), refused("invalid-input", { field: "residence-end" }), "before birth");
      await assert.rejects(t.context.events.changeResidencePeriod(foreign.id, "2026-12-06"), refused("invalid-input", { field: "residence-end" }), "already over");
      assert.equal((await t.context.registry.get(foreign.id)).residenceEnd, "2027-06-30", "unchanged");
      const extended = await t.context.events.changeResidencePeriod(foreign.id, "2029-06-30");
      assert.equal(extended.residenceEnd, "2029-06-30");
      await t.context.events.endRegistration(foreign.id, { kind: "death" });
      await assert.rejects(t.context.events.changeResidencePeriod(foreign.id, "2030-06-30"), refused("conflict", {}), "the entry has ended");
    });
  });
}

describe("openjpki resident emigrate (review)", () => {
  let dir: string;
  let data: string;
  const env = { OPENJPKI_NOW: "2026-12-07T03:00:00Z", OPENJPKI_CA_PASSPHRASE: "cli-test-passphrase-0123456789" };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "openjpki-cli-emig-"));
    data = join(dir, "data");
    writeFileSync(join(dir, "pub.pem"), testPublicKeys(1)[0]!.export({ type: "spki", format: "pem" }));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("resident death --date records the day of death; a bad one is refused naming it", async () => {
    const r = await cli(["resident", "add", "--data", data, "--name", "森野 二郎", "--birth", "1975-05-05", "--gender", "1",
      "--address", "東京都町田市森野１－２", "--municipality", "132098", "--json"], env);
    const id = r.json().id;
    const bad = await cli(["resident", "death", "--data", data, "--id", id, "--date", "2026-12-31"], env);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /date: 死亡日 2026-12-31 は未来の日付です/);
    const ok = await cli(["resident", "death", "--data", data, "--id", id, "--date", "2026-12-05", "--json"], env);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.json().kind, "death");
  });

  test("an empty --departure is refused, not taken as today (which would revoke both certificates at once)", async () => {
    const r = await cli(["resident", "add", "--data", data, "--name", "森野 一郎", "--birth", "1975-05-05", "--gender", "1",
      "--address", "東京都町田市森野１－１", "--municipality", "132098", "--json"], env);
    const id = r.json().id;
    const issued = await cli(["ca", "issue", "--data", data, "--type", "auth", "--resident", id, "--pubkey", join(dir, "pub.pem"), "--json"], env);
    assert.equal(issued.code, 0, issued.stderr);
    const emigrate = await cli(["resident", "emigrate", "--data", data, "--id", id, "--departure", ""], env);
    assert.notEqual(emigrate.code, 0, emigrate.stdout);
    assert.match(emigrate.stderr, /departureDate/);
    const shown = await cli(["resident", "show", "--data", data, "--id", id, "--json"], env);
    assert.equal(shown.json().status, "registered");
    assert.equal(shown.json().certificates[0].status, "valid");
  });
});
