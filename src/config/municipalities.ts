/**
 * Municipalities the default configuration knows. Codes are the 6-digit 全国地方公共団体コード
 * (JIS X 0402 plus its check digit); romanised names are what the signing certificate's
 * subject L= attributes and the CRL partition names carry.
 */
export interface Municipality {
  code: string;
  prefectureJa: string;
  prefectureRomaji: string;
  cityJa: string;
  cityRomaji: string;
}

export const DEFAULT_MUNICIPALITIES: readonly Municipality[] = [
  { code: "132098", prefectureJa: "東京都", prefectureRomaji: "Tokyo-to", cityJa: "町田市", cityRomaji: "Machida-shi" },
  { code: "131016", prefectureJa: "東京都", prefectureRomaji: "Tokyo-to", cityJa: "千代田区", cityRomaji: "Chiyoda-ku" },
  { code: "131041", prefectureJa: "東京都", prefectureRomaji: "Tokyo-to", cityJa: "新宿区", cityRomaji: "Shinjuku-ku" },
  { code: "141003", prefectureJa: "神奈川県", prefectureRomaji: "Kanagawa-ken", cityJa: "横浜市", cityRomaji: "Yokohama-shi" },
  { code: "011002", prefectureJa: "北海道", prefectureRomaji: "Hokkaido", cityJa: "札幌市", cityRomaji: "Sapporo-shi" },
  { code: "261009", prefectureJa: "京都府", prefectureRomaji: "Kyoto-fu", cityJa: "京都市", cityRomaji: "Kyoto-shi" },
  { code: "271004", prefectureJa: "大阪府", prefectureRomaji: "Osaka-fu", cityJa: "大阪市", cityRomaji: "Osaka-shi" },
  { code: "472018", prefectureJa: "沖縄県", prefectureRomaji: "Okinawa-ken", cityJa: "那覇市", cityRomaji: "Naha-shi" },
];

/** The JIS X 0402 check digit: weights 6..2 over the five digits, 11 minus the remainder, last digit. */
export function isValidMunicipalityCode(code: string): boolean {
  if (!/^\d{6}$/.test(code)) return false;
  const digits = [...code].map(Number);
  const sum = digits.slice(0, 5).reduce((acc, d, i) => acc + d * (6 - i), 0);
  return (11 - (sum % 11)) % 10 === digits[5];
}
