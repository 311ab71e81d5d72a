import type { FastifyInstance } from "fastify";
import type { Context } from "../../services/context.ts";
import { bytesField } from "./portal.ts";

/** The e-Tax-style relying party: submit a signed return, read back what the verifier saw. */
export async function filingRoutes(app: FastifyInstance, context: Context): Promise<void> {
  app.post<{ Body: { format: "xml" | "cms"; document: string; content?: string } }>(
    "/api/filings",
    {
      bodyLimit: 512 * 1024,
      schema: {
        body: {
          type: "object",
          required: ["format", "document"],
          additionalProperties: false,
          properties: {
            format: { type: "string", enum: ["xml", "cms"] },
            document: { type: "string", minLength: 1, maxLength: 400_000 },
            content: { type: "string", maxLength: 400_000 },
          },
        },
      },
    },
    async (request, reply) => {
      const { format, document, content } = request.body;
      const filing = await context.filings.submit({
        format,
        document: format === "xml" ? new Uint8Array(Buffer.from(document, "utf8")) : bytesField(document, "document", 262_144),
        ...(content ? { content: bytesField(content, "content", 262_144) } : {}),
      });
      return reply.status(filing.status === "accepted" ? 201 : 422).send(filing);
    },
  );

  app.get<{ Params: { id: string } }>("/api/filings/:id", async (request) => {
    const { document: _document, ...filing } = await context.filings.get(request.params.id);
    return filing;
  });

  app.get("/api/filings", async () => ({ filings: await context.filings.list() }));
}
