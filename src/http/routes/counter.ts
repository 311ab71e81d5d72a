import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Context } from "../../services/context.ts";
import { actorOf, type StaffSession } from "../../services/counter/staff.ts";
import type { IdentityCheck, NewPins } from "../../services/counter/procedures.ts";
import { ServiceError } from "../../services/errors.ts";
import { verifyAudit } from "../../services/audit.ts";

const COOKIE = "openjpki_staff";

const identity = {
  type: "object",
  required: ["document"],
  additionalProperties: false,
  properties: {
    document: { type: "string", enum: ["my-number-card", "driver-licence", "passport", "residence-card", "other"] },
    note: { type: "string", maxLength: 200 },
  },
} as const;
const types = { type: "array", minItems: 1, maxItems: 2, uniqueItems: true, items: { type: "string", enum: ["auth", "sign"] } } as const;
const pin = { type: "string", minLength: 1, maxLength: 32 } as const;
const text = (max: number) => ({ type: "string", minLength: 1, maxLength: max }) as const;

/** A request whose body the endpoint's JSON schema has already validated (hence `any`: the schema is the type). */
interface ValidatedRequest {
  params: Record<string, string>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  query: Record<string, string>;
}

/** Every counter endpoint in one table: the routes and the OpenAPI document are both made from it. */
interface Endpoint {
  method: "GET" | "POST";
  path: string;
  summary: string;
  body?: Record<string, unknown>;
  handler: (ctx: Context, session: StaffSession, request: ValidatedRequest) => Promise<unknown>;
  status?: number;
}

const body = (required: string[], properties: Record<string, unknown>) => ({ type: "object", required, additionalProperties: false, properties });
const pinsOf = (b: { authPin?: string; signPin?: string }): NewPins => ({ ...(b.authPin ? { auth: b.authPin } : {}), ...(b.signPin ? { sign: b.signPin } : {}) });

const ENDPOINTS: Endpoint[] = [
  { method: "GET", path: "/api/counter/me", summary: "the logged-in staff member", handler: async (_c, s) => ({ staff: s.staff, expiresAt: s.expiresAt }) },
  { method: "GET", path: "/api/counter/offices", summary: "offices (My Number Card Center, citizen centres)", handler: async (c) => ({ offices: await c.staff.offices() }) },
  {
    method: "GET", path: "/api/counter/residents", summary: "search residents (by municipality)",
    handler: async (c, _s, r) => ({ residents: await c.registry.list(r.query.municipality ? { municipality: r.query.municipality } : {}) }),
  },
  {
    method: "POST", path: "/api/counter/residents", summary: "register a resident", status: 201,
    body: body(["name", "birth", "gender", "address", "municipality"], {
      name: text(100), birth: text(10), gender: { type: "string", enum: ["1", "2", "3"] }, address: text(200), municipality: text(6),
      nationality: text(2), residenceEnd: text(10), guardianship: { type: "boolean" },
    }),
    handler: async (c, s, r) => c.registry.add(r.body, actorOf(s)),
  },
  {
    method: "GET", path: "/api/counter/residents/:id", summary: "a resident with certificates, cards and applications",
    handler: async (c, _s, r) => {
      const resident = await c.registry.get(r.params.id!);
      const certificates = (await c.ca.certificatesOf(resident.id)).map(({ der: _der, ...x }) => x);
      return { resident, certificates, cards: await c.cards.list({ residentId: resident.id }), applications: await c.counter.applications(resident.id) };
    },
  },
  {
    method: "POST", path: "/api/counter/residents/:id/change", summary: "住民票の異動: name, address (and municipality), date of birth, gender",
    body: body([], { name: text(100), address: text(200), municipality: text(6), birth: text(10), gender: { type: "string", enum: ["1", "2", "3"] } }),
    handler: async (c, s, r) => c.events.changeAttributes(r.params.id!, r.body, actorOf(s)),
  },
  {
    method: "POST", path: "/api/counter/residents/:id/death", summary: "death: both certificates revoked",
    handler: async (c, s, r) => c.events.endRegistration(r.params.id!, { kind: "death" }, actorOf(s)),
  },
  {
    method: "POST", path: "/api/counter/residents/:id/emigration", summary: "emigration (with or without continued use)",
    body: body(["continuedUse"], { continuedUse: { type: "boolean" } }),
    handler: async (c, s, r) => c.events.endRegistration(r.params.id!, { kind: "emigration", continuedUse: r.body.continuedUse }, actorOf(s)),
  },
  {
    method: "POST", path: "/api/counter/cards", summary: "card application and production with both certificates (unless declined)", status: 201,
    body: body(["residentId", "authPin"], { residentId: text(20), authPin: pin, signPin: pin, noSign: { type: "boolean" }, myNumber: text(12) }),
    handler: async (c, s, r) => {
      const card = await c.cards.issue({ ...r.body, actor: actorOf(s) });
      return { ...card, certificates: card.certificates.map(({ der: _der, ...x }) => x) };
    },
  },
  {
    method: "POST", path: "/api/counter/cards/:id/handover", summary: "交付: hand the card over (recorded as the 交付日)",
    body: body(["identity"], { identity }), handler: async (c, s, r) => c.counter.handOver({ cardId: r.params.id!, identity: r.body.identity as IdentityCheck }, actorOf(s)),
  },
  {
    method: "POST", path: "/api/counter/cards/:id/renewal", summary: "更新 (from 3 months before expiry)",
    body: body(["identity"], { identity, types, authPin: pin, signPin: pin }),
    handler: async (c, s, r) => c.counter.renew({ cardId: r.params.id!, identity: r.body.identity, ...(r.body.types ? { types: r.body.types } : {}), pins: pinsOf(r.body) }, actorOf(s)),
  },
  {
    method: "POST", path: "/api/counter/cards/:id/new-issuance", summary: "新規発行 onto a card without a valid certificate of that type",
    body: body(["identity"], { identity, types, authPin: pin, signPin: pin }),
    handler: async (c, s, r) => c.counter.newIssuance({ cardId: r.params.id!, identity: r.body.identity, ...(r.body.types ? { types: r.body.types } : {}), pins: pinsOf(r.body) }, actorOf(s)),
  },
  {
    method: "POST", path: "/api/counter/cards/:id/revocation", summary: "失効申請",
    body: body(["identity", "types"], { identity, types }), handler: async (c, s, r) => c.counter.revokeOnRequest({ cardId: r.params.id!, identity: r.body.identity, types: r.body.types }, actorOf(s)),
  },
  {
    method: "POST", path: "/api/counter/cards/:id/pin-init", summary: "暗証番号の初期化 (retry counter restored)",
    body: body(["identity", "type", "newPin"], { identity, type: { type: "string", enum: ["auth", "sign"] }, newPin: pin }),
    handler: async (c, s, r) => c.counter.initialisePin({ cardId: r.params.id!, identity: r.body.identity, type: r.body.type, newPin: r.body.newPin }, actorOf(s)),
  },
  {
    method: "POST", path: "/api/counter/cards/:id/loss-report", summary: "loss report: both certificates on hold, card suspended",
    handler: async (c, s, r) => c.counter.reportLoss({ cardId: r.params.id! }, actorOf(s)),
  },
  {
    method: "POST", path: "/api/counter/cards/:id/found", summary: "a lost card found: held certificates revoked, new ones issued",
    body: body(["identity", "authPin"], { identity, authPin: pin, signPin: pin }),
    handler: async (c, s, r) => c.counter.cardFound({ cardId: r.params.id!, identity: r.body.identity, pins: pinsOf(r.body) }, actorOf(s)),
  },
  {
    method: "POST", path: "/api/counter/cards/:id/return", summary: "返納: both certificates revoked",
    body: body(["identity"], { identity }), handler: async (c, s, r) => c.counter.returnCard({ cardId: r.params.id!, identity: r.body.identity }, actorOf(s)),
  },
  { method: "GET", path: "/api/counter/audit/verify", summary: "verify the audit trail's hash chain", handler: async (c) => verifyAudit(c.store.db) },
];

/**
 * The counter API for staff: one login, then every window procedure. Nothing works without a
 * staff session; every state-changing request also needs the session's CSRF token in
 * `X-CSRF-Token` and, when the browser sends one, a same-origin `Origin`.
 */
export async function counterRoutes(app: FastifyInstance, context: Context): Promise<void> {
  app.post<{ Body: { login: string; password: string } }>(
    "/api/counter/login",
    { schema: { body: body(["login", "password"], { login: text(100), password: text(200) }) } },
    async (request, reply) => {
      const session = await context.staff.login(request.body.login, request.body.password);
      reply.header("set-cookie", `${COOKIE}=${session.sessionId}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${8 * 3600}`);
      return { staff: session.staff, csrfToken: session.csrfToken, expiresAt: session.expiresAt };
    },
  );
  app.post("/api/counter/logout", async (request, reply) => {
    await context.staff.logout(cookie(request));
    return reply.header("set-cookie", `${COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`).send({ ok: true });
  });

  for (const endpoint of ENDPOINTS) {
    app.route({
      method: endpoint.method,
      url: endpoint.path,
      ...(endpoint.body ? { schema: { body: endpoint.body } } : {}),
      handler: async (request: FastifyRequest, reply: FastifyReply) => {
        const session = await context.staff.session(cookie(request));
        if (endpoint.method !== "GET") checkCsrf(request, session);
        const result = await endpoint.handler(context, session, request as unknown as ValidatedRequest);
        return reply.status(endpoint.status ?? 200).send(result);
      },
    });
  }

  app.get("/api/openapi.json", async () => openApiDocument());
}

function cookie(request: FastifyRequest): string {
  return new RegExp(`(?:^|;\\s*)${COOKIE}=([A-Za-z0-9_-]{1,100})`).exec(request.headers.cookie ?? "")?.[1] ?? "";
}

function checkCsrf(request: FastifyRequest, session: StaffSession): void {
  const token = request.headers["x-csrf-token"];
  const origin = request.headers.origin;
  const host = request.headers.host;
  if (origin && host && new URL(origin).host !== host) {
    throw new ServiceError("refused", "別のサイトからの要求は受け付けません / cross-site request refused", "origin", { reason: "csrf" });
  }
  if (typeof token !== "string" || token !== session.csrfToken) {
    throw new ServiceError("refused", "CSRF トークンがありません / missing or wrong X-CSRF-Token", "x-csrf-token", { reason: "csrf" });
  }
}

/** The OpenAPI 3.1 document, made from the same table as the routes (so the two cannot drift). */
export function openApiDocument() {
  const paths: Record<string, Record<string, unknown>> = {
    "/api/counter/login": {
      post: { summary: "staff login; sets the session cookie and returns the CSRF token", requestBody: { content: { "application/json": { schema: body(["login", "password"], { login: text(100), password: text(200) }) } } }, responses: { "200": { description: "logged in" }, "403": { description: "refused (bad-credentials, login-locked)" } } },
    },
  };
  for (const e of ENDPOINTS) {
    const path = e.path.replace(/:(\w+)/g, "{$1}");
    paths[path] ??= {};
    paths[path]![e.method.toLowerCase()] = {
      summary: e.summary,
      security: [{ staffSession: [] }],
      ...(e.path.includes(":id") ? { parameters: [{ name: "id", in: "path", required: true, schema: { type: "string" } }] } : {}),
      ...(e.body ? { requestBody: { content: { "application/json": { schema: e.body } } } } : {}),
      responses: {
        [String(e.status ?? 200)]: { description: "done" },
        "400": { description: "invalid-input: `error.field` names the field" },
        "403": { description: "refused: `error.reason` says why (no-session, csrf, outside-renewal-window, …)" },
        "409": { description: "conflict (card-busy, already revoked, …)" },
      },
    };
  }
  return {
    openapi: "3.1.0",
    info: { title: "OpenJPKI counter API", version: "0.1.0", description: "Window procedures of the municipal counter. Errors: { error: { code, reason, field, message } }." },
    components: { securitySchemes: { staffSession: { type: "apiKey", in: "cookie", name: COOKIE } } },
    paths,
  };
}
