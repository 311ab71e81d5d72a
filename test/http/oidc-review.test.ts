// The OpenID Connect provider's edges (reviewer D): an authorization code redeemed at once by
// several requests, requests without the openid scope, an interaction the browser cannot resume,
// the token response's caching headers, and what a login through OIDC leaves behind. On SQLite
// and, with DATABASE_URL, on PostgreSQL (where concurrent requests really run side by side).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import * as client from "openid-client";
import { startServer, type RunningServer } from "../../src/http/server.ts";
import { backends, openTestContext, type TestContext } from "../helpers/context.ts";
import { Browser, freePort } from "../helpers/net.ts";
import type { IssuedCard } from "../../src/services/cards.ts";

for (const backend of backends()) {
  describe(`OpenID Connect provider, review cases (${backend})`, () => {
    let t: TestContext;
    let server: RunningServer;
    let base: string;
    let card: IssuedCard;
    let clientId: string;
    let clientSecret: string;
    const redirectUri = "http://127.0.0.1:9/callback";

    before(async () => {
      const port = await freePort();
      base = `http://127.0.0.1:${port}`;
      t = await openTestContext(backend, { settings: { publicBaseUrl: base } });
      server = await startServer(t.context, { host: "127.0.0.1", port, handleSignals: false });
      const resident = await t.context.registry.add({ name: "町田 花子", birth: "1990-01-02", gender: "2", address: "東京都町田市森野２－２－２２", municipality: "132098" });
      card = await t.context.cards.issue({ residentId: resident.id, authPin: "1234", signPin: "ABC123" });
      const registration = await t.context.oidc.registerClient({ name: "RP", redirectUris: [redirectUri] });
      clientId = registration.clientId;
      clientSecret = registration.clientSecret!;
    });
    after(async () => {
      await server.close();
      await t.cleanup();
    });

    function authorizationUrl(challenge: string, params: Record<string, string> = {}): URL {
      const url = new URL(`${base}/oidc/auth`);
      url.search = new URLSearchParams({ client_id: clientId, response_type: "code", scope: "openid", redirect_uri: redirectUri, code_challenge: challenge, code_challenge_method: "S256", state: "s-1", ...params }).toString();
      return url;
    }

    /** A card login through the provider's pages; the client gets `code` (or an error) at its redirect URI. */
    async function authorize(params: Record<string, string> = {}, browser = new Browser()): Promise<{ back?: URL; verifier: string; page?: { status: number; text: string } }> {
      const verifier = client.randomPKCECodeVerifier();
      const first = await browser.follow(authorizationUrl(await client.calculatePKCECodeChallenge(verifier), params), base);
      if (!first.response) return { back: first.leftTo!, verifier };
      const text = await first.response.text();
      const action = /action="([^"]+)"/.exec(text)?.[1];
      if (!action) return { verifier, page: { status: first.response.status, text } };
      const posted = await browser.fetch(new URL(action, base), { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ card: card.id, pin: "1234" }).toString() });
      assert.equal(posted.status, 303, await posted.clone().text());
      const back = await browser.follow(new URL(posted.headers.get("location")!, base), base);
      return { back: back.leftTo!, verifier };
    }

    function redeem(code: string, verifier: string): Promise<Response> {
      return fetch(`${base}/oidc/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString("base64")}` },
        body: new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: redirectUri, code_verifier: verifier }).toString(),
      });
    }

    test("an authorization code sent by several requests at once gives tokens once (RFC 6749 §4.1.2), and the reuse revokes them", async () => {
      for (let round = 0; round < 3; round++) {
        const { back, verifier } = await authorize();
        const code = back!.searchParams.get("code")!;
        const answers = await Promise.all([1, 2, 3, 4].map(() => redeem(code, verifier)));
        const bodies = (await Promise.all(answers.map((a) => a.json()))) as { access_token?: string; error?: string }[];
        assert.deepEqual(answers.map((a) => a.status).sort(), [200, 400, 400, 400], `round ${round}: ${JSON.stringify(bodies)}`);
        assert.deepEqual(bodies.filter((b) => b.error).map((b) => b.error), ["invalid_grant", "invalid_grant", "invalid_grant"]);
        const issued = bodies.find((b) => b.access_token)!.access_token!;
        const info = await fetch(`${base}/oidc/me`, { headers: { authorization: `Bearer ${issued}` } });
        assert.equal(info.status, 401, "the tokens of a code used twice are revoked");
      }
    });

    test("the token response is not cached: Cache-Control no-store and Pragma no-cache (RFC 6749 §5.1)", async () => {
      const { back, verifier } = await authorize();
      const answer = await redeem(back!.searchParams.get("code")!, verifier);
      assert.equal(answer.status, 200);
      assert.equal(answer.headers.get("cache-control"), "no-store");
      assert.equal(answer.headers.get("pragma"), "no-cache");
    });

    test("a request without the openid scope is refused with invalid_scope at once, before the resident is asked for the card", async () => {
      for (const scope of ["profile", ""]) {
        const browser = new Browser();
        const { back, page } = await authorize({ scope }, browser);
        assert.equal(page, undefined, `scope ${JSON.stringify(scope)}: no login page (${page?.status})`);
        assert.equal(back?.origin + (back?.pathname ?? ""), redirectUri);
        assert.equal(back?.searchParams.get("error"), "invalid_scope");
        assert.match(back?.searchParams.get("error_description") ?? "", /openid/);
        assert.equal(back?.searchParams.get("state"), "s-1");
      }
      // The check does not stand in the way of a request with openid among other scopes.
      const { back } = await authorize({ scope: "openid profile" });
      assert.ok(back?.searchParams.get("code"), back?.toString());
    });

    test("an interaction the browser cannot resume (expired, another browser) says so and what to do, in its page", async () => {
      const verifier = client.randomPKCECodeVerifier();
      const started = await new Browser().fetch(authorizationUrl(await client.calculatePKCECodeChallenge(verifier)));
      const interaction = new URL(started.headers.get("location")!, base);
      // Another browser (no interaction cookie) opens the page and posts the form.
      const page = await fetch(interaction, { headers: { accept: "text/html" } });
      assert.equal(page.status, 400);
      const text = await page.text();
      assert.match(text, /ログインの手続きが見つかりません/);
      assert.match(text, /start again/);
      const posted = await fetch(new URL(`${interaction.pathname}/login`, base), { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", accept: "text/html" }, body: "card=C-0000000000&pin=1234" });
      assert.equal(posted.status, 400);
      assert.match(await posted.text(), /ログインの手続きが見つかりません/);
      assert.equal(posted.headers.get("cache-control"), "no-store");
      const unknown = await fetch(new URL("/oidc/interaction/unknown-uid", base));
      assert.equal(unknown.status, 400);
      assert.match(await unknown.text(), /This login was not found/);
    });

    test("a login through OpenID Connect leaves no portal session behind (nobody is given its id)", async () => {
      const count = async () => Number((await t.context.store.db.selectFrom("portal_sessions").select((eb) => eb.fn.countAll().as("n")).executeTakeFirstOrThrow()).n);
      const before = await count();
      const { back } = await authorize();
      assert.ok(back?.searchParams.get("code"));
      assert.equal(await count(), before);
    });

    test("the login form's card field is checked for its shape; a wrong one is not echoed back whole", async () => {
      const verifier = client.randomPKCECodeVerifier();
      const browser = new Browser();
      const page = await browser.follow(authorizationUrl(await client.calculatePKCECodeChallenge(verifier)), base);
      const action = /action="([^"]+)"/.exec(await page.response!.text())![1]!;
      const post = (form: Record<string, string>) =>
        browser.fetch(new URL(action, base), { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams(form).toString() });
      const long = await post({ card: `C-${"X".repeat(3000)}`, pin: "1234" });
      assert.equal(long.status, 400);
      const text = await long.text();
      assert.doesNotMatch(text, /X{100}/);
      assert.match(text, /C- と英大文字・数字10桁|C- and 10 capital letters or digits/);
      // The id typed in lower case is the card's id all the same.
      const lower = await post({ card: card.id.toLowerCase(), pin: "1234" });
      assert.equal(lower.status, 303);
    });

    test("the logout pages are the provider's in Japanese and English, not cached, with nothing fetched from elsewhere", async () => {
      const browser = new Browser();
      const { back } = await authorize({}, browser);
      assert.ok(back?.searchParams.get("code"));
      const ask = await browser.fetch(`${base}/oidc/session/end`);
      assert.equal(ask.status, 200);
      assert.equal(ask.headers.get("cache-control"), "no-store");
      assert.match(ask.headers.get("content-security-policy") ?? "", /default-src 'self'/);
      const page = await ask.text();
      assert.match(page, /ログアウトしますか/);
      assert.match(page, /Log out/);
      assert.doesNotMatch(page, /googleapis|@import|<link|<script/);
      const form = /<form[^>]*action="([^"]+)"[\s\S]*?name="xsrf" value="([^"]+)"/.exec(page)!;
      const done = await browser.follow(new URL(form[1]!, base), base, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ xsrf: form[2]!, logout: "yes" }).toString(),
      });
      assert.equal(done.response?.status, 200);
      assert.equal(done.response?.headers.get("cache-control"), "no-store");
      const after = await done.response!.text();
      assert.match(after, /ログアウトしました/);
      assert.doesNotMatch(after, /googleapis/);
      // Logged out: the next authorization asks for the card again.
      const again = await browser.follow(authorizationUrl(await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier())), base);
      assert.match(await again.response!.text(), /マイナンバーカードでログイン/);
    });

    test("a public client (no secret) may not have an http redirect URI other than the machine's own (OIDC Core §3.1.2.1, RFC 8252 §7.3)", async () => {
      await assert.rejects(t.context.oidc.registerClient({ name: "app", public: true, redirectUris: ["http://rp.example/cb"] }), /https|loopback/);
      for (const uri of ["http://127.0.0.1:8123/cb", "http://[::1]:8123/cb", "http://localhost:8123/cb", "https://rp.example/cb"]) {
        await t.context.oidc.registerClient({ name: "app", public: true, redirectUris: [uri] });
      }
      await t.context.oidc.registerClient({ name: "web", redirectUris: ["http://rp.example/cb"] }); // confidential: http allowed
    });

    test("discovery lists only the client authentication methods registered clients can use", async () => {
      const discovery = (await (await fetch(`${base}/oidc/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
      assert.deepEqual(discovery.token_endpoint_auth_methods_supported, ["client_secret_basic", "client_secret_post", "none"]);
      assert.equal(discovery.token_endpoint_auth_signing_alg_values_supported, undefined);
      assert.deepEqual(discovery.code_challenge_methods_supported, ["S256"]);
      assert.deepEqual(discovery.response_types_supported, ["code"]);
      assert.deepEqual(discovery.grant_types_supported, ["authorization_code"]);
      assert.deepEqual(discovery.scopes_supported, ["openid"]);
      assert.equal(discovery.issuer, `${base}/oidc`);
      // The secret in the form (client_secret_post) is taken too, as listed; a wrong one is not.
      for (const [secret, status] of [[`${clientSecret}x`, 401], [clientSecret, 200]] as const) {
        const { back, verifier } = await authorize();
        const posted = await fetch(`${base}/oidc/token`, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ grant_type: "authorization_code", code: back!.searchParams.get("code")!, redirect_uri: redirectUri, code_verifier: verifier, client_id: clientId, client_secret: secret }).toString(),
        });
        assert.equal(posted.status, status);
      }
    });
  });
}
