/**
 * Machida City's offices for My Number Card certificates, as the resident pages show them. The
 * offices and the page's contact come from the shared configuration (src/config/offices.ts, from
 * the city's page: ../shared/seed/machida-city-jpki-page.txt), through the staff directory that
 * seeds them (services/counter/staff.ts). That page names the offices and links each one's access
 * map but gives no addresses or hours, so those stay unset there; the pages then point to the
 * access maps and to the contact instead of guessing.
 */
import { DEFAULT_OFFICES, MACHIDA_CONTACT as CONTACT } from "../services/counter/staff.ts";

export interface Office {
  id: string;
  nameJa: string;
  nameEn: string;
  address: string | null;
  phone: string | null;
  hours: string | null;
  /** What the access-map link on the city's page covers. */
  accessMapJa: string;
  accessMapEn: string;
}

/** Which access maps on the city's page also cover parking (所在地、周辺地図、駐車場等). */
const WITH_PARKING = new Set(["machida-tadao", "machida-tsurukawa", "machida-minami", "machida-oyama"]);

export const MACHIDA_OFFICES: readonly Office[] = DEFAULT_OFFICES.filter((o) => o.municipalityCode === "132098").map((o) => ({
  id: o.id,
  nameJa: o.nameJa,
  nameEn: o.nameEn,
  address: o.address,
  phone: o.phone,
  hours: o.hours,
  accessMapJa: WITH_PARKING.has(o.id) ? "所在地、周辺地図、駐車場等" : "所在地、周辺地図",
  accessMapEn: WITH_PARKING.has(o.id) ? "address, map and parking" : "address and map",
}));

export const MACHIDA_CONTACT = {
  nameJa: CONTACT.nameJa,
  nameEn: CONTACT.nameEn,
  phone: CONTACT.phone,
  fax: CONTACT.fax,
  mainPhone: CONTACT.switchboard,
} as const;
