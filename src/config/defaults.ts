import { DEFAULT_CA_NAMING, type CaNaming } from "../pki/jpki-profile.ts";
import type { KioskConfig } from "./kiosk-documents.ts";

/**
 * Every default in one place. `openjpki serve` and the services read their settings from an
 * object of this shape; nothing else hard-codes a port, URL or period.
 */
export interface Settings {
  host: string;
  port: number;
  /** The base URL the certificates name for OCSP, CRLs, CA certificates and the CPS. */
  publicBaseUrl: string;
  caNaming: CaNaming;
  /** Years a new root is valid (J-LIS: 10). */
  rootValidityYears: number;
  /** thisUpdate → nextUpdate of a CRL (J-LIS refreshes daily). */
  crlValidityHours: number;
  /** thisUpdate → nextUpdate of an OCSP answer, and the longest an HTTP cache may keep it. */
  ocspValiditySeconds: number;
  /** Lifetime of a delegated OCSP responder certificate, and how long before its end a new one takes over. */
  ocspResponderValidityDays: number;
  ocspResponderRolloverDays: number;
  /** Serve revocation status to anyone (local development), not only registered verifiers. */
  openStatus: boolean;
  /** The developer console (/dev): residents, cards and holds with no login. Development servers only. */
  devConsole: boolean;
  /** 失効情報提供手数料: yen per lookup (J-LIS: 20 for signing; the auth figure is unconfirmed, 2 assumed). */
  lookupFeeYen: { sign: number; auth: number };
  /** Municipalities whose kiosks also reset the authentication PIN with the signing password (Naha from 2024-09). */
  kioskAuthPinResetMunicipalities: string[];
  /** コンビニ交付: hours, documents and fees (src/config/kiosk-documents.ts has the defaults). */
  kiosk?: Partial<KioskConfig>;
}

export const DEFAULT_SETTINGS: Settings = {
  host: "127.0.0.1",
  port: 8080,
  publicBaseUrl: "http://127.0.0.1:8080",
  caNaming: DEFAULT_CA_NAMING,
  rootValidityYears: 10,
  crlValidityHours: 24,
  ocspValiditySeconds: 600,
  ocspResponderValidityDays: 90,
  ocspResponderRolloverDays: 30,
  openStatus: false,
  devConsole: false,
  lookupFeeYen: { sign: 20, auth: 2 },
  kioskAuthPinResetMunicipalities: ["472018"],
};

export const DEFAULT_DATA_DIR = "./openjpki-data";
