/**
 * Worker thread for VERIFY-CMS / VERIFY-AUTH on several cores: its own verifier (the relying
 * party's library, src/verify) with the same trust anchors and the same cached CRLs the main
 * thread took from `context.crls.current(type)`, verifying the same documents in a loop until
 * the shared start time (or the end of its warm-up, if later) for `seconds`. Posts { done, valid, firstInvalid?, seconds, startedAt, endedAt, repeats, seenBefore }.
 *
 * `certificateCacheEntries` (the verifier's `limits.certificateCacheEntries`) below the number of
 * distinct certificates makes every verification a miss of the per-certificate caches: the items
 * are cycled in order, and an LRU smaller than the cycle has always just dropped the next one.
 */
import { CacheAnswers, warmUpCalls } from "../cache-answers.ts";
import { parentPort, workerData } from "node:worker_threads";
import { createVerifier, type VerificationResult } from "../../src/verify/index.ts";

export interface VerifyWorkerInput {
  kind: "cms" | "auth";
  anchors: { sign: Uint8Array[]; auth: Uint8Array[] };
  /** The full CRL of the type being verified (sign for CMS, auth for logins), DER: served for the URL the certificate names. */
  crlDer: Uint8Array;
  /** CMS: the SignedData DER. Auth: certificate, challenge, signature. */
  items: ({ cms: Uint8Array } | { certificateDer: Uint8Array; data: Uint8Array; signature: Uint8Array })[];
  /** Date.now() at which every worker starts timing (after its warm-up). */
  startAt: number;
  seconds: number;
  /** The verifier's certificate cache size; absent = the verifier's default (10,000). */
  certificateCacheEntries?: number;
}

export interface VerifyWorkerOutput {
  done: number;
  valid: number;
  seconds: number;
  /** Wall-clock ms (epoch, sub-ms) at which the timed window began and ended: the parent sums workers over the union of their windows. */
  startedAt: number;
  endedAt: number;
  firstInvalid?: string;
  /**
   * Timed valid verifications of a document already verified by this worker whose result carried
   * the very same certificate description object as the previous time: the verifier makes that
   * object once per parsed certificate, so this counts answers served from its per-certificate
   * cache (parsed certificate, checked chain, policy, key usage), out of `seenBefore`.
   */
  repeats: number;
  seenBefore: number;
}

const input = workerData as VerifyWorkerInput;
const verifier = createVerifier({
  trustAnchors: input.anchors,
  revocation: {
    crl: { fetch: async () => input.crlDer },
    prefer: "crl",
  },
  ...(input.certificateCacheEntries ? { limits: { certificateCacheEntries: input.certificateCacheEntries } } : {}),
});

// Each call's arguments are a fresh object literal, as a relying party writes the call; spreading
// the item instead (`{ ...item, hash, expectedType }`) cost 7–10 µs per call on its own, a fifth
// of a login's verification, measured 2026-12-06.
const calls = input.items.map((item): (() => Promise<VerificationResult>) => {
  if ("cms" in item) return () => verifier.verifyCms(item.cms, { expectedType: "sign" });
  const { certificateDer, data, signature } = item;
  return () => verifier.verifyRawSignature({ certificateDer, data, signature, hash: "sha256", expectedType: "auth" });
});
const one = (i: number): Promise<VerificationResult> => calls[i % calls.length]!();
const answers = new CacheAnswers();

// Warm-up: JIT, the first call of each type fetches and parses the CRL (cached until nextUpdate),
// and whole passes over the items, at least two, as the verifier keeps a certificate from its
// second sighting on (see warmUpCalls).
for (let i = 0; i < warmUpCalls(input.items.length); i++) {
  const r = await one(i);
  if (r.valid) answers.prime(i % calls.length, r.certificate);
}
while (Date.now() < input.startAt) await new Promise((resolve) => setTimeout(resolve, 1));

const out: VerifyWorkerOutput = { done: 0, valid: 0, seconds: 0, startedAt: 0, endedAt: 0, repeats: 0, seenBefore: 0 };
const t0 = performance.now();
out.startedAt = performance.timeOrigin + t0;
const deadline = t0 + input.seconds * 1000;
while (performance.now() < deadline) {
  for (let k = 0; k < 16; k++) {
    const i = out.done % calls.length;
    const r = await one(i);
    out.done++;
    if (r.valid) {
      out.valid++;
      answers.record(i, r.certificate);
    } else out.firstInvalid ??= `${r.code}: ${r.message}`;
  }
}
const t1 = performance.now();
out.repeats = answers.repeats;
out.seenBefore = answers.seenBefore;
out.seconds = (t1 - t0) / 1000;
out.endedAt = performance.timeOrigin + t1;
parentPort!.postMessage(out);
