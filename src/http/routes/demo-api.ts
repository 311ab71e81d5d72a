import type { FastifyInstance } from "fastify";
import type { Context } from "../../services/context.ts";
import { ServiceError } from "../../services/errors.ts";
import { signXmlOnCard } from "../../services/document-signing.ts";
import { cardChoices, verifyOwnCertificate } from "../../services/resident-view.ts";
import { etaxFormPage, filingPage } from "../../web/pages/etax.ts";
import { portalDemoPage } from "../../web/pages/portal-demo.ts";
import { errorPage } from "../../web/pages/error.ts";
import { formAccepted, pageView, problemOf, sendPage, statusOf, text, type Form } from "./pages.ts";

const AMOUNT = /^\d{1,12}$/;

/** The little return the demo files: an XML document the card signs (enveloped XML signature). */
function returnXml(year: number, income: number, deductions: number): string {
  const taxable = Math.max(0, income - deductions);
  return (
    `<?xml version="1.0" encoding="UTF-8"?>` +
    `<Return xmlns="urn:openjpki:demo:return"><Year>${year}</Year><Income>${income}</Income>` +
    `<Deductions>${deductions}</Deductions><Taxable>${taxable}</Taxable></Return>`
  );
}

/** Relying-party demos: the e-Tax-style signed filing and the portal login, showing what the verifier saw. */
export async function demoRoutes(app: FastifyInstance, context: Context, options: { log?: (line: string) => void } = {}): Promise<void> {
  const log = options.log ?? ((line: string) => console.error(line));

  app.get("/demo/etax", async (request, reply) =>
    sendPage(reply, 200, etaxFormPage(pageView(request, reply, "/demo/etax"), await cardChoices(context), await context.filings.list(10))),
  );

  app.post("/demo/etax", async (request, reply) => {
    const v = pageView(request, reply, "/demo/etax");
    if (!formAccepted(context, request, reply, v)) return reply;
    const form = request.body as Form;
    const values = { year: text(form, "year", 8), income: text(form, "income", 16), deductions: text(form, "deductions", 16), cardId: text(form, "cardId", 20) };
    try {
      const year = Number(values.year);
      if (!/^\d{4}$/.test(values.year) || year < 2000 || year > 2100) {
        throw new ServiceError("invalid-input", "年分は西暦4桁で入力してください（例：2025）/ enter the tax year as four digits (e.g. 2025)", "year");
      }
      if (!AMOUNT.test(values.income)) throw new ServiceError("invalid-input", "所得金額は半角数字で入力してください / enter the income in digits", "income");
      if (!AMOUNT.test(values.deductions)) throw new ServiceError("invalid-input", "所得控除は半角数字で入力してください / enter the deductions in digits", "deductions");
      if (!values.cardId) throw new ServiceError("invalid-input", "カードを選んでください / choose a card", "card");
      const pin = text(form, "pin", 32);
      if (!pin) throw new ServiceError("invalid-input", "署名用電子証明書の暗証番号を入力してください / enter the signing password", "pin");
      const signed = await signXmlOnCard(context.cards, { cardId: values.cardId, pin, xml: returnXml(year, Number(values.income), Number(values.deductions)) });
      const filing = await context.filings.submit({ format: "xml", document: new Uint8Array(Buffer.from(signed.xml, "utf8")) });
      return reply.status(303).header("location", `/demo/etax/filings/${filing.id}`).send();
    } catch (error) {
      const problem = problemOf(error, log);
      return sendPage(reply, statusOf(problem), etaxFormPage(v, await cardChoices(context), await context.filings.list(10), values, problem));
    }
  });

  app.get<{ Params: { id: string } }>("/demo/etax/filings/:id", async (request, reply) => {
    const id = request.params.id.slice(0, 32);
    const v = pageView(request, reply, `/demo/etax/filings/${id}`);
    try {
      const { document: _document, ...filing } = await context.filings.get(id);
      return sendPage(reply, 200, filingPage(v, filing));
    } catch (error) {
      const problem = problemOf(error, log);
      return sendPage(reply, statusOf(problem), errorPage(v, problem, { href: "/demo/etax", ja: "電子申告の画面へ", en: "Go to e-Filing" }));
    }
  });

  app.get("/demo/portal", async (request, reply) => sendPage(reply, 200, portalDemoPage(pageView(request, reply, "/demo/portal"), await cardChoices(context))));

  app.post("/demo/portal", async (request, reply) => {
    const v = pageView(request, reply, "/demo/portal");
    if (!formAccepted(context, request, reply, v)) return reply;
    const form = request.body as Form;
    const cardId = text(form, "cardId", 20);
    try {
      if (!cardId) throw new ServiceError("invalid-input", "カードを選んでください / choose a card", "card");
      const pin = text(form, "pin", 16);
      if (!pin) throw new ServiceError("invalid-input", "暗証番号を入力してください / enter the PIN", "pin");
      const session = await context.cards.withReader(cardId, (reader) => context.portal.loginWithCard(reader, pin));
      const verification = await verifyOwnCertificate(context, "auth", session.serialHex);
      return sendPage(reply, 200, portalDemoPage(v, await cardChoices(context), { serialHex: session.serialHex, expiresAt: session.expiresAt, verification }, undefined, cardId));
    } catch (error) {
      const problem = problemOf(error, log);
      return sendPage(reply, statusOf(problem), portalDemoPage(v, await cardChoices(context), undefined, problem, cardId));
    }
  });
}
