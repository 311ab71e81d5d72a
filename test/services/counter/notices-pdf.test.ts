// The 有効期限通知書 run as a PDF: a resident whose certificate list does not fit one page gets
// continuation pages (every certificate listed, none dropped, the run not failing), and a large
// run lets other work on the event loop go on while it is drawn.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { renderExpiryNotices, type ExpiryNoticeEntry, type Sender } from "../../../src/services/counter/notices-pdf.ts";
import type { JapanDate } from "../../../src/rules/japan-date.ts";

const tmp = mkdtempSync(join(tmpdir(), "openjpki-notices-pdf-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

function pdfPages(pdf: Uint8Array): string[] {
  const path = join(tmp, `notices-${Math.random().toString(36).slice(2)}.pdf`);
  writeFileSync(path, pdf);
  const text = execFileSync("pdftotext", ["-raw", "-enc", "UTF-8", path, "-"], { encoding: "utf8" });
  return text.split("\f").filter((p) => p.trim());
}

const sender: Sender = { municipalityJa: "東京都町田市", officeJa: "マイナンバーカードセンター", contactJa: "町田市 市民部 市民課", phone: "042-724-2857", fax: null };
const day = (d: number): JapanDate => `2031-03-${String(d).padStart(2, "0")}` as JapanDate;

function entry(name: string, n: number, residentId: string): ExpiryNoticeEntry {
  return {
    addressee: { name, address: "東京都町田市森野２－２－２２" },
    residentId,
    cardId: "C-0000000001",
    // Distinct expiry days, so each certificate's row can be found in the text.
    certificates: Array.from({ length: n }, (_, i) => ({ type: i % 2 ? "auth" : "sign", expires: day(i + 1), renewalFrom: "2030-12-01" as JapanDate })),
  };
}

describe("有効期限通知書 PDF", () => {
  test("a resident with 12 valid certificates: all 12 listed, continued on a second page", async () => {
    const pdf = await renderExpiryNotices({
      sender,
      entries: [entry("町田 一郎", 2, "R-0000000001"), entry("町田 多数", 12, "R-0000000002"), entry("町田 三郎", 1, "R-0000000003")],
      runDate: "2031-01-01" as JapanDate,
      issuedAt: new Date("2030-12-01T01:00:00Z"),
    });
    const pages = pdfPages(pdf);
    // One page each for the others, two for the resident with twelve certificates.
    assert.equal(pages.length, 4, pages.join("\n=====\n"));
    assert.match(pages[0]!, /町田\s一郎/);
    assert.match(pages[3]!, /町田\s三郎/);
    const many = pages.slice(1, 3).join("\n");
    for (let i = 1; i <= 12; i++) assert.match(many, new RegExp(`（${day(i)}）`), `certificate ${i} of 12`);
    assert.equal(many.match(/有効期限\s令和/g)?.length, 12, "each certificate once");
    // The continuation page says whose notice it continues; the contact comes once, at the end.
    assert.match(pages[2]!, /町田\s多数\s様/);
    assert.match(pages[2]!, /続き/);
    assert.match(pages[1]!, /次ページに続きます/);
    assert.equal(many.match(/お問い合わせ先/g)?.length, 1);
    assert.match(pages[2]!, /お問い合わせ先/);
  });

  test("a very long list runs over as many pages as it needs", async () => {
    const pdf = await renderExpiryNotices({ sender, entries: [entry("町田 多数", 31, "R-0000000002")], runDate: "2031-01-01" as JapanDate, issuedAt: new Date("2030-12-01T01:00:00Z") });
    const pages = pdfPages(pdf);
    assert.ok(pages.length >= 3, `${pages.length} pages`);
    const text = pages.join("\n");
    for (let i = 1; i <= 31; i++) assert.match(text, new RegExp(`（${day(i)}）`), `certificate ${i} of 31`);
    assert.equal(text.match(/お問い合わせ先/g)?.length, 1);
  });

  test("a large run yields to the event loop between notices", async () => {
    // A chain of immediates counts the turns the event loop gets; if the notices were drawn in
    // one synchronous stretch, the count would not move from the first notice to the last. Each
    // notice's addressee is read when it is drawn; the route passes no onPage, nor does this.
    let turns = 0;
    let running = true;
    const spin = () => {
      turns++;
      if (running) setImmediate(spin);
    };
    setImmediate(spin);
    const seen: number[] = [];
    const entries = Array.from({ length: 40 }, (_, i) => {
      const e = entry(`町田 ${i}`, 2, `R-${String(i).padStart(10, "0")}`);
      const addressee = e.addressee;
      return Object.defineProperty(e, "addressee", {
        get() {
          seen.push(turns);
          return addressee;
        },
      });
    });
    try {
      await renderExpiryNotices({ sender, entries, runDate: "2031-01-01" as JapanDate, issuedAt: new Date("2030-12-01T01:00:00Z") });
    } finally {
      running = false;
    }
    assert.ok(seen.length >= 40);
    assert.ok(seen.at(-1)! - seen[0]! >= 4, `event-loop turns while drawing: ${seen[0]} … ${seen.at(-1)}`);
  });
});
