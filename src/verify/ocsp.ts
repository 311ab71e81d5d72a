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
 */
import "reflect-metadata";
import { createHash, randomBytes } from "node:crypto";
import { AsnConvert, OctetString } from "@peculiar/asn1-schema";
import { AlgorithmIdentifier, Extension } from "@peculiar/asn1-x509";
import {
  BasicOCSPResponse,
  CertID,
  OCSPRequest,
  OCSPResponse,
  OCSPResponseStatus,
  Request,
  TBSRequest,
  id_pkix_ocsp_basic,
  id_pkix_ocsp_nonce,
} from "@peculiar/asn1-ocsp";
import type { RevocationReason } from "../rules/revocation.ts";
import {
  OID,
  extendedKeyUsagesOf,
  parseCertificate,
  rsaSignatureValid,
  unknownCriticalExtension,
  type ParsedCertificate,
} from "./certificate.ts";
import { bytesEqual, children, readTlv, u8 } from "./der.ts";
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
  | { kind: "revoked"; revokedAt: Date; reason: RevocationReason; reasonCode: number; thisUpdate: Date }
  | { kind: "unknown"; thisUpdate: Date };

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

export function buildOcspRequest(leaf: ParsedCertificate, issuer: Anchor, nonce?: Uint8Array): Uint8Array {
  const certId = new CertID({
    hashAlgorithm: new AlgorithmIdentifier({ algorithm: HASH_OID.sha1, parameters: null }),
    issuerNameHash: new OctetString(hash("sha1", issuer.cert.subjectNameDer)),
    issuerKeyHash: new OctetString(hash("sha1", issuer.cert.spkiKeyBits)),
    serialNumber: serialContent(leaf.serialHex).buffer as ArrayBuffer,
  });
  const tbs = new TBSRequest({ requestList: [new Request({ reqCert: certId })] });
  if (nonce) {
    tbs.requestExtensions = [
      new Extension({ extnID: id_pkix_ocsp_nonce, critical: false, extnValue: new OctetString(AsnConvert.serialize(new OctetString(nonce))) }),
    ];
  }
  return u8(AsnConvert.serialize(new OCSPRequest({ tbsRequest: tbs })));
}

/** The certificates embedded in a BasicOCSPResponse, as their exact DER (re-encoding could break their signatures). */
function embeddedCertificates(basicDer: Uint8Array): Uint8Array[] {
  const top = readTlv(basicDer, 0);
  const parts = children(basicDer, top, 5);
  const certs = parts.find((p) => p.tag === 0xa0);
  if (!certs) return [];
  const [list] = children(basicDer, certs, 1);
  if (!list || list.tag !== 0x30) throw new Unavailable("malformed certs field in the OCSP response");
  return children(basicDer, list, 8).map((t) => basicDer.slice(t.start, t.end));
}

export interface OcspCheck {
  readonly leaf: ParsedCertificate;
  readonly issuer: Anchor;
  readonly now: Date;
  readonly skewMs: number;
  readonly nonce?: Uint8Array;
  readonly maxBytes: number;
}

/** Checks an OCSP response for `leaf`; throws `Unavailable` with the reason when it cannot be trusted. */
export function checkOcspResponse(responseDer: Uint8Array, check: OcspCheck): OcspAnswer {
  const { leaf, issuer, now } = check;
  if (!(responseDer instanceof Uint8Array)) throw new Unavailable("the OCSP fetch did not resolve with a Uint8Array");
  if (responseDer.length > check.maxBytes) throw new Unavailable(`OCSP response larger than ${check.maxBytes} bytes`);
  let basic: BasicOCSPResponse;
  let basicDer: Uint8Array;
  try {
    const response = AsnConvert.parse(responseDer, OCSPResponse, { berOptions: { maxNodes: 2000, maxDepth: 32 } });
    if (response.responseStatus !== OCSPResponseStatus.successful) {
      throw new Unavailable(`the responder answered ${OCSPResponseStatus[response.responseStatus] ?? response.responseStatus}`);
    }
    if (!response.responseBytes || response.responseBytes.responseType !== id_pkix_ocsp_basic) {
      throw new Unavailable("the OCSP response is not a BasicOCSPResponse");
    }
    basicDer = u8(response.responseBytes.response.buffer);
    basic = AsnConvert.parse(basicDer, BasicOCSPResponse, { berOptions: { maxNodes: 2000, maxDepth: 32 } });
  } catch (error) {
    if (error instanceof Unavailable) throw error;
    throw new Unavailable(`malformed OCSP response: ${describeError(error)}`);
  }
  if (!basic.tbsResponseDataRaw) throw new Unavailable("malformed OCSP response: no ResponseData bytes");
  const tbs = u8(basic.tbsResponseDataRaw);
  const data = basic.tbsResponseData;

  // Who signed it: the root itself, or a responder the root delegated to.
  const issuerKeyHash = hash("sha1", issuer.cert.spkiKeyBits);
  const rid = data.responderID;
  const byRoot = rid.byKey
    ? bytesEqual(u8(rid.byKey.buffer), issuerKeyHash)
    : rid.byName
      ? bytesEqual(u8(AsnConvert.serialize(rid.byName)), issuer.cert.subjectNameDer)
      : false;
  let signerKey = issuer.cert.publicKey;
  if (!byRoot) {
    let certs: Uint8Array[];
    try {
      certs = embeddedCertificates(basicDer);
    } catch (error) {
      throw error instanceof Unavailable ? error : new Unavailable(`malformed OCSP response certs: ${describeError(error)}`);
    }
    const responder = certs
      .map((der) => {
        try {
          return parseCertificate(der, "OCSP responder certificate");
        } catch {
          return undefined;
        }
      })
      .find(
        (c): c is ParsedCertificate =>
          c !== undefined &&
          (rid.byKey
            ? bytesEqual(hash("sha1", c.spkiKeyBits), u8(rid.byKey.buffer))
            : rid.byName !== undefined && bytesEqual(c.subjectNameDer, u8(AsnConvert.serialize(rid.byName)))),
      );
    if (!responder) throw new Unavailable("the OCSP response is signed neither by the issuing root nor by a responder certificate it carries");
    checkDelegatedResponder(responder, issuer, now);
    signerKey = responder.publicKey;
  }
  let signed: boolean;
  try {
    signed = rsaSignatureValid(basic.signatureAlgorithm.algorithm, tbs, signerKey, u8(basic.signature), "the OCSP response");
  } catch (error) {
    if (error instanceof VerificationFailure) throw new Unavailable(error.message);
    throw error;
  }
  if (!signed) throw new Unavailable("the OCSP response's signature does not verify");

  // Nonce.
  if (check.nonce) {
    const ext = data.responseExtensions?.find((e) => e.extnID === id_pkix_ocsp_nonce);
    if (!ext) throw new Unavailable("the OCSP response does not echo the request's nonce");
    const value = u8(ext.extnValue.buffer);
    let echoed: Uint8Array = value;
    try {
      echoed = u8(AsnConvert.parse(value, OctetString).buffer);
    } catch {
      // raw nonce bytes: compare as they are
    }
    if (!bytesEqual(echoed, check.nonce) && !bytesEqual(value, check.nonce)) throw new Unavailable("the OCSP response's nonce does not match the request's");
  }
  for (const e of data.responseExtensions ?? []) {
    if (e.critical && e.extnID !== id_pkix_ocsp_nonce) throw new Unavailable(`the OCSP response has an unknown critical extension ${e.extnID}`);
  }

  // The SingleResponse for this certificate.
  const serial = stripZeros(serialContent(leaf.serialHex));
  const single = data.responses.find((r) => {
    const alg = HASH_BY_OID[r.certID.hashAlgorithm.algorithm];
    if (!alg) return false;
    return (
      bytesEqual(stripZeros(u8(r.certID.serialNumber)), serial) &&
      bytesEqual(u8(r.certID.issuerNameHash.buffer), hash(alg, issuer.cert.subjectNameDer)) &&
      bytesEqual(u8(r.certID.issuerKeyHash.buffer), hash(alg, issuer.cert.spkiKeyBits))
    );
  });
  if (!single) throw new Unavailable(`the OCSP response has no answer for serial ${leaf.serialHex} under this root`);
  for (const e of single.singleExtensions ?? []) {
    if (e.critical) throw new Unavailable(`the OCSP answer has an unknown critical extension ${e.extnID}`);
  }
  const thisUpdate = single.thisUpdate;
  if (thisUpdate.getTime() > now.getTime() + check.skewMs) throw new Unavailable(`the OCSP answer's thisUpdate ${thisUpdate.toISOString()} is in the future`);
  if (single.nextUpdate) {
    if (single.nextUpdate.getTime() < now.getTime()) throw new Unavailable(`the OCSP answer is stale: nextUpdate ${single.nextUpdate.toISOString()} has passed`);
  } else if (now.getTime() - thisUpdate.getTime() > MAX_AGE_WITHOUT_NEXT_UPDATE_MS) {
    throw new Unavailable(`the OCSP answer has no nextUpdate and is older than a day (thisUpdate ${thisUpdate.toISOString()})`);
  }
  const status = single.certStatus;
  if (status.revoked) {
    const r = reasonFromCode(status.revoked.revocationReason?.reason);
    return { kind: "revoked", revokedAt: status.revoked.revocationTime, ...r, thisUpdate };
  }
  if (status.unknown !== undefined && status.good === undefined) return { kind: "unknown", thisUpdate };
  return {
    kind: "good",
    producedAt: data.producedAt,
    thisUpdate,
    ...(single.nextUpdate ? { nextUpdate: single.nextUpdate } : {}),
  };
}

function checkDelegatedResponder(responder: ParsedCertificate, issuer: Anchor, now: Date): void {
  try {
    if (!bytesEqual(responder.issuerNameDer, issuer.cert.subjectNameDer)) {
      throw new Unavailable("the OCSP responder certificate was not issued by the certificate's root");
    }
    if (!rsaSignatureValid(responder.signatureAlgorithm, responder.tbsDer, issuer.cert.publicKey, responder.signature, "the OCSP responder certificate")) {
      throw new Unavailable("the OCSP responder certificate is not signed by the certificate's root");
    }
    const eku = extendedKeyUsagesOf(responder);
    if (!eku?.includes(OID.kpOcspSigning)) throw new Unavailable("the OCSP responder certificate lacks id-kp-OCSPSigning");
    if (now < responder.notBefore || now > responder.notAfter) throw new Unavailable("the OCSP responder certificate is not valid now");
    const critical = unknownCriticalExtension(responder);
    if (critical) throw new Unavailable(`the OCSP responder certificate has an unknown critical extension ${critical}`);
  } catch (error) {
    if (error instanceof VerificationFailure) throw new Unavailable(`OCSP responder certificate: ${error.message}`);
    throw error;
  }
}

export function newNonce(): Uint8Array {
  return new Uint8Array(randomBytes(16));
}

