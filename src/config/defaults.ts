import { DEFAULT_CA_NAMING, type CaNaming } from "../pki/jpki-profile.ts";

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
}

export const DEFAULT_SETTINGS: Settings = {
  host: "127.0.0.1",
  port: 8080,
  publicBaseUrl: "http://127.0.0.1:8080",
  caNaming: DEFAULT_CA_NAMING,
  rootValidityYears: 10,
};

export const DEFAULT_DATA_DIR = "./openjpki-data";
