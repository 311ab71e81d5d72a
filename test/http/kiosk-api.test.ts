// The kiosk's HTTP side: the documents a municipality offers, and the tamper check of an issued document.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { buildApp } from "../../src/http/app.ts";
import { openTestContext, type TestContext } from "../helpers/context.ts";

describe("kiosk API", () => {
  let t: TestContext;
  const clock = () => new Date("2026-11-25T03:00:00Z"); // 12:00 JST, open
  before(async () => {
    t = await openTestContext("sqlite", { clock });
  });
  after(() => t.cleanup());

  test("documents offered, and a document issued at the kiosk checks out by number and code", async () => {
    const app = await buildApp(t.context);
    const offered = await app.inject({ method: "GET", url: "/api/kiosk/documents?municipality=132098" });
    assert.equal(offered.statusCode, 200);
    assert.deepEqual(offered.json().documents.map((d: { id: string }) => d.id).sort(), ["inkan-toroku", "juminhyo", "juminhyo-kisai-jiko"]);
    assert.equal(offered.json().open, true);

    const resident = await t.context.registry.add({ name: "町田 花子", birth: "1990-01-02", gender: "2", address: "東京都町田市森野２－２－２２", municipality: "132098" });
    const card = await t.context.cards.issue({ residentId: resident.id, authPin: "1234", noSign: true });
    const { issuance } = await t.context.cards.withReader(card.id, (reader) => t.context.kiosk.issue(reader, { pin: "1234", document: "juminhyo" }));
    const checked = await app.inject({ method: "POST", url: "/api/kiosk/verify", payload: { issueNumber: issuance.id, code: issuance.verificationCode } });
    assert.equal(checked.statusCode, 200, checked.body);
    assert.equal(checked.json().pdfSha256, issuance.pdfSha256);
    const forged = await app.inject({ method: "POST", url: "/api/kiosk/verify", payload: { issueNumber: issuance.id, code: "AAAABBBBCCCCDDDD" } });
    assert.ok(forged.statusCode >= 400 && forged.statusCode < 500);
    await app.close();
  });
});
