import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { connectionLossLog } from "../../src/store/connection-loss-log.ts";

test("lost connections are told at most once per interval, with the count of those not told", async () => {
  const lines: string[] = [];
  const lost = connectionLossLog((line) => lines.push(line), 200);
  for (let i = 0; i < 5; i++) lost(new Error(`cut ${i}`)); // a failover cuts every connection at once
  assert.deepEqual(lines, ["PostgreSQL への接続が切れました。新しい接続で続けます / lost a connection to PostgreSQL, carrying on over a new one: cut 0"]);
  await sleep(250);
  lost(new Error("cut 5"));
  assert.equal(lines.length, 2);
  assert.match(lines[1]!, /: cut 5 \(前回から他に 4 件 \/ 4 more since the last line\)$/);
  await sleep(250);
  lost(new Error("cut 6"));
  assert.match(lines[2]!, /: cut 6$/, "the count starts again");
});
