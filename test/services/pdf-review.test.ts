// Reviewer checks of the printed documents read back with pdftotext: every field whole and on
// the page, and each notice signed by the addressee's own municipality.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { ServiceError } from "../../src/services/errors.ts";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { renderIssuanceNotice, type Sender } from "../../src/services/counter/notices-pdf.ts";
import type { JapanDate } from "../../src/rules/japan-date.ts";

const tmp = mkdtempSync(join(tmpdir(), "openjpki-pdf-review-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

function pdfText(pdf: Uint8Array): string {
  const path = join(tmp, `r-${Math.random().toString(36).slice(2)}.pdf`);
  writeFileSync(path, pdf);
  return execFileSync("pdftotext", ["-raw", "-enc", "UTF-8", path, "-"], { encoding: "utf8" });
}

const sender: Sender = { municipalityJa: "東京都町田市", officeJa: "マイナンバーカードセンター", contactJa: "町田市 市民部 市民課", phone: "042-724-2857", fax: null };

/** An issuance notice for a card without certificates, addressed to `name`. */
const notice = (name: string) =>
  renderIssuanceNotice({
    addressee: { name, address: "東京都町田市森野２－２－２２" },
    sender,
    cardId: "C-0000000001",
    producedDate: "2030-12-01" as JapanDate,
    cardExpires: "2040-12-01" as JapanDate,
    certificates: [],
    issuedAt: new Date("2030-12-01T01:00:00Z"),
  });

describe("notices: long names", () => {
  test("a 100-character name (the register's limit) is printed whole, on the page", async () => {
    const name = "鬱".repeat(50) + "　" + "鰯".repeat(49);
    const pdf = await notice(name);
    const text = pdfText(pdf).replace(/\s/g, "");
    assert.equal(text.match(/鬱/g)?.length, 50, text);
    assert.equal(text.match(/鰯/g)?.length, 49, text);
  });
});

describe("expiry notices over several municipalities", () => {
  test("each notice is signed by the addressee's own municipality", async () => {
    const { openTestContext } = await import("../helpers/context.ts");
    const { expiryNoticesPdf } = await import("../../src/services/counter/notices.ts");
    const t = await openTestContext("sqlite", { now: "2030-12-01T01:00:00Z" });
    try {
      const { context } = t;
      const codes = (await context.store.db.selectFrom("municipalities").select(["code", "city_ja"]).orderBy("code").execute()).filter((m) => m.code !== "132098");
      assert.ok(codes.length > 0, "a second municipality is seeded");
      const other = codes[0]!;
      const row = (residentId: string, name: string, municipalityCode: string) => ({
        residentId, name, address: "どこか１－１", municipalityCode, cardId: null,
        certificates: [{ type: "auth" as const, serialHex: residentId, expires: "2031-03-01" as JapanDate, renewalFrom: "2030-12-01" as JapanDate }],
        earliestExpiry: "2031-03-01" as JapanDate,
      });
      const run = { from: "2031-01-01" as JapanDate, windowStart: "2031-03-01" as JapanDate, windowEnd: "2031-03-31" as JapanDate, residents: [row("R-0000000001", "町田 一郎", "132098"), row("R-0000000002", "他市 二郎", other.code)] };
      const pdf = await expiryNoticesPdf({ db: context.store.db, registry: context.registry, clock: context.clock }, run, { actor: "staff:test" } as never);
      const pages = pdfText(pdf).split("\f").filter((p) => p.trim());
      assert.equal(pages.length, 2);
      assert.match(pages[0]!, /町田市長/);
      assert.match(pages[1]!, new RegExp(`${other.city_ja}長`), pages[1]);
      assert.doesNotMatch(pages[1]!, /町田市長/);

      // A run over the limit one answer may hold is refused before anything is rendered, naming what to do.
      await assert.rejects(
        expiryNoticesPdf({ db: context.store.db, registry: context.registry, clock: context.clock }, run, { actor: "staff:test" } as never, { maxNotices: 1 }),
        (e: unknown) => e instanceof ServiceError && e.reason === "run-too-large" && /2 件/.test(e.message) && /openjpki counter expiry-notices/.test(e.message),
      );
      assert.ok((await expiryNoticesPdf({ db: context.store.db, registry: context.registry, clock: context.clock }, run, { actor: "staff:test" } as never, { maxNotices: 2 })).length > 0);
    } finally {
      await t.cleanup();
    }
  });
});

describe("kiosk document", () => {
  const input = async (name: string, address: string) => {
    const { KIOSK_DOCUMENT_KINDS } = await import("../../src/config/kiosk-documents.ts");
    return {
      document: KIOSK_DOCUMENT_KINDS.juminhyo,
      resident: { name, address, birth: "1990-04-01" as JapanDate, gender: "1" as const, residentSince: "2010-04-01" as JapanDate },
      municipality: { code: "132098", prefectureJa: "東京都", cityJa: "町田市", cityRomaji: "Machida" },
      issueNumber: "K-20301201-0001",
      verificationCode: "ABCDEFGHJKLMNPQR",
      issuedAt: new Date("2030-12-01T14:30:00Z"), // 23:30 JST
      kioskId: "KIOSK-1",
      feeYen: 200,
      copies: 1,
      verifyUrl: "https://example.test/verify",
    };
  };

  test("the register's longest name and address fit, whole, and the code is printed as the verify page reads it", async () => {
    const { renderKioskPdf } = await import("../../src/services/kiosk-pdf.ts");
    const name = "鬱".repeat(50) + "　" + "鰯".repeat(49);
    const address = "東京都町田市" + "鰻".repeat(194);
    const text = pdfText(await renderKioskPdf(await input(name, address)));
    const flat = text.replace(/\s/g, "");
    assert.equal(flat.match(/鬱/g)?.length, 50);
    assert.equal(flat.match(/鰻/g)?.length, 194);
    assert.match(text, /ABCD-EFGH-JKLM-NPQR/);
    assert.match(text, /2030年12月1日 23:30/);
  });

  test("a layout that cannot fit is refused in Japanese first", async () => {
    const { renderKioskPdf } = await import("../../src/services/kiosk-pdf.ts");
    await assert.rejects(renderKioskPdf(await input("町田 太郎", "鰻".repeat(3000))), (e: Error) => /^氏名と住所が長すぎて/.test(e.message) && /too long/.test(e.message));
  });
});

describe("a name with a JIS X 0212 kanji the font lacks (丄, accepted by the register)", () => {
  test("the notice marks the character with 〓 rather than silently printing 町田 子", async () => {
    const text = pdfText(await notice("町田 丄子"));
    assert.match(text, /町田 〓子\s*様/, text);
  });

  test("the kiosk refuses the certified copy, naming the character", async () => {
    const { KIOSK_DOCUMENT_KINDS } = await import("../../src/config/kiosk-documents.ts");
    const { renderKioskPdf } = await import("../../src/services/kiosk-pdf.ts");
    await assert.rejects(
      renderKioskPdf({
        document: KIOSK_DOCUMENT_KINDS.juminhyo,
        resident: { name: "町田 丄子", address: "東京都町田市森野", birth: "1990-04-01" as JapanDate, gender: "2", residentSince: "2010-04-01" as JapanDate },
        municipality: { code: "132098", prefectureJa: "東京都", cityJa: "町田市", cityRomaji: "Machida" },
        issueNumber: "K-1", verificationCode: "ABCDEFGHJKLMNPQR", issuedAt: new Date("2030-12-01T01:00:00Z"), kioskId: "K", feeYen: 200, copies: 1, verifyUrl: "https://example.test/v",
      }),
      (e: Error & { reason?: string }) => e.reason === "unprintable-character" && /丄/.test(e.message) && /U\+4E04/.test(e.message),
    );
  });
});
