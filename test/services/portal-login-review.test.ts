// Portal login sessions (reviewer D): expired sessions do not pile up in the store, and a session
// ends when its certificate's validity does, as it ends when the certificate is revoked.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { ServiceError } from "../../src/services/errors.ts";
import { backends, openTestContext, type TestContext } from "../helpers/context.ts";
import type { IssuedCard } from "../../src/services/cards.ts";

const refused = (reason: string) => (e: unknown) => {
  assert.ok(e instanceof ServiceError, String(e));
  assert.equal(e.reason, reason, e.message);
  return true;
};

for (const backend of backends()) {
  describe(`portal login sessions (${backend})`, () => {
    let now = new Date("2026-11-25T03:00:00Z");
    let t: TestContext;
    let card: IssuedCard;
    const login = () => t.context.cards.withReader(card.id, (reader) => t.context.portal.loginWithCard(reader, "1234"));
    const sessionIds = async () => (await t.context.store.db.selectFrom("portal_sessions").select("id").execute()).map((r) => r.id).sort();

    before(async () => {
      t = await openTestContext(backend, { clock: () => new Date(now) });
      const resident = await t.context.registry.add({ name: "町田 花子", birth: "1990-01-02", gender: "2", address: "東京都町田市森野２－２－２２", municipality: "132098" });
      card = await t.context.cards.issue({ residentId: resident.id, authPin: "1234", signPin: "ABC123" });
    });
    after(() => t.cleanup());

    test("expired sessions are deleted as new logins come (the table does not grow with every login ever made)", async () => {
      const first = await login();
      now = new Date(now.getTime() + 10 * 60_000);
      const second = await login();
      assert.deepEqual(await sessionIds(), [first.id, second.id].sort());
      now = new Date(now.getTime() + 25 * 60_000); // the first has expired, the second not yet
      const third = await login();
      assert.deepEqual(await sessionIds(), [second.id, third.id].sort(), "the expired session is gone");
      await assert.rejects(t.context.portal.session(first.id), refused("no-session"));
      assert.equal((await t.context.portal.session(third.id)).id, third.id);
    });

    test("a session ends when its certificate expires, not up to 30 minutes later", async () => {
      const auth = card.certificates.find((c) => c.type === "auth")!;
      const row = await t.context.store.db.selectFrom("certificates").select("not_after").where("ca_type", "=", "auth").where("serial_hex", "=", auth.serialHex).executeTakeFirstOrThrow();
      const notAfter = new Date(row.not_after);
      now = new Date(notAfter.getTime() - 10 * 60_000);
      const session = await login();
      assert.equal((await t.context.portal.session(session.id)).id, session.id);
      now = new Date(notAfter.getTime() + 1_000);
      await assert.rejects(t.context.portal.session(session.id), refused("expired"));
    });
  });
}
