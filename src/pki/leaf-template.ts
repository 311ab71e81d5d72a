/**
 * The JPKI leaf as a DER template, for the issuance hot path.
 *
 * Building a leaf with the ASN.1 library costs 0.7–1 ms of JavaScript (measured), three times
 * the RSA signature. Almost all of a leaf is the same for every certificate of one CA, so it is
 * encoded once, with the library, when the template is made (issuer name, algorithm, keyUsage,
 * certificatePolicies, issuerAltName, authorityInfoAccess, authorityKeyIdentifier) or once per
 * municipality (the signing subject's L= RDNs and the CRL distribution point). Per certificate,
 * only serial, validity, the subject CN, the SubjectPublicKeyInfo, the subjectKeyIdentifier and
 * the signing certificate's personal-data otherNames are written, with the bounded DerWriter.
 *
 * `leafTemplate` in jpki-profile.ts is the readable definition of the same profile; the tests
 * prove the two byte-identical over many residents and both CA types.
 */
import { createHash, type KeyObject } from "node:crypto";
import { TAG } from "../profile/der-reader.ts";
import { DerWriter, concat, contextTag, oid } from "./der.ts";
import { nameDer } from "./asn1.ts";
import { keyIdentifier, SHA256_WITH_RSA_DER, type ExtensionSpec } from "./certificate.ts";
import {
  authorityKeyIdentifierExtension,
  caName,
  leafAuthorityInfoAccess,
  leafCrlDistributionPoints,
  leafIssuerAltName,
  leafKeyUsage,
  leafPolicies,
  leafSubject,
  type CaNaming,
  type CaType,
  type LeafUrls,
} from "./jpki-profile.ts";
import type { SubjectPublicKey } from "./leaf-public-key.ts";
import { PERSONAL_DATA_OID } from "../profile/oids.ts";

export interface LeafAuthority {
  type: CaType;
  naming: CaNaming;
  issuerPublicKey: KeyObject;
  /** The CA-wide URLs; the CRL URL is per municipality and comes with each certificate. */
  urls: Omit<LeafUrls, "crl">;
}

export interface LeafFields {
  /** Unsigned big-endian, positive and minimal (as `randomSerial()` makes them), at most 20 bytes. */
  serial: Uint8Array;
  subjectCn: string;
  notBefore: Date;
  notAfter: Date;
  municipality: { prefectureRomaji: string; cityRomaji: string };
  /** Where the municipality's CRL partition is served. */
  crlUrl: string;
  subjectPublicKey: SubjectPublicKey;
  /** Signing certificates only: the six personal-data otherNames, in the card's order. */
  otherNames?: ReadonlyArray<{ oid: string; value: string }>;
}

/** What one leaf may hold. Inputs beyond these are refused before anything is written. */
export const LEAF_LIMITS = {
  /** The whole TBSCertificate: a signing certificate with the longest attributes and an RSA-4096 key stays under 5 KB. */
  maxTbsBytes: 8192,
  /** RFC 5280 §4.1.2.2. */
  maxSerialBytes: 20,
  /** RFC 5280 ub-common-name. */
  maxCommonNameLength: 64,
  /** UTF-16 units of one otherName value (names are ≤ 100 characters, addresses ≤ 200). */
  maxOtherNameLength: 300,
  /** Municipality parts kept encoded (Japan has about 1,750 municipalities). */
  maxCachedMunicipalities: 4096,
} as const;

const VERSION_3 = Uint8Array.of(0xa0, 0x03, 0x02, 0x01, 0x02);
const OID_COMMON_NAME = oid("2.5.4.3");
const OID_SUBJECT_ALT_NAME = oid("2.5.29.17");
const OID_SUBJECT_KEY_IDENTIFIER = oid("2.5.29.14");
const UTF8_STRING = 0x0c;
const PERSONAL_DATA_OID_DER = new Map(Object.values(PERSONAL_DATA_OID).map((dotted) => [dotted as string, oid(dotted)]));
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f]/;

interface MunicipalityParts {
  /** The subject's RDNs before the CN (C, or C, L, L). */
  subjectPrefix: Uint8Array;
  /** The whole cRLDistributionPoints Extension. */
  crlDistributionPoints: Uint8Array;
}

/** One CA's leaf template. Encoding is synchronous and allocates one buffer per certificate. */
export class LeafTemplate {
  readonly type: CaType;
  readonly #naming: CaNaming;
  readonly #algorithmAndIssuer: Uint8Array;
  readonly #keyUsage: Uint8Array;
  /** certificatePolicies and issuerAltName: between the SAN and the CRL distribution point. */
  readonly #policiesAndIssuerAltName: Uint8Array;
  /** authorityInfoAccess and authorityKeyIdentifier: between the CRL distribution point and the SKI. */
  readonly #accessAndAuthorityKey: Uint8Array;
  readonly #municipalities = new Map<string, MunicipalityParts>();

  constructor(authority: LeafAuthority) {
    this.type = authority.type;
    this.#naming = authority.naming;
    this.#algorithmAndIssuer = concat([SHA256_WITH_RSA_DER, nameDer(caName(authority.type, authority.naming))]);
    this.#keyUsage = extensionDer(leafKeyUsage(authority.type));
    this.#policiesAndIssuerAltName = concat([
      extensionDer(leafPolicies(authority.type, authority.urls.cps)),
      extensionDer(leafIssuerAltName(authority.type, authority.naming)),
    ]);
    this.#accessAndAuthorityKey = concat([
      extensionDer(leafAuthorityInfoAccess(authority.urls)),
      extensionDer(authorityKeyIdentifierExtension(keyIdentifier(authority.issuerPublicKey))),
    ]);
  }

  /** The TBSCertificate DER of one leaf; throws TypeError or RangeError for fields outside the limits. */
  tbsCertificate(fields: LeafFields): Uint8Array {
    checkFields(this.type, fields);
    const municipality = this.#partsFor(fields.municipality, fields.crlUrl);
    const w = new DerWriter(LEAF_LIMITS.maxTbsBytes);
    w.open(TAG.SEQUENCE).raw(VERSION_3).element(TAG.INTEGER, fields.serial).raw(this.#algorithmAndIssuer);
    w.open(TAG.SEQUENCE).time(fields.notBefore).time(fields.notAfter).close();
    w.open(TAG.SEQUENCE).raw(municipality.subjectPrefix);
    w.open(TAG.SET).open(TAG.SEQUENCE).raw(OID_COMMON_NAME).string(UTF8_STRING, fields.subjectCn).close().close();
    w.close();
    w.raw(fields.subjectPublicKey.der);
    w.open(contextTag(3, true)).open(TAG.SEQUENCE);
    w.raw(this.#keyUsage);
    if (fields.otherNames) writePersonalDataAltName(w, fields.otherNames);
    w.raw(this.#policiesAndIssuerAltName).raw(municipality.crlDistributionPoints).raw(this.#accessAndAuthorityKey);
    const keyId = createHash("sha1").update(fields.subjectPublicKey.keyBits).digest();
    w.open(TAG.SEQUENCE).raw(OID_SUBJECT_KEY_IDENTIFIER).open(TAG.OCTET_STRING).element(TAG.OCTET_STRING, keyId).close().close();
    w.close().close(); // extensions SEQUENCE, [3]
    w.close(); // TBSCertificate
    return w.finish();
  }

  #partsFor(municipality: LeafFields["municipality"], crlUrl: string): MunicipalityParts {
    const key = `${municipality.prefectureRomaji}\u0000${municipality.cityRomaji}\u0000${crlUrl}`;
    let parts = this.#municipalities.get(key);
    if (!parts) {
      if (this.#municipalities.size >= LEAF_LIMITS.maxCachedMunicipalities) this.#municipalities.clear();
      // The subject's RDNs up to the CN (which is per certificate), without the Name's SEQUENCE header.
      const prefix = nameDer(leafSubject(this.type, municipality, "-").slice(0, -1));
      parts = {
        subjectPrefix: prefix.slice(headerLength(prefix)),
        crlDistributionPoints: extensionDer(leafCrlDistributionPoints(this.type, this.#naming, municipality, crlUrl)),
      };
      this.#municipalities.set(key, parts);
    }
    return parts;
  }
}

/** subjectAltName: SEQUENCE OF otherName [0] { type-id, [0] EXPLICIT UTF8String }. */
function writePersonalDataAltName(w: DerWriter, otherNames: ReadonlyArray<{ oid: string; value: string }>): void {
  w.open(TAG.SEQUENCE).raw(OID_SUBJECT_ALT_NAME).open(TAG.OCTET_STRING).open(TAG.SEQUENCE);
  for (const { oid: type, value } of otherNames) {
    w.open(contextTag(0, true)).raw(PERSONAL_DATA_OID_DER.get(type)!);
    w.open(contextTag(0, true)).string(UTF8_STRING, value).close();
    w.close();
  }
  w.close().close().close();
}

function checkFields(type: CaType, f: LeafFields): void {
  const serial = f.serial;
  if (!(serial instanceof Uint8Array) || serial.length === 0 || serial.length > LEAF_LIMITS.maxSerialBytes) {
    throw new RangeError(`serial: 1 to ${LEAF_LIMITS.maxSerialBytes} bytes`);
  }
  // DER INTEGER content as it stands: positive, and no redundant leading zero byte.
  if (serial[0]! & 0x80 || (serial[0] === 0 && (serial.length === 1 || !(serial[1]! & 0x80)))) {
    throw new RangeError("serial: must be positive and minimally encoded");
  }
  if (typeof f.subjectCn !== "string" || f.subjectCn.length === 0 || f.subjectCn.length > LEAF_LIMITS.maxCommonNameLength || CONTROL_CHARACTER.test(f.subjectCn)) {
    throw new TypeError(`subjectCn: 1 to ${LEAF_LIMITS.maxCommonNameLength} characters, no control characters`);
  }
  if (!(f.notBefore.getTime() < f.notAfter.getTime())) throw new RangeError("notAfter must be later than notBefore");
  if (type === "sign") {
    if (!f.otherNames || f.otherNames.length !== 6) throw new TypeError("a signing certificate needs the six JPKI personal-data otherNames");
    for (const o of f.otherNames) {
      if (!PERSONAL_DATA_OID_DER.has(o.oid)) throw new TypeError(`otherName ${o.oid} is not a JPKI personal-data OID`);
      if (typeof o.value !== "string" || o.value.length === 0 || o.value.length > LEAF_LIMITS.maxOtherNameLength) {
        throw new TypeError(`otherName ${o.oid}: 1 to ${LEAF_LIMITS.maxOtherNameLength} characters`);
      }
    }
  } else if (f.otherNames && f.otherNames.length > 0) {
    throw new TypeError("an authentication certificate carries no personal data");
  }
}

/** Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }. */
function extensionDer(spec: ExtensionSpec): Uint8Array {
  const value = new Uint8Array(spec.value);
  const w = new DerWriter(value.length + 64);
  w.open(TAG.SEQUENCE).raw(oid(spec.oid));
  if (spec.critical) w.raw(Uint8Array.of(TAG.BOOLEAN, 0x01, 0xff));
  w.element(TAG.OCTET_STRING, value).close();
  return w.finish();
}

function headerLength(der: Uint8Array): number {
  return der[1]! < 0x80 ? 2 : 2 + (der[1]! & 0x7f);
}
