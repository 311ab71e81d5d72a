import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { connectionLostLine, rateLimitedLog } from "../../src/store/rate-limited-log.ts";

test("events in a burst are told at most once per interval, with the count of those not told", async () => {
  const lines: string[] = [];
  const tell = rateLimitedLog((line) => lines.push(line), 200);
  for (let i = 0; i < 5; i++) tell(connectionLostLine(new Error(`cut ${i}`))); // a failover cuts every connection at once
  assert.deepEqual(lines, ["PostgreSQL への接続が切れました。新しい接続で続けます / lost a connection to PostgreSQL, carrying on over a new one: cut 0"]);
  await sleep(250);
  tell("cut 5");
  assert.deepEqual(lines.slice(1), ["cut 5 (前回から他に 4 件 / 4 more since the last line)"]);
  await sleep(250);
  tell("cut 6");
  assert.deepEqual(lines.slice(2), ["cut 6"], "the count starts again");
});
