/**
 * ISO 7816-4 status words the card answers with. Named once so that every module
 * says which condition it means rather than repeating magic numbers.
 */
export const SW = {
  OK: 0x9000,
  /** 63 Cx: wrong reference data, x tries left. Built by {@link triesLeft}. */
  VERIFY_FAILED_BASE: 0x63c0,
  /** Authentication (EXTERNAL AUTHENTICATE) failed, no counter involved. */
  AUTH_FAILED: 0x6300,
  MEMORY_FAILURE: 0x6581,
  WRONG_LENGTH: 0x6700,
  LOGICAL_CHANNEL_NOT_SUPPORTED: 0x6881,
  SECURE_MESSAGING_NOT_SUPPORTED: 0x6882,
  CHAINING_NOT_SUPPORTED: 0x6884,
  INCOMPATIBLE_FILE_STRUCTURE: 0x6981,
  SECURITY_STATUS_NOT_SATISFIED: 0x6982,
  AUTH_METHOD_BLOCKED: 0x6984,
  CONDITIONS_NOT_SATISFIED: 0x6985,
  NO_CURRENT_EF: 0x6986,
  /** What the real card answers to secure-messaging CLA on READ BINARY / VERIFY. */
  SM_NOT_ALLOWED: 0x69fc,
  WRONG_DATA: 0x6a80,
  FILE_NOT_FOUND: 0x6a82,
  WRONG_P1P2: 0x6a86,
  REFERENCED_DATA_NOT_FOUND: 0x6a88,
  WRONG_OFFSET: 0x6b00,
  INS_NOT_SUPPORTED: 0x6d00,
  CLA_NOT_SUPPORTED: 0x6e00,
  UNKNOWN_ERROR: 0x6f00,
} as const;

/** 63 Cx with x the tries left (0..15). */
export function triesLeft(tries: number): number {
  return SW.VERIFY_FAILED_BASE | Math.max(0, Math.min(15, tries));
}
