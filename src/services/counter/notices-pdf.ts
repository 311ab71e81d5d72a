import { PDFDocument, rgb, degrees, type PDFFont, type PDFPage, type RGB } from "pdf-lib";
import { setImmediate as nextTurn } from "node:timers/promises";
import fontkit from "@pdf-lib/fontkit";
import { formatJapaneseEra } from "../../profile/era.ts";
import { japanDateOf, type JapanDate } from "../../rules/japan-date.ts";
import { findFont, loadFont, missingGlyphs, GETA, subsetName, type LoadedFont, A4, MARGIN, INK, GREY, RULE, ACCENT, WARN } from "../pdf-fonts.ts";
import { wrap } from "../kiosk-pdf.ts";

/** Who a notice is mailed to: the resident at their registered address. */
export interface Addressee {
  name: string;
  address: string;
}

/** Who sends it: the municipality, the office and the contact printed on the letter. */
export interface Sender {
  /** 東京都町田市 */
  municipalityJa: string;
  /** マイナンバーカードセンター */
  officeJa: string;
  /** 町田市 市民部 市民課 */
  contactJa: string;
  phone: string | null;
  fax: string | null;
}

export interface NoticePdfOptions {
  fontPath?: string;
}

export interface ProxyInquiryInput {
  addressee: Addressee;
  sender: Sender;
  applicationId: string;
  procedure: { ja: string; en: string };
  proxy: { name: string; relationship: string; typeJa: string };
  startedOn: JapanDate;
  expiresOn: JapanDate;
  answerCode: string;
  issuedAt: Date;
}

export interface IssuanceNoticeInput {
  addressee: Addressee;
  sender: Sender;
  cardId: string;
  /** The day the certificates were loaded: their issuance date. */
  producedDate: JapanDate;
  cardExpires: JapanDate;
  certificates: { type: "auth" | "sign"; expires: JapanDate }[];
  issuedAt: Date;
}

export interface ExpiryNoticeEntry {
  addressee: Addressee;
  residentId: string;
  cardId: string | null;
  certificates: { type: "auth" | "sign"; expires: JapanDate; renewalFrom: JapanDate }[];
  /** The resident's own municipality as sender, when a run covers several; else the run's sender. */
  sender?: Sender;
}


export const CERT_LABEL = {
  auth: { ja: "利用者証明用電子証明書", en: "authentication certificate" },
  sign: { ja: "署名用電子証明書", en: "signing certificate" },
} as const;

/**
 * 照会書兼回答書: mailed to the holder's registered address when a proxy applies. The holder
 * fills in the answer box and hands the form to the proxy, who brings it on a second visit; the
 * answer code printed here is what the counter checks (it is stored only as a hash).
 */
export async function renderProxyInquiry(input: ProxyInquiryInput, options: NoticePdfOptions = {}): Promise<Uint8Array> {
  const doc = await NoticeDocument.create(`照会書兼回答書（${input.applicationId}）`, input.applicationId, input.issuedAt, options);
  const s = doc.page("代理人申請");
  s.addressBlock(input.addressee, input.sender, input.issuedAt);
  s.title("照会書兼回答書", "Inquiry and answer form — application by a proxy (代理人)");
  s.paragraph(
    `あなたの代理人として、次の方から下記の手続きの申請がありました。この申請があなたの意思によるものであるか確認するため、照会します。` +
      `代理人に手続きを依頼した場合は、下の回答欄にご本人が記入して、この書面を代理人にお渡しください。代理人は、この書面と代理人ご自身の本人確認書類を持って、もう一度窓口にお越しください。` +
      `申請した日と同じ日に手続きを完了することはできません。`,
    10,
  );
  s.paragraph(
    "A proxy has applied for the procedure below on your behalf. If you asked them to, fill in the answer box and give this form to the proxy, who brings it and their own photo ID to the counter on a second visit. The procedure cannot be completed on the day of the application.",
    7.5,
    GREY,
  );
  s.gap(6);
  s.table([
    ["申請の内容", "Procedure", `${input.procedure.ja}（${input.procedure.en}）`],
    ["代理人の氏名", "Proxy", input.proxy.name],
    ["本人との関係", "Relationship", `${input.proxy.relationship}（${input.proxy.typeJa}）`],
    ["申請日", "Applied on", `${eraDate(input.startedOn)}（${westernDate(input.startedOn)}）`],
    ["回答期限", "Bring back by", `${eraDate(input.expiresOn)}（${westernDate(input.expiresOn)}）まで`],
    ["受付番号", "Application", input.applicationId],
    ["回答番号", "Answer code", input.answerCode],
  ]);
  s.gap(10);
  s.answerBox(
    "回答欄（ご本人が記入してください）/ Answer (to be filled in by the holder)",
    [
      "私は、上記の代理人に、上記の手続きを委任します。 / I ask the proxy above to carry out this procedure for me.",
      "記入日 / Date:　　　　年　　月　　日",
      "",
      "氏名（自署）/ Name (own hand):",
      "",
      "※暗証番号は記入しないでください。暗証番号は手続きの日に窓口の端末で入力します。",
    ],
  );
  s.gap(4);
  s.paragraph("この照会書兼回答書は、申請した代理人ではなく、住民票の住所のご本人あてにお送りしています。心当たりのない場合は、下記までご連絡ください。", 8.5);
  s.contact(input.sender);
  return doc.save();
}

/**
 * 交付通知書: the card is ready. It shows the certificates' expiry dates where the card face
 * would show them (on the real card they are written by hand in the 電子証明書の有効期限 box).
 */
export async function renderIssuanceNotice(input: IssuanceNoticeInput, options: NoticePdfOptions = {}): Promise<Uint8Array> {
  const doc = await NoticeDocument.create(`交付通知書（${input.cardId}）`, input.cardId, input.issuedAt, options);
  const s = doc.page("交付通知書");
  s.addressBlock(input.addressee, input.sender, input.issuedAt);
  s.title("個人番号カード交付通知書", "Notice: your My Number Card is ready for pickup");
  s.paragraph(
    `マイナンバーカード（個人番号カード）の準備ができました。この通知書と本人確認書類を持って、${input.sender.officeJa}でお受け取りください。` +
      `電子証明書の発行日はカードに電子証明書が搭載された日で、カードを受け取った日（交付日）とは異なります。`,
    10,
  );
  s.paragraph(
    "Your card is ready. Bring this notice and photo ID to the office. The certificates were issued on the day they were loaded onto the card, which differs from the day you receive it.",
    7.5,
    GREY,
  );
  s.gap(6);
  const rows: [string, string, string][] = [
    ["カード番号（管理用）", "Card", input.cardId],
    ["電子証明書の発行日", "Certificates issued", `${eraDate(input.producedDate)}（${westernDate(input.producedDate)}）`],
    ["カードの有効期限", "Card expires", `${eraDate(input.cardExpires)}（${westernDate(input.cardExpires)}）`],
  ];
  for (const c of input.certificates) rows.push([`${c.type === "auth" ? "利用者証明用" : "署名用"}の有効期限`, `${c.type} certificate expires`, `${eraDate(c.expires)}（${westernDate(c.expires)}）`]);
  if (input.certificates.length === 0) rows.push(["電子証明書", "Certificates", "搭載なし / none loaded"]);
  s.table(rows);
  s.gap(14);
  // The card face's hand-written box, reproduced: what the clerk writes on the card at handover.
  const shown = input.certificates.length > 0 ? input.certificates.map((c) => c.expires).sort()[0]! : null;
  s.answerBox("券面記載欄（電子証明書の有効期限）/ As written on the card face", [
    shown ? `電子証明書の有効期限　${eraDate(shown)}（${shown}）` : "電子証明書　搭載なし",
    `カードの有効期限　${eraDate(input.cardExpires)}（${input.cardExpires}）`,
  ]);
  s.gap(10);
  s.paragraph("受け取りの際に、窓口の端末で暗証番号（署名用：英数字6〜16桁、利用者証明用：数字4桁）を設定します。", 9);
  s.contact(input.sender);
  return doc.save();
}

/**
 * 有効期限通知書: one page per resident whose certificates expire soon, or more than one when
 * the resident holds more certificates than one page lists (nothing stops a resident from
 * holding many): the list then continues overleaf.
 */
export async function renderExpiryNotices(
  input: { sender: Sender; entries: ExpiryNoticeEntry[]; runDate: JapanDate; issuedAt: Date; onPage?: (done: number) => void },
  options: NoticePdfOptions = {},
): Promise<Uint8Array> {
  const doc = await NoticeDocument.create(`有効期限通知書（${input.runDate}）`, `expiry:${input.runDate}`, input.issuedAt, options);
  let done = 0;
  for (const entry of input.entries) {
    // A turn for the event loop before each notice. Drawing one takes a few milliseconds (fontkit
    // lays the CJK text out glyph by glyph), so a municipality's run of thousands drawn in one go
    // held the server for many seconds (6,753 notices: 18.7 s) and every other request, /healthz
    // among them, waited. A turn costs microseconds; pdf-lib's save() yields on its own.
    if (done > 0) await nextTurn();
    const s = doc.page("有効期限通知", `${entry.addressee.name}　様（${entry.residentId}）`);
    const from = entry.sender ?? input.sender;
    s.addressBlock(entry.addressee, from, input.issuedAt);
    s.title("電子証明書有効期限通知書", "Notice: your electronic certificates expire soon");
    s.paragraph(
      "マイナンバーカードに搭載されている電子証明書の有効期限が近づいています。有効期限の3か月前から、窓口で更新の手続きができます（手数料は無料です）。" +
        "マイナンバーカードを持って、ご本人がお越しください。更新の際は、窓口の端末で暗証番号を入力します。",
      10,
    );
    s.paragraph("Your certificates expire soon. You can renew them at the counter from three months before expiry, free of charge: bring your card and your PINs.", 7.5, GREY);
    s.gap(6);
    const rows: [string, string, string][] = [["住民番号（管理用）", "Resident", entry.residentId]];
    if (entry.cardId) rows.push(["カード番号（管理用）", "Card", entry.cardId]);
    for (const c of entry.certificates) {
      rows.push([`${CERT_LABEL[c.type].ja}`, `${c.type} certificate`, `有効期限 ${eraDate(c.expires)}（${c.expires}）／ 更新は ${westernDate(c.renewalFrom)} から`]);
    }
    s.table(rows);
    s.gap(10);
    s.paragraph("有効期限を過ぎると、e-Tax やマイナポータル、コンビニ交付などで電子証明書が使えなくなります。期限後は新規発行の手続きになります（無料）。", 9);
    s.contact(from);
    done++; // not inside onPage?.(…): its arguments are not evaluated when there is no onPage
    input.onPage?.(done);
  }
  if (input.entries.length === 0) {
    const s = doc.page("有効期限通知");
    s.title("電子証明書有効期限通知書", "Expiry notices");
    s.paragraph(`${westernDate(input.runDate)} の通知対象者はいません / nobody to notify for this run.`, 10);
  }
  return doc.save();
}

/** One PDF document of A4 notice pages in IPA Gothic, with the demonstration marks. */
class NoticeDocument {
  private constructor(
    private readonly pdf: PDFDocument,
    private readonly font: PDFFont,
    private readonly fontFile: LoadedFont,
  ) {}

  static async create(title: string, key: string, at: Date, options: NoticePdfOptions): Promise<NoticeDocument> {
    const fontFile = await loadFont(findFont(options.fontPath));
    const pdf = await PDFDocument.create({ updateMetadata: false });
    pdf.registerFontkit(fontkit);
    const font = await pdf.embedFont(fontFile.bytes, { subset: true, customName: subsetName(fontFile.postscriptName, key) });
    pdf.setTitle(title);
    pdf.setAuthor("OpenJPKI デモ（市区町村窓口）");
    pdf.setSubject(`${title} — OpenJPKI demonstration`);
    pdf.setProducer("OpenJPKI");
    pdf.setCreator("OpenJPKI counter");
    pdf.setCreationDate(at);
    pdf.setModificationDate(at);
    pdf.setLanguage("ja-JP");
    return new NoticeDocument(pdf, font, fontFile);
  }

  /**
   * A new letter, starting on a new page. `whose` names the addressee on any continuation page,
   * so a page that comes loose from its letter still says whose it is.
   */
  page(marker: string, whose?: string): Sheet {
    // A character the font lacks (a JIS X 0212 kanji in a name) is printed as 〓, as Japanese
    // printing marks a character it cannot print, rather than silently left out.
    const printable = (text: string) => {
      const missing = missingGlyphs(this.fontFile, text);
      return missing.length === 0 ? text : [...text].map((c) => (missing.includes(c) ? GETA : c)).join("");
    };
    return new Sheet(() => this.pdf.addPage([A4.width, A4.height]), this.font, marker, whose ?? null, printable);
  }

  save(): Promise<Uint8Array> {
    return this.pdf.save({ useObjectStreams: true });
  }
}

/**
 * One letter, written top to bottom; positions are PDF points from the bottom left. What does
 * not fit above the footer continues on a further page (marked 続き) rather than being drawn
 * into the footer or dropped.
 */
class Sheet {
  private page!: PDFPage;
  private y = 0;
  private pageNumber = 0;
  private readonly left = MARGIN;
  private readonly right = A4.width - MARGIN;
  private readonly width = A4.width - 2 * MARGIN;

  constructor(
    private readonly addPage: () => PDFPage,
    private readonly font: PDFFont,
    private readonly marker: string,
    private readonly whose: string | null,
    private readonly printable: (text: string) => string = (text) => text,
  ) {
    this.startPage();
  }

  /** A fresh page: the demonstration marks, the marker box and the footer. */
  private startPage(): void {
    this.page = this.addPage();
    this.pageNumber++;
    this.y = A4.height - MARGIN;
    const font = this.font;
    const marker = this.pageNumber === 1 ? this.marker : `${this.marker}（続き）`;
    this.page.drawText("OpenJPKI DEMO 見本", { x: 95, y: 215, size: 56, font, color: rgb(0.93, 0.93, 0.95), rotate: degrees(35) });
    const markerWidth = font.widthOfTextAtSize(marker, 10) + 12;
    this.page.drawRectangle({ x: this.left, y: this.y - 16, width: markerWidth, height: 18, borderColor: ACCENT, borderWidth: 1 });
    this.text(marker, this.left + 6, this.y - 11.5, 10, ACCENT);
    this.textRight("OpenJPKI デモンストレーション文書 / OpenJPKI demonstration", this.right, this.y - 11.5, 8.5, WARN);
    this.y -= 40;
    this.footer();
    if (this.pageNumber > 1) {
      const lines = wrap(`${this.whose ?? ""}　${this.pageNumber}枚目 — 前ページからの続き / continued, page ${this.pageNumber}`.trimStart(), this.font, 10, this.width);
      for (const line of lines) {
        this.text(line, this.left, this.y, 10, INK);
        this.y -= 15;
      }
      this.y -= 9;
    }
  }

  /** Makes room for `height` points of content above `bottom`, on a further page if this one is full. */
  private room(height: number, bottom = CONTENT_BOTTOM): void {
    if (this.y - height >= bottom) return;
    // Said on the full page, in the strip kept free between the content and the footer.
    this.textRight("次ページに続きます / continued overleaf", this.right, CONTENT_BOTTOM - 10, 7.5, GREY);
    this.startPage();
  }

  addressBlock(to: Addressee, from: Sender, at: Date): void {
    const top = this.y;
    for (const line of wrap(to.address, this.font, 11, this.width * 0.55)) {
      this.text(line, this.left, this.y, 11, INK);
      this.y -= 16;
    }
    this.y -= 4;
    // A name may be as long as the register allows (100 characters): wrapped, never cut at the page edge.
    const nameLines = wrap(`${to.name}　様`, this.font, 15, this.width * 0.55 - 12);
    nameLines.forEach((line, i) => {
      if (i > 0) this.y -= 20;
      this.text(line, this.left + 12, this.y, 15, INK);
    });
    this.y -= 12;
    let ry = top;
    const today = japanDateOf(at);
    this.textRight(`${eraDate(today)}（${today}）`, this.right, ry, 9.5, INK);
    ry -= 15;
    this.textRight(`${from.municipalityJa}長`, this.right, ry, 11, INK);
    ry -= 14;
    this.textRight(`（${from.contactJa}・${from.officeJa}）`, this.right, ry, 8.5, GREY);
    ry -= 12;
    this.textRight("（公印省略 — デモのため公印はありません）", this.right, ry, 7.5, GREY);
    this.y = Math.min(this.y, ry) - 18;
  }

  title(ja: string, en: string): void {
    this.textCentered(ja, A4.width / 2, this.y, 20, INK);
    this.y -= 16;
    this.textCentered(en, A4.width / 2, this.y, 8.5, GREY);
    this.y -= 20;
  }

  paragraph(text: string, size: number, color: RGB = INK): void {
    for (const line of wrap(text, this.font, size, this.width)) {
      this.room(size * 0.3); // the baseline plus the glyphs' descent
      this.text(line, this.left, this.y, size, color);
      this.y -= Math.round(size * 1.5 * 10) / 10;
    }
    this.y -= 4;
  }

  gap(points: number): void {
    this.y -= points;
  }

  /** Rows of label (Japanese, English) and value; a table too long for the page goes on over the next. */
  table(rows: [string, string, string][]): void {
    const labelWidth = 150;
    let top = this.y;
    // Each page's part of the table is closed by its own rules, the next part opened with a top rule.
    const close = () => {
      this.page.drawLine({ start: { x: this.left + labelWidth, y: this.y }, end: { x: this.left + labelWidth, y: top }, thickness: 0.5, color: RULE });
      this.page.drawLine({ start: { x: this.left, y: this.y }, end: { x: this.right, y: this.y }, thickness: 1, color: INK });
    };
    this.page.drawLine({ start: { x: this.left, y: this.y }, end: { x: this.right, y: this.y }, thickness: 1, color: INK });
    for (const [ja, en, value] of rows) {
      const lines = wrap(value, this.font, 11, this.width - labelWidth - 20);
      const height = Math.max(29, 12 + lines.length * 15);
      if (this.y - height < CONTENT_BOTTOM) {
        close();
        this.room(height);
        top = this.y;
        this.page.drawLine({ start: { x: this.left, y: this.y }, end: { x: this.right, y: this.y }, thickness: 1, color: INK });
      }
      this.page.drawRectangle({ x: this.left, y: this.y - height, width: labelWidth, height, color: rgb(0.95, 0.95, 0.96) });
      this.text(ja, this.left + 8, this.y - 13, 9.5, INK);
      this.text(en, this.left + 8, this.y - 23, 7, GREY);
      lines.forEach((line, i) => this.text(line, this.left + labelWidth + 10, this.y - 18 - i * 15 + (lines.length > 1 ? 4 : 0), 11, INK));
      this.y -= height;
      this.page.drawLine({ start: { x: this.left, y: this.y }, end: { x: this.right, y: this.y }, thickness: 0.5, color: RULE });
    }
    close();
  }

  answerBox(heading: string, lines: string[]): void {
    // One box is not split over two pages: it moves whole to the next page if it does not fit.
    const parts = lines.flatMap((line) => (line ? wrap(line, this.font, 9.5, this.width - 20) : [""]));
    this.room(16 + 18 + parts.length * 14 + 2);
    const top = this.y;
    this.y -= 16;
    this.text(heading, this.left + 10, this.y, 9.5, ACCENT);
    this.y -= 18;
    for (const part of parts) {
      if (part) this.text(part, this.left + 10, this.y, 9.5, INK);
      this.y -= 14;
    }
    this.y -= 2;
    this.page.drawRectangle({ x: this.left, y: this.y, width: this.width, height: top - this.y, borderColor: INK, borderWidth: 1 });
    this.y -= 8;
  }

  /** The contact, below the content and above the footer (lower down when there is room). */
  contact(from: Sender): void {
    // The rule, then two lines 20 and 35 points below the content. Being the last thing on the
    // letter, the contact may use the strip above the footer kept for "continued overleaf".
    this.room(20 + 15, MARGIN + 52);
    const y = Math.min(this.y - 20, MARGIN + 84);
    this.page.drawLine({ start: { x: this.left, y: y + 14 }, end: { x: this.right, y: y + 14 }, thickness: 0.5, color: RULE });
    this.text(`お問い合わせ先 / Contact:　${from.contactJa}`, this.left, y, 10, INK);
    const numbers = [from.phone ? `電話 ${from.phone}` : null, from.fax ? `FAX ${from.fax}` : null].filter(Boolean).join("　");
    if (numbers) this.text(numbers, this.left + 12, y - 15, 10, INK);
    this.y = y - 15;
  }

  private footer(): void {
    const footY = MARGIN + 34;
    this.page.drawRectangle({ x: this.left, y: MARGIN - 6, width: this.width, height: 50, color: rgb(0.99, 0.95, 0.94), borderColor: WARN, borderWidth: 0.75 });
    this.textCentered("これは OpenJPKI のデモンストレーション用の文書です。実在の市区町村の通知ではありません。", A4.width / 2, footY - 4, 9.5, WARN);
    this.textCentered("OpenJPKI demonstration — not a real notice from any municipality.", A4.width / 2, footY - 20, 8, WARN);
    this.textCentered("市区町村名・窓口名は表示例として使っています / names are for illustration only", A4.width / 2, footY - 33, 7, GREY);
  }

  private text(text: string, x: number, y: number, size: number, color: RGB): void {
    this.page.drawText(this.printable(text), { x, y, size, font: this.font, color });
  }

  private textCentered(text: string, cx: number, y: number, size: number, color: RGB): void {
    this.text(text, cx - this.font.widthOfTextAtSize(text, size) / 2, y, size, color);
  }

  private textRight(text: string, rx: number, y: number, size: number, color: RGB): void {
    this.text(text, rx - this.font.widthOfTextAtSize(text, size), y, size, color);
  }
}

/**
 * The lowest point content may reach: the footer box's top is MARGIN + 44, and the strip between
 * holds the "continued overleaf" line of a page whose content goes on.
 */
const CONTENT_BOTTOM = MARGIN + 62;

function eraDate(date: JapanDate): string {
  try {
    return formatJapaneseEra(date);
  } catch {
    return westernDate(date);
  }
}

export function westernDate(date: JapanDate): string {
  return `${Number(date.slice(0, 4))}年${Number(date.slice(5, 7))}月${Number(date.slice(8, 10))}日`;
}
