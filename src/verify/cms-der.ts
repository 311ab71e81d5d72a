/**
 * The fast path for CMS SignedData: a strict DER walk (src/profile/der-reader.ts) that slices the
 * parts the verifier needs out of the input without building a tree. A generic parser spent more
 * time on the ContentInfo (and on the certificate inside it, decoded again for nothing) than the
 * RSA verification took. Anything that is not strict DER throws `DerReadError`; the caller then
 * gives the input to the BER reader (cms-ber.ts), so BER producers are served as before. A
 * ContentInfo that is not a SignedData is `malformed-input` at once, as in the BER reader.
 */
import { DerCursor, DerReadError, TAG, contentOf, encodingOf } from "../profile/der-reader.ts";
import { integerContent, oidText, stripLeadingZeros } from "../profile/der-values.ts";
import { readAlgorithmOid } from "./der.ts";
import { CMS_OID, badCms, type SignedAttribute, type SignedDataParts, type SignerParts } from "./cms-parts.ts";

/** [0] IMPLICIT SubjectKeyIdentifier: a primitive context tag. */
const SID_KEY_ID = 0x80;
/** Most SignerInfos read (a verification accepts one; more are only counted). */
const MAX_SIGNERS = 16;

export function readSignedDataDer(der: Uint8Array): SignedDataParts {
  const info = DerCursor.only(der, TAG.SEQUENCE, "ContentInfo");
  if (oidText(der, info.next(TAG.OID, "contentType")) !== CMS_OID.signedData) badCms("not a SignedData");
  const wrapped = info.enter(TAG.CONTEXT_0, "content");
  info.end();
  const sd = wrapped.enter(TAG.SEQUENCE, "SignedData");
  wrapped.end();

  sd.skip(TAG.INTEGER, "version");
  sd.skip(TAG.SET, "digestAlgorithms");
  const encap = sd.enter(TAG.SEQUENCE, "encapContentInfo");
  const eContentType = oidText(der, encap.next(TAG.OID, "eContentType"));
  let content: Uint8Array | undefined;
  const eWrapped = encap.optional(TAG.CONTEXT_0, "eContent");
  if (eWrapped) {
    const inner = encap.into(eWrapped, "eContent");
    content = contentOf(der, inner.next(TAG.OCTET_STRING, "eContent"));
    inner.end();
  }
  encap.end();

  const certificates: Uint8Array[] = [];
  const certs = sd.optional(TAG.CONTEXT_0, "certificates");
  if (certs) {
    const list = sd.into(certs, "certificates");
    // Other CertificateChoices (attribute certificates, "other") are skipped, as they name no signer.
    while (!list.done) {
      const c = list.any("certificate");
      if (c.tag === TAG.SEQUENCE) certificates.push(encodingOf(der, c));
    }
  }
  sd.optional(TAG.CONTEXT_1, "crls"); // not used: revocation comes from the verifier's OCSP/CRL sources
  const infos = sd.enter(TAG.SET, "signerInfos");
  sd.end();
  const signers: SignerParts[] = [];
  while (!infos.done) {
    if (signers.length >= MAX_SIGNERS) throw new DerReadError("too many SignerInfos");
    signers.push(readSigner(infos.enter(TAG.SEQUENCE, "SignerInfo")));
  }
  return { eContentType, ...(content ? { content } : {}), certificates, signers };
}

/** One SignerInfo, `f` a cursor over its fields. */
function readSigner(f: DerCursor): SignerParts {
  const der = f.bytes;
  f.skip(TAG.INTEGER, "version");
  let sid: SignerParts["sid"];
  if (f.peekTag() === SID_KEY_ID) {
    sid = { keyId: contentOf(der, f.next(SID_KEY_ID, "subjectKeyIdentifier")) };
  } else {
    const ias = f.enter(TAG.SEQUENCE, "issuerAndSerialNumber");
    const issuerDer = encodingOf(der, ias.next(TAG.SEQUENCE, "issuer"));
    const serial = stripLeadingZeros(integerContent(der, ias.next(TAG.INTEGER, "serialNumber")));
    ias.end();
    sid = { issuerDer, serial };
  }
  const digestAlgorithm = readAlgorithmOid(f, "digestAlgorithm");
  let signedAttrs: SignerParts["signedAttrs"];
  const attrs = f.optional(TAG.CONTEXT_0, "signedAttrs");
  if (attrs) {
    const attributes: SignedAttribute[] = [];
    const list = f.into(attrs, "signedAttrs");
    while (!list.done) {
      const a = list.enter(TAG.SEQUENCE, "Attribute");
      const type = oidText(der, a.next(TAG.OID, "attrType"));
      const set = a.enter(TAG.SET, "attrValues");
      a.end();
      const values: Uint8Array[] = [];
      while (!set.done) values.push(encodingOf(der, set.any("attribute value")));
      attributes.push({ type, values });
    }
    // The signature covers the attributes as a SET OF: the same bytes with the universal tag.
    const signed = der.slice(attrs.start, attrs.end);
    signed[0] = TAG.SET;
    signedAttrs = { der: signed, attributes };
  }
  const signatureAlgorithm = readAlgorithmOid(f, "signatureAlgorithm");
  const signature = contentOf(der, f.next(TAG.OCTET_STRING, "signature"));
  f.optional(0xa1, "unsignedAttrs");
  f.end();
  return { sid, digestAlgorithm, ...(signedAttrs ? { signedAttrs } : {}), signatureAlgorithm, signature };
}
