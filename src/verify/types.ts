/**
 * The public types of the verification library: options in, results out. Times in results are
 * ISO-8601 strings and identifiers hex strings, so they can be logged or sent as JSON unchanged;
 * the bytes a result carries (`content`, `signature.value`) are Uint8Array, to be encoded
 * (base64, say) by a caller that sends a result as JSON.
 */
import type { RevocationReason } from "../rules/revocation.ts";
import type { VerifyErrorCode } from "./errors.ts";

export type CertificateType = "sign" | "auth";
export type HashName = "sha256" | "sha384" | "sha512";

export interface TrustAnchors {
  /** DER of the signing-certificate roots; several generations (same DN) allowed. */
  readonly sign: readonly Uint8Array[];
  /** DER of the authentication-certificate roots. */
  readonly auth: readonly Uint8Array[];
}

export interface OcspOptions {
  /** POST `requestDer` to `url` (Content-Type application/ocsp-request); resolve with the response body. */
  fetch(url: string, requestDer: Uint8Array): Promise<Uint8Array>;
  /**
   * Put a fresh nonce in each request and require it echoed. Default true: every verification
   * asks the responder. With false, an answer is kept until its nextUpdate and reused (RFC 5019).
   */
  readonly useNonce?: boolean;
  /** Ask this responder instead of the certificate's authorityInfoAccess URL. */
  readonly url?: string;
}

export interface CrlOptions {
  /** GET the CRL at `url`; resolve with its DER. */
  fetch(url: string): Promise<Uint8Array>;
  /** Use this CRL location instead of the certificate's cRLDistributionPoints URI. */
  readonly url?: string;
}

export interface RevocationOptions {
  readonly ocsp?: OcspOptions;
  readonly crl?: CrlOptions;
  /** Which method to try first when both are configured; the other is tried if it gives no answer. Default "ocsp". */
  readonly prefer?: "ocsp" | "crl";
}

export interface VerifyLimits {
  /** Largest CMS SignedData, in bytes. Default 16 MiB. */
  readonly cmsBytes: number;
  /** Largest detached content or raw-signature data, in bytes. Default 64 MiB. */
  readonly contentBytes: number;
  /** Largest XML document, in characters. Default 4 MiB. */
  readonly xmlChars: number;
  /**
   * Most elements in an XML document. Default 2,000. xml-crypto's digest work grows with the
   * square of this (≈0.4 s at 2,000, ≈2 s at 10,000 on a 2-core host) and is done before the
   * signature or certificate can be refused; it runs in a worker thread, but takes a core.
   */
  readonly xmlElements: number;
  /**
   * Longest the digest check of one XML document may take, in ms (default 5,000). It runs in a
   * worker thread, one document at a time; past this the worker is stopped and the document is
   * malformed-input.
   */
  readonly xmlMillis: number;
  /** Largest OCSP response, in bytes. Default 64 KiB. */
  readonly ocspResponseBytes: number;
  /** Largest CRL, in bytes. Default 64 MiB. */
  readonly crlBytes: number;
  /** Most ASN.1 nodes parsed in a CRL. Default 20,000,000. */
  readonly crlNodes: number;
  /** Most CRLs kept in the verifier's cache. Default 64. */
  readonly crlCacheEntries: number;
  /**
   * Most certificates kept parsed, with their checked path to a root, in the verifier's cache
   * (least recently used dropped first), from their second sighting on; as many hashes of
   * certificates seen once are remembered. Default 10,000.
   */
  readonly certificateCacheEntries: number;
  /** Most OCSP answers kept until their nextUpdate (only when `ocsp.useNonce` is false). Default 100,000. */
  readonly ocspCacheEntries: number;
}

export interface VerifierOptions {
  readonly trustAnchors: TrustAnchors;
  /** How to learn revocation status. With neither method configured every verification is `revocation-unavailable`. */
  readonly revocation: RevocationOptions;
  /** The current time (revocation data freshness, default verification time). Default: the system clock. */
  readonly now?: () => Date;
  /** Allowed clock difference, in seconds, for OCSP/CRL thisUpdate in the future. Default 300. */
  readonly clockSkewSeconds?: number;
  readonly limits?: Partial<VerifyLimits>;
}

export interface CheckOptions {
  /** The certificate type the caller expects. Default "sign" for documents (CMS, XML, raw signatures). */
  readonly expectedType?: CertificateType;
  /** The time the certificate must be valid at. Default `now()`. Revocation data is always judged against `now()`. */
  readonly at?: Date;
}

export interface CertificateCheckOptions extends CheckOptions {
  readonly expectedType: CertificateType;
}

export interface CmsOptions extends CheckOptions {
  /** The signed content, for a detached signature. */
  readonly content?: Uint8Array;
  /** The signer's certificate, when the SignedData does not carry it. */
  readonly signerCertificate?: Uint8Array;
}

export interface RawSignatureInput extends CheckOptions {
  readonly certificateDer: Uint8Array;
  readonly data: Uint8Array;
  /** RSA PKCS#1 v1.5 signature value. */
  readonly signature: Uint8Array;
  /** Default "sha256". */
  readonly hash?: HashName;
}

export interface RootInfo {
  readonly type: CertificateType;
  readonly subject: string;
  readonly serialHex: string;
  /** The root's subjectKeyIdentifier (or SHA-1 of its key): which generation issued the certificate. */
  readonly keyIdentifierHex: string;
  /** SHA-256 fingerprint of the root certificate. */
  readonly sha256Hex: string;
  readonly notBefore: string;
  readonly notAfter: string;
}

export interface CertificateInfo {
  readonly serialHex: string;
  readonly subject: string;
  readonly issuer: string;
  readonly notBefore: string;
  readonly notAfter: string;
}

export interface Attributes {
  /** 氏名: surname, U+3000, given name. */
  readonly name: string;
  /** 住所. */
  readonly address: string;
  readonly gender: { readonly code: "1" | "2" | "3"; readonly ja: string; readonly en: string };
  readonly birth: {
    /** YYYY-MM-DD (Gregorian). */
    readonly western: string;
    /** "平成2年1月2日", or null for a date before 1873 (no Gregorian-calendar era form). */
    readonly era: string | null;
    /** "Heisei 2 (1990)", or null as above. */
    readonly eraEn: string | null;
  };
  /** One '0'/'1' per character of the name; '1' marks a substitute character (代替文字). */
  readonly nameSubstitutes: string;
  readonly addressSubstitutes: string;
}

export interface RevocationInfo {
  readonly method: "ocsp" | "crl";
  readonly status: "good";
  /** Where the answer came from. */
  readonly url: string;
  /** OCSP only. */
  readonly producedAt?: string;
  readonly thisUpdate: string;
  readonly nextUpdate?: string;
  /** Answered from the verifier's cache: a CRL, or an OCSP answer obtained without a nonce, kept until its nextUpdate. */
  readonly cached?: boolean;
}

export interface SignatureInfo {
  readonly format: "cms" | "xml" | "raw";
  /** The message digest algorithm. */
  readonly digestAlgorithm: HashName;
  /** CMS: whether the content was inside the SignedData. */
  readonly detached?: boolean;
  /**
   * CMS signingTime attribute, as the signer claimed it. The signer certificate was valid then
   * (a time outside its validity is `not-yet-valid` or `expired`); the time itself comes from the
   * signer's clock and is not otherwise verified.
   */
  readonly signingTime?: string;
  /**
   * The signature value that was verified: the SignerInfo's signature (CMS), the decoded
   * ds:SignatureValue (XML) or the signature given (raw). The same signature gives the same value,
   * so it identifies a signed document (a replay of it, say) without parsing it again. A copy.
   */
  readonly value: Uint8Array;
}

export interface ValidResult {
  readonly valid: true;
  readonly type: CertificateType;
  readonly certificate: CertificateInfo;
  /** The four attributes; signing certificates only. */
  readonly attributes?: Attributes;
  readonly path: { readonly root: RootInfo };
  readonly revocation: RevocationInfo;
  /** The time the certificate was checked at. */
  readonly verifiedAt: string;
  /** Present for CMS, XML and raw signatures. */
  readonly signature?: SignatureInfo;
  /** CMS with attached content, XML: the signed content (XML: the whole document as verified). */
  readonly content?: Uint8Array;
}

export interface InvalidResult {
  readonly valid: false;
  readonly code: VerifyErrorCode;
  readonly message: string;
  /** Structured context: for `revoked` { reason, reasonCode, revokedAt, method }; for `revocation-unavailable` { attempts }. */
  readonly detail?: Readonly<Record<string, unknown>>;
  /** The certificate concerned, when it could be read. */
  readonly certificate?: CertificateInfo;
}

export type VerificationResult = ValidResult | InvalidResult;

export interface Verifier {
  verifyCertificate(certificateDer: Uint8Array, options: CertificateCheckOptions): Promise<VerificationResult>;
  verifyCms(cmsDer: Uint8Array, options?: CmsOptions): Promise<VerificationResult>;
  verifyRawSignature(input: RawSignatureInput): Promise<VerificationResult>;
  verifyXml(xml: string, options?: CheckOptions): Promise<VerificationResult>;
}

export type { RevocationReason, VerifyErrorCode };
