/**
 * The benchmark's per-thread CPU (bench/threads.ts) puts work where it ran: a busy event loop on
 * the main thread, asynchronous signatures on the other threads (libuv's pool). No timings are
 * asserted: each case works until its counter has moved, then checks where the CPU went.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync, sign } from "node:crypto";
import { promisify } from "node:util";
import { describeThreadCpuPer, threadCpu, threadCpuSince } from "../../bench/threads.ts";

const signAsync = promisify(sign);
const main = (t: { mainUserS: number; mainSystemS: number }) => t.mainUserS + t.mainSystemS;
const other = (t: { otherUserS: number; otherSystemS: number }) => t.otherUserS + t.otherSystemS;

describe("benchmark per-thread CPU", () => {
  it("charges a busy event loop to the main thread", () => {
    const start = threadCpu();
    let used = threadCpuSince(start);
    // Spin on the main thread until it has used 0.2 s (the tick is 10 ms), with a bound on the loop.
    for (let i = 0; i < 1e6 && main(used) < 0.2; i++) {
      let x = 0;
      for (let j = 0; j < 100_000; j++) x += j % 7;
      if (x < 0) throw new Error("unreachable");
      used = threadCpuSince(start);
    }
    assert.ok(main(used) >= 0.2, `the main thread's counter moved (${main(used)} s)`);
    assert.ok(other(used) < main(used), `the other threads did not get the loop's CPU (${other(used)} s)`);
  });

  it("charges asynchronous signatures to the other threads", async () => {
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const start = threadCpu();
    let used = threadCpuSince(start);
    // Rounds of 32 signatures on libuv's pool until the other threads have used 0.2 s.
    for (let round = 0; round < 1000 && other(used) < 0.2; round++) {
      await Promise.all(Array.from({ length: 32 }, (_, i) => signAsync("sha256", Buffer.from(`message ${round}.${i}`), privateKey)));
      used = threadCpuSince(start);
    }
    assert.ok(other(used) >= 0.2, `the other threads' counter moved (${other(used)} s)`);
    assert.ok(main(used) < other(used), `the main thread only handed the work out (${main(used)} s)`);
  });

  it("describes CPU per unit of work in microseconds", () => {
    const text = describeThreadCpuPer({ mainUserS: 0.3, mainSystemS: 0.1, otherUserS: 0.36, otherSystemS: 0.02 }, 1000);
    assert.equal(text, "event loop 400 µs (user 300, kernel 100), other threads 380 µs (user 360, kernel 20)");
  });
});
