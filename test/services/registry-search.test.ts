// The counter's resident search runs in the store: the whole register, newest first, filtered in
// SQL on each row's search key — a resident registered long ago is found however many came after
// (the page once searched only the newest 1,000 it had loaded), and the key follows each change.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { backends, openTestContext, type TestContext } from "../helpers/context.ts";

for (const backend of backends()) {
  describe(`resident search on ${backend}`, () => {
    let t: TestContext;
    let clockNow = new Date("2026-11-25T03:00:00Z");
    const ids: string[] = [];
    before(async () => {
      t = await openTestContext(backend, { clock: () => clockNow });
      const people = [
        ["検索 最古", "東京都町田市森野２－２－２２", "132098"],
        ["検索 花子", "東京都町田市原町田１－１", "132098"],
        ["検索 千代", "東京都千代田区霞が関２－１－２", "131016"],
        ["検索 次郎", "東京都町田市中町３", "132098"],
        ["検索 最新", "東京都町田市森野１", "132098"],
      ];
      for (const [name, address, municipality] of people) {
        clockNow = new Date(clockNow.getTime() + 1000); // registered one after another
        ids.push((await t.context.registry.add({ name: name!, birth: "1980-04-01", gender: "2", address: address!, municipality: municipality! })).id);
      }
    });
    after(() => t.cleanup());

    const names = async (text: string, options: Parameters<TestContext["context"]["registry"]["search"]>[1] = {}) =>
      (await t.context.registry.search(text, options)).map((r) => r.name.replace("\u3000", " ")).filter((n) => n.startsWith("検索"));

    test("finds the oldest resident, newest first, and stops at the limit", async () => {
      assert.deepEqual(await names("最古"), ["検索 最古"]);
      assert.deepEqual(await names("検索"), ["検索 最新", "検索 次郎", "検索 千代", "検索 花子", "検索 最古"], "newest first");
      assert.deepEqual(await names("検索", { limit: 2 }), ["検索 最新", "検索 次郎"]);
    });

    test("compares without spaces, in NFKC and lower case: names, addresses and ids", async () => {
      assert.deepEqual(await names("検索花子"), ["検索 花子"]);
      assert.deepEqual(await names("2-2-22"), ["検索 最古"], "ASCII digits find full-width ones");
      assert.deepEqual(await names("霞が関２－１"), ["検索 千代"]);
      const id = ids[3]!;
      assert.deepEqual(await names(id.toLowerCase()), ["検索 次郎"]);
      assert.deepEqual(await names("見つからない"), []);
    });

    test("LIKE's own characters are matched as themselves, not as wildcards", async () => {
      assert.deepEqual(await names("_"), [], "an underscore is not any one character");
      assert.deepEqual(await names("%"), [], "a percent sign is not any text");
      assert.deepEqual(await names("\\"), [], "a backslash is not an escape");
      assert.deepEqual(await names("検索_花子"), []);
    });

    test("the search key follows a change of name or address, and not across the parts", async () => {
      await t.context.events.changeAttributes(ids[1]!, { name: "検索 花江", address: "東京都町田市玉川学園７－７" });
      assert.deepEqual(await names("花子"), [], "the old name is no longer found");
      assert.deepEqual(await names("花江"), ["検索 花江"]);
      assert.deepEqual(await names("玉川学園7-7"), ["検索 花江"], "the new address, compared in NFKC");
      assert.deepEqual(await names("原町田"), [], "the old address is no longer found");
      const id = ids[1]!.toLowerCase();
      assert.deepEqual(await names(`花江${id}`), [], "a query does not run from the name into the id");
    });

    test("keeps to one municipality when asked; an empty search lists the newest", async () => {
      assert.deepEqual(await names("検索", { municipality: "131016" }), ["検索 千代"]);
      assert.deepEqual(await names("", { municipality: "131016" }), ["検索 千代"]);
      assert.deepEqual((await names("  ", { limit: 2 })), ["検索 最新", "検索 次郎"]);
    });

    test("LIKE's own characters in the register are found by themselves (NFKC makes the full-width ％＿＼ the ASCII ones)", async () => {
      const odd = await t.context.registry.add({ name: "記号 試験", birth: "1980-04-01", gender: "2", address: "東京都町田市森野１００％＿＼ｘ", municipality: "132098" });
      const ids = async (text: string) => (await t.context.registry.search(text)).map((r) => r.id);
      for (const text of ["100%", "%_", "_\\", "\\x"]) assert.deepEqual(await ids(text), [odd.id], text);
    });
  });
}
