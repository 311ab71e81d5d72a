import { performance } from "node:perf_hooks";

/** One status read as a test saw it: when it began and ended (performance.now()) and what it said. */
export interface TimedRead {
  began: number;
  ended: number;
  status: string;
}

/** Run `read` and add its result, with when it began and ended, to `reads`. */
export async function timedRead(reads: TimedRead[], read: () => Promise<string>): Promise<void> {
  const began = performance.now();
  const status = await read();
  reads.push({ began, ended: performance.now(), status });
}

/** How a read is named in an assertion's message: its start, in ms after `origin`, and what it said. */
const described = (origin: number) => (read: TimedRead) => `${Math.round(read.began - origin)} ms: ${read.status}`;

/**
 * Reads that went back in time ("Reads never go back in time"): begun after the first "revoked"
 * one ended, yet saying something else. Named for the message, relative to `origin`.
 */
export function wentBackInTime(reads: readonly TimedRead[], origin: number): string[] {
  const firstRevokedEnded = Math.min(...reads.filter((read) => read.status === "revoked").map((read) => read.ended));
  return reads.filter((read) => read.status !== "revoked" && read.began > firstRevokedEnded).map(described(origin));
}

/** Reads begun more than `boundMs` after `since` that do not say "revoked". Named for the message, relative to `since`. */
export function notRevokedAfter(reads: readonly TimedRead[], since: number, boundMs = 0): string[] {
  return reads.filter((read) => read.began - since > boundMs && read.status !== "revoked").map(described(since));
}
