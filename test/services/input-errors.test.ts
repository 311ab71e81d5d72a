// Input the JPKI profile refuses (a character no certificate can carry, a date no era covers)
// reaches a service's caller as a ServiceError naming the field, just as the rules' refusals do.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { ServiceError } from "../../src/services/errors.ts";
import { isInputError } from "../../src/services/input-errors.ts";
import { ProfileInputError } from "../../src/profile/errors.ts";
import { RuleInputError } from "../../src/rules/errors.ts";
import { backends, openTestContext, type TestContext } from "../helpers/context.ts";
import { testPublicKeys } from "../helpers/keys.ts";

const NOW = "2026-11-25T03:00:00Z";
// 𠮷 (U+20BB7) is outside JIS X 0208 and JIS X 0212: the counter must choose a substitute.
const OUTSIDE_JIS = "\u{20BB7}";

/** A ServiceError with `code` and `field` whose message is exactly `message`. */
function serviceError(code: string, field: string, message: RegExp): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(e instanceof ServiceError, `expected a ServiceError, got ${String(e)}`);
    assert.equal(e.code, code);
    assert.equal(e.field, field);
    assert.match(e.message, message);
    return true;
  };
}

test("isInputError recognises the rules' and the profile's refusals, nothing else", () => {
  assert.equal(isInputError(new RuleInputError("birth", "birth: x")), true);
  assert.equal(isInputError(new ProfileInputError("name", "name: x")), true);
  assert.equal(isInputError(new ServiceError("invalid-input", "x")), false);
  assert.equal(isInputError(new Error("x")), false);
  assert.equal(isInputError(undefined), false);
});

test("the rules' refusals of instants are given in Japanese too, through the one input-error path", async () => {
  const { inputErrorAs } = await import("../../src/services/input-errors.ts");
  const { parseDateOrInstant } = await import("../../src/rules/japan-date.ts");
  const cases: [string, RegExp][] = [
    ["2026-11-25T10:00:00", /^at: 時刻にタイムゾーンがない.* \/ "2026-11-25T10:00:00" has no time zone/],
    ["2026-11-25T25:00:00Z", /^at: ありえない時刻です \/ /],
    ["2026-11-25T10:00:00+24:00", /^at: ありえない時差です \/ /],
    ["tomorrow", /^at: 日付（YYYY-MM-DD）か ISO 8601 の日時.* \/ "tomorrow" is neither/],
  ];
  for (const [text, message] of cases) {
    let caught: unknown;
    try {
      parseDateOrInstant(text, "at");
    } catch (error) {
      caught = inputErrorAs(error, "invalid-input");
    }
    assert.ok(caught instanceof ServiceError, text);
    assert.match(caught.message, message, text);
  }
});

for (const backend of backends()) {
  describe(`profile input errors on ${backend}`, () => {
    let t: TestContext;
    const resident = {
      name: "山田 太郎",
      birth: "1990-01-02",
      gender: "1",
      address: "東京都町田市森野２－２－２２",
      municipality: "132098",
    };

    before(async () => {
      t = await openTestContext(backend, { now: NOW });
    });
    after(() => t.cleanup());

    test("registering a name with a character no certificate can carry is invalid input naming the name", async () => {
      await assert.rejects(
        t.context.registry.add({ ...resident, name: `${OUTSIDE_JIS}田 太郎` }),
        serviceError("invalid-input", "name", /^name: 1文字目の "𠮷" \(U\+20BB7\) は電子証明書に記録できない文字です（JIS X 0208\/0212 にない文字）。代替の文字を使ってください \/ character "𠮷" \(U\+20BB7\) at position 1 is outside JIS X 0208\/0212/),
      );
    });

    test("registering a birth before the Meiji era is invalid input naming the birth", async () => {
      await assert.rejects(
        t.context.registry.add({ ...resident, birth: "1868-10-22" }),
        serviceError("invalid-input", "birth", /^birth: 1868-10-22 は明治の始まり（1868-10-23）より前の日付のため扱えません \/ 1868-10-22 is before the Meiji era \(1868-10-23\)$/),
      );
    });

    test("changing an address to one no certificate can carry is invalid input naming the address", async () => {
      const { id } = await t.context.registry.add(resident);
      await assert.rejects(
        t.context.events.changeAttributes(id, { address: `東京都町田市${OUTSIDE_JIS}町１` }),
        serviceError("invalid-input", "address", /^address: 7文字目の "𠮷" \(U\+20BB7\) は電子証明書に記録できない文字です.* \/ character "𠮷" \(U\+20BB7\) at position 7 is outside/),
      );
    });

    test("a register entry written around the register's checks cannot be issued a signing certificate", async () => {
      const { id } = await t.context.registry.add(resident);
      // As an older release or a direct database edit could have left it.
      await t.context.store.db.updateTable("residents").set({ name: `${OUTSIDE_JIS}田　太郎`, name_substitutes: "00000" }).where("id", "=", id).execute();
      await assert.rejects(
        t.context.ca.issue({ type: "sign", residentId: id, subjectPublicKey: testPublicKeys(1)[0]! }),
        serviceError("not-eligible", "name", /^name: 1文字目の "𠮷" \(U\+20BB7\) は電子証明書に記録できない文字です.* \/ character "𠮷" \(U\+20BB7\) at position 1 is outside/),
      );
      assert.deepEqual(await t.context.ca.certificatesOf(id), [], "the refused request left no record");
    });
  });
}
