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
import { buildName, utf8StringDer, type DistinguishedName } from "./asn1.ts";
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
 */
export function leafTemplate(req: LeafRequest): CertificateTemplate {
  const subject: DistinguishedName =
    req.type === "sign"
      ? [["C", "JP"], ["L", req.municipality.prefectureRomaji], ["L", req.municipality.cityRomaji], ["CN", req.subjectCn]]
      : [["C", "JP"], ["CN", req.subjectCn]];

  const keyUsage =
    req.type === "sign" ? KeyUsageFlags.digitalSignature | KeyUsageFlags.nonRepudiation : KeyUsageFlags.digitalSignature;

  const extensions: ExtensionSpec[] = [memo(`ku:${keyUsage}`, () => ext(OID.keyUsage, true, new KeyUsage(keyUsage)))];
  if (req.type === "sign") {
    if (!req.otherNames || req.otherNames.length !== 6) {
      throw new TypeError("a signing certificate needs the six JPKI personal-data otherNames");
    }
    extensions.push(
      ext(
        OID.subjectAltName,
        false,
        new SubjectAlternativeName(
          req.otherNames.map((o) => new GeneralName({ otherName: new OtherName({ typeId: o.oid, value: utf8StringDer(o.value) }) })),
        ),
      ),
    );
  } else if (req.otherNames && req.otherNames.length > 0) {
    throw new TypeError("an authentication certificate carries no personal data");
  }
  // Everything below depends only on the CA, its URLs and the municipality: encoded once and
  // reused, since encoding these structures is most of an issuance's cost besides the signature.
  const scope = `${req.type}|${JSON.stringify(req.naming)}|${JSON.stringify(req.urls)}`;
  const issuerKeyId = keyIdentifierCached(req.issuerPublicKey);
  extensions.push(
    memo(`cp:${scope}`, () =>
      ext(
        OID.certificatePolicies,
        true,
        new CertificatePolicies([
          new PolicyInformation({
            policyIdentifier: POLICY_OID[req.type],
            policyQualifiers: [new PolicyQualifierInfo({ policyQualifierId: OID.cpsQualifier, qualifier: ia5StringDer(req.urls.cps) })],
          }),
        ]),
      ),
    ),
    memo(`ian:${scope}`, () => ext(OID.issuerAltName, false, new IssueAlternativeName([directoryName(caAltName(req.type, req.naming))]))),
    memo(`crldp:${scope}|${req.municipality.prefectureRomaji}|${req.municipality.cityRomaji}`, () =>
      ext(
        OID.crlDistributionPoints,
        false,
        crlDistributionPoints([
          directoryName(crlDistributionPointName(req.type, req.naming, req.municipality)),
          new GeneralName({ uniformResourceIdentifier: req.urls.crl }),
        ]),
      ),
    ),
    memo(`aia:${scope}`, () =>
      ext(
        id_pe_authorityInfoAccess,
        false,
        new AuthorityInfoAccessSyntax([
          new AccessDescription({ accessMethod: id_ad_ocsp, accessLocation: new GeneralName({ uniformResourceIdentifier: req.urls.ocsp }) }),
          new AccessDescription({ accessMethod: id_ad_caIssuers, accessLocation: new GeneralName({ uniformResourceIdentifier: req.urls.caIssuers }) }),
        ]),
      ),
    ),
    memo(`aki:${Buffer.from(issuerKeyId).toString("hex")}`, () =>
      ext(OID.authorityKeyIdentifier, false, new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(issuerKeyId.buffer as ArrayBuffer) })),
    ),
    ext(OID.subjectKeyIdentifier, false, new KeyIdentifier(keyIdentifier(req.subjectPublicKey).buffer as ArrayBuffer)),
  );

  return {
    serial: req.serial,
    issuer: caName(req.type, req.naming),
    subject,
    notBefore: req.notBefore,
    notAfter: req.notAfter,
    subjectPublicKey: req.subjectPublicKey,
    extensions,
  };
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

/** Encoded extensions that depend only on CA-wide settings (bounded: a few per municipality). */
const encodedExtensions = new Map<string, ExtensionSpec>();

function memo(key: string, make: () => ExtensionSpec): ExtensionSpec {
  let found = encodedExtensions.get(key);
  if (!found) {
    if (encodedExtensions.size > 10_000) encodedExtensions.clear();
    found = make();
    encodedExtensions.set(key, found);
  }
  return found;
}

const issuerKeyIds = new WeakMap<KeyObject, Uint8Array>();

function keyIdentifierCached(key: KeyObject): Uint8Array {
  let id = issuerKeyIds.get(key);
  if (!id) {
    id = keyIdentifier(key);
    issuerKeyIds.set(key, id);
  }
  return id;
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
