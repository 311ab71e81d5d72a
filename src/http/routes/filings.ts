import type { FastifyInstance } from "fastify";
import type { Context } from "../../services/context.ts";
import { ServiceError } from "../../services/errors.ts";
import { MAX_DOCUMENT } from "../../services/filings.ts";


/**
 * Bytes from base64 (standard or URL-safe; line breaks allowed, as base64 tools wrap), refusing
 * anything else: Node's decoder skips characters it does not know, so "not base64!" would become
 * a few bytes, verified and recorded as a refused filing instead of answered as a bad field.
 */
function base64Field(value: string, field: string): Uint8Array {
  const compact = value.replace(/[\r\n]+/g, "");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact) && !/^[A-Za-z0-9_-]*={0,2}$/.test(compact)) {
    throw new ServiceError("invalid-input", `${field}: base64 ではありません / ${field}: not base64`, field);
  }
  const bytes = Buffer.from(compact, compact.includes("-") || compact.includes("_") ? "base64url" : "base64");
  if (bytes.length === 0 || bytes.length > MAX_DOCUMENT) {
    throw new ServiceError("invalid-input", `${field}: 1バイトから${MAX_DOCUMENT}バイトまでの base64 です / ${field}: expected base64 of 1 to ${MAX_DOCUMENT} bytes`, field);
  }
  return new Uint8Array(bytes);
}

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
        document: format === "xml" ? new Uint8Array(Buffer.from(document, "utf8")) : base64Field(document, "document"),
        ...(content ? { content: base64Field(content, "content") } : {}),
      });
      // 201: recorded and accepted; 200: this signature was filed before (the first filing); 422: refused (recorded).
      return reply.status(filing.status !== "accepted" ? 422 : filing.duplicate ? 200 : 201).send(filing);
    },
  );

  app.get<{ Params: { id: string } }>("/api/filings/:id", async (request) => {
    const { document: _document, content: _content, ...filing } = await context.filings.get(request.params.id);
    return filing;
  });

  // ?limit=N: the newest N filings, 1–500 (default 50); the service refuses a number past 500.
  app.get<{ Querystring: { limit?: string } }>(
    "/api/filings",
    { schema: { querystring: { type: "object", properties: { limit: { type: "string", pattern: "^[1-9][0-9]{0,2}$" } } } } },
    async (request) => ({ filings: await context.filings.list(request.query.limit === undefined ? 50 : Number(request.query.limit)) }),
  );
}
