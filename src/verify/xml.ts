/**
 * Enveloped XML signatures (XMLDSig) of the kind e-Tax-style filings carry: one Signature, the
 * document element's child, one Reference with URI="" (the whole document), exclusive c14n,
 * RSA-SHA256. The structure is checked here before xml-crypto checks digests and the signature,
 * which keeps signature-wrapping out: with exactly one Signature and one whole-document
 * Reference, what was signed is the document the caller holds, minus the Signature element.
 * Documents with a DOCTYPE are refused (no entities, no external anything), and so is what lies
 * outside the document element and is therefore not signed yet could change how the document is
 * read: processing instructions, and an XML declaration naming another encoding than UTF-8.
 */
import type { Element as XmlElement, Node as XmlNode } from "@xmldom/xmldom";
import { DSIG, parseStrictXml, type DigestCheck } from "./xml-digest-check.ts";
import { unsignedPrologPart } from "../profile/xml-prolog.ts";
import { checkXmlDigestsOffThread, DigestCheckUnavailable } from "./xml-digests.ts";
import { derivedOnce } from "./certificate.ts";
import { describeError, failure } from "./errors.ts";
import { certificateInfo, checkCallOptions, type VerifierCore } from "./verifier.ts";
import type { CheckOptions, HashName, VerificationResult } from "./types.ts";

const EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#";
const ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const SIGNATURE_METHODS: Readonly<Record<string, HashName>> = {
  "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256": "sha256",
  "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512": "sha512",
};
const DIGEST_METHODS: Readonly<Record<string, HashName>> = {
  "http://www.w3.org/2001/04/xmlenc#sha256": "sha256",
  "http://www.w3.org/2001/04/xmlenc#sha512": "sha512",
};
/**
 * Limits checked before xml-crypto sees the document (the element count is `limits.xmlElements`).
 * Its digest work grows with the square of the document (its XPath sorts nodes into document
 * order) and runs before the signature or the certificate can be refused: 20,000 elements took
 * 12 s. It runs in a worker with a time limit (xml-digests.ts), and these keep its cost small.
 * Its recursion fails past a few thousand levels; a return nests ten or so.
 */
const MAX_DEPTH = 100;
const MAX_ATTRIBUTES = 10_000;

function bad(message: string): never {
  return failure("malformed-input", `XML signature: ${message}`);
}

function elementChildren(node: XmlNode): XmlElement[] {
  const out: XmlElement[] = [];
  for (let c = node.firstChild; c; c = c.nextSibling) if (c.nodeType === 1) out.push(c as XmlElement);
  return out;
}

/** The element children of `parent`, checked to be XMLDSig elements named as `allowed` says, in order. */
function dsChildren(parent: XmlElement, what: string): XmlElement[] {
  const list = elementChildren(parent);
  for (const e of list) if (e.namespaceURI !== DSIG) bad(`unexpected element ${e.nodeName} in ${what}`);
  return list;
}

function only(list: XmlElement[], localName: string, what: string): XmlElement {
  const found = list.filter((e) => e.localName === localName);
  if (found.length !== 1) bad(`${what} must have exactly one ${localName}, found ${found.length}`);
  return found[0]!;
}

function algorithmOf(e: XmlElement): string {
  return e.getAttribute("Algorithm") ?? "";
}

/** Refuses (malformed-input, naming the limit) a document too large in elements, depth or attributes; iterative, so depth cannot overflow the stack. */
function checkSize(root: XmlElement, maxElements: number): void {
  let elements = 0;
  let attributes = 0;
  const stack: [XmlElement, number][] = [[root, 1]];
  while (stack.length > 0) {
    const [element, depth] = stack.pop()!;
    elements += 1;
    attributes += element.attributes.length;
    if (elements > maxElements) failure("malformed-input", `XML has more than ${maxElements} elements`, { limit: maxElements });
    if (depth > MAX_DEPTH) failure("malformed-input", `XML nests elements more than ${MAX_DEPTH} deep`, { limit: MAX_DEPTH });
    if (attributes > MAX_ATTRIBUTES) failure("malformed-input", `XML has more than ${MAX_ATTRIBUTES} attributes and namespace declarations`, { limit: MAX_ATTRIBUTES });
    for (let c = element.firstChild; c; c = c.nextSibling) if (c.nodeType === 1) stack.push([c as XmlElement, depth + 1]);
  }
}

export async function verifyXml(core: VerifierCore, xml: string, options?: CheckOptions): Promise<VerificationResult> {
  const { expectedType, at } = checkCallOptions(options, "sign", "verifyXml");
  if (typeof xml !== "string") throw new TypeError("verifyXml: xml must be a string");
  return core.run(async (state) => {
    if (xml.length > core.limits.xmlChars) failure("malformed-input", `XML larger than ${core.limits.xmlChars} characters`, { limit: core.limits.xmlChars });
    if (/<!DOCTYPE|<!ENTITY/i.test(xml)) bad("documents with a DOCTYPE or entity declarations are not accepted");

    let doc: ReturnType<typeof parseStrictXml>;
    try {
      doc = parseStrictXml(xml);
    } catch (error) {
      return bad(`not well-formed XML: ${describeError(error)}`);
    }
    const root = doc.documentElement;
    if (!root) bad("no document element");
    checkSize(root, core.limits.xmlElements);
    // Outside the document element and so not signed (src/profile/xml-prolog.ts). The parser has checked the declaration's form.
    const unsigned = unsignedPrologPart(doc);
    if (unsigned && "instruction" in unsigned) bad(`a processing instruction <?${unsigned.instruction} …?> outside the document element is not covered by the signature`);
    if (unsigned && "encoding" in unsigned) {
      failure("malformed-input", `XML signature: the XML declaration names encoding ${unsigned.encoding}; only UTF-8 is accepted (the declaration is not signed)`, { encoding: unsigned.encoding });
    }

    // Exactly one Signature, directly under the document element.
    const signatures = doc.getElementsByTagNameNS(DSIG, "Signature");
    if (signatures.length !== 1) bad(`expected exactly one ds:Signature, found ${signatures.length}`);
    const signature = signatures.item(0)!;
    if (signature.parentNode !== root) bad("the Signature must be a child of the document element (enveloped)");

    const parts = dsChildren(signature, "Signature");
    const signedInfo = only(parts, "SignedInfo", "Signature");
    // The value reported is the one verified: xml-crypto takes the first text node of the first
    // element named SignatureValue (in any namespace) in the Signature, and decodes it leniently.
    // So there must be no other such element (in KeyInfo, say), and this one must be one text of
    // base64 (whitespace allowed, as in base64Binary).
    const signatureValueEl = only(parts, "SignatureValue", "Signature");
    if (Array.from(signature.getElementsByTagName("*")).filter((e) => e.localName === "SignatureValue").length !== 1) {
      bad("the Signature may hold only one element named SignatureValue");
    }
    const valueText = signatureValueEl.firstChild;
    if (!valueText || valueText.nodeType !== 3 || valueText.nextSibling) bad("SignatureValue must hold only its base64 text");
    const signatureValue = (valueText.nodeValue ?? "").replace(/\s+/g, "");
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(signatureValue)) bad("SignatureValue is not base64");
    if (parts.some((e) => !["SignedInfo", "SignatureValue", "KeyInfo"].includes(e.localName ?? ""))) {
      bad("the Signature may hold only SignedInfo, SignatureValue and KeyInfo (no unsigned Objects)");
    }

    // SignedInfo: algorithms and the single whole-document Reference.
    const si = dsChildren(signedInfo, "SignedInfo");
    const c14n = algorithmOf(only(si, "CanonicalizationMethod", "SignedInfo"));
    if (c14n !== EXC_C14N) failure("unsupported-algorithm", `XML canonicalisation ${c14n} is not accepted; use exclusive c14n (${EXC_C14N})`, { algorithm: c14n });
    const sigMethod = algorithmOf(only(si, "SignatureMethod", "SignedInfo"));
    const sigHash = SIGNATURE_METHODS[sigMethod];
    if (!sigHash) failure("unsupported-algorithm", `XML signature method ${sigMethod} is not accepted; use RSA-SHA256`, { algorithm: sigMethod });
    const reference = only(si, "Reference", "SignedInfo");
    if (si.some((e) => !["CanonicalizationMethod", "SignatureMethod", "Reference"].includes(e.localName ?? ""))) bad("unexpected element in SignedInfo");
    if (reference.getAttribute("URI") !== "") bad('the Reference must cover the whole document (URI="")');
    const refParts = dsChildren(reference, "Reference");
    const transformsEl = refParts.filter((e) => e.localName === "Transforms");
    const transforms = transformsEl.length === 1 ? dsChildren(transformsEl[0]!, "Transforms").map(algorithmOf) : [];
    if (!transforms.includes(ENVELOPED)) bad("the Reference must use the enveloped-signature transform");
    // Each transform re-serialises the whole document: enveloped and exclusive c14n, once each.
    if (transforms.length > 2 || new Set(transforms).size !== transforms.length) bad("the Reference may list the enveloped-signature and exclusive c14n transforms, each once");
    for (const t of transforms) {
      if (t !== ENVELOPED && t !== EXC_C14N) failure("unsupported-algorithm", `XML transform ${t} is not accepted`, { algorithm: t });
    }
    const digestMethod = algorithmOf(only(refParts, "DigestMethod", "Reference"));
    if (!DIGEST_METHODS[digestMethod]) failure("unsupported-algorithm", `XML digest method ${digestMethod} is not accepted; use SHA-256`, { algorithm: digestMethod });

    // The signer's certificate, from KeyInfo/X509Data.
    const keyInfo = parts.find((e) => e.localName === "KeyInfo");
    const certEls = keyInfo ? Array.from(keyInfo.getElementsByTagNameNS(DSIG, "X509Certificate")) : [];
    if (certEls.length === 0) bad("no KeyInfo/X509Data/X509Certificate");
    const b64 = (certEls[0]!.textContent ?? "").replace(/\s+/g, "");
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) bad("X509Certificate is not base64");
    const cert = core.certificates.get(new Uint8Array(Buffer.from(b64, "base64")), "the KeyInfo certificate");
    state.certificate = certificateInfo(cert);
    if (cert.publicKey.asymmetricKeyType !== "rsa") failure("unsupported-algorithm", "the signer's key is not RSA");

    // Digests and signature, by xml-crypto in the digest worker (off the event loop, within a time
    // limit), with the key we just read (never a key xml-crypto finds itself).
    // The key as SPKI PEM, from the key our own parser read: OpenSSL's certificate parser (which
    // a certificate PEM would go through again) refuses some certificates ours accepts, such as
    // one with a byte of bad UTF-8 in its subject, and must not decide what is verified.
    const pem = derivedOnce(cert, "spki-pem", () => cert.publicKey.export({ type: "spki", format: "pem" }).toString());
    let digests: DigestCheck;
    try {
      digests = await checkXmlDigestsOffThread(xml, pem, core.limits.xmlMillis);
    } catch (error) {
      if (error instanceof DigestCheckUnavailable) failure("malformed-input", `XML signature: ${error.message}`, { limit: core.limits.xmlMillis });
      throw error;
    }
    if (!digests.ok || digests.references !== 1) {
      failure("bad-signature", `the XML signature does not verify: ${digests.why || "the digest or the signature value does not match"}`, { target: "document" });
    }

    const checked = await core.checkCertificate(cert, expectedType, at, state);
    return core.result(checked, { format: "xml", digestAlgorithm: sigHash, value: new Uint8Array(Buffer.from(signatureValue, "base64")) });
  });
}
