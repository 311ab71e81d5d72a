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
    const now = new Date("2026-11-25T01:00:00Z");
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
  });
}
