import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
// oidc-provider ships no type declarations; its API is used through the narrow shapes below.
// @ts-expect-error -- untyped module
import Provider, { errors, interactionPolicy } from "oidc-provider";
import type { Context } from "../services/context.ts";
import type { OidcAdapter } from "../services/oidc.ts";
import { CARD_ID_PATTERN } from "../services/ids.ts";
import { serviceErrorAnswer } from "./service-errors.ts";
import { html, SafeHtml } from "../web/html.ts";

interface InteractionDetails {
  uid: string;
  prompt: { name: string; details: Record<string, unknown> };
  params: Record<string, unknown>;
  session?: { accountId?: string };
  grantId?: string;
}

interface OidcProvider {
  callback(): (req: unknown, res: unknown) => void;
  interactionDetails(req: unknown, res: unknown): Promise<InteractionDetails>;
  interactionResult(req: unknown, res: unknown, result: Record<string, unknown>, options?: { mergeWithLastSubmission?: boolean }): Promise<string>;
  Grant: new (init: { accountId: string; clientId: string }) => {
    addOIDCScope(scope: string): void;
    save(): Promise<string>;
  };
  proxy: boolean;
}

export const OIDC_PREFIX = "/oidc";

/** Longest request line (path and query) the provider is handed; real authorization requests are far shorter. */
const MAX_OIDC_URL = 4096;
/** Largest body the provider is handed (token and PAR requests are form posts of a few hundred bytes). */
const MAX_OIDC_BODY = 8192;

/** Headers for the provider's pages and ours: not cached, not framed. No form-action: the login's redirect chain ends at the client. */
const PAGE_HEADERS: Record<string, string> = {
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "content-security-policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
};

/**
 * An OpenID Connect provider for card login, with the well-kept `oidc-provider` library:
 * authorization code only, PKCE S256 required, state and nonce as the client sends them; the
 * subject is stable per holder across renewals and pairwise per relying party; no personal data
 * in any claim. Its state lives
 * in our store, so a restart loses nothing and several nodes can share it.
 *
 * The login interaction is our page: the resident's card goes into the reader and they enter the
 * 4-digit PIN; here the reader is the server's in-process one, standing in for the card-reader
 * software on the user's machine or phone.
 */
export async function oidcRoutes(app: FastifyInstance, context: Context): Promise<void> {
  const { jwks, cookieKeys } = await context.oidc.keys();
  const issuer = `${context.settings.publicBaseUrl}${OIDC_PREFIX}`;
  const publicUrl = new URL(context.settings.publicBaseUrl);
  /**
   * The provider builds its endpoint URLs and cookie flags from the request's Host and scheme. The
   * public URL is what clients are told, whatever Host a request carries or whether a TLS proxy
   * sits in front: so it is written over the request's before the provider sees it.
   */
  const asPublicOrigin = (raw: FastifyRequest["raw"]): void => {
    raw.headers.host = publicUrl.host;
    raw.headers["x-forwarded-proto"] = publicUrl.protocol.slice(0, -1);
    delete raw.headers["x-forwarded-host"];
  };
  const provider: OidcProvider = new Provider(issuer, {
    adapter: function (this: unknown, model: string) {
      const adapter = context.oidc.adapterFor(model);
      return model === "AuthorizationCode" ? singleUseCodes(context, adapter) : adapter;
    },
    // OpenID Connect only: a request without the openid scope (Core §3.1.2.1) is refused here, at
    // once, to the client's redirect URI; before, the resident was asked for the card and PIN and
    // the client then got a bare access_denied. (A validator of extraParams runs on every request.)
    extraParams: {
      scope: (_ctx: unknown, value: unknown) => {
        if (typeof value !== "string" || !value.split(" ").includes("openid")) {
          throw new errors.InvalidScope("the openid scope is required: this provider does OpenID Connect login only", "openid");
        }
      },
    },
    jwks,
    cookies: { keys: cookieKeys },
    pkce: { methods: ["S256"], required: () => true },
    // What registered clients can use (src/services/oidc.ts registers client_secret_basic, which the
    // provider takes as the form post too, or none): discovery listed JWT methods (and their
    // signing algorithms) that no client here can be registered for.
    clientAuthMethods: ["client_secret_basic", "client_secret_post", "none"],
    responseTypes: ["code"],
    scopes: ["openid"],
    claims: { openid: ["sub"] },
    // Pairwise for every client registered since; clients registered before keep public subjects.
    // Called with the claims' sub (ID token, userinfo). The provider's own login checks would hand
    // it the account id (a certificate serial) instead: loginPolicy replaces them. Introspection and
    // JWT access tokens, which would too, are not enabled.
    subjectTypes: ["pairwise", "public"],
    pairwiseIdentifier: async (_ctx: unknown, subject: string, client: { sectorIdentifier: string }) => context.oidc.pairwiseSubject(subject, client.sectorIdentifier),
    features: {
      devInteractions: { enabled: false },
      // The provider's own logout pages were English only and fetched a font from Google (a third
      // party told of every logout), without these headers: ours are in Japanese and English.
      rpInitiatedLogout: { enabled: true, logoutSource, postLogoutSuccessSource },
    },
    // Asked on every reuse of a login (single sign-on, token, userinfo): a revoked card's login ends there.
    findAccount: async (_ctx: unknown, accountId: string) => context.oidc.account(accountId),
    interactions: { policy: loginPolicy(context), url: (_ctx: unknown, interaction: { uid: string }) => `${OIDC_PREFIX}/interaction/${interaction.uid}` },
    ttl: { AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Session: 1800, Grant: 1800 },
    renderError: async (ctx: { type: string; body: string; set(headers: Record<string, string>): void }, out: { error: string; error_description?: string }) => {
      ctx.set(PAGE_HEADERS);
      ctx.type = "html";
      ctx.body = html`<!doctype html><html lang="ja"><head><meta charset="utf-8"><title>エラー / Error</title></head><body><main><h1>ログインできませんでした / Login failed</h1><p>${out.error}: ${out.error_description ?? ""}</p></main></body></html>`.value;
    },
  });
  provider.proxy = true; // the scheme comes from x-forwarded-proto, which asPublicOrigin sets

  /**
   * A step on the interaction the browser's cookie names. One the browser cannot resume (expired,
   * already finished, or started in another browser) gets a page that says so and what to do,
   * and undefined; before, the browser was shown the provider's bare "invalid_request".
   */
  const resumable = async <T>(reply: FastifyReply, step: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await step();
    } catch (error) {
      if (!(error instanceof errors.SessionNotFound)) throw error;
      void reply.status(400).headers(PAGE_HEADERS).type("text/html; charset=utf-8").send(INTERACTION_NOT_FOUND_PAGE);
      return undefined;
    }
  };

  // Interaction pages first: fastify prefers these static and parametric routes to the wildcard below.
  app.get(`${OIDC_PREFIX}/interaction/:uid`, async (request, reply) => {
    asPublicOrigin(request.raw);
    const details = await resumable(reply, () => provider.interactionDetails(request.raw, reply.raw));
    return details ? sendLoginPage(reply, 200, details) : reply;
  });

  app.post<{ Params: { uid: string }; Body: { card?: string; pin?: string } }>(
    `${OIDC_PREFIX}/interaction/:uid/login`,
    async (request, reply) => {
      asPublicOrigin(request.raw);
      const details = await resumable(reply, () => provider.interactionDetails(request.raw, reply.raw));
      if (!details) return reply;
      const { card, pin } = request.body ?? {};
      if (typeof card !== "string" || typeof pin !== "string") {
        return sendLoginPage(reply, 400, details, "カードと暗証番号を入力してください / enter the card and the PIN");
      }
      // The field's pattern, checked here too: a wrong id was echoed back whole in the refusal.
      const cardId = card.trim().toUpperCase();
      if (!CARD_ID_PATTERN.test(cardId)) {
        return sendLoginPage(reply, 400, details, "カード番号は C- と英大文字・数字10桁です / the card id is C- and 10 capital letters or digits");
      }
      let accountId: string;
      try {
        ({ accountId } = await context.cards.withReader(cardId, (reader) => context.oidc.loginWithCard(reader, pin)));
      } catch (error) {
        // A refusal with the API's status (403 refused, 409 card-in-use, 503 card-busy, 400 input).
        const answer = serviceErrorAnswer(error);
        if (answer) return sendLoginPage(reply, answer.status, details, answer.body.error.message);
        throw error;
      }
      // Only openid is offered, and it reveals nothing about the person: consent is part of logging in.
      const grant = new provider.Grant({ accountId, clientId: String(details.params.client_id) });
      grant.addOIDCScope("openid");
      const grantId = await grant.save();
      const redirectTo = await resumable(reply, () =>
        provider.interactionResult(request.raw, reply.raw, { login: { accountId, acr: "jpki-auth" }, consent: { grantId } }, { mergeWithLastSubmission: false }),
      );
      return redirectTo === undefined ? reply : reply.redirect(redirectTo, 303);
    },
  );

  // Everything else under /oidc is the provider itself, on the raw request (it reads its own bodies).
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", (_request, _payload, done) => done(null, undefined));
    const handler = provider.callback();
    const forward = (request: FastifyRequest, reply: FastifyReply) => {
      const tooLarge = oversized(request);
      if (tooLarge) {
        void reply.status(tooLarge.status).send({ error: { code: "invalid-input", message: tooLarge.message } });
        return;
      }
      asPublicOrigin(request.raw);
      // RFC 6749 §5.1: a response with tokens says no-store (the provider does) and Pragma: no-cache.
      if ((request.raw.url ?? "").split("?")[0] === `${OIDC_PREFIX}/token`) reply.raw.setHeader("pragma", "no-cache");
      reply.hijack();
      // As under Express's app.use(prefix): the provider reads the mount path from originalUrl.
      const raw = request.raw as typeof request.raw & { originalUrl?: string };
      raw.originalUrl = raw.url!;
      raw.url = raw.url!.slice(OIDC_PREFIX.length) || "/";
      handler(request.raw, reply.raw);
    };
    scope.all(`${OIDC_PREFIX}/*`, forward);
    scope.all(OIDC_PREFIX, forward);
  });
}

/**
 * An authorization code is good for one token request (RFC 6749 §4.1.2). The provider checks that
 * it is unused, then marks it: two requests at the same moment both passed the check and both got
 * tokens. The store's mark is atomic, so the one that finds the code already marked is the reuse,
 * answered as the provider answers one: invalid_grant, and the tokens issued from the code
 * revoked with their grant (the other request's access token, if saved after, dies with the grant).
 */
function singleUseCodes(context: Context, adapter: OidcAdapter): OidcAdapter {
  return {
    ...adapter,
    async consume(id: string) {
      if (await adapter.consume(id)) return true;
      const code = await adapter.find(id);
      if (typeof code?.grantId === "string") {
        await adapter.revokeByGrantId(code.grantId);
        await context.oidc.adapterFor("Grant").destroy(code.grantId);
      }
      throw new errors.InvalidGrant("authorization code already consumed");
    },
  };
}

interface PolicyContext {
  oidc: {
    session: { accountId?: string };
    /** findAccount's answer for the session's login; undefined once its certificate is not valid. */
    account?: { claims(): Promise<{ sub: string }> };
    client: { subjectType: string; sectorIdentifier: string };
    entities: { IdTokenHint?: { payload: { sub?: unknown } } };
    claims: { id_token?: { sub?: { value?: unknown } } };
  };
}

/**
 * The provider's standard prompts, with one more reason to ask for the card: the browser holds a
 * login whose certificate is no longer valid (revoked, on hold, expired), so findAccount found no
 * account for it. Without this the provider would go on with an empty account (a server error).
 *
 * And the two checks that compare a subject the client names (`id_token_hint`, a `claims`
 * request for a fixed `sub`) with the login's, in place of the provider's: those compare it with
 * the account id, which here is the certificate serial, not the subject the client was given.
 */
function loginPolicy(context: Context): unknown {
  const { Check } = interactionPolicy;
  const policy = interactionPolicy.base();
  const login = (policy as unknown as PolicyPrompts).get("login").checks;
  /** The subject this client was given for the browser's login; undefined without a valid one. */
  const loginSubject = async (ctx: PolicyContext): Promise<string | undefined> => {
    if (ctx.oidc.account === undefined) return undefined;
    const { sub } = await ctx.oidc.account.claims();
    return ctx.oidc.client.subjectType === "pairwise" ? context.oidc.pairwiseSubject(sub, ctx.oidc.client.sectorIdentifier) : sub;
  };
  const replace = (reason: string, check: { reason: string }) => {
    const at = login.findIndex((c) => c.reason === reason);
    if (at < 0) throw new Error(`oidc-provider's login prompt has no ${reason} check to replace`);
    login.splice(at, 1, check);
  };
  replace(
    "id_token_hint",
    new Check("id_token_hint", "id_token_hint and authenticated subject do not match", "login_required", async (ctx: PolicyContext) => {
      const hint = ctx.oidc.entities.IdTokenHint;
      if (hint === undefined) return Check.NO_NEED_TO_PROMPT;
      return hint.payload.sub === (await loginSubject(ctx)) ? Check.NO_NEED_TO_PROMPT : Check.REQUEST_PROMPT;
    }),
  );
  replace(
    "claims_id_token_sub_value",
    new Check(
      "claims_id_token_sub_value",
      "requested subject could not be obtained",
      "login_required",
      async (ctx: PolicyContext) => {
        const wanted = ctx.oidc.claims.id_token?.sub;
        if (wanted === undefined || !("value" in wanted)) return Check.NO_NEED_TO_PROMPT;
        return wanted.value === (await loginSubject(ctx)) ? Check.NO_NEED_TO_PROMPT : Check.REQUEST_PROMPT;
      },
      (ctx: PolicyContext) => ({ sub: ctx.oidc.claims.id_token?.sub }),
    ),
  );
  login.add(
    new Check("certificate_not_valid", "the certificate of the login is no longer valid", "login_required", (ctx: PolicyContext) =>
      ctx.oidc.session.accountId !== undefined && ctx.oidc.account === undefined ? Check.REQUEST_PROMPT : Check.NO_NEED_TO_PROMPT,
    ),
  );
  return policy;
}

interface PolicyPrompts {
  get(name: string): { checks: { reason: string }[] & { add(check: unknown): void } };
}

/** A request the provider is not handed: a very long URL (it would be stored with the interaction) or a large or unsized body. */
function oversized(request: FastifyRequest): { status: number; message: string } | null {
  const url = request.raw.url ?? "";
  if (url.length > MAX_OIDC_URL) return { status: 414, message: `the request URL has ${url.length} characters; at most ${MAX_OIDC_URL}` };
  const hasBody = request.headers["transfer-encoding"] !== undefined || Number(request.headers["content-length"] ?? 0) > 0;
  if (!hasBody) return null;
  const length = Number(request.headers["content-length"]);
  if (request.headers["transfer-encoding"] !== undefined || !Number.isSafeInteger(length)) return { status: 411, message: "a body needs a Content-Length" };
  if (length > MAX_OIDC_BODY) return { status: 413, message: `the body has ${length} bytes; at most ${MAX_OIDC_BODY}` };
  return null;
}

/** The provider's logout question (RP-initiated logout); `form` is its form (id op.logoutForm, with the xsrf token). */
async function logoutSource(ctx: { set(headers: Record<string, string>): void; type: string; body: string }, form: string): Promise<void> {
  ctx.set(PAGE_HEADERS);
  ctx.type = "html";
  ctx.body = html`<!doctype html><html lang="ja"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>ログアウト / Log out</title></head><body><main><h1>ログアウトしますか <span lang="en">/ Log out?</span></h1><p>マイナンバーカードでのログインを終えます。<br><span lang="en">This ends your login with the My Number Card.</span></p>${new SafeHtml(form)}<p><button type="submit" form="op.logoutForm" name="logout" value="yes" autofocus>ログアウトする / Log out</button> <button type="submit" form="op.logoutForm">ログインしたままにする / Stay logged in</button></p></main></body></html>`.value;
}

/** After a logout the client did not ask to be sent back from. */
async function postLogoutSuccessSource(ctx: { set(headers: Record<string, string>): void; type: string; body: string }): Promise<void> {
  ctx.set(PAGE_HEADERS);
  ctx.type = "html";
  ctx.body = html`<!doctype html><html lang="ja"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>ログアウトしました / Logged out</title></head><body><main><h1>ログアウトしました <span lang="en">/ You are logged out</span></h1><p>このページは閉じてかまいません。<br><span lang="en">You may close this page.</span></p></main></body></html>`.value;
}

const INTERACTION_NOT_FOUND_PAGE = html`<!doctype html><html lang="ja"><head><meta charset="utf-8"><title>エラー / Error</title></head><body><main><h1>ログインの手続きが見つかりません / This login was not found</h1><p>期限（10分）が切れたか、終わったか、別のブラウザで始められた手続きです。ログインしようとしたサービスに戻って、最初からやり直してください。<br><span lang="en">It expired (after 10 minutes), was already finished, or was started in another browser. Go back to the service you were logging in to and start again.</span></p></main></body></html>`.value;

function sendLoginPage(reply: FastifyReply, status: number, details: InteractionDetails, error?: string): FastifyReply {
  return reply.status(status).headers(PAGE_HEADERS).type("text/html; charset=utf-8").send(loginPage(details.uid, String(details.params.client_id ?? ""), error));
}

function loginPage(uid: string, clientId: string, error: string | undefined): string {
  return html`<!doctype html>
<html lang="ja">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>マイナンバーカードでログイン / Log in with your My Number Card</title></head>
<body>
<main>
<h1>マイナンバーカードでログイン <span lang="en">/ Log in with your My Number Card</span></h1>
<p>ログイン先 / Logging in to: <code>${clientId}</code></p>
<p>カードをカードリーダーに置き、利用者証明用電子証明書の暗証番号（数字4桁）を入力してください。<br><span lang="en">Place your card on the reader and enter the 4-digit PIN of your user-authentication certificate.</span></p>
${error ? html`<p role="alert"><strong>${error}</strong></p>` : ""}
<form method="post" action="/oidc/interaction/${uid}/login">
<p><label for="card">カード / Card (C-…)</label><br><input id="card" name="card" required autocomplete="off" pattern="C-[0-9A-Z]{10}"></p>
<p><label for="pin">暗証番号 / PIN</label><br><input id="pin" name="pin" type="password" inputmode="numeric" pattern="[0-9]{4}" maxlength="4" required autocomplete="off"></p>
<p><button type="submit">ログイン / Log in</button></p>
</form>
</main>
</body>
</html>`.value;
}
