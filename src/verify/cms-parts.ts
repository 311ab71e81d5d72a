/**
 * A CMS SignedData (RFC 5652 §5) reduced to what the verifier checks, whichever reader produced
 * it: the strict DER reader (cms-der.ts, the fast path) or the generic BER reader (cms-ber.ts,
 * for producers that stream CMS with indefinite lengths). Byte fields are exact slices of the
 * input: what was signed is compared and hashed as it was sent.
 */
import { failure } from "./errors.ts";

export const CMS_OID = {
  signedData: "1.2.840.113549.1.7.2",
  data: "1.2.840.113549.1.7.1",
  contentType: "1.2.840.113549.1.9.3",
  messageDigest: "1.2.840.113549.1.9.4",
  signingTime: "1.2.840.113549.1.9.5",
  rsaEncryption: "1.2.840.113549.1.1.1",
} as const;

/** A CMS input that is well-formed ASN.1 but not what a verifiable SignedData must be. */
export function badCms(message: string): never {
  return failure("malformed-input", `CMS: ${message}`);
}

export interface SignedAttribute {
  /** The attribute type, dotted. */
  readonly type: string;
  /** Each value's whole DER encoding (tag, length, content). */
  readonly values: readonly Uint8Array[];
}

export interface SignerParts {
  readonly sid: { readonly issuerDer: Uint8Array; readonly serial: Uint8Array } | { readonly keyId: Uint8Array };
  /** digestAlgorithm, dotted. */
  readonly digestAlgorithm: string;
  /** The signed attributes as signed: their DER with the SET OF tag (0x31), and each attribute read. */
  readonly signedAttrs?: { readonly der: Uint8Array; readonly attributes: readonly SignedAttribute[] };
  /** signatureAlgorithm, dotted. */
  readonly signatureAlgorithm: string;
  readonly signature: Uint8Array;
}

export interface SignedDataParts {
  /** encapContentInfo's eContentType, dotted. */
  readonly eContentType: string;
  /** The encapsulated content, when attached. */
  readonly content?: Uint8Array;
  /** Every certificate in the certificates field, as its exact DER. */
  readonly certificates: readonly Uint8Array[];
  readonly signers: readonly SignerParts[];
}
