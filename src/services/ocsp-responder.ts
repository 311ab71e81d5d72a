import { createHash, generateKeyPair, X509Certificate } from "node:crypto";
import { promisify } from "node:util";
import type { Kysely } from "kysely";
import type { Database } from "../store/schema.ts";
import { bytes, type StatusReadOptions, type Store } from "../store/database.ts";
import { hex } from "../pki/asn1.ts";
import { bytesEqual } from "../profile/der-reader.ts";
import { wholeSeconds } from "../pki/der.ts";
import { randomSerial, signCertificate } from "../pki/certificate.ts";
import { ocspResponderTemplate, type CaType } from "../pki/jpki-profile.ts";
import {
  buildOcspResponse,
  certIdDer,
  certIdFor,
  certIdMatchesIssuer,
  ocspIssuerFromCertificate,
  OcspRequestError,
  OcspResponseTemplate,
  OcspUnsupportedHashError,
  ocspResponseFromParts,
  signOcspResponse,
  OCSP_UNAUTHORIZED,
  decodeOcspGetPath,
  parseOcspRequest,
  responderKeyHashOf,
  type OcspCertId,
  type OcspIssuer,
  type SignedOcspResponseParts,
} from "../pki/ocsp.ts";
import type { Signer } from "../pki/signer.ts";
import { SoftwareSigner } from "../pki/software-signer.ts";
import type { Settings } from "../config/defaults.ts";
import type { CertificateAuthorities } from "./certificate-authority.ts";
import { rewrapKeyTable, type KeyWrapping } from "./keystore.ts";
import type { Clock } from "./clock.ts";
import { certificateState, isOurSerialHex, UNKNOWN_STATE, type CertificateState } from "./ocsp-state.ts";
import { OcspResponseStore, type StoredOcspResponse } from "./ocsp-response-store.ts";
import { RevocationWatch } from "./ocsp-revocation-watch.ts";

const generateRsa = promisify(generateKeyPair);

/** A cacheable answer's validity and its HTTP cache headers, worked out once per answer. */
export interface CacheableAnswer {
  thisUpdate: Date;
  nextUpdate: Date;
  etag: string;
  /** `Last-Modified` and `Expires` values (thisUpdate and nextUpdate as HTTP dates). */
  lastModified: string;
  expires: string;
}

export interface OcspAnswer {
  /** The DER OCSPResponse (successful or an error response). */
  der: Uint8Array;
  /** Which CA answered (undefined for error responses). */
  type?: CaType;
  /** How many certificates the request asked about (counted per verifier). */
  lookups: number;
  /** Set when the answer may be cached by HTTP caches (no nonce, successful). */
  cache?: CacheableAnswer;
}

/** Signs RFC 5019 answers (SHA-1 CertID, no nonce) for one CA with fixed times: what a refresh run uses. */
export interface OcspPreSigner {
  readonly type: CaType;
  /** The responder certificate generation whose key signs. */
  readonly generation: number;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
  /** The signed answer for the certificate `serialHex` in `state`, without the responder certificate (as stored). */
  sign(serialHex: string, state: CertificateState): Promise<SignedOcspResponseParts>;
}

/** Bounds of the responder's memory caches (tests make them small). */
export interface OcspCacheLimits {
  /** Answers for certificates the store knows, request forms (GET paths, POST bodies) mapped to them, and their states (default 100,000 each). */
  answers?: number;
  /** Answers "unknown", and request forms mapped to them (default 1,000 each). */
  unknownAnswers?: number;
}

interface Responder {
  generation: number;
  certificateDer: Uint8Array;
  notAfter: Date;
  signer: Signer;
  keyHash: Uint8Array;
}

/** Where a single-certificate answer sits in the cache, and which certificate it is about. */
interface CachedPath {
  type: CaType;
  serialHex: string;
  cacheKey: string;
  /** Whether the answer is "unknown" (kept in the unknown answers' cache). */
  unknown: boolean;
}

interface CachedAnswer extends CacheableAnswer {
  der: Uint8Array;
  stateKey: string;
}

/** How many answers for certificates the store knows the memory cache keeps (and request forms mapped to them). */
const CACHE_LIMIT = 100_000;
/**
 * Answers "unknown" (serials the store does not know) are kept apart, this many at most (≈2 KB
 * each with their GET path): anyone can ask about any number of such serials, and they must
 * neither push known certificates' answers out nor grow memory.
 */
const UNKNOWN_CACHE_LIMIT = 1_000;
/**
 * Request forms longer than this (GET paths; POST bodies over 384 bytes, in base64) are answered
 * but not mapped (decoded again next time). A client's RFC 5019 request is ≈100–200 characters;
 * one path may be up to ≈16 KB (padding, %-escapes), and 100,000 of those would be gigabytes.
 */
const PATH_CACHE_MAX_LENGTH = 512;
/** An answer is not handed out in its last 30 seconds: a client's clock may run ahead of ours. */
const EXPIRY_MARGIN_MS = 30_000;
/** Answers signed on demand are written to the store in batches (one commit each), this often or this many. */
const SAVE_DELAY_MS = 200;
const SAVE_BATCH = 1000;
/** While the store is slow or down, at most this many wait; more are not queued (they are only a cache). */
const UNSAVED_LIMIT = 10_000;

/**
 * The OCSP responder (RFC 6960, RFC 5019 profile): one delegated responder certificate per CA,
 * rolled over before it expires; answers good / revoked / unknown from the certificate store.
 *
 * Answers without a nonce are pre-signed, and served only while the certificate's state in the
 * store is the one they were signed for, so a revocation recorded by any process replaces the
 * answer on the very next request. The state is read by primary key, or, for an answer whose
 * state was already confirmed, vouched for by the CA's unchanged revocation version (one read
 * shared by all requests of an event-loop turn; see RevocationWatch).
 * Where the answer comes from, in order: the in-memory cache (at most 100,000 answers), the
 * durable response store (`ocsp_responses`, filled by `OcspRefresher` and by this responder),
 * and last a fresh signature, which is kept in both. Answers "unknown" (never stored) have a
 * small memory cache of their own (1,000), so that requests about serials nobody issued can
 * neither evict known certificates' answers nor grow memory.
 */
export class OcspResponder {
  /** The durable store of pre-signed answers. */
  readonly responses: OcspResponseStore;
  readonly #responders = new Map<CaType, Responder>();
  readonly #issuers = new Map<CaType, OcspIssuer>();
  /** The end of each CA's certificate: no responder it certifies may outlive it. */
  readonly #caEnds = new Map<CaType, number>();
  /** Answers for certificates the store knows (key: type:CertID; at most the answers limit). */
  readonly #cache = new Map<string, CachedAnswer>();
  /**
   * Requests already answered, in the form received (an RFC 5019 GET path, a POST body in base64)
   * → the cache entry they map to (skips decoding and parsing).
   */
  readonly #paths = new Map<string, CachedPath>();
  /**
   * Answers "unknown" and their GET paths, apart and small (UNKNOWN_CACHE_LIMIT): serials nobody
   * issued cost an attacker nothing, so they must not evict known certificates' answers. Such an
   * answer is served only after its serial is read again (stillHolds), as ever.
   */
  readonly #unknownCache = new Map<string, CachedAnswer>();
  readonly #unknownPaths = new Map<string, CachedPath>();
  /**
   * Known certificates' states, with the CA's revocation version read in the same snapshot
   * (currentState; key: type:serial; at most CACHE_LIMIT entries, ≈200 bytes each).
   */
  readonly #states = new Map<string, { state: CertificateState; version: number }>();
  /** Answers signed on demand and not yet in the store (key: type:serial). */
  readonly #unsaved = new Map<string, StoredOcspResponse>();
  #saving: Promise<void> | undefined;
  #loadingResponders: Promise<void> | undefined;
  #saveTimer: NodeJS.Timeout | undefined;
  readonly #revocations: RevocationWatch;
  readonly #cacheLimit: number;
  readonly #unknownCacheLimit: number;
  private readonly db: Kysely<Database>;

  constructor(
    private readonly store: Store,
    private readonly ca: CertificateAuthorities,
    private readonly settings: Settings,
    private readonly keyWrapping: KeyWrapping,
    private readonly clock: Clock,
    limits: OcspCacheLimits = {},
  ) {
    this.#cacheLimit = limits.answers ?? CACHE_LIMIT;
    this.#unknownCacheLimit = limits.unknownAnswers ?? UNKNOWN_CACHE_LIMIT;
    this.db = store.db;
    this.responses = new OcspResponseStore(store.db);
    this.#revocations = new RevocationWatch(store);
  }

  /**
   * Answer the RFC 5019 GET form. A path seen before maps straight to its pre-signed answer
   * (no decoding, no parsing), served once its state is known to still hold (stillHolds).
   */
  async answerGet(path: string, expected?: CaType): Promise<OcspAnswer> {
    return this.answerByKey(path, () => decodeOcspGetPath(path), expected);
  }

  /**
   * An answer by the request's form as received (a GET path, a POST body in base64): a form
   * answered before maps straight to its cache entry, else `decode()` gives the DER to answer.
   */
  private async answerByKey(key: string, decode: () => Uint8Array, expected: CaType | undefined): Promise<OcspAnswer> {
    const known = this.#paths.get(key) ?? this.#unknownPaths.get(key);
    if (known && (!expected || expected === known.type)) {
      const hit = (known.unknown ? this.#unknownCache : this.#cache).get(known.cacheKey);
      if (hit && isServable(hit, this.clock().getTime()) && (await this.stillHolds(known.type, known.serialHex, hit))) {
        return { der: hit.der, type: known.type, lookups: 1, cache: hit };
      }
    }
    const { answer, cached } = await this.answerAndKey(decode(), expected);
    if (cached && key.length <= PATH_CACHE_MAX_LENGTH) {
      // A form moves to the other map when its serial is issued (or, were a row ever removed, the reverse).
      if (cached.unknown) {
        this.#paths.delete(key);
        putBounded(this.#unknownPaths, key, cached, this.#unknownCacheLimit);
      } else {
        this.#unknownPaths.delete(key);
        putBounded(this.#paths, key, cached, this.#cacheLimit);
      }
    }
    return answer;
  }

  /** How many entries the memory caches hold now (for tests and diagnostics). */
  cacheSizes(): { answers: number; paths: number; states: number; unknownAnswers: number; unknownPaths: number } {
    return {
      answers: this.#cache.size,
      paths: this.#paths.size,
      states: this.#states.size,
      unknownAnswers: this.#unknownCache.size,
      unknownPaths: this.#unknownPaths.size,
    };
  }

  /**
   * Load (or create, or roll over) the responder certificates of both CAs. Callers at the same
   * time share one run: at a rollover instant every in-flight request finds the responder due, and
   * each generating its own pair of RSA keys would stall them all for seconds.
   */
  ensureResponders(): Promise<void> {
    this.#loadingResponders ??= this.loadResponders().finally(() => (this.#loadingResponders = undefined));
    return this.#loadingResponders;
  }

  private async loadResponders(): Promise<void> {
    for (const type of ["sign", "auth"] as CaType[]) {
      const caDer = this.ca.authority(type).certificateDer;
      this.#issuers.set(type, ocspIssuerFromCertificate(caDer));
      this.#caEnds.set(type, new Date(new X509Certificate(caDer).validTo).getTime());
      let row = await this.latestRow(type);
      if (!row || this.rolloverDue(type, new Date(row.not_after))) {
        await this.createResponder(type, (row?.generation ?? 0) + 1);
        row = await this.latestRow(type);
      }
      const current = this.#responders.get(type);
      // The key of the responder in use stays in memory: it is decrypted when a generation is first
      // loaded (≈0.2 s at the production PBKDF2 count), not on every check for a rollover. Only the
      // latest generation is ever read; earlier ones sign nothing.
      if (current?.generation === row!.generation) continue;
      const privateKey = await this.keyWrapping.unwrap(row!.private_key_pem, `${type} OCSP responder`); // just made: no derivation
      const signer = new SoftwareSigner(privateKey);
      const certificateDer = bytes(row!.certificate_der);
      this.#cache.clear();
      this.#unknownCache.clear();
      this.#responders.set(type, {
        generation: row!.generation,
        certificateDer,
        notAfter: new Date(row!.not_after),
        signer,
        keyHash: responderKeyHashOf(signer.publicKey),
      });
    }
  }

  responderCertificate(type: CaType): Uint8Array {
    return this.responder(type).certificateDer;
  }

  /**
   * A signer of pre-signed answers for `type` with thisUpdate = now (whole seconds) and
   * nextUpdate = thisUpdate + the configured validity, by the current responder (rolled over
   * first if due). The key stays inside the responder's Signer.
   */
  async preSigner(type: CaType): Promise<OcspPreSigner> {
    await this.rollOverIfDue(type);
    const responder = this.responder(type);
    const issuer = this.#issuers.get(type)!;
    const thisUpdate = new Date(wholeSeconds(this.clock()) * 1000);
    const nextUpdate = new Date(thisUpdate.getTime() + this.settings.ocspValiditySeconds * 1000);
    const template = new OcspResponseTemplate({
      responderCertificateDer: responder.certificateDer,
      responderKeyHash: responder.keyHash,
      signer: responder.signer,
      producedAt: thisUpdate,
      thisUpdate,
      nextUpdate,
    });
    return {
      type,
      generation: responder.generation,
      thisUpdate,
      nextUpdate,
      sign: (serialHex, state) => template.sign(certIdFor(issuer, Buffer.from(serialHex, "hex")), state.status),
    };
  }

  /**
   * The stored answer for one certificate as a complete OCSPResponse (with the certificate of the
   * responder that signed it), whatever its state or age; undefined when none is stored.
   */
  async storedAnswer(type: CaType, serialHex: string): Promise<(Omit<StoredOcspResponse, "parts"> & { der: Uint8Array }) | undefined> {
    const stored = await this.responses.get(type, serialHex);
    if (!stored) return undefined;
    const row = await this.db
      .selectFrom("ocsp_responders")
      .select("certificate_der")
      .where("ca_type", "=", type)
      .where("generation", "=", stored.generation)
      .executeTakeFirstOrThrow();
    const { parts, ...rest } = stored;
    return { ...rest, der: ocspResponseFromParts(parts, bytes(row.certificate_der)) };
  }

  /**
   * Write the answers signed on demand that are not in the store yet, in one transaction.
   * They are written in the background anyway; this is for callers that want them there now.
   */
  async flush(): Promise<void> {
    while (this.#saving) await this.#saving; // one writer at a time
    if (this.#saveTimer) clearTimeout(this.#saveTimer);
    this.#saveTimer = undefined;
    if (this.#unsaved.size === 0) return;
    const batch = [...this.#unsaved.values()];
    this.#unsaved.clear();
    this.#saving = this.responses.putMany(batch).finally(() => (this.#saving = undefined));
    await this.#saving;
  }

  private responder(type: CaType): Responder {
    const responder = this.#responders.get(type);
    if (!responder) throw new Error(`the ${type} OCSP responder is not loaded`);
    return responder;
  }

  private async rollOverIfDue(type: CaType): Promise<void> {
    if (this.rolloverDue(type, this.responder(type).notAfter)) await this.ensureResponders();
  }

  /**
   * A responder whose end is near is replaced, unless a new one could not end later: responder
   * certificates end with their CA at the latest (RFC 5280 §6.1.3: a path is valid only while
   * every certificate in it is), so in the CA's last weeks the current responder is the last one;
   * replacing it would mint a new responder on every request.
   */
  private rolloverDue(type: CaType, responderNotAfter: Date): boolean {
    const now = this.clock().getTime();
    if (now < responderNotAfter.getTime() - this.settings.ocspResponderRolloverDays * 86_400_000) return false;
    return this.responderEnd(type, this.clock()).getTime() > responderNotAfter.getTime();
  }

  /** When a responder certified now would end: its validity, cut at the end of its CA's certificate. */
  private responderEnd(type: CaType, now: Date): Date {
    const own = now.getTime() + this.settings.ocspResponderValidityDays * 86_400_000;
    return new Date(Math.min(own, this.#caEnds.get(type)!));
  }

  private latestRow(type: CaType) {
    return this.db
      .selectFrom("ocsp_responders")
      .selectAll()
      .where("ca_type", "=", type)
      .orderBy("generation", "desc")
      .executeTakeFirst();
  }

  /** A new responder key and certificate, recorded unless another process recorded that generation first; the key as written. */
  private async createResponder(type: CaType, generation: number): Promise<void> {
    const authority = this.ca.authority(type);
    const { privateKey, publicKey } = await generateRsa("rsa", { modulusLength: 2048, publicExponent: 65537 });
    const now = this.clock();
    const notAfter = this.responderEnd(type, now);
    if (notAfter.getTime() <= now.getTime()) {
      throw new Error(`the ${type} CA certificate ended at ${notAfter.toISOString()}: no OCSP responder can be certified by it`);
    }
    const der = await signCertificate(
      ocspResponderTemplate({
        type,
        naming: this.ca.naming,
        issuerPublicKey: authority.publicKey,
        publicKey,
        serial: randomSerial(),
        notBefore: new Date(now.getTime() - 60_000),
        notAfter,
        generation,
      }),
      authority.signer,
    );
    const stored = await this.keyWrapping.wrap(privateKey);
    await this.db
      .insertInto("ocsp_responders")
      .values({
        id: `${type}-ocsp-${generation}`,
        ca_type: type,
        generation,
        certificate_der: der,
        private_key_pem: stored,
        not_after: new Date(new X509Certificate(der).validTo).toISOString(),
        created_at: now.toISOString(),
      })
      .onConflict((oc) => oc.doNothing())
      .execute();
  }

  /**
   * Responder keys (every generation) stored at fewer PBKDF2 iterations than new keys get — the
   * 2,048 of versions before 2026-12 — encrypted again at the current count, each replaced by one
   * statement guarded on the old value (as the CA keys are: `openjpki ca rewrap-keys`).
   */
  async rewrapStoredKeys(): Promise<{ id: string; rewrapped: boolean }[]> {
    return rewrapKeyTable(this.db, "ocsp_responders", (row) => this.keyWrapping.rewrap(row.private_key_pem, `${row.ca_type} OCSP responder (${row.id})`));
  }

  /**
   * Answer one DER OCSPRequest. `expected` is the CA the URL names (/ocsp/sign, /ocsp/auth);
   * without it the first CertID's issuer decides. A CertID of another CA → unauthorized.
   * Throws OcspRequestError for requests to answer with an OCSP error response.
   */
  async answer(requestDer: Uint8Array, expected?: CaType, options: StatusReadOptions = {}): Promise<OcspAnswer> {
    if (options.primary) return (await this.answerAndKey(requestDer, expected, options)).answer;
    // A body answered before is found as a GET path is, by its base64 form (which is also the GET
    // path of the same request written without %-escapes): no parsing, no CertID re-encoded.
    // Parsing, hashing the CertID and the lookups cost POST ≈40 % more per cached answer than GET.
    const key = Buffer.from(requestDer.buffer, requestDer.byteOffset, requestDer.byteLength).toString("base64");
    return this.answerByKey(key, () => requestDer, expected);
  }

  /** answer(), plus where a cacheable single answer sits in the cache (for the map of request forms). */
  private async answerAndKey(requestDer: Uint8Array, expected?: CaType, options: StatusReadOptions = {}): Promise<{ answer: OcspAnswer; cached?: CachedPath }> {
    let request;
    try {
      request = parseOcspRequest(requestDer);
    } catch (error) {
      if (error instanceof OcspUnsupportedHashError) return { answer: { der: OCSP_UNAUTHORIZED, lookups: 0 } };
      throw error;
    }
    const type = expected ?? this.issuerOf(request.requests[0]!);
    if (!type || !request.requests.every((certId) => certIdMatchesIssuer(certId, this.#issuers.get(type)!))) {
      return { answer: { der: OCSP_UNAUTHORIZED, lookups: 0 } };
    }
    await this.rollOverIfDue(type);
    // A read that must come from the primary skips the caches too (they may vouch by a standby's version).
    if (request.requests.length === 1 && !request.nonce && !options.primary) return this.answerCacheable(type, request.requests[0]!);

    const states = await Promise.all(request.requests.map((certId) => this.currentState(type, hex(certId.serial), options)));
    const thisUpdate = new Date(wholeSeconds(this.clock()) * 1000);
    const nextUpdate = new Date(thisUpdate.getTime() + this.settings.ocspValiditySeconds * 1000);
    const responder = this.responder(type);
    const der = await buildOcspResponse({
      responderCertificateDer: responder.certificateDer,
      responderKeyHash: responder.keyHash,
      signer: responder.signer,
      producedAt: thisUpdate,
      responses: request.requests.map((certId, i) => ({ certId, status: states[i]!.status, thisUpdate, nextUpdate })),
      ...(request.nonce ? { nonce: request.nonce } : {}),
    });
    return { answer: { der, type, lookups: request.requests.length } };
  }

  /** One certificate, no nonce: from the cache, else the store, else signed now (and kept in both). */
  private async answerCacheable(type: CaType, certId: OcspCertId): Promise<{ answer: OcspAnswer; cached: CachedPath }> {
    const serialHex = hex(certId.serial);
    const cacheKey = `${type}:${hex(certIdDer(certId))}`;
    const served = (entry: CachedAnswer) => ({
      answer: { der: entry.der, type, lookups: 1, cache: entry },
      cached: { type, serialHex, cacheKey, unknown: entry.stateKey === UNKNOWN_STATE.key },
    });
    const now = this.clock().getTime();
    const hit = this.#cache.get(cacheKey) ?? this.#unknownCache.get(cacheKey);
    if (hit && isServable(hit, now) && (await this.stillHolds(type, serialHex, hit))) return served(hit);

    const state = await this.currentState(type, serialHex, {});

    const responder = this.responder(type);
    // The store holds one answer per certificate, for the RFC 5019 CertID (SHA-1, NULL parameters);
    // other forms (SHA-256 CertIDs, absent parameters) are signed on demand and cached in memory only.
    const storable = state !== UNKNOWN_STATE && this.isStoredForm(type, certId);
    if (storable) {
      const stored = await this.responses.get(type, serialHex);
      if (stored && stored.state === state.key && stored.generation === responder.generation && isServable(stored, now)) {
        const der = ocspResponseFromParts(stored.parts, responder.certificateDer);
        return served(this.remember(cacheKey, der, state.key, stored.thisUpdate, stored.nextUpdate));
      }
    }
    const thisUpdate = new Date(wholeSeconds(this.clock()) * 1000);
    const nextUpdate = new Date(thisUpdate.getTime() + this.settings.ocspValiditySeconds * 1000);
    const parts = await signOcspResponse({
      responderKeyHash: responder.keyHash,
      signer: responder.signer,
      producedAt: thisUpdate,
      responses: [{ certId, status: state.status, thisUpdate, nextUpdate }],
    });
    if (storable) this.saveLater({ type, serialHex, state: state.key, generation: responder.generation, thisUpdate, nextUpdate, parts });
    return served(this.remember(cacheKey, ocspResponseFromParts(parts, responder.certificateDer), state.key, thisUpdate, nextUpdate));
  }

  private remember(cacheKey: string, der: Uint8Array, stateKey: string, thisUpdate: Date, nextUpdate: Date): CachedAnswer {
    const entry: CachedAnswer = {
      der,
      stateKey,
      thisUpdate,
      nextUpdate,
      etag: `"${createHash("sha256").update(der).digest("base64url").slice(0, 22)}"`,
      lastModified: thisUpdate.toUTCString(),
      expires: nextUpdate.toUTCString(),
    };
    // Known certificates' answers and "unknown" ones each in their own cache, so that any number of
    // serials nobody issued pushes out only other unknown answers; an entry in the other cache for
    // the same CertID is stale (the serial was issued since) and goes.
    if (stateKey === UNKNOWN_STATE.key) {
      this.#cache.delete(cacheKey);
      putBounded(this.#unknownCache, cacheKey, entry, this.#unknownCacheLimit);
    } else {
      this.#unknownCache.delete(cacheKey);
      putBounded(this.#cache, cacheKey, entry, this.#cacheLimit);
    }
    return entry;
  }

  /** Whether a cached answer's state still holds: the certificate's current state (currentState) is the one it was signed for. */
  private async stillHolds(type: CaType, serialHex: string, entry: CachedAnswer): Promise<boolean> {
    return (await this.currentState(type, serialHex, {})).key === entry.stateKey;
  }

  /**
   * A certificate's current state, for every answer (signed now, or cached and checked by
   * stillHolds). A state read with the CA's revocation version V, in one snapshot, still holds
   * while the version is V: every revocation moves it in its own transaction, and a revoked state
   * never goes back to good. So a request about a certificate seen before costs no row read until
   * its CA revokes something. The version it is kept with is the one read with it, not the one
   * read to check it, which may come from another source (a standby further on than the one the
   * state came from, or the primary). Unknown serials are read every time (issuing bumps no
   * version); a read that must come from the primary reads, and is not kept.
   */
  private async currentState(type: CaType, serialHex: string, options: StatusReadOptions): Promise<CertificateState> {
    if (options.primary) return (await this.stateAndVersion(type, serialHex, options)).state;
    const key = `${type}:${serialHex}`;
    const known = this.#states.get(key);
    if (known && known.version === (await this.#revocations.current())[type]) return known.state;
    const { state, version } = await this.stateAndVersion(type, serialHex);
    if (version !== undefined) {
      // Decided now, not from `known` above: another request may have evicted or added it meanwhile.
      // Re-inserted at the young end when read again: the oldest entry is evicted first.
      putBounded(this.#states, key, { state, version }, this.#cacheLimit);
    }
    return state;
  }

  /** Whether `certId` is the form the store keeps answers for: exactly the CertID `certIdFor` makes. */
  private isStoredForm(type: CaType, certId: OcspCertId): boolean {
    if (certId.hashAlgorithm !== "sha1") return false;
    return bytesEqual(certIdDer(certId), certIdDer(certIdFor(this.#issuers.get(type)!, certId.serial)));
  }

  /** Queue an answer signed on demand for the store; written in batches, off the request's path. */
  private saveLater(response: StoredOcspResponse): void {
    if (this.#unsaved.size >= UNSAVED_LIMIT) return;
    this.#unsaved.set(`${response.type}:${response.serialHex}`, response);
    // A failed background write costs nothing but a signature on a later miss, so it is dropped
    // (after the store is closed, say); flush() reports errors to callers that wait for it.
    if (this.#unsaved.size >= SAVE_BATCH) void this.flush().catch(() => {});
    else this.#saveTimer ??= setTimeout(() => void this.flush().catch(() => {}), SAVE_DELAY_MS).unref();
  }

  private issuerOf(certId: OcspCertId): CaType | undefined {
    for (const [type, issuer] of this.#issuers) if (certIdMatchesIssuer(certId, issuer)) return type;
    return undefined;
  }

  /** The state, and the CA's revocation version of the same snapshot (undefined for certificates not ours or unknown). */
  private async stateAndVersion(type: CaType, serialHex: string, options: StatusReadOptions = {}): Promise<{ state: CertificateState; version?: number }> {
    if (!isOurSerialHex(serialHex)) return { state: UNKNOWN_STATE }; // not looked up
    const row = await this.store.certificateStatus(type, serialHex, options);
    return row ? { state: certificateState(row), version: Number(row.version ?? 0) } : { state: UNKNOWN_STATE };
  }
}

/** Put `key` at the young end of `map`, evicting the oldest entry when `map` already holds `limit` others. */
function putBounded<V>(map: Map<string, V>, key: string, value: V, limit: number): void {
  map.delete(key);
  if (map.size >= limit) map.delete(map.keys().next().value!);
  map.set(key, value);
}

/** Whether an answer may be handed out at `now`: already valid, and not about to expire. */
function isServable(answer: { thisUpdate: Date; nextUpdate: Date }, now: number): boolean {
  return answer.thisUpdate.getTime() <= now && now < answer.nextUpdate.getTime() - EXPIRY_MARGIN_MS;
}

export { OcspRequestError };
