/**
 * A certificate's OCSP state as the responder and the refresher see it: the status to answer
 * with, and a key that changes whenever the status does (good → revoked, hold → revoked with a
 * final reason). An answer is signed for one key and served only while the store still gives
 * that key, which is how a revocation recorded by any process shows on the very next request.
 */
import type { OcspCertStatus } from "../pki/ocsp.ts";
import type { RevocationReason } from "../rules/revocation.ts";
import type { CertificateStatusRow } from "../store/database.ts";

export interface CertificateState {
  readonly status: OcspCertStatus;
  readonly key: string;
}

export const UNKNOWN_STATE: CertificateState = Object.freeze({ status: Object.freeze({ kind: "unknown" }), key: "unknown" });
export const GOOD_STATE: CertificateState = Object.freeze({ status: Object.freeze({ kind: "good" }), key: "good" });

/** Our serials are 16 random bytes, stored as 32 upper-case hex digits; anything else cannot be ours. */
export function isOurSerialHex(serialHex: string): boolean {
  return serialHex.length === 32 && /^[0-9A-F]{32}$/.test(serialHex);
}

/** The state of a certificate row (undefined: no such certificate → unknown). */
export function certificateState(row: CertificateStatusRow | undefined): CertificateState {
  if (!row) return UNKNOWN_STATE;
  if (row.status === "valid") return GOOD_STATE;
  // "hold" is revoked with reason certificateHold; its revocation_reason says so.
  const reason = (row.revocation_reason ?? "unspecified") as RevocationReason;
  return {
    status: { kind: "revoked", revokedAt: new Date(row.revoked_at!), reason },
    key: `revoked:${row.revoked_at}:${reason}`,
  };
}
