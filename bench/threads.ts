/**
 * CPU time of this process's own threads, from /proc/self/task/TID/stat: the main thread (the
 * event loop, where HTTP, JSON, the queries and SQLite's synchronous statements run) apart from
 * all the others (libuv's thread pool with the signatures, V8's compiler and GC helpers). A
 * wall-clock profile cannot tell these apart on two busy cores: a pool thread that wakes up
 * pre-empts the event loop, and the profiler charges the wait to whatever the loop was doing.
 * Ticks of a thread that exits inside a window are lost (the pool's threads live as long as the
 * process, so in practice nothing is).
 */
import { readdirSync, readFileSync } from "node:fs";

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

export interface ThreadCpu {
  mainUserS: number;
  mainSystemS: number;
  otherUserS: number;
  otherSystemS: number;
}

/** CPU used so far by the main thread and by the other threads, in seconds. */
export function threadCpu(): ThreadCpu {
  const ticks = { mainUser: 0, mainSystem: 0, otherUser: 0, otherSystem: 0 };
  const mainTid = String(process.pid);
  for (const tid of readdirSync("/proc/self/task")) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
    } catch {
      continue; // the thread ended between the listing and the read
    }
    // Fields after the command (which may hold spaces and parentheses): utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const user = Number(fields[11]);
    const system = Number(fields[12]);
    if (tid === mainTid) {
      ticks.mainUser += user;
      ticks.mainSystem += system;
    } else {
      ticks.otherUser += user;
      ticks.otherSystem += system;
    }
  }
  return {
    mainUserS: ticks.mainUser / TICKS_PER_SECOND,
    mainSystemS: ticks.mainSystem / TICKS_PER_SECOND,
    otherUserS: ticks.otherUser / TICKS_PER_SECOND,
    otherSystemS: ticks.otherSystem / TICKS_PER_SECOND,
  };
}

/** What the threads used between `start` (a `threadCpu()` reading) and now. */
export function threadCpuSince(start: ThreadCpu): ThreadCpu {
  const now = threadCpu();
  return {
    mainUserS: now.mainUserS - start.mainUserS,
    mainSystemS: now.mainSystemS - start.mainSystemS,
    otherUserS: now.otherUserS - start.otherUserS,
    otherSystemS: now.otherSystemS - start.otherSystemS,
  };
}

/**
 * "event loop 402 µs (user 300, kernel 102), other threads 384 µs (user 367, kernel 17)": CPU per
 * unit of work (certificate, answer), for a benchmark's notes.
 */
export function describeThreadCpuPer(used: ThreadCpu, units: number): string {
  const us = (seconds: number) => Math.round((seconds * 1e6) / Math.max(1, units));
  return (
    `event loop ${us(used.mainUserS + used.mainSystemS)} µs (user ${us(used.mainUserS)}, kernel ${us(used.mainSystemS)}), ` +
    `other threads ${us(used.otherUserS + used.otherSystemS)} µs (user ${us(used.otherUserS)}, kernel ${us(used.otherSystemS)})`
  );
}
