// OpenID Connect with the card: a standard client (openid-client) runs the authorization-code
// flow with PKCE S256 against our provider; the login interaction is card + PIN.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import * as client from "openid-client";
import { startServer, type RunningServer } from "../../src/http/server.ts";
import { openTestContext, type TestContext } from "../helpers/context.ts";
import { Browser, freePort } from "../helpers/net.ts";
import type { IssuedCard } from "../../src/services/cards.ts";

describe("OpenID Connect provider with card login", () => {
  let t: TestContext;
  let server: RunningServer;
  let base: string;
  let card: IssuedCard;
  let residentId: string;
  let config: client.Configuration;
  const redirectUri = "http://127.0.0.1:9/callback";

  before(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    t = await openTestContext("sqlite", { settings: { publicBaseUrl: base } });
    server = await startServer(t.context, { host: "127.0.0.1", port, handleSignals: false });
    const resident = await t.context.registry.add({
      name: "町田 花子", birth: "1990-01-02", gender: "2", address: "東京都町田市森野２－２－２２", municipality: "132098",
    });
    residentId = resident.id;
    card = await t.context.cards.issue({ residentId, authPin: "1234", signPin: "ABC123" });
    const registration = await t.context.oidc.registerClient({ name: "デモ RP", redirectUris: [redirectUri] });
    config = await client.discovery(new URL(`${base}/oidc`), registration.clientId, registration.clientSecret, undefined, {
      execute: [client.allowInsecureRequests],
    });
  });
  after(async () => {
    await server.close();
    await t.cleanup();
  });

  /** A relying party: the client's configuration (from discovery) and the redirect URI it uses. */
  interface RelyingParty {
    config: client.Configuration;
    redirectUri: string;
  }

  async function relyingParty(redirectUri: string, options: { subjectType?: "public" | "pairwise" } = {}): Promise<RelyingParty> {
    const registration = await t.context.oidc.registerClient({ name: `RP ${redirectUri}`, redirectUris: [redirectUri], ...options });
    const config = await client.discovery(new URL(`${base}/oidc`), registration.clientId, registration.clientSecret, undefined, { execute: [client.allowInsecureRequests] });
    return { config, redirectUri };
  }

  async function login(cardId: string, pin: string, browser = new Browser(), rp: RelyingParty = { config, redirectUri }) {
    const { config: rpConfig, redirectUri: rpRedirect } = rp;
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(rpConfig, {
      redirect_uri: rpRedirect,
      scope: "openid",
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
      state,
      nonce,
    });
    const page = await browser.follow(url, base);
    assert.equal(page.response?.status, 200);
    const form = await page.response!.text();
    assert.match(form, /マイナンバーカードでログイン/);
    const action = /action="([^"]+)"/.exec(form)![1]!;
    const posted = await browser.fetch(new URL(action, base), {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ card: cardId, pin }).toString(),
    });
    if (posted.status !== 303) return { refused: await posted.text(), status: posted.status };
    const back = await browser.follow(new URL(posted.headers.get("location")!, base), base);
    assert.ok(back.leftTo, "redirected back to the client");
    const tokens = await client.authorizationCodeGrant(rpConfig, back.leftTo!, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce });
    return { claims: tokens.claims()!, tokens };
  }

  /** An authorization request as a client makes it (PKCE S256, state, nonce). */
  async function authorizationUrl(): Promise<URL> {
    return client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: "openid",
      code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
      code_challenge_method: "S256",
      state: client.randomState(),
      nonce: client.randomNonce(),
    });
  }

  test("a standard client logs in with the card; the ID token's subject carries no personal data", async () => {
    const result = await login(card.id, "1234");
    assert.ok("claims" in result);
    const claims = result.claims!;
    assert.equal(claims.iss, `${base}/oidc`);
    assert.equal(claims.sub, await t.context.oidc.pairwiseSubject(await t.context.oidc.subjectFor(residentId), "127.0.0.1:9"));
    assert.deepEqual(Object.keys(claims).filter((k) => !["sub", "iss", "aud", "exp", "iat", "nonce", "auth_time", "acr", "at_hash", "sid"].includes(k)), []);
    assert.doesNotMatch(JSON.stringify(claims), /町田|1990|森野/);
  });

  test("the subject is stable across a renewal (a new card with new certificates)", async () => {
    const first = await login(card.id, "1234");
    const renewed = await t.context.cards.issue({ residentId, authPin: "5678", signPin: "XYZ789", replaces: card.id }); // a reissued card
    const second = await login(renewed.id, "5678");
    assert.equal(second.claims!.sub, first.claims!.sub);
  });

  test("each relying party sees its own subject (pairwise by the redirect URI's host); a public-subject client sees the shared one", async () => {
    const same = await login(card.id, "1234");
    const sameHost = await login(card.id, "1234", new Browser(), await relyingParty("http://127.0.0.1:9/other-callback"));
    const otherHost = await login(card.id, "1234", new Browser(), await relyingParty("http://localhost:9/callback"));
    const shared = await login(card.id, "1234", new Browser(), await relyingParty("http://localhost:9/shared", { subjectType: "public" }));
    assert.equal(sameHost.claims!.sub, same.claims!.sub, "clients of one host share the sector");
    assert.notEqual(otherHost.claims!.sub, same.claims!.sub, "another host cannot link the holder");
    assert.equal(shared.claims!.sub, await t.context.oidc.subjectFor(residentId));
    assert.equal(new Set([same, otherHost, shared].map((r) => r.claims!.sub)).size, 3);
    // Userinfo answers each client with its own subject.
    const info = await client.fetchUserInfo(config, same.tokens!.access_token, same.claims!.sub);
    assert.equal(info.sub, same.claims!.sub);
    await assert.rejects(
      t.context.oidc.registerClient({ name: "two hosts", redirectUris: ["https://a.example/cb", "https://b.example/cb"] }),
      /a pairwise client's redirect URIs share one host \(here a.example, b.example\)/,
    );
    const discovery = (await (await fetch(`${base}/oidc/.well-known/openid-configuration`)).json()) as { subject_types_supported: string[] };
    assert.deepEqual(discovery.subject_types_supported.sort(), ["pairwise", "public"]);
  });

  test("prompt=none with an id_token_hint: the holder's own ID token goes straight back with a code, another holder's is login_required (pairwise and public clients)", async () => {
    const other = await t.context.registry.add({ name: "町田 三郎", birth: "1982-03-03", gender: "1", address: "東京都町田市中町１－１－２", municipality: "132098" });
    const otherCard = await t.context.cards.issue({ residentId: other.id, authPin: "1357", noSign: true });
    for (const rp of [{ config, redirectUri }, await relyingParty("http://localhost:9/hinted", { subjectType: "public" })]) {
      const browser = new Browser();
      const mine = await login(card.id, "1234", browser, rp);
      const theirs = await login(otherCard.id, "1357", new Browser(), rp);
      const hinted = async (idToken: string) => {
        const url = client.buildAuthorizationUrl(rp.config, {
          redirect_uri: rp.redirectUri,
          scope: "openid",
          code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
          code_challenge_method: "S256",
          prompt: "none",
          id_token_hint: idToken,
        });
        const back = (await browser.follow(url, base)).leftTo?.searchParams;
        return back?.get("code") ? "code" : `${back?.get("error")}: ${back?.get("error_description")}`;
      };
      const subjectType = rp.config.clientMetadata().subject_type ?? "public";
      assert.equal(await hinted(mine.tokens!.id_token!), "code", `${subjectType}: the holder's own hint`);
      assert.equal(await hinted(theirs.tokens!.id_token!), "login_required: id_token_hint and authenticated subject do not match", `${subjectType}: another holder's hint`);
    }
  });

  test("PKCE is required; a wrong PIN is refused with tries left", async () => {
    const noPkce = new URL(`${base}/oidc/auth`);
    noPkce.search = new URLSearchParams({ client_id: config.clientMetadata().client_id, response_type: "code", scope: "openid", redirect_uri: redirectUri }).toString();
    const refusedPkce = await new Browser().follow(noPkce, base);
    const errorUrl = refusedPkce.leftTo ?? new URL("http://none");
    assert.match(errorUrl.search + ((await refusedPkce.response?.text()) ?? ""), /invalid_request|code_challenge/);
    const wrong = await login(card.id, "9999");
    assert.equal(wrong.status, 403);
    assert.match(wrong.refused!, /残り2回|2 tries left/);
  });

  test("a login lasts only while its certificate is valid: after revocation no single sign-on, no userinfo", async () => {
    const holder = await t.context.registry.add({
      name: "町田 次郎", birth: "1985-05-05", gender: "1", address: "東京都町田市中町１－１－１", municipality: "132098",
    });
    const issued = await t.context.cards.issue({ residentId: holder.id, authPin: "2468", noSign: true });
    const browser = new Browser();
    const first = await login(issued.id, "2468", browser);
    assert.ok("claims" in first);
    // The same browser again: single sign-on straight back to the client, no card asked.
    const again = await browser.follow(await authorizationUrl(), base);
    assert.ok(again.leftTo?.searchParams.get("code"), "single sign-on while the certificate is valid");
    const auth = issued.certificates.find((c) => c.type === "auth")!;
    await t.context.ca.revoke({ type: "auth", serialHex: auth.serialHex, reason: "keyCompromise", by: "hotline" });
    const after = await browser.follow(await authorizationUrl(), base);
    assert.equal(after.leftTo, undefined, "no code for a revoked card's login");
    assert.match(await after.response!.text(), /マイナンバーカードでログイン/);
    // The access token from before the revocation no longer reaches userinfo.
    await assert.rejects(client.fetchUserInfo(config, first.tokens!.access_token, first.claims!.sub));
  });

  test("oversized requests are not handed to the provider (nothing is stored for them)", async () => {
    const url = await authorizationUrl();
    url.searchParams.set("state", "x".repeat(5000));
    const long = await fetch(url, { redirect: "manual" });
    assert.equal(long.status, 414);
    const par = await fetch(`${base}/oidc/request`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ client_id: config.clientMetadata().client_id, state: "y".repeat(20_000) }).toString(),
    });
    assert.equal(par.status, 413);
    assert.match((await par.json() as { error: { message: string } }).error.message, /at most 8192/);
  });
});
