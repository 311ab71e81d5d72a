/**
 * The relying-party tests' world: the project's own CA (a test context with a pinned clock),
 * residents with signing and authentication certificates, and fake OCSP and CRL sources built with
 * src/pki (the library itself may not import pki; tests may). Knobs on the fakes produce each
 * fail-closed case.
 */
import { generateKeyPairSync, X509Certificate, type KeyObject } from "node:crypto";
import { createVerifier } from "../../src/verify/index.ts";
import type { RevocationOptions, Verifier, VerifierOptions } from "../../src/verify/index.ts";
import { buildOcspResponse, ocspIssuerFromCertificate, parseOcspRequest, OCSP_TRY_LATER, type OcspCertStatus } from "../../src/pki/ocsp.ts";
import { buildCrl, type CrlEntry } from "../../src/pki/crl.ts";
import { readCertificateFields, keyHashSha1 } from "../../src/pki/certificate-fields.ts";
import { signCertificate, randomSerial } from "../../src/pki/certificate.ts";
import { buildName } from "../../src/pki/asn1.ts";
import { caName, crlDistributionPointName, type CaType } from "../../src/pki/jpki-profile.ts";
import type { Signer } from "../../src/pki/signer.ts";
import { SoftwareSigner } from "../../src/pki/software-signer.ts";
import type { CertificateRecord } from "../../src/services/certificate-authority.ts";
import type { RevocationReason } from "../../src/rules/revocation.ts";
import { openTestContext, type TestContext } from "../helpers/context.ts";
import { SignedXml } from "xml-crypto";
import "reflect-metadata";
import { AsnConvert } from "@peculiar/asn1-schema";

export const NOW = "2026-11-25T03:00:00Z";
export const NOW_DATE = new Date(NOW);
export const DAY = 86_400_000;

export interface KeyPair {
  publicKey: KeyObject;
  privateKey: KeyObject;
}

const keyPool: KeyPair[] = [];
/** RSA keys made once per process (keygen ~100 ms each). */
export function keys(n: number): KeyPair[] {
  while (keyPool.length < n) keyPool.push(generateKeyPairSync("rsa", { modulusLength: 2048 }));
  return keyPool.slice(0, n);
}

export function pem(der: Uint8Array): string {
  return new X509Certificate(der).toString();
}

export function keyPem(key: KeyObject): string {
  return key.export({ type: "pkcs8", format: "pem" }) as string;
}

export interface Holder {
  sign: CertificateRecord;
  auth: CertificateRecord;
  signKey: KeyPair;
  authKey: KeyPair;
}

export interface World {
  t: TestContext;
  roots: { sign: Uint8Array; auth: Uint8Array };
  signers: { sign: Signer; auth: Signer };
  holder: Holder;
  /** Another holder, for revocation cases (revoke once, keep the main holder valid). */
  issueHolder(overrides?: { name?: string; birth?: string; gender?: string }): Promise<Holder>;
  cleanup(): Promise<void>;
}

export async function makeWorld(): Promise<World> {
  const t = await openTestContext("sqlite", { now: NOW });
  const ks = keys(6);
  let next = 0;
  const issueHolder = async (overrides: { name?: string; birth?: string; gender?: string } = {}): Promise<Holder> => {
    const resident = await t.context.registry.add({
      name: overrides.name ?? "山田 太郎",
      birth: overrides.birth ?? "1990-01-02",
      gender: overrides.gender ?? "1",
      address: "東京都町田市森野２－２－２２",
      municipality: "132098",
    });
    const authKey = ks[next++ % ks.length]!;
    const signKey = ks[next++ % ks.length]!;
    const auth = await t.context.ca.issue({ type: "auth", residentId: resident.id, subjectPublicKey: authKey.publicKey });
    const sign = await t.context.ca.issue({ type: "sign", residentId: resident.id, subjectPublicKey: signKey.publicKey });
    return { sign, auth, signKey, authKey };
  };
  const holder = await issueHolder();
  return {
    t,
    roots: { sign: t.context.ca.authority("sign").certificateDer, auth: t.context.ca.authority("auth").certificateDer },
    signers: { sign: t.context.ca.authority("sign").signer, auth: t.context.ca.authority("auth").signer },
    holder,
    issueHolder,
    cleanup: () => t.cleanup(),
  };
}

// ----- the fake OCSP responder -----

export interface OcspKnobs {
  /** Sign with this signer instead of the CA's. */
  signer?: Signer;
  /** Embed this responder certificate (delegated responder). */
  responderCertificateDer?: Uint8Array;
  /** Do not echo the request's nonce. */
  dropNonce?: boolean;
  /** Echo this nonce instead. */
  wrongNonce?: boolean;
  /** thisUpdate/nextUpdate shifted by this many ms. */
  shiftMs?: number;
  /** Answer for a different serial. */
  otherSerial?: boolean;
  /** Answer "unknown". */
  unknown?: boolean;
  /** Flip a byte in the signature. */
  tamper?: boolean;
  /** Return this instead. */
  raw?: Uint8Array;
  /** Throw instead. */
  fail?: boolean;
}

export interface OcspFake {
  fetch(url: string, request: Uint8Array): Promise<Uint8Array>;
  calls: string[];
  knobs: OcspKnobs;
}

function typeFromUrl(url: string): CaType {
  const m = /\/(sign|auth)(?:\/|\.|$)/.exec(url);
  if (!m) throw new Error(`no CA type in ${url}`);
  return m[1] as CaType;
}

export function ocspFake(world: World, knobs: OcspKnobs = {}): OcspFake {
  const fake: OcspFake = {
    calls: [],
    knobs,
    async fetch(url, requestDer) {
      fake.calls.push(url);
      const k = fake.knobs;
      if (k.fail) throw new Error("connection refused");
      if (k.raw) return k.raw;
      const type = typeFromUrl(url);
      const authority = world.t.context.ca.authority(type);
      const info = parseOcspRequest(requestDer);
      const certId = info.requests[0]!;
      const serialHex = Buffer.from(certId.serial).toString("hex").toUpperCase();
      let status: OcspCertStatus = { kind: "unknown" };
      try {
        const record = await world.t.context.ca.certificate(type, serialHex);
        status =
          record.status === "valid"
            ? { kind: "good" }
            : { kind: "revoked", revokedAt: new Date(record.revokedAt!), reason: record.revocationReason! };
      } catch {
        status = { kind: "unknown" };
      }
      if (k.unknown) status = { kind: "unknown" };
      const now = new Date(NOW_DATE.getTime() + (k.shiftMs ?? 0));
      const signer = k.signer ?? authority.signer;
      const answeredId = k.otherSerial ? { ...certId, der: undefined, serial: Uint8Array.of(0x42) } : certId;
      const nonce = k.dropNonce ? undefined : k.wrongNonce ? Uint8Array.of(0x04, 0x02, 0xab, 0xcd) : info.nonce;
      const der = await buildOcspResponse({
        signer,
        producedAt: now,
        responses: [{ certId: answeredId, status, thisUpdate: new Date(now.getTime() - 60_000), nextUpdate: new Date(now.getTime() + DAY) }],
        ...(nonce ? { nonce } : {}),
        ...(k.responderCertificateDer ? { responderCertificateDer: k.responderCertificateDer } : {}),
      });
      if (k.tamper) der[der.length - 5] ^= 0xff;
      return der;
    },
  };
  return fake;
}

// ----- CRLs -----

export interface CrlKnobs {
  signer?: Signer;
  /** thisUpdate/nextUpdate shifted by this many ms. */
  shiftMs?: number;
  /** Make a partition for this municipality code's CRLDP name (default: the certificate's own, 132098). */
  partitionCity?: { prefectureRomaji: string; cityRomaji: string } | null;
  fail?: boolean;
  raw?: Uint8Array;
  extraEntries?: CrlEntry[];
}

export interface CrlFake {
  fetch(url: string): Promise<Uint8Array>;
  calls: string[];
  knobs: CrlKnobs;
}

export function crlFake(world: World, knobs: CrlKnobs = {}): CrlFake {
  let crlNumber = 1n;
  const fake: CrlFake = {
    calls: [],
    knobs,
    async fetch(url) {
      fake.calls.push(url);
      const k = fake.knobs;
      if (k.fail) throw new Error("HTTP 503");
      if (k.raw) return k.raw;
      const type = typeFromUrl(url);
      const authority = world.t.context.ca.authority(type);
      const rows = await world.t.context.store.db
        .selectFrom("certificates")
        .select(["serial_hex", "revoked_at", "revocation_reason"])
        .where("ca_type", "=", type)
        .where("status", "in", ["revoked", "hold"])
        .execute();
      const entries: CrlEntry[] = rows.map((r) => ({
        serial: Uint8Array.from(Buffer.from(r.serial_hex, "hex")),
        revokedAt: new Date(r.revoked_at!),
        reason: r.revocation_reason as RevocationReason,
      }));
      const fields = readCertificateFields(authority.certificateDer);
      const now = new Date(NOW_DATE.getTime() + (k.shiftMs ?? 0));
      const city = k.partitionCity === undefined ? { prefectureRomaji: "Tokyo-to", cityRomaji: "Machida-shi" } : k.partitionCity;
      return buildCrl({
        issuerNameDer: fields.subjectNameDer,
        authorityKeyIdentifier: keyHashSha1(fields.spkiKeyBits),
        signer: k.signer ?? authority.signer,
        thisUpdate: new Date(now.getTime() - 3600_000),
        nextUpdate: new Date(now.getTime() + DAY),
        crlNumber: crlNumber++,
        ...(city
          ? {
              issuingDistributionPoint: {
                fullNameDirectoryNameDer: new Uint8Array(AsnConvert.serialize(buildName(crlDistributionPointName(type, world.t.context.ca.naming, city)))),
              },
            }
          : {}),
        entries: [...entries, ...(k.extraEntries ?? [])],
      });
    },
  };
  return fake;
}

// ----- verifiers -----

export function verifierFor(
  world: World,
  revocation: RevocationOptions,
  extra: Partial<VerifierOptions> & { now?: () => Date } = {},
): Verifier {
  return createVerifier({
    trustAnchors: { sign: [world.roots.sign], auth: [world.roots.auth] },
    revocation,
    now: () => NOW_DATE,
    ...extra,
  });
}

// ----- extra certificates -----

const EKU_OCSP_SIGNING = Uint8Array.of(0x30, 0x0a, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x09);
const KU_DIGITAL_SIGNATURE = Uint8Array.of(0x03, 0x02, 0x07, 0x80);

/** A delegated OCSP responder certificate issued by the `type` CA (with or without id-kp-OCSPSigning). */
export async function responderCertificate(world: World, type: CaType, key: KeyPair, withEku = true): Promise<Uint8Array> {
  const authority = world.t.context.ca.authority(type);
  const issuerDn = caName(type, world.t.context.ca.naming);
  return signCertificate(
    {
      serial: randomSerial(),
      issuer: issuerDn,
      subject: [["C", "JP"], ["CN", `OCSP responder ${type}`]],
      notBefore: NOW_DATE,
      notAfter: new Date(NOW_DATE.getTime() + 30 * DAY),
      subjectPublicKey: key.publicKey,
      extensions: [
        { oid: "2.5.29.15", critical: true, value: KU_DIGITAL_SIGNATURE.slice().buffer as ArrayBuffer },
        ...(withEku ? [{ oid: "2.5.29.37", critical: false, value: EKU_OCSP_SIGNING.slice().buffer as ArrayBuffer }] : []),
      ],
    },
    authority.signer,
  );
}

export { SoftwareSigner, keyHashSha1, ocspIssuerFromCertificate, OCSP_TRY_LATER };

/** An enveloped XMLDSig over the whole document (RSA-SHA256, exclusive c14n), made with xml-crypto as an outside signer would. */
export function signXml(xml: string, certDer: Uint8Array, key: KeyObject): string {
  const sig = new SignedXml({
    privateKey: keyPem(key),
    publicCert: pem(certDer),
    signatureAlgorithm: "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    canonicalizationAlgorithm: "http://www.w3.org/2001/10/xml-exc-c14n#",
  });
  sig.addReference({
    xpath: "/*",
    transforms: ["http://www.w3.org/2000/09/xmldsig#enveloped-signature", "http://www.w3.org/2001/10/xml-exc-c14n#"],
    digestAlgorithm: "http://www.w3.org/2001/04/xmlenc#sha256",
    isEmptyUri: true,
  });
  sig.computeSignature(xml);
  return sig.getSignedXml();
}
