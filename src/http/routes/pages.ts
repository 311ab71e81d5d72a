import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { randomBytes } from "node:crypto";
import { HeldValues } from "../held-values.ts";
import type { Context } from "../../services/context.ts";
import { ServiceError } from "../../services/errors.ts";
import type { KioskIssuance } from "../../services/kiosk.ts";
import {
  caViews,
  cardChoices,
  cardViewForSerial,
  checkHolderPin,
  liveCertificatesOfCard,
  residentRows,
} from "../../services/resident-view.ts";
import { asset } from "../../web/assets.ts";
import { CSRF_COOKIE, CSRF_FIELD, csrfTokensMatch, isCsrfToken, newCsrfToken, originAllowed } from "../../web/csrf.ts";
import { isLang, type Lang } from "../../web/i18n.ts";
import { view, type View } from "../../web/layout.ts";
import type { Problem } from "../../web/forms.ts";
import { topPage } from "../../web/pages/top.ts";
import { infoPage } from "../../web/pages/info.ts";
import { residentLoginPage, residentPage } from "../../web/pages/resident.ts";
import { devPage, type DevState } from "../../web/pages/dev.ts";
import { errorPage } from "../../web/pages/error.ts";
import { kioskVerifyPage } from "../../web/pages/kiosk-verify.ts";
import { appDonePage, appPage } from "../../web/pages/app.ts";
import type { Reservation } from "../../services/pin-reset.ts";
import {
  kioskClosedPage,
  kioskDocumentsPage,
  kioskFeePage,
  kioskHomePage,
  kioskIssueCardPage,
  kioskIssuePinPage,
  kioskIssuedPage,
  kioskResetCardPage,
  kioskResetDonePage,
  kioskResetPinPage,
  kioskServicesPage,
} from "../../web/pages/kiosk.ts";

const LANG_COOKIE = "openjpki_lang";
const PORTAL_COOKIE = "openjpki_portal";
const KIOSK_COOKIE = "openjpki_kiosk";
const KIOSK_SESSION_MS = 5 * 60_000;
/** How long a done page (a reservation, a reset) can be reloaded after its POST redirected to it. */
const DONE_MS = 30 * 60_000;

export type Form = Record<string, string | undefined>;

declare module "fastify" {
  interface FastifyInstance {
    /** Whether `serve --dev` offers the developer console (pages link to it only then). */
    devConsole: boolean;
  }
}

export function cookiesOf(request: FastifyRequest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (request.headers.cookie ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0) out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return out;
}

/** Fastify adds a set-cookie to those already set (RFC 7230 §3.2.2), so each cookie is one header line. */
function appendCookie(reply: FastifyReply, cookie: string): void {
  reply.header("set-cookie", cookie);
}

/**
 * The page's language and form token, from the query (`?lang=en`, remembered in a cookie) and
 * the cookies; a browser without a form token gets one.
 */
export function pageView(request: FastifyRequest, reply: FastifyReply, path: string): View {
  const cookies = cookiesOf(request);
  const query = request.query as Record<string, unknown> | undefined;
  let lang: Lang = isLang(cookies[LANG_COOKIE]) ? (cookies[LANG_COOKIE] as Lang) : "ja";
  if (isLang(query?.lang)) {
    lang = query.lang;
    appendCookie(reply, `${LANG_COOKIE}=${lang}; Path=/; SameSite=Lax; Max-Age=31536000`);
  }
  let token = cookies[CSRF_COOKIE];
  if (!isCsrfToken(token)) {
    token = newCsrfToken();
    appendCookie(reply, `${CSRF_COOKIE}=${token}; Path=/; HttpOnly; SameSite=Strict`);
  }
  return view(lang, path, token, request.server.devConsole);
}

export function sendPage(reply: FastifyReply, status: number, body: string): FastifyReply {
  return reply
    .status(status)
    .header("cache-control", "no-store")
    .header("x-content-type-options", "nosniff")
    .header("referrer-policy", "same-origin")
    .header("x-frame-options", "DENY")
    .header("content-security-policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'")
    .type("text/html; charset=utf-8")
    .send(body);
}

/** A refusal made before any page route ran (no such page, a body too large or of the wrong type), as a page. */
export function refusalPage(request: FastifyRequest, reply: FastifyReply, status: number, problem: Problem): FastifyReply {
  // The language switch links back to the page; a path that is not plainly ours ("//host", odd
  // characters from a mistyped or hostile URL) links to the home page instead.
  const asked = request.url.split("?")[0]!;
  const path = /^\/(?!\/)[A-Za-z0-9/_.-]{0,200}$/.test(asked) ? asked : "/";
  return sendPage(reply, status, errorPage(pageView(request, reply, path), problem));
}

/**
 * Every POST from the pages: the form token in the body must equal the cookie's, and the
 * browser's Origin (and Sec-Fetch-Site) must be this server. Sends the refusal page and returns
 * false when not.
 */
export function formAccepted(context: Context, request: FastifyRequest, reply: FastifyReply, v: View): boolean {
  const form = (request.body ?? {}) as Form;
  const host = request.headers.host;
  const allowed = [new URL(context.settings.publicBaseUrl).origin, ...(host ? [`http://${host}`, `https://${host}`] : [])];
  const origin = typeof request.headers.origin === "string" ? request.headers.origin : undefined;
  const fetchSite = request.headers["sec-fetch-site"];
  const ok = csrfTokensMatch(cookiesOf(request)[CSRF_COOKIE], form[CSRF_FIELD]) && originAllowed(origin, allowed) && fetchSite !== "cross-site" && fetchSite !== "same-site";
  if (!ok) {
    sendPage(reply, 403, errorPage(v, { reason: "csrf", message: v.t("フォームを確認できませんでした。", "The form could not be checked.") }, { href: v.path, ja: "ページを読み込み直す", en: "Reload the page" }));
  }
  return ok;
}

/** A failure as the pages show it; anything that is not a refusal is logged (never with the form) and shown plainly. */
export function problemOf(error: unknown, log?: (line: string) => void): Problem {
  if (error instanceof ServiceError) {
    return { code: error.code, message: error.message, ...(error.reason ? { reason: error.reason } : {}), ...(error.field ? { field: error.field } : {}) };
  }
  log?.(`page error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  return { code: "internal", message: "内部エラーが発生しました。しばらくしてからもう一度お試しください / an internal error occurred: please try again later" };
}

export function statusOf(problem: Problem): number {
  switch (problem.code) {
    case "invalid-input":
      return 400;
    case "not-found":
      return 404;
    case "not-eligible":
      return 422;
    case "conflict":
      return 409;
    case "refused":
      return 403;
    case "internal":
      return 500;
    default:
      return 503;
  }
}

export function text(form: Form, name: string, max = 200): string {
  const value = form[name];
  return typeof value === "string" ? value.slice(0, max).trim() : "";
}

/** Keeps what a form said (never its PINs) to show it again next to an error. */
function kept(form: Form, ...names: string[]): Record<string, string> {
  return Object.fromEntries(names.map((n) => [n, text(form, n)]));
}

function missing(field: string, ja: string, en: string): ServiceError {
  return new ServiceError("invalid-input", `${ja}を入力してください / enter the ${en}`, field);
}

/** A card is chosen from a list, not typed: the message says so. */
function noCard(): ServiceError {
  return new ServiceError("invalid-input", "カードを選んでください / Choose a card", "card");
}

/** "０２" → "02": a kiosk's on-screen or IME keyboard may type full-width digits. */
function halfWidthDigits(value: string): string {
  return value.replace(/[０-９]/g, (d) => String.fromCharCode(d.charCodeAt(0) - 0xfee0));
}

/** A GET of a URL only a form posts to (left in the address bar, reopened): the page the form lives on. */
function toFormPage(request: FastifyRequest, reply: FastifyReply, path: string): FastifyReply {
  // The language asked for in the URL stays with the page.
  const lang = (request.query as Record<string, unknown> | undefined)?.lang;
  return reply.status(303).header("location", isLang(lang) ? `${path}?lang=${lang}` : path).send();
}

interface KioskSession {
  cardId: string;
  /** Held in memory only while the card is "in the reader" (at most five minutes); never rendered or logged. */
  pin: string;
  municipalityCode: string;
  expires: number;
  /** The print, once started: a repeated print, and the PDF, wait for it rather than starting another. */
  printing?: Promise<{ issuance: KioskIssuance; pdf: Uint8Array }>;
}

/** The resident pages, information page, kiosk and app screens and the developer console. */
export async function pagesRoutes(app: FastifyInstance, context: Context, options: { log?: (line: string) => void } = {}): Promise<void> {
  const log = options.log ?? ((line: string) => console.error(line));
  const kioskSessions = new Map<string, KioskSession>();
  // The injected clock, so that tests (and a server with a set time) expire sessions on their "now".
  const nowMs = () => context.clock().getTime();

  const kioskSession = (request: FastifyRequest): [string, KioskSession] | undefined => {
    const id = cookiesOf(request)[KIOSK_COOKIE];
    const now = nowMs();
    for (const [key, s] of kioskSessions) if (s.expires < now) kioskSessions.delete(key);
    const found = id ? kioskSessions.get(id) : undefined;
    return id && found ? [id, found] : undefined;
  };

  // Post-redirect-get: a reservation or reset is made by the POST alone; its page is a GET that a
  // reload shows again without reading the card or reserving / resetting a second time.
  // A done page's content is shown again on a reload by the browser that made it (its form-token cookie) only.
  const reservations = new HeldValues<Reservation>(DONE_MS, nowMs);
  const resets = new HeldValues<true>(DONE_MS, nowMs);
  const browserOf = (request: FastifyRequest) => cookiesOf(request)[CSRF_COOKIE];
  const doneGone = (request: FastifyRequest, reply: FastifyReply, path: string, back: { href: string; ja: string; en: string }) =>
    sendPage(
      reply,
      404,
      errorPage(pageView(request, reply, path), { code: "not-found", message: "この画面は表示できる時間を過ぎました / this page is no longer available" }, back),
    );

  /** Outside the service hours a kiosk flow says so at once, before any card or PIN is asked for. */
  const kioskClosed = (reply: FastifyReply, v: View, service: "issue" | "pin-reset"): FastifyReply | undefined =>
    context.kiosk.isOpen() ? undefined : sendPage(reply, 503, kioskClosedPage(v, context.kiosk.hours(), service));
  const maxCopies = context.kiosk.maxCopies();

  app.get<{ Params: { name: string } }>("/assets/:name", async (request, reply) => {
    const found = asset(request.params.name);
    if (!found) return reply.status(404).type("text/plain; charset=utf-8").send("not found");
    if (request.headers["if-none-match"] === found.etag) return reply.status(304).send();
    return reply.type(found.type).header("etag", found.etag).header("cache-control", "public, max-age=300").send(found.body);
  });

  app.get("/", async (request, reply) => sendPage(reply, 200, topPage(pageView(request, reply, "/"), await caViews(context))));
  app.get("/info", async (request, reply) => sendPage(reply, 200, infoPage(pageView(request, reply, "/info"))));

  // ---- Resident pages -------------------------------------------------------------------
  app.get("/resident", async (request, reply) => {
    const v = pageView(request, reply, "/resident");
    const sessionId = cookiesOf(request)[PORTAL_COOKIE];
    if (sessionId) {
      try {
        const session = await context.portal.session(sessionId);
        return sendPage(reply, 200, residentPage(v, await cardViewForSerial(context, session.serialHex), session));
      } catch (error) {
        if (!(error instanceof ServiceError)) log(`resident page: ${(error as Error).stack ?? String(error)}`);
      }
    }
    return sendPage(reply, 200, residentLoginPage(v, await cardChoices(context)));
  });

  app.post("/resident/login", async (request, reply) => {
    const v = pageView(request, reply, "/resident");
    if (!formAccepted(context, request, reply, v)) return reply;
    const form = request.body as Form;
    const cardId = text(form, "cardId", 20);
    try {
      if (!cardId) throw noCard();
      const pin = text(form, "pin", 16);
      if (!pin) throw missing("pin", "暗証番号", "PIN");
      const session = await context.cards.withReader(cardId, (reader) => context.portal.loginWithCard(reader, pin));
      const maxAge = Math.max(0, Math.floor((new Date(session.expiresAt).getTime() - context.clock().getTime()) / 1000));
      appendCookie(reply, `${PORTAL_COOKIE}=${session.id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAge}`);
      return reply.status(303).header("location", "/resident").send();
    } catch (error) {
      const problem = problemOf(error, log);
      return sendPage(reply, statusOf(problem), residentLoginPage(v, await cardChoices(context), problem, cardId));
    }
  });

  app.get("/resident/login", async (request, reply) => toFormPage(request, reply, "/resident"));
  app.get("/resident/logout", async (request, reply) => toFormPage(request, reply, "/resident"));

  app.post("/resident/logout", async (request, reply) => {
    const v = pageView(request, reply, "/resident");
    if (!formAccepted(context, request, reply, v)) return reply;
    const id = cookiesOf(request)[PORTAL_COOKIE];
    if (id) await context.portal.end(id);
    appendCookie(reply, `${PORTAL_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`);
    return reply.status(303).header("location", "/resident").send();
  });

  // ---- The PIN-reset app ----------------------------------------------------------------
  app.get("/app", async (request, reply) => sendPage(reply, 200, appPage(pageView(request, reply, "/app"), await cardChoices(context))));

  app.post("/app/reserve", async (request, reply) => {
    const v = pageView(request, reply, "/app");
    if (!formAccepted(context, request, reply, v)) return reply;
    const form = request.body as Form;
    const cardId = text(form, "cardId", 20);
    try {
      if (!cardId) throw noCard();
      const pin = text(form, "pin", 16);
      if (!pin) throw missing("pin", "暗証番号", "PIN");
      const reservation = await context.cards.withReader(cardId, (reader) => context.pinReset.reserve(reader, { target: "sign", pin }));
      reservations.put(browserOf(request) ?? "", reservation, reservation.id);
      return reply.status(303).header("location", `/app/reservations/${encodeURIComponent(reservation.id)}`).send();
    } catch (error) {
      const problem = problemOf(error, log);
      return sendPage(reply, statusOf(problem), appPage(v, await cardChoices(context), problem, cardId));
    }
  });

  app.get("/app/reserve", async (request, reply) => toFormPage(request, reply, "/app"));

  app.get<{ Params: { id: string } }>("/app/reservations/:id", async (request, reply) => {
    const reservation = reservations.get(request.params.id, browserOf(request));
    if (!reservation) return doneGone(request, reply, "/app", { href: "/app", ja: "予約の画面に戻る", en: "Back to booking" });
    return sendPage(reply, 200, appDonePage(pageView(request, reply, request.url.split("?")[0]!), reservation));
  });

  // ---- Kiosk ----------------------------------------------------------------------------
  const closedHours = () => (context.kiosk.isOpen() ? undefined : context.kiosk.hours());
  app.get("/kiosk", async (request, reply) => sendPage(reply, 200, kioskHomePage(pageView(request, reply, "/kiosk"), closedHours())));
  app.get("/kiosk/verify", async (request, reply) => sendPage(reply, 200, kioskVerifyPage(pageView(request, reply, "/kiosk/verify"))));
  app.post("/kiosk/verify", async (request, reply) => {
    const v = pageView(request, reply, "/kiosk/verify");
    if (!formAccepted(context, request, reply, v)) return reply;
    const form = request.body as Form;
    const input = { issueNumber: text(form, "issueNumber", 40), code: text(form, "code", 40) };
    try {
      if (!input.issueNumber) throw missing("issueNumber", "交付番号", "issue number");
      if (!input.code) throw missing("code", "照合番号", "verification code");
      const record = await context.kiosk.verifyDocument(input.issueNumber, input.code);
      return sendPage(reply, 200, kioskVerifyPage(v, input, undefined, record));
    } catch (error) {
      const problem = problemOf(error, log);
      return sendPage(reply, statusOf(problem), kioskVerifyPage(v, input, problem));
    }
  });
  app.get("/kiosk/services", async (request, reply) => sendPage(reply, 200, kioskServicesPage(pageView(request, reply, "/kiosk/services"), closedHours())));
  app.get("/kiosk/issue", async (request, reply) => {
    const session = kioskSession(request);
    if (session) kioskSessions.delete(session[0]);
    const v = pageView(request, reply, "/kiosk/issue");
    return kioskClosed(reply, v, "issue") ?? sendPage(reply, 200, kioskIssueCardPage(v, await cardChoices(context)));
  });

  // Steps only a form posts to: reopened from the address bar, they start the flow again.
  for (const step of ["pin", "documents", "fee"]) app.get(`/kiosk/issue/${step}`, async (request, reply) => toFormPage(request, reply, "/kiosk/issue"));
  app.get("/kiosk/issue/print", async (request, reply) => {
    // After a print, the address bar holds this URL: the document just issued (not a fresh start, which would drop it).
    const printed = await kioskSession(request)?.[1].printing?.catch(() => undefined);
    if (!printed) return toFormPage(request, reply, "/kiosk/issue");
    return sendPage(reply, 200, kioskIssuedPage(pageView(request, reply, "/kiosk/issue"), printed.issuance, `/kiosk/issue/pdf`));
  });

  app.post("/kiosk/issue/pin", async (request, reply) => {
    const v = pageView(request, reply, "/kiosk/issue");
    if (!formAccepted(context, request, reply, v)) return reply;
    const closed = kioskClosed(reply, v, "issue");
    if (closed) return closed;
    const cardId = text(request.body as Form, "cardId", 20);
    if (!cardId) {
      const problem = problemOf(noCard());
      return sendPage(reply, 400, kioskIssueCardPage(v, await cardChoices(context), problem));
    }
    return sendPage(reply, 200, kioskIssuePinPage(v, cardId));
  });

  app.post("/kiosk/issue/documents", async (request, reply) => {
    const v = pageView(request, reply, "/kiosk/issue");
    if (!formAccepted(context, request, reply, v)) return reply;
    const form = request.body as Form;
    const cardId = text(form, "cardId", 20);
    const pin = text(form, "pin", 16);
    const kiosk = context.kiosk;
    // Closed hours first: outside them the kiosk does not even ask the card for the PIN (a try would be spent).
    const closed = kioskClosed(reply, v, "issue");
    if (closed) return closed;
    try {
      if (!pin) throw missing("pin", "暗証番号", "PIN");
      await checkHolderPin(context, cardId, "auth", pin);
    } catch (error) {
      const problem = problemOf(error, log);
      return sendPage(reply, statusOf(problem), kioskIssuePinPage(v, cardId, problem));
    }
    try {
      const card = await context.cards.get(cardId);
      const resident = await context.registry.get(card.residentId);
      const id = randomBytes(18).toString("base64url");
      kioskSessions.set(id, { cardId, pin, municipalityCode: resident.municipality.code, expires: nowMs() + KIOSK_SESSION_MS });
      appendCookie(reply, `${KIOSK_COOKIE}=${id}; Path=/kiosk; HttpOnly; SameSite=Strict`);
      return sendPage(reply, 200, kioskDocumentsPage(v, await kiosk.documents(resident.municipality.code), maxCopies));
    } catch (error) {
      const problem = problemOf(error, log);
      return sendPage(reply, statusOf(problem), kioskIssueCardPage(v, await cardChoices(context), problem));
    }
  });

  app.post("/kiosk/issue/fee", async (request, reply) => {
    const v = pageView(request, reply, "/kiosk/issue");
    if (!formAccepted(context, request, reply, v)) return reply;
    const kiosk = context.kiosk;
    const closed = kioskClosed(reply, v, "issue");
    if (closed) return closed;
    const session = kioskSession(request);
    if (!session) {
      return sendPage(reply, 409, kioskIssueCardPage(v, await cardChoices(context), { code: "conflict", reason: "challenge-expired", message: "時間がたちすぎました。カードを置くところからやり直してください / too much time passed: start again by placing your card" }));
    }
    const form = request.body as Form;
    const offers = await kiosk.documents(session[1].municipalityCode);
    const chosen = { document: text(form, "document", 40), copies: text(form, "copies", 8) };
    const offer = offers.find((o) => o.id === chosen.document);
    const digits = halfWidthDigits(chosen.copies);
    const copies = /^[0-9]{1,3}$/.test(digits) ? Number(digits) : NaN;
    const problem: Problem | undefined = !offer
      ? { code: "invalid-input", field: "document", message: "証明書の種類を選んでください / choose a document" }
      : !(copies >= 1 && copies <= maxCopies)
        ? { code: "invalid-input", field: "copies", message: `部数は1〜${maxCopies}の数字で入力してください / enter a number of copies from 1 to ${maxCopies}` }
        : undefined;
    // The form comes back as the resident left it (their document, the count as typed), the error on the field at fault.
    if (problem || !offer) return sendPage(reply, 400, kioskDocumentsPage(v, offers, maxCopies, problem, chosen));
    return sendPage(reply, 200, kioskFeePage(v, offer, copies));
  });

  app.post("/kiosk/issue/print", async (request, reply) => {
    const v = pageView(request, reply, "/kiosk/issue");
    if (!formAccepted(context, request, reply, v)) return reply;
    const kiosk = context.kiosk;
    const found = kioskSession(request);
    // Closed before the print started: say so (a print already made is still shown below, whatever the hour).
    if (!found?.[1].printing) {
      const closed = kioskClosed(reply, v, "issue");
      if (closed) return closed;
    }
    if (!found) {
      return sendPage(reply, 409, kioskIssueCardPage(v, await cardChoices(context), { code: "conflict", reason: "challenge-expired", message: "時間がたちすぎました。カードを置くところからやり直してください / too much time passed: start again by placing your card" }));
    }
    const [id, session] = found;
    // Printing or printed already (a double click, a reload): that document again, never issued or
    // charged twice. The print is recorded on the session before the card is used, so a second
    // request arriving meanwhile waits for the first instead of starting its own.
    const first = session.printing === undefined;
    if (first) {
      const form = request.body as Form;
      session.printing = context.cards
        .withReader(session.cardId, (reader) =>
          kiosk.issue(reader, { pin: session.pin, document: text(form, "document", 40), copies: Number(text(form, "copies", 2)) || 1 }),
        )
        .finally(() => {
          session.pin = "";
        });
    }
    try {
      const result = await session.printing!;
      return sendPage(reply, first ? 201 : 200, kioskIssuedPage(v, result.issuance, `/kiosk/issue/pdf`));
    } catch (error) {
      kioskSessions.delete(id);
      const problem = problemOf(error, log);
      return sendPage(reply, statusOf(problem), kioskIssueCardPage(v, await cardChoices(context), problem));
    }
  });

  app.get("/kiosk/issue/pdf", async (request, reply) => {
    const found = kioskSession(request);
    // A failed print deletes the session; one still printing is waited for.
    const printed = await found?.[1].printing?.catch(() => undefined);
    if (!printed) {
      const v = pageView(request, reply, "/kiosk/issue");
      return sendPage(reply, 404, errorPage(v, { code: "not-found", message: "交付した証明書は表示できる時間を過ぎました / the issued document is no longer available" }, { href: "/kiosk", ja: "最初の画面に戻る", en: "Back to the start" }));
    }
    return reply.type("application/pdf").header("cache-control", "no-store").header("content-disposition", 'inline; filename="certificate.pdf"').send(Buffer.from(printed.pdf));
  });

  app.get("/kiosk/pin-reset", async (request, reply) => {
    const v = pageView(request, reply, "/kiosk/pin-reset");
    return kioskClosed(reply, v, "pin-reset") ?? sendPage(reply, 200, kioskResetCardPage(v, await cardChoices(context)));
  });
  app.get("/kiosk/pin-reset/pin", async (request, reply) => toFormPage(request, reply, "/kiosk/pin-reset"));

  app.post("/kiosk/pin-reset/pin", async (request, reply) => {
    const v = pageView(request, reply, "/kiosk/pin-reset");
    if (!formAccepted(context, request, reply, v)) return reply;
    const closed = kioskClosed(reply, v, "pin-reset");
    if (closed) return closed;
    const cardId = text(request.body as Form, "cardId", 20);
    if (!cardId) return sendPage(reply, 400, kioskResetCardPage(v, await cardChoices(context), problemOf(noCard())));
    return sendPage(reply, 200, kioskResetPinPage(v, cardId));
  });

  app.post("/kiosk/pin-reset", async (request, reply) => {
    const v = pageView(request, reply, "/kiosk/pin-reset");
    if (!formAccepted(context, request, reply, v)) return reply;
    // Before the card: the service's own refusal would name コンビニ交付, not this service.
    const closed = kioskClosed(reply, v, "pin-reset");
    if (closed) return closed;
    const form = request.body as Form;
    const cardId = text(form, "cardId", 20);
    try {
      const pin = text(form, "pin", 16);
      const newPin = text(form, "newPin", 32);
      if (!pin) throw missing("pin", "利用者証明用の暗証番号", "authentication PIN");
      if (!newPin) throw missing("new-pin", "新しい署名用の暗証番号", "new signing password");
      if (newPin.toUpperCase() !== text(form, "newPinConfirm", 32).toUpperCase()) {
        throw new ServiceError("invalid-input", "確認のために入力した暗証番号が一致しません / the two new passwords differ", "confirm");
      }
      const { reservationId } = await context.cards.withReader(cardId, (reader) => context.pinReset.resetAtKiosk(reader, { target: "sign", pin, newPin }));
      resets.put(browserOf(request) ?? "", true, reservationId);
      return reply.status(303).header("location", `/kiosk/pin-reset/done/${encodeURIComponent(reservationId)}`).send();
    } catch (error) {
      const problem = problemOf(error, log);
      return sendPage(reply, statusOf(problem), kioskResetPinPage(v, cardId, problem));
    }
  });

  app.get<{ Params: { id: string } }>("/kiosk/pin-reset/done/:id", async (request, reply) => {
    if (!resets.get(request.params.id, browserOf(request))) return doneGone(request, reply, "/kiosk/pin-reset", { href: "/kiosk", ja: "最初の画面に戻る", en: "Back to the start" });
    return sendPage(reply, 200, kioskResetDonePage(pageView(request, reply, request.url.split("?")[0]!)));
  });

  // ---- Developer console ----------------------------------------------------------------
  if (!context.settings.devConsole) {
    // It registers residents, issues cards and puts certificates on hold with no staff login,
    // role or audit actor: only for a development server (serve --dev; npm start turns it on).
    const off = async (request: FastifyRequest, reply: FastifyReply) =>
      sendPage(
        reply,
        404,
        errorPage(pageView(request, reply, "/dev"), {
          code: "not-found",
          message: "開発者向けコンソールは無効です。開発用のサーバーは serve --dev で起動します（npm start は有効）/ the developer console is off: start a development server with serve --dev (npm start does)",
        }),
      );
    app.get("/dev", off);
    app.all("/dev/*", off);
    return;
  }

  const devState = async (extra: Partial<DevState> = {}): Promise<DevState> => ({
    baseUrl: context.settings.publicBaseUrl,
    cas: await caViews(context),
    rows: await residentRows(context),
    ...extra,
  });

  // Form posts' URLs reopened from the address bar: the console itself.
  for (const path of ["/dev/residents", "/dev/cards", "/dev/residents/:id/move", "/dev/cards/:id/loss"]) app.get(path, async (request, reply) => toFormPage(request, reply, "/dev"));

  app.get("/dev", async (request, reply) => {
    const v = pageView(request, reply, "/dev");
    const q = request.query as Record<string, string | undefined>;
    const kinds = ["resident", "card", "move", "loss"] as const;
    const kind = kinds.find((k) => k === q.done);
    const done = kind && q.id && /^[A-Z]-[0-9A-Z]{10}$/.test(q.id) ? { kind, id: q.id, ...(q.detail ? { detail: String(q.detail).slice(0, 400) } : {}) } : undefined;
    return sendPage(reply, 200, devPage(v, await devState(done ? { done } : {})));
  });

  const devDone = (reply: FastifyReply, kind: string, id: string, detail?: string) =>
    reply
      .status(303)
      .header("location", `/dev?done=${kind}&id=${encodeURIComponent(id)}${detail ? `&detail=${encodeURIComponent(detail)}` : ""}#${kind === "resident" ? "new-card" : "residents"}`)
      .send();

  const webActor = { actor: "operator:web-dev-console" };

  app.post("/dev/residents", async (request, reply) => {
    const v = pageView(request, reply, "/dev");
    if (!formAccepted(context, request, reply, v)) return reply;
    const form = request.body as Form;
    try {
      const resident = await context.registry.add(
        { name: text(form, "name"), birth: text(form, "birth", 20), gender: text(form, "gender", 2), address: text(form, "address"), municipality: text(form, "municipality", 6) },
        webActor,
      );
      return devDone(reply, "resident", resident.id);
    } catch (error) {
      const problem = problemOf(error, log);
      return sendPage(reply, statusOf(problem), devPage(v, await devState({ failed: { form: "resident", problem, values: kept(form, "name", "birth", "gender", "address", "municipality") } })));
    }
  });

  app.post("/dev/cards", async (request, reply) => {
    const v = pageView(request, reply, "/dev");
    if (!formAccepted(context, request, reply, v)) return reply;
    const form = request.body as Form;
    try {
      const noSign = text(form, "noSign", 2) === "1";
      const noAuth = text(form, "noAuth", 2) === "1";
      const authPin = text(form, "authPin", 16);
      const signPin = text(form, "signPin", 32);
      const kenhojoPin = text(form, "kenhojoPin", 16);
      const card = await context.cards.issue({
        residentId: text(form, "residentId", 20),
        // The service refuses a PIN given with its certificate declined, and a blank one without (it says how to decline).
        ...(authPin ? { authPin } : {}),
        ...(noSign ? { noSign: true } : {}),
        ...(noAuth ? { noAuth: true } : {}),
        ...(signPin ? { signPin } : {}),
        ...(kenhojoPin ? { kenhojoPin } : {}),
        actor: webActor,
      });
      return devDone(reply, "card", card.id);
    } catch (error) {
      const problem = problemOf(error, log);
      return sendPage(reply, statusOf(problem), devPage(v, await devState({ failed: { form: "card", problem, values: kept(form, "residentId", "noSign", "noAuth") } })));
    }
  });

  app.post<{ Params: { id: string } }>("/dev/residents/:id/move", async (request, reply) => {
    const v = pageView(request, reply, "/dev");
    if (!formAccepted(context, request, reply, v)) return reply;
    const form = request.body as Form;
    const residentId = request.params.id.slice(0, 20);
    try {
      const address = text(form, "address");
      if (!address) throw missing("address", "転居先の住所", "new address");
      const outcome = await context.events.changeAttributes(residentId, { address }, webActor);
      return devDone(reply, "move", residentId, outcome.revoked.map((r) => `${r.type}:${r.serialHex}`).join(", "));
    } catch (error) {
      const problem = problemOf(error, log);
      return sendPage(reply, statusOf(problem), devPage(v, await devState({ failed: { form: "move", target: residentId, problem, values: kept(form, "address") } })));
    }
  });

  app.post<{ Params: { id: string } }>("/dev/cards/:id/loss", async (request, reply) => {
    const v = pageView(request, reply, "/dev");
    if (!formAccepted(context, request, reply, v)) return reply;
    const cardId = request.params.id.slice(0, 20);
    try {
      const held: string[] = [];
      for (const c of await liveCertificatesOfCard(context, cardId)) {
        await context.ca.revoke({ type: c.type, serialHex: c.serialHex, reason: "certificateHold", by: "hotline", actor: webActor });
        held.push(`${c.type}:${c.serialHex}`);
      }
      return devDone(reply, "loss", cardId, held.join(", "));
    } catch (error) {
      const problem = problemOf(error, log);
      return sendPage(reply, statusOf(problem), devPage(v, await devState({ failed: { form: "loss", target: cardId, problem, values: {} } })));
    }
  });
}
