/**
 * コンビニ交付 (convenience-store issuance): which documents a municipality offers at the kiosk,
 * their fees, and the service hours. Every municipality gets the default catalogue unless it
 * has its own entry; a deployment may pass its own configuration to the Kiosk service.
 *
 * Fees are set by each municipality (spec §3: commonly 200–450 yen, often 100 yen less than at
 * the window). 町田市 uses the default here: its kiosk fees were not confirmed from a public
 * source when this was written, so no figure is claimed for it.
 */

/** A document the kiosk can produce. `id` is a stable code (URLs, the CLI, the store). */
export interface KioskDocumentKind {
  id: KioskDocumentId;
  nameJa: string;
  nameEn: string;
  /** The certifying sentence printed above the date and the mayor's title. */
  certifyingLineJa: string;
}

export type KioskDocumentId = "juminhyo" | "juminhyo-kisai-jiko" | "inkan-toroku";

export const KIOSK_DOCUMENT_KINDS: Readonly<Record<KioskDocumentId, KioskDocumentKind>> = {
  juminhyo: {
    id: "juminhyo",
    nameJa: "住民票の写し",
    nameEn: "Certificate of Residence (copy of the resident record)",
    certifyingLineJa: "この写しは、住民票の原本と相違ないことを証明する。",
  },
  "juminhyo-kisai-jiko": {
    id: "juminhyo-kisai-jiko",
    nameJa: "住民票記載事項証明書",
    nameEn: "Certificate of Entries in the Resident Record",
    certifyingLineJa: "上記の事項は、住民票に記載されている事項と相違ないことを証明する。",
  },
  "inkan-toroku": {
    id: "inkan-toroku",
    nameJa: "印鑑登録証明書",
    nameEn: "Certificate of Seal Registration",
    certifyingLineJa: "この写しは、登録されている印影と相違ないことを証明する。",
  },
};

/** One document as a municipality offers it: which kind and the fee per copy. */
export interface KioskOffer {
  document: KioskDocumentId;
  feeYen: number;
}

/** "HH:MM" in JST. */
export type ClockTime = string;

/** "MM-DD": a day of the year, in JST. */
export type MonthDay = string;

export interface KioskHours {
  /** First minute the service is open (inclusive), JST. */
  opens: ClockTime;
  /** The service closes at this time (exclusive: at 23:00:00 it is closed), JST. */
  closes: ClockTime;
  /** Days closed all day, as ranges of MM-DD; a range may run over the new year (12-29 → 01-03). */
  closedPeriods: readonly { from: MonthDay; to: MonthDay }[];
}

export interface KioskConfig {
  hours: KioskHours;
  /** What every municipality offers unless listed in `municipalities`. */
  defaultOffers: readonly KioskOffer[];
  /** Per-municipality catalogues, by the 6-digit code; an entry replaces the default. */
  municipalities: Readonly<Record<string, readonly KioskOffer[]>>;
  /** Most copies of one document in one issuance. */
  maxCopies: number;
}

export const DEFAULT_KIOSK_HOURS: KioskHours = {
  opens: "06:30",
  closes: "23:00",
  closedPeriods: [{ from: "12-29", to: "01-03" }],
};

export const DEFAULT_KIOSK_OFFERS: readonly KioskOffer[] = [
  { document: "juminhyo", feeYen: 200 },
  { document: "juminhyo-kisai-jiko", feeYen: 200 },
  { document: "inkan-toroku", feeYen: 200 },
];

export const DEFAULT_KIOSK_CONFIG: KioskConfig = {
  hours: DEFAULT_KIOSK_HOURS,
  defaultOffers: DEFAULT_KIOSK_OFFERS,
  // 町田市 (132098): the default catalogue and fees (see the note at the top).
  municipalities: {},
  maxCopies: 10,
};

/** The documents `municipalityCode` offers at the kiosk, with their names and fees. */
export function kioskOffersFor(config: KioskConfig, municipalityCode: string): (KioskDocumentKind & { feeYen: number })[] {
  const offers = config.municipalities[municipalityCode] ?? config.defaultOffers;
  return offers.map((o) => ({ ...KIOSK_DOCUMENT_KINDS[o.document], feeYen: o.feeYen }));
}

/**
 * Check a configuration when it is loaded, so a typo in an hour or a fee fails at start-up and
 * not at a resident's kiosk.
 */
export function checkKioskConfig(config: KioskConfig): KioskConfig {
  const time = /^([01]\d|2[0-3]):[0-5]\d$/;
  const day = /^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;
  const { hours } = config;
  if (!time.test(hours.opens) || !time.test(hours.closes)) throw new Error(`kiosk hours: opens/closes must be HH:MM, got ${hours.opens}–${hours.closes}`);
  if (hours.opens >= hours.closes) throw new Error(`kiosk hours: opens (${hours.opens}) must be before closes (${hours.closes})`);
  for (const p of hours.closedPeriods) {
    if (!day.test(p.from) || !day.test(p.to)) throw new Error(`kiosk hours: closed periods are MM-DD ranges, got ${p.from} → ${p.to}`);
  }
  if (!Number.isInteger(config.maxCopies) || config.maxCopies < 1) throw new Error(`kiosk maxCopies: a positive integer, got ${config.maxCopies}`);
  const lists = [config.defaultOffers, ...Object.values(config.municipalities)];
  for (const offers of lists) {
    for (const o of offers) {
      if (!(o.document in KIOSK_DOCUMENT_KINDS)) throw new Error(`kiosk offer: unknown document ${o.document}`);
      if (!Number.isInteger(o.feeYen) || o.feeYen < 0) throw new Error(`kiosk offer ${o.document}: fee must be a whole number of yen, got ${o.feeYen}`);
    }
  }
  return config;
}
