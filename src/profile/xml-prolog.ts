/** A DOM node as the prolog check walks it (xmldom's, structurally). */
interface PrologNode {
  readonly nodeType: number;
  readonly nodeName: string;
  readonly nextSibling: PrologNode | null;
}

/**
 * What lies beside an XML document's element and so is outside an enveloped signature over it
 * (xml-crypto digests the document element; XMLDSig's URI="" would cover the rest, so xmlsec1
 * refuses such a document): a processing instruction (an xml-stylesheet deciding how a return is
 * shown), or an XML declaration naming an encoding other than UTF-8 (a reader following it would
 * read other characters than were signed). xmldom keeps the declaration as a node named "xml".
 * Both the signer (src/pki/xml-signature.ts) and the verifier (src/verify/xml.ts) refuse these;
 * each says so in its own words. Names are cut to 40 characters.
 */
export function unsignedPrologPart(doc: { readonly firstChild: PrologNode | null }): { instruction: string } | { encoding: string } | undefined {
  for (let node = doc.firstChild; node; node = node.nextSibling) {
    if (node.nodeType !== 7) continue;
    if (node.nodeName !== "xml") return { instruction: node.nodeName.slice(0, 40) };
    const encoding = /\bencoding\s*=\s*["']([^"']*)["']/.exec((node as unknown as { data: string }).data)?.[1];
    if (encoding !== undefined && encoding.toUpperCase() !== "UTF-8") return { encoding: encoding.slice(0, 40) };
  }
  return undefined;
}
