// Counter procedures: defects found in review (retry counters, races between two clerks,
// procedures that did nothing), each on every back end.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { backends, openTestContext, type TestContext } from "../../helpers/context.ts";
import type { Actor } from "../../../src/services/audit.ts";
import { ServiceError } from "../../../src/services/errors.ts";
import { execFileSync } from "node:child_process";
import { whileIssuanceFails } from "../../helpers/faults.ts";

/** The answer code printed on a 照会書兼回答書 (the only place it appears). */
function answerCodeIn(pdf: Uint8Array): string {
  const text = execFileSync("pdftotext", ["-raw", "-enc", "UTF-8", "-", "-"], { input: Buffer.from(pdf), encoding: "utf8" });
  const code = /回答番号\s+(?:Answer code\s+)?(\d{8})/.exec(text)?.[1] ?? /\b(\d{8})\b/.exec(text)?.[1];
  assert.ok(code, text);
  return code;
}

let now = new Date("2026-11-25T01:00:00Z"); // 10:00 JST
const clock = () => new Date(now);
const ID = { document: "my-number-card" as const };
const CLERK: Actor = { actor: "staff:tanaka", office: "machida-mnc" };

const reasonOf = (r: PromiseSettledResult<unknown>) => (r.status === "fulfilled" ? "ok" : r.reason instanceof ServiceError ? (r.reason.reason ?? r.reason.code) : String(r.reason));
const count = (list: string[], what: string) => list.filter((x) => x === what).length;

for (const backend of backends()) {
  describe(`counter procedures (review) on ${backend}`, () => {
    let t: TestContext;
    const newCard = async () => {
      const resident = await t.context.registry.add({ name: "町田 花子", birth: "1980-05-05", gender: "2", address: "東京都町田市森野２－２－２２", municipality: "132098" });
      const card = await t.context.cards.issue({ residentId: resident.id, authPin: "1234", signPin: "ABC123" });
      return { resident, card };
    };

    before(async () => {
      now = new Date("2026-11-25T01:00:00Z");
      t = await openTestContext(backend, { clock });
      await t.context.staff.add({ officeId: "machida-mnc", login: "suzuki", name: "鈴木 次郎", role: "clerk", password: "correct horse battery" });
    });
    after(async () => {
      await t.cleanup();
    });

    test("staff login: wrong passwords sent at once each count, and those past the fifth are not even checked", async () => {
      const results = (await Promise.allSettled(Array.from({ length: 10 }, () => t.context.staff.login("suzuki", "wrong password!")))).map(reasonOf);
      assert.equal(count(results, "bad-credentials"), 5, results.join(","));
      assert.equal(count(results, "login-locked"), 5, results.join(","));
      await assert.rejects(t.context.staff.login("suzuki", "correct horse battery"), (e: ServiceError) => e.reason === "login-locked");
      now = new Date(now.getTime() + 16 * 60_000);
      const session = await t.context.staff.login("suzuki", "correct horse battery");
      assert.equal(session.staff.login, "suzuki");
      now = new Date("2026-11-25T01:00:00Z");
    });

    test("proxy answer codes: wrong codes sent at once each count; past the fifth the application is locked and closed", async () => {
      const { card } = await newCard();
      const started = await t.context.counter.startProxy({ kind: "pin-init", cardId: card.id, pinType: "auth", proxy: { name: "代理 太郎", relationship: "友人" } }, CLERK);
      now = new Date("2026-11-26T01:00:00Z");
      try {
        const guess = (code: string) =>
          t.context.counter.completeProxy({ applicationId: started.applicationId, answerCode: code, proxyIdentity: { document: "driver-licence", name: "代理 太郎" }, newPin: "5678" }, CLERK);
        const codes = Array.from({ length: 8 }, (_, i) => String(10_000_000 + i));
        const results = (await Promise.allSettled(codes.map(guess))).map(reasonOf);
        assert.equal(count(results, "bad-answer-code"), 5, results.join(","));
        assert.equal(count(results, "answer-code-locked"), 3, results.join(","));
        const status = await t.context.counter.proxyStatus(started.applicationId);
        assert.equal(status.attempts, 5);
        assert.equal(status.attemptsLeft, 0);
        assert.equal(status.state, "failed");
      } finally {
        now = new Date("2026-11-25T01:00:00Z");
      }
    });

    test("proxy answer codes: a right code gives its try back", async () => {
      const { card } = await newCard();
      const started = await t.context.counter.startProxy({ kind: "revocation", types: ["sign"], cardId: card.id, proxy: { name: "代理 太郎", relationship: "友人" } }, CLERK);
      const code = answerCodeIn(started.letter.pdf);
      now = new Date("2026-11-26T01:00:00Z");
      try {
        const visit = (answerCode: string, name = "代理 太郎") =>
          t.context.counter.completeProxy({ applicationId: started.applicationId, answerCode, proxyIdentity: { document: "driver-licence", name } }, CLERK);
        await assert.rejects(visit(code === "00000000" ? "11111111" : "00000000"), (e: ServiceError) => e.reason === "bad-answer-code");
        assert.equal((await t.context.counter.proxyStatus(started.applicationId)).attempts, 1);
        await assert.rejects(visit(code, "別人 一郎"), (e: ServiceError) => e.reason === "proxy-mismatch");
        assert.equal((await t.context.counter.proxyStatus(started.applicationId)).attempts, 1, "the right code was not a wrong try");
        const done = await visit(code);
        assert.deepEqual(done.revoked.map((r) => r.type), ["sign"]);
        assert.equal((await t.context.counter.proxyStatus(started.applicationId)).attempts, 1);
      } finally {
        now = new Date("2026-11-25T01:00:00Z");
      }
    });

    test("two clerks start a proxy application for one card at once: one waits, the other is refused", async () => {
      const { card } = await newCard();
      const start = () => t.context.counter.startProxy({ kind: "pin-init", cardId: card.id, pinType: "auth", proxy: { name: "代理 太郎", relationship: "友人" } }, CLERK);
      const results = (await Promise.allSettled([start(), start(), start()])).map(reasonOf);
      assert.equal(count(results, "ok"), 1, results.join(","));
      assert.equal(count(results, "proxy-pending"), 2, results.join(","));
      const waiting = await t.context.store.db.selectFrom("applications").select("id").where("card_id", "=", card.id).where("state", "=", "awaiting-proxy").execute();
      assert.equal(waiting.length, 1);
    });

    test("a revocation request for a certificate already revoked is refused, naming it, not recorded as done", async () => {
      const { card } = await newCard();
      const first = await t.context.counter.revokeOnRequest({ cardId: card.id, types: ["sign"], identity: ID }, CLERK);
      assert.equal(first.revoked.length, 1);
      await assert.rejects(t.context.counter.revokeOnRequest({ cardId: card.id, types: ["sign"], identity: ID }, CLERK), (e: ServiceError) => {
        assert.equal(e.code, "conflict");
        assert.equal(e.reason, "nothing-to-revoke");
        assert.match(e.message, /署名用電子証明書/);
        assert.match(e.message, /sign/);
        return true;
      });
      const completed = await t.context.store.db.selectFrom("applications").select("id").where("card_id", "=", card.id).where("kind", "=", "revocation").where("state", "=", "completed").execute();
      assert.equal(completed.length, 1, "one revocation done, not two");
      // Both asked, one already revoked: the other is revoked.
      const both = await t.context.counter.revokeOnRequest({ cardId: card.id, types: ["auth", "sign"], identity: ID }, CLERK);
      assert.deepEqual(both.revoked.map((r) => r.type), ["auth"]);
      // And a proxy is not sent off with an answer form for nothing.
      await assert.rejects(
        t.context.counter.startProxy({ kind: "revocation", types: ["auth"], cardId: card.id, proxy: { name: "代理 太郎", relationship: "友人" } }, CLERK),
        (e: ServiceError) => e.reason === "nothing-to-revoke",
      );
    });
    test("a lost card found: a procedure that fails midway leaves the card suspended with its holds, and is simply done again", async () => {
      const { card } = await newCard();
      const [oldAuth, oldSign] = card.certificates;
      await t.context.counter.reportLoss({ cardId: card.id }, CLERK);
      const found = () => t.context.counter.cardFound({ cardId: card.id, pins: { auth: "4321", sign: "NEW123" }, identity: ID }, CLERK);
      const status = async (type: "auth" | "sign", serial: string) => {
        const c = await t.context.ca.certificate(type, serial);
        return `${c.status}:${c.revocationReason}`;
      };
      // The CA fails at the first certificate: nothing is half done.
      await assert.rejects(whileIssuanceFails(t.context.ca, found), /the store went away/);
      assert.equal((await t.context.cards.get(card.id)).status, "suspended");
      assert.equal(await status("auth", oldAuth!.serialHex), "hold:certificateHold");
      assert.equal(await status("sign", oldSign!.serialHex), "hold:certificateHold");
      // It fails at the signing certificate, after the authentication one was written.
      const issue = t.context.ca.issue;
      t.context.ca.issue = async (request) => {
        if (request.type === "sign") throw new Error("the store went away");
        return issue.call(t.context.ca, request);
      };
      try {
        await assert.rejects(found(), /the store went away/);
      } finally {
        t.context.ca.issue = issue;
      }
      assert.equal((await t.context.cards.get(card.id)).status, "suspended", "not lifted while a certificate is still to be issued");
      assert.equal(await status("auth", oldAuth!.serialHex), "revoked:keyCompromise");
      assert.equal(await status("sign", oldSign!.serialHex), "hold:certificateHold");
      // Done again: the rest is done.
      const done = await found();
      assert.deepEqual(done.issued.map((c) => c.type), ["sign"]);
      assert.equal((await t.context.cards.get(card.id)).status, "active");
      assert.equal(await status("sign", oldSign!.serialHex), "revoked:keyCompromise");
      const valid = (await t.context.ca.certificatesOf(card.residentId)).filter((c) => c.cardId === card.id && c.status === "valid");
      assert.deepEqual(valid.map((c) => c.type).sort(), ["auth", "sign"]);
    });

    test("a lost card found: declined certificates are revoked, nothing new for them", async () => {
      const { card } = await newCard();
      await t.context.counter.reportLoss({ cardId: card.id }, CLERK);
      const done = await t.context.counter.cardFound({ cardId: card.id, pins: { auth: "4321" }, noSign: true, identity: ID }, CLERK);
      assert.deepEqual(done.issued.map((c) => c.type), ["auth"]);
      assert.deepEqual(done.revoked.map((r) => `${r.type}:${r.reason}`).sort(), ["auth:keyCompromise", "sign:keyCompromise"]);
      assert.equal((await t.context.cards.get(card.id)).status, "active");
      assert.equal((await t.context.ca.certificatesOf(card.residentId)).filter((c) => c.cardId === card.id && c.status === "hold").length, 0);
    });
    test("a procedure that waited for another clerk's on the same card sees the card as that one left it", async () => {
      const resident = await t.context.registry.add({ name: "町田 次郎", birth: "1975-01-01", gender: "1", address: "東京都町田市森野１", municipality: "132098" });
      const card = await t.context.cards.issue({ residentId: resident.id, authPin: "1234", noSign: true });
      // Clerk B's new issuance has read the card (active) and reaches for it just after clerk A returned it.
      let returned!: () => void;
      const afterReturn = new Promise<void>((resolve) => (returned = resolve));
      const claim = t.context.cards.claim;
      t.context.cards.claim = async (id, what) => {
        if (what === "new-issuance") await afterReturn;
        return claim.call(t.context.cards, id, what);
      };
      try {
        const late = t.context.counter.newIssuance({ cardId: card.id, types: ["sign"], pins: { sign: "LATE12" }, identity: ID }, CLERK);
        late.catch(() => undefined);
        await new Promise((resolve) => setTimeout(resolve, 200));
        await t.context.counter.returnCard({ cardId: card.id, identity: ID }, CLERK);
        returned();
        await assert.rejects(late, (e: ServiceError) => e.reason === "card-returned");
      } finally {
        t.context.cards.claim = claim;
      }
      const certificates = (await t.context.ca.certificatesOf(resident.id)).filter((c) => c.cardId === card.id);
      assert.deepEqual(certificates.map((c) => `${c.type}:${c.status}`), ["auth:revoked"], "nothing issued onto a returned card");
    });
    test("a police report number goes to the audit trail checked like every free text: no control or bidi-override characters", async () => {
      const { card } = await newCard();
      const reissue = (policeReportNumber: string) =>
        t.context.counter.reissue({ cardId: card.id, reason: "theft", causedByHolder: false, policeReportNumber, authPin: "1111", signPin: "ABC123", identity: ID }, CLERK);
      for (const bad of ["\u202e第123号", "第1\u00002号"]) {
        await assert.rejects(reissue(bad), (e: ServiceError) => e.code === "invalid-input" && e.field === "policeReportNumber");
      }
      assert.equal((await t.context.cards.get(card.id)).status, "active", "refused before anything was done");
      const valid = (await t.context.ca.certificatesOf(card.residentId)).filter((c) => c.cardId === card.id && c.status === "valid");
      assert.equal(valid.length, 2);
      const done = await reissue(" 町田第123号 ");
      assert.equal(done.fee.reason, "reissue-theft-police-report");
      const row = await t.context.store.db.selectFrom("applications").select("detail").where("id", "=", done.applicationId).executeTakeFirstOrThrow();
      assert.equal(JSON.parse(row.detail).reissue.policeReportNumber, "町田第123号");
    });
    test("a lost card found, cut off after a new certificate was written but before the held one was revoked: done again, it issues no second one", async () => {
      const { card } = await newCard();
      const [oldAuth] = card.certificates;
      await t.context.counter.reportLoss({ cardId: card.id }, CLERK);
      // What a process killed there leaves: the application in progress, a new authentication
      // key and certificate on the card, both old certificates still on hold.
      await t.context.store.db
        .insertInto("applications")
        .values({ id: "A-CF0000000001", kind: "card-found", resident_id: card.residentId, card_id: card.id, office_id: "machida-mnc", state: "in-progress", detail: "{}", fee_yen: 0, created_by: "staff:tanaka", created_at: now.toISOString(), updated_at: now.toISOString() })
        .execute();
      const newAuth = await t.context.cards.withCounterSession(card.id, async (session) => {
        const key = await session.generateKeyPair("auth");
        const record = await t.context.ca.issue({ type: "auth", residentId: card.residentId, subjectPublicKey: key, cardId: card.id });
        await session.writeCertificate("auth", record.der);
        await session.setPin("auth", "4321");
        return record;
      });
      const done = await t.context.counter.cardFound({ cardId: card.id, pins: { auth: "5678", sign: "NEW123" }, identity: ID }, CLERK);
      assert.deepEqual(done.issued.map((c) => c.type), ["sign"], "the authentication certificate was already replaced");
      const onCard = (await t.context.ca.certificatesOf(card.residentId)).filter((c) => c.cardId === card.id);
      assert.deepEqual(onCard.filter((c) => c.type === "auth" && c.status === "valid").map((c) => c.serialHex), [newAuth.serialHex]);
      assert.equal((await t.context.ca.certificate("auth", oldAuth!.serialHex)).revocationReason, "keyCompromise");
      assert.equal(onCard.filter((c) => c.status === "hold").length, 0);
      assert.equal((await t.context.cards.get(card.id)).status, "active");
    });
    test("two administrators adding the same login at once: one account, the other refused naming the login", async () => {
      const add = () => t.context.staff.add({ officeId: "machida-mnc", login: "yamada", name: "山田 三郎", role: "clerk", password: "correct horse battery" });
      const results = await Promise.allSettled([add(), add(), add()]);
      assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
      for (const r of results) {
        if (r.status === "rejected") {
          assert.ok(r.reason instanceof ServiceError, String(r.reason));
          assert.equal(r.reason.code, "conflict");
          assert.equal(r.reason.field, "login");
          assert.match(r.reason.message, /yamada/);
        }
      }
      assert.equal((await t.context.staff.list()).filter((s) => s.login === "yamada").length, 1);
    });
    test("a proxy is taken as the holder's legal representative (same day, no answer form) only when the register says the holder has one", async () => {
      const { card } = await newCard(); // an adult, not under guardianship
      await assert.rejects(
        t.context.counter.startProxy({ kind: "pin-init", pinType: "auth", cardId: card.id, proxy: { name: "代理 太郎", relationship: "成年後見人", type: "legal" } }, CLERK),
        (e: ServiceError) => e.code === "refused" && e.reason === "no-legal-representative" && e.field === "proxy.type" && /法定代理人/.test(e.message),
      );
      assert.equal((await t.context.store.db.selectFrom("applications").select("id").where("card_id", "=", card.id).execute()).length, 0, "nothing opened");
      // An adult under guardianship has one.
      const ward = await t.context.registry.add({ name: "町田 後見", birth: "1970-03-03", gender: "1", address: "東京都町田市森野１", municipality: "132098", guardianship: true });
      const wardCard = await t.context.cards.issue({ residentId: ward.id, authPin: "1234" });
      const started = await t.context.counter.startProxy({ kind: "pin-init", pinType: "auth", cardId: wardCard.id, proxy: { name: "後見 一郎", relationship: "成年後見人", type: "legal" } }, CLERK);
      assert.equal(started.sameDayAllowed, true);
    });
    test("with the suspension lifted and the certificates still on hold, renewal and PIN initialisation point at card-found, not at new issuance (which refuses)", async () => {
      const { card } = await newCard();
      await t.context.counter.reportLoss({ cardId: card.id }, CLERK);
      await t.context.counter.liftSuspension({ cardId: card.id, identity: ID }, CLERK);
      const onHold = (field: string) => (e: ServiceError) => e.reason === "on-hold" && e.field === field && /紛失カードの発見/.test(e.message) && /card-found/.test(e.message);
      await assert.rejects(t.context.counter.initialisePin({ cardId: card.id, type: "auth", newPin: "5678", identity: ID }, CLERK), onHold("type"));
      await assert.rejects(t.context.counter.renew({ cardId: card.id, types: ["auth"], identity: ID }, CLERK), onHold("types"));
      await assert.rejects(t.context.counter.newIssuance({ cardId: card.id, types: ["auth"], pins: { auth: "5678" }, identity: ID }, CLERK), onHold("types"));
    });
    test("the window procedures are the resident's own municipality's (住所地市町村長): another city's counter is refused, naming both; the loss report is anyone's", async () => {
      const resident = await t.context.registry.add({ name: "千代田 太郎", birth: "1980-06-01", gender: "1", address: "東京都千代田区霞が関２－１－２", municipality: "131016" });
      const card = await t.context.cards.issue({ residentId: resident.id, authPin: "1234", signPin: "ABC123" });
      const elsewhere = (e: ServiceError) => e.code === "refused" && e.reason === "other-municipality" && /千代田区/.test(e.message) && /マイナンバーカードセンター/.test(e.message);
      await assert.rejects(t.context.counter.initialisePin({ cardId: card.id, type: "auth", newPin: "5678", identity: ID }, CLERK), elsewhere);
      await assert.rejects(t.context.counter.revokeOnRequest({ cardId: card.id, types: ["sign"], identity: ID }, CLERK), elsewhere);
      await assert.rejects(t.context.counter.startProxy({ kind: "pin-init", pinType: "auth", cardId: card.id, proxy: { name: "代理 太郎", relationship: "友人" } }, CLERK), elsewhere);
      await assert.rejects(t.context.counter.reissue({ cardId: card.id, reason: "damage", causedByHolder: false, authPin: "1111", signPin: "ABC123", identity: ID }, CLERK), elsewhere);
      const other = await t.context.registry.add({ name: "千代田 花子", birth: "1985-06-01", gender: "2", address: "東京都千代田区霞が関２－１－２", municipality: "131016" });
      await assert.rejects(t.context.counter.produceCard({ residentId: other.id, authPin: "1234", signPin: "ABC123" }, CLERK), elsewhere);
      assert.equal((await t.context.store.db.selectFrom("applications").select("id").where("resident_id", "in", [resident.id, other.id]).execute()).length, 0, "nothing opened");
      // The call centre takes a loss report from anyone, for any card.
      const lost = await t.context.counter.reportLoss({ cardId: card.id }, CLERK);
      assert.equal(lost.revoked.length, 2);
      // An operator's CLI (no office) is not a municipal counter.
      const found = await t.context.counter.cardFound({ cardId: card.id, pins: { auth: "4321", sign: "NEW123" }, identity: ID }, { actor: "operator:cli" });
      assert.equal(found.issued.length, 2);
    });
    test("a reissue cut off after its new card was made, before the old one was marked replaced: done again, it finishes with that card (no second one)", async () => {
      const { resident, card: old } = await newCard();
      // What a process killed there leaves: the reissue in progress, the old card's certificates
      // revoked, the new card made and in use but linked to nothing.
      await t.context.store.db
        .insertInto("applications")
        .values({ id: "A-CR0000000001", kind: "reissue", resident_id: resident.id, card_id: old.id, office_id: "machida-mnc", state: "in-progress", detail: "{}", fee_yen: 0, created_by: "staff:tanaka", created_at: now.toISOString(), updated_at: now.toISOString() })
        .execute();
      await t.context.counter.revokeOnRequest({ cardId: old.id, types: ["auth", "sign"], identity: ID }, CLERK);
      const made = await t.context.cards.issue({ residentId: resident.id, replaces: old.id, authPin: "1111", signPin: "NEW123" });
      const again = await t.context.counter.reissue({ cardId: old.id, reason: "loss", causedByHolder: true, authPin: "2222", signPin: "AGAIN1", identity: ID }, CLERK);
      assert.equal(again.newCardId, made.id);
      assert.equal(again.fee.amountYen, 1000);
      assert.equal((await t.context.cards.get(old.id)).status, "replaced");
      const row = await t.context.store.db.selectFrom("cards").select("replaces_card_id").where("id", "=", made.id).executeTakeFirstOrThrow();
      assert.equal(row.replaces_card_id, old.id);
      const cards = await t.context.cards.list({ residentId: resident.id });
      assert.deepEqual(cards.map((c) => c.status).sort(), ["active", "replaced"], "no third card");
      const cut = await t.context.store.db.selectFrom("applications").select("state").where("id", "=", "A-CR0000000001").executeTakeFirstOrThrow();
      assert.equal(cut.state, "failed");
    });

    test("a replacement card is linked to the card it replaces from the moment it is made: the old card's suspension cannot be lifted meanwhile", async () => {
      const { resident, card: old } = await newCard();
      await t.context.counter.suspend({ cardId: old.id, identity: ID }, CLERK);
      // What a reissue cut off after making the new card leaves: the new card, not yet marked as the replacement.
      const made = await t.context.cards.issue({ residentId: resident.id, replaces: old.id, authPin: "1111", signPin: "NEW123" });
      const row = await t.context.store.db.selectFrom("cards").select("replaces_card_id").where("id", "=", made.id).executeTakeFirstOrThrow();
      assert.equal(row.replaces_card_id, old.id);
      await assert.rejects(
        t.context.counter.liftSuspension({ cardId: old.id, identity: ID }, CLERK),
        (e: unknown) => e instanceof ServiceError && e.reason === "replacement-issued",
      );
      assert.equal((await t.context.cards.get(old.id)).status, "suspended");
    });
  });
}
