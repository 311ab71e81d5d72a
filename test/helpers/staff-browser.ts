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

/** The counter's JSON API as a logged-in clerk: session cookie and CSRF header on every call. */
export class StaffApi {
  #cookie = "";
  #csrf = "";

  /** `app` is read at each call: tests build it in before(). */
  constructor(private readonly app: () => FastifyInstance) {}

  /** `body` is the parsed JSON (undefined for anything else, a PDF say: then `raw` and `text`). */
  async call(method: "GET" | "POST", url: string, payload?: unknown): Promise<{ status: number; body: any; raw: Buffer; text: string; headers: LightMyRequestResponse["headers"] }> {
    const res = await this.app().inject({ method, url, headers: { cookie: this.#cookie, "x-csrf-token": this.#csrf }, ...(payload === undefined ? {} : { payload: payload as object }) });
    const json = String(res.headers["content-type"] ?? "").includes("json");
    return { status: res.statusCode, body: json ? res.json() : undefined, raw: res.rawPayload, text: res.body, headers: res.headers };
  }

  /** Log in (again: staff sessions last 8 hours, so tests that move the clock log in after). */
  async login(login: string, password = "correct horse battery"): Promise<void> {
    const res = await this.app().inject({ method: "POST", url: "/api/counter/login", payload: { login, password } });
    if (res.statusCode !== 200) throw new Error(`login ${login}: ${res.statusCode} ${res.body}`);
    this.#cookie = res.headers["set-cookie"]!.toString().split(";")[0]!;
    this.#csrf = res.json().csrfToken;
  }
}
