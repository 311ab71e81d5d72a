/**
 * The tables as the query layer sees them. Dates are ISO-8601 text (instants in UTC with
 * `Z`, Japan calendar dates as `YYYY-MM-DD`) on both back ends, so SQLite and PostgreSQL
 * return the same values; booleans are 0/1 integers for the same reason.
 */
export interface Database {
  authorities: AuthorityTable;
  municipalities: MunicipalityTable;
  residents: ResidentTable;
  certificates: CertificateTable;
  certificate_der: CertificateDerTable;
  registry_events: RegistryEventTable;
  crl_numbers: CrlNumberTable;
  /** version: bigint on PostgreSQL, which pg returns as a string; read it with Number(). */
  revocation_versions: { ca_type: "sign" | "auth"; version: number | string };
  ocsp_responders: OcspResponderTable;
  verifiers: VerifierTable;
  verifier_lookups: VerifierLookupTable;
  audit_log: AuditLogTable;
  audit_head: { id: number; seq: number; hash: string };
  terminal_keys: TerminalKeyTable;
  cards: CardTable;
  challenges: ChallengeTable;
  portal_sessions: PortalSessionTable;
  pin_reset_reservations: PinResetReservationTable;
  kiosk_issuances: KioskIssuanceTable;
  oidc_payloads: OidcPayloadTable;
  server_secrets: { name: string; value: string; created_at: string };
  filings: FilingTable;
  offices: OfficeTable;
  staff: StaffTable;
  staff_sessions: { id_hash: string; staff_id: string; csrf_token: string; created_at: string; expires_at: string };
  login_throttle: { login: string; failures: number; first_failure_at: string; locked_until: string | null };
  applications: ApplicationTable;
  proxy_applications: ProxyApplicationTable;
  fee_records: FeeRecordTable;
  ocsp_responses: OcspResponseTable;
  crl_entries: CrlEntryTable;
  issuance_clients: IssuanceClientTable;
  issuance_request_ids: IssuanceRequestIdTable;
}

export interface ProxyApplicationTable {
  /** The application (applications.id) this proxy procedure belongs to. */
  application_id: string;
  proxy_type: "appointed" | "legal" | "household";
  /** 1 when the holder gave a 委任状. */
  letter_of_attorney: number;
  proxy_name: string;
  proxy_relationship: string;
  /** JSON: the procedure's parameters taken at the first visit (types, PIN type, …). */
  request: string;
  /** scrypt$salt$hash of the answer code printed on the 照会書兼回答書 (the code itself is never stored). */
  answer_code_hash: string;
  /** Wrong answer codes so far. */
  attempts: number;
  /** Japan dates: the first visit, and the last day the answer form is good for. */
  started_on: string;
  expires_on: string;
  /** JSON of the proxy's identity check on the completing visit. */
  proxy_identity: string | null;
  completed_at: string | null;
}

export interface FeeRecordTable {
  id: string;
  application_id: string;
  office_id: string | null;
  /** The Japan date the fee was taken. */
  fee_date: string;
  kind: string;
  /** Why this amount: "first-issuance", "reissue-holder-caused", "reissue-theft-police-report", … */
  reason: string;
  card_yen: number;
  certificates_yen: number;
  amount_yen: number;
  recorded_by: string;
  recorded_at: string;
}

export interface OfficeTable {
  id: string;
  municipality_code: string;
  name_ja: string;
  name_en: string;
  address: string | null;
  phone: string | null;
  hours: string | null;
}

export interface StaffTable {
  id: string;
  login: string;
  name: string;
  office_id: string;
  role: "clerk" | "supervisor" | "administrator";
  /** scrypt$N$r$p$salt$hash (base64url). */
  password_hash: string;
  active: number;
  created_at: string;
}

export interface ApplicationTable {
  id: string;
  kind: string;
  resident_id: string;
  card_id: string | null;
  office_id: string | null;
  state: "in-progress" | "completed" | "failed" | "awaiting-proxy";
  detail: string;
  fee_yen: number;
  created_by: string;
  created_at: string;
  updated_at: string;
}

export interface FilingTable {
  id: string;
  format: "xml" | "cms";
  document: Uint8Array;
  status: "accepted" | "refused";
  /** The verifier's code when refused (revoked, bad-signature, …). */
  reason: string | null;
  signer_serial: string | null;
  /** JSON of the verification result (path, revocation answer, attributes). */
  verification: string;
  submitted_at: string;
  /** Size and SHA-256 (hex) of the document as received; a refused filing keeps only these (0018). */
  received_bytes: number | null;
  received_sha256: string | null;
  /** A detached CMS filing's signed content, kept when it is accepted (0026); null otherwise. */
  content: Uint8Array | null;
}

export interface OidcPayloadTable {
  model: string;
  id: string;
  payload: string;
  grant_id: string | null;
  user_code: string | null;
  uid: string | null;
  expires_at: string | null;
  consumed_at: string | null;
}

export interface ChallengeTable {
  id: string;
  purpose: "login" | "kiosk" | "pin-reset-app" | "pin-reset-kiosk";
  /** base64url of 32 random bytes. */
  challenge: string;
  created_at: string;
  expires_at: string;
  used_at: string | null;
}

export interface PortalSessionTable {
  id: string;
  serial_hex: string;
  subject_cn: string;
  created_at: string;
  expires_at: string;
}

export interface PinResetReservationTable {
  id: string;
  /** Which PIN will be reset: the signing password (the usual route) or the authentication PIN. */
  target: "sign" | "auth";
  /** The certificate whose PIN and key made the reservation (the other one). */
  ca_type: "sign" | "auth";
  serial_hex: string;
  created_at: string;
  expires_at: string;
  used_at: string | null;
}

export interface KioskIssuanceTable {
  id: string;
  resident_id: string;
  municipality_code: string;
  document: string;
  fee_yen: number;
  kiosk: string;
  verification_code: string;
  pdf_sha256: string;
  issued_at: string;
}

export interface TerminalKeyTable {
  /** "terminal-ca", or a terminal's id. */
  id: string;
  role: "ca" | "counter" | "kiosk";
  office: string | null;
  certificate_der: Uint8Array;
  private_key_pem: string;
  created_at: string;
}

export interface CardTable {
  id: string;
  resident_id: string;
  /** producing → active; suspended (一時停止), returned, spoiled (failed production), replaced (a reissued card took its place). */
  /** invalid: the holder's register entry ended (death, emigration without continued use); only its return remains. */
  status: "producing" | "active" | "suspended" | "returned" | "spoiled" | "replaced" | "invalid";
  /** The day the certificates were loaded: their issuance date. */
  produced_date: string;
  expires: string;
  /** 交付日: the day the card was handed to the resident (recorded separately). */
  handed_over_date: string | null;
  created_at: string;
  updated_at: string;
  busy_until?: string | null;
  busy_with?: string | null;
  /** The card this one was reissued for (再交付), if any. */
  replaces_card_id?: string | null;
  /** When the card-level suspension (一時停止) began; null when not suspended. */
  suspended_at?: string | null;
  /** 1 while the card waits for the resident to set the PINs at handover. */
  pins_pending?: number | null;
}

export interface AuditLogTable {
  seq: number;
  at: string;
  actor: string;
  office: string | null;
  terminal: string | null;
  action: string;
  subject: string;
  /** JSON of the state before and after (null where there is none). */
  before: string | null;
  after: string | null;
  prev_hash: string;
  hash: string;
}

export interface OcspResponderTable {
  id: string;
  ca_type: "sign" | "auth";
  generation: number;
  certificate_der: Uint8Array;
  private_key_pem: string;
  not_after: string;
  created_at: string;
}

export interface VerifierTable {
  id: string;
  name: string;
  /** SHA-256 of the API key; the key itself is shown once and never stored. */
  key_hash: string;
  created_at: string;
  active: number;
}

/** An issuance client's own id for a request, kept with the certificate it gave, so a retried request is answered with that certificate. */
export interface IssuanceRequestIdTable {
  client_id: string;
  request_id: string;
  ca_type: "sign" | "auth";
  serial_hex: string;
  /** SHA-256 (hex) of what was asked (type, resident, key, card, renewal, card expiry): the same id with other contents is refused. */
  request_sha256: string;
  created_at: string;
}

export interface VerifierLookupTable {
  verifier_id: string;
  ca_type: "sign" | "auth";
  kind: "ocsp" | "crl";
  month: string;
  /** bigint on PostgreSQL, which pg returns as a string; read it with Number(). */
  count: number | string;
}

export interface RegistryEventTable {
  id: string;
  resident_id: string;
  kind: string;
  /** JSON: the event's details (changed attributes with before/after, continued use, …). */
  detail: string;
  effective_date: string;
  recorded_at: string;
}

export interface CrlNumberTable {
  ca_type: "sign" | "auth";
  /** "full" or a municipality code. */
  scope: string;
  last_number: number;
  /** The revocation version its last CRL's entries were read up to (bigint on PostgreSQL, read as text). */
  last_version: number | string;
}

export interface AuthorityTable {
  /** `sign-1`, `auth-1`, …: the CA type and its key generation. */
  id: string;
  ca_type: "sign" | "auth";
  generation: number;
  certificate_der: Uint8Array;
  /** The private key as encrypted PKCS#8 PEM (PBES2, AES-256-CBC, scrypt/PBKDF2 per OpenSSL). */
  private_key_pem: string;
  not_after: string;
  created_at: string;
  active: number;
}

export interface MunicipalityTable {
  code: string;
  prefecture_ja: string;
  prefecture_romaji: string;
  city_ja: string;
  city_romaji: string;
}

export interface ResidentTable {
  id: string;
  name: string;
  name_substitutes: string;
  birth: string;
  gender: "1" | "2" | "3";
  address: string;
  address_substitutes: string;
  municipality_code: string;
  nationality: string;
  residence_end: string | null;
  guardianship: number;
  status: "registered" | "deceased" | "emigrated";
  /** A filed emigration's departure date (JST): the entry stays registered until then, and the date is kept after. */
  departure_date: string | null;
  /** 1 when the emigration was filed with 国外転出者による継続利用: the card and its authentication certificate stay in use. */
  continued_use: number;
  /** With continued use: the address as the 戸籍の附票 records it, which replaces the domestic one on departure. */
  abroad_address: string | null;
  /** The search key: name, id and address as the search compares them (src/store/resident-search.ts). */
  search_text: string;
  created_at: string;
  updated_at: string;
}

export interface CertificateTable {
  ca_type: "sign" | "auth";
  serial_hex: string;
  authority_id: string;
  resident_id: string;
  card_id: string | null;
  subject_cn: string;
  municipality_code: string;
  not_before: string;
  not_after: string;
  /** The Japan calendar date the certificate expires (its notAfter is 23:59:59 JST that day). */
  expires: string;
  issued_at: string;
  status: "valid" | "revoked" | "hold";
  revoked_at: string | null;
  revocation_reason: string | null;
  invalidity_date: string | null;
  revoked_by: string | null;
}

/**
 * Each certificate's DER, apart from its hot row (migration 0016): status lookups, CRL and
 * OCSP work read `certificates` (≈0.4 KB a row) and never the ≈1.6 KB of DER, which only
 * downloads and a holder's own view read, by primary key.
 */
export interface CertificateDerTable {
  ca_type: "sign" | "auth";
  serial_hex: string;
  der: Uint8Array;
}

/** A pre-signed OCSP answer (RFC 5019: SHA-1 CertID, no nonce), one per certificate. */
export interface OcspResponseTable {
  ca_type: "sign" | "auth";
  serial_hex: string;
  /** The certificate state the answer was signed for ("good", "revoked:<at>:<reason>"); served only while it still holds. */
  state: string;
  /** The responder certificate generation that signed it (a rollover makes it due). */
  responder_generation: number;
  this_update: string;
  next_update: string;
  /** The DER tbsResponseData and its signature; the answer is these with the responder certificate of `responder_generation`. */
  tbs: Uint8Array;
  signature: Uint8Array;
}

/**
 * One revoked or held certificate's CRL entry, encoded once when the revocation is recorded (the
 * complete revokedCertificates element: serial, revocation date, reasonCode, invalidityDate), so
 * that building a CRL copies bytes. municipality_code and not_after are the certificate's, for the
 * partition and for leaving expired certificates off.
 */
export interface CrlEntryTable {
  ca_type: "sign" | "auth";
  serial_hex: string;
  municipality_code: string;
  not_after: string;
  entry: Uint8Array;
}

export interface IssuanceClientTable {
  id: string;
  name: string;
  /** The only municipality whose residents this client may have certificates issued for. */
  municipality_code: string;
  /** SHA-256 (hex) of the API key; the key itself is shown once and never stored. */
  key_hash: string;
  created_at: string;
  active: number;
}
