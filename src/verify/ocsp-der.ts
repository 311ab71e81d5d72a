/**
 * Reads an OCSP response (RFC 6960 §4.2.1) with the strict DER reader (src/profile/der-reader.ts).
 * With a nonce, every verification brings a new response, and the generic ASN.1 parser spent three
 * times as long on it as the two RSA verifications took. This reader slices the fields the checks
 * in ocsp.ts need out of the input (signed bytes, responder id, answers, extensions, embedded
 * certificates as their exact DER) and throws `DerReadError` for anything else.
 */
import { DerCursor, DerReadError, TAG, contentOf, encodingOf, readTlv, type NodeBudget } from "../profile/der-reader.ts";
import { bitStringBytes, integerContent, oidText, readExplicitExtensions, readVersionV1, type RawExtension } from "../profile/der-values.ts";
import { derTime, readAlgorithmOid } from "./der.ts";

const ID_PKIX_OCSP_BASIC = "1.3.6.1.5.5.7.48.1.1";
/** Most certificates a response may carry (a responder sends its own, perhaps one more). */
const MAX_CERTIFICATES = 8;
/** Most SingleResponses read (an RFC 5019 responder sends one). */
const MAX_RESPONSES = 64;

export type SingleStatus =
  | { readonly kind: "good" }
  | { readonly kind: "revoked"; readonly revokedAt: Date; readonly reasonCode?: number }
  | { readonly kind: "unknown" };

export interface SingleResponseParts {
  readonly hashAlgorithm: string;
  readonly issuerNameHash: Uint8Array;
  readonly issuerKeyHash: Uint8Array;
  /** The serialNumber INTEGER's content as written. */
  readonly serial: Uint8Array;
  readonly status: SingleStatus;
  readonly thisUpdate: Date;
  readonly nextUpdate?: Date;
  readonly extensions: readonly RawExtension[];
}

export interface BasicResponseParts {
  /** The ResponseData as signed (a view into the input). */
  readonly tbsDer: Uint8Array;
  readonly responderId: { readonly byName: Uint8Array } | { readonly byKey: Uint8Array };
  readonly producedAt: Date;
  readonly responses: readonly SingleResponseParts[];
  readonly extensions: readonly RawExtension[];
  readonly signatureAlgorithm: string;
  readonly signature: Uint8Array;
  /** The certs field, each as its exact DER. */
  readonly certificates: readonly Uint8Array[];
}

export interface OcspResponseParts {
  /** OCSPResponseStatus: 0 successful, 1 malformedRequest, 2 internalError, 3 tryLater, 5 sigRequired, 6 unauthorized. */
  readonly status: number;
  readonly responseType?: string;
  /** Present when the status is successful and the response type is id-pkix-ocsp-basic. */
  readonly basic?: BasicResponseParts;
}

export function readOcspResponse(der: Uint8Array, budget: NodeBudget): OcspResponseParts {
  const response = DerCursor.only(der, TAG.SEQUENCE, "OCSPResponse", budget);
  const statusTlv = response.next(TAG.ENUMERATED, "responseStatus");
  if (statusTlv.end - statusTlv.contentStart !== 1) throw new DerReadError("responseStatus is not one byte");
  const status = der[statusTlv.contentStart]!;
  const wrapped = response.optional(TAG.CONTEXT_0, "responseBytes");
  response.end();
  if (!wrapped) return { status };
  const outer = response.into(wrapped, "responseBytes");
  const bytes = outer.into(outer.next(TAG.SEQUENCE, "ResponseBytes"), "ResponseBytes");
  outer.end();
  const responseType = oidText(der, bytes.next(TAG.OID, "responseType"));
  const inner = bytes.next(TAG.OCTET_STRING, "response");
  bytes.end();
  if (status !== 0 || responseType !== ID_PKIX_OCSP_BASIC) return { status, responseType };
  return { status, responseType, basic: readBasic(der, inner.contentStart, inner.end, budget) };
}

function readBasic(der: Uint8Array, start: number, end: number, budget: NodeBudget): BasicResponseParts {
  const top = readTlv(der, start, end);
  if (top.tag !== TAG.SEQUENCE || top.end !== end) throw new DerReadError("BasicOCSPResponse is not one SEQUENCE");
  const basic = new DerCursor(der, top, "BasicOCSPResponse", budget);
  const tbsTlv = basic.next(TAG.SEQUENCE, "tbsResponseData");
  const signatureAlgorithm = readAlgorithmOid(basic, "signatureAlgorithm");
  const signature = bitStringBytes(der, basic.next(TAG.BIT_STRING, "signature"));
  const certificates: Uint8Array[] = [];
  const certs = basic.optional(TAG.CONTEXT_0, "certs");
  if (certs) {
    const outer = basic.into(certs, "certs");
    const list = outer.into(outer.next(TAG.SEQUENCE, "certs"), "certs");
    outer.end();
    while (!list.done) {
      if (certificates.length >= MAX_CERTIFICATES) throw new DerReadError("too many certificates in the OCSP response");
      certificates.push(encodingOf(der, list.next(TAG.SEQUENCE, "certificate")));
    }
  }
  basic.end();

  const tbs = basic.into(tbsTlv, "ResponseData");
  readVersionV1(tbs, "ResponseData");
  let responderId: BasicResponseParts["responderId"];
  const rid = tbs.any("responderID");
  if (rid.tag === 0xa1) {
    const byName = tbs.into(rid, "responderID byName");
    responderId = { byName: encodingOf(der, byName.next(TAG.SEQUENCE, "Name")) };
    byName.end();
  } else if (rid.tag === 0xa2) {
    const byKey = tbs.into(rid, "responderID byKey");
    responderId = { byKey: contentOf(der, byKey.next(TAG.OCTET_STRING, "KeyHash")) };
    byKey.end();
  } else throw new DerReadError("responderID is neither byName nor byKey");
  const producedAt = derTime(der, tbs.next(TAG.GENERALIZED_TIME, "producedAt"));
  const list = tbs.into(tbs.next(TAG.SEQUENCE, "responses"), "responses");
  const responses: SingleResponseParts[] = [];
  while (!list.done) {
    if (responses.length >= MAX_RESPONSES) throw new DerReadError("too many SingleResponses");
    responses.push(readSingle(list));
  }
  const extensions = readExplicitExtensions(tbs, TAG.CONTEXT_1, "responseExtensions");
  tbs.end();
  return { tbsDer: encodingOf(der, tbsTlv), responderId, producedAt, responses, extensions, signatureAlgorithm, signature, certificates };
}

function readSingle(list: DerCursor): SingleResponseParts {
  const der = list.bytes;
  const single = list.into(list.next(TAG.SEQUENCE, "SingleResponse"), "SingleResponse");
  const id = single.into(single.next(TAG.SEQUENCE, "CertID"), "CertID");
  const hashAlgorithm = readAlgorithmOid(id, "hashAlgorithm");
  const issuerNameHash = contentOf(der, id.next(TAG.OCTET_STRING, "issuerNameHash"));
  const issuerKeyHash = contentOf(der, id.next(TAG.OCTET_STRING, "issuerKeyHash"));
  const serial = integerContent(der, id.next(TAG.INTEGER, "serialNumber"));
  id.end();

  let status: SingleStatus;
  const s = single.any("certStatus");
  if (s.tag === 0x80 && s.end === s.contentStart) status = { kind: "good" };
  else if (s.tag === 0x82 && s.end === s.contentStart) status = { kind: "unknown" };
  else if (s.tag === 0xa1) {
    const info = single.into(s, "RevokedInfo");
    const revokedAt = derTime(der, info.next(TAG.GENERALIZED_TIME, "revocationTime"));
    let reasonCode: number | undefined;
    const reason = info.optional(TAG.CONTEXT_0, "revocationReason");
    if (reason) {
      const r = info.into(reason, "revocationReason");
      const e = r.next(TAG.ENUMERATED, "CRLReason");
      r.end();
      if (e.end - e.contentStart !== 1 || der[e.contentStart]! > 10) throw new DerReadError("CRLReason out of range");
      reasonCode = der[e.contentStart]!;
    }
    info.end();
    status = { kind: "revoked", revokedAt, ...(reasonCode === undefined ? {} : { reasonCode }) };
  } else throw new DerReadError("certStatus is not good, revoked or unknown");

  const thisUpdate = derTime(der, single.next(TAG.GENERALIZED_TIME, "thisUpdate"));
  let nextUpdate: Date | undefined;
  const next = single.optional(TAG.CONTEXT_0, "nextUpdate");
  if (next) {
    const n = single.into(next, "nextUpdate");
    nextUpdate = derTime(der, n.next(TAG.GENERALIZED_TIME, "nextUpdate"));
    n.end();
  }
  const extensions = readExplicitExtensions(single, TAG.CONTEXT_1, "singleExtensions");
  single.end();
  return { hashAlgorithm, issuerNameHash, issuerKeyHash, serial, status, thisUpdate, ...(nextUpdate ? { nextUpdate } : {}), extensions };
}
