/**
 * CRLs (RFC 5280 §5) from the relying party's side: fetched through the caller's function, checked
 * (signed by the issuing root, current, in scope for the certificate), then kept per URL until
 * nextUpdate in a cache that belongs to one verifier. JPKI partitions CRLs per municipality, and
 * each partition names itself in a critical issuingDistributionPoint that must match the
 * certificate's cRLDistributionPoints.
 *
 * The CRL is read in place by the strict reader (crl-der.ts) and its revoked serials go into one
 * Map, built once per CRL: every verification after that is one Map lookup.
 */
import "reflect-metadata";
import { AsnConvert } from "@peculiar/asn1-schema";
import { AuthorityKeyIdentifier, IssuingDistributionPoint } from "@peculiar/asn1-x509";
import { rsaSignatureValid, type CrlDistributionPoints, type ParsedCertificate } from "./certificate.ts";
import { forEachRevokedEntry, readCertificateList, readRevokedEntry, reasonCodeValue, type CertificateListParts } from "./crl-der.ts";
import { DerReadError, bytesEqual } from "../profile/der-reader.ts";
import { u8 } from "./der.ts";
import { VerificationFailure, describeError } from "./errors.ts";
import { LruMap } from "./lru.ts";
import { Unavailable, reasonFromCode } from "./ocsp.ts";
import type { Anchor } from "./trust.ts";
import type { RevocationReason } from "../rules/revocation.ts";

const OID = {
  crlNumber: "2.5.29.20",
  deltaCrlIndicator: "2.5.29.27",
  issuingDistributionPoint: "2.5.29.28",
  authorityKeyIdentifier: "2.5.29.35",
  freshestCrl: "2.5.29.46",
  reasonCode: "2.5.29.21",
  invalidityDate: "2.5.29.24",
  certificateIssuer: "2.5.29.29",
  holdInstructionCode: "2.5.29.23",
} as const;

const KNOWN_ENTRY_EXTENSIONS = new Set<string>([OID.reasonCode, OID.invalidityDate, OID.holdInstructionCode]);

export interface CrlEntryStatus {
  readonly revokedAt: Date;
  readonly reason: RevocationReason;
  readonly reasonCode: number;
}

/** A checked CRL: who signed it, its scope, and its revoked serials. */
export interface CheckedCrl {
  readonly url: string;
  readonly issuerKeySha256: string;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
  /** thisUpdate and nextUpdate as ISO strings, made once for every result that cites this CRL. */
  readonly thisUpdateIso: string;
  readonly nextUpdateIso: string;
  /** The IDP's directoryName fullNames and URIs, or undefined for a full CRL of the issuer. */
  readonly scope?: { readonly directoryNames: readonly Uint8Array[]; readonly uris: readonly string[] };
  /** How many serials the CRL lists. */
  readonly size: number;
  /** The entry for a serial (upper-case hex, as ParsedCertificate.serialHex), or undefined when it is not listed. */
  statusOf(serialHex: string): CrlEntryStatus | undefined;
}

export interface CrlParseLimits {
  readonly maxBytes: number;
  readonly maxNodes: number;
}

/**
 * Parses and checks a CRL as issued by `issuer`. Throws `Unavailable` for anything that makes
 * it unusable: size, syntax, signature, issuer, a delta CRL, unknown critical extensions, an
 * IDP that narrows the scope in a way we cannot honour. Freshness is checked separately, on
 * every use, because a cached CRL ages.
 */
export function parseCrl(der: Uint8Array, url: string, issuer: Anchor, limits: CrlParseLimits): CheckedCrl {
  if (!(der instanceof Uint8Array)) throw new Unavailable("the CRL fetch did not resolve with a Uint8Array");
  if (der.length > limits.maxBytes) throw new Unavailable(`CRL larger than ${limits.maxBytes} bytes`);
  // The entries are looked up later by offset into these bytes: keep a copy the caller cannot change.
  der = der.slice();
  const budget = { remaining: limits.maxNodes };
  let crl: CertificateListParts;
  try {
    crl = readCertificateList(der, budget);
  } catch (error) {
    throw new Unavailable(`malformed CRL: ${describeError(error)}`);
  }
  if (!bytesEqual(crl.issuerNameDer, issuer.cert.subjectNameDer)) {
    throw new Unavailable("the CRL's issuer is not the certificate's root");
  }
  let signed: boolean;
  try {
    signed = rsaSignatureValid(crl.signatureAlgorithm, crl.tbsDer, issuer.cert.publicKey, crl.signature, "the CRL");
  } catch (error) {
    if (error instanceof VerificationFailure) throw new Unavailable(error.message);
    throw error;
  }
  if (!signed) throw new Unavailable("the CRL is not signed by the certificate's root (signature does not verify with its key)");
  if (!crl.nextUpdate) throw new Unavailable("the CRL has no nextUpdate");

  let scope: CheckedCrl["scope"];
  for (const e of crl.extensions) {
    switch (e.oid) {
      case OID.deltaCrlIndicator:
        throw new Unavailable("delta CRLs are not supported");
      case OID.authorityKeyIdentifier: {
        const aki = parseExt(e.value, AuthorityKeyIdentifier, "authorityKeyIdentifier");
        if (aki.keyIdentifier && !issuer.keyIds.some((id) => bytesEqual(id, u8(aki.keyIdentifier!.buffer)))) {
          throw new Unavailable("the CRL's authorityKeyIdentifier names another key than the certificate's root");
        }
        break;
      }
      case OID.issuingDistributionPoint: {
        const idp = parseExt(e.value, IssuingDistributionPoint, "issuingDistributionPoint");
        if (idp.onlyContainsCACerts || idp.onlyContainsAttributeCerts) throw new Unavailable("the CRL does not cover end-entity certificates");
        if (idp.onlySomeReasons) throw new Unavailable("the CRL covers only some revocation reasons");
        if (idp.indirectCRL) throw new Unavailable("indirect CRLs are not supported");
        if (idp.distributionPoint) {
          if (!idp.distributionPoint.fullName) throw new Unavailable("the CRL's distribution point is a relative name, which is not supported");
          scope = {
            directoryNames: idp.distributionPoint.fullName.filter((g) => g.directoryName).map((g) => u8(AsnConvert.serialize(g.directoryName!))),
            uris: idp.distributionPoint.fullName.flatMap((g) => (g.uniformResourceIdentifier ? [g.uniformResourceIdentifier] : [])),
          };
        }
        break;
      }
      case OID.crlNumber:
      case OID.freshestCrl:
        break;
      default:
        if (e.critical) throw new Unavailable(`the CRL has an unknown critical extension ${e.oid}`);
    }
  }

  // Every entry is checked now (fail closed on any bad one); only its offset is kept.
  const offsets = new Map<string, number>();
  if (crl.revoked) {
    try {
      forEachRevokedEntry(der, crl.revoked, budget, (entry, offset) => {
        for (const e of entry.extensions) {
          if (e.oid === OID.certificateIssuer) throw new Unavailable("the CRL names other certificate issuers (indirect CRL)");
          if (e.oid === OID.reasonCode) {
            if (reasonCodeValue(e.value) === 8) throw new Unavailable("the CRL lists removeFromCRL, which only a delta CRL may");
          } else if (e.critical && !KNOWN_ENTRY_EXTENSIONS.has(e.oid)) throw new Unavailable(`a CRL entry has an unknown critical extension ${e.oid}`);
        }
        offsets.set(entry.serialHex, offset);
      });
    } catch (error) {
      if (error instanceof DerReadError) throw new Unavailable(`malformed CRL: ${error.message}`);
      throw error;
    }
  }
  const checkedDer = der;
  return {
    url,
    issuerKeySha256: issuer.info.sha256Hex,
    thisUpdate: crl.thisUpdate,
    nextUpdate: crl.nextUpdate,
    thisUpdateIso: crl.thisUpdate.toISOString(),
    nextUpdateIso: crl.nextUpdate.toISOString(),
    ...(scope ? { scope } : {}),
    size: offsets.size,
    statusOf(serialHex: string): CrlEntryStatus | undefined {
      const offset = offsets.get(serialHex);
      if (offset === undefined) return undefined;
      const entry = readRevokedEntry(checkedDer, offset); // read and checked once already: cannot fail
      const reason = entry.extensions.find((e) => e.oid === OID.reasonCode);
      return { revokedAt: entry.revokedAt, ...reasonFromCode(reason ? reasonCodeValue(reason.value) : undefined) };
    },
  };
}

function parseExt<T>(value: Uint8Array, type: new () => T, what: string): T {
  try {
    return AsnConvert.parse(value, type, { berOptions: { maxNodes: 1000, maxDepth: 16 } });
  } catch (error) {
    throw new Unavailable(`malformed CRL ${what} extension: ${describeError(error)}`);
  }
}

/** Throws `Unavailable` unless `crl` is current at `now`. */
export function checkCrlFresh(crl: CheckedCrl, now: Date, skewMs: number): void {
  if (crl.thisUpdate.getTime() > now.getTime() + skewMs) throw new Unavailable(`the CRL's thisUpdate ${crl.thisUpdate.toISOString()} is in the future`);
  if (crl.nextUpdate.getTime() < now.getTime()) throw new Unavailable(`the CRL is stale: nextUpdate ${crl.nextUpdate.toISOString()} has passed`);
}

/** Throws `Unavailable` unless `crl` covers `leaf` (a full CRL, or a partition the certificate names). */
export function checkCrlScope(crl: CheckedCrl, leaf: ParsedCertificate, points: CrlDistributionPoints): void {
  if (!crl.scope) return;
  const covered =
    crl.scope.directoryNames.some((n) => points.directoryNames.some((m) => bytesEqual(n, m))) ||
    crl.scope.uris.some((u) => points.uris.includes(u));
  if (!covered) throw new Unavailable(`the CRL at ${crl.url} is a partition that does not cover this certificate (serial ${leaf.serialHex})`);
}

/** A per-verifier cache of checked CRLs by URL, kept until nextUpdate, with in-flight fetches shared. */
export class CrlCache {
  readonly #entries: LruMap<string, CheckedCrl>;
  readonly #inFlight = new Map<string, Promise<CheckedCrl>>();

  constructor(maxEntries: number) {
    this.#entries = new LruMap(maxEntries);
  }

  /** The key of a CRL: its URL and the root it must be signed by. */
  static key(url: string, issuer: Anchor): string {
    return `${issuer.info.sha256Hex} ${url}`;
  }

  /** The cached CRL under `key`, if it is still current at `now`. */
  get(key: string, now: Date): CheckedCrl | undefined {
    const hit = this.#entries.get(key);
    if (!hit) return undefined;
    if (hit.nextUpdate.getTime() < now.getTime()) {
      this.#entries.delete(key);
      return undefined;
    }
    return hit;
  }

  put(key: string, crl: CheckedCrl): void {
    this.#entries.set(key, crl);
  }

  /** Runs `load` once per URL at a time; concurrent callers share the result. */
  shared(key: string, load: () => Promise<CheckedCrl>): Promise<CheckedCrl> {
    let p = this.#inFlight.get(key);
    if (!p) {
      p = load().finally(() => this.#inFlight.delete(key));
      this.#inFlight.set(key, p);
    }
    return p;
  }
}
