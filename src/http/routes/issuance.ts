import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Context } from "../../services/context.ts";
import type { IssuanceClient } from "../../services/issuance-clients.ts";
import { ISSUANCE_REQUEST_LIMITS, type IssuanceRequest } from "../../services/issuance-requests.ts";

const TYPES = ["sign", "auth"] as const;
const WWW_AUTHENTICATE = 'Bearer realm="openjpki-issuance"';
const BODY_LIMIT = 8192;

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
  },
} as const;

/** Who is calling each request, set by the onRequest hook once the bearer key checked out. */
const callers = new WeakMap<FastifyRequest, IssuanceClient>();

/**
 * The issuance API for municipal systems: POST /api/ca/{sign|auth}/certificates with the
 * resident and the public key the card generated; answers 201 with the signed certificate,
 * recorded before the answer goes out. Callers are registered issuance clients
 * (`Authorization: Bearer oji_…`), each limited to its own municipality's residents; the key
 * is checked before the body is even parsed.
 */
export async function issuanceRoutes(app: FastifyInstance, context: Context): Promise<void> {
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
          message: "証明書の発行は登録された発行クライアントだけが要求できます / issuance is for registered issuance clients: send your API key as Authorization: Bearer …",
        },
      });
  }

  for (const type of TYPES) {
    app.post<{ Body: IssuanceRequest }>(
      `/api/ca/${type}/certificates`,
      { onRequest: admit, bodyLimit: BODY_LIMIT, schema: { body: REQUEST_SCHEMA } },
      async (request, reply) => {
        const issued = await context.issuance.issue(callers.get(request)!, type, request.body);
        return reply.status(201).header("cache-control", "no-store").send(issued);
      },
    );
  }
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
          "201": { description: "issued and recorded: { type, serial, subjectCn, notBefore, notAfter, expires, certificate (base64 DER) }" },
          "400": { description: "invalid-input: `error.field` names the field (subjectPublicKey, cardExpiry, cardId, …)" },
          "401": { description: "issuance-client-required: no or unknown API key" },
          "404": { description: "not-found: no such resident in the client's municipality" },
          "409": { description: "conflict: the resident's register entry changed during issuance; try again" },
          "422": { description: "not-eligible: the rules refuse this certificate (deceased, under 15 for signing, …)" },
        },
      },
    };
  }
  return { paths, securitySchemes: { issuanceClient: { type: "http", scheme: "bearer", description: "an issuance client's API key (openjpki issuance-client add)" } } };
}
