/**
 * The general path for CMS SignedData: parsed with asn1js, which accepts BER (producers that
 * stream CMS write indefinite lengths and chunked OCTET STRINGs), within node and depth limits.
 * Used when the strict DER reader (cms-der.ts) refuses the input; gives the same parts.
 */
import * as asn1js from "asn1js";
import { CMS_OID, badCms as bad, type SignedDataParts, type SignerParts } from "./cms-parts.ts";
import { stripLeadingZeros } from "../profile/der-values.ts";
import { readTlv } from "../profile/der-reader.ts";
import { u8 } from "./der.ts";
import { describeError } from "./errors.ts";

type Block = asn1js.AsnType;

function isUniversal(b: Block | undefined, tag: number): b is Block {
  return b !== undefined && b.idBlock.tagClass === 1 && b.idBlock.tagNumber === tag;
}
function isContext(b: Block | undefined, tag: number): b is Block {
  return b !== undefined && b.idBlock.tagClass === 3 && b.idBlock.tagNumber === tag;
}
function items(b: Block, what: string): Block[] {
  const v = (b.valueBlock as { value?: unknown }).value;
  if (!b.idBlock.isConstructed || !Array.isArray(v)) bad(`${what} is not constructed`);
  return v as Block[];
}
function seq(b: Block | undefined, what: string): Block[] {
  if (!isUniversal(b, 16)) bad(`${what} is not a SEQUENCE`);
  return items(b, what);
}
function set(b: Block | undefined, what: string): Block[] {
  if (!isUniversal(b, 17)) bad(`${what} is not a SET`);
  return items(b, what);
}
function oid(b: Block | undefined, what: string): string {
  if (!(b instanceof asn1js.ObjectIdentifier)) bad(`${what} is not an OBJECT IDENTIFIER`);
  return b.getValue();
}
function octets(b: Block | undefined, what: string): Uint8Array {
  if (!(b instanceof asn1js.OctetString)) bad(`${what} is not an OCTET STRING`);
  return u8(b.getValue());
}
/** The exact encoding of a block as it appeared in the input. */
function encoding(b: Block): Uint8Array {
  return b.valueBeforeDecodeView;
}
function algorithm(b: Block | undefined, what: string): string {
  return oid(seq(b, what)[0], `${what} algorithm`);
}

function readSigner(b: Block): SignerParts {
  const f = seq(b, "SignerInfo");
  let i = 1; // after version
  const sidBlock = f[i++];
  let sid: SignerParts["sid"];
  if (isUniversal(sidBlock, 16)) {
    const [issuer, serial] = items(sidBlock, "issuerAndSerialNumber");
    if (!isUniversal(issuer, 16) || !(serial instanceof asn1js.Integer)) bad("malformed issuerAndSerialNumber");
    sid = { issuerDer: encoding(issuer), serial: stripLeadingZeros(u8(serial.valueBlock.valueHexView)) };
  } else if (isContext(sidBlock, 0)) {
    // [0] IMPLICIT SubjectKeyIdentifier: an OCTET STRING's content, primitive here too (a
    // constructed or indefinite-length one is not read as a key id).
    const raw = encoding(sidBlock);
    let t;
    try {
      t = readTlv(raw, 0);
    } catch {
      return bad("subjectKeyIdentifier is not a primitive definite-length [0]");
    }
    if ((raw[0]! & 0x20) !== 0) bad("subjectKeyIdentifier is not a primitive definite-length [0]");
    sid = { keyId: raw.slice(t.contentStart, t.end) };
  } else return bad("unknown SignerIdentifier");
  const digestAlgorithm = algorithm(f[i++], "digestAlgorithm");
  let signedAttrs: SignerParts["signedAttrs"];
  if (isContext(f[i], 0)) {
    const block = f[i++]!;
    const raw = encoding(block);
    if (raw[1] === 0x80) bad("signedAttrs must be DER (definite length)");
    const der = raw.slice();
    der[0] = 0x31; // the signature covers the attributes as a SET OF
    const attributes = items(block, "signedAttrs").map((a) => {
      const [type, values] = seq(a, "Attribute");
      return { type: oid(type, "attribute type"), values: set(values, "attribute values").map(encoding) };
    });
    signedAttrs = { der, attributes };
  }
  const signatureAlgorithm = algorithm(f[i++], "signatureAlgorithm");
  const signature = octets(f[i++], "signature");
  return { sid, digestAlgorithm, ...(signedAttrs ? { signedAttrs } : {}), signatureAlgorithm, signature };
}

export function readSignedDataBer(cmsDer: Uint8Array): SignedDataParts {
  let top: Block;
  // Checked first: on other bytes (PEM, XML, a PDF) the parser's own complaint says nothing useful.
  if (cmsDer[0] !== 0x30) return bad("not a BER/DER ContentInfo: it does not begin with a SEQUENCE (is it PEM, or not CMS at all?)");
  try {
    const parsed = asn1js.fromBER(cmsDer, { maxNodes: 20_000, maxDepth: 64, parseEmbedded: false });
    if (parsed.offset === -1 || parsed.result.error) throw new Error(parsed.result.error || "not BER");
    if (parsed.offset !== cmsDer.length) throw new Error("trailing bytes after the ContentInfo");
    top = parsed.result;
  } catch (error) {
    return bad(`not a BER/DER ContentInfo: ${describeError(error)}`);
  }

  // ContentInfo → SignedData
  const [ctype, wrapped] = seq(top, "ContentInfo");
  if (oid(ctype, "contentType") !== CMS_OID.signedData) bad("not a SignedData");
  if (!isContext(wrapped, 0)) bad("ContentInfo has no content");
  const sd = seq(items(wrapped, "content")[0], "SignedData");
  let i = 1; // version
  set(sd[i++], "digestAlgorithms");
  const [eType, eWrapped] = seq(sd[i++], "encapContentInfo");
  const eContentType = oid(eType, "eContentType");
  let content: Uint8Array | undefined;
  if (eWrapped !== undefined) {
    if (!isContext(eWrapped, 0)) bad("malformed eContent");
    content = octets(items(eWrapped, "eContent")[0], "eContent");
  }
  const certificates: Uint8Array[] = [];
  if (isContext(sd[i], 0)) {
    for (const c of items(sd[i++]!, "certificates")) if (isUniversal(c, 16)) certificates.push(encoding(c));
  }
  if (isContext(sd[i], 1)) i++; // crls: not used (revocation comes from OCSP/CRL sources)
  const signerInfos = set(sd[i], "signerInfos");
  if (signerInfos.length !== 1) bad(`expected exactly one signer, found ${signerInfos.length}`);
  return { eContentType, ...(content ? { content } : {}), certificates, signers: signerInfos.map(readSigner) };
}
