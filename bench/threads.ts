/**
 * CPU time of this process's own threads, from /proc/self/task/TID/stat: the main thread (the
 * event loop, where HTTP, JSON, the queries and SQLite's synchronous statements run) apart from
 * all the others (libuv's thread pool with the signatures, V8's compiler and GC helpers). A
 * wall-clock profile cannot tell these apart on two busy cores: a pool thread that wakes up
 * pre-empts the event loop, and the profiler charges the wait to whatever the loop was doing.
 * Differences are taken thread by thread: a thread that ends inside a window loses its ticks of
 * that window (the pool's threads live as long as the process, so in practice nothing is lost),
 * one that starts inside it counts from zero.
 */
import { readdirSync, readFileSync } from "node:fs";
import { parseStat, TICKS_PER_SECOND } from "./machine.ts";

export interface ThreadCpu {
  mainUserS: number;
  mainSystemS: number;
  otherUserS: number;
  otherSystemS: number;
}

/** Ticks per thread id at one moment (pass it to `threadCpuSince`). */
export type ThreadCpuReading = ReadonlyMap<string, { user: number; system: number }>;

/** CPU used so far by each of this process's threads. */
export function threadCpu(): ThreadCpuReading {
  const reading = new Map<string, { user: number; system: number }>();
  for (const tid of readdirSync("/proc/self/task")) {
    let line: string;
    try {
      line = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
    } catch {
      continue; // the thread ended between the listing and the read
    }
    const stat = parseStat(line);
    if (stat) reading.set(tid, { user: stat.utime, system: stat.stime });
  }
  return reading;
}

/** What the main thread and the other threads used between `start` and now, in seconds. */
export function threadCpuSince(start: ThreadCpuReading): ThreadCpu {
  const ticks = { mainUser: 0, mainSystem: 0, otherUser: 0, otherSystem: 0 };
  const mainTid = String(process.pid);
  for (const [tid, now] of threadCpu()) {
    const before = start.get(tid) ?? { user: 0, system: 0 };
    if (tid === mainTid) {
      ticks.mainUser += now.user - before.user;
      ticks.mainSystem += now.system - before.system;
    } else {
      ticks.otherUser += now.user - before.user;
      ticks.otherSystem += now.system - before.system;
    }
  }
  return {
    mainUserS: ticks.mainUser / TICKS_PER_SECOND,
    mainSystemS: ticks.mainSystem / TICKS_PER_SECOND,
    otherUserS: ticks.otherUser / TICKS_PER_SECOND,
    otherSystemS: ticks.otherSystem / TICKS_PER_SECOND,
  };
}

/** Seconds of CPU per unit of work, in whole microseconds. */
export const microsecondsPer = (seconds: number, units: number): number => Math.round((seconds * 1e6) / Math.max(1, units));

/**
 * "event loop 402 µs (user 300, kernel 102), other threads 384 µs (user 367, kernel 17)": CPU per
 * unit of work (certificate, answer), for a benchmark's notes.
 */
export function describeThreadCpuPer(used: ThreadCpu, units: number): string {
  const us = (seconds: number) => microsecondsPer(seconds, units);
  return (
    `event loop ${us(used.mainUserS + used.mainSystemS)} µs (user ${us(used.mainUserS)}, kernel ${us(used.mainSystemS)}), ` +
    `other threads ${us(used.otherUserS + used.otherSystemS)} µs (user ${us(used.otherUserS)}, kernel ${us(used.otherSystemS)})`
  );
}
