import "reflect-metadata";
import type { KeyObject } from "node:crypto";
import { AsnConvert } from "@peculiar/asn1-schema";
import {
  AccessDescription,
  AuthorityInfoAccessSyntax,
  AuthorityKeyIdentifier,
  BasicConstraints,
  CertificatePolicies,
  CRLDistributionPoints,
  DistributionPoint,
  DistributionPointName,
  GeneralName,
  IssueAlternativeName,
  KeyIdentifier,
  KeyUsage,
  KeyUsageFlags,
  OtherName,
  PolicyInformation,
  PolicyQualifierInfo,
  SubjectAlternativeName,
  id_ad_caIssuers,
  id_ad_ocsp,
  id_pe_authorityInfoAccess,
  ExtendedKeyUsage,
  id_kp_OCSPSigning,
} from "@peculiar/asn1-x509";
import { POLICY_OID } from "../profile/oids.ts";
import { X509_OID } from "../profile/x509-oids.ts";
import { buildName, toArrayBuffer, utf8StringDer, type DistinguishedName } from "./asn1.ts";
import { keyIdentifier, type CertificateTemplate, type ExtensionSpec } from "./certificate.ts";

/**
 * The JPKI certificate profile (spec §1.1–1.3), for our own two CAs. The shapes follow the
 * real J-LIS certificates; the names are our own and configurable, so nothing we issue can
 * be mistaken for J-LIS's.
 */
export type CaType = "sign" | "auth";

export interface CaNaming {
  /** O= in the CA's name; J-LIS uses "JPKI". */
  organization: string;
  /** The second OU= (the operator); J-LIS uses "Japan Agency for Local Authority Information Systems". */
  operator: string;
  /** The service name in Japanese for the alternative-name DN; J-LIS uses 公的個人認証サービス. */
  serviceJa: string;
  /** The operator in Japanese; J-LIS uses 地方公共団体情報システム機構. */
  operatorJa: string;
}

export const DEFAULT_CA_NAMING: CaNaming = {
  organization: "OpenJPKI",
  operator: "OpenJPKI Demonstration Operator",
  serviceJa: "OpenJPKI 公的個人認証サービス（模擬）",
  operatorJa: "OpenJPKI 模擬運営者",
};

const PURPOSE: Record<CaType, { en: string; ja: string }> = {
  sign: { en: "digital signature", ja: "署名用" },
  auth: { en: "user authentication", ja: "利用者証明用" },
};


const OID = { ...X509_OID, extendedKeyUsage: X509_OID.extKeyUsage } as const;

/** `C=JP, O=<org>, OU=<org> for digital signature|user authentication, OU=<operator>` (C, O, OU, OU as J-LIS). */
export function caName(type: CaType, naming: CaNaming): DistinguishedName {
  return [
    ["C", "JP"],
    ["O", naming.organization],
    ["OU", `${naming.organization} for ${PURPOSE[type].en}`],
    ["OU", naming.operator],
  ];
}

/** The Japanese directoryName J-LIS puts in the root's SAN and every leaf's issuerAltName. */
export function caAltName(type: CaType, naming: CaNaming): DistinguishedName {
  return [
    ["C", "JP"],
    ["O", naming.serviceJa],
    ["OU", `${naming.serviceJa}${PURPOSE[type].ja}`],
    ["OU", naming.operatorJa],
  ];
}

/** The per-municipality CRL partition: `…, OU=CRL Distribution Points, OU=<prefecture>, CN=<city> CRLDP`. */
export function crlDistributionPointName(
  type: CaType,
  naming: CaNaming,
  municipality: { prefectureRomaji: string; cityRomaji: string },
): DistinguishedName {
  return [
    ["C", "JP"],
    ["O", naming.organization],
    ["OU", `${naming.organization} for ${PURPOSE[type].en}`],
    ["OU", "CRL Distribution Points"],
    ["OU", municipality.prefectureRomaji],
    ["CN", `${municipality.cityRomaji} CRLDP`],
  ];
}

/** The self-signed root, built as the real J-LIS roots are: KU, SAN, BC, CRLDP (own DN), SKI; no AKI. */
export function rootTemplate(args: {
  type: CaType;
  naming: CaNaming;
  publicKey: KeyObject;
  serial: Uint8Array;
  notBefore: Date;
  notAfter: Date;
}): CertificateTemplate {
  const name = caName(args.type, args.naming);
  return {
    serial: args.serial,
    issuer: name,
    subject: name,
    notBefore: args.notBefore,
    notAfter: args.notAfter,
    subjectPublicKey: args.publicKey,
    extensions: [
      ext(OID.keyUsage, true, new KeyUsage(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign)),
      ext(OID.subjectAltName, false, new SubjectAlternativeName([directoryName(caAltName(args.type, args.naming))])),
      ext(OID.basicConstraints, true, new BasicConstraints({ cA: true })),
      ext(OID.crlDistributionPoints, false, crlDistributionPoints([directoryName(name)])),
      ext(OID.subjectKeyIdentifier, false, new KeyIdentifier(keyIdentifier(args.publicKey).buffer as ArrayBuffer)),
    ],
  };
}

export interface LeafUrls {
  /** Our addition (the real certificates carry none): where this server answers OCSP. */
  ocsp: string;
  /** Where this server serves the issuing root. */
  caIssuers: string;
  /** Where this server serves the municipality's CRL partition. */
  crl: string;
  /** The certification practice statement named in certificatePolicies. */
  cps: string;
}

export interface LeafRequest {
  type: CaType;
  naming: CaNaming;
  issuerPublicKey: KeyObject;
  subjectPublicKey: KeyObject;
  serial: Uint8Array;
  /** The opaque subject CN (JPKI puts no personal data in the subject). */
  subjectCn: string;
  notBefore: Date;
  notAfter: Date;
  municipality: { prefectureRomaji: string; cityRomaji: string };
  /** Signing certificates only: the six personal-data otherNames, already in the card's order. */
  otherNames?: ReadonlyArray<{ oid: string; value: string }>;
  urls: LeafUrls;
}

/**
 * An end-entity certificate: KU, SAN (signing only), CP, IAN, CRLDP, AIA, AKI, SKI — the real
 * order with our AIA before the key identifiers, SKI last as J-LIS has it.
 *
 * This is the profile written out with the ASN.1 library, field by field: the readable
 * definition, and the reference the issuance path's DER template (leaf-template.ts) is tested
 * byte for byte against. Issuance itself uses the template.
 */
export function leafTemplate(req: LeafRequest): CertificateTemplate {
  const extensions: ExtensionSpec[] = [leafKeyUsage(req.type)];
  if (req.type === "sign") {
    if (!req.otherNames || req.otherNames.length !== 6) {
      throw new TypeError("a signing certificate needs the six JPKI personal-data otherNames");
    }
    extensions.push(personalDataAltName(req.otherNames));
  } else if (req.otherNames && req.otherNames.length > 0) {
    throw new TypeError("an authentication certificate carries no personal data");
  }
  extensions.push(
    leafPolicies(req.type, req.urls.cps),
    leafIssuerAltName(req.type, req.naming),
    leafCrlDistributionPoints(req.type, req.naming, req.municipality, req.urls.crl),
    leafAuthorityInfoAccess(req.urls),
    authorityKeyIdentifierExtension(keyIdentifier(req.issuerPublicKey)),
    subjectKeyIdentifierExtension(keyIdentifier(req.subjectPublicKey)),
  );
  return {
    serial: req.serial,
    issuer: caName(req.type, req.naming),
    subject: leafSubject(req.type, req.municipality, req.subjectCn),
    notBefore: req.notBefore,
    notAfter: req.notAfter,
    subjectPublicKey: req.subjectPublicKey,
    extensions,
  };
}

/** C=JP, then L=prefecture and L=municipality on signing certificates, then CN=the opaque id. */
export function leafSubject(type: CaType, municipality: { prefectureRomaji: string; cityRomaji: string }, subjectCn: string): DistinguishedName {
  return type === "sign"
    ? [["C", "JP"], ["L", municipality.prefectureRomaji], ["L", municipality.cityRomaji], ["CN", subjectCn]]
    : [["C", "JP"], ["CN", subjectCn]];
}

/** keyUsage (critical): digitalSignature, plus nonRepudiation on signing certificates. */
export function leafKeyUsage(type: CaType): ExtensionSpec {
  const flags = type === "sign" ? KeyUsageFlags.digitalSignature | KeyUsageFlags.nonRepudiation : KeyUsageFlags.digitalSignature;
  return ext(OID.keyUsage, true, new KeyUsage(flags));
}

/** subjectAltName with the six personal-data otherNames (UTF8String values), in the given order. */
export function personalDataAltName(otherNames: ReadonlyArray<{ oid: string; value: string }>): ExtensionSpec {
  return ext(
    OID.subjectAltName,
    false,
    new SubjectAlternativeName(
      otherNames.map((o) => new GeneralName({ otherName: new OtherName({ typeId: o.oid, value: utf8StringDer(o.value) }) })),
    ),
  );
}

/** certificatePolicies (critical): the CA's JPKI policy with the CPS URI as its qualifier. */
export function leafPolicies(type: CaType, cpsUrl: string): ExtensionSpec {
  return ext(
    OID.certificatePolicies,
    true,
    new CertificatePolicies([
      new PolicyInformation({
        policyIdentifier: POLICY_OID[type],
        policyQualifiers: [new PolicyQualifierInfo({ policyQualifierId: OID.cpsQualifier, qualifier: ia5StringDer(cpsUrl) })],
      }),
    ]),
  );
}

/** issuerAltName: the CA's Japanese directoryName. */
export function leafIssuerAltName(type: CaType, naming: CaNaming): ExtensionSpec {
  return ext(OID.issuerAltName, false, new IssueAlternativeName([directoryName(caAltName(type, naming))]));
}

/** cRLDistributionPoints: the municipality's partition, by directoryName and by URL. */
export function leafCrlDistributionPoints(
  type: CaType,
  naming: CaNaming,
  municipality: { prefectureRomaji: string; cityRomaji: string },
  crlUrl: string,
): ExtensionSpec {
  return ext(
    OID.crlDistributionPoints,
    false,
    crlDistributionPoints([
      directoryName(crlDistributionPointName(type, naming, municipality)),
      new GeneralName({ uniformResourceIdentifier: crlUrl }),
    ]),
  );
}

/** authorityInfoAccess: our OCSP responder and where the issuing root is served. */
export function leafAuthorityInfoAccess(urls: Pick<LeafUrls, "ocsp" | "caIssuers">): ExtensionSpec {
  return ext(
    id_pe_authorityInfoAccess,
    false,
    new AuthorityInfoAccessSyntax([
      new AccessDescription({ accessMethod: id_ad_ocsp, accessLocation: new GeneralName({ uniformResourceIdentifier: urls.ocsp }) }),
      new AccessDescription({ accessMethod: id_ad_caIssuers, accessLocation: new GeneralName({ uniformResourceIdentifier: urls.caIssuers }) }),
    ]),
  );
}

/** authorityKeyIdentifier with the keyIdentifier only. */
export function authorityKeyIdentifierExtension(keyId: Uint8Array): ExtensionSpec {
  return ext(OID.authorityKeyIdentifier, false, new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(toArrayBuffer(keyId)) }));
}

/** subjectKeyIdentifier. */
export function subjectKeyIdentifierExtension(keyId: Uint8Array): ExtensionSpec {
  return ext(OID.subjectKeyIdentifier, false, new KeyIdentifier(toArrayBuffer(keyId)));
}

/**
 * The delegated OCSP responder certificate of one CA (RFC 6960 §4.2.2.2): issued by the CA,
 * EKU id-kp-OCSPSigning, and id-pkix-ocsp-nocheck so clients do not ask about the responder
 * itself. Short-lived and rolled over before it expires.
 */
export function ocspResponderTemplate(args: {
  type: CaType;
  naming: CaNaming;
  issuerPublicKey: KeyObject;
  publicKey: KeyObject;
  serial: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  generation: number;
}): CertificateTemplate {
  return {
    serial: args.serial,
    issuer: caName(args.type, args.naming),
    subject: [
      ["C", "JP"],
      ["O", args.naming.organization],
      ["OU", `${args.naming.organization} for ${PURPOSE[args.type].en}`],
      ["CN", `OCSP Responder ${args.generation}`],
    ],
    notBefore: args.notBefore,
    notAfter: args.notAfter,
    subjectPublicKey: args.publicKey,
    extensions: [
      ext(OID.keyUsage, true, new KeyUsage(KeyUsageFlags.digitalSignature)),
      ext(OID.extendedKeyUsage, false, new ExtendedKeyUsage([id_kp_OCSPSigning])),
      { oid: OID.ocspNoCheck, critical: false, value: new Uint8Array([0x05, 0x00]).buffer },
      ext(
        OID.authorityKeyIdentifier,
        false,
        new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(keyIdentifier(args.issuerPublicKey).buffer as ArrayBuffer) }),
      ),
      ext(OID.subjectKeyIdentifier, false, new KeyIdentifier(keyIdentifier(args.publicKey).buffer as ArrayBuffer)),
    ],
  };
}

function ext(oid: string, critical: boolean, value: object): ExtensionSpec {
  return { oid, critical, value: AsnConvert.serialize(value) };
}

function directoryName(dn: DistinguishedName): GeneralName {
  return new GeneralName({ directoryName: buildName(dn) });
}

function crlDistributionPoints(fullName: GeneralName[]): CRLDistributionPoints {
  return new CRLDistributionPoints([new DistributionPoint({ distributionPoint: new DistributionPointName({ fullName }) })]);
}

function ia5StringDer(value: string): ArrayBuffer {
  if (!/^[\x20-\x7e]*$/.test(value) || value.length > 1000) throw new TypeError(`not an IA5 URI: ${value}`);
  const bytes = new TextEncoder().encode(value);
  const len = bytes.length < 0x80 ? [bytes.length] : bytes.length < 0x100 ? [0x81, bytes.length] : [0x82, bytes.length >> 8, bytes.length & 0xff];
  return new Uint8Array([0x16, ...len, ...bytes]).buffer;
}
