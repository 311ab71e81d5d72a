import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import type { Context } from "../../src/services/context.ts";
import { newCsrfToken } from "../../src/web/csrf.ts";

export interface StaffBrowser {
  get(url: string): Promise<LightMyRequestResponse>;
  /** A form posted as a browser posts it: form encoding, the CSRF cookie and field. */
  post(url: string, fields: Record<string, string>): Promise<LightMyRequestResponse>;
}

/** A clerk logged in to the staff pages, as a browser would be (session and CSRF cookies). */
export async function staffBrowser(app: FastifyInstance, context: Context): Promise<StaffBrowser> {
  const csrf = newCsrfToken();
  await context.staff.add({ officeId: "machida-mnc", login: "tanaka", name: "田中 一郎", role: "clerk", password: "correct horse battery" });
  const session = await context.staff.login("tanaka", "correct horse battery");
  const cookie = `openjpki_staff=${session.sessionId}; openjpki_csrf=${csrf}`;
  return {
    get: (url) => app.inject({ method: "GET", url, headers: { cookie, accept: "text/html" } }),
    post: (url, fields) =>
      app.inject({
        method: "POST",
        url,
        headers: { cookie, accept: "text/html", "content-type": "application/x-www-form-urlencoded" },
        payload: new URLSearchParams({ _csrf: csrf, ...fields }).toString(),
      }),
  };
}
