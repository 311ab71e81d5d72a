// A real browser for the page tests: Debian's Chromium driven by playwright-core, with the
// axe accessibility check and screenshots kept under test-artifacts/web/.
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { startServer, type RunningServer } from "../../src/http/server.ts";
import type { Settings } from "../../src/config/defaults.ts";
import { openTestContext, type TestContext } from "../helpers/context.ts";
import { freePort } from "../helpers/net.ts";

export const CHROMIUM = "/usr/bin/chromium";
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const ARTIFACTS = join(ROOT, "test-artifacts", "web");
const AXE = join(ROOT, "node_modules", "axe-core", "axe.min.js");

/** Why the browser tests cannot run here, or undefined when they can. */
export function browserMissing(): string | undefined {
  return existsSync(CHROMIUM) ? undefined : `${CHROMIUM} is not installed (apt-get install chromium): browser tests skipped`;
}

export function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
  });
}

interface Violation {
  id: string;
  impact: string | null;
  help: string;
  nodes: string[];
}

/** Run axe on the page as it is; fail on any serious or critical violation. */
export async function assertAccessible(page: Page, label: string): Promise<void> {
  await page.addScriptTag({ path: AXE });
  const violations = (await page.evaluate(
    `axe.run(document, { resultTypes: ["violations"] }).then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ")) })))`,
  )) as Violation[];
  const bad = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(bad, [], `${label}: axe found serious violations:\n${JSON.stringify(bad, null, 2)}`);
}

/** Keep a screenshot of the page (the test's artifact), then run the accessibility check. */
export async function screenshotAndCheck(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  await assertAccessible(page, name);
}

/** A test server on a free port with a browser pointed at it: what every page suite starts with. */
export interface BrowserSession {
  t: TestContext;
  server: RunningServer;
  browser: Browser;
  ctx: BrowserContext;
  page: Page;
  base: string;
  close(): Promise<void>;
}

export async function openBrowserSession(
  options: { settings?: Partial<Settings>; setup?: (t: TestContext) => Promise<void> } = {},
): Promise<BrowserSession> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const t = await openTestContext("sqlite", { settings: { publicBaseUrl: base, devConsole: true, ...options.settings } });
  await options.setup?.(t);
  const server = await startServer(t.context, { host: "127.0.0.1", port, handleSignals: false, log: () => {} });
  const browser = await launch();
  const ctx = await browser.newContext({ bypassCSP: true, locale: "ja-JP", viewport: { width: 1100, height: 900 }, acceptDownloads: true });
  ctx.setDefaultTimeout(10_000);
  const page = await ctx.newPage();
  return {
    t,
    server,
    browser,
    ctx,
    page,
    base,
    async close() {
      await browser.close();
      await server.close();
      await t.cleanup();
    },
  };
}
