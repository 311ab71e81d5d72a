/**
 * Reads an X.509 CRL (RFC 5280 §5.1) with the strict DER reader (src/profile/der-reader.ts), in
 * two steps so the signature can be checked before the (possibly million-entry) list is walked:
 *
 * 1. {@link readCertificateList}: the signed TBSCertList bytes, algorithm, signature, issuer,
 *    thisUpdate/nextUpdate, the CRL extensions, and where the revokedCertificates list lies;
 * 2. {@link forEachRevokedEntry}: every entry, strictly (serial, revocationDate, extensions).
 *
 * A generic ASN.1 parser builds several objects per node; a JPKI CRL has ~5 nodes per entry and
 * may list millions of entries, which took seconds and gigabytes. Reading in place keeps loading
 * a CRL near the cost of copying it. {@link readRevokedEntry} re-reads one entry by offset, so a
 * checked CRL need only keep a serial → offset map.
 */
import { DerCursor, DerReadError, TAG, contentOf, encodingOf, readTlv, type NodeBudget, type Tlv } from "../profile/der-reader.ts";
import { bitStringBytes, integerContent, readExplicitExtensions, readExtensions, type RawExtension } from "../profile/der-values.ts";
import { derTime, readAlgorithmOid, serialHex } from "./der.ts";

export interface CertificateListParts {
  /** The TBSCertList as signed (a view into the input). */
  readonly tbsDer: Uint8Array;
  /** The outer signatureAlgorithm's OID. */
  readonly signatureAlgorithm: string;
  readonly signature: Uint8Array;
  readonly issuerNameDer: Uint8Array;
  readonly thisUpdate: Date;
  readonly nextUpdate?: Date;
  readonly extensions: readonly RawExtension[];
  /** The revokedCertificates SEQUENCE, when present. */
  readonly revoked?: Tlv;
}

export interface RevokedEntry {
  /** Upper-case hex without leading zero bytes, like a certificate's serialHex. */
  readonly serialHex: string;
  readonly revokedAt: Date;
  readonly extensions: readonly RawExtension[];
}

/** Reads everything but the entries. Throws `DerReadError` for anything that is not strict DER of a CRL. */
export function readCertificateList(der: Uint8Array, budget: NodeBudget): CertificateListParts {
  const list = DerCursor.only(der, TAG.SEQUENCE, "CertificateList", budget);
  const tbsTlv = list.next(TAG.SEQUENCE, "tbsCertList");
  const signatureAlgorithm = readAlgorithmOid(list, "signatureAlgorithm");
  const signature = bitStringBytes(der, list.next(TAG.BIT_STRING, "signatureValue"));
  list.end();

  const tbs = list.into(tbsTlv, "TBSCertList");
  const version = tbs.optional(TAG.INTEGER, "version");
  if (version && !(version.end - version.contentStart === 1 && der[version.contentStart] === 1)) throw new DerReadError("CRL version is not v2");
  readAlgorithmOid(tbs, "signature");
  const issuerNameDer = encodingOf(der, tbs.next(TAG.SEQUENCE, "issuer"));
  const thisUpdate = derTime(der, tbs.any("thisUpdate"));
  const next = tbs.peekTag();
  const nextUpdate = next === TAG.UTC_TIME || next === TAG.GENERALIZED_TIME ? derTime(der, tbs.any("nextUpdate")) : undefined;
  const revoked = tbs.optional(TAG.SEQUENCE, "revokedCertificates");
  const extensions = readExplicitExtensions(tbs, TAG.CONTEXT_0, "crlExtensions");
  tbs.end();
  return {
    tbsDer: encodingOf(der, tbsTlv),
    signatureAlgorithm,
    signature,
    issuerNameDer,
    thisUpdate,
    ...(nextUpdate ? { nextUpdate } : {}),
    extensions,
    ...(revoked ? { revoked } : {}),
  };
}

/** Calls `visit` for each entry of the revokedCertificates list, with the entry's offset in `der`. */
export function forEachRevokedEntry(der: Uint8Array, revoked: Tlv, budget: NodeBudget, visit: (entry: RevokedEntry, offset: number) => void): void {
  const entries = new DerCursor(der, revoked, "revokedCertificates", budget);
  while (!entries.done) {
    const t = entries.next(TAG.SEQUENCE, "revoked entry");
    visit(readEntry(entries.into(t, "revoked entry")), t.start);
  }
}

/** The entry that starts at `offset` (an offset `forEachRevokedEntry` gave). */
export function readRevokedEntry(der: Uint8Array, offset: number): RevokedEntry {
  const t = readTlv(der, offset);
  if (t.tag !== TAG.SEQUENCE) throw new DerReadError("not a revoked entry");
  return readEntry(new DerCursor(der, t, "revoked entry"));
}

function readEntry(entry: DerCursor): RevokedEntry {
  const der = entry.bytes;
  const serial = integerContent(der, entry.next(TAG.INTEGER, "userCertificate"));
  const revokedAt = derTime(der, entry.any("revocationDate"));
  const list = entry.optional(TAG.SEQUENCE, "crlEntryExtensions");
  const extensions = list ? readExtensions(entry, list, "crlEntryExtensions") : [];
  entry.end();
  return { serialHex: serialHex(serial), revokedAt, extensions };
}

/** The CRLReason inside a reasonCode extension value (`ENUMERATED`, DER: one content byte for 0–10). */
export function reasonCodeValue(value: Uint8Array): number {
  const t = readTlv(value, 0);
  if (t.tag !== TAG.ENUMERATED || t.end !== value.length) throw new DerReadError("reasonCode is not one ENUMERATED");
  const content = contentOf(value, t);
  if (content.length !== 1 || content[0]! > 10) throw new DerReadError("reasonCode out of range");
  return content[0]!;
}
