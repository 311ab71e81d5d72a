/**
 * How often the verifier's per-certificate cache answered, seen from outside: a valid result's
 * `certificate` description is made once per parsed certificate, so the same object coming back
 * for a document verified before means its parsed certificate (and checked chain, policy and key
 * usage) was kept. The VERIFY bench's main-thread and worker loops count with it, and its test
 * checks the counting they use.
 */
export class CacheAnswers {
  /** Per document: the certificate description of its last valid result. */
  private readonly last: unknown[] = [];
  /** Valid verifications of a document verified before… */
  seenBefore = 0;
  /** …that the cache answered. */
  repeats = 0;

  /** A valid result for document `i`, outside the count (the warm-up). */
  prime(i: number, certificate: unknown): void {
    this.last[i] = certificate;
  }

  /** A valid result for document `i`, counted. */
  record(i: number, certificate: unknown): void {
    const last = this.last[i];
    if (last !== undefined) {
      this.seenBefore++;
      if (last === certificate) this.repeats++;
    }
    this.last[i] = certificate;
  }
}

/**
 * How many verifications a VERIFY warm-up makes over `documents` documents taken in turn: whole
 * passes, at least two (the verifier keeps a certificate from its second sighting on) and at least
 * `atLeast` calls (for the JIT). Whole passes, because a warm-up ending part way through a pass
 * leaves that part's certificates just seen: the timed run's first pass then sees them a second
 * time, the cache keeps them, and every later pass hits them — 8 of 64 documents in a cold run
 * when the warm-up was 200 calls.
 */
export function warmUpCalls(documents: number, atLeast = 200): number {
  return documents * Math.max(2, Math.ceil(atLeast / documents));
}
