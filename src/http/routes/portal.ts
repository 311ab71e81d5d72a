import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Context } from "../../services/context.ts";
import { ServiceError } from "../../services/errors.ts";

const SESSION_COOKIE = "openjpki_portal";
const B64 = "^[A-Za-z0-9+/_-]+={0,2}$";

/** Bytes from base64 (standard or URL-safe) in a JSON body, with a size limit. */
export function bytesField(value: string, field: string, maxBytes: number): Uint8Array {
  const bytes = Buffer.from(value, value.includes("-") || value.includes("_") ? "base64url" : "base64");
  if (bytes.length === 0 || bytes.length > maxBytes) {
    throw new ServiceError("invalid-input", `${field}: 1〜${maxBytes} バイトの base64 で送ってください / expected base64 of 1 to ${maxBytes} bytes`, field);
  }
  return new Uint8Array(bytes);
}

const proofBody = {
  type: "object",
  required: ["challengeId", "certificate", "signature"],
  additionalProperties: false,
  properties: {
    challengeId: { type: "string", minLength: 1, maxLength: 64 },
    certificate: { type: "string", minLength: 1, maxLength: 16384, pattern: B64 },
    signature: { type: "string", minLength: 1, maxLength: 1024, pattern: B64 },
  },
} as const;

export interface ProofBody {
  challengeId: string;
  certificate: string;
  signature: string;
}

export function proofOf(body: ProofBody) {
  return {
    challengeId: body.challengeId,
    certificateDer: bytesField(body.certificate, "certificate", 8192),
    signature: bytesField(body.signature, "signature", 512),
  };
}

export { proofBody };

/**
 * Myna Portal-style login over HTTP: the browser (or app) gets a challenge, has the card sign it
 * after the PIN, and posts the certificate and signature; the session cookie is bound to the
 * certificate's serial. No personal data is asked for or returned.
 */
export async function portalRoutes(app: FastifyInstance, context: Context): Promise<void> {
  app.post("/api/portal/challenge", async () => {
    const issued = await context.portal.challenge();
    return { challengeId: issued.id, challenge: Buffer.from(issued.challenge).toString("base64url"), expiresAt: issued.expiresAt, signs: "OpenJPKI login v1\\0 || challenge" };
  });

  app.post<{ Body: ProofBody }>("/api/portal/login", { schema: { body: proofBody } }, async (request, reply) => {
    const session = await context.portal.complete(proofOf(request.body));
    reply.header(
      "set-cookie",
      `${SESSION_COOKIE}=${session.id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${Math.floor((new Date(session.expiresAt).getTime() - context.clock().getTime()) / 1000)}`,
    );
    return { serial: session.serialHex, expiresAt: session.expiresAt };
  });

  app.post("/api/portal/logout", async (request, reply) => {
    const id = sessionId(request);
    if (id) await context.portal.end(id);
    return reply.header("set-cookie", `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`).send({ ok: true });
  });

  app.get("/api/portal/me", async (request) => {
    const session = await context.portal.session(sessionId(request));
    return { serial: session.serialHex, subject: `CN=${session.subjectCn}`, expiresAt: session.expiresAt };
  });
}

function sessionId(request: FastifyRequest): string {
  const cookie = request.headers.cookie ?? "";
  const match = new RegExp(`(?:^|;\\s*)${SESSION_COOKIE}=([A-Za-z0-9_-]{1,64})`).exec(cookie);
  const bearer = request.headers.authorization?.match(/^Bearer\s+([A-Za-z0-9_-]{1,64})$/)?.[1];
  return match?.[1] ?? bearer ?? "";
}
