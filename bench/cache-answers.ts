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
