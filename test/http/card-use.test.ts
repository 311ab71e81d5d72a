// Card login and the app reservation through the real HTTP server; the card holder's side runs
// against an in-process virtual card, as a browser helper or phone app would against a real one.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startServer, type RunningServer } from "../../src/http/server.ts";
import { holderProof } from "../../src/services/card-holder.ts";
import { JpkiClient } from "../../src/client/jpki-client.ts";
import { signedChallenge } from "../../src/services/challenges.ts";
import { openTestContext, type TestContext } from "../helpers/context.ts";
import type { IssuedCard } from "../../src/services/cards.ts";

describe("card use over HTTP", () => {
  let t: TestContext;
  let server: RunningServer;
  let card: IssuedCard;

  const post = async (path: string, body: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${server.url}${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
    return { status: res.status, headers: res.headers, body: (await res.json()) as any };
  };
  const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");

  before(async () => {
    // The kiosk step of the PIN reset keeps the kiosk's hours: open all day, whenever the test runs.
    t = await openTestContext("sqlite", { settings: { kiosk: { hours: { opens: "00:00", closes: "23:59", closedPeriods: [] } } } });
    server = await startServer(t.context, { host: "127.0.0.1", port: 0, handleSignals: false });
    const resident = await t.context.registry.add({
      name: "町田 花子", birth: "1990-01-02", gender: "2", address: "東京都町田市森野２－２－２２", municipality: "132098",
    });
    card = await t.context.cards.issue({ residentId: resident.id, authPin: "1234", signPin: "ABC123" });
  });
  after(async () => {
    await server.close();
    await t.cleanup();
  });

  async function signedLogin(type: "auth" | "sign", pin: string) {
    const challenge = await post("/api/portal/challenge", {});
    assert.equal(challenge.status, 200);
    const proof = await t.context.cards.withReader(card.id, (reader) =>
      holderProof(reader, type, pin, "login", Buffer.from(challenge.body.challenge, "base64url")),
    );
    return { challengeId: challenge.body.challengeId, certificate: b64(proof.certificateDer), signature: b64(proof.signature) };
  }

  test("login sets a session cookie bound to the certificate serial; /me needs it", async () => {
    const body = await signedLogin("auth", "1234");
    const login = await post("/api/portal/login", body);
    assert.equal(login.status, 200, JSON.stringify(login.body));
    assert.equal(login.body.serial, card.certificates.find((c) => c.type === "auth")!.serialHex);
    const cookie = login.headers.get("set-cookie")!;
    assert.match(cookie, /HttpOnly; SameSite=Strict/);
    const me = await fetch(`${server.url}/api/portal/me`, { headers: { cookie: cookie.split(";")[0]! } });
    assert.equal(me.status, 200);
    assert.equal(((await me.json()) as any).serial, login.body.serial);
    const anonymous = await fetch(`${server.url}/api/portal/me`);
    assert.equal(anonymous.status, 403);
    assert.equal(((await anonymous.json()) as any).error.reason, "no-session");

    const replay = await post("/api/portal/login", body);
    assert.equal(replay.status, 409);
    assert.equal(replay.body.error.reason, "challenge-used");
  });

  test("a signing certificate cannot log in; bad input names the field", async () => {
    const withSign = await post("/api/portal/login", await signedLogin("sign", "ABC123"));
    assert.equal(withSign.status, 403);
    assert.equal(withSign.body.error.reason, "wrong-certificate-type");
    const missing = await post("/api/portal/login", { challengeId: "x", certificate: "AAAA" });
    assert.equal(missing.status, 400);
    assert.equal(missing.body.error.field, "signature");
    const garbage = await post("/api/portal/login", { challengeId: "nope", certificate: "AAAA", signature: "AAAA" });
    assert.equal(garbage.status, 404);
    assert.equal(garbage.body.error.reason, "challenge-unknown");
  });

  test("each challenge says what the card signs; a signature over other bytes is bad-signature, naming the signature", async () => {
    for (const [path, purpose] of [["/api/portal/challenge", "login"], ["/api/app/pin-reset/challenge", "pin-reset-app"]] as const) {
      const issued = await post(path, {});
      const challenge = Buffer.from(issued.body.challenge, "base64url");
      // "LABEL\0 || challenge", as the API documents it, is what the services check.
      const [label, rest] = (issued.body.signs as string).split(" || ");
      assert.equal(rest, "challenge");
      assert.deepEqual(Buffer.concat([Buffer.from(label!.replace("\\0", "\0")), challenge]), Buffer.from(signedChallenge(purpose, challenge)), path);
    }
    const challenge = await post("/api/portal/challenge", {});
    // The app's label on a login challenge: the right key, the wrong bytes.
    const proof = await t.context.cards.withReader(card.id, (reader) =>
      holderProof(reader, "auth", "1234", "pin-reset-app", Buffer.from(challenge.body.challenge, "base64url")),
    );
    const login = await post("/api/portal/login", { challengeId: challenge.body.challengeId, certificate: b64(proof.certificateDer), signature: b64(proof.signature) });
    assert.equal(login.status, 403, JSON.stringify(login.body));
    assert.equal(login.body.error.reason, "bad-signature");
    assert.equal(login.body.error.field, "signature");
    assert.match(login.body.error.message, /the signature does not match what was to be signed \(for a challenge: its "signs" bytes/);
  });

  test("app reservation over HTTP, then the reset at the kiosk terminal", async () => {
    const challenge = await post("/api/app/pin-reset/challenge", {});
    const proof = await t.context.cards.withReader(card.id, (reader) =>
      holderProof(reader, "auth", "1234", "pin-reset-app", Buffer.from(challenge.body.challenge, "base64url")),
    );
    const reservation = await post("/api/app/pin-reset/reservations", {
      target: "sign",
      challengeId: challenge.body.challengeId,
      certificate: b64(proof.certificateDer),
      signature: b64(proof.signature),
    });
    assert.equal(reservation.status, 201, JSON.stringify(reservation.body));
    assert.equal(reservation.body.target, "sign");
    await t.context.cards.withReader(card.id, (reader) => t.context.pinReset.resetAtKiosk(reader, { target: "sign", pin: "1234", newPin: "RESET1" }));
  });

  // Last: it revokes the card's authentication certificate.
  test("the kiosk and app pages: a PIN of the wrong form is 400 invalid-pin with its form, and no try is used", async () => {
    const start = await fetch(`${server.url}/kiosk/pin-reset`);
    const cookie = start.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
    const csrf = /openjpki_csrf=([^;]+)/.exec(cookie)![1]!;
    const form = async (path: string, fields: Record<string, string>) => {
      const res = await fetch(`${server.url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", cookie, origin: server.url },
        body: new URLSearchParams({ _csrf: csrf, ...fields }),
      });
      return { status: res.status, text: await res.text() };
    };
    for (const [path, fields] of [
      ["/kiosk/pin-reset", { cardId: card.id, pin: "12a4", newPin: "NEW123", newPinConfirm: "NEW123" }],
      ["/app/reserve", { cardId: card.id, pin: "12345" }],
      ["/kiosk/issue/documents", { cardId: card.id, pin: "abcd" }],
    ] as const) {
      const page = await form(path, fields);
      assert.equal(page.status, 400, path);
      assert.match(page.text, /利用者証明用電子証明書の暗証番号は数字4桁です/, path);
      assert.match(page.text, /invalid-pin/, path);
      assert.doesNotMatch(page.text, /カードを読み取れませんでした/, path);
    }
    const tries = await t.context.cards.withReader(card.id, (reader) => new JpkiClient(reader).triesLeft("auth"));
    assert.equal(tries, 3);
  });

  test("a session ends at logout, and at once when its certificate is revoked", async () => {
    const session = async () => {
      const login = await post("/api/portal/login", await signedLogin("auth", "1234"));
      assert.equal(login.status, 200, JSON.stringify(login.body));
      return login.headers.get("set-cookie")!.split(";")[0]!;
    };
    const me = async (cookie: string) => {
      const res = await fetch(`${server.url}/api/portal/me`, { headers: { cookie } });
      return { status: res.status, body: (await res.json()) as any };
    };
    const first = await session();
    assert.equal((await me(first)).status, 200);
    const out = await post("/api/portal/logout", {}, { cookie: first });
    assert.equal(out.status, 200);
    assert.match(out.headers.get("set-cookie")!, /Max-Age=0/);
    const after = await me(first);
    assert.deepEqual([after.status, after.body.error.reason], [403, "no-session"], "the id is worthless after logout, cookie or not");

    const second = await session();
    assert.equal((await me(second)).status, 200);
    const auth = card.certificates.find((c) => c.type === "auth")!;
    await t.context.ca.revoke({ type: "auth", serialHex: auth.serialHex, reason: "keyCompromise", by: "hotline" });
    const revoked = await me(second);
    assert.deepEqual([revoked.status, revoked.body.error.reason], [403, "revoked"]);
    assert.deepEqual((await me(second)).body.error.reason, "no-session", "and the session is gone");
  });
});
