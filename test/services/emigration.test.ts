// Emigration (国外転出) on each back end: filed ahead with its day of departure and applied on
// that day; with continued use (国外転出者による継続利用, spec §2.2) the authentication
// certificate survives, the signing certificate is revoked on departure, and a new one carries
// the address of the 戸籍の附票.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { sql } from "kysely";
import { ServiceError } from "../../src/services/errors.ts";
import { DeparturesFailed } from "../../src/services/register-events.ts";
import { attributesOf } from "../../src/verify/attributes.ts";
import { parseCertificate } from "../../src/verify/certificate.ts";
import { certifiedResident } from "../helpers/certified-resident.ts";
import { backends, openTestContext, type TestContext } from "../helpers/context.ts";
import { testPublicKeys } from "../helpers/keys.ts";

const FILED = new Date("2026-12-07T03:00:00Z"); // 2026-12-07 12:00 JST
let now = FILED;
const clock = () => new Date(now);
const ABROAD = "アメリカ合衆国カリフォルニア州ロサンゼルス市";
const refused = (code: string, detail: { reason?: string; field?: string }) => (e: unknown) =>
  e instanceof ServiceError && e.code === code && (detail.reason === undefined || e.reason === detail.reason) && (detail.field === undefined || e.field === detail.field);

for (const backend of backends()) {
  describe(`emigration on ${backend}`, () => {
    let t: TestContext;
    const [k1, k2, k3] = testPublicKeys(3);

    const holder = (name: string, extra: { nationality?: string; residenceEnd?: string } = {}) => certifiedResident(t.context, [k1!, k2!], name, extra);
    const status = async (type: "sign" | "auth", serial: string) => (await t.context.ca.certificate(type, serial)).status;

    before(async () => {
      t = await openTestContext(backend, { clock });
    });
    after(() => t.cleanup());

    test("with continued use: nothing changes until the day of departure; then only the signing certificate is revoked, dated that day", async () => {
      now = FILED;
      const { resident, auth, sign } = await holder("渡辺 健");
      const filed = await t.context.events.endRegistration(resident.id, { kind: "emigration", continuedUse: true, departureDate: "2026-12-20", abroadAddress: ABROAD });
      assert.deepEqual(filed.revoked, []);
      assert.equal(filed.departureDate, "2026-12-20");
      const waiting = await t.context.registry.get(resident.id);
      assert.equal(waiting.status, "registered");
      assert.equal(waiting.departureDate, "2026-12-20");
      assert.equal(waiting.address, "東京都町田市森野２－２－２２", "the domestic address until departure");
      assert.equal(await status("sign", sign), "valid");
      await assert.rejects(
        t.context.events.endRegistration(resident.id, { kind: "emigration", continuedUse: false }),
        refused("conflict", { reason: "departure-filed" }),
      );

      now = new Date("2026-12-19T14:59:59Z"); // the last second of the 19th in Japan
      assert.deepEqual(await t.context.events.applyDueDepartures(), []);
      assert.equal(await status("sign", sign), "valid");

      now = new Date("2026-12-19T15:00:30Z"); // 2026-12-20 00:00:30 JST
      const applied = await t.context.events.applyDueDepartures();
      assert.deepEqual(applied.map((a) => [a.residentId, a.kind, a.departureDate]), [[resident.id, "emigration", "2026-12-20"]]);
      assert.deepEqual(applied[0]!.revoked.map((r) => [r.type, r.serialHex, r.reason]), [["sign", sign, "affiliationChanged"]]);
      assert.equal(await status("sign", sign), "revoked");
      assert.equal(await status("auth", auth), "valid", "the authentication certificate stays in use");
      const abroad = await t.context.registry.get(resident.id);
      assert.equal(abroad.status, "emigrated");
      assert.equal(abroad.continuedUse, true);
      assert.equal(abroad.address, ABROAD, "the entry is the 戸籍の附票's from now on");
      assert.deepEqual((await t.context.registry.search("カリフォルニア州")).map((r) => r.id), [resident.id], "the counter's search finds the entry by its new address");
      const event = await t.context.store.db.selectFrom("registry_events").selectAll().where("resident_id", "=", resident.id).where("kind", "=", "emigration").executeTakeFirstOrThrow();
      assert.equal(event.effective_date, "2026-12-20");
      assert.deepEqual(await t.context.events.applyDueDepartures(), [], "applied once");
    });

    test("abroad with continued use: a new signing certificate carries the 附票 address, the authentication certificate can be issued again, and an address change abroad revokes", async () => {
      now = FILED;
      const { resident } = await holder("伊藤 誠");
      await t.context.events.endRegistration(resident.id, { kind: "emigration", continuedUse: true, departureDate: "2026-12-08", abroadAddress: ABROAD });
      now = new Date("2026-12-08T01:00:00Z");
      await t.context.events.applyDueDepartures();
      const sign = await t.context.ca.issue({ type: "sign", residentId: resident.id, subjectPublicKey: k3! });
      assert.equal(attributesOf(parseCertificate(sign.der)).address, ABROAD);
      const auth = await t.context.ca.issue({ type: "auth", residentId: resident.id, subjectPublicKey: k1! });
      assert.equal(auth.status, "valid");
      const moved = await t.context.events.changeAttributes(resident.id, { address: "フランス共和国パリ市" });
      assert.deepEqual(moved.revoked.map((r) => [r.type, r.serialHex]), [["sign", sign.serialHex]]);
      await assert.rejects(
        t.context.events.changeAttributes(resident.id, { address: "東京都千代田区霞が関２－１－２", municipality: "131016" }),
        refused("invalid-input", { field: "municipality" }),
      );
    });

    test("without continued use: on the day of departure both certificates are revoked and nothing more is issued", async () => {
      now = FILED;
      const { resident, auth, sign } = await holder("加藤 浩");
      await t.context.events.endRegistration(resident.id, { kind: "emigration", continuedUse: false, departureDate: "2026-12-10" });
      assert.equal(await status("auth", auth), "valid");
      now = new Date("2026-12-10T00:00:00Z"); // 09:00 JST on the day, not applied yet
      await assert.rejects(
        t.context.ca.issue({ type: "auth", residentId: resident.id, subjectPublicKey: k1! }),
        refused("conflict", { reason: "departure-pending" }),
        "no certificate on a domestic entry whose holder has left",
      );
      const [applied] = await t.context.events.applyDueDepartures();
      assert.deepEqual(applied!.revoked.map((r) => [r.type, r.reason]).sort(), [["auth", "cessationOfOperation"], ["sign", "cessationOfOperation"]]);
      assert.equal(await status("sign", sign), "revoked");
      await assert.rejects(t.context.ca.issue({ type: "auth", residentId: resident.id, subjectPublicKey: k1! }), refused("not-eligible", {}));
      await assert.rejects(t.context.events.changeAttributes(resident.id, { address: ABROAD }), refused("conflict", {}));
    });

    test("filed on the day of departure without continued use, it takes effect at once (as before)", async () => {
      now = FILED;
      const { resident, auth } = await holder("山田 一郎");
      const outcome = await t.context.events.endRegistration(resident.id, { kind: "emigration", continuedUse: false });
      assert.equal(outcome.departureDate, "2026-12-07");
      assert.equal(outcome.revoked.length, 2);
      assert.equal(await status("auth", auth), "revoked");
      assert.equal((await t.context.registry.get(resident.id)).status, "emigrated");
    });

    test("continued use is refused on the day of departure, to foreign nationals and without the 附票 address; dates are checked", async () => {
      now = FILED;
      const { resident, sign } = await holder("佐藤 次郎");
      const foreign = await t.context.registry.add({ name: "SMITH JOHN", birth: "1985-01-01", gender: "1", address: "東京都町田市中町１－１－１", municipality: "132098", nationality: "US", residenceEnd: "2029-01-01" });
      const cases: [string, Parameters<typeof t.context.events.endRegistration>[1], string, ReturnType<typeof refused>][] = [
        ["on the day", { kind: "emigration", continuedUse: true, departureDate: "2026-12-07", abroadAddress: ABROAD }, resident.id, refused("not-eligible", { reason: "continued-use-too-late" })],
        ["no date (today)", { kind: "emigration", continuedUse: true, abroadAddress: ABROAD }, resident.id, refused("not-eligible", { reason: "continued-use-too-late" })],
        ["foreign national", { kind: "emigration", continuedUse: true, departureDate: "2026-12-20", abroadAddress: ABROAD }, foreign.id, refused("not-eligible", { reason: "not-japanese-national" })],
        ["no 附票 address", { kind: "emigration", continuedUse: true, departureDate: "2026-12-20" }, resident.id, refused("invalid-input", { field: "abroadAddress" })],
        ["address without continued use", { kind: "emigration", continuedUse: false, departureDate: "2026-12-20", abroadAddress: ABROAD }, resident.id, refused("invalid-input", { field: "abroadAddress" })],
        ["in the past", { kind: "emigration", continuedUse: false, departureDate: "2026-12-06" }, resident.id, refused("invalid-input", { field: "departureDate" })],
        ["not a date", { kind: "emigration", continuedUse: false, departureDate: "2026-02-30" }, resident.id, refused("invalid-input", { field: "departureDate" })],
        ["over a year ahead", { kind: "emigration", continuedUse: false, departureDate: "2027-12-09" }, resident.id, refused("invalid-input", { field: "departureDate" })],
      ];
      for (const [what, event, id, check] of cases) await assert.rejects(t.context.events.endRegistration(id, event), check, what);
      const unchanged = await t.context.registry.get(resident.id);
      assert.equal(unchanged.departureDate, null, "nothing filed");
      assert.equal(await status("sign", sign), "valid");
    });

    test("a departure that cannot be applied is reported and does not hold up the others", async () => {
      now = FILED;
      const stuck = await holder("石田 一");
      const fine = await holder("石田 二");
      for (const { resident } of [stuck, fine]) {
        await t.context.events.endRegistration(resident.id, { kind: "emigration", continuedUse: false, departureDate: "2026-12-11" });
      }
      // A database that refuses this one row's update (a trigger), as a damaged row or a constraint would.
      const refuse = backend === "sqlite"
        ? sql`create trigger refuse_departure before update of status on residents when old.id = ${sql.lit(stuck.resident.id)} begin select raise(abort, 'refused by the test'); end`
        : sql`create function refuse_departure() returns trigger language plpgsql as $$ begin raise exception 'refused by the test'; end $$`;
      await refuse.execute(t.context.store.db);
      if (backend === "postgres") {
        await sql`create trigger refuse_departure before update of status on residents for each row when (old.id = ${sql.lit(stuck.resident.id)}) execute function refuse_departure()`.execute(t.context.store.db);
      }
      try {
        now = new Date("2026-12-11T03:00:00Z");
        const failure = await t.context.events.applyDueDepartures().then(() => undefined, (e: unknown) => e);
        assert.ok(failure instanceof DeparturesFailed, String(failure));
        assert.deepEqual(failure.failed.map((f) => f.id), [stuck.resident.id]);
        assert.deepEqual(failure.applied.map((a) => a.residentId), [fine.resident.id]);
        assert.match(failure.message, /1 departure\(s\) could not be applied \(1 applied\).*refused by the test/);
        assert.equal(await status("auth", stuck.auth), "valid", "its transaction rolled back whole");
        assert.equal(await status("auth", fine.auth), "revoked");
      } finally {
        await sql`drop trigger refuse_departure${backend === "postgres" ? sql` on residents` : sql``}`.execute(t.context.store.db);
        if (backend === "postgres") await sql`drop function refuse_departure()`.execute(t.context.store.db);
      }
      const [retried] = await t.context.events.applyDueDepartures();
      assert.equal(retried!.residentId, stuck.resident.id, "applied on the next run");
    });

    test("two nodes applying at once apply each departure once; a death before the day still records", async () => {
      now = FILED;
      const a = await holder("中島 三郎");
      const b = await holder("中島 四郎");
      for (const { resident } of [a, b]) {
        await t.context.events.endRegistration(resident.id, { kind: "emigration", continuedUse: false, departureDate: "2026-12-09" });
      }
      const c = await holder("中島 五郎");
      await t.context.events.endRegistration(c.resident.id, { kind: "emigration", continuedUse: true, departureDate: "2026-12-09", abroadAddress: ABROAD });
      await t.context.events.endRegistration(c.resident.id, { kind: "death" });
      now = new Date("2026-12-09T03:00:00Z");
      const [first, second] = await Promise.all([t.context.events.applyDueDepartures(), t.context.events.applyDueDepartures()]);
      const applied = [...first!, ...second!].map((o) => o.residentId).sort();
      assert.deepEqual(applied, [a.resident.id, b.resident.id].sort());
      const events = await t.context.store.db.selectFrom("registry_events").select("id").where("kind", "=", "emigration").where("resident_id", "in", [a.resident.id, b.resident.id, c.resident.id]).execute();
      assert.equal(events.length, 2);
      assert.equal((await t.context.registry.get(c.resident.id)).status, "deceased");
    });
  });
}
