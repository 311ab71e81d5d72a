/**
 * OCSP (RFC 6960, RFC 5019 profile) from the relying party's side: build the request, then accept
 * the answer only when every check passes. Anything less is `revocation-unavailable` (fail closed).
 *
 * - CertID with SHA-1 (the RFC 5019 default); a response may answer with a SHA-256 CertID.
 * - The response must be signed by the issuing root itself, or by a delegated responder whose
 *   certificate the same root issued, carries id-kp-OCSPSigning and is valid now.
 * - thisUpdate not in the future (allowing clock skew), nextUpdate not passed; without nextUpdate
 *   the answer may be at most a day old.
 * - With a nonce, the response must echo it exactly.
 *
 * The response is read by the strict DER reader (ocsp-der.ts); the request is written directly.
 */
import { createHash, randomBytes } from "node:crypto";
import { id_pkix_ocsp_nonce } from "@peculiar/asn1-ocsp";
import type { RevocationReason } from "../rules/revocation.ts";
import { OID, derivedOnce, extendedKeyUsagesOf, rsaSignatureValid, unknownCriticalExtension, type ParsedCertificate } from "./certificate.ts";
import type { CertificateCache } from "./certificate-cache.ts";
import { TAG, bytesEqual, contentOf, readOnly } from "../profile/der-reader.ts";
import { tlv } from "../profile/der-tlv.ts";
import { readOcspResponse, type OcspResponseParts } from "./ocsp-der.ts";
import { VerificationFailure, describeError } from "./errors.ts";
import type { Anchor } from "./trust.ts";

const HASH_OID = { sha1: "1.3.14.3.2.26", sha256: "2.16.840.1.101.3.4.2.1" } as const;
const HASH_BY_OID: Readonly<Record<string, "sha1" | "sha256">> = { [HASH_OID.sha1]: "sha1", [HASH_OID.sha256]: "sha256" };
const MAX_AGE_WITHOUT_NEXT_UPDATE_MS = 24 * 3600 * 1000;

const REASONS: readonly RevocationReason[] = [
  "unspecified",
  "keyCompromise",
  "cACompromise",
  "affiliationChanged",
  "superseded",
  "cessationOfOperation",
  "certificateHold",
];

/** A CRLReason code as our vocabulary; codes JPKI never uses (privilegeWithdrawn, aACompromise, …) read as unspecified. */
export function reasonFromCode(code: number | undefined): { reason: RevocationReason; reasonCode: number } {
  const c = code ?? 0;
  return { reason: REASONS[c] ?? "unspecified", reasonCode: c };
}

/** Thrown inside this module when the answer cannot be trusted; the caller records it as an attempt. */
export class Unavailable extends Error {
  override readonly name = "Unavailable";
}

export type OcspAnswer =
  | { kind: "good"; producedAt: Date; thisUpdate: Date; nextUpdate?: Date }
  | { kind: "revoked"; revokedAt: Date; reason: RevocationReason; reasonCode: number; thisUpdate: Date; nextUpdate?: Date }
  | { kind: "unknown"; thisUpdate: Date; nextUpdate?: Date };

function hash(alg: "sha1" | "sha256", data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash(alg).update(data).digest());
}

/** The unsigned serial of a certificate as the INTEGER content (a leading zero when the top bit is set). */
function serialContent(serialHex: string): Uint8Array {
  const bytes = Buffer.from(serialHex.length % 2 ? `0${serialHex}` : serialHex, "hex");
  return bytes[0]! & 0x80 ? Uint8Array.of(0, ...bytes) : new Uint8Array(bytes);
}

function stripZeros(b: Uint8Array): Uint8Array {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return b.subarray(i);
}

/** AlgorithmIdentifier { id-sha1, NULL } and the nonce extension's OID, as DER. */
const SHA1_ALGORITHM = Uint8Array.of(0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00);
const NONCE_OID = Uint8Array.of(0x06, 0x09, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x02);

/**
 * The OCSPRequest for `leaf` under `issuer` (RFC 6960 §4.1.1): one Request with a SHA-1 CertID,
 * and the nonce extension when given. Written directly: the CertID is the same for every request
 * about this certificate, so it is made once per (certificate, root).
 */
export function buildOcspRequest(leaf: ParsedCertificate, issuer: Anchor, nonce?: Uint8Array): Uint8Array {
  const request = derivedOnce(leaf, `ocsp:request:${issuer.info.sha256Hex}`, () =>
    tlv(
      TAG.SEQUENCE,
      tlv(
        TAG.SEQUENCE,
        SHA1_ALGORITHM,
        tlv(TAG.OCTET_STRING, issuerHash(issuer, "sha1", "name")),
        tlv(TAG.OCTET_STRING, issuerHash(issuer, "sha1", "key")),
        tlv(TAG.INTEGER, serialContent(leaf.serialHex)),
      ),
    ),
  );
  const requestList = tlv(TAG.SEQUENCE, request);
  const extensions = nonce
    ? [tlv(0xa2, tlv(TAG.SEQUENCE, tlv(TAG.SEQUENCE, NONCE_OID, tlv(TAG.OCTET_STRING, tlv(TAG.OCTET_STRING, nonce)))))]
    : [];
  return tlv(TAG.SEQUENCE, tlv(TAG.SEQUENCE, requestList, ...extensions));
}

export interface OcspCheck {
  readonly leaf: ParsedCertificate;
  readonly issuer: Anchor;
  readonly now: Date;
  readonly skewMs: number;
  readonly nonce?: Uint8Array;
  readonly maxBytes: number;
  /** Where embedded responder certificates are parsed: the verifier's cache, so a responder is parsed once. */
  readonly certificates: CertificateCache;
  /**
   * Delegated responder certificates already checked against a root (issued and signed by it,
   * id-kp-OCSPSigning, no unknown critical extension), by the root's SHA-256: those checks are
   * done once per (responder, root); its validity is checked on every use.
   */
  readonly delegations: WeakMap<ParsedCertificate, Set<string>>;
}

/** OCSPResponseStatus names, for the message when a responder did not answer. */
const RESPONSE_STATUS: Readonly<Record<number, string>> = {
  1: "malformedRequest",
  2: "internalError",
  3: "tryLater",
  5: "sigRequired",
  6: "unauthorized",
};

/** Most TLVs read from one OCSP response (bounds the work on hostile input). */
const MAX_RESPONSE_NODES = 2000;

/** The SHA-1 or SHA-256 of a root's name and key bits (what CertIDs and byKey responder ids carry), once per root. */
function issuerHash(issuer: Anchor, alg: "sha1" | "sha256", part: "name" | "key"): Uint8Array {
  return derivedOnce(issuer.cert, `ocsp:${alg}:${part}`, () => hash(alg, part === "name" ? issuer.cert.subjectNameDer : issuer.cert.spkiKeyBits));
}

/** Checks an OCSP response for `leaf`; throws `Unavailable` with the reason when it cannot be trusted. */
export function checkOcspResponse(responseDer: Uint8Array, check: OcspCheck): OcspAnswer {
  const { leaf, issuer, now } = check;
  if (!(responseDer instanceof Uint8Array)) throw new Unavailable("the OCSP fetch did not resolve with a Uint8Array");
  if (responseDer.length > check.maxBytes) throw new Unavailable(`OCSP response larger than ${check.maxBytes} bytes`);
  let response: OcspResponseParts;
  try {
    response = readOcspResponse(responseDer, { remaining: MAX_RESPONSE_NODES });
  } catch (error) {
    throw new Unavailable(`malformed OCSP response: ${describeError(error)}`);
  }
  if (response.status !== 0) throw new Unavailable(`the responder answered ${RESPONSE_STATUS[response.status] ?? response.status}`);
  const data = response.basic;
  if (!data) throw new Unavailable("the OCSP response is not a BasicOCSPResponse");

  // Who signed it: the root itself, or a responder the root delegated to.
  const rid = data.responderId;
  const byRoot = "byKey" in rid ? bytesEqual(rid.byKey, issuerHash(issuer, "sha1", "key")) : bytesEqual(rid.byName, issuer.cert.subjectNameDer);
  let signerKey = issuer.cert.publicKey;
  if (!byRoot) {
    const responder = data.certificates
      .map((der) => {
        try {
          return check.certificates.get(der, "OCSP responder certificate");
        } catch {
          return undefined;
        }
      })
      .find(
        (c): c is ParsedCertificate =>
          c !== undefined && ("byKey" in rid ? bytesEqual(hash("sha1", c.spkiKeyBits), rid.byKey) : bytesEqual(c.subjectNameDer, rid.byName)),
      );
    if (!responder) throw new Unavailable("the OCSP response is signed neither by the issuing root nor by a responder certificate it carries");
    checkDelegatedResponder(responder, issuer, now, check.delegations);
    signerKey = responder.publicKey;
  }
  let signed: boolean;
  try {
    signed = rsaSignatureValid(data.signatureAlgorithm, data.tbsDer, signerKey, data.signature, "the OCSP response");
  } catch (error) {
    if (error instanceof VerificationFailure) throw new Unavailable(error.message);
    throw error;
  }
  if (!signed) throw new Unavailable("the OCSP response's signature does not verify");

  // Nonce.
  if (check.nonce) {
    const ext = data.extensions.find((e) => e.oid === id_pkix_ocsp_nonce);
    if (!ext) throw new Unavailable("the OCSP response does not echo the request's nonce");
    let echoed: Uint8Array = ext.value;
    try {
      echoed = contentOf(ext.value, readOnly(ext.value, TAG.OCTET_STRING, "nonce"));
    } catch {
      // raw nonce bytes: compare as they are
    }
    if (!bytesEqual(echoed, check.nonce) && !bytesEqual(ext.value, check.nonce)) throw new Unavailable("the OCSP response's nonce does not match the request's");
  }
  for (const e of data.extensions) {
    if (e.critical && e.oid !== id_pkix_ocsp_nonce) throw new Unavailable(`the OCSP response has an unknown critical extension ${e.oid}`);
  }

  // The SingleResponse for this certificate.
  const serial = stripZeros(serialContent(leaf.serialHex));
  const single = data.responses.find((r) => {
    const alg = HASH_BY_OID[r.hashAlgorithm];
    if (!alg) return false;
    return (
      bytesEqual(stripZeros(r.serial), serial) &&
      bytesEqual(r.issuerNameHash, issuerHash(issuer, alg, "name")) &&
      bytesEqual(r.issuerKeyHash, issuerHash(issuer, alg, "key"))
    );
  });
  if (!single) throw new Unavailable(`the OCSP response has no answer for serial ${leaf.serialHex} under this root`);
  for (const e of single.extensions) {
    if (e.critical) throw new Unavailable(`the OCSP answer has an unknown critical extension ${e.oid}`);
  }
  const thisUpdate = single.thisUpdate;
  if (thisUpdate.getTime() > now.getTime() + check.skewMs) throw new Unavailable(`the OCSP answer's thisUpdate ${thisUpdate.toISOString()} is in the future`);
  if (single.nextUpdate) {
    if (single.nextUpdate.getTime() < now.getTime()) throw new Unavailable(`the OCSP answer is stale: nextUpdate ${single.nextUpdate.toISOString()} has passed`);
  } else if (now.getTime() - thisUpdate.getTime() > MAX_AGE_WITHOUT_NEXT_UPDATE_MS) {
    throw new Unavailable(`the OCSP answer has no nextUpdate and is older than a day (thisUpdate ${thisUpdate.toISOString()})`);
  }
  const nextUpdate = single.nextUpdate ? { nextUpdate: single.nextUpdate } : {};
  const status = single.status;
  if (status.kind === "revoked") return { kind: "revoked", revokedAt: status.revokedAt, ...reasonFromCode(status.reasonCode), thisUpdate, ...nextUpdate };
  if (status.kind === "unknown") return { kind: "unknown", thisUpdate, ...nextUpdate };
  return { kind: "good", producedAt: data.producedAt, thisUpdate, ...nextUpdate };
}

function checkDelegatedResponder(responder: ParsedCertificate, issuer: Anchor, now: Date, delegations: WeakMap<ParsedCertificate, Set<string>>): void {
  try {
    if (!delegations.get(responder)?.has(issuer.info.sha256Hex)) {
      if (!bytesEqual(responder.issuerNameDer, issuer.cert.subjectNameDer)) {
        throw new Unavailable("the OCSP responder certificate was not issued by the certificate's root");
      }
      if (!rsaSignatureValid(responder.signatureAlgorithm, responder.tbsDer, issuer.cert.publicKey, responder.signature, "the OCSP responder certificate")) {
        throw new Unavailable("the OCSP responder certificate is not signed by the certificate's root");
      }
      const eku = extendedKeyUsagesOf(responder);
      if (!eku?.includes(OID.kpOcspSigning)) throw new Unavailable("the OCSP responder certificate lacks id-kp-OCSPSigning");
      const critical = unknownCriticalExtension(responder);
      if (critical) throw new Unavailable(`the OCSP responder certificate has an unknown critical extension ${critical}`);
      const roots = delegations.get(responder) ?? new Set<string>();
      roots.add(issuer.info.sha256Hex);
      delegations.set(responder, roots);
    }
    if (now < responder.notBefore || now > responder.notAfter) throw new Unavailable("the OCSP responder certificate is not valid now");
  } catch (error) {
    if (error instanceof VerificationFailure) throw new Unavailable(`OCSP responder certificate: ${error.message}`);
    throw error;
  }
}

export function newNonce(): Uint8Array {
  return new Uint8Array(randomBytes(16));
}

