// コンビニ交付 (issue 8 §4): the kiosk flow from card to PDF, the fee and audit record, the
// tamper check, and every refusal with its reason.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PDFDocument } from "pdf-lib";
import { JpkiClient } from "../../src/client/jpki-client.ts";
import { ServiceError } from "../../src/services/errors.ts";
import { signedChallenge } from "../../src/services/challenges.ts";
import { Kiosk, isWithinHours } from "../../src/services/kiosk.ts";
import { ownVerifier } from "../../src/services/trust.ts";
import { verifyAudit } from "../../src/services/audit.ts";
import { DEFAULT_KIOSK_HOURS, KIOSK_DOCUMENT_KINDS } from "../../src/config/kiosk-documents.ts";
import { IPA_GOTHIC_PATHS, renderKioskPdf } from "../../src/services/kiosk-pdf.ts";
import type { IssuedCard } from "../../src/services/cards.ts";
import { openTestContext, type TestContext } from "../helpers/context.ts";

const ARTIFACTS = fileURLToPath(new URL("../../test-artifacts/", import.meta.url));

/** 12:00 JST on a Wednesday. */
let now = new Date("2026-11-25T03:00:00Z");
const clock = () => new Date(now);
const jst = (local: string) => new Date(`${local}+09:00`);

const refused = (reason: string, messageIncludes?: RegExp) => (e: unknown) => {
  assert.ok(e instanceof ServiceError, String(e));
  assert.equal(e.reason, reason, e.message);
  if (messageIncludes) assert.match(e.message, messageIncludes);
  return true;
};

function pdfText(pdf: Uint8Array, dir: string): string {
  const path = join(dir, "doc.pdf");
  writeFileSync(path, pdf);
  return execFileSync("pdftotext", ["-layout", "-enc", "UTF-8", path, "-"], { encoding: "utf8" });
}

describe("convenience-store kiosk (コンビニ交付)", () => {
  let t: TestContext;
  let kiosk: Kiosk;
  let adult: { id: string };
  let card: IssuedCard;
  let work: string;

  before(async () => {
    t = await openTestContext("sqlite", { clock });
    const c = t.context;
    kiosk = new Kiosk(c.store.db, c.challenges, () => ownVerifier(c.ca, c.ocsp, clock), c.registry, c.settings, clock);
    adult = await c.registry.add({
      name: "町田 花子", birth: "1990-01-02", gender: "2", address: "東京都町田市森野２－２－２２", municipality: "132098",
    });
    card = await c.cards.issue({ residentId: adult.id, authPin: "1234", signPin: "ABC123" });
    work = mkdtempSync(join(tmpdir(), "openjpki-kiosk-"));
  });
  after(async () => {
    await t.cleanup();
    rmSync(work, { recursive: true, force: true });
  });

  test("documents: every municipality gets the default catalogue, bilingual, with fees", async () => {
    const docs = await kiosk.documents("132098");
    assert.deepEqual(
      docs.map((d) => [d.id, d.nameJa, d.feeYen]),
      [
        ["juminhyo", "住民票の写し", 200],
        ["juminhyo-kisai-jiko", "住民票記載事項証明書", 200],
        ["inkan-toroku", "印鑑登録証明書", 200],
      ],
    );
    assert.ok(docs.every((d) => d.nameEn.length > 0));
    await assert.rejects(kiosk.documents("999999"), (e: unknown) => e instanceof ServiceError && e.code === "invalid-input");
  });

  test("a 住民票の写し issued: fee recorded with an audit record, PDF with name, address and issue number", async () => {
    const { issuance, pdf } = await t.context.cards.withReader(card.id, (reader) =>
      kiosk.issue(reader, { pin: "1234", document: "juminhyo", copies: 2, kioskId: "kiosk-machida-01" }),
    );
    assert.match(issuance.id, /^K20261125-[0-9A-HJKMNP-TV-Z]{8}$/);
    assert.equal(issuance.feeYen, 400);
    assert.equal(issuance.unitFeeYen, 200);
    assert.match(issuance.verificationCode, /^[0-9A-HJKMNP-TV-Z]{16}$/);
    assert.equal(issuance.issuedAt, now.toISOString());
    assert.equal(issuance.pdfSha256, createHash("sha256").update(pdf).digest("hex"));

    const row = await t.context.store.db.selectFrom("kiosk_issuances").selectAll().where("id", "=", issuance.id).executeTakeFirstOrThrow();
    assert.equal(row.resident_id, adult.id);
    assert.equal(row.municipality_code, "132098");
    assert.equal(row.document, "juminhyo");
    assert.equal(Number(row.fee_yen), 400);
    assert.equal(row.kiosk, "kiosk-machida-01");
    assert.equal(row.verification_code, issuance.verificationCode);
    const audit = await t.context.store.db.selectFrom("audit_log").selectAll().where("action", "=", "kiosk.issue").execute();
    assert.equal(audit.length, 1);
    assert.equal(audit[0]!.subject, adult.id);
    assert.equal(audit[0]!.terminal, "kiosk-machida-01");
    assert.equal(JSON.parse(audit[0]!.after!).issue, issuance.id);
    assert.deepEqual((await verifyAudit(t.context.store.db)).ok, true);

    // One A4 page, the font embedded as a subset, the text extractable.
    const parsed = await PDFDocument.load(pdf);
    assert.equal(parsed.getPageCount(), 1);
    assert.deepEqual(parsed.getPage(0).getSize(), { width: 595.28, height: 841.89 });
    writeFileSync(join(work, "doc.pdf"), pdf);
    const fonts = execFileSync("pdffonts", [join(work, "doc.pdf")], { encoding: "utf8" });
    assert.match(fonts, /[A-Z]{6}\+IPAGothic\s.*\byes\s+yes\s+yes\b/, `IPA Gothic embedded as a subset with ToUnicode:\n${fonts}`);
    assert.ok(pdf.length < 200_000, `the subset keeps the PDF small (${pdf.length} bytes)`);
    const text = pdfText(pdf, work);
    const squeezed = text.replace(/[\s\u3000]+/gu, "");
    for (const expected of [
      "住民票の写し",
      "町田　花子",
      "東京都町田市森野２－２－２２",
      issuance.id,
      "平成2年1月2日",
      "この写しは、住民票の原本と相違ないことを証明する。",
      "令和8年11月25日",
      "東京都町田市長",
      "コンビニ交付",
      `${issuance.verificationCode.slice(0, 4)}-${issuance.verificationCode.slice(4, 8)}`,
      "公的な証明書ではありません",
      "It is not a real certificate",
    ]) {
      assert.ok(squeezed.includes(expected.replace(/[\s\u3000]+/gu, "")), `PDF text has ${expected}:\n${text}`);
    }

    // Rendered once, kept for a person to look at (test-artifacts/ is git-ignored).
    mkdirSync(ARTIFACTS, { recursive: true });
    copyFileSync(join(work, "doc.pdf"), join(ARTIFACTS, "kiosk-juminhyo.pdf"));
    execFileSync("pdftoppm", ["-png", "-r", "50", "-singlefile", join(ARTIFACTS, "kiosk-juminhyo.pdf"), join(ARTIFACTS, "kiosk-juminhyo")]);
    const png = readFileSync(join(ARTIFACTS, "kiosk-juminhyo.png"));
    assert.equal(png.subarray(1, 4).toString("latin1"), "PNG");
    // A4 at 50 dpi: about 413 × 585 pixels (pdftoppm rounds up).
    assert.ok(Math.abs(png.readUInt32BE(16) - 413) <= 1 && Math.abs(png.readUInt32BE(20) - 585) <= 1);

    // The tamper check round trip: the code (any case, with or without hyphens) gives the record; the file matches.
    const grouped = issuance.verificationCode.toLowerCase().match(/.{4}/g)!.join("-");
    const record = await kiosk.verifyDocument(issuance.id, grouped, pdf);
    assert.equal(record.issueNumber, issuance.id);
    assert.equal(record.document, "juminhyo");
    assert.equal(record.documentNameJa, "住民票の写し");
    assert.deepEqual(record.municipality, { code: "132098", nameJa: "東京都町田市" });
    assert.equal(record.issuedAt, issuance.issuedAt);
    assert.equal(record.pdfSha256, issuance.pdfSha256);
    assert.equal(record.pdfMatches, true);
    assert.ok(!("name" in record) && !JSON.stringify(record).includes("花子"), "no personal data in the check");

    // An altered file no longer matches; a wrong code or an unknown number is refused.
    const altered = new Uint8Array(pdf);
    altered[altered.length - 10] ^= 1;
    assert.equal((await kiosk.verifyDocument(issuance.id, issuance.verificationCode, altered)).pdfMatches, false);
    const last = issuance.verificationCode.at(-1) === "0" ? "1" : "0";
    await assert.rejects(kiosk.verifyDocument(issuance.id, issuance.verificationCode.slice(0, -1) + last), refused("verification-failed"));
    await assert.rejects(kiosk.verifyDocument("K20261125-00000000", issuance.verificationCode), refused("verification-failed"));
  });

  test("the other documents render on one page too (印鑑登録証明書 with its certifying line)", async () => {
    const { pdf } = await t.context.cards.withReader(card.id, (reader) => kiosk.issue(reader, { pin: "1234", document: "inkan-toroku" }));
    const text = pdfText(pdf, work);
    assert.ok(text.includes("印鑑登録証明書"));
    assert.ok(text.includes("この写しは、登録されている印影と相違ないことを証明する。"));
    assert.equal((await PDFDocument.load(pdf)).getPageCount(), 1);
  });

  test("the PDF is a function of its input (same bytes twice); a missing font names the package to install", async () => {
    const input = {
      document: KIOSK_DOCUMENT_KINDS["juminhyo-kisai-jiko"],
      resident: { name: "町田　花子", address: "東京都町田市森野２－２－２２", birth: "1990-01-02", gender: "2" as const, residentSince: "2019-05-01" },
      municipality: { code: "132098", prefectureJa: "東京都", cityJa: "町田市", cityRomaji: "Machida-shi" },
      issueNumber: "K20261125-ABCDEFGH",
      verificationCode: "0123456789ABCDEF",
      issuedAt: now,
      kioskId: "kiosk-default",
      feeYen: 200,
      copies: 1,
      verifyUrl: "http://127.0.0.1:8080/kiosk/verify",
    };
    const a = await renderKioskPdf(input);
    const b = await renderKioskPdf(input);
    assert.deepEqual(Buffer.from(a), Buffer.from(b));
    const text = pdfText(a, work);
    assert.ok(text.includes("上記の事項は、住民票に記載されている事項と相違ないことを証明する。"));
    assert.ok(text.includes("令和元年5月1日"), text);
    await assert.rejects(
      renderKioskPdf(input, { fontPath: join(work, "no-such-font.ttf") }),
      (e: unknown) => e instanceof ServiceError && e.reason === "font-missing",
    );
    assert.ok(IPA_GOTHIC_PATHS.includes("/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf"));

    // The longest name (100 characters) and address (200) still fit on one page, for every document.
    const longest = { ...input.resident, name: `${"寿".repeat(49)}　${"限".repeat(50)}`, address: `東京都町田市${"森".repeat(194)}` };
    for (const kind of Object.values(KIOSK_DOCUMENT_KINDS)) {
      const long = await renderKioskPdf({ ...input, document: kind, resident: longest });
      assert.equal((await PDFDocument.load(long)).getPageCount(), 1);
      assert.equal(pdfText(long, work).match(/森/g)?.length, 194, kind.id);
    }
  });

  test("hours: 06:29 and 23:01 JST closed, 06:30 and 22:59 open, 12/29–1/3 closed all day; the message gives the hours", async () => {
    const hours = DEFAULT_KIOSK_HOURS;
    assert.equal(isWithinHours(hours, jst("2026-11-25T06:29:59")), false);
    assert.equal(isWithinHours(hours, jst("2026-11-25T06:30:00")), true);
    assert.equal(isWithinHours(hours, jst("2026-11-25T22:59:59")), true);
    assert.equal(isWithinHours(hours, jst("2026-11-25T23:00:00")), false);
    assert.equal(isWithinHours(hours, jst("2026-12-28T12:00:00")), true);
    assert.equal(isWithinHours(hours, jst("2026-12-29T12:00:00")), false);
    assert.equal(isWithinHours(hours, jst("2027-01-03T12:00:00")), false);
    assert.equal(isWithinHours(hours, jst("2027-01-04T06:30:00")), true);

    const saved = now;
    try {
      for (const closed of ["2026-11-25T06:29:00", "2026-11-25T23:01:00", "2026-12-30T12:00:00"]) {
        now = jst(closed);
        // A wrong PIN: had the card been asked, a try would show as spent below (a right one restores the count).
        await assert.rejects(
          t.context.cards.withReader(card.id, (reader) => kiosk.issue(reader, { pin: "9999", document: "juminhyo" })),
          refused("kiosk-closed", /6時30分から23時まで.*12月29日〜1月3日.*06:30–23:00 JST/),
          closed,
        );
      }
      // Closed is checked first: the card was not touched, so no PIN try was spent.
      await t.context.cards.withReader(card.id, async (reader) => assert.equal(await new JpkiClient(reader).triesLeft("auth"), 3));
      now = jst("2026-11-26T06:30:00");
      await t.context.cards.withReader(card.id, (reader) => kiosk.issue(reader, { pin: "1234", document: "juminhyo" }));
    } finally {
      now = saved;
    }
  });

  test("configurable hours and catalogues", async () => {
    const c = t.context;
    const late = new Kiosk(c.store.db, c.challenges, () => ownVerifier(c.ca, c.ocsp, clock), c.registry, {
      ...c.settings,
      kiosk: {
        hours: { opens: "09:00", closes: "17:00", closedPeriods: [] },
        municipalities: { "132098": [{ document: "juminhyo", feeYen: 150 }] },
      },
    }, clock);
    assert.deepEqual((await late.documents("132098")).map((d) => [d.id, d.feeYen]), [["juminhyo", 150]]);
    assert.equal((await late.documents("131016")).length, 3);
    assert.equal(late.isOpen(jst("2026-12-31T10:00:00")), true);
    assert.equal(late.isOpen(jst("2026-11-25T08:59:00")), false);
    assert.throws(
      () => new Kiosk(c.store.db, c.challenges, () => ownVerifier(c.ca, c.ocsp, clock), c.registry, { ...c.settings, kiosk: { hours: { opens: "6:30", closes: "23:00", closedPeriods: [] } } }, clock),
      /HH:MM/,
    );
  });

  test("unknown or not-offered document: refused with what is offered; bad copies: invalid input", async () => {
    await assert.rejects(
      t.context.cards.withReader(card.id, (reader) => kiosk.issue(reader, { pin: "1234", document: "koseki-tohon" })),
      refused("document-not-offered", /住民票の写し.*juminhyo/),
    );
    for (const copies of [0, 11, 1.5]) {
      await assert.rejects(
        t.context.cards.withReader(card.id, (reader) => kiosk.issue(reader, { pin: "1234", document: "juminhyo", copies })),
        (e: unknown) => e instanceof ServiceError && e.code === "invalid-input" && e.field === "copies",
      );
    }
  });

  test("wrong PIN: refused with the tries left; blocked PIN: refused, sent to the municipal counter", async () => {
    const other = await t.context.registry.add({
      name: "鶴川 次郎", birth: "1985-05-05", gender: "1", address: "東京都町田市鶴川１－１－１", municipality: "132098",
    });
    const otherCard = await t.context.cards.issue({ residentId: other.id, authPin: "4321", signPin: "XYZ789" });
    const attempt = () => t.context.cards.withReader(otherCard.id, (reader) => kiosk.issue(reader, { pin: "0000", document: "juminhyo" }));
    await assert.rejects(attempt(), refused("wrong-pin", /残り2回.*2 tries left/));
    await assert.rejects(attempt(), refused("wrong-pin", /残り1回/));
    // The third wrong entry blocks it; the right PIN then no longer helps.
    await assert.rejects(attempt(), refused("pin-blocked", /窓口.*counter/));
    await assert.rejects(
      t.context.cards.withReader(otherCard.id, (reader) => kiosk.issue(reader, { pin: "4321", document: "juminhyo" })),
      refused("pin-blocked", /窓口.*counter/),
    );
    // A malformed PIN never reaches the card.
    await assert.rejects(
      t.context.cards.withReader(card.id, (reader) => kiosk.issue(reader, { pin: "12a4", document: "juminhyo" })),
      (e: unknown) => e instanceof ServiceError && e.code === "invalid-input" && e.field === "pin",
    );
  });

  test("under 15: refused after the card check", async () => {
    const child = await t.context.registry.add({
      name: "町田 小太郎", birth: "2014-04-01", gender: "1", address: "東京都町田市森野２－２－２２", municipality: "132098",
    });
    const childCard = await t.context.cards.issue({ residentId: child.id, authPin: "5678" });
    await assert.rejects(
      t.context.cards.withReader(childCard.id, (reader) => kiosk.issue(reader, { pin: "5678", document: "juminhyo" })),
      refused("under-15", /15歳未満.*under 15/),
    );
  });

  test("after death the authentication certificate is revoked: refused as revoked (OCSP)", async () => {
    const resident = await t.context.registry.add({
      name: "成瀬 一郎", birth: "1950-03-03", gender: "1", address: "東京都町田市成瀬１－２－３", municipality: "132098",
    });
    const c = await t.context.cards.issue({ residentId: resident.id, authPin: "2468", signPin: "QWE123" });
    await t.context.events.endRegistration(resident.id, { kind: "death" });
    await assert.rejects(
      t.context.cards.withReader(c.id, (reader) => kiosk.issue(reader, { pin: "2468", document: "juminhyo" })),
      refused("revoked", /失効/),
    );
    const rows = await t.context.store.db.selectFrom("kiosk_issuances").select("id").where("resident_id", "=", resident.id).execute();
    assert.equal(rows.length, 0);
  });

  test("a resident who has filed to move out, and a suspended card, are refused; withdrawn or lifted, served again", async () => {
    const resident = await t.context.registry.add({
      name: "鶴川 次郎", birth: "1980-08-08", gender: "1", address: "東京都町田市鶴川１－１－１", municipality: "132098",
    });
    const c = await t.context.cards.issue({ residentId: resident.id, authPin: "1357", signPin: "TSU123" });
    const issue = () => t.context.cards.withReader(c.id, (reader) => kiosk.issue(reader, { pin: "1357", document: "juminhyo" }));
    await t.context.events.endRegistration(resident.id, { kind: "emigration", continuedUse: false, departureDate: "2026-12-10" });
    await assert.rejects(issue(), refused("departure-filed", /転出の届出（2026-12-10）.*move out has been filed/));
    await t.context.events.withdrawEmigration(resident.id);
    await issue();

    const staff = { actor: "staff:test", office: "machida-mnc" };
    await t.context.counter.suspend({ cardId: c.id }, staff);
    await assert.rejects(issue(), refused("card-suspended", /一時停止中.*suspended/));
    await t.context.counter.liftSuspension({ cardId: c.id, identity: { document: "my-number-card" } }, staff);
    await issue();
    const rows = await t.context.store.db.selectFrom("kiosk_issuances").select("id").where("resident_id", "=", resident.id).execute();
    assert.equal(rows.length, 2, "only the two served requests were issued");
  });

  test("the proof cannot be replayed: the kiosk challenge is used once", async () => {
    await t.context.cards.withReader(card.id, async (reader) => {
      const client = new JpkiClient(reader);
      const { id, challenge } = await kiosk.challenge();
      assert.deepEqual(await client.verifyPin("auth", "1234"), { ok: true });
      const certificateDer = await client.readCertificate("auth");
      const signature = await client.sign("auth", signedChallenge("kiosk", challenge));
      const first = await kiosk.issueWithProof({ challengeId: id, certificateDer, signature, document: "juminhyo-kisai-jiko" });
      assert.equal(first.issuance.feeYen, 200);
      await assert.rejects(kiosk.issueWithProof({ challengeId: id, certificateDer, signature, document: "juminhyo" }), refused("challenge-used"));
    });
  });
});
