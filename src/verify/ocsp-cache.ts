/**
 * Checked OCSP answers, kept until their nextUpdate (RFC 5019 §6: an answer may be cached until
 * then). Only for a verifier configured without a nonce: with a nonce the caller asked for an
 * answer made for this very request, which no cached answer is. "good" and "revoked" answers
 * are kept; "unknown" answers and answers without nextUpdate are not (the first may change as
 * soon as the responder learns of a new certificate, the second have no stated lifetime).
 */
import { LruMap } from "./lru.ts";
import type { OcspAnswer } from "./ocsp.ts";
import type { Anchor } from "./trust.ts";

export class OcspAnswerCache {
  readonly #entries: LruMap<string, OcspAnswer>;

  constructor(maxEntries: number) {
    this.#entries = new LruMap(maxEntries);
  }

  /** An answer is about one serial under one root, from one responder URL. */
  static key(url: string, issuer: Anchor, serialHex: string): string {
    return `${issuer.info.sha256Hex} ${serialHex} ${url}`;
  }

  /** The answer under `key` if it is current at `now`: nextUpdate not passed, thisUpdate not in the future. */
  get(key: string, now: Date, skewMs: number): OcspAnswer | undefined {
    const hit = this.#entries.get(key);
    if (!hit?.nextUpdate) return undefined;
    if (hit.nextUpdate.getTime() < now.getTime()) {
      this.#entries.delete(key);
      return undefined;
    }
    // A clock set back before thisUpdate: the answer is not yet usable (and a fresh fetch decides).
    if (hit.thisUpdate.getTime() > now.getTime() + skewMs) return undefined;
    return hit;
  }

  put(key: string, answer: OcspAnswer): void {
    if (answer.kind === "unknown" || !answer.nextUpdate) return;
    this.#entries.set(key, answer);
  }
}
