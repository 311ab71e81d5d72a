// Checks that a layer's refusals (RuleInputError, ProfileInputError) are written in both languages
// at the source: every `fail(field, 日本語, English)` call under src/<layer>/ is found in the
// source, each is reached by one of the given refusals, and each message is one line
// "field: 日本語 / English" whose halves are what a page shows for ja and en.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { localMessage } from "../../src/web/i18n.ts";

export interface Refusal {
  readonly what: string;
  readonly field: string;
  readonly run: () => unknown;
  /** Input a person typed, which the Japanese half must not repeat. */
  readonly free?: string;
}

interface FailCall {
  readonly file: string;
  readonly firstLine: number;
  readonly lastLine: number;
  /** The source of the Japanese argument (a constant's initializer when it names one). */
  readonly japanese: string;
  readonly argumentCount: number;
}

const SRC = fileURLToPath(new URL("../../src/", import.meta.url));
const JAPANESE = /[ぁ-んァ-ヶ一-龠]/;

/** Every call of `fail` in src/<layer>/*.ts, from the TypeScript syntax tree. */
function failCalls(layer: string): FailCall[] {
  const calls: FailCall[] = [];
  const dir = join(SRC, layer);
  for (const name of readdirSync(dir).filter((n) => n.endsWith(".ts"))) {
    const file = join(dir, name);
    const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true);
    const constants = new Map<string, string>();
    const visit = (node: ts.Node): void => {
      if (ts.isVariableDeclaration(node) && ts.isIdentifier(node.name) && node.initializer) constants.set(node.name.text, node.initializer.getText(source));
      if (ts.isCallExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === "fail") {
        const arg = node.arguments[1];
        const japanese = arg === undefined ? "" : ts.isIdentifier(arg) ? (constants.get(arg.text) ?? arg.text) : arg.getText(source);
        calls.push({
          file,
          firstLine: source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1,
          lastLine: source.getLineAndCharacterOfPosition(node.getEnd()).line + 1,
          japanese,
          argumentCount: node.arguments.length,
        });
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return calls;
}

/** The file and line of the frame that called `fail`, from the error's stack. */
function callSite(error: Error): { file: string; line: number } | undefined {
  const frames = (error.stack ?? "").split("\n");
  const at = frames.findIndex((f) => /^\s+at fail \(/.test(f));
  const match = /\(?([^\s()]+\.ts):(\d+):\d+\)?$/.exec(frames[at + 1] ?? "");
  return match ? { file: match[1]!, line: Number(match[2]) } : undefined;
}

export function testBilingualRefusals(layer: "rules" | "profile", errorName: string, refusals: readonly Refusal[]): void {
  const calls = failCalls(layer);

  test(`every fail call in src/${layer} is given Japanese that quotes no input`, () => {
    assert.ok(calls.length > 20, `found only ${calls.length} fail calls`);
    for (const call of calls) {
      const where = `${call.file}:${call.firstLine}`;
      assert.equal(call.argumentCount, 3, where);
      assert.match(call.japanese, JAPANESE, where);
      // Free input is shown only in the English, through quote(); the Japanese has none to split on.
      assert.doesNotMatch(call.japanese, /quote\(|\/ /, where);
    }
  });

  const reached: { file: string; line: number }[] = [];
  for (const refusal of refusals) {
    test(`${refusal.what}: "${refusal.field}: 日本語 / English", split as a page shows it`, () => {
      let caught: unknown;
      try {
        refusal.run();
      } catch (error) {
        caught = error;
      }
      assert.ok(caught instanceof Error && caught.name === errorName, `expected a ${errorName}, got ${String(caught)}`);
      assert.equal((caught as Error & { field?: string }).field, refusal.field);
      const message = caught.message;
      const shape = /^([^:\n]+): ([^\n]*?) \/ ([ -~][^\n]*)$/.exec(message);
      assert.ok(shape, message);
      const [, field, japanese, english] = shape;
      assert.equal(field, refusal.field);
      assert.match(japanese!, JAPANESE, message);
      assert.equal(localMessage("ja", message), `${field}: ${japanese}`);
      assert.equal(localMessage("en", message), english);
      if (refusal.free !== undefined) {
        assert.ok(!japanese!.includes(refusal.free), `the Japanese repeats ${JSON.stringify(refusal.free)}: ${message}`);
        assert.ok(english!.includes(JSON.stringify(refusal.free)), `the English quotes the input: ${message}`);
      }
      const site = callSite(caught);
      assert.ok(site, caught.stack);
      reached.push(site);
    });
  }

  test(`the refusals above reach every fail call in src/${layer}`, () => {
    const missed = calls.filter((c) => !reached.some((r) => r.file === c.file && r.line >= c.firstLine && r.line <= c.lastLine));
    assert.deepEqual(missed.map((c) => `${c.file}:${c.firstLine}`), []);
  });
}
