/**
 * The X.509 extension and access-method OIDs the JPKI profile uses, shared by the issuer
 * (src/pki) and the verifier (src/verify) so both speak of the same extensions by name.
 */
export const X509_OID = {
  keyUsage: "2.5.29.15",
  subjectAltName: "2.5.29.17",
  issuerAltName: "2.5.29.18",
  basicConstraints: "2.5.29.19",
  crlDistributionPoints: "2.5.29.31",
  certificatePolicies: "2.5.29.32",
  authorityKeyIdentifier: "2.5.29.35",
  subjectKeyIdentifier: "2.5.29.14",
  extKeyUsage: "2.5.29.37",
  authorityInfoAccess: "1.3.6.1.5.5.7.1.1",
  /** id-ad-ocsp: the access method of an authorityInfoAccess OCSP responder. */
  ocsp: "1.3.6.1.5.5.7.48.1",
  ocspNoCheck: "1.3.6.1.5.5.7.48.1.5",
  kpOcspSigning: "1.3.6.1.5.5.7.3.9",
  cpsQualifier: "1.3.6.1.5.5.7.2.1",
} as const;
