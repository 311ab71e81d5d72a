import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Context } from "../../services/context.ts";
import type { CaType } from "../../services/vocabulary.ts";
import {
  ocspReplyToGet,
  ocspReplyToPost,
  OCSP_REQUEST_CONTENT_TYPE,
  OCSP_REQUEST_MAX_BYTES,
  OCSP_RESPONSE_CONTENT_TYPE,
  OCSP_TRY_LATER,
  type OcspReply,
} from "../../services/ocsp-http.ts";
import { failureLine } from "../service-errors.ts";
import type { Verifier } from "../../services/verifiers.ts";

const TYPES: readonly CaType[] = ["sign", "auth"];
const KEY_HEADER = "x-openjpki-verifier-key";

/**
 * Revocation status over HTTP: CRLs at the URLs the certificates name, and the OCSP responder
 * (POST, and GET in the RFC 5019 base64 form). Revocation data is for registered verifiers
 * (API key in `X-OpenJPKI-Verifier-Key` or `Authorization: Bearer`); with `openStatus` anyone
 * may fetch it. Every lookup by a known verifier is counted before the answer goes out.
 */
export async function statusRoutes(app: FastifyInstance, context: Context, options: { log?: (line: string) => void } = {}): Promise<void> {
  app.addContentTypeParser(OCSP_REQUEST_CONTENT_TYPE, { parseAs: "buffer", bodyLimit: OCSP_REQUEST_MAX_BYTES }, (_req, body, done) =>
    done(null, body),
  );

  /** Who is asking; replies 401 and returns null when the caller may not have status data. */
  async function admit(request: FastifyRequest, reply: FastifyReply): Promise<Verifier | undefined | null> {
    const header = request.headers[KEY_HEADER] ?? request.headers.authorization?.replace(/^Bearer\s+/i, "");
    const key = Array.isArray(header) ? header[0] : header;
    const verifier = key ? await context.verifiers.authenticate(key) : undefined;
    if (verifier || context.settings.openStatus) return verifier;
    void reply
      .status(401)
      .header("www-authenticate", 'Bearer realm="openjpki-status"')
      .send({
        error: {
          code: "verifier-required",
          message: key
            ? "この API キーは登録された有効な検証者のものではありません / this API key is not that of a registered, active verifier"
            : "失効情報は登録された検証者だけが取得できます / revocation data is for registered verifiers: send your API key in X-OpenJPKI-Verifier-Key",
        },
      });
    return null;
  }

  async function sendOcsp(request: FastifyRequest, reply: FastifyReply, verifier: Verifier | undefined, work: () => Promise<OcspReply>, ifNoneMatch?: string) {
    let replied: OcspReply;
    try {
      replied = await work();
    } catch (error) {
      // The store or the signer failed (a refused request never gets here). An OCSP client reads
      // only OCSP: it gets tryLater (RFC 6960 §2.3), not a JSON 500; the operator gets the line.
      options.log?.(failureLine(request, error));
      // HTTP 200, as for the other OCSP error statuses: OpenSSL's client reads no body of another status.
      return reply.type(OCSP_RESPONSE_CONTENT_TYPE).header("cache-control", "no-store").send(Buffer.from(OCSP_TRY_LATER));
    }
    if (!replied.answered) {
      return reply.type(OCSP_RESPONSE_CONTENT_TYPE).header("cache-control", "no-store").send(Buffer.from(replied.errorResponse));
    }
    const answer = replied.answer;
    if (verifier && answer.type) await context.verifiers.count(verifier.id, answer.type, "ocsp", answer.lookups);
    // The answer is a finished DER body with headers known in advance: it is written straight to
    // the Node response. Fastify's send pipeline (serializers, onSend hooks) has nothing to do for
    // it and cost about 7 µs of server CPU per request, a sixth of a cached answer's (measured).
    reply.hijack();
    const body = Buffer.from(answer.der.buffer, answer.der.byteOffset, answer.der.byteLength);
    if (!answer.cache) {
      reply.raw.writeHead(200, ["content-type", OCSP_RESPONSE_CONTENT_TYPE, "content-length", String(body.length), "cache-control", "no-store"]);
      reply.raw.end(body);
      return reply;
    }
    const cache = answer.cache;
    const maxAge = Math.max(0, Math.floor((cache.nextUpdate.getTime() - context.clock().getTime()) / 1000));
    const headers = [
      "cache-control", `max-age=${maxAge}, public, no-transform, must-revalidate`,
      "etag", cache.etag,
      "last-modified", cache.lastModified,
      "expires", cache.expires,
    ];
    if (ifNoneMatch === cache.etag) {
      reply.raw.writeHead(304, headers);
      reply.raw.end();
    } else {
      reply.raw.writeHead(200, ["content-type", OCSP_RESPONSE_CONTENT_TYPE, "content-length", String(body.length), ...headers]);
      reply.raw.end(body);
    }
    return reply;
  }

  for (const path of ["/ocsp", ...TYPES.map((t) => `/ocsp/${t}`)]) {
    const type = path === "/ocsp" ? undefined : (path.slice(6) as CaType);
    app.post(path, async (request, reply) => {
      const verifier = await admit(request, reply);
      if (verifier === null) return reply;
      const body = request.body;
      if (!Buffer.isBuffer(body)) {
        return reply.status(415).send({ error: { code: "bad-request", message: `Content-Type must be ${OCSP_REQUEST_CONTENT_TYPE}` } });
      }
      return sendOcsp(request, reply, verifier, () => ocspReplyToPost(context.ocsp, new Uint8Array(body), type));
    });
    app.get(`${path}/*`, async (request, reply) => {
      const verifier = await admit(request, reply);
      if (verifier === null) return reply;
      const encoded = (request.params as { "*": string })["*"];
      const ifNoneMatch = request.headers["if-none-match"];
      return sendOcsp(request, reply, verifier, () => ocspReplyToGet(context.ocsp, encoded, type), ifNoneMatch);
    });
  }

  for (const type of TYPES) {
    app.get(`/crl/${type}.crl`, (request, reply) => sendCrl(request, reply, type, undefined));
    app.get(`/crl/${type}/:file`, (request, reply) => {
      const file = (request.params as { file: string }).file;
      const match = /^(\d{6})\.crl$/.exec(file);
      if (!match) return reply.status(404).send({ error: { code: "not-found", message: `no CRL named ${file}` } });
      return sendCrl(request, reply, type, match[1]);
    });
  }

  async function sendCrl(request: FastifyRequest, reply: FastifyReply, type: CaType, municipality: string | undefined) {
    const verifier = await admit(request, reply);
    if (verifier === null) return reply;
    const crl = await context.crls.current(type, municipality);
    if (verifier) await context.verifiers.count(verifier.id, type, "crl", 1);
    const etag = `"${type}-${crl.scope}-${crl.crlNumber}"`;
    const maxAge = Math.max(0, Math.min(300, Math.floor((crl.nextUpdate.getTime() - context.clock().getTime()) / 1000)));
    reply
      .type("application/pkix-crl")
      .header("cache-control", `max-age=${maxAge}, public, no-transform, must-revalidate`)
      .header("etag", etag)
      .header("last-modified", crl.thisUpdate.toUTCString())
      .header("expires", crl.nextUpdate.toUTCString());
    if (request.headers["if-none-match"] === etag) return reply.status(304).send();
    return reply.send(Buffer.from(crl.der));
  }
}
