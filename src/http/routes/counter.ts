import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { loggedStream } from "../logged-stream.ts";
import type { Context } from "../../services/context.ts";
import { actorOf, requireRole, type StaffRole, type StaffSession } from "../../services/counter/staff.ts";
import type { NewPins } from "../../services/counter/procedures.ts";
import { ServiceError } from "../../services/errors.ts";
import { verifyAudit } from "../../services/audit.ts";
import { feeSummary, REISSUE_REASONS } from "../../services/counter/fees.ts";
import { expiryNoticeRun, expiryNoticesCsvStream, EXPIRY_NOTICES_JSON_LIMIT, EXPIRY_NOTICES_PDF_LIMIT, expiryNoticesPdf, issuanceNotice } from "../../services/counter/notices.ts";
import { PROXY_PROCEDURES } from "../../services/counter/procedures.ts";
import { PROXY_TYPES } from "../../services/vocabulary.ts";
import { LEGAL_REPRESENTATIVE_RELATIONSHIPS, type LegalRepresentativeInput } from "../../services/counter/legal-representative.ts";
import { IDENTITY_DOCUMENTS, type IdentityCheck } from "../../services/counter/identity.ts";
import { issuanceOpenApi } from "./issuance.ts";

const COOKIE = "openjpki_staff";

const identity = {
  type: "object",
  required: ["document"],
  additionalProperties: false,
  properties: {
    document: { type: "string", enum: [...IDENTITY_DOCUMENTS] },
    note: { type: "string", maxLength: 200 },
  },
} as const;
const types = { type: "array", minItems: 1, maxItems: 2, uniqueItems: true, items: { type: "string", enum: ["auth", "sign"] } } as const;
const pin = { type: "string", minLength: 1, maxLength: 32 } as const;
const text = (max: number) => ({ type: "string", minLength: 1, maxLength: max }) as const;
const date = { type: "string", pattern: "^[0-9]{4}-[0-9]{2}-[0-9]{2}$" } as const;
const caType = { type: "string", enum: ["auth", "sign"] } as const;

/**
 * A file to send as it is (a PDF, a CSV) instead of JSON. Chunks (an AsyncIterable) are sent as
 * they are read ({@link loggedStream}): a failure part way ends the download short and is logged.
 */
class FileResponse {
  constructor(
    readonly filename: string,
    readonly contentType: string,
    readonly bytes: Uint8Array | string | AsyncIterable<string>,
  ) {}
}

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
  /** The query string's schema (GET endpoints). */
  query?: Record<string, unknown>;
  /** What a successful response is when not JSON (for the OpenAPI document). */
  produces?: string[];
  handler: (ctx: Context, session: StaffSession, request: ValidatedRequest) => Promise<unknown>;
  status?: number;
  /** The least role that may call it (default: any staff member, i.e. clerk). */
  role?: StaffRole;
  /** A GET whose work is not to be done for a HEAD (fastify answers HEAD by running the GET and dropping the body). */
  noHead?: true;
}

const body = (required: string[], properties: Record<string, unknown>) => ({ type: "object", required, additionalProperties: false, properties });
const query = (required: string[], properties: Record<string, unknown>) => ({ type: "object", required, properties });
const pinsOf = (b: { authPin?: string; signPin?: string }): NewPins => ({ ...(b.authPin ? { auth: b.authPin } : {}), ...(b.signPin ? { sign: b.signPin } : {}) });
/** 法定代理人: who applies for a child under 15 or an adult under guardianship (required for them, refused for anyone else). */
const legalRepresentative = body(["name", "relationship", "identity"], { name: text(100), relationship: { type: "string", enum: [...LEGAL_REPRESENTATIVE_RELATIONSHIPS] }, identity });
const representativeOf = (b: { legalRepresentative?: LegalRepresentativeInput }) => (b.legalRepresentative ? { legalRepresentative: b.legalRepresentative } : {});

const ENDPOINTS: Endpoint[] = [
  { method: "GET", path: "/api/counter/me", summary: "the logged-in staff member", handler: async (_c, s) => ({ staff: s.staff, expiresAt: s.expiresAt }) },
  { method: "GET", path: "/api/counter/offices", summary: "offices (My Number Card Center, citizen centres)", handler: async (c) => ({ offices: await c.staff.offices() }) },
  {
    method: "GET", path: "/api/counter/residents", summary: "search residents: `q` in name, id or address (the whole register, newest first, at most 200), `municipality`; without `q` the newest 1,000",
    query: query([], { q: { type: "string", maxLength: 100 }, municipality: { type: "string", pattern: "^[0-9]{6}$" } }),
    handler: async (c, _s, r) => {
      const municipality = r.query.municipality ? { municipality: r.query.municipality } : {};
      return { residents: r.query.q ? await c.registry.search(r.query.q, municipality) : await c.registry.list(municipality) };
    },
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
      const certificates = await c.ca.certificatesOf(resident.id);
      return { resident, certificates, cards: await c.cards.list({ residentId: resident.id }), applications: await c.counter.applications(resident.id) };
    },
  },
  {
    method: "POST", path: "/api/counter/residents/:id/change", summary: "住民票の異動: name, address (and municipality), date of birth, gender",
    body: body([], { name: text(100), address: text(200), municipality: text(6), birth: text(10), gender: { type: "string", enum: ["1", "2", "3"] } }),
    handler: async (c, s, r) => c.events.changeAttributes(r.params.id!, r.body, actorOf(s)),
  },
  {
    method: "POST", path: "/api/counter/residents/:id/residence-period", summary: "a foreign resident's period of stay changed (null: no end any more)",
    body: body(["residenceEnd"], { residenceEnd: { type: ["string", "null"], maxLength: 10 } }),
    handler: async (c, s, r) => c.events.changeResidencePeriod(r.params.id!, r.body.residenceEnd, actorOf(s)),
  },
  {
    method: "POST", path: "/api/counter/residents/:id/death", summary: "death: both certificates revoked (`date`: the day of death, when reported later; the certificates' invalidity date)",
    body: body([], { date: text(10) }),
    handler: async (c, s, r) => c.events.endRegistration(r.params.id!, { kind: "death", ...(r.body?.date !== undefined ? { date: r.body.date } : {}) }, actorOf(s)),
  },
  {
    method: "POST", path: "/api/counter/residents/:id/emigration",
    summary: "国外転出の届出: effective on departureDate (default today; a later day is applied on that day); continuedUse needs a later day and abroadAddress (the 戸籍の附票 address)",
    body: body(["continuedUse"], { continuedUse: { type: "boolean" }, departureDate: date, abroadAddress: text(200) }),
    handler: async (c, s, r) => c.events.endRegistration(r.params.id!, { kind: "emigration", ...r.body }, actorOf(s)),
  },
  {
    method: "POST", path: "/api/counter/residents/:id/emigration/withdrawal", summary: "国外転出の取消: withdraw a filed emigration before its day of departure (the certificates stay valid)",
    handler: async (c, s, r) => c.events.withdrawEmigration(r.params.id!, actorOf(s)),
  },
  {
    method: "POST", path: "/api/counter/cards", summary: "card application and production with both certificates (unless declined: noSign, noAuth — then no PIN for it, and with noAuth a kenhojoPin); PINs now, or deferPins to set them at handover; legalRepresentative for a child under 15 or an adult under guardianship", status: 201,
    body: body(["residentId"], { residentId: text(20), authPin: pin, signPin: pin, kenhojoPin: pin, noSign: { type: "boolean" }, noAuth: { type: "boolean" }, deferPins: { type: "boolean" }, myNumber: text(12), legalRepresentative }),
    handler: async (c, s, r) => {
      const card = await c.counter.produceCard(r.body, actorOf(s));
      return { ...card, certificates: card.certificates.map(({ der: _der, ...x }) => x) };
    },
  },
  {
    method: "GET", path: "/api/counter/cards/:id/issuance-notice", summary: "交付通知書 (PDF): the card is ready; the certificates' expiry dates as the card face shows them",
    produces: ["application/pdf"],
    handler: async (c, s, r) => {
      const notice = await issuanceNotice({ db: c.store.db, registry: c.registry, clock: c.clock }, r.params.id!, actorOf(s));
      return new FileResponse(notice.filename, notice.contentType, notice.pdf);
    },
  },
  {
    method: "POST", path: "/api/counter/cards/:id/reissue", summary: "再交付: a new card for a lost, stolen or damaged one (old certificates revoked; fee when the holder caused it; noSign, noAuth decline a certificate on the new card)", status: 201,
    body: body(["identity", "reason", "causedByHolder"], {
      identity, reason: { type: "string", enum: [...REISSUE_REASONS] }, causedByHolder: { type: "boolean" }, policeReportNumber: text(40), authPin: pin, signPin: pin, kenhojoPin: pin, noSign: { type: "boolean" }, noAuth: { type: "boolean" }, legalRepresentative,
    }),
    handler: async (c, s, r) => c.counter.reissue({ cardId: r.params.id!, ...r.body }, actorOf(s)),
  },
  {
    method: "POST", path: "/api/counter/cards/:id/suspend", summary: "一時停止: suspend the card (card-level state; certificates untouched)",
    body: body([], { identity }), handler: async (c, s, r) => c.counter.suspend({ cardId: r.params.id!, ...(r.body?.identity ? { identity: r.body.identity } : {}) }, actorOf(s)),
  },
  {
    method: "POST", path: "/api/counter/cards/:id/lift-suspension", summary: "一時停止の解除 (only if no replacement card was issued; held certificates stay on hold)",
    body: body(["identity"], { identity, legalRepresentative }), handler: async (c, s, r) => c.counter.liftSuspension({ cardId: r.params.id!, identity: r.body.identity, ...representativeOf(r.body) }, actorOf(s)),
  },
  {
    method: "POST", path: "/api/counter/proxy-applications", summary: "代理人申請 (first visit): the application waits; returns the 照会書兼回答書 (PDF, base64) with the answer code", status: 201,
    body: body(["kind", "cardId", "proxy"], {
      kind: { type: "string", enum: [...PROXY_PROCEDURES] },
      cardId: text(20),
      proxy: body(["name", "relationship"], { name: text(100), relationship: text(50), type: { type: "string", enum: [...PROXY_TYPES] }, letterOfAttorney: { type: "boolean" } }),
      types, pinType: caType, identity,
    }),
    handler: async (c, s, r) => {
      const started = await c.counter.startProxy(r.body, actorOf(s));
      const { pdf, ...letter } = started.letter;
      return { ...started, letter: { ...letter, base64: Buffer.from(pdf).toString("base64") } };
    },
  },
  {
    method: "GET", path: "/api/counter/proxy-applications/:id", summary: "a proxy application's state (never the answer code)",
    handler: async (c, _s, r) => c.counter.proxyStatus(r.params.id!),
  },
  {
    method: "POST", path: "/api/counter/proxy-applications/:id/complete", summary: "代理人の再来庁: answer code checked, proxy identity recorded, procedure run (not on the day of the application)",
    body: body(["proxyIdentity"], {
      answerCode: { type: "string", pattern: "^[0-9]{8}$" },
      proxyIdentity: body(["document", "name"], { ...identity.properties, name: text(100) }),
      authPin: pin, signPin: pin, newPin: pin,
    }),
    handler: async (c, s, r) =>
      c.counter.completeProxy(
        { applicationId: r.params.id!, ...(r.body.answerCode ? { answerCode: r.body.answerCode } : {}), proxyIdentity: r.body.proxyIdentity, pins: pinsOf(r.body), ...(r.body.newPin ? { newPin: r.body.newPin } : {}) },
        actorOf(s),
      ),
  },
  {
    method: "GET", path: "/api/counter/fees", summary: "the day's fees (Japan date), per office and reason",
    query: query(["date"], { date, office: text(40) }),
    handler: async (c, _s, r) => feeSummary(c.store.db, { date: r.query.date!, ...(r.query.office ? { office: r.query.office } : {}) }),
  },
  {
    method: "GET", path: "/api/counter/expiry-notices", summary: "有効期限通知書 run: residents whose certificates expire 2–3 months after `from` (json, csv or pdf)",
    query: query(["from"], { from: date, format: { type: "string", enum: ["json", "csv", "pdf"] }, municipality: { type: "string", pattern: "^[0-9]{6}$" } }),
    produces: ["application/json", "text/csv", "application/pdf"],
    // Each format reads the run (the PDF also renders it and writes the audit trail).
    noHead: true,
    handler: async (c, s, r) => {
      const deps = { db: c.store.db, registry: c.registry, clock: c.clock };
      const input = { from: r.query.from!, ...(r.query.municipality ? { municipality: r.query.municipality } : {}) };
      if (r.query.format === "csv") {
        // Written as it is read (a run over every municipality is millions of rows); `from` is checked before the answer starts.
        const csv = expiryNoticesCsvStream(deps, input);
        return new FileResponse(csv.filename, "text/csv; charset=utf-8", csv.chunks);
      }
      if (r.query.format === "pdf") {
        // Read no further than one PDF answer may hold.
        const run = await expiryNoticeRun(deps, { ...input, atMost: EXPIRY_NOTICES_PDF_LIMIT });
        return new FileResponse(`expiry-notices-${run.from}.pdf`, "application/pdf", await expiryNoticesPdf(deps, run, actorOf(s), { maxNotices: EXPIRY_NOTICES_PDF_LIMIT }));
      }
      // Collected before it is sent: a larger run is refused with a pointer to the CSV.
      const run = await expiryNoticeRun(deps, { ...input, atMost: EXPIRY_NOTICES_JSON_LIMIT, tooLargeFor: "json" });
      return { ...run, count: run.residents.length };
    },
  },
  {
    method: "POST", path: "/api/counter/cards/:id/handover", summary: "交付: hand the card over (recorded as the 交付日); the resident sets the PINs now if production deferred them",
    body: body(["identity"], { identity, authPin: pin, signPin: pin, kenhojoPin: pin, legalRepresentative }),
    handler: async (c, s, r) =>
      c.counter.handOver(
        {
          cardId: r.params.id!,
          identity: r.body.identity as IdentityCheck,
          pins: { ...pinsOf(r.body), ...(r.body.kenhojoPin ? { kenhojo: r.body.kenhojoPin } : {}) },
          ...representativeOf(r.body),
        },
        actorOf(s),
      ),
  },
  {
    method: "POST", path: "/api/counter/cards/:id/renewal", summary: "更新 (from 3 months before expiry)",
    body: body(["identity"], { identity, types, authPin: pin, signPin: pin, legalRepresentative }),
    handler: async (c, s, r) => c.counter.renew({ cardId: r.params.id!, identity: r.body.identity, ...(r.body.types ? { types: r.body.types } : {}), pins: pinsOf(r.body), ...representativeOf(r.body) }, actorOf(s)),
  },
  {
    method: "POST", path: "/api/counter/cards/:id/new-issuance", summary: "新規発行 onto a card without a valid certificate of that type",
    body: body(["identity"], { identity, types, authPin: pin, signPin: pin, legalRepresentative }),
    handler: async (c, s, r) => c.counter.newIssuance({ cardId: r.params.id!, identity: r.body.identity, ...(r.body.types ? { types: r.body.types } : {}), pins: pinsOf(r.body), ...representativeOf(r.body) }, actorOf(s)),
  },
  {
    method: "POST", path: "/api/counter/cards/:id/revocation", summary: "失効申請",
    body: body(["identity", "types"], { identity, types, legalRepresentative }),
    handler: async (c, s, r) => c.counter.revokeOnRequest({ cardId: r.params.id!, identity: r.body.identity, types: r.body.types, ...representativeOf(r.body) }, actorOf(s)),
  },
  {
    method: "POST", path: "/api/counter/cards/:id/pin-init", summary: "暗証番号の初期化 (retry counter restored)",
    body: body(["identity", "type", "newPin"], { identity, type: { type: "string", enum: ["auth", "sign"] }, newPin: pin, legalRepresentative }),
    handler: async (c, s, r) => c.counter.initialisePin({ cardId: r.params.id!, identity: r.body.identity, type: r.body.type, newPin: r.body.newPin, ...representativeOf(r.body) }, actorOf(s)),
  },
  {
    method: "POST", path: "/api/counter/cards/:id/loss-report", summary: "loss report: both certificates on hold, card suspended",
    handler: async (c, s, r) => c.counter.reportLoss({ cardId: r.params.id! }, actorOf(s)),
  },
  {
    method: "POST", path: "/api/counter/cards/:id/found", summary: "a lost card found: held certificates revoked, new ones issued (unless declined: noSign, noAuth)",
    body: body(["identity"], { identity, authPin: pin, signPin: pin, noSign: { type: "boolean" }, noAuth: { type: "boolean" }, legalRepresentative }),
    handler: async (c, s, r) =>
      c.counter.cardFound(
        { cardId: r.params.id!, identity: r.body.identity, pins: pinsOf(r.body), ...(r.body.noSign ? { noSign: true } : {}), ...(r.body.noAuth ? { noAuth: true } : {}), ...representativeOf(r.body) },
        actorOf(s),
      ),
  },
  {
    method: "POST", path: "/api/counter/cards/:id/return", summary: "返納: both certificates revoked",
    body: body(["identity"], { identity, legalRepresentative }), handler: async (c, s, r) => c.counter.returnCard({ cardId: r.params.id!, identity: r.body.identity, ...representativeOf(r.body) }, actorOf(s)),
  },
  { method: "GET", path: "/api/counter/audit/verify", summary: "verify the audit trail's hash chain (supervisor)", role: "supervisor", handler: async (c) => verifyAudit(c.store.db) },
  {
    method: "GET", path: "/api/counter/staff", summary: "staff accounts (administrator)", role: "administrator",
    handler: async (c) => ({ staff: await c.staff.list() }),
  },
  {
    method: "POST", path: "/api/counter/staff", summary: "add a staff account (administrator)", role: "administrator", status: 201,
    body: body(["login", "name", "officeId", "role", "password"], { login: text(40), name: text(100), officeId: text(40), role: { type: "string", enum: ["clerk", "supervisor", "administrator"] }, password: { type: "string", minLength: 12, maxLength: 200 } }),
    handler: async (c, s, r) => c.staff.add(r.body, actorOf(s)),
  },
];

/**
 * The counter API for staff: one login, then every window procedure. Nothing works without a
 * staff session; every state-changing request also needs the session's CSRF token in
 * `X-CSRF-Token` and, when the browser sends one, a same-origin `Origin`.
 */
export async function counterRoutes(app: FastifyInstance, context: Context, options: { log?: (line: string) => void } = {}): Promise<void> {
  const log = options.log ?? ((line: string) => console.error(line));
  const sessions = new WeakMap<FastifyRequest, StaffSession>();
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
      ...(endpoint.noHead ? { exposeHeadRoute: false } : {}),
      ...(endpoint.body || endpoint.query ? { schema: { ...(endpoint.body ? { body: endpoint.body } : {}), ...(endpoint.query ? { querystring: endpoint.query } : {}) } } : {}),
      // Who is asking is settled before the body is read and validated: without a session the
      // answer is 403, whatever the body, and nothing about the body's schema is told.
      onRequest: async (request: FastifyRequest) => {
        const session = await context.staff.session(cookie(request));
        if (endpoint.role) requireRole(session.staff.role, endpoint.role);
        if (endpoint.method !== "GET") checkCsrf(request, session);
        sessions.set(request, session);
      },
      // A body whose every field is optional may be left out (POST …/suspend with nothing): it is {} then,
      // not a refusal saying "body must be object".
      ...(endpoint.body && (endpoint.body as { required: string[] }).required.length === 0
        ? {
            preValidation: async (request: FastifyRequest) => {
              if (request.body === undefined || request.body === null) request.body = {};
            },
          }
        : {}),
      handler: async (request: FastifyRequest, reply: FastifyReply) => {
        const session = sessions.get(request)!;
        const result = await endpoint.handler(context, session, request as unknown as ValidatedRequest);
        if (result instanceof FileResponse) {
          return reply
            .status(endpoint.status ?? 200)
            .header("content-type", result.contentType)
            .header("content-disposition", `attachment; filename="${result.filename}"`)
            .header("cache-control", "no-store")
            .send(fileBody(result, log));
        }
        return reply.status(endpoint.status ?? 200).send(result);
      },
    });
  }

  app.get("/api/openapi.json", async () => openApiDocument());
}

/** What a FileResponse sends: its text, its bytes, or its chunks as they are read (a failure part way logged). */
function fileBody(file: FileResponse, log: (line: string) => void) {
  if (typeof file.bytes === "string") return file.bytes;
  if (file.bytes instanceof Uint8Array) return Buffer.from(file.bytes);
  return loggedStream(file.bytes, file.filename, log);
}

function cookie(request: FastifyRequest): string {
  return new RegExp(`(?:^|;\\s*)${COOKIE}=([A-Za-z0-9_-]{1,100})`).exec(request.headers.cookie ?? "")?.[1] ?? "";
}

function checkCsrf(request: FastifyRequest, session: StaffSession): void {
  const token = request.headers["x-csrf-token"];
  const origin = request.headers.origin;
  const host = request.headers.host;
  // "null" (an opaque origin: a sandboxed frame, a privacy-preserving redirect) or anything that
  // is not a URL cannot be this site.
  if (origin !== undefined && (!host || hostOf(origin) !== host)) {
    throw new ServiceError("refused", "別のサイトからの要求は受け付けません / cross-site request refused", "origin", { reason: "csrf" });
  }
  if (typeof token !== "string" || token !== session.csrfToken) {
    throw new ServiceError("refused", "CSRF トークンがありません / missing or wrong X-CSRF-Token", "x-csrf-token", { reason: "csrf" });
  }
}

function hostOf(origin: string): string | undefined {
  try {
    return new URL(origin).host;
  } catch {
    return undefined;
  }
}

function parametersOf(e: Endpoint): unknown[] {
  const params: unknown[] = e.path.includes(":id") ? [{ name: "id", in: "path", required: true, schema: { type: "string" } }] : [];
  const q = e.query as { required?: string[]; properties?: Record<string, unknown> } | undefined;
  for (const [name, schema] of Object.entries(q?.properties ?? {})) params.push({ name, in: "query", required: q?.required?.includes(name) ?? false, schema });
  return params;
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
      ...(e.path.includes(":id") || e.query ? { parameters: parametersOf(e) } : {}),
      ...(e.body ? { requestBody: { content: { "application/json": { schema: e.body } } } } : {}),
      responses: {
        [String(e.status ?? 200)]: { description: "done", ...(e.produces ? { content: Object.fromEntries(e.produces.map((t) => [t, {}])) } : {}) },
        "400": { description: "invalid-input: `error.field` names the field" },
        "403": { description: "refused: `error.reason` says why (no-session, csrf, forbidden-role, other-municipality, outside-renewal-window, on-hold, proxy-same-day, bad-answer-code, answer-code-locked, no-legal-representative, replacement-issued, …)" },
        "409": { description: "conflict (card-busy, proxy-pending, nothing-to-revoke, …)" },
      },
    };
  }
  return {
    openapi: "3.1.0",
    info: { title: "OpenJPKI API", version: "0.1.0", description: "Window procedures of the municipal counter (staff sessions) and certificate issuance for municipal systems (issuance-client keys). Errors: { error: { code, reason, field, message } }." },
    components: { securitySchemes: { staffSession: { type: "apiKey", in: "cookie", name: COOKIE }, ...issuanceOpenApi().securitySchemes } },
    paths: { ...paths, ...issuanceOpenApi().paths },
  };
}
