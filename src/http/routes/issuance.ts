import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Context } from "../../services/context.ts";
import type { IssuanceClient } from "../../services/issuance-clients.ts";
import { ISSUANCE_REQUEST_LIMITS, REQUEST_ID_DAYS, type BatchIssuance, type IssuanceRequest } from "../../services/issuance-requests.ts";
import { failureLine, INTERNAL_ERROR, serviceErrorAnswer } from "../service-errors.ts";

const TYPES = ["sign", "auth"] as const;
const WWW_AUTHENTICATE = 'Bearer realm="openjpki-issuance"';
const BODY_LIMIT = 8192;
/** A batch of the most requests, each at its largest (the public key dominates), with room for the JSON around them. */
const BATCH_BODY_LIMIT = ISSUANCE_REQUEST_LIMITS.maxBatch * 2048;

const id = { type: "string", pattern: ISSUANCE_REQUEST_LIMITS.idPattern } as const;
const REQUEST_SCHEMA = {
  type: "object",
  required: ["residentId", "subjectPublicKey"],
  additionalProperties: false,
  properties: {
    residentId: id,
    subjectPublicKey: {
      type: "string",
      minLength: 4,
      maxLength: ISSUANCE_REQUEST_LIMITS.maxPublicKeyBase64,
      pattern: ISSUANCE_REQUEST_LIMITS.base64Pattern,
      description: "base64 of the SubjectPublicKeyInfo DER (RSA 2048–4096 bits, e = 65537)",
    },
    cardId: id,
    renewal: { type: "boolean", description: "a renewal within 3 months of the replaced certificate's expiry" },
    cardExpiry: { type: "string", pattern: "^[0-9]{4}-[0-9]{2}-[0-9]{2}$", description: "the card's expiry, which caps the certificate's" },
    requestId: {
      type: "string",
      pattern: ISSUANCE_REQUEST_LIMITS.requestIdPattern,
      description: `your own id for this request (a UUID, say), unique per client: a retry with the same id and contents within ${REQUEST_ID_DAYS} days is answered 200 with the certificate already issued (replayed: true), not a second one`,
    },
  },
} as const;

const BATCH_SCHEMA = {
  type: "object",
  required: ["requests"],
  additionalProperties: false,
  properties: {
    requests: { type: "array", minItems: 1, maxItems: ISSUANCE_REQUEST_LIMITS.maxBatch, items: REQUEST_SCHEMA },
  },
} as const;

/** Who is calling each request, set by the onRequest hook once the bearer key checked out. */
const callers = new WeakMap<FastifyRequest, IssuanceClient>();

/**
 * The issuance API for municipal systems: POST /api/ca/{sign|auth}/certificates with the
 * resident and the public key the card generated; answers 201 with the signed certificate,
 * recorded before the answer goes out; a request carrying a `requestId` the client already used
 * for the same request is answered 200 with that certificate. Callers are registered issuance clients
 * (`Authorization: Bearer oji_…`), each limited to its own municipality's residents; the key
 * is checked before the body is even parsed.
 *
 * POST /api/ca/{sign|auth}/certificates/batch takes up to 100 such requests at once
 * (`{ "requests": [...] }`) for mass issuance and answers 200 with one result per request, in
 * order: `{ status: 201, certificate }` or `{ status, error }` with the status and error the single
 * endpoint would have given. A malformed batch (not an array, too many, an item that breaks the
 * schema) is refused whole with 400 naming the item's field, and nothing is issued.
 */
export async function issuanceRoutes(app: FastifyInstance, context: Context, options: { log?: (line: string) => void } = {}): Promise<void> {
  async function admit(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    const header = request.headers.authorization;
    const key = typeof header === "string" ? /^Bearer\s+(\S+)$/i.exec(header)?.[1] : undefined;
    const client = key ? await context.issuanceClients.authenticate(key) : undefined;
    if (client) {
      callers.set(request, client);
      return undefined;
    }
    // Answering from the hook ends the request here (fastify: an async hook that sent returns the reply).
    return reply
      .status(401)
      .header("www-authenticate", WWW_AUTHENTICATE)
      .header("cache-control", "no-store")
      .send({
        error: {
          code: "issuance-client-required",
          message: key
            ? "この API キーは登録された有効な発行クライアントのものではありません / this API key is not that of a registered, active issuance client"
            : "証明書の発行は登録された発行クライアントだけが要求できます / issuance is for registered issuance clients: send your API key as Authorization: Bearer …",
        },
      });
  }

  for (const type of TYPES) {
    app.post<{ Body: IssuanceRequest }>(
      `/api/ca/${type}/certificates`,
      { onRequest: admit, bodyLimit: BODY_LIMIT, schema: { body: REQUEST_SCHEMA } },
      async (request, reply) => {
        const issued = await context.issuance.issue(callers.get(request)!, type, request.body);
        return reply.status(issued.replayed ? 200 : 201).header("cache-control", "no-store").send(issued);
      },
    );
    app.post<{ Body: { requests: IssuanceRequest[] } }>(
      `/api/ca/${type}/certificates/batch`,
      { onRequest: admit, bodyLimit: BATCH_BODY_LIMIT, schema: { body: BATCH_SCHEMA } },
      async (request, reply) => {
        const outcomes = await context.issuance.issueBatch(callers.get(request)!, type, request.body.requests);
        const results = outcomes.map((outcome, i) => batchResult(outcome, (error) => options.log?.(failureLine(request, error, `item ${i}`))));
        return reply.status(200).header("cache-control", "no-store").send({ results });
      },
    );
  }
}

/** One item's answer, as the single endpoint would have given it. */
function batchResult(outcome: BatchIssuance, log: (error: unknown) => void): { status: number; certificate?: unknown; error?: unknown } {
  if (outcome.ok) return { status: outcome.issued.replayed ? 200 : 201, certificate: outcome.issued };
  const refusal = serviceErrorAnswer(outcome.error);
  if (refusal) return { status: refusal.status, error: refusal.body.error };
  log(outcome.error);
  return { status: INTERNAL_ERROR.status, error: INTERNAL_ERROR.body.error };
}

/** The issuance endpoints for the OpenAPI document. */
export function issuanceOpenApi(): { paths: Record<string, Record<string, unknown>>; securitySchemes: Record<string, unknown> } {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const type of TYPES) {
    paths[`/api/ca/${type}/certificates`] = {
      post: {
        summary: `issue a ${type === "sign" ? "signing (署名用)" : "user authentication (利用者証明用)"} certificate for a resident of the client's municipality`,
        security: [{ issuanceClient: [] }],
        requestBody: { content: { "application/json": { schema: REQUEST_SCHEMA } } },
        responses: {
          "200": { description: "a retry: the certificate issued to the first request with this requestId, with replayed: true" },
          "201": { description: "issued and recorded: { type, serial, subjectCn, notBefore, notAfter, expires, certificate (base64 DER) }" },
          "400": { description: "invalid-input: `error.field` names the field (subjectPublicKey, cardExpiry, cardId — `error.reason` card-expired for a card past its expiry —, …)" },
          "401": { description: "issuance-client-required: no or unknown API key" },
          "404": { description: "not-found: no such resident in the client's municipality" },
          "409": { description: "conflict: the resident's register entry changed during issuance (try again), or `error.reason` request-id-reused: the requestId was used for a request with other contents, or replayed-certificate-not-valid: the certificate issued for this requestId was revoked or put on hold since (send a new request)" },
          "422": { description: "not-eligible: the rules refuse this certificate (deceased, under 15 for signing, `error.reason` no-validity-left when its expiry day has ended, …)" },
        },
      },
    };
    paths[`/api/ca/${type}/certificates/batch`] = {
      post: {
        summary: `issue up to ${ISSUANCE_REQUEST_LIMITS.maxBatch} ${type === "sign" ? "signing" : "user authentication"} certificates at once (mass issuance); each item is answered as the single endpoint would answer it`,
        security: [{ issuanceClient: [] }],
        requestBody: { content: { "application/json": { schema: BATCH_SCHEMA } } },
        responses: {
          "200": { description: "{ results: [{ status: 201 (or 200 for a retried requestId), certificate } | { status: 400/403/404/409/422/500/503, error: { code, message, field } }] }, one per request, in order, each as the single endpoint would answer it (retry the 503 ones later); every issued certificate is recorded before the answer" },
          "400": { description: "invalid-input: the batch itself is malformed (`error.field` names the item's field, e.g. requests/3/subjectPublicKey); nothing issued" },
          "401": { description: "issuance-client-required: no or unknown API key" },
        },
      },
    };
  }
  return { paths, securitySchemes: { issuanceClient: { type: "http", scheme: "bearer", description: "an issuance client's API key (openjpki issuance-client add)" } } };
}
