// OCSP requests built by hand (every CertID form a client may send) and what an answer says.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { AsnConvert } from "@peculiar/asn1-schema";
import { BasicOCSPResponse, OCSPResponse } from "@peculiar/asn1-ocsp";
import type { OcspCertId } from "../../src/pki/ocsp.ts";
import { DER_NULL, contextTag, octetString, oid, seq, tlv, unsignedInteger } from "../../src/pki/der.ts";

/** An OCSPRequest for one CertID, SHA-1 with NULL parameters unless the CertID says otherwise. */
export function requestDer(certId: OcspCertId, options: { nonce?: boolean; absentParameters?: boolean } = {}): Uint8Array {
  const algorithm = certId.hashAlgorithm === "sha1" ? oid("1.3.14.3.2.26") : oid("2.16.840.1.101.3.4.2.1");
  const algorithmId = options.absentParameters ? seq(algorithm) : seq(algorithm, DER_NULL);
  const reqCert = seq(algorithmId, octetString(certId.issuerNameHash), octetString(certId.issuerKeyHash), unsignedInteger(certId.serial));
  const parts = [seq(seq(reqCert))];
  if (options.nonce) parts.push(tlv(contextTag(2, true), seq(seq(oid("1.3.6.1.5.5.7.48.1.2"), octetString(octetString(randomBytes(16)))))));
  return seq(seq(...parts));
}

/** What an answer says: its one SingleResponse's status and thisUpdate (and, if revoked, the reason code, RFC 5280 CRLReason). */
export function readAnswer(der: Uint8Array): { status: "good" | "revoked" | "unknown"; thisUpdate: Date; serialHex: string; reasonCode?: number } {
  const response = AsnConvert.parse(der, OCSPResponse);
  assert.equal(response.responseStatus, 0, "successful");
  const single = AsnConvert.parse(response.responseBytes!.response.buffer, BasicOCSPResponse).tbsResponseData.responses[0]!;
  const status = single.certStatus.good !== undefined ? "good" : single.certStatus.revoked ? "revoked" : "unknown";
  const reasonCode = single.certStatus.revoked?.revocationReason?.reason;
  return { status, thisUpdate: single.thisUpdate, serialHex: Buffer.from(single.certID.serialNumber).toString("hex").toUpperCase(), ...(reasonCode === undefined ? {} : { reasonCode }) };
}

