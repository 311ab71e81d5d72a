/**
 * Trust anchors: the signing and authentication roots the caller trusts, several generations each.
 * J-LIS gives every generation of a root the same DN, so the issuer of a certificate is chosen by
 * key identifier (when the certificate names one) and by signature, never by name alone.
 */
import { createHash } from "node:crypto";
import {
  authorityKeyIdOf,
  isCa,
  keyUsageOf,
  KU,
  parseCertificate,
  rsaSignatureValid,
  subjectKeyIdOf,
  type ParsedCertificate,
} from "./certificate.ts";
import { bytesEqual } from "../profile/der-reader.ts";
import { toHex } from "./der.ts";
import { VerificationFailure, failure } from "./errors.ts";
import type { CertificateType, RootInfo } from "./types.ts";

export interface Anchor {
  readonly type: CertificateType;
  readonly cert: ParsedCertificate;
  /** SHA-1 of the key bits (RFC 5280 method 1), and the SKI extension when it says otherwise. */
  readonly keyIds: readonly Uint8Array[];
  readonly info: RootInfo;
}

export class TrustStore {
  readonly anchors: readonly Anchor[];

  constructor(anchors: { sign: readonly Uint8Array[]; auth: readonly Uint8Array[] }) {
    if (!anchors || typeof anchors !== "object" || !Array.isArray(anchors.sign) || !Array.isArray(anchors.auth)) {
      throw new TypeError("trustAnchors must be { sign: Uint8Array[], auth: Uint8Array[] }");
    }
    if (anchors.sign.length + anchors.auth.length === 0) throw new TypeError("trustAnchors: give at least one root");
    const list: Anchor[] = [];
    for (const type of ["sign", "auth"] as const) {
      anchors[type].forEach((der, i) => {
        const what = `trustAnchors.${type}[${i}]`;
        let cert: ParsedCertificate;
        try {
          cert = parseCertificate(der, what);
        } catch (error) {
          if (error instanceof VerificationFailure) throw new TypeError(error.message, { cause: error });
          throw error;
        }
        let ca: boolean;
        let ku: number | undefined;
        try {
          ca = isCa(cert);
          ku = keyUsageOf(cert);
        } catch (error) {
          throw new TypeError(`${what}: ${(error as Error).message}`, { cause: error });
        }
        if (!ca) throw new TypeError(`${what} (${cert.subject}) is not a CA certificate (basicConstraints cA is not TRUE)`);
        if (ku !== undefined && (ku & KU.keyCertSign) === 0) throw new TypeError(`${what} (${cert.subject}) may not sign certificates (keyUsage)`);
        const sha256Hex = createHash("sha256").update(cert.der).digest("hex").toUpperCase();
        const dup = list.find((a) => a.info.sha256Hex === sha256Hex);
        if (dup) {
          if (dup.type !== type) throw new TypeError(`${what} is also given as a ${dup.type} root; a root belongs to one type`);
          return; // the same root twice in one list: harmless
        }
        const computed = new Uint8Array(createHash("sha1").update(cert.spkiKeyBits).digest());
        const ski = subjectKeyIdOf(cert);
        const keyIds = ski && !bytesEqual(ski, computed) ? [computed, ski] : [computed];
        list.push({
          type,
          cert,
          keyIds,
          info: {
            type,
            subject: cert.subject,
            serialHex: cert.serialHex,
            keyIdentifierHex: toHex(ski ?? computed),
            sha256Hex,
            notBefore: cert.notBefore.toISOString(),
            notAfter: cert.notAfter.toISOString(),
          },
        });
      });
    }
    this.anchors = list;
  }

  /**
   * The root that issued `cert`: same issuer name, matching key identifier when the certificate
   * has an AKI, and a signature that verifies. `untrusted-root` when no root is a candidate;
   * `bad-signature` when candidates exist but none verifies (the certificate was altered).
   */
  issuerOf(cert: ParsedCertificate): Anchor {
    const aki = authorityKeyIdOf(cert);
    const candidates = this.anchors.filter(
      (a) => bytesEqual(a.cert.subjectNameDer, cert.issuerNameDer) && (!aki || a.keyIds.some((id) => bytesEqual(id, aki))),
    );
    if (candidates.length === 0) {
      failure("untrusted-root", `no trust anchor issued this certificate (issuer ${cert.issuer}${aki ? `, key id ${toHex(aki)}` : ""})`, {
        issuer: cert.issuer,
        ...(aki ? { authorityKeyIdentifierHex: toHex(aki) } : {}),
      });
    }
    for (const anchor of candidates) {
      if (rsaSignatureValid(cert.signatureAlgorithm, cert.tbsDer, anchor.cert.publicKey, cert.signature, "the certificate")) return anchor;
    }
    return failure("bad-signature", `the certificate's signature does not verify with ${candidates.length === 1 ? "the root" : `any of the ${candidates.length} roots`} it names (${cert.issuer})`, {
      target: "certificate",
    });
  }
}
