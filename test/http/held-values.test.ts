// What a POST leaves for the page it redirects to: for its owner only, while it lasts, at most a
// bounded number at once (a flood of posts cannot grow memory without end).
import { test } from "node:test";
import assert from "node:assert/strict";
import { HeldValues } from "../../src/http/held-values.ts";

test("held values: the owner's only, until they expire; take forgets, get does not", () => {
  let now = 1_000;
  const held = new HeldValues<string>(60_000, () => now);
  const token = held.put("staff-1", "outcome");
  assert.match(token, /^[A-Za-z0-9_-]{22}$/, "an unguessable token");
  assert.equal(held.get(token, "staff-2"), undefined, "not another owner's");
  assert.equal(held.get(token, ""), undefined);
  assert.equal(held.get(token, "staff-1"), "outcome");
  assert.equal(held.get(token, "staff-1"), "outcome", "get shows it again (a reload)");
  assert.equal(held.take(token, "staff-1"), "outcome");
  assert.equal(held.take(token, "staff-1"), undefined, "take shows it once");
  held.put("browser", "done", "R-1");
  now += 60_001;
  assert.equal(held.get("R-1", "browser"), undefined, "expired");
  assert.equal(held.put("", "nobody's", "R-2"), "R-2");
  assert.equal(held.get("R-2", ""), undefined, "an empty owner is nobody");
  assert.equal(held.get(42, "browser"), undefined, "a token that is not text");
});

test("held values: at most `max` at once, the oldest going first; expired ones are swept as new ones come", () => {
  let now = 0;
  const held = new HeldValues<number>(1_000, () => now, 3);
  const ids = [1, 2, 3, 4].map((n) => held.put("o", n));
  assert.deepEqual(ids.map((id) => held.get(id, "o")), [undefined, 2, 3, 4], "the first went to make room");
  held.put("o", 2, ids[1]); // held again: to the back
  held.put("o", 5);
  assert.deepEqual(ids.map((id) => held.get(id, "o")), [undefined, 2, undefined, 4]);
  now = 5_000;
  const fresh = held.put("o", 6);
  const sizeOf = (h: HeldValues<number>) => (h as unknown as { entries: Map<string, unknown> }).entries.size;
  assert.equal(sizeOf(held), 1, "the expired ones were swept");
  assert.equal(held.get(fresh, "o"), 6);
});
