// The register is kept by each municipality (住民基本台帳): a counter records entries and their
// events for its own municipality's residents only, and a move into a town is recorded by that
// town (転入届). The operator's CLI, with no office, is not a municipal counter.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { backends, openTestContext, type TestContext } from "../helpers/context.ts";
import type { Actor } from "../../src/services/audit.ts";
import { ServiceError } from "../../src/services/errors.ts";

const MACHIDA_CLERK: Actor = { actor: "staff:tanaka", office: "machida-mnc" };
const CHIYODA = { address: "東京都千代田区霞が関２－１－２", municipality: "131016" };
const MACHIDA = { address: "東京都町田市森野２－２－２２", municipality: "132098" };

const otherMunicipality = (field: string, ja: RegExp) => (e: unknown) =>
  e instanceof ServiceError && e.code === "refused" && e.reason === "other-municipality" && e.field === field && ja.test(e.message) && /マイナンバーカードセンター/.test(e.message);

for (const backend of backends()) {
  describe(`register scope on ${backend}`, () => {
    let t: TestContext;
    let now = new Date("2026-11-25T01:00:00Z");
    before(async () => {
      t = await openTestContext(backend, { clock: () => new Date(now) });
    });
    after(() => t.cleanup());

    const events = async (residentId: string) => (await t.context.store.db.selectFrom("registry_events").select("kind").where("resident_id", "=", residentId).execute()).map((e) => e.kind);

    test("registration: a counter registers its own municipality's residents", async () => {
      await assert.rejects(
        t.context.registry.add({ name: "千代田 一郎", birth: "1980-01-01", gender: "1", ...CHIYODA }, MACHIDA_CLERK),
        otherMunicipality("municipality", /東京都千代田区の住民の登録は東京都千代田区の窓口で行います/),
      );
      assert.deepEqual(await t.context.registry.search("千代田一郎"), [], "nothing registered");
      const own = await t.context.registry.add({ name: "町田 一郎", birth: "1980-01-01", gender: "1", ...MACHIDA }, MACHIDA_CLERK);
      assert.equal(own.municipality.code, "132098");
    });

    test("another municipality's resident: changes, period of stay, death, emigration and its withdrawal are refused, and nothing is recorded", async () => {
      const resident = await t.context.registry.add({ name: "千代田 花子", birth: "1985-02-02", gender: "2", ...CHIYODA });
      const foreigner = await t.context.registry.add({ name: "SMITH JANE", birth: "1985-02-02", gender: "2", nationality: "US", residenceEnd: "2028-01-01", ...CHIYODA });
      const elsewhere = otherMunicipality("resident", /東京都千代田区の住民の手続きは東京都千代田区の窓口で行います/);
      await assert.rejects(t.context.events.changeAttributes(resident.id, { name: "千代田 花江" }, MACHIDA_CLERK), elsewhere);
      await assert.rejects(t.context.events.changeAttributes(resident.id, { address: "東京都千代田区丸の内１", municipality: "131016" }, MACHIDA_CLERK), elsewhere);
      await assert.rejects(t.context.events.changeResidencePeriod(foreigner.id, "2030-01-01", MACHIDA_CLERK), elsewhere);
      await assert.rejects(t.context.events.endRegistration(resident.id, { kind: "death" }, MACHIDA_CLERK), elsewhere);
      await assert.rejects(t.context.events.endRegistration(resident.id, { kind: "emigration", continuedUse: false, departureDate: "2026-12-20" }, MACHIDA_CLERK), elsewhere);
      await t.context.events.endRegistration(resident.id, { kind: "emigration", continuedUse: false, departureDate: "2026-12-20" }); // by the operator
      await assert.rejects(t.context.events.withdrawEmigration(resident.id, MACHIDA_CLERK), elsewhere);
      assert.deepEqual(await events(resident.id), ["emigration-filed"], "only the operator's filing");
      assert.deepEqual(await events(foreigner.id), []);
      assert.equal((await t.context.registry.get(resident.id)).name.replace("\u3000", " "), "千代田 花子");
      assert.equal((await t.context.registry.get(foreigner.id)).residenceEnd, "2028-01-01");
      assert.equal((await t.context.registry.get(resident.id)).departureDate, "2026-12-20", "the filing stands");
    });

    test("a move: recorded by the municipality moved into, not by the one left", async () => {
      const leaving = await t.context.registry.add({ name: "町田 次郎", birth: "1980-03-03", gender: "1", ...MACHIDA });
      await assert.rejects(
        t.context.events.changeAttributes(leaving.id, { ...CHIYODA }, MACHIDA_CLERK),
        otherMunicipality("municipality", /東京都千代田区への転入は東京都千代田区の窓口で記録します/),
      );
      assert.equal((await t.context.registry.get(leaving.id)).municipality.code, "132098", "still in Machida");
      const coming = await t.context.registry.add({ name: "千代田 三郎", birth: "1980-03-03", gender: "1", ...CHIYODA });
      await t.context.events.changeAttributes(coming.id, { ...MACHIDA }, MACHIDA_CLERK);
      assert.equal((await t.context.registry.get(coming.id)).municipality.code, "132098", "moved in, recorded by Machida");
      await t.context.events.changeAttributes(coming.id, { name: "町田 三郎" }, MACHIDA_CLERK); // now Machida's own
    });

    test("a move records the new address only: the town moved into may not change the name, date of birth or gender too", async () => {
      const coming = await t.context.registry.add({ name: "千代田 四郎", birth: "1980-03-03", gender: "1", ...CHIYODA });
      await assert.rejects(
        t.context.events.changeAttributes(coming.id, { ...MACHIDA, name: "町田 四郎", gender: "2" }, MACHIDA_CLERK),
        (e: unknown) => e instanceof ServiceError && e.reason === "move-with-other-changes" && e.field === "name" && /転入では新しい住所だけを記録します/.test(e.message),
      );
      const unchanged = await t.context.registry.get(coming.id);
      assert.equal(unchanged.municipality.code, "131016");
      assert.equal(unchanged.gender, "1");
      assert.deepEqual(await events(coming.id), []);
    });

    test("an entry abroad with continued use: any counter records its changes (the 附票 is the 本籍地's, which this register does not know)", async () => {
      const abroad = await t.context.registry.add({ name: "千代田 五郎", birth: "1980-03-03", gender: "1", ...CHIYODA });
      await t.context.events.endRegistration(abroad.id, { kind: "emigration", continuedUse: true, departureDate: "2026-11-30", abroadAddress: "アメリカ合衆国ニューヨーク州" });
      const filed = now;
      now = new Date("2026-11-30T01:00:00Z");
      try {
        await t.context.events.applyDueDepartures();
        assert.equal((await t.context.registry.get(abroad.id)).status, "emigrated");
        await t.context.events.changeAttributes(abroad.id, { name: "千代田 五朗" }, MACHIDA_CLERK);
        assert.equal((await t.context.registry.get(abroad.id)).name.replace("\u3000", " "), "千代田 五朗");
      } finally {
        now = filed;
      }
    });

    test("a proxy's answer from another town's counter is refused before a try is counted or anything recorded", async () => {
      await t.context.store.db.insertInto("offices").values({ id: "chiyoda-test", municipality_code: "131016", name_ja: "千代田区役所", name_en: "Chiyoda City Office", address: null, phone: null, hours: null }).execute();
      const resident = await t.context.registry.add({ name: "町田 六郎", birth: "1980-03-03", gender: "1", ...MACHIDA });
      const card = await t.context.cards.issue({ residentId: resident.id, authPin: "1234", signPin: "ABC123" });
      const started = await t.context.counter.startProxy({ kind: "pin-init", cardId: card.id, pinType: "auth", proxy: { name: "代理 太郎", relationship: "友人" } }, MACHIDA_CLERK);
      const chiyoda: Actor = { actor: "staff:sato", office: "chiyoda-test" };
      for (let i = 0; i < 6; i++) {
        await assert.rejects(
          t.context.counter.completeProxy({ applicationId: started.applicationId, answerCode: "00000000", proxyIdentity: { document: "driver-licence", name: "代理 太郎" }, newPin: "5678" }, chiyoda),
          (e: unknown) => e instanceof ServiceError && e.reason === "other-municipality",
        );
      }
      const proxy = await t.context.store.db.selectFrom("proxy_applications").selectAll().where("application_id", "=", started.applicationId).executeTakeFirstOrThrow();
      assert.equal(Number(proxy.attempts), 0, "no try spent");
      const app = await t.context.store.db.selectFrom("applications").select("state").where("id", "=", started.applicationId).executeTakeFirstOrThrow();
      assert.equal(app.state, "awaiting-proxy");
    });

    test("an office the store does not know is no counter: refused, not taken for the operator", async () => {
      await assert.rejects(
        t.context.registry.add({ name: "町田 七郎", birth: "1980-03-03", gender: "1", ...MACHIDA }, { actor: "staff:ghost", office: "no-such-office" }),
        (e: unknown) => e instanceof ServiceError && e.reason === "unknown-office",
      );
    });
  });
}
