/**
 * The offices where residents do the window procedures. The default configuration has Machida
 * City's My Number Card Center and its citizen centres, with the contact the city's page gives
 * (市民部 市民課). The page links each centre's access map but gives no addresses or hours, so
 * those stay unset here rather than guessed; a deployment fills them in.
 */
export interface OfficeConfig {
  id: string;
  municipalityCode: string;
  nameJa: string;
  nameEn: string;
  address: string | null;
  phone: string | null;
  hours: string | null;
}

export const MACHIDA_CONTACT = {
  nameJa: "町田市 市民部 市民課",
  nameEn: "Machida City, Citizens Division (市民部 市民課)",
  phone: "042-860-6195",
  fax: "050-3085-6262",
  switchboard: "042-722-3111",
} as const;

export const DEFAULT_OFFICES: readonly OfficeConfig[] = [
  { id: "machida-mnc", municipalityCode: "132098", nameJa: "マイナンバーカードセンター", nameEn: "My Number Card Center", address: null, phone: MACHIDA_CONTACT.phone, hours: null },
  { id: "machida-tadao", municipalityCode: "132098", nameJa: "忠生市民センター", nameEn: "Tadao Citizen Center", address: null, phone: null, hours: null },
  { id: "machida-tsurukawa", municipalityCode: "132098", nameJa: "鶴川市民センター", nameEn: "Tsurukawa Citizen Center", address: null, phone: null, hours: null },
  { id: "machida-minami", municipalityCode: "132098", nameJa: "南市民センター", nameEn: "Minami Citizen Center", address: null, phone: null, hours: null },
  { id: "machida-naruse", municipalityCode: "132098", nameJa: "なるせ駅前市民センター", nameEn: "Naruse Ekimae Citizen Center", address: null, phone: null, hours: null },
  { id: "machida-sakai", municipalityCode: "132098", nameJa: "堺市民センター", nameEn: "Sakai Citizen Center", address: null, phone: null, hours: null },
  { id: "machida-oyama", municipalityCode: "132098", nameJa: "小山市民センター", nameEn: "Oyama Citizen Center", address: null, phone: null, hours: null },
];
