import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createHash } from "node:crypto";

export interface Asset {
  body: string;
  type: string;
  etag: string;
}

const require = createRequire(import.meta.url);

/** Where each asset comes from: our own files next to this module, and the design tokens from node_modules. */
const SOURCES: Record<string, { type: string; path: () => string }> = {
  "tokens.css": { type: "text/css; charset=utf-8", path: () => require.resolve("@digital-go-jp/design-tokens/dist/tokens.css") },
  "web.css": { type: "text/css; charset=utf-8", path: () => new URL("./assets/web.css", import.meta.url).pathname },
  "web.js": { type: "text/javascript; charset=utf-8", path: () => new URL("./assets/web.js", import.meta.url).pathname },
};

const cache = new Map<string, Asset>();

/** The page assets, read once on first use. Unknown names give undefined. */
export function asset(name: string): Asset | undefined {
  const source = Object.hasOwn(SOURCES, name) ? SOURCES[name] : undefined;
  if (!source) return undefined;
  let found = cache.get(name);
  if (!found) {
    const body = readFileSync(source.path(), "utf8");
    found = { body, type: source.type, etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 16)}"` };
    cache.set(name, found);
  }
  return found;
}

export const ASSET_NAMES = Object.keys(SOURCES);
