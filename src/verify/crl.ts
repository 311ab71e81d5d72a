/**
 * CRLs (RFC 5280 §5) from the relying party's side: fetched through the caller's function, checked
 * (signed by the issuing root, current, in scope for the certificate), then kept per URL until
 * nextUpdate in a cache that belongs to one verifier. JPKI partitions CRLs per municipality, and
 * each partition names itself in a critical issuingDistributionPoint that must match the
 * certificate's cRLDistributionPoints.
 */
import "reflect-metadata";
import { AsnConvert } from "@peculiar/asn1-schema";
import { AuthorityKeyIdentifier, CertificateList, CRLReason, IssuingDistributionPoint } from "@peculiar/asn1-x509";
import { rsaSignatureValid, type ParsedCertificate } from "./certificate.ts";
import { bytesEqual, readTlv, serialHex, u8 } from "./der.ts";
import { VerificationFailure, describeError } from "./errors.ts";
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

/** A checked CRL: who signed it, its scope, and its entries by serial (upper-case hex). */
export interface CheckedCrl {
  readonly url: string;
  readonly issuerKeySha256: string;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
  /** The IDP's directoryName fullNames and URIs, or undefined for a full CRL of the issuer. */
  readonly scope?: { readonly directoryNames: readonly Uint8Array[]; readonly uris: readonly string[] };
  readonly entries: ReadonlyMap<string, CrlEntryStatus>;
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
  let crl: CertificateList;
  try {
    const top = readTlv(der, 0);
    if (top.tag !== 0x30 || top.end !== der.length) throw new Error("not one DER SEQUENCE");
    crl = AsnConvert.parse(der, CertificateList, { berOptions: { maxNodes: limits.maxNodes, maxDepth: 32 } });
  } catch (error) {
    throw new Unavailable(`malformed CRL: ${describeError(error)}`);
  }
  if (!crl.tbsCertListRaw) throw new Unavailable("malformed CRL: no TBSCertList bytes");
  const tbs = crl.tbsCertList;
  if (!bytesEqual(u8(AsnConvert.serialize(tbs.issuer)), issuer.cert.subjectNameDer)) {
    throw new Unavailable("the CRL's issuer is not the certificate's root");
  }
  let signed: boolean;
  try {
    signed = rsaSignatureValid(crl.signatureAlgorithm.algorithm, u8(crl.tbsCertListRaw), issuer.cert.publicKey, u8(crl.signature), "the CRL");
  } catch (error) {
    if (error instanceof VerificationFailure) throw new Unavailable(error.message);
    throw error;
  }
  if (!signed) throw new Unavailable("the CRL is not signed by the certificate's root (signature does not verify with its key)");
  if (!tbs.nextUpdate) throw new Unavailable("the CRL has no nextUpdate");

  let scope: CheckedCrl["scope"];
  for (const e of tbs.crlExtensions ?? []) {
    const value = u8(e.extnValue.buffer);
    switch (e.extnID) {
      case OID.deltaCrlIndicator:
        throw new Unavailable("delta CRLs are not supported");
      case OID.authorityKeyIdentifier: {
        const aki = parseExt(value, AuthorityKeyIdentifier, "authorityKeyIdentifier");
        if (aki.keyIdentifier && !issuer.keyIds.some((id) => bytesEqual(id, u8(aki.keyIdentifier!.buffer)))) {
          throw new Unavailable("the CRL's authorityKeyIdentifier names another key than the certificate's root");
        }
        break;
      }
      case OID.issuingDistributionPoint: {
        const idp = parseExt(value, IssuingDistributionPoint, "issuingDistributionPoint");
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
        if (e.critical) throw new Unavailable(`the CRL has an unknown critical extension ${e.extnID}`);
    }
  }

  const entries = new Map<string, CrlEntryStatus>();
  for (const entry of tbs.revokedCertificates ?? []) {
    let reasonCode: number | undefined;
    for (const e of entry.crlEntryExtensions ?? []) {
      if (e.extnID === OID.certificateIssuer) throw new Unavailable("the CRL names other certificate issuers (indirect CRL)");
      if (e.extnID === OID.reasonCode) reasonCode = parseExt(u8(e.extnValue.buffer), CRLReason, "reasonCode").reason;
      else if (e.critical && !KNOWN_ENTRY_EXTENSIONS.has(e.extnID)) throw new Unavailable(`a CRL entry has an unknown critical extension ${e.extnID}`);
    }
    if (reasonCode === 8) throw new Unavailable("the CRL lists removeFromCRL, which only a delta CRL may");
    let serial = u8(entry.userCertificate);
    if (serial.length > 1 && serial[0] === 0) serial = serial.subarray(1);
    entries.set(serialHex(serial), { revokedAt: entry.revocationDate.getTime(), ...reasonFromCode(reasonCode) });
  }
  return {
    url,
    issuerKeySha256: issuer.info.sha256Hex,
    thisUpdate: tbs.thisUpdate.getTime(),
    nextUpdate: tbs.nextUpdate.getTime(),
    ...(scope ? { scope } : {}),
    entries,
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
export function checkCrlScope(crl: CheckedCrl, leaf: ParsedCertificate, points: { uris: string[]; directoryNames: Uint8Array[] }): void {
  if (!crl.scope) return;
  const covered =
    crl.scope.directoryNames.some((n) => points.directoryNames.some((m) => bytesEqual(n, m))) ||
    crl.scope.uris.some((u) => points.uris.includes(u));
  if (!covered) throw new Unavailable(`the CRL at ${crl.url} is a partition that does not cover this certificate (serial ${leaf.serialHex})`);
}

/** A per-verifier cache of checked CRLs by URL, kept until nextUpdate, with in-flight fetches shared. */
export class CrlCache {
  readonly #entries = new Map<string, CheckedCrl>();
  readonly #inFlight = new Map<string, Promise<CheckedCrl>>();

  constructor(private readonly maxEntries: number) {}

  /** The key of a CRL: its URL and the root it must be signed by. */
  static key(url: string, issuer: Anchor): string {
    return `${issuer.info.sha256Hex} ${url}`;
  }

  /** The cached CRL under `key`, if it is still current at `now`. */
  get(key: string, now: Date): CheckedCrl | undefined {
    const hit = this.#entries.get(key);
    if (!hit) return undefined;
    this.#entries.delete(key);
    if (hit.nextUpdate.getTime() < now.getTime()) return undefined;
    this.#entries.set(key, hit); // most recently used last: the first key is evicted first
    return hit;
  }

  put(key: string, crl: CheckedCrl): void {
    this.#entries.delete(key);
    this.#entries.set(key, crl);
    while (this.#entries.size > this.maxEntries) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
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
