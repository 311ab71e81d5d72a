import { createServer } from "node:net";

/** A port free on 127.0.0.1 right now (for servers whose public URL must be known before they listen). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** A minimal browser: follows nothing by itself, keeps cookies per name. */
export class Browser {
  readonly cookies = new Map<string, string>();

  async fetch(url: string | URL, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size > 0) headers.set("cookie", [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; "));
    const res = await fetch(url, { ...init, headers, redirect: "manual" });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const eq = pair!.indexOf("=");
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      if (/expires=Thu, 01 Jan 1970/i.test(line) || value === "") this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return res;
  }

  /** Follow redirects until one leaves `origin` (returned unfetched) or a page answers. */
  async follow(url: string | URL, origin: string, init: RequestInit = {}): Promise<{ response?: Response; leftTo?: URL }> {
    let next = new URL(url);
    let response = await this.fetch(next, init);
    for (let hops = 0; hops < 10 && response.status >= 300 && response.status < 400; hops++) {
      next = new URL(response.headers.get("location")!, next);
      if (next.origin !== origin) return { leftTo: next };
      response = await this.fetch(next);
    }
    return { response };
  }
}
