import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { Context } from "../services/context.ts";
import { type ErrorAnswer, failureLine, INTERNAL_ERROR, serviceErrorAnswer } from "./service-errors.ts";
import { schemaProblemMessage, type SchemaProblem } from "./validation-message.ts";
import { statusRoutes } from "./routes/status.ts";
import { portalRoutes } from "./routes/portal.ts";
import { appReservationRoutes } from "./routes/app-reservation.ts";
import { oidcRoutes } from "./oidc.ts";
import { filingRoutes } from "./routes/filings.ts";
import { pagesRoutes } from "./routes/pages.ts";
import { demoRoutes } from "./routes/demo-api.ts";
import { kioskApiRoutes } from "./routes/kiosk-api.ts";
import { counterRoutes } from "./routes/counter.ts";
import { counterPagesRoutes } from "./routes/counter-pages.ts";
import { issuanceRoutes } from "./routes/issuance.ts";
import { refusalPage } from "./routes/pages.ts";

export interface HttpTimeouts {
  /** The whole request line and headers must arrive within this many milliseconds. */
  headersMs: number;
  /** The whole request, body included, must arrive within this many milliseconds. */
  requestMs: number;
  /** How often Node checks open connections against the two limits (so a cut may come this much late). */
  checkIntervalMs: number;
}

/** Generous for a slow mobile upload of the largest body (a batch or a filing, ≈1 MiB), short for a stalled client. */
export const DEFAULT_HTTP_TIMEOUTS: HttpTimeouts = { headersMs: 15_000, requestMs: 60_000, checkIntervalMs: 1_000 };

/** How long /healthz waits for the database. */
const HEALTH_TIMEOUT_MS = 2_000;

export interface AppOptions {
  log?: (line: string) => void;
  timeouts?: Partial<HttpTimeouts>;
}

/**
 * The HTTP application as a value, testable with `inject()` without listening. Handlers are
 * thin: they call services and translate results; the one error handler below turns failures
 * into HTTP answers (the batch issuance route answers each of its items through the same mapping,
 * src/http/service-errors.ts).
 */
export async function buildApp(context: Context, options: AppOptions = {}): Promise<FastifyInstance> {
  const timeouts = { ...DEFAULT_HTTP_TIMEOUTS, ...options.timeouts };
  const app = Fastify({
    logger: false,
    bodyLimit: 1024 * 1024,
    // A property a schema does not allow is refused (400 naming it), not silently dropped (fastify's
    // default): a misspelt `cardExpiry` must not issue a certificate without the card's cap.
    // Nor is a value of the wrong type converted (fastify's default coerces): "true", 1 or ["x"]
    // where a boolean or a string is due is refused, not taken for one.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false } },
    // URLs the router cannot take apart are answered in the API's error form.
    frameworkErrors: (error, request, reply) => {
      const tooLong = error.code === "FST_ERR_MAX_PARAM_LENGTH";
      return refuse(request as unknown as FastifyRequest, reply as unknown as FastifyReply, tooLong ? 414 : 400,
        tooLong
          ? { code: "uri-too-long", message: "URL の一部が長すぎます / a part of the URL path is longer than 100 characters" }
          : { code: "bad-url", message: "URL を解釈できません / the URL is not validly percent-encoded UTF-8" },
      );
    },
    // Fastify turns Node's request timeout off, and with it the headers timeout: a client that
    // sends half a request line or trickles its body held its connection (a file descriptor and
    // a parser) forever, and enough of them exhaust the server. Now the request must arrive in
    // full in time (408 and the connection closed otherwise); handling it has no limit here.
    requestTimeout: timeouts.requestMs,
    http: { headersTimeout: Math.min(timeouts.headersMs, timeouts.requestMs), connectionsCheckingInterval: timeouts.checkIntervalMs },
  });

  app.decorate("devConsole", context.settings.devConsole);

  app.setErrorHandler((error, request, reply) => {
    const refusal = serviceErrorAnswer(error);
    if (refusal) return refuse(request, reply, refusal.status, refusal.body.error);
    const validation = (error as { validation?: (SchemaProblem & { instancePath?: string; params?: { missingProperty?: string; additionalProperty?: string } })[] }).validation;
    if (validation && validation.length > 0) {
      const first = validation[0]!;
      // The path of the value at fault, down to a missing or unexpected property (requests/3/residentId in a batch).
      const path = first.instancePath?.replace(/^\//, "") ?? "";
      const property = first.params?.missingProperty ?? first.params?.additionalProperty;
      const field = property ? (path ? `${path}/${property}` : property) : path;
      return refuse(request, reply, 400, { code: "invalid-input", field, message: schemaProblemMessage(field, first) });
    }
    const status = (error as { statusCode?: number }).statusCode;
    const code = (error as { code?: string }).code;
    if (code === "FST_ERR_CTP_INVALID_JSON_BODY") {
      // fastify's parser also refuses prototype-poisoning keys under this one message.
      return refuse(request, reply, 400, {
        code: "bad-request",
        message: "本文が JSON として読めません / the body is not valid JSON, or holds a __proto__ or constructor.prototype key (refused)",
      });
    }
    if (code === "FST_ERR_CTP_BODY_TOO_LARGE") {
      return refuse(request, reply, 413, { code: "payload-too-large", message: "送信された内容が大きすぎます / the request body is larger than this address accepts" });
    }
    if (code === "FST_ERR_CTP_INVALID_MEDIA_TYPE") {
      const type = String(request.headers["content-type"] ?? "").split(";")[0]!.trim().slice(0, 100);
      return refuse(request, reply, 415, { code: "unsupported-media-type", message: `この形式の本文は受け付けません / a body of type ${JSON.stringify(type)} is not accepted here` });
    }
    if (status && status >= 400 && status < 500) {
      return refuse(request, reply, status, { code: status === 415 ? "unsupported-media-type" : "bad-request", message: (error as Error).message });
    }
    options.log?.(failureLine(request, error));
    return refuse(request, reply, INTERNAL_ERROR.status, INTERNAL_ERROR.body.error);
  });

  // Two checks before anything else is read, in one synchronous hook (every request passes it,
  // OCSP's cached answers too, so it costs no promise):
  // - The JSON APIs take JSON only, in UTF-8, not compressed. Without this a form-encoded body
  //   (curl -d's default) would be parsed by the pages' form parser: refused for a "missing" field
  //   that was sent, or, for a login, a cross-site form post.
  // - A query parameter given twice arrives as an array where every route expects one string.
  app.addHook("onRequest", (request, reply, done) => {
    const problem = request.url.startsWith("/api/") && hasBody(request.headers) ? jsonBodyProblem(request.headers) : undefined;
    if (problem) {
      void reply.status(415).send({ error: { code: "unsupported-media-type", message: `本文は UTF-8 の JSON で送ってください / ${problem}` } });
      return;
    }
    const repeated = request.url.includes("?") ? Object.entries(request.query as Record<string, unknown>).find(([, value]) => Array.isArray(value)) : undefined;
    if (repeated) {
      void refuse(request, reply, 400, { code: "invalid-input", field: repeated[0], message: `${repeated[0]}: 同じパラメータが複数あります / given more than once` });
      return;
    }
    done();
  });

  // Behind a TLS proxy the server itself speaks http, so only the public URL tells that browsers
  // use https: then every cookie the server sets is marked Secure (a session must never travel
  // in clear). Registered only then, so plain-http deployments pay nothing per response.
  if (context.settings.publicBaseUrl.startsWith("https:")) {
    app.addHook("onSend", (_request, reply, payload, done) => {
      const set = reply.getHeader("set-cookie");
      if (set !== undefined) {
        const secure = (Array.isArray(set) ? set.map(String) : [String(set)]).map((c) => (/;\s*Secure\b/i.test(c) ? c : `${c}; Secure`));
        reply.removeHeader("set-cookie");
        reply.header("set-cookie", secure);
      }
      done(null, payload);
    });
  }

  app.setNotFoundHandler((request, reply) =>
    refuse(request, reply, 404, { code: "not-found", message: `${request.method} ${request.url.split("?")[0]!.slice(0, 200)}: そのような URL はありません / no such route` }),
  );

  // For load balancers: 200 only while the store answers, 503 (within HEALTH_TIMEOUT_MS) when it
  // hangs or is gone, so that a node cut off from its database is taken out of rotation. The
  // reason goes to the operator's log, once per change of state, not to whoever asks.
  let unhealthy = false;
  app.get("/healthz", async (_request, reply) => {
    const store = context.store.dialect;
    try {
      await context.store.ping(HEALTH_TIMEOUT_MS);
      if (unhealthy) options.log?.("データベースが応答しています / the database answers again");
      unhealthy = false;
      return { status: "ok", store };
    } catch (error) {
      if (!unhealthy) options.log?.(`healthz: データベースが応答しません / the database does not answer: ${error instanceof Error ? error.message : String(error)}`);
      unhealthy = true;
      return reply.status(503).header("cache-control", "no-store").send({ status: "unavailable", store, message: "データベースが応答しません / the database does not answer" });
    }
  });

  for (const type of ["sign", "auth"] as const) {
    app.get(`/ca/${type}.crt`, async (_request, reply) => {
      const der = context.ca.authority(type).certificateDer;
      return reply
        .header("content-type", "application/pkix-cert")
        .header("cache-control", "public, max-age=86400")
        .header("content-disposition", `inline; filename="openjpki-${type}-ca.crt"`)
        .send(Buffer.from(der));
    });
  }

  await statusRoutes(app, context, options);
  await portalRoutes(app, context);
  await appReservationRoutes(app, context);
  await filingRoutes(app, context);
  await kioskApiRoutes(app, context);
  await counterRoutes(app, context, options);
  await issuanceRoutes(app, context, options);
  // HTML forms (the OIDC login page) post url-encoded bodies.
  // Read as UTF-8 (the pages are UTF-8, so browsers send that); a form that declares another
  // charset would be read as mojibake, a name stored wrong, so it is refused instead.
  app.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "string", bodyLimit: 8192 }, (request, body, done) => {
    const charset = charsetOf(request.headers["content-type"]);
    if (charset !== undefined && charset !== "utf-8" && charset !== "utf8") {
      done(Object.assign(new Error(`フォームは UTF-8 で送ってください / send the form in UTF-8, not charset=${charset.slice(0, 40)}`), { statusCode: 415 }), undefined);
      return;
    }
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
  await oidcRoutes(app, context);

  await pagesRoutes(app, context, options);
  await demoRoutes(app, context, options);
  await counterPagesRoutes(app, context, options);
  app.get("/cps", async (_request, reply) =>
    reply
      .type("text/plain; charset=utf-8")
      .send(
        "OpenJPKI 認証業務運用規程（デモ）/ OpenJPKI certification practice statement (demonstration)\n\n" +
          "このCAは試験・開発用です。実在の公的個人認証サービス（J-LIS）とは関係ありません。\n" +
          "This CA is for testing and development only and is not the real JPKI operated by J-LIS.\n",
      ),
  );

  return app;
}

/**
 * A refusal in the form the client reads: a browser asking for a page outside the API (its
 * navigations and form posts accept text/html) gets an error page in its language with a way
 * back; everyone else the API's JSON. Before, a form post that was too large or multipart, or a
 * mistyped page URL, showed the browser raw JSON.
 */
function refuse(request: FastifyRequest, reply: FastifyReply, status: number, error: ErrorAnswer["body"]["error"]): FastifyReply {
  if (!request.url.startsWith("/api/") && String(request.headers.accept ?? "").includes("text/html")) {
    return refusalPage(request, reply, status, { code: error.code, message: error.message, ...(error.reason ? { reason: error.reason } : {}) });
  }
  return reply.status(status).send({ error });
}

/** Why a request body is not one the JSON APIs read, or undefined when it is. */
function jsonBodyProblem(headers: { "content-type"?: string; "content-encoding"?: string }): string | undefined {
  const mediaType = (headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
  if (mediaType !== "application/json") {
    return `send the body as JSON (Content-Type: application/json), not ${mediaType ? JSON.stringify(mediaType) : "without a Content-Type"}`;
  }
  const charset = charsetOf(headers["content-type"]);
  if (charset !== undefined && charset !== "utf-8" && charset !== "utf8") return `JSON in UTF-8 only, not charset=${charset}`;
  const encoding = headers["content-encoding"]?.trim().toLowerCase();
  if (encoding && encoding !== "identity") return `send the body uncompressed, not Content-Encoding: ${encoding}`;
  return undefined;
}

/** The charset a Content-Type declares, lower case, or undefined when it declares none. */
function charsetOf(contentType: string | undefined): string | undefined {
  const parameters = (contentType ?? "").split(";").slice(1).map((part) => part.trim().toLowerCase());
  return parameters.find((p) => p.startsWith("charset="))?.slice("charset=".length).replace(/"/g, "");
}

/** Whether a request carries a body (HTTP/1.1: a non-zero Content-Length, or chunked). */
function hasBody(headers: { "content-length"?: string; "transfer-encoding"?: string }): boolean {
  return headers["transfer-encoding"] !== undefined || (headers["content-length"] !== undefined && headers["content-length"] !== "0");
}
