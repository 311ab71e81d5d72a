import { DOMParser } from "@xmldom/xmldom";
import { SignedXml } from "xml-crypto";

export const DSIG = "http://www.w3.org/2000/09/xmldsig#";

/** Parse `xml`, throwing on any error or fatal error (xmldom only reports them otherwise). */
export function parseStrictXml(xml: string): ReturnType<DOMParser["parseFromString"]> {
  return new DOMParser({
    onError: (level, message) => {
      if (level !== "warning") throw new Error(message);
    },
  }).parseFromString(xml, "text/xml");
}

/** What xml-crypto says of a document's one enveloped signature. */
export interface DigestCheck {
  ok: boolean;
  /** Why not, when not. */
  why: string;
  /** How many references xml-crypto checked (the caller requires exactly one). */
  references: number;
}

/**
 * Digests and signature value of a document whose structure the caller has already checked
 * (exactly one ds:Signature, enveloped, one whole-document Reference), by xml-crypto, with the
 * key the caller read (never one xml-crypto finds itself). Runs in the digest worker: its cost
 * grows with the square of the document, and must not hold the server's event loop.
 */
export function checkXmlDigests(xml: string, publicKeyPem: string): DigestCheck {
  try {
    const doc = parseStrictXml(xml);
    const signature = doc.getElementsByTagNameNS(DSIG, "Signature").item(0);
    if (!signature) return { ok: false, why: "no ds:Signature", references: 0 };
    const signed = new SignedXml({ publicCert: publicKeyPem, getCertFromKeyInfo: () => null });
    signed.loadSignature(signature as unknown as Parameters<SignedXml["loadSignature"]>[0]);
    const ok = signed.checkSignature(xml);
    return { ok, why: ok ? "" : "the digest or the signature value does not match", references: signed.getSignedReferences().length };
  } catch (error) {
    return { ok: false, why: error instanceof Error ? error.message : String(error), references: 0 };
  }
}
