import type { Dialect } from "../store/database.ts";
import type { Kysely } from "kysely";
import type { Database } from "../store/schema.ts";
import { buildCrl } from "../pki/crl.ts";
import { nameDer } from "../pki/asn1.ts";
import { keyIdentifier } from "../pki/certificate.ts";
import { readCertificateFields } from "../pki/certificate-fields.ts";
import { crlDistributionPointName, type CaType } from "../pki/jpki-profile.ts";
import type { Settings } from "../config/defaults.ts";
import type { CertificateAuthorities } from "./certificate-authority.ts";
import type { Registry } from "./registry.ts";
import { crlEntryRuns, revocationVersion } from "./revocation.ts";
import type { Clock } from "./clock.ts";
import { ServiceError } from "./errors.ts";

export interface PublishedCrl {
  type: CaType;
  /** "full" or a municipality code. */
  scope: string;
  der: Uint8Array;
  crlNumber: bigint;
  thisUpdate: Date;
  nextUpdate: Date;
  /** The revocation version the CRL reflects. */
  version: number;
}

/**
 * Builds and caches the CRLs: one full CRL per CA and one partition per municipality (the
 * certificates' CRL distribution point). A cached CRL is reused until its nextUpdate or until
 * any process records a revocation for that CA (the store's revocation version), so the next
 * CRL after a change already lists it; CRL numbers increase per scope across processes.
 */
export class CrlPublisher {
  readonly #cache = new Map<string, PublishedCrl>();
  readonly #building = new Map<string, Promise<PublishedCrl>>();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: Dialect,
    private readonly ca: CertificateAuthorities,
    private readonly registry: Registry,
    private readonly settings: Settings,
    private readonly clock: Clock,
  ) {}

  async current(type: CaType, municipality?: string): Promise<PublishedCrl> {
    if (municipality !== undefined) {
      try {
        await this.registry.municipality(municipality);
      } catch (error) {
        // A well-formed code nobody registered names no CRL: not found (404 over HTTP), not bad input.
        if (error instanceof ServiceError && error.code === "invalid-input") {
          throw new ServiceError("not-found", `市区町村コード ${municipality} の CRL はありません / no CRL for municipality ${municipality}: it is not registered`, "municipality");
        }
        throw error;
      }
    }
    const key = `${type}/${municipality ?? "full"}`;
    const version = await revocationVersion(this.db, type);
    const cached = this.#cache.get(key);
    // Refresh a little before nextUpdate so a fetched CRL is never already stale.
    const refreshAt = cached ? cached.nextUpdate.getTime() - (cached.nextUpdate.getTime() - cached.thisUpdate.getTime()) / 4 : 0;
    if (cached && cached.version === version && this.clock().getTime() < refreshAt) return cached;
    // Only a build that started from the same version is joined: one started before a revocation
    // this caller has already seen committed may have read its entries before that commit.
    const buildKey = `${key}@${version}`;
    let pending = this.#building.get(buildKey);
    if (!pending) {
      pending = this.build(type, municipality, version).finally(() => this.#building.delete(buildKey));
      this.#building.set(buildKey, pending);
    }
    const built = await pending;
    this.#cache.set(key, built);
    return built;
  }

  /** Build a fresh CRL now (the CLI's `openjpki crl`, and the cache above). */
  async build(type: CaType, municipality: string | undefined, version?: number): Promise<PublishedCrl> {
    const authority = this.ca.authority(type);
    const scope = municipality ?? "full";
    const thisUpdate = new Date(Math.floor(this.clock().getTime() / 1000) * 1000);
    const nextUpdate = new Date(thisUpdate.getTime() + this.settings.crlValidityHours * 3600_000);
    const seenVersion = version ?? (await revocationVersion(this.db, type));
    const idp = municipality
      ? { fullNameDirectoryNameDer: nameDer(crlDistributionPointName(type, this.ca.naming, await this.registry.municipality(municipality))) }
      : undefined;
    // The entries were encoded when each revocation was recorded: the build copies one run of
    // DER per store page, so memory is one page plus the CRL itself.
    const fixed = {
      issuerNameDer: readCertificateFields(authority.certificateDer).subjectNameDer,
      authorityKeyIdentifier: keyIdentifier(authority.publicKey),
      signer: authority.signer,
      thisUpdate,
      nextUpdate,
      ...(idp ? { issuingDistributionPoint: idp } : {}),
    };
    // RFC 5280 §3.3: an entry stays until it has appeared on a regularly scheduled CRL issued beyond
    // the certificate's validity period. Every CRL issued within one CRL validity after expiry
    // lists it (a served CRL is rebuilt before three quarters of its validity have passed).
    const keepExpiredSince = new Date(thisUpdate.getTime() - this.settings.crlValidityHours * 3600_000);
    for (let attempt = 1; ; attempt++) {
      const before = attempt === 1 ? seenVersion : await revocationVersion(this.db, type);
      const entries = crlEntryRuns(this.db, type, { dialect: this.dialect, ...(municipality ? { municipality } : {}), at: keepExpiredSince });
      let crlNumber: bigint | undefined;
      try {
        // Numbered once the entries are read, by what they hold (see nextNumber).
        const numbered = async () => (crlNumber = await this.nextNumber(type, scope, before, await revocationVersion(this.db, type)));
        const der = await buildCrl({ ...fixed, crlNumber: numbered, entries });
        return { type, scope, der, crlNumber: crlNumber!, thisUpdate, nextUpdate, version: before };
      } catch (error) {
        if (!(error instanceof StaleRead)) throw error;
        if (attempt >= MAX_BUILD_ATTEMPTS) throw new ServiceError("service-unavailable", `CRL ${type}/${scope}: ${error.message}; try again`, "crl");
      }
    }
  }

  /**
   * The next CRL number of a scope, for entries read between revocation versions `before` and
   * `after` (each revocation moves its CA's version in its own transaction, and versions only
   * grow). A higher number must never hold less: another build (another node, or this one) may
   * have read its entries later and numbered them first, and a relying party that takes the
   * higher number as newer would lose a revocation until the next CRL. So a number is given only
   * while the scope's last CRL was read up to a version no later than this one's start, and the
   * scope then remembers where this one's reading ended; a read overtaken so is read again.
   */
  private async nextNumber(type: CaType, scope: string, before: number, after: number): Promise<bigint> {
    const row = await this.db
      .insertInto("crl_numbers")
      .values({ ca_type: type, scope, last_number: 1, last_version: after })
      .onConflict((oc) =>
        oc
          .columns(["ca_type", "scope"])
          .doUpdateSet((eb) => ({ last_number: eb("crl_numbers.last_number", "+", 1), last_version: after }))
          .where("crl_numbers.last_version", "<=", before),
      )
      .returning("last_number")
      .executeTakeFirst();
    if (!row) throw new StaleRead(`a CRL read later was numbered first (revocation version ${before})`);
    return BigInt(row.last_number);
  }
}

/** How often a CRL whose read was overtaken by another build's is read again before giving up. */
const MAX_BUILD_ATTEMPTS = 5;

class StaleRead extends Error {}
