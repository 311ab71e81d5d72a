import type { FastifyInstance } from "fastify";
import type { Context } from "../../services/context.ts";
import { proofBody, proofOf, type ProofBody } from "./portal.ts";

/**
 * The PIN-reset app's server side (JPKI暗証番号リセット): a challenge for the card to sign, and
 * the reservation made from the signed challenge, valid 24 hours.
 */
export async function appReservationRoutes(app: FastifyInstance, context: Context): Promise<void> {
  app.post("/api/app/pin-reset/challenge", async () => {
    const issued = await context.pinReset.appChallenge();
    return { challengeId: issued.id, challenge: Buffer.from(issued.challenge).toString("base64url"), expiresAt: issued.expiresAt, signs: "OpenJPKI pin-reset-app v1\\0 || challenge" };
  });

  app.post<{ Body: ProofBody & { target: "sign" | "auth" } }>(
    "/api/app/pin-reset/reservations",
    {
      schema: {
        body: {
          ...proofBody,
          required: [...proofBody.required, "target"],
          properties: { ...proofBody.properties, target: { type: "string", enum: ["sign", "auth"] } },
        },
      },
    },
    async (request, reply) => {
      const reservation = await context.pinReset.reserveWithProof({ target: request.body.target, ...proofOf(request.body) });
      return reply.status(201).send(reservation);
    },
  );
}
