/**
 * Enveloped XML signatures (XMLDSig) made with a key held elsewhere — on a My Number Card — of
 * the shape e-Tax-style filings carry and `src/verify` accepts: one `ds:Signature` appended to
 * the document element, RSA-SHA256, exclusive c14n, one `Reference URI=""` with the
 * enveloped-signature transform and SHA-256, the signer's certificate in KeyInfo/X509Data.
 *
 * xml-crypto builds the Signature element, canonicalises SignedInfo and computes the digest; the
 * signature value comes from an async {@link ExternalXmlSigner} through xml-crypto's supported
 * asynchronous-signing hook (a custom SignatureAlgorithm registered under the rsa-sha256 URI,
 * called with an error-first callback). The value is checked against the certificate's public
 * key before the document is handed out.
 */
import { createHash, verify, X509Certificate } from "node:crypto";
import { DOMParser } from "@xmldom/xmldom";
import { SignedXml, type SignatureAlgorithm } from "xml-crypto";
import { unsignedPrologPart } from "../profile/xml-prolog.ts";

export const XMLDSIG_NS = "http://www.w3.org/2000/09/xmldsig#";
export const RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
export const EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#";
export const ENVELOPED_SIGNATURE = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
export const SHA256_DIGEST = "http://www.w3.org/2001/04/xmlenc#sha256";

/** Largest document accepted (characters), as the verifier's default. */
export const MAX_XML_CHARS = 4 * 1024 * 1024;

/**
 * Signs the canonical SignedInfo with RSA PKCS#1 v1.5 and SHA-256. `digest` is SHA-256 of
 * `signedInfo`, for a signer (such as a card) that takes a prehashed DigestInfo. Returns the raw
 * signature bytes.
 */
export type ExternalXmlSigner = (input: { signedInfo: Uint8Array; digest: Uint8Array; hash: "sha256" }) => Promise<Uint8Array>;

export interface XmlSignRequest {
  /** The document to sign (UTF-8 text; no DOCTYPE; not already signed). */
  xml: string;
  /** The signer's certificate (DER), written into KeyInfo and used to check the signature value. */
  certificateDer: Uint8Array;
  signer: ExternalXmlSigner;
}

export class XmlSignError extends Error {
  override readonly name = "XmlSignError";
  constructor(
    readonly code: "invalid-argument" | "malformed-xml" | "bad-signature",
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Throws {@link XmlSignError} unless `xml` is a document this module signs (call it before asking
 * for a PIN): well-formed, no DOCTYPE, not yet signed, UTF-8 (if the declaration names an
 * encoding) and no processing instruction outside the document element.
 */
export function checkXmlForSigning(xml: string): void {
  if (typeof xml !== "string") throw new XmlSignError("invalid-argument", "xml must be a string");
  if (xml.length > MAX_XML_CHARS) throw new XmlSignError("invalid-argument", `XML larger than ${MAX_XML_CHARS} characters`);
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) throw new XmlSignError("malformed-xml", "documents with a DOCTYPE or entity declarations are not signed");
  let doc;
  try {
    doc = new DOMParser({
      onError: (level, message) => {
        if (level !== "warning") throw new Error(message);
      },
    }).parseFromString(xml, "text/xml");
  } catch (error) {
    throw new XmlSignError("malformed-xml", `not well-formed XML: ${(error as Error).message}`, { cause: error });
  }
  if (!doc.documentElement) throw new XmlSignError("malformed-xml", "no document element");
  // Outside the document element and so outside this signature (src/profile/xml-prolog.ts).
  const unsigned = unsignedPrologPart(doc);
  if (unsigned && "encoding" in unsigned) throw new XmlSignError("malformed-xml", `the XML declaration names encoding ${unsigned.encoding}: only UTF-8 documents are signed`);
  if (unsigned) throw new XmlSignError("malformed-xml", `a processing instruction outside the document element (<?${unsigned.instruction} …?>) cannot be signed`);
  if (doc.getElementsByTagNameNS(XMLDSIG_NS, "Signature").length > 0) {
    throw new XmlSignError("malformed-xml", "the document already holds a ds:Signature (one enveloped signature per document)");
  }
}

/** Signs `xml` with an enveloped signature; resolves to the signed document. */
export async function signXmlEnveloped(request: XmlSignRequest): Promise<string> {
  checkXmlForSigning(request.xml);
  if (!(request.certificateDer instanceof Uint8Array)) throw new XmlSignError("invalid-argument", "certificateDer must be a Uint8Array");
  if (typeof request.signer !== "function") throw new XmlSignError("invalid-argument", "signer must be a function");
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(request.certificateDer);
  } catch (error) {
    throw new XmlSignError("invalid-argument", `certificateDer is not an X.509 certificate: ${(error as Error).message}`, { cause: error });
  }
  if (certificate.publicKey.asymmetricKeyType !== "rsa") throw new XmlSignError("invalid-argument", "the signer's key is not RSA");
  const external = request.signer;

  // The hook xml-crypto calls with the canonical SignedInfo; the callback form keeps it async.
  class ExternalRsaSha256 {
    getSignature(signedInfo: string | Uint8Array, _key: unknown, callback?: (error: Error | null, value?: string) => void): void {
      if (typeof callback !== "function") throw new Error("this signature algorithm signs asynchronously only");
      const bytes = typeof signedInfo === "string" ? new Uint8Array(Buffer.from(signedInfo, "utf8")) : signedInfo;
      const digest = new Uint8Array(createHash("sha256").update(bytes).digest());
      external({ signedInfo: bytes, digest, hash: "sha256" }).then(
        (signature) => {
          if (!(signature instanceof Uint8Array) || !verify("sha256", bytes, certificate.publicKey, signature)) {
            callback(new XmlSignError("bad-signature", "the signature value does not verify with the certificate's public key (wrong key or corrupted signature)"));
            return;
          }
          callback(null, Buffer.from(signature).toString("base64"));
        },
        (error: unknown) => callback(error instanceof Error ? error : new Error(String(error))),
      );
    }
    verifySignature(): boolean {
      throw new Error("not for verification");
    }
    getAlgorithmName(): string {
      return RSA_SHA256;
    }
  }

  const signed = new SignedXml({
    // xml-crypto insists on a key being present; the registered algorithm never uses it.
    privateKey: Buffer.from("external signer"),
    publicCert: certificate.toString(),
    signatureAlgorithm: RSA_SHA256,
    canonicalizationAlgorithm: EXC_C14N,
  });
  signed.SignatureAlgorithms[RSA_SHA256] = ExternalRsaSha256 as unknown as new () => SignatureAlgorithm;
  signed.addReference({
    xpath: "/*",
    transforms: [ENVELOPED_SIGNATURE, EXC_C14N],
    digestAlgorithm: SHA256_DIGEST,
    isEmptyUri: true,
  });
  await new Promise<void>((resolve, reject) => {
    try {
      signed.computeSignature(request.xml, { location: { reference: "/*", action: "append" } }, (error) => (error ? reject(error) : resolve()));
    } catch (error) {
      reject(error);
    }
  });
  return signed.getSignedXml();
}
