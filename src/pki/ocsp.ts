/**
 * OCSP (RFC 6960) encoding with the RFC 5019 lightweight profile: parse a request from untrusted
 * bytes, build a signed BasicOCSPResponse, the pre-encoded error responses, CertID matching, and
 * the GET form's path decoding. Pure functions: no HTTP, no storage, time passed in.
 *
 * Choices:
 * - Requests are parsed by a strict DER reader with a byte limit (8 KiB), a node budget (512
 *   elements) and at most 16 Requests; anything else is `OcspMalformedError` (→ malformedRequest).
 * - A well-formed request whose CertID uses a hash other than SHA-1 or SHA-256 throws
 *   `OcspUnsupportedHashError` (code `unauthorized`): without understanding the hash we cannot
 *   tell which CA is meant, and RFC 5019 §2.2.3 answers "unauthorized" for a CA we don't serve.
 * - Unknown non-critical extensions are ignored (RFC 6960 §4.4); an unknown critical one, a
 *   repeated extension, or a nonce outside 1–32 octets (RFC 8954 §2.1) is malformed.
 * - `optionalSignature` and `requestorName` are accepted and ignored (RFC 5019 §2.1.2).
 * - The nonce is the nonce extension's extnValue exactly as sent (normally `04 len …`), and the
 *   response echoes those bytes unchanged.
 * - A response's CertID is the request's CertID bytes when it came from `parseOcspRequest`, so
 *   hashAlgorithm parameters (NULL or absent) match what the client sent.
 * - Responses use the byKey ResponderID, GeneralizedTime rounded down to whole seconds, and a
 *   revocationReason unless the reason is `unspecified` (the same rule as the CRL's reasonCode).
 */
import { createHash, type KeyObject } from "node:crypto";
import { REVOCATION_REASON_CODE, type RevocationReason } from "../rules/revocation.ts";
import { keyHashSha1, readCertificateFields } from "./certificate-fields.ts";
import { DerCursor, DerReadError, TAG, bytesEqual, contentOf, readOnly, type NodeBudget } from "../profile/der-reader.ts";
import { bitStringBytes, integerContent, oidText, readExplicitExtensions, readVersionV1, type RawExtension } from "../profile/der-values.ts";
import {
  concat,
  contextTag,
  enumerated,
  generalizedTime,
  lengthOfLength,
  octetString,
  oid,
  seq,
  tlv,
  unsignedInteger,
  wholeSeconds,
  writeLength,
} from "./der.ts";
import type { Signer } from "./signer.ts";

// ---------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------

export type OcspHashAlgorithm = "sha1" | "sha256";

/** A CertID (RFC 6960 §4.1.1). */
export interface OcspCertId {
  readonly hashAlgorithm: OcspHashAlgorithm;
  /** Hash of the issuer's subject Name DER. */
  readonly issuerNameHash: Uint8Array;
  /** Hash of the issuer's subjectPublicKey bits. */
  readonly issuerKeyHash: Uint8Array;
  /** The certificate's serial, unsigned big-endian. */
  readonly serial: Uint8Array;
  /** The CertID's DER exactly as the request carried it (set by `parseOcspRequest`); echoed in the response. */
  readonly der?: Uint8Array;
}

export interface OcspRequestInfo {
  /** One CertID per Request, in order (1 to `maxRequests`). */
  readonly requests: readonly OcspCertId[];
  /** The nonce extension's extnValue as sent, to echo; absent when the request had none. */
  readonly nonce?: Uint8Array;
}

export interface OcspParseLimits {
  /** Largest request accepted, in bytes. Default 8192. */
  readonly maxBytes?: number;
  /** Most ASN.1 elements read. Default 512. */
  readonly maxNodes?: number;
  /** Most Requests in one OCSPRequest. Default 16. */
  readonly maxRequests?: number;
}

export const OCSP_DEFAULT_LIMITS: Readonly<Required<OcspParseLimits>> = Object.freeze({
  maxBytes: 8192,
  maxNodes: 512,
  maxRequests: 16,
});

export type OcspCertStatus =
  | { readonly kind: "good" }
  | { readonly kind: "revoked"; readonly revokedAt: Date; readonly reason?: RevocationReason }
  | { readonly kind: "unknown" };

export interface OcspSingleResponse {
  readonly certId: OcspCertId;
  readonly status: OcspCertStatus;
  readonly thisUpdate: Date;
  readonly nextUpdate?: Date;
}

export interface OcspResponseOptions {
  /** The delegated responder's certificate, embedded in `certs`. Omit for a response signed by the CA itself. */
  readonly responderCertificateDer?: Uint8Array;
  /** SHA-1 of the responder's public key bits (byKey ResponderID). Default: computed from `signer.publicKey`. */
  readonly responderKeyHash?: Uint8Array;
  readonly signer: Signer;
  readonly producedAt: Date;
  readonly responses: readonly OcspSingleResponse[];
  /** The request's nonce (`OcspRequestInfo.nonce`), echoed as a response extension. */
  readonly nonce?: Uint8Array;
}

/** The issuer a CertID names: its subject Name DER and its subjectPublicKey bits. */
export interface OcspIssuer {
  readonly nameDer: Uint8Array;
  readonly spkiKeyBits: Uint8Array;
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

export type OcspRequestErrorCode = "malformedRequest" | "unauthorized";

/** A request the responder refuses; `code` is the OCSPResponseStatus to answer with. */
export class OcspRequestError extends Error {
  override readonly name: string = "OcspRequestError";
  readonly code: OcspRequestErrorCode;

  constructor(code: OcspRequestErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** The request is not a well-formed OCSPRequest within the limits. Answer `OCSP_MALFORMED_REQUEST`. */
export class OcspMalformedError extends OcspRequestError {
  override readonly name = "OcspMalformedError";

  constructor(message: string, options?: { cause?: unknown }) {
    super("malformedRequest", message, options);
  }
}

/** A CertID uses a hash algorithm we don't support, so no issuer can be matched. Answer `OCSP_UNAUTHORIZED`. */
export class OcspUnsupportedHashError extends OcspRequestError {
  override readonly name = "OcspUnsupportedHashError";
  /** The hash algorithm's OID, dotted. */
  readonly algorithm: string;

  constructor(algorithm: string) {
    super("unauthorized", `unsupported CertID hash algorithm ${algorithm}`);
    this.algorithm = algorithm;
  }
}

// ---------------------------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------------------------

const errorResponse = (status: number): Uint8Array => seq(enumerated(status));

/** OCSPResponse { malformedRequest(1) }. Shared bytes: do not modify. */
export const OCSP_MALFORMED_REQUEST: Uint8Array = errorResponse(1);
/** OCSPResponse { internalError(2) }. Shared bytes: do not modify. */
export const OCSP_INTERNAL_ERROR: Uint8Array = errorResponse(2);
/** OCSPResponse { tryLater(3) }. Shared bytes: do not modify. */
export const OCSP_TRY_LATER: Uint8Array = errorResponse(3);
/** OCSPResponse { unauthorized(6) }. Shared bytes: do not modify. */
export const OCSP_UNAUTHORIZED: Uint8Array = errorResponse(6);

/** The pre-encoded response for a refused request. */
export function ocspErrorResponseFor(error: OcspRequestError): Uint8Array {
  return error.code === "unauthorized" ? OCSP_UNAUTHORIZED : OCSP_MALFORMED_REQUEST;
}

/** The Content-Type of OCSP requests and responses (RFC 6960 Appendix A). */
export const OCSP_REQUEST_CONTENT_TYPE = "application/ocsp-request";
export const OCSP_RESPONSE_CONTENT_TYPE = "application/ocsp-response";

const OID_SHA1 = oid("1.3.14.3.2.26");
const OID_SHA256 = oid("2.16.840.1.101.3.4.2.1");
const NONCE_OID = "1.3.6.1.5.5.7.48.1.2";
const OID_NONCE = oid(NONCE_OID);
const OID_BASIC = oid("1.3.6.1.5.5.7.48.1.1");
const SHA256_WITH_RSA = seq(oid("1.2.840.113549.1.1.11"), Uint8Array.of(TAG.NULL, 0));
const HASH_LENGTH: Readonly<Record<OcspHashAlgorithm, number>> = { sha1: 20, sha256: 32 };
const HASH_ALGORITHM_ID: Readonly<Record<OcspHashAlgorithm, Uint8Array>> = {
  sha1: seq(OID_SHA1, Uint8Array.of(TAG.NULL, 0)),
  sha256: seq(OID_SHA256, Uint8Array.of(TAG.NULL, 0)),
};
/** Longest serial accepted in a request (RFC 5280 allows 20 octets; leave room for others' mistakes). */
const MAX_SERIAL_OCTETS = 32;

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

const oidContent = (encoded: Uint8Array): Uint8Array => encoded.subarray(2);
const SHA1_CONTENT = oidContent(OID_SHA1);
const SHA256_CONTENT = oidContent(OID_SHA256);

/** Reads `AlgorithmIdentifier` of a CertID: the OID and absent-or-NULL parameters. */
function readHashAlgorithm(c: DerCursor): OcspHashAlgorithm | { unsupported: string } {
  const der = c.bytes;
  const alg = c.into(c.next(TAG.SEQUENCE, "hashAlgorithm"), "hashAlgorithm");
  const oidTlv = alg.next(TAG.OID, "algorithm");
  const params = alg.optional(TAG.NULL, "parameters");
  if (params && params.end !== params.contentStart) throw new DerReadError("hashAlgorithm: NULL with content");
  alg.end();
  // The two supported hashes are compared as bytes; only another OID needs decoding (and checking).
  const content = contentOf(der, oidTlv);
  if (bytesEqual(content, SHA1_CONTENT)) return "sha1";
  if (bytesEqual(content, SHA256_CONTENT)) return "sha256";
  return { unsupported: oidText(der, oidTlv) };
}

function readSerial(c: DerCursor): Uint8Array {
  const content = integerContent(c.bytes, c.next(TAG.INTEGER, "serialNumber"));
  if (content[0]! & 0x80) throw new DerReadError("negative serial number");
  const mag = content[0] === 0 && content.length > 1 ? content.subarray(1) : content;
  if (mag.length > MAX_SERIAL_OCTETS) throw new DerReadError("serial number too long");
  return mag.slice();
}

/** Unknown non-critical extensions are ignored (RFC 6960 §4.4); an unknown critical one makes the request malformed. */
function refuseUnknownCritical(extensions: readonly RawExtension[], known: readonly string[]): void {
  for (const e of extensions) {
    if (e.critical && !known.includes(e.oid)) throw new DerReadError(`unsupported critical extension ${e.oid}`);
  }
}

/** Checks an RFC 8954 nonce and returns the extnValue bytes to echo. */
function checkNonce(value: Uint8Array): Uint8Array {
  // Normally extnValue is the DER of `OCTET STRING (SIZE(1..32))`; some old clients send the raw bytes.
  let inner = value;
  if (value.length >= 2 && value[0] === TAG.OCTET_STRING) {
    try {
      inner = contentOf(value, readOnly(value, TAG.OCTET_STRING, "nonce"));
    } catch {
      inner = value; // not an OCTET STRING after all: raw nonce
    }
  }
  if (inner.length < 1 || inner.length > 32) throw new DerReadError("nonce must be 1 to 32 octets (RFC 8954)");
  return value.slice();
}

/**
 * Parses an OCSPRequest from untrusted bytes within `limits`.
 * Throws `OcspMalformedError` for anything that is not a well-formed request within the limits,
 * and `OcspUnsupportedHashError` for a well-formed one whose CertID hash we don't support.
 */
export function parseOcspRequest(der: Uint8Array, limits: OcspParseLimits = {}): OcspRequestInfo {
  const maxBytes = limits.maxBytes ?? OCSP_DEFAULT_LIMITS.maxBytes;
  const maxNodes = limits.maxNodes ?? OCSP_DEFAULT_LIMITS.maxNodes;
  const maxRequests = limits.maxRequests ?? OCSP_DEFAULT_LIMITS.maxRequests;
  if (!(der instanceof Uint8Array)) throw new TypeError("parseOcspRequest needs a Uint8Array");
  if (der.length === 0) throw new OcspMalformedError("empty request");
  if (der.length > maxBytes) throw new OcspMalformedError(`request larger than ${maxBytes} bytes`);

  const budget: NodeBudget = { remaining: maxNodes };
  let unsupported: string | undefined;
  try {
    const request = DerCursor.only(der, TAG.SEQUENCE, "OCSPRequest", budget);
    const tbs = request.into(request.next(TAG.SEQUENCE, "tbsRequest"), "TBSRequest");
    readVersionV1(tbs, "TBSRequest");
    tbs.optional(TAG.CONTEXT_1, "requestorName"); // ignored

    const list = tbs.into(tbs.next(TAG.SEQUENCE, "requestList"), "requestList");
    const requests: OcspCertId[] = [];
    let count = 0;
    while (!list.done) {
      if (++count > maxRequests) throw new DerReadError(`more than ${maxRequests} requests`);
      const req = list.into(list.next(TAG.SEQUENCE, "Request"), "Request");
      const certIdTlv = req.next(TAG.SEQUENCE, "reqCert");
      const certId = req.into(certIdTlv, "CertID");
      const alg = readHashAlgorithm(certId);
      const nameHash = contentOf(der, certId.next(TAG.OCTET_STRING, "issuerNameHash"));
      const keyHash = contentOf(der, certId.next(TAG.OCTET_STRING, "issuerKeyHash"));
      const serial = readSerial(certId);
      certId.end();
      refuseUnknownCritical(readExplicitExtensions(req, TAG.CONTEXT_0, "singleRequestExtensions"), []);
      req.end();
      if (typeof alg !== "string") {
        unsupported ??= alg.unsupported;
        if (nameHash.length === 0 || nameHash.length > 64 || keyHash.length === 0 || keyHash.length > 64) {
          throw new DerReadError("bad CertID hash length");
        }
        continue;
      }
      if (nameHash.length !== HASH_LENGTH[alg] || keyHash.length !== HASH_LENGTH[alg]) {
        throw new DerReadError(`CertID hash length does not match ${alg}`);
      }
      requests.push({
        hashAlgorithm: alg,
        issuerNameHash: nameHash.slice(),
        issuerKeyHash: keyHash.slice(),
        serial,
        der: der.slice(certIdTlv.start, certIdTlv.end),
      });
    }
    if (count === 0) throw new DerReadError("empty requestList");

    const extensions = readExplicitExtensions(tbs, contextTag(2, true), "requestExtensions");
    refuseUnknownCritical(extensions, [NONCE_OID]);
    let nonce: Uint8Array | undefined;
    for (const e of extensions) if (e.oid === NONCE_OID) nonce = checkNonce(e.value); // at most one: repeats are refused
    tbs.end();

    request.optional(TAG.CONTEXT_0, "optionalSignature"); // ignored
    request.end();

    if (unsupported !== undefined) throw new OcspUnsupportedHashError(unsupported);
    return nonce === undefined ? { requests } : { requests, nonce };
  } catch (err) {
    if (err instanceof DerReadError) throw new OcspMalformedError(err.message, { cause: err });
    throw err;
  }
}

/**
 * Decodes the RFC 5019 GET form: the path segment(s) after the responder's URL, i.e. the
 * URL-encoded base64 of the DER request. Accepts %-escapes, unescaped `+` and `/`, the base64url
 * alphabet, missing padding, and leading slashes. Returns the DER (pass it to `parseOcspRequest`).
 */
export function decodeOcspGetPath(path: string, limits: Pick<OcspParseLimits, "maxBytes"> = {}): Uint8Array {
  const maxBytes = limits.maxBytes ?? OCSP_DEFAULT_LIMITS.maxBytes;
  // Worst case every base64 character is %-escaped: 3 characters each.
  const maxPath = 3 * 4 * Math.ceil(maxBytes / 3) + 16;
  if (typeof path !== "string") throw new TypeError("decodeOcspGetPath needs a string");
  if (path.length > maxPath) throw new OcspMalformedError("GET path too long");
  let i = 0;
  while (i < path.length && path[i] === "/") i++;
  let b64 = "";
  for (; i < path.length; i++) {
    let ch = path[i]!;
    if (ch === "%") {
      const hex = path.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) throw new OcspMalformedError("bad %-escape in GET path");
      ch = String.fromCharCode(parseInt(hex, 16));
      i += 2;
    }
    if (ch === "-" || ch === " ") ch = "+";
    else if (ch === "_") ch = "/";
    b64 += ch;
  }
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) throw new OcspMalformedError("GET path is not base64");
  const unpadded = b64.replace(/=+$/, "");
  if (unpadded.length % 4 === 1 || (b64.length !== unpadded.length && b64.length % 4 !== 0)) {
    throw new OcspMalformedError("bad base64 length in GET path");
  }
  const der = Buffer.from(unpadded, "base64");
  if (der.length === 0) throw new OcspMalformedError("empty request");
  if (der.length > maxBytes) throw new OcspMalformedError(`request larger than ${maxBytes} bytes`);
  return new Uint8Array(der.buffer, der.byteOffset, der.length);
}

// ---------------------------------------------------------------------------------------------
// Issuers and CertIDs
// ---------------------------------------------------------------------------------------------

interface IssuerHashes {
  readonly sha1: { readonly name: Uint8Array; readonly key: Uint8Array };
  readonly sha256: { readonly name: Uint8Array; readonly key: Uint8Array };
}

const issuerHashCache = new WeakMap<OcspIssuer, IssuerHashes>();

const digest = (alg: OcspHashAlgorithm, data: Uint8Array): Uint8Array => new Uint8Array(createHash(alg).update(data).digest());

/** The SHA-1 and SHA-256 name and key hashes of `issuer`, computed once per issuer object. */
function issuerHashes(issuer: OcspIssuer): IssuerHashes {
  let h = issuerHashCache.get(issuer);
  if (!h) {
    h = {
      sha1: { name: digest("sha1", issuer.nameDer), key: digest("sha1", issuer.spkiKeyBits) },
      sha256: { name: digest("sha256", issuer.nameDer), key: digest("sha256", issuer.spkiKeyBits) },
    };
    issuerHashCache.set(issuer, h);
  }
  return h;
}

/** The issuer fields of a CA certificate, for `certIdMatchesIssuer` and `certIdFor`. Keep and reuse the object. */
export function ocspIssuerFromCertificate(caCertificateDer: Uint8Array): OcspIssuer {
  const f = readCertificateFields(caCertificateDer);
  return { nameDer: f.subjectNameDer, spkiKeyBits: f.spkiKeyBits };
}

/**
 * Whether `certId` names `issuer` (both hashes equal). The hashes are computed once per issuer
 * object (cached by identity), so pass the same object on every call.
 */
export function certIdMatchesIssuer(certId: OcspCertId, issuer: OcspIssuer): boolean {
  const h = issuerHashes(issuer)[certId.hashAlgorithm];
  if (!h) return false;
  return bytesEqual(certId.issuerNameHash, h.name) && bytesEqual(certId.issuerKeyHash, h.key);
}

/** The CertID for `serial` under `issuer`: what a pre-signed response for that certificate carries. */
export function certIdFor(issuer: OcspIssuer, serial: Uint8Array, hashAlgorithm: OcspHashAlgorithm = "sha1"): OcspCertId {
  const h = issuerHashes(issuer)[hashAlgorithm];
  let i = 0;
  while (i < serial.length - 1 && serial[i] === 0) i++;
  return { hashAlgorithm, issuerNameHash: h.name, issuerKeyHash: h.key, serial: serial.slice(i) };
}

/** The DER of a CertID: the request's own bytes when it came from `parseOcspRequest`, else encoded. */
export function certIdDer(certId: OcspCertId): Uint8Array {
  if (certId.der) return certId.der;
  const len = HASH_LENGTH[certId.hashAlgorithm];
  if (len === undefined) throw new TypeError(`unsupported hash algorithm ${String(certId.hashAlgorithm)}`);
  if (certId.issuerNameHash.length !== len || certId.issuerKeyHash.length !== len) {
    throw new TypeError(`CertID hashes must be ${len} bytes for ${certId.hashAlgorithm}`);
  }
  return seq(
    HASH_ALGORITHM_ID[certId.hashAlgorithm],
    octetString(certId.issuerNameHash),
    octetString(certId.issuerKeyHash),
    unsignedInteger(certId.serial),
  );
}

// ---------------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------------

const signerKeyHashCache = new WeakMap<KeyObject, Uint8Array>();

/** SHA-1 over the subjectPublicKey bits of `key` (byKey ResponderID), cached per KeyObject. */
export function responderKeyHashOf(key: KeyObject): Uint8Array {
  let h = signerKeyHashCache.get(key);
  if (!h) {
    const spki = new Uint8Array(key.export({ type: "spki", format: "der" }));
    const s = DerCursor.only(spki, TAG.SEQUENCE, "SubjectPublicKeyInfo", { remaining: 8 });
    s.next(TAG.SEQUENCE, "algorithm");
    h = keyHashSha1(bitStringBytes(spki, s.next(TAG.BIT_STRING, "subjectPublicKey")));
    signerKeyHashCache.set(key, h);
  }
  return h;
}

function encodeStatus(status: OcspCertStatus): Uint8Array {
  switch (status.kind) {
    case "good":
      return Uint8Array.of(contextTag(0, false), 0);
    case "unknown":
      return Uint8Array.of(contextTag(2, false), 0);
    case "revoked": {
      const parts = [generalizedTime(status.revokedAt)];
      const reason = status.reason;
      if (reason !== undefined && reason !== "unspecified") {
        const code = REVOCATION_REASON_CODE[reason];
        if (code === undefined) throw new TypeError(`unknown revocation reason ${String(reason)}`);
        parts.push(tlv(contextTag(0, true), enumerated(code)));
      }
      return tlv(contextTag(1, true), ...parts);
    }
    default:
      throw new TypeError(`unknown certificate status ${String((status as { kind?: unknown }).kind)}`);
  }
}

function encodeSingleResponse(r: OcspSingleResponse): Uint8Array {
  const parts = [certIdDer(r.certId), encodeStatus(r.status), generalizedTime(r.thisUpdate)];
  if (r.nextUpdate !== undefined) {
    if (wholeSeconds(r.nextUpdate) <= wholeSeconds(r.thisUpdate)) throw new RangeError("nextUpdate must be after thisUpdate");
    parts.push(tlv(contextTag(0, true), generalizedTime(r.nextUpdate)));
  }
  return seq(...parts);
}

/**
 * What a signed answer is made of apart from the responder certificate: the DER
 * tbsResponseData and its signature. The certificate sits outside what is signed, so a store
 * can keep these two (about a third of the response) and put the answer back together with
 * `ocspResponseFromParts` and the certificate of the responder that signed.
 */
export interface SignedOcspResponseParts {
  readonly tbs: Uint8Array;
  readonly signature: Uint8Array;
}

/** Builds and signs tbsResponseData (no certificate attached yet). */
export async function signOcspResponse(opts: Omit<OcspResponseOptions, "responderCertificateDer">): Promise<SignedOcspResponseParts> {
  if (opts.signer.algorithm !== "sha256WithRSAEncryption") throw new TypeError("unsupported signer algorithm");
  if (opts.responses.length === 0) throw new TypeError("an OCSP response needs at least one SingleResponse");
  const keyHash = opts.responderKeyHash ?? responderKeyHashOf(opts.signer.publicKey);
  if (keyHash.length !== 20) throw new TypeError("responderKeyHash must be a 20-byte SHA-1");
  const dataParts = [
    tlv(contextTag(2, true), octetString(keyHash)),
    generalizedTime(opts.producedAt),
    seq(...opts.responses.map(encodeSingleResponse)),
  ];
  if (opts.nonce !== undefined) {
    if (opts.nonce.length === 0) throw new TypeError("empty nonce");
    dataParts.push(tlv(contextTag(1, true), seq(seq(OID_NONCE, octetString(opts.nonce)))));
  }
  const tbs = seq(...dataParts);
  return { tbs, signature: await opts.signer.sign(tbs) };
}

/** Builds and signs a successful OCSPResponse carrying a BasicOCSPResponse. */
export async function buildOcspResponse(opts: OcspResponseOptions): Promise<Uint8Array> {
  return ocspResponseFromParts(await signOcspResponse(opts), opts.responderCertificateDer);
}

/**
 * The successful OCSPResponse for signed parts, with the responder certificate embedded (omit it
 * for a response signed by the CA itself). Byte for byte what `buildOcspResponse` gives.
 */
export function ocspResponseFromParts(parts: SignedOcspResponseParts, responderCertificateDer?: Uint8Array): Uint8Array {
  return successfulResponse(parts.tbs, parts.signature, responderCertificateDer ? certsField(responderCertificateDer) : EMPTY);
}

const EMPTY = new Uint8Array(0);
const SUCCESSFUL = enumerated(0);

/** BasicOCSPResponse's `certs` field: [0] EXPLICIT SEQUENCE OF Certificate, with the one responder certificate. */
const certsField = (certificateDer: Uint8Array): Uint8Array => tlv(contextTag(0, true), seq(certificateDer));

/** Bytes a TLV with `length` content bytes takes. */
const tlvLength = (length: number): number => 1 + lengthOfLength(length) + length;

/**
 * OCSPResponse { successful, responseBytes { id-pkix-ocsp-basic, OCTET STRING { BasicOCSPResponse
 * { tbs, sha256WithRSAEncryption, BIT STRING signature, certs } } } }, written into one buffer
 * (the nesting would otherwise copy the ~1.5 KB answer five times).
 */
function successfulResponse(tbs: Uint8Array, signature: Uint8Array, certs: Uint8Array): Uint8Array {
  const bitsLength = 1 + signature.length;
  const basicLength = tbs.length + SHA256_WITH_RSA.length + tlvLength(bitsLength) + certs.length;
  const octetLength = tlvLength(basicLength);
  const responseBytesLength = OID_BASIC.length + tlvLength(octetLength);
  const explicitLength = tlvLength(responseBytesLength);
  const topLength = SUCCESSFUL.length + tlvLength(explicitLength);
  const out = new Uint8Array(tlvLength(topLength));
  let o = 0;
  const head = (tag: number, length: number): void => {
    out[o] = tag;
    o = writeLength(out, o + 1, length);
  };
  const put = (bytes: Uint8Array): void => {
    out.set(bytes, o);
    o += bytes.length;
  };
  head(TAG.SEQUENCE, topLength);
  put(SUCCESSFUL);
  head(contextTag(0, true), explicitLength);
  head(TAG.SEQUENCE, responseBytesLength);
  put(OID_BASIC);
  head(TAG.OCTET_STRING, octetLength);
  head(TAG.SEQUENCE, basicLength);
  put(tbs);
  put(SHA256_WITH_RSA);
  head(TAG.BIT_STRING, bitsLength);
  out[o++] = 0; // no unused bits
  put(signature);
  put(certs);
  if (o !== out.length) throw new Error("OCSP response length mismatch"); // a bug here, never input
  return out;
}

export interface OcspResponseTemplateOptions {
  /** The delegated responder's certificate, embedded in `certs`. Omit for a response signed by the CA itself. */
  readonly responderCertificateDer?: Uint8Array;
  /** SHA-1 of the responder's public key bits (byKey ResponderID). Default: computed from `signer.publicKey`. */
  readonly responderKeyHash?: Uint8Array;
  readonly signer: Signer;
  readonly producedAt: Date;
  readonly thisUpdate: Date;
  readonly nextUpdate?: Date;
}

/**
 * Builds many single-answer responses without a nonce that share the responder, producedAt,
 * thisUpdate and nextUpdate: what a batch pre-signing run makes. The shared parts are encoded
 * once, so each answer costs its CertID, its status and the signature. The output is byte for
 * byte what `buildOcspResponse` gives for the same inputs.
 */
export class OcspResponseTemplate {
  readonly #signer: Signer;
  /** responderID [2] byKey and producedAt. */
  readonly #head: Uint8Array;
  /** thisUpdate and [0] nextUpdate of the SingleResponse. */
  readonly #times: Uint8Array;
  readonly #certs: Uint8Array;

  constructor(opts: OcspResponseTemplateOptions) {
    if (opts.signer.algorithm !== "sha256WithRSAEncryption") throw new TypeError("unsupported signer algorithm");
    const keyHash = opts.responderKeyHash ?? responderKeyHashOf(opts.signer.publicKey);
    if (keyHash.length !== 20) throw new TypeError("responderKeyHash must be a 20-byte SHA-1");
    if (opts.nextUpdate !== undefined && wholeSeconds(opts.nextUpdate) <= wholeSeconds(opts.thisUpdate)) {
      throw new RangeError("nextUpdate must be after thisUpdate");
    }
    this.#signer = opts.signer;
    this.#head = concat([tlv(contextTag(2, true), octetString(keyHash)), generalizedTime(opts.producedAt)]);
    this.#times = opts.nextUpdate === undefined
      ? generalizedTime(opts.thisUpdate)
      : concat([generalizedTime(opts.thisUpdate), tlv(contextTag(0, true), generalizedTime(opts.nextUpdate))]);
    this.#certs = opts.responderCertificateDer ? certsField(opts.responderCertificateDer) : EMPTY;
  }

  /** The signed OCSPResponse answering `certId` with `status`. */
  async build(certId: OcspCertId, status: OcspCertStatus): Promise<Uint8Array> {
    const { tbs, signature } = await this.sign(certId, status);
    return successfulResponse(tbs, signature, this.#certs);
  }

  /** The same answer as signed parts, without the responder certificate (what a store keeps). */
  async sign(certId: OcspCertId, status: OcspCertStatus): Promise<SignedOcspResponseParts> {
    const tbs = seq(this.#head, seq(seq(certIdDer(certId), encodeStatus(status), this.#times)));
    return { tbs, signature: await this.#signer.sign(tbs) };
  }
}
