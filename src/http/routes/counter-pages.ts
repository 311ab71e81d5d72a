import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { HeldValues } from "../held-values.ts";
import { loggedStream } from "../logged-stream.ts";
import type { Context } from "../../services/context.ts";
import { ServiceError } from "../../services/errors.ts";
import { actorOf, hasRole, type StaffSession } from "../../services/counter/staff.ts";
import type { NewPins, ProcedureOutcome, ProxyProcedureKind } from "../../services/counter/procedures.ts";
import type { ReissueReason } from "../../services/counter/fees.ts";
import { feeSummary } from "../../services/counter/fees.ts";
import { expiryNoticeListing, expiryNoticesCsvStream, issuanceNotice } from "../../services/counter/notices.ts";
import { verifyAuditForPage } from "../../services/audit.ts";
import { cardView, certificateView } from "../../services/resident-view.ts";
import { CARD_ID_PATTERN } from "../../services/ids.ts";
import { recordedLegalRepresentative, type LegalRepresentativeInput } from "../../services/counter/legal-representative.ts";
import { japanToday } from "../../services/japan-dates.ts";
import { IDENTITY_DOCUMENTS, type IdentityCheck } from "../../services/counter/identity.ts";
import type { CaType, ProxyType } from "../../services/vocabulary.ts";
import type { View } from "../../web/layout.ts";
import type { Problem } from "../../web/forms.ts";
import { cookiesOf, formAccepted, pageView, problemOf, sendPage, statusOf, text, type Form } from "./pages.ts";
import { errorPage } from "../../web/pages/error.ts";
import { counterLoginPage } from "../../web/pages/counter/login.ts";
import { counterHomePage, residentDetailPage, type Outcome, type ResidentDetail } from "../../web/pages/counter/residents.ts";
import { counterErrorPage } from "../../web/pages/counter/common.ts";
import { formatDate } from "../../web/i18n.ts";
import { cardApplyPage, eventPage, isEventSlug, isProcedureSlug, procedurePage, proxyCompletePage, PROCEDURES, EVENTS, type EventSlug, type ProcedureSlug } from "../../web/pages/counter/procedures.ts";
import { auditPage, EXPIRY_LIST_SHOWN, expiryNoticesPage, summaryPage } from "../../web/pages/counter/office.ts";

/** The same cookie as the counter API: one staff login serves both. */
const STAFF_COOKIE = "openjpki_staff";
const SESSION_SECONDS = 8 * 3600;
const HELD_MS = 10 * 60_000;
const ID = /^[A-Z]-[0-9A-Z]{10}$/;
const APPLICATION_ID = /^A-[0-9A-F]{12}$/;

function invalid(field: string, message: string, reason?: string): ServiceError {
  return new ServiceError("invalid-input", message, field, reason ? { reason } : undefined);
}

/** Form values to show again next to an error: never a PIN. */
function keep(form: Form): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, value] of Object.entries(form)) {
    if (typeof value !== "string" || k === "_csrf" || /pin/i.test(k) || k === "password" || k === "answerCode") continue;
    out[k] = value.slice(0, 200);
  }
  return out;
}

/** An identity check from the form's `<prefix>Document` and `<prefix>Note`; `field` names it in an error. */
function identityOf(form: Form, required: boolean, prefix = "identity", field = "identity"): IdentityCheck | undefined {
  const document = text(form, `${prefix}Document`, 40);
  if (!document) {
    if (required) throw invalid(field, "本人確認書類を選んでください / choose the identity document checked");
    return undefined;
  }
  if (!(IDENTITY_DOCUMENTS as readonly string[]).includes(document)) throw invalid(field, "本人確認書類の種類が正しくありません / unknown identity document");
  const note = text(form, `${prefix}Note`, 200);
  return { document: document as IdentityCheck["document"], ...(note ? { note } : {}) };
}

/**
 * The legal representative's fields (name, relationship, the identity document they showed): all
 * empty is none — the holder applies. Anything else goes to the service, which says whether this
 * holder needs one and what is missing.
 */
function representativeOf(form: Form): { legalRepresentative?: LegalRepresentativeInput } {
  const name = text(form, "legalRepresentativeName", 200);
  const relationship = text(form, "legalRepresentativeRelationship", 20);
  const identity = identityOf(form, false, "legalRepresentativeIdentity", "legalRepresentative.identity");
  return name || relationship || identity ? { legalRepresentative: { name, relationship, ...(identity ? { identity } : {}) } } : {};
}

function typesOf(form: Form, required = true): CaType[] {
  const types: CaType[] = [...(form.typeAuth === "1" ? (["auth"] as const) : []), ...(form.typeSign === "1" ? (["sign"] as const) : [])];
  if (required && types.length === 0) throw invalid("types", "電子証明書の種類を選んでください / choose at least one certificate");
  return types;
}

/** A PIN typed twice on the pad. Returned only to hand to the service; never kept or logged. */
function pinOf(form: Form, kind: "auth" | "sign" | "kenhojo" | "new", required: boolean): string | undefined {
  const raw = form[`${kind}Pin`];
  const confirm = form[`${kind}PinConfirm`];
  // Taken as typed (no trimming): a PIN with a space in it is refused by the PIN policy, as by the API.
  const value = typeof raw === "string" ? raw.slice(0, 32) : "";
  const again = typeof confirm === "string" ? confirm.slice(0, 32) : "";
  const name =
    kind === "auth" ? ["利用者証明用の暗証番号", "authentication PIN"] : kind === "sign" ? ["署名用の暗証番号", "signing password"] : kind === "kenhojo" ? ["券面事項入力補助用の暗証番号", "card-data PIN"] : ["新しい暗証番号", "new PIN"];
  if (!value) {
    if (required) throw invalid(`${kind}-pin`, `${name[0]}を入力してください / enter the ${name[1]}`);
    if (again) throw invalid(`${kind}-pin`, `${name[0]}を入力してください / enter the ${name[1]}`);
    return undefined;
  }
  const same = kind === "sign" || kind === "new" ? value.toUpperCase() === again.toUpperCase() : value === again;
  if (!same) throw invalid(`${kind}-pin-confirm`, `確認のために入力した${name[0]}が一致しません / the two ${name[1]}s differ`, "pin-mismatch");
  return value;
}

/**
 * The certificates a new card (or a found one) is to carry, from the form: a declined certificate
 * takes no PIN. The 券面事項入力補助 PIN is asked for only where a card is made.
 */
function certificateChoices(form: Form, kenhojo: boolean) {
  const noSign = form.noSign === "1";
  const noAuth = form.noAuth === "1";
  // A blank authentication PIN without the box ticked goes on to the service, which says the decline must be ticked.
  const authPin = noAuth ? undefined : pinOf(form, "auth", false);
  const signPin = noSign ? undefined : pinOf(form, "sign", false);
  const kenhojoPin = kenhojo ? pinOf(form, "kenhojo", false) : undefined;
  return {
    ...(authPin ? { authPin } : {}),
    ...(signPin ? { signPin } : {}),
    ...(kenhojoPin ? { kenhojoPin } : {}),
    ...(noSign ? { noSign: true as const } : {}),
    ...(noAuth ? { noAuth: true as const } : {}),
  };
}

/** A date in both languages, for notes built here (2026年12月8日 / 8 Dec 2026). */
function dates(date: string): { ja: string; en: string } {
  return { ja: formatDate("ja", date), en: formatDate("en", date) };
}

function outcomeOf(title: { ja: string; en: string }, o: ProcedureOutcome): Outcome {
  // The service lists a loss report's holds with its revocations (reason certificateHold): a hold is not a revocation.
  const held = o.revoked.filter((c) => c.reason === "certificateHold");
  return {
    title,
    applicationId: o.applicationId,
    issued: o.issued.map((c) => ({ type: c.type, serialHex: c.serialHex, expires: c.expires })),
    revoked: o.revoked.filter((c) => c.reason !== "certificateHold").map((c) => ({ type: c.type, serialHex: c.serialHex, reason: c.reason })),
    ...(held.length > 0 ? { putOnHold: held.map((c) => ({ type: c.type, serialHex: c.serialHex })) } : {}),
    feeYen: o.feeYen,
    feeReason: o.fee.reason,
    cardId: o.cardId,
    ...(o.newCardId ? { newCardId: o.newCardId, noticeCardId: o.newCardId } : {}),
    ...(o.held ? { held: o.held } : {}),
  };
}

/** The page's own URL for the language switch, without a `lang` already in it. */
function pathWithoutLang(url: string): string {
  const u = new URL(url.slice(0, 300), "http://x");
  u.searchParams.delete("lang");
  return `${u.pathname}${u.search}`;
}

/** The counter console: staff pages driving the same services as the counter API. */
export async function counterPagesRoutes(app: FastifyInstance, context: Context, options: { log?: (line: string) => void } = {}): Promise<void> {
  const log = options.log ?? ((line: string) => console.error(line));
  // The injected clock, as everywhere that decides what has expired.
  const flashes = new HeldValues<Outcome>(HELD_MS, () => context.clock().getTime());
  // Letters are PDFs (tens of KB each): fewer are held than flashes.
  const letters = new HeldValues<{ filename: string; pdf: Uint8Array }>(HELD_MS, () => context.clock().getTime(), 500);

  const sessionOf = async (request: FastifyRequest): Promise<{ id: string; session: StaffSession } | undefined> => {
    const id = cookiesOf(request)[STAFF_COOKIE];
    if (!id || !/^[A-Za-z0-9_-]{1,100}$/.test(id)) return undefined;
    try {
      return { id, session: await context.staff.session(id) };
    } catch (error) {
      if (!(error instanceof ServiceError)) log(`counter session: ${(error as Error).stack ?? String(error)}`);
      return undefined;
    }
  };

  /** The staff session, or a redirect to the login page (then back here). */
  const staffOr = async (request: FastifyRequest, reply: FastifyReply): Promise<StaffSession | undefined> => {
    const found = await sessionOf(request);
    if (found) return found.session;
    const back = request.method === "GET" ? request.url : "/counter";
    reply.status(303).header("location", `/counter/login?next=${encodeURIComponent(back)}`).header("cache-control", "no-store").send();
    return undefined;
  };

  const redirect = (reply: FastifyReply, location: string) => reply.status(303).header("location", location).header("cache-control", "no-store").send();

  const residentDetail = async (residentId: string, readerCard: string | undefined, extra: Partial<ResidentDetail> = {}): Promise<ResidentDetail> => {
    const resident = await context.registry.get(residentId);
    const today = japanToday(context.clock);
    const certificates = (await context.ca.certificatesOf(resident.id)).map((r) => ({ ...certificateView(r, today), cardId: r.cardId, issuedAt: r.issuedAt }));
    const cards = await context.cards.list({ residentId: resident.id });
    const applications = (await context.counter.applications(resident.id)).map((a) => {
      const legalRepresentative = recordedLegalRepresentative(a.detail);
      return {
        id: a.id,
        kind: a.kind,
        state: a.state,
        cardId: a.card_id,
        feeYen: Number(a.fee_yen),
        createdAt: a.created_at,
        createdBy: a.created_by,
        ...(legalRepresentative ? { legalRepresentative } : {}),
      };
    });
    const detail: ResidentDetail = { resident, today, certificates, cards, applications, ...extra };
    if (readerCard && cards.some((c) => c.id === readerCard)) detail.reader = await cardView(context, readerCard);
    return detail;
  };

  /** An unknown resident, card or application: a 404 page of its own (any other refusal: the error page). */
  const notFoundPage = (reply: FastifyReply, v: View, session: StaffSession, error: unknown) => {
    const problem = problemOf(error, log);
    return sendPage(reply, statusOf(problem), counterErrorPage(v, session.staff, problem));
  };

  /**
   * The card, or a not-found. Only a well-formed card id is looked up and echoed (the card service's
   * own not-found names it): a " / " typed into the URL would split the message.
   */
  const cardOf = async (cardId: string) => {
    if (!CARD_ID_PATTERN.test(cardId)) throw new ServiceError("not-found", "そのカードはありません / no such card", "card");
    return context.cards.get(cardId);
  };

  // ---- Login ----------------------------------------------------------------------------
  // Where to go after the login: a counter path in plain URL characters only (a Location header
  // cannot carry raw non-ASCII or CR/LF, and a backslash is a slash to browsers).
  const safeNext = (next: unknown): string =>
    typeof next === "string" && /^\/counter(?:[/?#]|$)/.test(next) && /^[A-Za-z0-9/?#=&%._~+-]*$/.test(next) && !next.includes("//") && next.length < 300 ? next : "/counter";

  app.get("/counter/login", async (request, reply) => {
    const v = pageView(request, reply, "/counter/login");
    if (await sessionOf(request)) return redirect(reply, "/counter");
    const q = request.query as Record<string, string | undefined>;
    return sendPage(reply, 200, counterLoginPage(v, { next: safeNext(q.next), ...(q.out === "1" ? { loggedOut: true } : {}) }));
  });

  app.post("/counter/login", async (request, reply) => {
    const v = pageView(request, reply, "/counter/login");
    if (!formAccepted(context, request, reply, v)) return reply;
    const form = request.body as Form;
    const login = text(form, "login", 100);
    const next = safeNext(form.next);
    try {
      if (!login) throw invalid("login", "ログイン名を入力してください / enter the login");
      const password = typeof form.password === "string" ? form.password.slice(0, 200) : "";
      if (!password) throw invalid("password", "パスワードを入力してください / enter the password");
      const session = await context.staff.login(login, password);
      reply.header("set-cookie", `${STAFF_COOKIE}=${session.sessionId}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${SESSION_SECONDS}`);
      return redirect(reply, next);
    } catch (error) {
      const problem = problemOf(error, log);
      return sendPage(reply, statusOf(problem), counterLoginPage(v, { problem, login, next }));
    }
  });

  app.post("/counter/logout", async (request, reply) => {
    const v = pageView(request, reply, "/counter/login");
    if (!formAccepted(context, request, reply, v)) return reply;
    const found = await sessionOf(request);
    if (found) await context.staff.logout(found.id);
    reply.header("set-cookie", `${STAFF_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`);
    return redirect(reply, "/counter/login?out=1");
  });

  // ---- Residents --------------------------------------------------------------------------
  const listState = async (q: string, municipality: string) => {
    // The newest 200 that match, searched in the store: not every resident and card of the town.
    const shown = await context.registry.search(q, { limit: 200, ...(/^\d{6}$/.test(municipality) ? { municipality } : {}) });
    const cards = new Map<string, Awaited<ReturnType<Context["cards"]["list"]>>>();
    for (const card of await context.cards.list({ residentIds: shown.map((r) => r.id) })) {
      const list = cards.get(card.residentId) ?? [];
      list.push(card);
      cards.set(card.residentId, list);
    }
    return { query: q, municipality, residents: shown, cards };
  };

  app.get("/counter", async (request, reply) => {
    const session = await staffOr(request, reply);
    if (!session) return reply;
    const q = request.query as Record<string, string | undefined>;
    const v = pageView(request, reply, pathWithoutLang(request.url));
    return sendPage(reply, 200, counterHomePage(v, session.staff, await listState(String(q.q ?? "").slice(0, 100), String(q.municipality ?? "").slice(0, 6))));
  });

  app.post("/counter/residents", async (request, reply) => {
    const session = await staffOr(request, reply);
    if (!session) return reply;
    const v = pageView(request, reply, "/counter");
    if (!formAccepted(context, request, reply, v)) return reply;
    const form = request.body as Form;
    try {
      const nationality = text(form, "nationality", 2);
      const residenceEnd = text(form, "residenceEnd", 10);
      const resident = await context.registry.add(
        {
          name: text(form, "name", 100),
          birth: text(form, "birth", 10),
          gender: text(form, "gender", 1),
          address: text(form, "address", 200),
          municipality: text(form, "municipality", 6),
          ...(nationality ? { nationality } : {}),
          ...(residenceEnd ? { residenceEnd } : {}),
          ...(form.guardianship === "1" ? { guardianship: true } : {}),
        },
        actorOf(session),
      );
      const flash = flashes.put(session.staff.id, { title: { ja: "住民を登録しました", en: "Resident registered" }, note: { ja: "続けてカードの交付申請ができます。", en: "You can now take the card application." } });
      return redirect(reply, `/counter/residents/${resident.id}?flash=${flash}`);
    } catch (error) {
      const problem = problemOf(error, log);
      return sendPage(reply, statusOf(problem), counterHomePage(v, session.staff, { ...(await listState("", "")), failed: { problem, values: keep(form) } }));
    }
  });

  app.get<{ Params: { id: string } }>("/counter/residents/:id", async (request, reply) => {
    const session = await staffOr(request, reply);
    if (!session) return reply;
    const q = request.query as Record<string, string | undefined>;
    const id = request.params.id.slice(0, 20);
    const card = typeof q.card === "string" && ID.test(q.card) ? q.card : undefined;
    const v = pageView(request, reply, `/counter/residents/${id}${card ? `?card=${card}` : ""}`);
    try {
      const outcome = flashes.take(q.flash, session.staff.id);
      return sendPage(reply, 200, residentDetailPage(v, session.staff, await residentDetail(id, card, outcome ? { outcome } : {})));
    } catch (error) {
      return notFoundPage(reply, v, session, error);
    }
  });

  // ---- Card application and production -------------------------------------------------------
  app.get<{ Params: { id: string } }>("/counter/residents/:id/apply", async (request, reply) => {
    const session = await staffOr(request, reply);
    if (!session) return reply;
    const v = pageView(request, reply, `/counter/residents/${request.params.id.slice(0, 20)}/apply`);
    try {
      return sendPage(reply, 200, cardApplyPage(v, session.staff, { resident: await context.registry.get(request.params.id.slice(0, 20)), values: {} }));
    } catch (error) {
      return notFoundPage(reply, v, session, error);
    }
  });

  app.post<{ Params: { id: string } }>("/counter/residents/:id/apply", async (request, reply) => {
    const session = await staffOr(request, reply);
    if (!session) return reply;
    const residentId = request.params.id.slice(0, 20);
    const v = pageView(request, reply, `/counter/residents/${residentId}/apply`);
    if (!formAccepted(context, request, reply, v)) return reply;
    const form = request.body as Form;
    let resident;
    try {
      resident = await context.registry.get(residentId);
    } catch (error) {
      return notFoundPage(reply, v, session, error);
    }
    try {
      const card = await context.counter.produceCard({ residentId, ...certificateChoices(form, true), ...representativeOf(form) }, actorOf(session));
      const flash = flashes.put(session.staff.id, {
        title: { ja: "カードを作製しました", en: "Card produced" },
        applicationId: card.applicationId,
        cardId: card.id,
        issued: card.certificates.map((c) => ({ type: c.type, serialHex: c.serialHex, expires: c.expires })),
        feeYen: card.fee.amountYen,
        feeReason: card.fee.reason,
        noticeCardId: card.id,
        note: { ja: "交付通知書を印刷し、住民の方が受け取りに来たら「カードの交付」を行ってください。", en: "Print the issuance notice; when the resident comes for the card, do the handover." },
      });
      return redirect(reply, `/counter/residents/${residentId}?card=${card.id}&flash=${flash}#reader`);
    } catch (error) {
      const problem = problemOf(error, log);
      return sendPage(reply, statusOf(problem), cardApplyPage(v, session.staff, { resident, problem, values: keep(form) }));
    }
  });

  app.get<{ Params: { id: string } }>("/counter/cards/:id/issuance-notice", async (request, reply) => {
    const session = await staffOr(request, reply);
    if (!session) return reply;
    const v = pageView(request, reply, "/counter");
    try {
      await cardOf(request.params.id.slice(0, 20));
      const notice = await issuanceNotice({ db: context.store.db, registry: context.registry, clock: context.clock }, request.params.id.slice(0, 20), actorOf(session));
      return reply
        .header("content-type", notice.contentType)
        .header("content-disposition", `attachment; filename="${notice.filename}"`)
        .header("cache-control", "no-store")
        .send(Buffer.from(notice.pdf));
    } catch (error) {
      return notFoundPage(reply, v, session, error);
    }
  });

  // ---- Window procedures on the card in the reader -----------------------------------------------
  const procedureState = async (cardId: string, kind: ProcedureSlug) => {
    const card = await cardOf(cardId);
    const resident = await context.registry.get(card.residentId);
    let reader;
    try {
      reader = await cardView(context, cardId);
    } catch {
      reader = undefined;
    }
    return { kind, card, resident, ...(reader ? { reader } : {}) };
  };

  const runProcedure = async (kind: ProcedureSlug, cardId: string, form: Form, session: StaffSession): Promise<Outcome> => {
    const actor = actorOf(session);
    const title = { ja: `${PROCEDURES[kind].ja}が完了しました`, en: `${PROCEDURES[kind].en}: done` };
    switch (kind) {
      case "handover": {
        const o = await context.counter.handOver({ cardId, identity: identityOf(form, true)!, ...representativeOf(form) }, actor);
        const { revoked: _none, ...done } = outcomeOf(title, o);
        const on = dates(japanToday(context.clock));
        return { ...done, note: { ja: `交付日：${on.ja}`, en: `Handed over on ${on.en}` } };
      }
      case "renewal": {
        const types = typesOf(form);
        const pins: NewPins = {};
        const auth = types.includes("auth") ? pinOf(form, "auth", false) : undefined;
        const sign = types.includes("sign") ? pinOf(form, "sign", false) : undefined;
        if (auth) pins.auth = auth;
        if (sign) pins.sign = sign;
        return outcomeOf(title, await context.counter.renew({ cardId, identity: identityOf(form, true)!, types, pins, ...representativeOf(form) }, actor));
      }
      case "new-issuance": {
        const types = typesOf(form);
        const pins: NewPins = {};
        if (types.includes("auth")) pins.auth = pinOf(form, "auth", true)!;
        if (types.includes("sign")) pins.sign = pinOf(form, "sign", true)!;
        return outcomeOf(title, await context.counter.newIssuance({ cardId, identity: identityOf(form, true)!, types, pins, ...representativeOf(form) }, actor));
      }
      case "revocation":
        return outcomeOf(title, await context.counter.revokeOnRequest({ cardId, identity: identityOf(form, true)!, types: typesOf(form), ...representativeOf(form) }, actor));
      case "pin-init": {
        const type = form.pinType === "sign" ? "sign" : form.pinType === "auth" ? "auth" : undefined;
        if (!type) throw invalid("pinType", "初期化する暗証番号を選んでください / choose which PIN to initialise");
        const identity = identityOf(form, true)!;
        const newPin = pinOf(form, "new", true)!;
        const o = await context.counter.initialisePin({ cardId, identity, type, newPin, ...representativeOf(form) }, actor);
        return { ...outcomeOf(title, o), note: type === "auth" ? { ja: "利用者証明用の暗証番号を初期化しました。残り回数は3回に戻りました。", en: "The authentication PIN was set; its tries are back to 3." } : { ja: "署名用の暗証番号を初期化しました。残り回数は5回に戻りました。", en: "The signing password was set; its tries are back to 5." } };
      }
      case "loss-report":
        return outcomeOf(title, await context.counter.reportLoss({ cardId }, actor));
      case "found": {
        const { authPin, signPin, ...declined } = certificateChoices(form, false);
        const pins: NewPins = { ...(authPin ? { auth: authPin } : {}), ...(signPin ? { sign: signPin } : {}) };
        return outcomeOf(title, await context.counter.cardFound({ cardId, identity: identityOf(form, true)!, pins, ...declined, ...representativeOf(form) }, actor));
      }
      case "return":
        return outcomeOf(title, await context.counter.returnCard({ cardId, identity: identityOf(form, true)!, ...representativeOf(form) }, actor));
      case "reissue": {
        const reason = text(form, "reason", 20) as ReissueReason;
        const caused = text(form, "causedByHolder", 3);
        if (caused !== "yes" && caused !== "no") throw invalid("causedByHolder", "本人の責めによるかを選んでください / say whether the holder caused it");
        const identity = identityOf(form, true)!;
        const choices = certificateChoices(form, true);
        const police = text(form, "policeReportNumber", 40);
        const o = await context.counter.reissue(
          { cardId, reason, causedByHolder: caused === "yes", ...(police ? { policeReportNumber: police } : {}), ...choices, identity, ...representativeOf(form) },
          actor,
        );
        return outcomeOf(title, o);
      }
      case "suspend": {
        const identity = identityOf(form, false);
        return outcomeOf(title, await context.counter.suspend({ cardId, ...(identity ? { identity } : {}) }, actor));
      }
      case "lift-suspension":
        return outcomeOf(title, await context.counter.liftSuspension({ cardId, identity: identityOf(form, true)!, ...representativeOf(form) }, actor));
      case "proxy": {
        const kindOf = text(form, "kind", 20) as ProxyProcedureKind;
        // Asked here in the clerk's words; the service's own check says only "is empty", in English.
        const proxyName = text(form, "proxyName", 100);
        if (!proxyName) throw invalid("proxy.name", "代理人の氏名を入力してください / enter the proxy's name");
        const relationship = text(form, "proxyRelationship", 50);
        if (!relationship) throw invalid("proxy.relationship", "代理人と本人との関係を入力してください / enter the proxy's relationship to the holder");
        const identity = identityOf(form, false);
        const started = await context.counter.startProxy(
          {
            kind: kindOf,
            cardId,
            proxy: { name: proxyName, relationship, type: (text(form, "proxyType", 20) || "appointed") as ProxyType, letterOfAttorney: form.letterOfAttorney === "1" },
            ...(kindOf === "pin-init" ? { pinType: (form.pinType === "sign" ? "sign" : "auth") as CaType } : { types: typesOf(form, kindOf === "revocation") }),
            ...(identity ? { identity } : {}),
          },
          actor,
        );
        const token = letters.put(session.staff.id, { filename: started.letter.filename, pdf: started.letter.pdf });
        return {
          title: { ja: "代理人による申請を受け付けました", en: "Proxy application received" },
          applicationId: started.applicationId,
          cardId,
          letter: { token, applicationId: started.applicationId, expiresOn: started.expiresOn, sameDayAllowed: started.sameDayAllowed },
        };
      }
    }
  };

  app.get<{ Params: { id: string; kind: string } }>("/counter/cards/:id/:kind", async (request, reply) => {
    const session = await staffOr(request, reply);
    if (!session) return reply;
    const cardId = request.params.id.slice(0, 20);
    const kind = request.params.kind;
    const v = pageView(request, reply, `/counter/cards/${cardId}/${isProcedureSlug(kind) ? kind : ""}`);
    try {
      if (!isProcedureSlug(kind)) throw new ServiceError("not-found", "その手続きはありません / no such procedure");
      return sendPage(reply, 200, procedurePage(v, session.staff, { ...(await procedureState(cardId, kind)), values: {} }));
    } catch (error) {
      return notFoundPage(reply, v, session, error);
    }
  });

  app.post<{ Params: { id: string; kind: string } }>("/counter/cards/:id/:kind", async (request, reply) => {
    const session = await staffOr(request, reply);
    if (!session) return reply;
    const cardId = request.params.id.slice(0, 20);
    const kind = request.params.kind;
    const v = pageView(request, reply, `/counter/cards/${cardId}/${isProcedureSlug(kind) ? kind : ""}`);
    if (!formAccepted(context, request, reply, v)) return reply;
    let state;
    try {
      if (!isProcedureSlug(kind)) throw new ServiceError("not-found", "その手続きはありません / no such procedure");
      state = await procedureState(cardId, kind);
    } catch (error) {
      return notFoundPage(reply, v, session, error);
    }
    const form = request.body as Form;
    try {
      const outcome = await runProcedure(state.kind, cardId, form, session);
      const flash = flashes.put(session.staff.id, outcome);
      const reader = outcome.newCardId ?? cardId;
      return redirect(reply, `/counter/residents/${state.resident.id}?card=${reader}&flash=${flash}`);
    } catch (error) {
      const problem = problemOf(error, log);
      // The card may have changed (a failed run is recorded): show it as it is now.
      const fresh = await procedureState(cardId, state.kind).catch(() => state);
      return sendPage(reply, statusOf(problem), procedurePage(v, session.staff, { ...fresh, problem, values: keep(form) }));
    }
  });

  app.get<{ Params: { token: string } }>("/counter/letters/:token", async (request, reply) => {
    const session = await staffOr(request, reply);
    if (!session) return reply;
    const letter = letters.take(request.params.token, session.staff.id);
    if (!letter) {
      const v = pageView(request, reply, "/counter");
      return notFoundPage(reply, v, session, new ServiceError("not-found", "照会書はもうダウンロードできません（1回限り・10分間）/ the letter can no longer be downloaded (once, within 10 minutes)"));
    }
    return reply
      .header("content-type", "application/pdf")
      .header("content-disposition", `attachment; filename="${letter.filename}"`)
      .header("cache-control", "no-store")
      .send(Buffer.from(letter.pdf));
  });

  // ---- The proxy's second visit ------------------------------------------------------------
  const proxyState = async (applicationId: string) => {
    if (!APPLICATION_ID.test(applicationId)) throw new ServiceError("not-found", "その申請はありません / no such application");
    const status = await context.counter.proxyStatus(applicationId);
    return { status, resident: await context.registry.get(status.residentId) };
  };

  app.get<{ Params: { id: string } }>("/counter/proxy/:id", async (request, reply) => {
    const session = await staffOr(request, reply);
    if (!session) return reply;
    const id = request.params.id.slice(0, 20);
    const v = pageView(request, reply, `/counter/proxy/${id}`);
    try {
      return sendPage(reply, 200, proxyCompletePage(v, session.staff, { ...(await proxyState(id)), values: {} }));
    } catch (error) {
      return notFoundPage(reply, v, session, error);
    }
  });

  app.post<{ Params: { id: string } }>("/counter/proxy/:id", async (request, reply) => {
    const session = await staffOr(request, reply);
    if (!session) return reply;
    const id = request.params.id.slice(0, 20);
    const v = pageView(request, reply, `/counter/proxy/${id}`);
    if (!formAccepted(context, request, reply, v)) return reply;
    let state;
    try {
      state = await proxyState(id);
    } catch (error) {
      return notFoundPage(reply, v, session, error);
    }
    const form = request.body as Form;
    try {
      const proxyName = text(form, "proxyIdentityName", 100);
      if (!proxyName) throw invalid("proxyIdentity.name", "来庁した代理人の氏名を入力してください / enter the name of the proxy present");
      const identity = identityOf(form, true)!;
      const kind = state.status.kind;
      const pins: NewPins = {};
      let newPin: string | undefined;
      if (kind === "pin-init") newPin = pinOf(form, "new", true);
      else if (kind !== "revocation") {
        const auth = pinOf(form, "auth", false);
        const sign = pinOf(form, "sign", false);
        if (auth) pins.auth = auth;
        if (sign) pins.sign = sign;
      }
      const answerCode = text(form, "answerCode", 8);
      const o = await context.counter.completeProxy(
        { applicationId: id, ...(answerCode ? { answerCode } : {}), proxyIdentity: { ...identity, name: proxyName }, pins, ...(newPin ? { newPin } : {}) },
        actorOf(session),
      );
      const flash = flashes.put(session.staff.id, outcomeOf({ ja: "代理人による手続きが完了しました", en: "The proxy's procedure is done" }, o));
      return redirect(reply, `/counter/residents/${state.resident.id}?card=${o.cardId}&flash=${flash}`);
    } catch (error) {
      const problem = problemOf(error, log);
      const fresh = await proxyState(id).catch(() => state);
      return sendPage(reply, statusOf(problem), proxyCompletePage(v, session.staff, { ...fresh, problem, values: keep(form) }));
    }
  });

  const readerOf = (request: FastifyRequest): { readerCard?: string } => {
    const q = request.query as Record<string, string | undefined>;
    return typeof q.card === "string" && ID.test(q.card) ? { readerCard: q.card } : {};
  };

  // ---- Register events -------------------------------------------------------------------
  const runEvent = async (kind: EventSlug, residentId: string, form: Form, session: StaffSession): Promise<Outcome> => {
    const actor = actorOf(session);
    const title = { ja: `${EVENTS[kind].ja}を記録しました`, en: `${EVENTS[kind].en}: recorded` };
    const revokedOf = (o: { revoked: { type: CaType; serialHex: string; reason: string }[] }) => o.revoked.map((r) => ({ type: r.type, serialHex: r.serialHex, reason: r.reason }));
    switch (kind) {
      case "change": {
        const change: Record<string, string> = {};
        for (const name of ["name", "address", "municipality", "birth", "gender"] as const) {
          const value = text(form, name, name === "address" ? 200 : 100);
          if (value) change[name] = value;
        }
        if (Object.keys(change).length === 0) throw invalid("address", "変わった項目を入力してください / enter what changed");
        return { title, revoked: revokedOf(await context.events.changeAttributes(residentId, change, actor)) };
      }
      case "residence-period": {
        const noEnd = form.noEnd === "1";
        const end = text(form, "residenceEnd", 10);
        if (!noEnd && !end) throw invalid("residence-end", "新しい満了日を入力するか、「満了日なし」を選んでください / enter the new end, or tick no end");
        const o = await context.events.changeResidencePeriod(residentId, noEnd ? null : end, actor);
        return { title, note: o.residenceEnd ? { ja: `在留期間の満了日：${dates(o.residenceEnd).ja}`, en: `Period of stay ends ${dates(o.residenceEnd).en}` } : { ja: "満了日なし", en: "No end" } };
      }
      case "death":
        if (form.confirm !== "1") throw invalid("confirm", "死亡届の内容を確認したらチェックを入れてください / tick the box once the notification is checked");
        return { title, revoked: revokedOf(await context.events.endRegistration(residentId, { kind: "death", ...(text(form, "date", 10) ? { date: text(form, "date", 10) } : {}) }, actor)) };
      case "emigration": {
        const continuedUse = form.continuedUse !== "no";
        const departureDate = text(form, "departureDate", 10);
        const abroadAddress = text(form, "abroadAddress", 200);
        // Without continued use an address typed anyway is not the 附票's to record: dropped, as the pages drop a declined PIN.
        const filing = { continuedUse, ...(departureDate ? { departureDate } : {}), ...(continuedUse && abroadAddress ? { abroadAddress } : {}) };
        const o = await context.events.endRegistration(residentId, { kind: "emigration", ...filing }, actor);
        // Still ahead (YYYY-MM-DD strings order as the dates do): nothing is revoked until then.
        const pending = o.departureDate !== undefined && o.departureDate > japanToday(context.clock);
        return {
          title,
          revoked: revokedOf(o),
          ...(pending ? { note: { ja: `転出日 ${dates(o.departureDate!).ja} に適用されます（それまで電子証明書は有効です）`, en: `Takes effect on the day of departure, ${dates(o.departureDate!).en} (the certificates stay valid until then)` } } : {}),
        };
      }
      case "emigration-withdrawal": {
        if (form.confirm !== "1") throw invalid("confirm", "取消の申出を確認したらチェックを入れてください / tick the box once the request is checked");
        const o = await context.events.withdrawEmigration(residentId, actor);
        const day = dates(o.withdrawn.departureDate);
        return { title, note: { ja: `${day.ja} 転出予定の届出を取り消しました`, en: `The emigration filed for ${day.en} is withdrawn` } };
      }
    }
  };

  app.get<{ Params: { id: string; kind: string } }>("/counter/residents/:id/events/:kind", async (request, reply) => {
    const session = await staffOr(request, reply);
    if (!session) return reply;
    const id = request.params.id.slice(0, 20);
    const kind = request.params.kind;
    const v = pageView(request, reply, `/counter/residents/${id}/events/${isEventSlug(kind) ? kind : ""}`);
    try {
      if (!isEventSlug(kind)) throw new ServiceError("not-found", "その手続きはありません / no such register event");
      return sendPage(reply, 200, eventPage(v, session.staff, { kind, resident: await context.registry.get(id), today: japanToday(context.clock), ...readerOf(request), values: {} }));
    } catch (error) {
      return notFoundPage(reply, v, session, error);
    }
  });

  app.post<{ Params: { id: string; kind: string } }>("/counter/residents/:id/events/:kind", async (request, reply) => {
    const session = await staffOr(request, reply);
    if (!session) return reply;
    const id = request.params.id.slice(0, 20);
    const kind = request.params.kind;
    const v = pageView(request, reply, `/counter/residents/${id}/events/${isEventSlug(kind) ? kind : ""}`);
    if (!formAccepted(context, request, reply, v)) return reply;
    let resident;
    try {
      if (!isEventSlug(kind)) throw new ServiceError("not-found", "その手続きはありません / no such register event");
      resident = await context.registry.get(id);
    } catch (error) {
      return notFoundPage(reply, v, session, error);
    }
    const form = request.body as Form;
    try {
      const outcome = await runEvent(kind as EventSlug, id, form, session);
      const flash = flashes.put(session.staff.id, outcome);
      const reader = readerOf(request).readerCard;
      return redirect(reply, `/counter/residents/${id}?${reader ? `card=${reader}&` : ""}flash=${flash}`);
    } catch (error) {
      const problem = problemOf(error, log);
      return sendPage(reply, statusOf(problem), eventPage(v, session.staff, { kind: kind as EventSlug, resident, today: japanToday(context.clock), ...readerOf(request), problem, values: keep(form) }));
    }
  });

  // ---- The office's day, expiry notices, audit ------------------------------------------------------
  app.get("/counter/summary", async (request, reply) => {
    const session = await staffOr(request, reply);
    if (!session) return reply;
    const q = request.query as Record<string, string | undefined>;
    const date = String(q.date ?? "").slice(0, 10) || japanToday(context.clock);
    const office = String(q.office ?? "").slice(0, 40);
    const v = pageView(request, reply, pathWithoutLang(request.url));
    const offices = await context.staff.offices();
    try {
      // The form offers the offices: another is refused here in both languages (the fee service says it in English only).
      if (office && !offices.some((o) => o.id === office)) throw invalid("office", "その事務所はありません。一覧から選んでください / no such office: choose one from the list");
      const summary = await feeSummary(context.store.db, { date, ...(office ? { office } : {}) });
      return sendPage(reply, 200, summaryPage(v, session.staff, { date, office, offices, summary }));
    } catch (error) {
      const problem: Problem = problemOf(error, log);
      return sendPage(reply, statusOf(problem), summaryPage(v, session.staff, { date, office, offices, problem }));
    }
  });

  const noticeDeps = () => ({ db: context.store.db, registry: context.registry, clock: context.clock });

  // Neither expiry-notice route answers HEAD: each reads the whole run (see loggedStream).
  app.get("/counter/expiry-notices", { exposeHeadRoute: false }, async (request, reply) => {
    const session = await staffOr(request, reply);
    if (!session) return reply;
    const q = request.query as Record<string, string | undefined>;
    const from = String(q.from ?? "").slice(0, 10) || japanToday(context.clock);
    // First shown for the office's own municipality: a run over every municipality is chosen
    // ("すべて" sends an empty value), not what a counter's first view reads.
    const municipality =
      q.municipality === undefined
        ? ((await context.staff.offices()).find((o) => o.id === session.staff.officeId)?.municipalityCode ?? "")
        : /^\d{6}$/.test(q.municipality) ? q.municipality : "";
    const v = pageView(request, reply, pathWithoutLang(request.url));
    try {
      // The rows shown are kept, the rest only counted: a run over every municipality is millions.
      const run = await expiryNoticeListing(noticeDeps(), { from, ...(municipality ? { municipality } : {}) }, EXPIRY_LIST_SHOWN);
      return sendPage(reply, 200, expiryNoticesPage(v, session.staff, { from, municipality, run }));
    } catch (error) {
      const problem = problemOf(error, log);
      return sendPage(reply, statusOf(problem), expiryNoticesPage(v, session.staff, { from, municipality, problem }));
    }
  });

  app.get("/counter/expiry-notices.csv", { exposeHeadRoute: false }, async (request, reply) => {
    const session = await staffOr(request, reply);
    if (!session) return reply;
    const q = request.query as Record<string, string | undefined>;
    const from = String(q.from ?? "").slice(0, 10) || japanToday(context.clock);
    const municipality = /^\d{6}$/.test(String(q.municipality ?? "")) ? String(q.municipality) : "";
    try {
      // `from` is checked before the answer starts: a mistake is the page with its message.
      const csv = expiryNoticesCsvStream(noticeDeps(), { from, ...(municipality ? { municipality } : {}) });
      return reply
        .header("content-type", "text/csv; charset=utf-8")
        .header("content-disposition", `attachment; filename="${csv.filename}"`)
        .header("cache-control", "no-store")
        // Sent as it is read, so the server holds a chunk, not the run.
        .send(loggedStream(csv.chunks, "expiry-notices CSV", log));
    } catch (error) {
      const problem = problemOf(error, log);
      const v = pageView(request, reply, "/counter/expiry-notices");
      return sendPage(reply, statusOf(problem), expiryNoticesPage(v, session.staff, { from, municipality, problem }));
    }
  });

  app.get("/counter/audit", async (request, reply) => {
    const session = await staffOr(request, reply);
    if (!session) return reply;
    const v = pageView(request, reply, "/counter/audit");
    if (!hasRole(session.staff.role, "supervisor")) {
      // As the API's audit endpoint: the trail names every actor and subject, for supervisors only.
      const problem = problemOf(new ServiceError("refused", "監査記録は監督者以上が閲覧できます / the audit trail is for supervisors and administrators", "role", { reason: "forbidden-role" }), log);
      return sendPage(reply, 403, errorPage(v, problem, { href: "/counter", ja: "窓口業務に戻る", en: "Back to the counter" }));
    }
    const verification = await verifyAuditForPage(context.store.db, context.clock());
    const rows = await context.store.db.selectFrom("audit_log").select(["seq", "at", "actor", "office", "action", "subject"]).orderBy("seq", "desc").limit(30).execute();
    return sendPage(reply, 200, auditPage(v, session.staff, { verification, records: rows.map((r) => ({ ...r, seq: Number(r.seq) })) }));
  });
}
