// The 有効期限通知書 run: monthly runs on one day of the month cover every expiry day exactly once
// (the 29th–31st too, around short months), and the run reads its window one expiry day at a time:
// a certificate added or revoked while it reads neither makes another be skipped nor is listed
// twice, and a resident is listed once, by what this run listed (not by the register as it is on a
// later day: a hold lifted, or a listed certificate revoked, in between).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { CompiledQuery, type Kysely } from "kysely";
import { addDays, addMonthsClamped, type JapanDate } from "../../../src/rules/japan-date.ts";
import { expiryNoticeDates, expiryNoticeListing, expiryNoticeRows, expiryNoticeRun, expiryNoticesCsv, expiryNoticesCsvChunks, expiryNoticeWindow } from "../../../src/services/counter/notices.ts";
import { ServiceError } from "../../../src/services/errors.ts";
import type { Database } from "../../../src/store/schema.ts";
import { backends, openTestContext, type TestContext } from "../../helpers/context.ts";

const pad = (n: number) => String(n).padStart(2, "0");
const daysIn = (y: number, m: number) => new Date(Date.UTC(y, m, 0)).getUTCDate();
/** The monthly run on day `d` of month `m`: that day, or the month's last day when it has none. */
const runOn = (y: number, m: number, d: number) => `${y}-${pad(m)}-${pad(Math.min(d, daysIn(y, m)))}` as JapanDate;

describe("expiry-notice window", () => {
  test("monthly runs on each day 1–31 cover every expiry day exactly once (leap years and 2100 included)", () => {
    for (const [first, last] of [[2024, 2033], [2099, 2101]] as const) {
      for (let d = 1; d <= 31; d++) {
        let previous: { run: JapanDate; windowEnd: JapanDate } | undefined;
        for (let y = first; y <= last; y++) {
          for (let m = 1; m <= 12; m++) {
            const run = runOn(y, m, d);
            const { windowStart, windowEnd } = expiryNoticeWindow(run);
            assert.ok(windowStart <= windowEnd, `${run}: empty window ${windowStart}…${windowEnd}`);
            if (previous) {
              assert.equal(windowStart, addDays(previous.windowEnd, 1), `day ${d}: the ${run} run must start the day after the ${previous.run} run's window (${previous.windowEnd})`);
            }
            if (d <= 28) {
              assert.deepEqual([windowStart, windowEnd], [addMonthsClamped(run, 2), addDays(addMonthsClamped(run, 3), -1)], `${run}: two to three months on`);
            }
            previous = { run, windowEnd };
          }
        }
      }
    }
  });

  test("the runs around February, on the 31st", () => {
    const w = (from: string) => Object.values(expiryNoticeWindow(from as JapanDate));
    assert.deepEqual(w("2025-01-31"), ["2025-03-31", "2025-04-27"]);
    assert.deepEqual(w("2025-02-28"), ["2025-04-28", "2025-05-27"], "also the run of the 28th, 29th and 30th");
    assert.deepEqual(w("2025-03-31"), ["2025-05-28", "2025-06-29"]);
    assert.deepEqual(w("2025-03-28"), ["2025-05-28", "2025-06-27"]);
    assert.deepEqual(w("2025-04-30"), ["2025-06-30", "2025-07-29"], "also the run of the 31st");
    assert.deepEqual(w("2025-05-31"), ["2025-07-30", "2025-08-29"]);
    assert.deepEqual(w("2028-02-29"), ["2028-04-29", "2028-05-28"]);
  });
});

/**
 * `db` with `hook` awaited before each query built from it runs (the hook gets the query's
 * number, from 1): a test can change the register between two days of a run.
 */
function beforeEachQuery(db: Kysely<Database>, hook: (n: number, query: CompiledQuery) => Promise<void>): Kysely<Database> {
  let n = 0;
  const wrap = <T extends object>(builder: T): T =>
    new Proxy(builder, {
      get(target, key) {
        const value = Reflect.get(target, key, target);
        if (typeof value !== "function") return value;
        if (key === "execute" || key === "executeTakeFirst" || key === "executeTakeFirstOrThrow") {
          return async (...args: unknown[]) => {
            await hook(++n, (target as unknown as { compile(): CompiledQuery }).compile());
            return value.apply(target, args);
          };
        }
        return (...args: unknown[]) => {
          const result = value.apply(target, args);
          return result && typeof result === "object" && typeof (result as { execute?: unknown }).execute === "function" ? wrap(result) : result;
        };
      },
    });
  return new Proxy(db, {
    get(target, key) {
      const value = Reflect.get(target, key, target);
      return key === "selectFrom" ? (...args: unknown[]) => wrap(value.apply(target, args)) : value;
    },
  });
}

/** SQLite's plan for a query, its lines joined. */
async function planOf(db: Kysely<Database>, q: CompiledQuery): Promise<string> {
  const rows = (await db.executeQuery(CompiledQuery.raw(`explain query plan ${q.sql}`, [...q.parameters]))).rows;
  return rows.map((r) => (r as { detail: string }).detail).join("\n");
}

/** A run's lookup of a day's residents' other certificates (the other queries read one expiry day each). */
const isLookup = (q: CompiledQuery) => /"resident_id" in \(/.test(q.sql);

for (const backend of backends()) {
  describe(`expiry-notice run reads day by day (${backend})`, () => {
    let t: TestContext;
    const FROM = "2031-01-10"; // window 2031-03-10 … 2031-04-09
    const DAYS = ["2031-03-10", "2031-03-10", "2031-03-10", "2031-03-11", "2031-04-09"]; // many on one day, and days apart
    let nextSerial = 0x100000;
    let nextResident = 1000;
    let template: Record<string, unknown>;
    let authorities: Record<string, string>;

    /** `count` residents of Machida, each with an authentication and a signing certificate in the window. */
    async function seed(db: Kysely<Database>, count: number, options: { day?: string; residentIds?: () => string } = {}): Promise<string[]> {
      const serials: string[] = [];
      const residents = [];
      const certificates = [];
      for (let i = 0; i < count; i++) {
        const id = options.residentIds?.() ?? `R-${String(nextResident++).padStart(10, "0")}`;
        residents.push({ ...template, id });
        const expires = options.day ?? DAYS[i % DAYS.length]!;
        for (const ca_type of ["auth", "sign"] as const) {
          const serial_hex = (nextSerial++).toString(16).padStart(16, "0");
          serials.push(`${ca_type}:${serial_hex}`);
          certificates.push({
            ca_type, serial_hex, authority_id: authorities[ca_type]!, resident_id: id, card_id: null, subject_cn: `test ${ca_type} ${serial_hex}`,
            municipality_code: "132098", not_before: "2026-01-10T00:00:00Z", not_after: `${expires}T14:59:59Z`, expires, issued_at: "2026-01-10T00:00:00Z",
            status: "valid" as const, revoked_at: null, revocation_reason: null, invalidity_date: null, revoked_by: null,
          });
        }
      }
      for (let i = 0; i < residents.length; i += 200) await db.insertInto("residents").values(residents.slice(i, i + 200) as never).execute();
      for (let i = 0; i < certificates.length; i += 200) await db.insertInto("certificates").values(certificates.slice(i, i + 200)).execute();
      return serials;
    }

    const listed = (run: Awaited<ReturnType<typeof expiryNoticeRun>>) => run.residents.flatMap((r) => r.certificates.map((c) => `${c.type}:${c.serialHex}`));

    before(async () => {
      t = await openTestContext(backend, { now: "2026-01-10T00:00:00Z" });
      const db = t.context.store.db;
      const added = await t.context.registry.add({ name: "期限 見本", birth: "1980-03-10", gender: "1", address: "東京都町田市森野２－２－２２", municipality: "132098" });
      template = { ...(await db.selectFrom("residents").selectAll().where("id", "=", added.id).executeTakeFirstOrThrow()) };
      const rows = await db.selectFrom("authorities").select(["id", "ca_type"]).execute();
      authorities = Object.fromEntries(rows.map((r) => [r.ca_type, r.id]));
      assert.ok(authorities.auth && authorities.sign, "both CAs are set up");
    });
    after(() => t?.cleanup());

    async function clear(db: Kysely<Database>) {
      await db.deleteFrom("certificates").where("subject_cn", "like", "test %").execute();
      await db.deleteFrom("residents").where("id", "like", "R-00000%").execute();
    }

    test("certificates revoked between two days do not push unread ones out of the run", async () => {
      const db = t.context.store.db;
      await clear(db);
      const serials = await seed(db, 1300); // 2,600 certificates, over three days of the window
      const revoked = serials.filter((_, i) => i % 5 === 0); // spread over the window
      const deps = {
        db: beforeEachQuery(db, async (n) => {
          if (n !== 2) return;
          for (const s of revoked) {
            const [ca_type, serial_hex] = s.split(":") as ["auth" | "sign", string];
            await db.updateTable("certificates").set({ status: "revoked" }).where("ca_type", "=", ca_type).where("serial_hex", "=", serial_hex).execute();
          }
        }),
        registry: t.context.registry,
        clock: t.context.clock,
      };
      const pages: number[] = [];
      const run = await expiryNoticeRun(deps, { from: FROM, onProgress: (read) => pages.push(read) });
      assert.ok(new Set(pages).size >= 3, `progress after each day: ${pages}`);
      const seen = listed(run);
      const untouched = serials.filter((s) => !revoked.includes(s));
      const missing = untouched.filter((s) => !seen.includes(s));
      assert.deepEqual(missing.length, 0, `${missing.length} valid certificates left out, e.g. ${missing.slice(0, 3)}`);
      assert.equal(new Set(seen).size, seen.length, "no certificate listed twice");
    });

    test("certificates added between two days do not make a read one be listed again", async () => {
      const db = t.context.store.db;
      await clear(db);
      const serials = await seed(db, 1300);
      let early = 0;
      const deps = {
        db: beforeEachQuery(db, async (n) => {
          // Renewed early: new residents whose rows sort first by any order (lowest ids, first day, lowest serials).
          if (n === 2) await seed(db, 150, { day: "2031-03-10", residentIds: () => `R-00000000${String(early++).padStart(2, "0")}` });
        }),
        registry: t.context.registry,
        clock: t.context.clock,
      };
      const run = await expiryNoticeRun(deps, { from: FROM });
      const seen = listed(run);
      const twice = seen.filter((s, i) => seen.indexOf(s) !== i);
      assert.deepEqual(twice, [], "no certificate listed twice");
      assert.equal(run.residents.filter((r) => new Set(r.certificates.map((c) => c.type)).size !== r.certificates.length).length, 0, "no resident with one type twice");
      for (const s of serials) assert.ok(seen.includes(s), `${s} listed`);
    });

    test("each day is read by an equality on the (status, expires) index, its residents' other certificates by the resident index, with no sort", { skip: backend !== "sqlite" }, async () => {
      const db = t.context.store.db;
      const queries: CompiledQuery[] = [];
      await expiryNoticeRun({ db: beforeEachQuery(db, async (_, q) => void queries.push(q)), registry: t.context.registry, clock: t.context.clock }, { from: FROM });
      const days = queries.filter((q) => !isLookup(q));
      const lookups = queries.filter(isLookup);
      assert.ok(days.length >= 2 && lookups.length >= 1, `${days.length} day reads, ${lookups.length} lookups`);
      for (const q of [days[0]!, days[1]!]) {
        const plan = await planOf(db, q);
        assert.match(plan, /certificates_expires \(status=\? AND expires=\?\)/, plan);
        assert.doesNotMatch(plan, /TEMP B-TREE/, plan);
      }
      const plan = await planOf(db, lookups[0]!);
      assert.match(plan, /certificates_resident \(resident_id=\?\)/, plan);
      assert.doesNotMatch(plan, /TEMP B-TREE|certificates_expires/, plan);
    });

    test("a resident with certificates expiring on two days of the window is listed once, on the earlier day, with both", async () => {
      const db = t.context.store.db;
      await clear(db);
      await seed(db, 3, { day: "2031-03-12" });
      const [early, late] = ["R-0000000901", "R-0000000902"];
      const [earlySerials, lateSerials] = [await seed(db, 1, { day: "2031-03-20", residentIds: () => early }), await seed(db, 1, { day: "2031-04-01", residentIds: () => late })];
      // Each also has one certificate on another day: the early one's later, the late one's earlier but outside the window.
      const extra = async (residentId: string, caType: "auth" | "sign", expires: string, status: "valid" | "revoked" = "valid") =>
        `${caType}:${await certificate(db, residentId, caType, expires, status)}`;
      const earlyLater = await extra(early, "sign", "2031-04-05");
      await extra(late, "auth", "2031-03-01"); // before the window: not this run's
      await extra(late, "auth", "2031-03-15", "revoked"); // in the window but revoked: no notice for it, nor does it move the resident
      const run = await expiryNoticeRun({ db, registry: t.context.registry, clock: t.context.clock }, { from: FROM });
      assert.deepEqual(run.residents.map((r) => r.residentId).filter((id) => id === early || id === late), [early, late], "each once, in order");
      const earlyRow = run.residents.find((r) => r.residentId === early)!;
      assert.equal(earlyRow.earliestExpiry, "2031-03-20");
      assert.deepEqual(earlyRow.certificates.map((c) => `${c.type}:${c.serialHex}`), [...earlySerials, earlyLater].sort(), "both days' certificates, in type then serial order");
      assert.deepEqual(earlyRow.certificates.map((c) => c.expires), ["2031-03-20", "2031-03-20", "2031-04-05"]);
      const lateRow = run.residents.find((r) => r.residentId === late)!;
      assert.equal(lateRow.earliestExpiry, "2031-04-01");
      assert.deepEqual(lateRow.certificates.map((c) => `${c.type}:${c.serialHex}`), lateSerials);
      // The order the run gives: earliest expiry, then resident id (the three seeded on 03-12 first).
      const order = run.residents.map((r) => `${r.earliestExpiry} ${r.residentId}`);
      assert.deepEqual(order, [...order].sort());
      assert.equal(run.residents.length, 5);
    });

    /** One certificate, `status` valid unless told; its "type:serial". */
    async function certificate(db: Kysely<Database>, residentId: string, caType: "auth" | "sign", expires: string, status: "valid" | "revoked" | "hold" = "valid") {
      const serial_hex = (nextSerial++).toString(16).padStart(16, "0");
      await db.insertInto("certificates").values({
        ca_type: caType, serial_hex, authority_id: authorities[caType]!, resident_id: residentId, card_id: null, subject_cn: `test ${caType} ${serial_hex}`,
        municipality_code: "132098", not_before: "2026-01-10T00:00:00Z", not_after: `${expires}T14:59:59Z`, expires, issued_at: "2026-01-10T00:00:00Z",
        status, revoked_at: null, revocation_reason: null, invalidity_date: null, revoked_by: null,
      }).execute();
      return serial_hex;
    }
    /** A resident of Machida with no certificate yet. */
    async function residentOnly(db: Kysely<Database>, id: string) {
      await db.insertInto("residents").values({ ...template, id } as never).execute();
      return id;
    }
    /** `db` that runs `change` once, just before the run reads expiry day `day`. */
    const beforeDay = (db: Kysely<Database>, day: string, change: () => Promise<void>) => {
      let done = false;
      return beforeEachQuery(db, async (_, q) => {
        if (done || isLookup(q) || !q.parameters.includes(day)) return;
        done = true;
        await change();
      });
    };
    const rowsOf = (run: Awaited<ReturnType<typeof expiryNoticeRun>>, residentId: string) =>
      run.residents.filter((r) => r.residentId === residentId).map((r) => ({ earliestExpiry: r.earliestExpiry, certificates: r.certificates.map((c) => `${c.type}:${c.serialHex}:${c.expires}`) }));

    // The earlier certificate's status changes between its day and the later one: the resident is listed once either way.
    const changes = [
      { case: "on hold when its day was read, lifted before the later day: listed once, on the later day, with both", id: "R-0000000911", before: "hold", after: "valid" },
      { case: "revoked after its day was listed: not listed again on the later day", id: "R-0000000912", before: "valid", after: "revoked" },
    ] as const;
    for (const change of changes) {
      test(`a resident whose earlier certificate was ${change.case}`, async () => {
        const db = t.context.store.db;
        await clear(db);
        const id = await residentOnly(db, change.id);
        const early = await certificate(db, id, "auth", "2031-03-12", change.before);
        const later = await certificate(db, id, "sign", "2031-03-20");
        const set = () => db.updateTable("certificates").set({ status: change.after }).where("serial_hex", "=", early).execute().then(() => undefined);
        const run = await expiryNoticeRun({ db: beforeDay(db, "2031-03-13", set), registry: t.context.registry, clock: t.context.clock }, { from: FROM });
        assert.deepEqual(rowsOf(run, id), [{ earliestExpiry: "2031-03-12", certificates: [`auth:${early}:2031-03-12`, `sign:${later}:2031-03-20`] }]);
        assert.equal(run.residents.length, 1);
      });
    }

    test("over 500 residents (more than one lookup) with certificates on two days: each listed once, on the earlier day, with both", async () => {
      const db = t.context.store.db;
      await clear(db);
      const count = 503;
      const expected = [];
      for (let i = 0; i < count; i++) {
        const id = await residentOnly(db, `R-00000${String(20000 + i).padStart(5, "0")}`);
        const auth = await certificate(db, id, "auth", "2031-03-12");
        const sign = await certificate(db, id, "sign", "2031-03-25");
        expected.push({ residentId: id, earliestExpiry: "2031-03-12", certificates: [`auth:${auth}:2031-03-12`, `sign:${sign}:2031-03-25`] });
      }
      const queries: CompiledQuery[] = [];
      const run = await expiryNoticeRun({ db: beforeEachQuery(db, async (_, q) => void queries.push(q)), registry: t.context.registry, clock: t.context.clock }, { from: FROM });
      assert.deepEqual(
        run.residents.map((r) => ({ residentId: r.residentId, earliestExpiry: r.earliestExpiry, certificates: r.certificates.map((c) => `${c.type}:${c.serialHex}:${c.expires}`) })),
        expected,
      );
      assert.equal(queries.filter(isLookup).length, 2, "the 03-12 residents looked up in two batches; none again on 03-25");
    });

    test("the first day's rows come before a later day is read", async () => {
      const db = t.context.store.db;
      await clear(db);
      await seed(db, 4, { day: "2031-03-10" });
      await seed(db, 4, { day: "2031-03-25" });
      const queries: CompiledQuery[] = [];
      const rows = expiryNoticeRows({ db: beforeEachQuery(db, async (_, q) => void queries.push(q)), registry: t.context.registry, clock: t.context.clock }, { from: FROM });
      const first = await rows.next();
      assert.equal(first.done, false);
      assert.equal(first.value!.earliestExpiry, "2031-03-10");
      const daysRead = () => queries.filter((q) => !isLookup(q)).map((q) => q.parameters.find((p) => typeof p === "string" && /^\d{4}-\d{2}-\d{2}$/.test(p)));
      assert.deepEqual(daysRead(), ["2031-03-10"], "only the first day read so far");
      let count = 1;
      for await (const row of rows) {
        count++;
        if (row.earliestExpiry === "2031-03-25") assert.ok(daysRead().includes("2031-03-25"));
      }
      assert.equal(count, 8);
      assert.equal(daysRead().length, 31, "every day of the window read, once");
    });

    test("the CSV written as the rows are read is the CSV of the collected run", async () => {
      const db = t.context.store.db;
      await clear(db);
      await seed(db, 1300); // over 64 KiB of CSV: more than one chunk
      // Fields to quote and to keep from running as a formula.
      const { id } = await db.selectFrom("residents").select("id").where("id", "like", "R-00000%").orderBy("id").executeTakeFirstOrThrow();
      await db.updateTable("residents").set({ name: '=HYPERLINK("x") 花子', address: '東京都町田市森野１, "A"棟\r\n2階' }).where("id", "=", id).execute();
      const deps = { db, registry: t.context.registry, clock: t.context.clock };
      const chunks: string[] = [];
      for await (const chunk of expiryNoticesCsvChunks(expiryNoticeRows(deps, { from: FROM }))) chunks.push(chunk);
      assert.ok(chunks.length >= 3, `header and several chunks: ${chunks.length}`);
      const whole = expiryNoticesCsv(await expiryNoticeRun(deps, { from: FROM }));
      assert.equal(chunks.join(""), whole);
      assert.equal(whole.split(/\r\n(?=R-|$)/).length, 1 + 1300 + 1, "header, every resident, and the final CRLF");
      assert.match(whole, /,"'=HYPERLINK\(""x""\) 花子","東京都町田市森野１, ""A""棟\r\n2階",/);
    });

    test("a listing keeps the first rows it shows and counts the rest", async () => {
      const db = t.context.store.db;
      await clear(db);
      await seed(db, 30);
      const deps = { db, registry: t.context.registry, clock: t.context.clock };
      const run = await expiryNoticeRun(deps, { from: FROM });
      const listing = await expiryNoticeListing(deps, { from: FROM }, 7);
      assert.deepEqual([listing.count, listing.residents.length, listing.windowStart, listing.windowEnd], [30, 7, "2031-03-10", "2031-04-09"]);
      assert.deepEqual(listing.residents, run.residents.slice(0, 7));
    });

    test("a listing reads only as far as it shows and counts the rest with one query, as many as the run lists", async () => {
      const db = t.context.store.db;
      await clear(db);
      await seed(db, 3, { day: "2031-03-10" });
      await seed(db, 3, { day: "2031-03-11" });
      await seed(db, 3, { day: "2031-04-09" });
      const [twoDays, revokedOnly, moved, elsewhere] = (await seed(db, 4, { day: "2031-03-20" })).filter((c) => c.startsWith("auth:")).map((c) => c.slice("auth:".length)); // one per resident
      const holderOf = async (serial: string) => (await db.selectFrom("certificates").select("resident_id").where("serial_hex", "=", serial).executeTakeFirstOrThrow()).resident_id!;
      // Counted once with certificates on two days; not counted with none valid, nor when no longer registered.
      await certificate(db, await holderOf(twoDays!), "auth", "2031-04-01");
      await db.updateTable("certificates").set({ status: "revoked" }).where("resident_id", "=", await holderOf(revokedOnly!)).execute();
      await db.updateTable("residents").set({ status: "emigrated" }).where("id", "=", await holderOf(moved!)).execute();
      await db.updateTable("residents").set({ municipality_code: "131016" }).where("id", "=", await holderOf(elsewhere!)).execute();
      const queries: CompiledQuery[] = [];
      const deps = { db: beforeEachQuery(db, async (_, q) => void queries.push(q)), registry: t.context.registry, clock: t.context.clock };
      const listing = await expiryNoticeListing(deps, { from: FROM }, 4);
      assert.equal(queries.filter((q) => !isLookup(q)).length, 3, "the first two days, then the count");
      if (backend === "sqlite") {
        const plan = await planOf(db, queries[queries.length - 1]!);
        assert.match(plan, /certificates_expires \(status=\? AND expires>\? AND expires<\?\)/, `the count reads the window's range of the index: ${plan}`);
      }
      const run = await expiryNoticeRun({ db, registry: t.context.registry, clock: t.context.clock }, { from: FROM });
      assert.deepEqual([listing.count, run.residents.length], [11, 11]);
      assert.deepEqual(listing.residents, run.residents.slice(0, 4));
      const machida = await expiryNoticeListing(deps, { from: FROM, municipality: "132098" }, 4);
      assert.deepEqual([machida.count, (await expiryNoticeRun(deps, { from: FROM, municipality: "132098" })).residents.length], [10, 10]);
      const all = await expiryNoticeListing(deps, { from: FROM }, 11);
      assert.deepEqual([all.count, all.residents.length], [11, 11], "the whole run shown: counted as read");
    });

    test("a run with at most so many residents stops reading at the first one over", async () => {
      const db = t.context.store.db;
      await clear(db);
      await seed(db, 3, { day: "2031-03-10" });
      await seed(db, 3, { day: "2031-03-11" });
      await seed(db, 3, { day: "2031-04-09" });
      const queries: CompiledQuery[] = [];
      const deps = { db: beforeEachQuery(db, async (_, q) => void queries.push(q)), registry: t.context.registry, clock: t.context.clock };
      await assert.rejects(expiryNoticeRun(deps, { from: FROM, atMost: 4 }), (e: unknown) => e instanceof ServiceError && e.reason === "run-too-large" && /4 件を超え/.test(e.message) && /more than 4 notices/.test(e.message));
      assert.equal(queries.filter((q) => !isLookup(q)).length, 2, "the second day, with the fifth resident, is the last read");
      assert.equal((await expiryNoticeRun(deps, { from: FROM, atMost: 9 })).residents.length, 9);
    });

    test("a date that is not one, or has no window, is a from mistake, before anything is read", async () => {
      const deps = { db: t.context.store.db, registry: t.context.registry, clock: t.context.clock };
      for (const from of ["2031-02-30", "xx", "9999-12-31"]) {
        const refused = (e: unknown) => e instanceof ServiceError && e.code === "invalid-input" && e.field === "from";
        assert.throws(() => expiryNoticeDates(from), refused, from);
        await assert.rejects(expiryNoticeRun(deps, { from }), refused, from);
        await assert.rejects(expiryNoticeRows(deps, { from }).next(), refused, from);
      }
    });

    test("a run on the 31st reports the window the rule gives", async () => {
      const run = await expiryNoticeRun({ db: t.context.store.db, registry: t.context.registry, clock: t.context.clock }, { from: "2031-03-31" });
      assert.deepEqual([run.windowStart, run.windowEnd], ["2031-05-28", "2031-06-29"]);
    });
  });
}
