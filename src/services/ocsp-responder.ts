import { createHash, generateKeyPair, X509Certificate } from "node:crypto";
import { promisify } from "node:util";
import type { Kysely } from "kysely";
import type { Database } from "../store/schema.ts";
import { bytes, type Store } from "../store/database.ts";
import { hex } from "../pki/asn1.ts";
import { randomSerial, signCertificate } from "../pki/certificate.ts";
import { ocspResponderTemplate, type CaType } from "../pki/jpki-profile.ts";
import {
  buildOcspResponse,
  certIdMatchesIssuer,
  ocspIssuerFromCertificate,
  OcspRequestError,
  OcspUnsupportedHashError,
  OCSP_UNAUTHORIZED,
  decodeOcspGetPath,
  parseOcspRequest,
  responderKeyHashOf,
  type OcspCertId,
  type OcspCertStatus,
  type OcspIssuer,
} from "../pki/ocsp.ts";
import type { Signer } from "../pki/signer.ts";
import { SoftwareSigner } from "../pki/software-signer.ts";
import type { RevocationReason } from "../rules/revocation.ts";
import type { Settings } from "../config/defaults.ts";
import type { CertificateAuthorities } from "./certificate-authority.ts";
import { decryptPrivateKey, encryptPrivateKey } from "./keystore.ts";
import type { Clock } from "./clock.ts";

const generateRsa = promisify(generateKeyPair);

export interface OcspAnswer {
  /** The DER OCSPResponse (successful or an error response). */
  der: Uint8Array;
  /** Which CA answered (undefined for error responses). */
  type?: CaType;
  /** How many certificates the request asked about (counted per verifier). */
  lookups: number;
  /** Set when the answer may be cached by HTTP caches (no nonce, successful). */
  cache?: { thisUpdate: Date; nextUpdate: Date; etag: string };
  /** For a cached single answer: where it sits in the cache, and the serial it is about. */
  cacheKey?: string;
  serialHex?: string;
}

interface Responder {
  generation: number;
  certificateDer: Uint8Array;
  notAfter: Date;
  signer: Signer;
  keyHash: Uint8Array;
}

interface CachedAnswer {
  der: Uint8Array;
  stateKey: string;
  thisUpdate: Date;
  nextUpdate: Date;
  etag: string;
}

const CACHE_LIMIT = 100_000;

/**
 * The OCSP responder (RFC 6960, RFC 5019 profile): one delegated responder certificate per CA,
 * rolled over before it expires; answers good / revoked / unknown from the certificate store.
 *
 * Answers without a nonce are pre-signed and cached, keyed by the certificate's current state
 * in the store (status, time, reason): every request reads that one row by primary key, so a
 * revocation recorded by any process replaces the cached answer on the very next request.
 */
export class OcspResponder {
  readonly #responders = new Map<CaType, Responder>();
  readonly #issuers = new Map<CaType, OcspIssuer>();
  readonly #cache = new Map<string, CachedAnswer>();
  /** RFC 5019 GET paths already answered → the cache entry they map to (skips decoding and parsing). */
  readonly #paths = new Map<string, { type: CaType; serialHex: string; cacheKey: string }>();
  private readonly db: Kysely<Database>;

  constructor(
    private readonly store: Store,
    private readonly ca: CertificateAuthorities,
    private readonly settings: Settings,
    private readonly passphrase: string,
    private readonly clock: Clock,
  ) {
    this.db = store.db;
  }

  /**
   * Answer the RFC 5019 GET form. A path seen before maps straight to its pre-signed answer: only
   * the certificate's current state is read (one prepared statement) to make sure it still holds.
   */
  async answerGet(path: string, expected?: CaType): Promise<OcspAnswer> {
    const known = this.#paths.get(path);
    if (known && (!expected || expected === known.type)) {
      const hit = this.#cache.get(known.cacheKey);
      if (hit && this.clock().getTime() < hit.nextUpdate.getTime() - 30_000) {
        const state = await this.stateOfSerial(known.type, known.serialHex);
        if (state.key === hit.stateKey) return { der: hit.der, type: known.type, lookups: 1, cache: hit };
      }
    }
    const requestDer = decodeOcspGetPath(path);
    const answer = await this.answer(requestDer, expected);
    if (answer.cache && answer.type && answer.cacheKey && answer.serialHex) {
      if (this.#paths.size >= CACHE_LIMIT) this.#paths.delete(this.#paths.keys().next().value!);
      this.#paths.set(path, { type: answer.type, serialHex: answer.serialHex, cacheKey: answer.cacheKey });
    }
    return answer;
  }

  /** Load (or create, or roll over) the responder certificates of both CAs. */
  async ensureResponders(): Promise<void> {
    for (const type of ["sign", "auth"] as CaType[]) {
      this.#issuers.set(type, ocspIssuerFromCertificate(this.ca.authority(type).certificateDer));
      let row = await this.latestRow(type);
      const rolloverAt = (notAfter: string) =>
        new Date(notAfter).getTime() - this.settings.ocspResponderRolloverDays * 86_400_000;
      if (!row || this.clock().getTime() >= rolloverAt(row.not_after)) {
        await this.createResponder(type, (row?.generation ?? 0) + 1);
        row = await this.latestRow(type);
      }
      const privateKey = decryptPrivateKey(row!.private_key_pem, this.passphrase, `${type} OCSP responder`);
      const signer = new SoftwareSigner(privateKey);
      const certificateDer = bytes(row!.certificate_der);
      const current = this.#responders.get(type);
      if (current?.generation !== row!.generation) this.#cache.clear();
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

  private responder(type: CaType): Responder {
    const responder = this.#responders.get(type);
    if (!responder) throw new Error(`the ${type} OCSP responder is not loaded`);
    return responder;
  }

  private latestRow(type: CaType) {
    return this.db
      .selectFrom("ocsp_responders")
      .selectAll()
      .where("ca_type", "=", type)
      .orderBy("generation", "desc")
      .executeTakeFirst();
  }

  private async createResponder(type: CaType, generation: number): Promise<void> {
    const authority = this.ca.authority(type);
    const { privateKey, publicKey } = await generateRsa("rsa", { modulusLength: 2048, publicExponent: 65537 });
    const now = this.clock();
    const notAfter = new Date(now.getTime() + this.settings.ocspResponderValidityDays * 86_400_000);
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
    await this.db
      .insertInto("ocsp_responders")
      .values({
        id: `${type}-ocsp-${generation}`,
        ca_type: type,
        generation,
        certificate_der: der,
        private_key_pem: encryptPrivateKey(privateKey, this.passphrase),
        not_after: new Date(new X509Certificate(der).validTo).toISOString(),
        created_at: now.toISOString(),
      })
      .onConflict((oc) => oc.doNothing())
      .execute();
  }

  /**
   * Answer one DER OCSPRequest. `expected` is the CA the URL names (/ocsp/sign, /ocsp/auth);
   * without it the first CertID's issuer decides. A CertID of another CA → unauthorized.
   * Throws OcspRequestError for requests to answer with an OCSP error response.
   */
  async answer(requestDer: Uint8Array, expected?: CaType): Promise<OcspAnswer> {
    let request;
    try {
      request = parseOcspRequest(requestDer);
    } catch (error) {
      if (error instanceof OcspUnsupportedHashError) return { der: OCSP_UNAUTHORIZED, lookups: 0 };
      throw error;
    }
    const type = expected ?? this.issuerOf(request.requests[0]!);
    if (!type || !request.requests.every((certId) => certIdMatchesIssuer(certId, this.#issuers.get(type)!))) {
      return { der: OCSP_UNAUTHORIZED, lookups: 0 };
    }
    if (this.clock().getTime() >= this.responder(type).notAfter.getTime() - this.settings.ocspResponderRolloverDays * 86_400_000) {
      await this.ensureResponders();
    }
    const states = await Promise.all(request.requests.map((certId) => this.stateOf(type, certId)));
    const single = request.requests.length === 1 && !request.nonce;
    const cacheKey = single ? `${type}:${hex(request.requests[0]!.der ?? request.requests[0]!.serial)}` : undefined;
    if (cacheKey) {
      const hit = this.#cache.get(cacheKey);
      if (hit && hit.stateKey === states[0]!.key && this.clock().getTime() < hit.nextUpdate.getTime() - 30_000) {
        return { der: hit.der, type, lookups: 1, cache: hit, cacheKey, serialHex: hex(request.requests[0]!.serial) };
      }
    }
    const thisUpdate = new Date(Math.floor(this.clock().getTime() / 1000) * 1000);
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
    if (!cacheKey) return { der, type, lookups: request.requests.length };
    const etag = `"${createHash("sha256").update(der).digest("base64url").slice(0, 22)}"`;
    const entry: CachedAnswer = { der, stateKey: states[0]!.key, thisUpdate, nextUpdate, etag };
    if (this.#cache.size >= CACHE_LIMIT) this.#cache.delete(this.#cache.keys().next().value!);
    this.#cache.delete(cacheKey);
    this.#cache.set(cacheKey, entry);
    return { der, type, lookups: 1, cache: entry, cacheKey, serialHex: hex(request.requests[0]!.serial) };
  }

  private issuerOf(certId: OcspCertId): CaType | undefined {
    for (const [type, issuer] of this.#issuers) if (certIdMatchesIssuer(certId, issuer)) return type;
    return undefined;
  }

  /** The certificate's status from the store, and a key that changes whenever the status does. */
  private stateOf(type: CaType, certId: OcspCertId): Promise<{ status: OcspCertStatus; key: string }> {
    return this.stateOfSerial(type, hex(certId.serial));
  }

  private async stateOfSerial(type: CaType, serialHex: string): Promise<{ status: OcspCertStatus; key: string }> {
    // Our serials are 16 bytes; anything else cannot be ours (and is not looked up).
    if (serialHex.length !== 32 || !/^[0-9A-F]{32}$/.test(serialHex)) return { status: { kind: "unknown" }, key: "unknown" };
    const row = await this.store.certificateStatus(type, serialHex);
    if (!row) return { status: { kind: "unknown" }, key: "unknown" };
    if (row.status === "valid") return { status: { kind: "good" }, key: "good" };
    const reason = (row.revocation_reason ?? "unspecified") as RevocationReason;
    return {
      status: { kind: "revoked", revokedAt: new Date(row.revoked_at!), reason },
      key: `revoked:${row.revoked_at}:${reason}`,
    };
  }
}

export { OcspRequestError };
