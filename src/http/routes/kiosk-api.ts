import type { FastifyInstance } from "fastify";
import type { Context } from "../../services/context.ts";

/**
 * コンビニ交付 over HTTP: what a municipality offers, a challenge for a remote kiosk terminal, and
 * the tamper check anyone holding a printed document can run (issue number + verification code).
 */
export async function kioskApiRoutes(app: FastifyInstance, context: Context): Promise<void> {
  app.get<{ Querystring: { municipality?: string } }>("/api/kiosk/documents", async (request) => {
    const municipality = request.query.municipality ?? "132098";
    return { municipality, hours: context.kiosk.hours(), open: context.kiosk.isOpen(), documents: await context.kiosk.documents(municipality) };
  });

  app.post<{ Body: { issueNumber: string; code: string } }>(
    "/api/kiosk/verify",
    {
      schema: {
        body: {
          type: "object",
          required: ["issueNumber", "code"],
          additionalProperties: false,
          properties: { issueNumber: { type: "string", minLength: 1, maxLength: 40 }, code: { type: "string", minLength: 1, maxLength: 40 } },
        },
      },
    },
    async (request) => context.kiosk.verifyDocument(request.body.issueNumber, request.body.code),
  );
}
