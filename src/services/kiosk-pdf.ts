/**
 * The kiosk's documents as PDF. This module and notices-pdf.ts are imported lazily
 * (`await import(...)`) where a PDF is made, never at the top of another module: pdf-lib and
 * fontkit cost ≈0.6 s and ≈45 MB at start-up (measured on the 2-core bench machine), which every
 * CLI command, the server and the CRL builder would otherwise pay without making a PDF.
 */
import { PDFDocument, rgb, degrees, type PDFFont, type PDFPage, type RGB } from "pdf-lib";
import fontkit from "@pdf-lib/fontkit";
import { formatJapaneseEra } from "../profile/era.ts";
import { GENDER_LABEL } from "../profile/attributes.ts";
import { japanDateOf, type JapanDate } from "../rules/japan-date.ts";
import type { KioskDocumentKind } from "../config/kiosk-documents.ts";
import { ServiceError } from "./errors.ts";
import { groupCode } from "./kiosk.ts";
import { findFont, loadFont, missingGlyphs, subsetName, A4, MARGIN, INK, GREY, RULE, ACCENT, WARN } from "./pdf-fonts.ts";

/** Where IPA Gothic is looked for (kept here for existing importers; the list lives in pdf-fonts.ts). */
export { IPA_GOTHIC_PATHS } from "./pdf-fonts.ts";

export interface KioskPdfInput {
  document: KioskDocumentKind;
  resident: {
    name: string;
    address: string;
    birth: JapanDate;
    gender: "1" | "2" | "3";
    /** The Japan date the person became a resident of the municipality (住民となった年月日). */
    residentSince: JapanDate;
  };
  municipality: { code: string; prefectureJa: string; cityJa: string; cityRomaji: string };
  issueNumber: string;
  /** As stored (16 characters); printed in groups of four. */
  verificationCode: string;
  issuedAt: Date;
  kioskId: string;
  feeYen: number;
  copies: number;
  /** Where the issue number and code can be checked (printed on the document). */
  verifyUrl: string;
}

export interface KioskPdfOptions {
  /** A TrueType/OpenType font with Japanese glyphs; by default IPA Gothic from the places above. */
  fontPath?: string;
}


/**
 * The document a kiosk prints, as a one-page A4 PDF with IPA Gothic embedded as a subset (so
 * the text is searchable and the file stays small). The same input gives the same bytes: the
 * PDF's dates are the issuance time, the subset's name comes from the issue number and pdf-lib
 * writes no file identifier, so a document can be rendered again and hashed for comparison.
 */
export async function renderKioskPdf(input: KioskPdfInput, options: KioskPdfOptions = {}): Promise<Uint8Array> {
  const fontFile = await loadFont(findFont(options.fontPath));
  // A certified copy must not leave out a character it cannot print (the font lacks about half of
  // JIS X 0212, which the register accepts): refused, as コンビニ交付 refuses names with 外字.
  const missing = missingGlyphs(fontFile, `${input.resident.name}${input.resident.address}`);
  if (missing.length > 0) {
    throw new ServiceError(
      "refused",
      `氏名または住所に、この端末で印字できない文字（${missing.join("")}）があるため、コンビニ交付できません。窓口で請求してください / ` +
        `the name or address has characters the kiosk cannot print (${missing.map((c) => `U+${c.codePointAt(0)!.toString(16).toUpperCase()}`).join(", ")}): ask at the counter`,
      "resident",
      { reason: "unprintable-character" },
    );
  }
  const pdf = await PDFDocument.create({ updateMetadata: false });
  pdf.registerFontkit(fontkit);
  const font = await pdf.embedFont(fontFile.bytes, { subset: true, customName: subsetName(fontFile.postscriptName, input.issueNumber) });

  const cityFull = `${input.municipality.prefectureJa}${input.municipality.cityJa}`;
  pdf.setTitle(`${input.document.nameJa}（${cityFull}・交付番号 ${input.issueNumber}）`);
  pdf.setAuthor(`${cityFull}（OpenJPKI デモ）`);
  pdf.setSubject(`${input.document.nameJa} / ${input.document.nameEn} — OpenJPKI demonstration`);
  pdf.setKeywords(["OpenJPKI", "コンビニ交付", input.issueNumber]);
  pdf.setProducer("OpenJPKI");
  pdf.setCreator("OpenJPKI kiosk (コンビニ交付)");
  pdf.setCreationDate(input.issuedAt);
  pdf.setModificationDate(input.issuedAt);
  pdf.setLanguage("ja-JP");

  const page = pdf.addPage([A4.width, A4.height]);
  const w = new Writer(page, font);
  const left = MARGIN;
  const right = A4.width - MARGIN;
  const width = right - left;

  // A faint diagonal mark across the page: nobody should mistake this for a real certificate.
  page.drawText("OpenJPKI DEMO 見本", {
    x: 95,
    y: 215,
    size: 56,
    font,
    color: rgb(0.92, 0.92, 0.94),
    rotate: degrees(35),
  });

  // Header: the コンビニ交付 marker on the left, the demo notice on the right.
  let y = A4.height - MARGIN;
  const marker = "コンビニ交付";
  const markerWidth = font.widthOfTextAtSize(marker, 10) + 12;
  page.drawRectangle({ x: left, y: y - 16, width: markerWidth, height: 18, borderColor: ACCENT, borderWidth: 1 });
  w.text(marker, left + 6, y - 11.5, 10, ACCENT);
  w.textRight("OpenJPKI デモンストレーション文書 / Demonstration", right, y - 11.5, 8.5, WARN);
  y -= 58;

  // Title.
  w.textCentered(input.document.nameJa, A4.width / 2, y, 24, INK);
  y -= 18;
  w.textCentered(input.document.nameEn, A4.width / 2, y, 9, GREY);
  y -= 30;

  // What goes on the page, measured first so that long names and addresses still fit on one page:
  // the entries' type size and the spacing shrink until everything lies above the footer.
  const labelWidth = 132;
  const valueWidth = width - labelWidth - 24;
  const rows: [string, string, string][] = [
    ["氏名", "Name", input.resident.name],
    ["生年月日", "Date of birth", `${eraDate(input.resident.birth)}（${westernDate(input.resident.birth)}）`],
    ["性別", "Gender", GENDER_LABEL[input.resident.gender].ja],
    ["住所", "Address", input.resident.address],
  ];
  if (input.document.id !== "inkan-toroku") {
    rows.push(["住民となった年月日", "Resident since", `${eraDate(input.resident.residentSince)}（${westernDate(input.resident.residentSince)}）`]);
    rows.push(["個人番号", "Individual Number", "記載省略（コンビニ交付では記載しません）"]);
  }
  const issued = input.issuedAt;
  const issueRows: [string, string, number][] = [
    ["交付番号 / Issue number", input.issueNumber, 12],
    ["照合番号 / Verification code", groupCode(input.verificationCode), 12],
    ["交付日時 / Issued", `${eraDate(japanDateOf(issued))} ${jstTime(issued)}（${westernDate(japanDateOf(issued))} ${jstTime(issued, true)} JST）`, 10],
    ["交付場所 / Kiosk", `コンビニ交付 端末 ${input.kioskId}`, 10],
    ["手数料 / Fee", `${input.feeYen / input.copies}円 × ${input.copies}通 = ${input.feeYen}円`, 10],
  ];
  const checkJa = wrap(
    `改ざん確認：${input.verifyUrl} で交付番号と照合番号を入力すると、交付の記録（証明書の種類・市区町村・交付日時・PDFファイルのSHA-256）が表示されます。お手元のPDFファイルのSHA-256（例: sha256sum ファイル名）が表示された値と一致すれば、交付されたときのままです。`,
    font,
    8.5,
    width - 24,
  );
  const checkEn = wrap(
    `Tamper check: enter the issue number and verification code at ${input.verifyUrl}; the record shown (document, municipality, time of issue, SHA-256 of the PDF) must match the SHA-256 of this file.`,
    font,
    7.5,
    width - 24,
  );
  const sealBox = input.document.id === "inkan-toroku" ? 84 : 0;
  const footerTop = MARGIN + 44 + 10;
  const tableTop = y;
  const layout = chooseLayout((size, gaps) => {
    const lines = rows.map((r) => wrap(r[2], font, size, valueWidth));
    const heights = lines.map((l) => rowHeight(l.length, size));
    const issueBox = 16 + issueRows.length * gaps.issueRow + checkJa.length * 12.5 + checkEn.length * 11 + 4;
    const bottom =
      tableTop -
      heights.reduce((a, b) => a + b, 0) -
      (sealBox ? gaps.beforeSeal + sealBox : 0) -
      (gaps.afterTable + gaps.certDate + gaps.mayor + 16) -
      (gaps.beforeBox + issueBox);
    return bottom >= footerTop ? { size, gaps, lines, heights } : undefined;
  });

  // The entries.
  page.drawLine({ start: { x: left, y }, end: { x: right, y }, thickness: 1, color: INK });
  rows.forEach(([labelJa, labelEn], i) => {
    const lines = layout.lines[i]!;
    const height = layout.heights[i]!;
    const size = layout.size;
    page.drawRectangle({ x: left, y: y - height, width: labelWidth, height, color: rgb(0.95, 0.95, 0.96) });
    w.text(labelJa, left + 8, y - 17, 11, INK);
    w.text(labelEn, left + 8, y - 29, 7.5, GREY);
    // One line sits in the middle of the row; several start from its top.
    const first = lines.length === 1 ? y - height / 2 - size * 0.35 : y - 8 - size;
    lines.forEach((line, j) => w.text(line, left + labelWidth + 12, first - j * lineHeight(size), size, INK));
    y -= height;
    page.drawLine({ start: { x: left, y }, end: { x: right, y }, thickness: 0.5, color: RULE });
  });
  page.drawLine({ start: { x: left + labelWidth, y }, end: { x: left + labelWidth, y: tableTop }, thickness: 0.5, color: RULE });
  page.drawLine({ start: { x: left, y }, end: { x: right, y }, thickness: 1, color: INK });
  const { gaps } = layout;

  if (sealBox) {
    y -= gaps.beforeSeal;
    page.drawRectangle({ x: left, y: y - sealBox, width: sealBox, height: sealBox, borderColor: RULE, borderWidth: 1, borderDashArray: [3, 3] });
    w.textCentered("印影", left + sealBox / 2, y - sealBox / 2 + 2, 11, GREY);
    w.textCentered("（デモのため表示なし）", left + sealBox / 2, y - sealBox / 2 - 13, 6.5, GREY);
    w.text("登録されている印影 / registered seal impression", left + sealBox + 14, y - 18, 9, GREY);
    w.text("OpenJPKI は印鑑登録を扱わないため、印影は表示しません。", left + sealBox + 14, y - 33, 9, GREY);
    y -= sealBox;
  }

  // The certification.
  y -= gaps.afterTable;
  w.text(input.document.certifyingLineJa, left + 14, y, 12.5, INK);
  y -= gaps.certDate;
  w.text(eraDate(japanDateOf(input.issuedAt)), left + 14, y, 12.5, INK);
  y -= gaps.mayor;
  w.textRight(`${cityFull}長`, right - 14, y, 15, INK);
  y -= 16;
  w.textRight("（公印省略 — OpenJPKI のデモのため公印はありません）", right - 14, y, 8, GREY);

  // The issuance record and how to check it.
  y -= gaps.beforeBox;
  const boxTop = y;
  y -= 16 + 4;
  for (const [label, value, size] of issueRows) {
    w.text(label, left + 12, y, 8.5, GREY);
    w.text(value, left + 170, y, size, INK);
    y -= gaps.issueRow;
  }
  y += gaps.issueRow - 17;
  for (const line of checkJa) {
    w.text(line, left + 12, y, 8.5, INK);
    y -= 12.5;
  }
  for (const line of checkEn) {
    w.text(line, left + 12, y, 7.5, GREY);
    y -= 11;
  }
  y += 3;
  page.drawRectangle({ x: left, y, width, height: boxTop - y, borderColor: RULE, borderWidth: 0.75 });
  if (y < footerTop - 1) throw new Error(`kiosk PDF layout: the content runs into the footer (${y.toFixed(1)} < ${footerTop})`);

  // The demonstration notice at the foot of the page.
  const footY = MARGIN + 34;
  page.drawRectangle({ x: left, y: MARGIN - 6, width, height: 50, color: rgb(0.99, 0.95, 0.94), borderColor: WARN, borderWidth: 0.75 });
  w.textCentered("これは OpenJPKI のデモンストレーション用の文書です。公的な証明書ではありません。", A4.width / 2, footY - 4, 10, WARN);
  w.textCentered("This is a demonstration document produced by OpenJPKI. It is not a real certificate and certifies nothing.", A4.width / 2, footY - 20, 8, WARN);
  w.textCentered(`${cityFull}（${input.municipality.code}）の名称は表示例として使っています / the municipality is named for illustration only`, A4.width / 2, footY - 33, 7, GREY);

  return pdf.save({ useObjectStreams: true });
}

interface Gaps {
  beforeSeal: number;
  afterTable: number;
  certDate: number;
  mayor: number;
  beforeBox: number;
  issueRow: number;
}

const GAPS: readonly Gaps[] = [
  { beforeSeal: 22, afterTable: 40, certDate: 30, mayor: 34, beforeBox: 34, issueRow: 19 },
  { beforeSeal: 12, afterTable: 24, certDate: 22, mayor: 24, beforeBox: 16, issueRow: 15 },
];
const VALUE_SIZES = [13, 12, 11, 10, 9, 8, 7];

function lineHeight(size: number): number {
  return Math.round(size * 1.4 * 10) / 10;
}

function rowHeight(lines: number, size: number): number {
  return Math.max(lines === 1 && size >= 10 ? 40 : 34, 14 + lines * lineHeight(size));
}

/** The roomiest layout that fits: normal spacing with the largest type, then tighter spacing. */
function chooseLayout<T>(fit: (size: number, gaps: Gaps) => T | undefined): T {
  for (const gaps of GAPS) {
    for (const size of VALUE_SIZES) {
      const layout = fit(size, gaps);
      if (layout) return layout;
    }
  }
  throw new ServiceError("invalid-input", "氏名と住所が長すぎて1ページの証明書に収まりません / the name and address are too long for a one-page document", "resident");
}

/** Draws text in one font; positions are PDF points from the bottom left. */
class Writer {
  constructor(
    private readonly page: PDFPage,
    private readonly font: PDFFont,
  ) {}

  text(text: string, x: number, y: number, size: number, color: RGB): void {
    this.page.drawText(text, { x, y, size, font: this.font, color });
  }

  textCentered(text: string, cx: number, y: number, size: number, color: RGB): void {
    this.text(text, cx - this.font.widthOfTextAtSize(text, size) / 2, y, size, color);
  }

  textRight(text: string, rx: number, y: number, size: number, color: RGB): void {
    this.text(text, rx - this.font.widthOfTextAtSize(text, size), y, size, color);
  }
}

/**
 * Break text into lines no wider than `max`: between any two Japanese characters, and at
 * spaces (or, for a word too long for a line, anywhere) in Latin text.
 */
export function wrap(text: string, font: PDFFont, size: number, max: number): string[] {
  const tokens = text.match(/[\x21-\x7e]+|\s|[^\x21-\x7e\s]/gu) ?? [];
  const lines: string[] = [];
  let line = "";
  const fits = (s: string) => font.widthOfTextAtSize(s, size) <= max;
  for (const token of tokens) {
    if (fits(line + token)) {
      line += token;
      continue;
    }
    if (line.trim()) lines.push(line.trimEnd());
    line = /^\s$/u.test(token) ? "" : token;
    while (!fits(line)) {
      let cut = line.length - 1;
      while (cut > 1 && !fits(line.slice(0, cut))) cut--;
      lines.push(line.slice(0, cut));
      line = line.slice(cut);
    }
  }
  if (line.trim()) lines.push(line.trimEnd());
  return lines;
}

function eraDate(date: JapanDate): string {
  try {
    return formatJapaneseEra(date);
  } catch {
    return westernDate(date);
  }
}

function westernDate(date: JapanDate): string {
  return `${Number(date.slice(0, 4))}年${Number(date.slice(5, 7))}月${Number(date.slice(8, 10))}日`;
}

function jstTime(instant: Date, numeric = false): string {
  const jst = new Date(instant.getTime() + 9 * 3600_000);
  const h = jst.getUTCHours();
  const m = jst.getUTCMinutes();
  return numeric ? `${String(h).padStart(2, "0")}:${String(m).padStart(2, "0")}` : `${h}時${String(m).padStart(2, "0")}分`;
}

