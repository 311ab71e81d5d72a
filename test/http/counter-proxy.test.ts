// The counter's second round, over the HTTP API on each back end: the proxy (代理人) two-visit
// procedure with the 照会書兼回答書, the 交付通知書, fees per office and day with reissue, the
// 有効期限通知書 run (edge days of the window) and card suspension lifting.
import { after, before, describe, mock, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildApp } from "../../src/http/app.ts";
import { JpkiClient } from "../../src/client/jpki-client.ts";
import { counterExpiryNotices, counterFees, counterIssuanceNotice } from "../../src/cli/commands/counter.ts";
import { StaffApi } from "../helpers/staff-browser.ts";
import { failingFrom, watchingQueries, whileIssuanceFails } from "../helpers/faults.ts";
import { backends, openTestContext, TEST_PASSPHRASE, type TestContext } from "../helpers/context.ts";
import type { FastifyInstance } from "fastify";
import type { Kysely } from "kysely";
import type { Database } from "../../src/store/schema.ts";
import { EXPIRY_NOTICES_JSON_LIMIT, expiryNoticeRun, expiryNoticesCsv } from "../../src/services/counter/notices.ts";

let now = new Date("2026-11-25T01:00:00Z"); // 10:00 JST
const clock = () => new Date(now);
const ID = { document: "my-number-card" };
const PROXY_ID = { document: "driver-licence", name: "町田 太郎" };
const tmp = mkdtempSync(join(tmpdir(), "openjpki-counter-proxy-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** The register keeps names with a full-width space between family and given name. */
const sp = (name: string) => name.replace(/\u3000/g, " ");

function pdfText(pdf: Buffer | Uint8Array, name: string): string {
  const path = join(tmp, `${name}-${Math.random().toString(36).slice(2)}.pdf`);
  writeFileSync(path, pdf);
  return execFileSync("pdftotext", ["-raw", "-enc", "UTF-8", path, "-"], { encoding: "utf8" });
}

for (const backend of backends()) {
  describe(`counter proxy, notices, fees, suspension on ${backend}`, () => {
    let t: TestContext;
    let app: FastifyInstance;
    const api = new StaffApi(() => app);

    const call = api.call.bind(api);
    const noticeDeps = () => ({ db: t.context.store.db, registry: t.context.registry, clock: t.context.clock });
    const at = async (instant: string) => {
      now = new Date(instant);
      await api.login("suzuki");
    };
    const resident = async (name: string, birth: string, address = "東京都町田市森野２－２－２２") => {
      const r = await call("POST", "/api/counter/residents", { name, birth, gender: "1", address, municipality: "132098" });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return r.body;
    };
    const card = async (residentId: string, pins: { authPin: string; signPin?: string; noSign?: boolean } = { authPin: "1234", signPin: "ABC123" }) => {
      const c = await call("POST", "/api/counter/cards", { residentId, ...pins });
      assert.equal(c.status, 201, JSON.stringify(c.body));
      return c.body;
    };

    before(async () => {
      now = new Date("2026-11-25T01:00:00Z");
      t = await openTestContext(backend, { clock });
      app = await buildApp(t.context);
      await t.context.staff.add({ officeId: "machida-mnc", login: "suzuki", name: "鈴木 花子", role: "supervisor", password: "correct horse battery" });
      await at("2026-11-25T01:00:00Z");
    });
    after(async () => {
      await app.close();
      await t.cleanup();
    });

    test("proxy: the 照会書兼回答書 names the resident; no same-day completion; wrong codes counted; completes on a later day", async () => {
      const r = await resident("町田 花子", "1985-06-20", "東京都町田市中町１－２０－２３");
      const c = await card(r.id);
      const started = await call("POST", "/api/counter/proxy-applications", { kind: "pin-init", cardId: c.id, pinType: "auth", proxy: { name: "町田 太郎", relationship: "夫" } });
      assert.equal(started.status, 201, JSON.stringify(started.body));
      assert.equal(started.body.state, "awaiting-proxy");
      assert.equal(started.body.sameDayAllowed, false);
      assert.equal(started.body.expiresOn, "2026-12-25");
      assert.equal(started.body.answerCode, undefined, "the code is only in the letter");
      const letter = pdfText(Buffer.from(started.body.letter.base64, "base64"), "shokaisho");
      assert.match(letter, /照会書兼回答書/);
      assert.match(letter, /町田\s花子/);
      assert.match(letter, /東京都町田市中町１－２０－２３/);
      assert.match(letter, /042-860-6195/);
      assert.match(letter, /OpenJPKI/);
      const code = /回答番号\s+(?:Answer code\s+)?(\d{8})/.exec(letter)?.[1] ?? /\b(\d{8})\b/.exec(letter)?.[1];
      assert.ok(code, letter);
      const appId = started.body.applicationId;
      const row = await t.context.store.db.selectFrom("proxy_applications").selectAll().where("application_id", "=", appId).executeTakeFirstOrThrow();
      assert.ok(!row.answer_code_hash.includes(code!), "stored hashed");

      const again = await call("POST", "/api/counter/proxy-applications", { kind: "renewal", cardId: c.id, proxy: { name: "誰か", relationship: "友人" } });
      assert.equal(again.body.error.reason, "proxy-pending");

      // Late on the same JST day (23:30): refused.
      await at("2026-11-25T14:30:00Z");
      const sameDay = await call("POST", `/api/counter/proxy-applications/${appId}/complete`, { answerCode: code, proxyIdentity: PROXY_ID, newPin: "4321" });
      assert.equal(sameDay.status, 403);
      assert.equal(sameDay.body.error.reason, "proxy-same-day");
      // Ten minutes past midnight JST: a later day.
      await at("2026-11-25T15:10:00Z");
      const wrong = await call("POST", `/api/counter/proxy-applications/${appId}/complete`, { answerCode: code === "00000000" ? "11111111" : "00000000", proxyIdentity: PROXY_ID, newPin: "4321" });
      assert.equal(wrong.body.error.reason, "bad-answer-code");
      assert.equal(wrong.body.error.field, "answerCode");
      const malformed = await call("POST", `/api/counter/proxy-applications/${appId}/complete`, { answerCode: "12", proxyIdentity: PROXY_ID });
      assert.equal(malformed.status, 400);
      assert.equal(malformed.body.error.field, "answerCode");
      const status = await call("GET", `/api/counter/proxy-applications/${appId}`);
      assert.deepEqual([status.body.state, status.body.attempts, status.body.attemptsLeft], ["awaiting-proxy", 1, 4]);
      const stranger = await call("POST", `/api/counter/proxy-applications/${appId}/complete`, { answerCode: code, proxyIdentity: { ...PROXY_ID, name: "別人 一郎" }, newPin: "4321" });
      assert.equal(stranger.body.error.reason, "proxy-mismatch");
      const done = await call("POST", `/api/counter/proxy-applications/${appId}/complete`, { answerCode: code, proxyIdentity: { ...PROXY_ID, name: "町田　太郎" }, newPin: "4321" });
      assert.equal(done.status, 200, JSON.stringify(done.body));
      assert.equal(done.body.applicationId, appId);
      assert.deepEqual(done.body.proxy, { name: "町田 太郎", relationship: "夫", type: "appointed" });
      await t.context.cards.withReader(c.id, async (reader) => assert.deepEqual(await new JpkiClient(reader).verifyPin("auth", "4321"), { ok: true }));
      const finished = await call("GET", `/api/counter/proxy-applications/${appId}`);
      assert.equal(finished.body.state, "completed");
      const twice = await call("POST", `/api/counter/proxy-applications/${appId}/complete`, { answerCode: code, proxyIdentity: PROXY_ID, newPin: "4321" });
      assert.equal(twice.body.error.reason, "proxy-not-waiting");
      const stored = await t.context.store.db.selectFrom("proxy_applications").selectAll().where("application_id", "=", appId).executeTakeFirstOrThrow();
      assert.equal(JSON.parse(stored.proxy_identity!).document, "driver-licence");

      // Five wrong codes lock an application.
      const locked = await call("POST", "/api/counter/proxy-applications", { kind: "renewal", cardId: c.id, proxy: { name: "町田 太郎", relationship: "夫" } });
      await at("2026-11-27T01:00:00Z");
      for (let i = 0; i < 5; i++) {
        const res = await call("POST", `/api/counter/proxy-applications/${locked.body.applicationId}/complete`, { answerCode: "99999999", proxyIdentity: PROXY_ID });
        if (res.body.error.reason !== "bad-answer-code") {
          // The one-in-a-hundred-million chance that 99999999 is the code: nothing to test then.
          assert.equal(res.body.error.reason, "outside-renewal-window");
          return;
        }
      }
      const sixth = await call("POST", `/api/counter/proxy-applications/${locked.body.applicationId}/complete`, { answerCode: "99999999", proxyIdentity: PROXY_ID });
      assert.equal(sixth.body.error.reason, "answer-code-locked");
      assert.equal((await call("GET", `/api/counter/proxy-applications/${locked.body.applicationId}`)).body.state, "failed");
    });

    test("proxy: a legal representative finishes the same day; a proxy past the deadline is refused", async () => {
      await at("2026-11-28T01:00:00Z");
      // A 16-year-old: a minor, whose parent is their legal representative.
      const r = await resident("町田 五郎", "2010-08-08");
      const c = await card(r.id);
      const legal = await call("POST", "/api/counter/proxy-applications", { kind: "revocation", cardId: c.id, types: ["sign"], proxy: { name: "町田 母子", relationship: "母", type: "legal" } });
      assert.equal(legal.body.sameDayAllowed, true);
      const done = await call("POST", `/api/counter/proxy-applications/${legal.body.applicationId}/complete`, { proxyIdentity: { document: "passport", name: "町田 母子" } });
      assert.equal(done.status, 200, JSON.stringify(done.body));
      assert.deepEqual(done.body.revoked.map((x: any) => x.type), ["sign"]);
      assert.equal(done.body.proxy.type, "legal");
      const late = await call("POST", "/api/counter/proxy-applications", { kind: "revocation", cardId: c.id, types: ["auth"], proxy: { name: "町田 母子", relationship: "知人" } });
      const code = /\b(\d{8})\b/.exec(pdfText(Buffer.from(late.body.letter.base64, "base64"), "late"))![1];
      await at("2026-12-29T01:00:00Z");
      const expired = await call("POST", `/api/counter/proxy-applications/${late.body.applicationId}/complete`, { answerCode: code, proxyIdentity: { document: "passport", name: "町田 母子" } });
      assert.equal(expired.body.error.reason, "proxy-expired");
      const bad = await call("POST", "/api/counter/proxy-applications", { kind: "handover", cardId: c.id, proxy: { name: "x", relationship: "y" } });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.field, "kind");
    });

    test("a proxy's visit that fails after a new key was made on the chip ends the application as failed, not waiting again", async () => {
      await at("2026-11-28T01:00:00Z");
      const r = await resident("町田 七郎", "1979-09-09");
      const c = await card(r.id);
      await at("2031-07-01T01:00:00Z"); // in the renewal window of certificates expiring 2031-09-09
      const applied = await call("POST", "/api/counter/proxy-applications", { kind: "renewal", cardId: c.id, types: ["auth"], proxy: { name: "町田 母子", relationship: "妻", type: "household", letterOfAttorney: true } });
      assert.equal(applied.status, 201, JSON.stringify(applied.body.error));
      const failed = await whileIssuanceFails(t.context.ca, () =>
        call("POST", `/api/counter/proxy-applications/${applied.body.applicationId}/complete`, { proxyIdentity: { document: "passport", name: "町田 母子" }, authPin: "2468" }),
      );
      assert.equal(failed.status, 500, JSON.stringify(failed.body.error));
      const application = await t.context.store.db.selectFrom("applications").select(["state", "detail"]).where("id", "=", applied.body.applicationId).executeTakeFirstOrThrow();
      assert.equal(application.state, "failed", "its key on the chip is gone: the old certificate was revoked, nothing is waiting");
      assert.deepEqual(JSON.parse(application.detail).recovery.revoked.map((x: any) => [x.type, x.reason]), [["auth", "superseded"]]);
      await at("2026-11-25T01:00:00Z");
    });

    test("the 交付通知書 shows the certificates' expiry date; the CLI writes it too", async () => {
      await at("2026-11-25T02:00:00Z");
      const r = await resident("町田 花江", "1990-07-15");
      const c = await card(r.id);
      assert.equal(c.issuanceNotice, `/api/counter/cards/${c.id}/issuance-notice`);
      assert.equal(c.fee.reason, "first-issuance");
      const notice = await call("GET", c.issuanceNotice);
      assert.equal(notice.status, 200);
      assert.equal(notice.headers["content-type"], "application/pdf");
      const text = pdfText(notice.raw, "kofu");
      assert.match(text, /交付通知書/);
      assert.match(text, /町田\s花江/);
      assert.match(text, /電子証明書の有効期限\s+令和13年7月15日（2031-07-15）/);
      assert.match(text, /2026年11月25日/, "the issuance (loading) date");
      if (backend === "sqlite") {
        const out = join(tmp, "cli-notice.pdf");
        let stderr = "";
        const code = await counterIssuanceNotice.run({ data: t.dataDir, card: c.id, out }, { stdout: () => {}, stderr: (s) => void (stderr += s), env: { OPENJPKI_CA_PASSPHRASE: TEST_PASSPHRASE } });
        assert.ok(code === undefined || code === 0, stderr);
        assert.match(pdfText(readFileSync(out), "cli"), /2031-07-15/);
      }
    });

    test("fees: first issuance free; reissue after a loss the holder caused 1,000 yen; theft with a police report free; the day's summary", async () => {
      await at("2026-12-10T01:00:00Z");
      const c1 = await resident("町田 六郎", "1975-08-01");
      const card1 = await card(c1.id);
      const dup = await call("POST", "/api/counter/cards", { residentId: c1.id, authPin: "1234", signPin: "ABC123" });
      assert.equal(dup.body.error.reason, "card-held");
      // A request that would be refused revokes nothing (the signing password is missing here).
      const incomplete = await call("POST", `/api/counter/cards/${card1.id}/reissue`, { identity: ID, reason: "loss", causedByHolder: true, authPin: "5678" });
      assert.equal(incomplete.body.error?.field, "sign-pin", JSON.stringify(incomplete.body));
      assert.deepEqual((await t.context.ca.certificatesOf(c1.id)).map((c) => c.status), ["valid", "valid"]);
      assert.equal((await t.context.cards.get(card1.id)).status, "active");
      const lost = await call("POST", `/api/counter/cards/${card1.id}/reissue`, { identity: ID, reason: "loss", causedByHolder: true, authPin: "5678", signPin: "NEW456" });
      assert.equal(lost.status, 201, JSON.stringify(lost.body));
      assert.deepEqual([lost.body.feeYen, lost.body.fee.cardYen, lost.body.fee.certificatesYen, lost.body.fee.reason], [1000, 800, 200, "reissue-holder-caused"]);
      assert.deepEqual(lost.body.revoked.map((x: any) => x.reason), ["keyCompromise", "keyCompromise"]);
      assert.deepEqual(lost.body.issued.map((x: any) => x.type), ["auth", "sign"]);
      assert.notEqual(lost.body.newCardId, card1.id);
      const shown = await call("GET", `/api/counter/residents/${c1.id}`);
      assert.deepEqual(Object.fromEntries(shown.body.cards.map((x: any) => [x.id, x.status])), { [card1.id]: "replaced", [lost.body.newCardId]: "active" });
      const lift = await call("POST", `/api/counter/cards/${card1.id}/lift-suspension`, { identity: ID });
      assert.equal(lift.body.error.reason, "replacement-issued");

      const c2 = await resident("町田 七子", "1972-09-09");
      const card2 = await card(c2.id);
      const noReport = await call("POST", `/api/counter/cards/${card2.id}/reissue`, { identity: ID, reason: "theft", causedByHolder: false, authPin: "5678", signPin: "NEW456" });
      assert.equal(noReport.status, 400);
      assert.equal(noReport.body.error.field, "policeReportNumber");
      const stolen = await call("POST", `/api/counter/cards/${card2.id}/reissue`, { identity: ID, reason: "theft", causedByHolder: false, policeReportNumber: "町田署 第1234号", authPin: "5678", signPin: "NEW456" });
      assert.equal(stolen.status, 201, JSON.stringify(stolen.body));
      assert.deepEqual([stolen.body.feeYen, stolen.body.fee.reason], [0, "reissue-theft-police-report"]);
      const badReason = await call("POST", `/api/counter/cards/${stolen.body.newCardId}/reissue`, { identity: ID, reason: "bored", causedByHolder: true, authPin: "5678" });
      assert.equal(badReason.body.error.field, "reason");

      const day = await call("GET", "/api/counter/fees?date=2026-12-10&office=machida-mnc");
      assert.equal(day.status, 200, JSON.stringify(day.body));
      assert.deepEqual([day.body.totalYen, day.body.count, day.body.charged, day.body.free], [1000, 4, 1, 3]);
      assert.deepEqual(day.body.byReason.map((x: any) => [x.reason, x.totalYen]), [["first-issuance", 0], ["reissue-holder-caused", 1000], ["reissue-theft-police-report", 0]]);
      const other = await call("GET", "/api/counter/fees?date=2026-12-10&office=machida-tadao");
      assert.equal(other.body.totalYen, 0);
      const badDate = await call("GET", "/api/counter/fees?date=2026-13-01");
      assert.deepEqual([badDate.status, badDate.body.error.field], [400, "date"]);
      const noDate = await call("GET", "/api/counter/fees");
      assert.deepEqual([noDate.status, noDate.body.error.field], [400, "date"]);
      if (backend === "sqlite") {
        let stdout = "";
        await counterFees.run({ data: t.dataDir, date: "2026-12-10", json: true }, { stdout: (s) => void (stdout += s), stderr: () => {}, env: { OPENJPKI_CA_PASSPHRASE: TEST_PASSPHRASE } });
        assert.equal(JSON.parse(stdout).totalYen, 1000);
      }
    });

    test("suspension: a card-level state, lifted at the window; held certificates still need card-found", async () => {
      await at("2026-12-11T01:00:00Z");
      const r = await resident("町田 八郎", "1968-10-10");
      const c = await card(r.id);
      const suspended = await call("POST", `/api/counter/cards/${c.id}/suspend`, {});
      assert.equal(suspended.status, 200, JSON.stringify(suspended.body));
      assert.deepEqual(suspended.body.revoked, []);
      assert.equal((await call("POST", `/api/counter/cards/${c.id}/suspend`, {})).body.error.reason, "already-suspended");
      assert.equal((await call("POST", `/api/counter/cards/${c.id}/pin-init`, { identity: ID, type: "auth", newPin: "1111" })).body.error.reason, "card-suspended");
      const lifted = await call("POST", `/api/counter/cards/${c.id}/lift-suspension`, { identity: ID });
      assert.equal(lifted.status, 200, JSON.stringify(lifted.body));
      assert.deepEqual(lifted.body.held, []);
      assert.equal((await call("POST", `/api/counter/cards/${c.id}/lift-suspension`, { identity: ID })).body.error.reason, "not-suspended");
      // A loss report holds both certificates; lifting the card's suspension leaves them held.
      await call("POST", `/api/counter/cards/${c.id}/loss-report`);
      const again = await call("POST", `/api/counter/cards/${c.id}/lift-suspension`, { identity: ID });
      assert.deepEqual(again.body.held.map((h: any) => h.type), ["auth", "sign"]);
      const certs = await call("GET", `/api/counter/residents/${r.id}`);
      assert.deepEqual(certs.body.certificates.map((x: any) => x.status), ["hold", "hold"]);
      assert.equal(certs.body.cards[0].status, "active");
      const found = await call("POST", `/api/counter/cards/${c.id}/found`, { identity: ID, authPin: "2222", signPin: "FOUND1" });
      assert.equal(found.status, 200, JSON.stringify(found.body));
      assert.deepEqual(found.body.revoked.map((x: any) => x.reason), ["keyCompromise", "keyCompromise"]);
    });

    test("expiry notices: exactly the residents expiring 2–3 months after the run date (edge days)", async () => {
      await at("2026-11-25T03:00:00Z");
      // Issued 2026-11-25: each expires on the 5th birthday after, in 2031.
      const people = [
        ["期限 前日", "1980-03-09"], // 2031-03-09: the day before the window
        ["期限 初日", "1980-03-10"], // 2031-03-10: from + 2 months, in
        ["期限 末日", "1980-04-09"], // 2031-04-09: the day before from + 3 months, in
        ["期限 翌日", "1980-04-10"], // 2031-04-10: from + 3 months, out (next month's run)
      ] as const;
      const ids: Record<string, string> = {};
      for (const [name, birth] of people) {
        const r = await resident(name, birth);
        await card(r.id, birth === "1980-04-09" ? { authPin: "1234", noSign: true } : { authPin: "1234", signPin: "ABC123" });
        ids[name] = r.id;
      }
      const json = await call("GET", "/api/counter/expiry-notices?from=2031-01-10");
      assert.equal(json.status, 200, JSON.stringify(json.body));
      assert.deepEqual([json.body.windowStart, json.body.windowEnd], ["2031-03-10", "2031-04-09"]);
      assert.deepEqual(json.body.residents.map((r: any) => sp(r.name)), ["期限 初日", "期限 末日"]);
      assert.deepEqual(json.body.residents[0].certificates.map((c: any) => [c.type, c.expires, c.renewalFrom]), [["auth", "2031-03-10", "2030-12-10"], ["sign", "2031-03-10", "2030-12-10"]]);
      assert.deepEqual(json.body.residents[1].certificates.map((c: any) => c.type), ["auth"]);
      const csv = await call("GET", "/api/counter/expiry-notices?from=2031-01-10&format=csv");
      assert.match(String(csv.headers["content-type"]), /text\/csv/);
      const lines = csv.text.replace(/^\uFEFF/, "").trim().split("\r\n");
      assert.equal(lines[0], "resident_id,name,address,municipality_code,card_id,auth_expires,sign_expires,earliest_expires,renewal_from");
      assert.deepEqual(lines.slice(1).map((l: string) => sp(l.split(",")[1]!)), ["期限 初日", "期限 末日"]);
      const pdf = await call("GET", "/api/counter/expiry-notices?from=2031-01-10&format=pdf");
      const text = pdfText(pdf.raw, "expiry");
      assert.equal(text.split("\f").filter((p) => p.trim()).length, 2, "one page per resident");
      assert.match(text, /期限\s初日/);
      assert.match(text, /期限\s末日/);
      assert.doesNotMatch(text, /期限\s前日|期限\s翌日/);
      const bad = await call("GET", "/api/counter/expiry-notices?from=2031-01-10&format=xls");
      assert.deepEqual([bad.status, bad.body.error.field], [400, "format"]);
      // A date with no window three months on is the caller's mistake (it answered 500).
      const farFuture = await call("GET", "/api/counter/expiry-notices?from=9999-12-31");
      assert.deepEqual([farFuture.status, farFuture.body.error.field], [400, "from"]);
      if (backend === "sqlite") {
        const out = join(tmp, "expiry.csv");
        let stdout = "";
        await counterExpiryNotices.run({ data: t.dataDir, date: "2031-01-09", out, json: true }, { stdout: (s) => void (stdout += s), stderr: () => {}, env: { OPENJPKI_CA_PASSPHRASE: TEST_PASSPHRASE } });
        // One day earlier, the window is 2031-03-09 … 2031-04-08.
        assert.equal(JSON.parse(stdout).count, 2);
        assert.deepEqual(readFileSync(out, "utf8").trim().split("\r\n").slice(1).map((l: string) => sp(l.split(",")[1]!)), ["期限 前日", "期限 初日"]);
        // Written as it is read, the same text as the CSV of the whole run.
        assert.equal(readFileSync(out, "utf8"), expiryNoticesCsv(await expiryNoticeRun(noticeDeps(), { from: "2031-01-09" })));
      }
    });

    test("expiry-notice CSV: a name or address a spreadsheet would run as a formula stays text", async () => {
      await at("2026-11-25T03:00:00Z");
      const r = await resident('=HYPERLINK("http://evil.example/") 花子', "1981-03-10", "@SUM(1+1) 東京都町田市森野２－２－２２");
      await card(r.id);
      const csv = await call("GET", "/api/counter/expiry-notices?from=2031-01-10&format=csv");
      const row = csv.text.split("\r\n").find((l: string) => l.startsWith(r.id))!;
      assert.ok(row, csv.text);
      const [, name, address] = row.split(/,(?=(?:[^"]*"[^"]*")*[^"]*$)/);
      assert.equal(name, '"\'=HYPERLINK(""http://evil.example/"")\u3000花子"'); // the register writes the space as a full-width one
      assert.match(address!, /^'@SUM\(1\+1\) /);
    });

    test("expiry-notice CSV: sent as it is read, the whole run's CSV; a failure part way does not end as a complete file", async () => {
      await at("2026-11-25T03:00:00Z");
      const csv = await call("GET", "/api/counter/expiry-notices?from=2031-01-10&format=csv");
      assert.equal(csv.status, 200);
      assert.equal(csv.headers["content-disposition"], 'attachment; filename="expiry-notices-2031-01-10.csv"');
      assert.equal(csv.headers["cache-control"], "no-store");
      const whole = expiryNoticesCsv(await expiryNoticeRun(noticeDeps(), { from: "2031-01-10" }));
      assert.match(whole, /,2031-03-10,/);
      assert.match(whole, /,2031-04-09,/, "residents on the first day of the window and on a later one");
      assert.equal(csv.text, whole);
      const store = t.context.store as { db: Kysely<Database> };
      const healthy = store.db;
      // The store goes away once the first day with residents (2031-03-10) is read and sent.
      store.db = failingFrom(healthy, "2031-03-11");
      const logged = mock.method(console, "error", () => {});
      try {
        await assert.rejects(call("GET", "/api/counter/expiry-notices?from=2031-01-10&format=csv"), /destroyed before completion/);
        assert.equal(logged.mock.callCount(), 1);
        assert.match(String(logged.mock.calls[0]?.arguments[0]), /^expiry-notices-2031-01-10\.csv: Error: the store went away/, "logged, as the answer cannot say it");
        // A mistake in `from` is answered before anything is sent.
        const bad = await call("GET", "/api/counter/expiry-notices?from=9999-12-31&format=csv");
        assert.deepEqual([bad.status, bad.body.error.field], [400, "from"]);
      } finally {
        store.db = healthy;
        logged.mock.restore();
      }
    });

    test("expiry notices: a HEAD starts no run, in any format, on the API or the pages", async () => {
      await at("2026-11-25T03:00:00Z");
      const login = await app.inject({ method: "POST", url: "/api/counter/login", payload: { login: "suzuki", password: "correct horse battery" } });
      const cookie = login.headers["set-cookie"]!.toString().split(";")[0]!;
      const store = t.context.store as { db: Kysely<Database> };
      const healthy = store.db;
      let runQueries = 0;
      store.db = watchingQueries(healthy, (query) => {
        if (query.includes('"certificates"')) runQueries++;
      });
      try {
        for (const url of ["/api/counter/expiry-notices?from=2031-01-10&format=csv", "/api/counter/expiry-notices?from=2031-01-10", "/api/counter/expiry-notices?from=2031-01-10&format=pdf", "/counter/expiry-notices.csv?from=2031-01-10", "/counter/expiry-notices?from=2031-01-10"]) {
          const head = await app.inject({ method: "HEAD", url, headers: { cookie } });
          // A run started in the background would have read its first day by now.
          await new Promise((resolve) => setTimeout(resolve, 200));
          assert.equal(runQueries, 0, `${url}: no certificate read`);
          assert.equal(head.statusCode, 404, url);
        }
        // The same answers for a GET do read them (what the count above would have seen).
        assert.equal((await call("GET", "/api/counter/expiry-notices?from=2031-01-10&format=csv")).status, 200);
        assert.ok(runQueries > 0);
      } finally {
        store.db = healthy;
      }
    });

    test("expiry notices: the JSON answer holds at most so many residents, and points to the CSV for a larger run", async () => {
      await at("2026-11-25T03:00:00Z");
      const db = t.context.store.db;
      const authorities = Object.fromEntries((await db.selectFrom("authorities").select(["id", "ca_type"]).execute()).map((r) => [r.ca_type, r.id]));
      const template = await db.selectFrom("residents").selectAll().where("id", "=", (await resident("期限 多数", "1980-05-05")).id).executeTakeFirstOrThrow();
      // One over the limit, expiring in the run from 2033-01-10 (window 2033-03-10 … 2033-04-09), which no other test's certificate does.
      const ids = Array.from({ length: EXPIRY_NOTICES_JSON_LIMIT + 1 }, (_, i) => `R-JS${String(i).padStart(8, "0")}`);
      for (let i = 0; i < ids.length; i += 500) {
        const slice = ids.slice(i, i + 500);
        await db.insertInto("residents").values(slice.map((id) => ({ ...template, id }))).execute();
        await db.insertInto("certificates").values(slice.map((id) => ({
          ca_type: "auth" as const, serial_hex: `EE${id.slice(2)}`, authority_id: authorities.auth!, resident_id: id, card_id: null, subject_cn: `json ${id}`,
          municipality_code: "132098", not_before: "2026-01-10T00:00:00Z", not_after: "2033-03-20T14:59:59Z", expires: "2033-03-20", issued_at: "2026-01-10T00:00:00Z",
          status: "valid" as const, revoked_at: null, revocation_reason: null, invalidity_date: null, revoked_by: null,
        }))).execute();
      }
      try {
        const json = await call("GET", "/api/counter/expiry-notices?from=2033-01-10");
        assert.deepEqual([json.status, json.body.error.reason, json.body.error.field], [403, "run-too-large", "from"], JSON.stringify(json.body).slice(0, 300));
        assert.match(json.body.error.message, new RegExp(`${EXPIRY_NOTICES_JSON_LIMIT} 件を超え、JSON で一度に返せるのは ${EXPIRY_NOTICES_JSON_LIMIT} 件までです。CSV（format=csv）で取得するか`));
        assert.match(json.body.error.message, /more than \d+ notices, over the \d+ one JSON answer may hold: ask for the CSV \(format=csv\)/);
        const csv = await call("GET", "/api/counter/expiry-notices?from=2033-01-10&format=csv");
        assert.equal(csv.status, 200);
        assert.deepEqual(csv.text.trim().split("\r\n").slice(1).map((l: string) => l.split(",")[0]), ids, "the CSV holds every one");
        // One fewer fits.
        await db.deleteFrom("certificates").where("resident_id", "=", ids[0]!).execute();
        const fits = await call("GET", "/api/counter/expiry-notices?from=2033-01-10");
        assert.deepEqual([fits.status, fits.body.count], [200, EXPIRY_NOTICES_JSON_LIMIT]);
      } finally {
        await db.deleteFrom("certificates").where("subject_cn", "like", "json R-JS%").execute();
        await db.deleteFrom("residents").where("id", "like", "R-JS%").execute();
      }
    });

    test("the OpenAPI document lists the new endpoints; the audit trail verifies", async () => {
      const doc = (await app.inject({ method: "GET", url: "/api/openapi.json" })).json();
      for (const path of ["/api/counter/proxy-applications", "/api/counter/proxy-applications/{id}/complete", "/api/counter/cards/{id}/issuance-notice", "/api/counter/cards/{id}/reissue", "/api/counter/cards/{id}/lift-suspension", "/api/counter/fees", "/api/counter/expiry-notices"]) {
        assert.ok(doc.paths[path], path);
      }
      assert.ok(doc.paths["/api/counter/fees"].get.parameters.some((p: any) => p.name === "date" && p.in === "query" && p.required));
      const audit = await call("GET", "/api/counter/audit/verify");
      assert.equal(audit.body.ok, true);
      const actions = await t.context.store.db.selectFrom("audit_log").select("action").execute();
      for (const a of ["application.pin-init.proxy-start", "application.proxy.bad-answer-code", "application.pin-init.proxy-complete", "application.reissue.completed", "notice.issuance.ready", "card.replace"]) {
        assert.ok(actions.some((x) => x.action === a), a);
      }
    });
  });
}
