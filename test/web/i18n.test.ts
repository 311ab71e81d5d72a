// The pages show the half of a service message ("日本語 / English") in the page's language.
import { test } from "node:test";
import assert from "node:assert/strict";
import { localMessage } from "../../src/web/i18n.ts";

test("localMessage: split after a space or after Japanese; other slashes stay", () => {
  assert.equal(localMessage("ja", "カードを読み取れませんでした / the card refused"), "カードを読み取れませんでした");
  assert.equal(localMessage("en", "カードを読み取れませんでした / the card refused"), "the card refused");
  // No space before the slash after a full-width bracket.
  const wrongPin = "利用者証明用電子証明書の暗証番号が違います（残り2回）/ wrong authentication PIN: 2 tries left";
  assert.equal(localMessage("ja", wrongPin), "利用者証明用電子証明書の暗証番号が違います（残り2回）");
  assert.equal(localMessage("en", wrongPin), "wrong authentication PIN: 2 tries left");
  // A parameter's name before the Japanese stays: it says which one.
  assert.equal(localMessage("ja", "lang: 同じパラメータが複数あります / lang: repeated"), "lang: 同じパラメータが複数あります");
  // English only, with slashes that are not the split: shown whole.
  assert.equal(localMessage("ja", "name: needs a surname and a given name (see https://example.org/a/b)"), "name: needs a surname and a given name (see https://example.org/a/b)");
  assert.equal(localMessage("en", "and/or"), "and/or");
});
