import { X509Certificate, verify as verifySignature, constants, type KeyObject } from "node:crypto";
import { readTlv, children, contentOf, encodeOid, equalBytes, DerError } from "./der.ts";
import type { TerminalRole } from "./security-state.ts";

/**
 * Terminal authentication: the card checks a terminal certificate against the terminal
 * CA key set at manufacture, then a signature by the certified key over its own fresh
 * challenge. See docs/card-issuer-commands.md for the APDUs and the OIDs.
 */

/** Private arc (a UUID OID under 2.25, ITU-T X.667): no registration needed, no collision. */
export const OPENJPKI_ARC = "2.25.277252241222709093668397091308557852788";
/** Extension carrying the terminal's role: `TerminalRole ::= ENUMERATED { counter(1), kiosk(2) }`. */
export const TERMINAL_ROLE_OID = `${OPENJPKI_ARC}.1.1`;
/** Domain separation for the EXTERNAL AUTHENTICATE signature. */
export const TERMINAL_AUTH_CONTEXT = "OpenJPKI terminal authentication v1\0";

export const MAX_TERMINAL_CERT_LENGTH = 4096;
export const CHALLENGE_MIN_FOR_AUTH = 16;

const ROLE_OID_DER = encodeOid(TERMINAL_ROLE_OID);
const SHA256_WITH_RSA_DER = encodeOid("1.2.840.113549.1.1.11");
/** The extensions the card understands besides the role: basicConstraints (cA checked below) and keyUsage. */
const BASIC_CONSTRAINTS_OID_DER = encodeOid("2.5.29.19");
const KEY_USAGE_OID_DER = encodeOid("2.5.29.15");

/** keyUsage's BIT STRING (03 len unused bits…): digitalSignature is bit 0, the first byte's top bit. */
function allowsDigitalSignature(value: Uint8Array): boolean {
  return value.length >= 4 && value[0] === 0x03 && value[1] === value.length - 2 && (value[3]! & 0x80) !== 0;
}

export type TerminalCheck =
  | { ok: true; role: TerminalRole; publicKey: KeyObject }
  | { ok: false; reason: string };

/**
 * Accept a terminal certificate only if it is one DER certificate of bounded size,
 * version 3, signed sha256WithRSAEncryption by the trusted terminal CA, valid at `now`,
 * not a CA, with an RSA key of 2048–4096 bits and exactly one role extension, which is critical;
 * a keyUsage, if present, allows digitalSignature; no other critical extension.
 */
export function checkTerminalCertificate(der: Uint8Array, trustedCa: KeyObject, now: Date): TerminalCheck {
  if (der.length === 0 || der.length > MAX_TERMINAL_CERT_LENGTH) return { ok: false, reason: "size" };
  let role: TerminalRole;
  try {
    const outer = readTlv(der, 0);
    if (outer.tag !== 0x30 || outer.end !== der.length) return { ok: false, reason: "not one certificate" };
    const [tbs, sigAlg, sig, ...rest] = children(der, outer, 4);
    if (!tbs || !sigAlg || !sig || rest.length > 0 || tbs.tag !== 0x30 || sigAlg.tag !== 0x30 || sig.tag !== 0x03) {
      return { ok: false, reason: "certificate structure" };
    }
    const sigAlgOid = children(der, sigAlg, 2)[0];
    if (!sigAlgOid || !equalBytes(der.subarray(sigAlgOid.offset, sigAlgOid.end), SHA256_WITH_RSA_DER)) {
      return { ok: false, reason: "signature algorithm" };
    }
    const fields = children(der, tbs, 10);
    const version = fields[0];
    if (!version || version.tag !== 0xa0 || !equalBytes(contentOf(der, version), Uint8Array.of(2, 1, 2))) {
      return { ok: false, reason: "not version 3" };
    }
    const extsWrapper = fields.find((f) => f.tag === 0xa3);
    if (!extsWrapper) return { ok: false, reason: "no extensions" };
    const extSeq = readTlv(der, extsWrapper.start, extsWrapper.end);
    if (extSeq.tag !== 0x30 || extSeq.end !== extsWrapper.end) return { ok: false, reason: "extensions" };
    const roles: Uint8Array[] = [];
    for (const ext of children(der, extSeq, 32)) {
      if (ext.tag !== 0x30) return { ok: false, reason: "extension" };
      const parts = children(der, ext, 3);
      const oid = parts[0];
      const value = parts[parts.length - 1];
      if (!oid || !value || oid.tag !== 0x06 || value.tag !== 0x04) return { ok: false, reason: "extension" };
      // critical BOOLEAN DEFAULT FALSE: in DER present only as TRUE (FF).
      let critical = false;
      if (parts.length === 3) {
        const flag = parts[1]!;
        const content = contentOf(der, flag);
        if (flag.tag !== 0x01 || content.length !== 1 || content[0] !== 0xff) return { ok: false, reason: "extension criticality" };
        critical = true;
      }
      const oidDer = der.subarray(oid.offset, oid.end);
      if (equalBytes(oidDer, ROLE_OID_DER)) {
        if (!critical) return { ok: false, reason: "role extension not critical" };
        roles.push(contentOf(der, value));
      } else if (equalBytes(oidDer, KEY_USAGE_OID_DER)) {
        if (!allowsDigitalSignature(contentOf(der, value))) return { ok: false, reason: "key usage" };
      } else if (critical && !equalBytes(oidDer, BASIC_CONSTRAINTS_OID_DER)) {
        // RFC 5280 §4.2: a critical extension the card does not understand refuses the certificate.
        return { ok: false, reason: "unknown critical extension" };
      }
    }
    if (roles.length !== 1) return { ok: false, reason: "role extension missing or repeated" };
    const r = roles[0]!;
    if (r.length !== 3 || r[0] !== 0x0a || r[1] !== 0x01 || (r[2] !== 1 && r[2] !== 2)) {
      return { ok: false, reason: "role value" };
    }
    role = r[2] === 1 ? "counter" : "kiosk";
  } catch (e) {
    if (e instanceof DerError) return { ok: false, reason: `DER: ${e.message}` };
    throw e;
  }

  let cert: X509Certificate;
  try {
    cert = new X509Certificate(der);
  } catch {
    return { ok: false, reason: "unparseable" };
  }
  if (!cert.verify(trustedCa)) return { ok: false, reason: "not signed by the terminal CA" };
  const from = new Date(cert.validFrom);
  const to = new Date(cert.validTo);
  if (!(from.getTime() <= now.getTime() && now.getTime() <= to.getTime())) return { ok: false, reason: "expired or not yet valid" };
  if (cert.ca) return { ok: false, reason: "CA certificate" };
  const publicKey = cert.publicKey;
  const bits = publicKey.asymmetricKeyDetails?.modulusLength ?? 0;
  if (publicKey.asymmetricKeyType !== "rsa" || bits < 2048 || bits > 4096) return { ok: false, reason: "key type" };
  return { ok: true, role, publicKey };
}

/** The message a terminal signs: context string, then the card's challenge. */
export function terminalAuthMessage(challenge: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(TERMINAL_AUTH_CONTEXT, "latin1"), challenge]);
}

export function verifyTerminalSignature(publicKey: KeyObject, challenge: Uint8Array, signature: Uint8Array): boolean {
  const bits = publicKey.asymmetricKeyDetails?.modulusLength ?? 0;
  if (signature.length !== Math.ceil(bits / 8)) return false;
  try {
    return verifySignature(
      "sha256",
      terminalAuthMessage(challenge),
      { key: publicKey, padding: constants.RSA_PKCS1_PADDING },
      signature,
    );
  } catch {
    return false;
  }
}
