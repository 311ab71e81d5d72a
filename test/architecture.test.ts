import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

/**
 * The import arrows of ../shared/DESIGN.md, checked on every file under src/: each top-level
 * folder of src is a layer, and a layer may import only its own files, the layers listed here,
 * Node's built-ins and npm packages. The arrows are what let `openjpki/verify`, `openjpki/client`
 * and `openjpki/card` ship without the server, and keep the card reachable only through APDUs.
 */
const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  rules: [],
  profile: [],
  card: [],
  readers: [],
  store: [],
  pki: ["rules", "profile"],
  verify: ["rules", "profile"],
  // The card client speaks APDUs over any reader.
  client: ["readers"],
  // Settings and their defaults name the CA naming of pki and the rules' vocabulary.
  config: ["rules", "profile", "pki"],
  services: ["rules", "profile", "pki", "verify", "card", "readers", "client", "store", "config"],
  // The server hosts the pages; `openjpki serve` starts the server.
  http: ["services", "web"],
  web: ["services"],
  cli: ["services", "http"],
};

const SRC = fileURLToPath(new URL("../src/", import.meta.url));

interface Violation {
  readonly file: string;
  readonly specifier: string;
  readonly layer: string;
  readonly target: string;
}

/** The layer a path under src/ belongs to: its first folder. */
function layerOf(srcRelative: string): string {
  return srcRelative.split(sep)[0] ?? "";
}

/**
 * Every relative import, re-export and dynamic import of one file that crosses into a layer its
 * own layer may not use. TypeScript's own pre-processor finds the specifiers, so `import type`,
 * `export … from` and `import("…")` are all seen.
 */
function violationsOf(srcRelative: string, source: string): Violation[] {
  const layer = layerOf(srcRelative);
  const allowed = ALLOWED[layer];
  const found: Violation[] = [];
  const { importedFiles } = ts.preProcessFile(source, true, true);
  for (const { fileName: specifier } of importedFiles) {
    if (!specifier.startsWith(".")) continue; // node: built-ins and npm packages
    const target = relative(SRC, resolve(SRC, dirname(srcRelative), specifier));
    if (target.startsWith("..")) {
      found.push({ file: srcRelative, specifier, layer, target: "outside src" });
      continue;
    }
    const targetLayer = layerOf(target);
    if (targetLayer === layer) continue;
    if (allowed === undefined || !allowed.includes(targetLayer)) {
      found.push({ file: srcRelative, specifier, layer, target: targetLayer });
    }
  }
  return found;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith(".ts") ? [relative(SRC, path)] : [];
  });
}

/**
 * Heavy modules that are loaded with `await import()` where they are used, so that the CLI, the
 * server and the CRL builder do not pay for them at start-up (docs/benchmarks.md, start-up cost):
 * a static import from outside the group would bring them back.
 */
const LAZY_GROUPS: readonly { readonly name: string; readonly members: (file: string) => boolean }[] = [
  {
    name: "PDF rendering (pdf-lib, fontkit)",
    members: (f) => ["services/kiosk-pdf.ts", "services/counter/notices-pdf.ts", "services/pdf-fonts.ts"].includes(f.split(sep).join("/")),
  },
  { name: "the HTTP server (fastify, oidc-provider, pages)", members: (f) => layerOf(f) === "http" },
];

/**
 * Static value imports (and re-exports) of a lazy group's modules from files outside the group.
 * `import type` is erased when the file is compiled, and `await import()` is not a statement.
 */
function eagerImportsOf(srcRelative: string, source: string): string[] {
  const found: string[] = [];
  const file = ts.createSourceFile(srcRelative, source, ts.ScriptTarget.Latest);
  for (const statement of file.statements) {
    const isValueImport =
      (ts.isImportDeclaration(statement) && !statement.importClause?.isTypeOnly) ||
      (ts.isExportDeclaration(statement) && !statement.isTypeOnly && statement.moduleSpecifier !== undefined);
    if (!isValueImport || !statement.moduleSpecifier || !ts.isStringLiteral(statement.moduleSpecifier)) continue;
    const specifier = statement.moduleSpecifier.text;
    if (!specifier.startsWith(".")) continue;
    const target = relative(SRC, resolve(SRC, dirname(srcRelative), specifier));
    for (const group of LAZY_GROUPS) {
      if (group.members(target) && !group.members(srcRelative)) found.push(`${srcRelative} imports ${group.name} eagerly ("${specifier}")`);
    }
  }
  return found;
}

describe("architecture: the import arrows of DESIGN.md", () => {
  test("every layer under src/ is one the arrows know", () => {
    const layers = new Set(sourceFiles(SRC).map(layerOf));
    assert.deepEqual([...layers].filter((l) => !(l in ALLOWED)), []);
  });

  test("no file under src/ imports a layer it may not use", () => {
    const violations = sourceFiles(SRC).flatMap((file) => violationsOf(file, readFileSync(join(SRC, file), "utf8")));
    const lines = violations.map((v) => `${v.file}: ${v.layer} → ${v.target} ("${v.specifier}")`);
    assert.deepEqual(lines, []);
  });

  test("the check sees every form of import that crosses a boundary", () => {
    const crossing = [
      `import { fail } from "../rules/errors.ts";`,
      `import type { CardEndpoint } from "../readers/reader.ts";`,
      `export { tlv } from "../pki/der.ts";`,
      `const m = await import("../store/database.ts");`,
      `import "../services/context.ts";`,
    ].join("\n");
    const seen = violationsOf(join("profile", "x.ts"), crossing).map((v) => v.target);
    assert.deepEqual(seen, ["rules", "readers", "pki", "store", "services"]);
    // The same lines are allowed where the arrows allow them, and a layer's own files always are.
    assert.deepEqual(violationsOf(join("services", "x.ts"), crossing), []);
    assert.deepEqual(violationsOf(join("profile", "x.ts"), `import { a } from "./oids.ts";`), []);
    assert.deepEqual(violationsOf(join("http", "routes", "x.ts"), `import { a } from "../../pki/ocsp.ts";`).map((v) => v.target), ["pki"]);
  });

  test("heavy modules are loaded only where they are used", () => {
    const eager = sourceFiles(SRC).flatMap((file) => eagerImportsOf(file, readFileSync(join(SRC, file), "utf8")));
    assert.deepEqual(eager, []);
    // The check tells a static import from a dynamic or a type-only one.
    const cli = join("cli", "commands", "x.ts");
    assert.equal(eagerImportsOf(cli, `import { startServer } from "../../http/server.ts";`).length, 1);
    assert.equal(eagerImportsOf(cli, `const { startServer } = await import("../../http/server.ts");`).length, 0);
    const kiosk = join("services", "kiosk.ts");
    assert.equal(eagerImportsOf(kiosk, `import { renderKioskPdf } from "./kiosk-pdf.ts";`).length, 1);
    assert.equal(eagerImportsOf(kiosk, `export { renderKioskPdf } from "./kiosk-pdf.ts";`).length, 1);
    assert.equal(eagerImportsOf(kiosk, `import type { KioskPdfOptions } from "./kiosk-pdf.ts";`).length, 0);
  });
});
