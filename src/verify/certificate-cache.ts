/**
 * The verifier's parsed certificates, by their exact DER. A relying party sees the same signer,
 * login and responder certificates again and again, and reading one (strict DER, its extensions,
 * importing its public key: certificate-der.ts) costs about as much as the RSA verification it is
 * needed for, and the checks of its chain one more. A certificate seen before
 * is found by the SHA-256 of its bytes and then compared byte for byte, so a different
 * certificate (the same serial number re-signed, a flipped bit) is never taken for a known one.
 * Only successful parses are kept; the oldest unused entries go first.
 *
 * A certificate is kept from its second sighting on: the first only records its hash. Most
 * certificates a relying party meets it meets once (10^8 holders), and a parsed certificate kept
 * in a large cache outlives the young generation, to be collected later from the old one at a
 * higher cost: cycling 2,000 certificates through a 1,000-entry cache took ≈35 % more CPU per cold
 * login than through a 16-entry one (measured 2026-12-07, 113–131 against 149–181 µs). A hash
 * costs ≈0.1 KB where a parsed certificate with what was derived from it costs several; a
 * certificate seen again is parsed once more, then kept.
 */
import { hash } from "node:crypto";
import { MAX_CERTIFICATE_BYTES, parseCertificate, type ParsedCertificate } from "./certificate.ts";
import { bytesEqual } from "../profile/der-reader.ts";
import { LruMap } from "./lru.ts";

export class CertificateCache {
  readonly #entries: LruMap<string, ParsedCertificate>;
  /** Hashes of certificates seen once and not kept (yet). */
  readonly #seenOnce: LruMap<string, true>;

  constructor(maxEntries: number) {
    this.#entries = new LruMap(maxEntries);
    this.#seenOnce = new LruMap(maxEntries);
  }

  /** The parsed certificate for `der`: from the cache, or parsed now (throws `malformed-input` like parseCertificate). */
  get(der: Uint8Array, what = "certificate"): ParsedCertificate {
    if (!(der instanceof Uint8Array) || der.length === 0 || der.length > MAX_CERTIFICATE_BYTES) return parseCertificate(der, what);
    // One-shot hashing: a Hash object per lookup cost about as much again (it runs on every verification).
    const key = hash("sha256", der, "base64");
    const hit = this.#entries.get(key);
    if (hit && bytesEqual(hit.der, der)) return hit;
    const parsed = parseCertificate(der, what);
    if (this.#seenOnce.get(key)) {
      this.#seenOnce.delete(key);
      this.#entries.set(key, parsed);
    } else {
      this.#seenOnce.set(key, true);
    }
    return parsed;
  }
}
