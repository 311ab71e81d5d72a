#!/usr/bin/env node
// Runs every test/**/*.test.ts file with node's built-in test runner (through tsx).
// Node 20's --test takes no globs, so the files are listed here. Extra arguments
// narrow the run to paths containing them: `npm run test:unit -- card`.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const filters = process.argv.slice(2);

function collect(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return collect(path);
    return entry.name.endsWith(".test.ts") ? [relative(root, path)] : [];
  });
}

const files = collect(join(root, "test"))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error(`no test files match ${filters.join(" ")}`);
  process.exit(1);
}
const result = spawnSync(
  process.execPath,
  ["--import", "tsx", "--test", "--test-concurrency=2", ...files],
  { cwd: root, stdio: "inherit" },
);
process.exit(result.status ?? 1);
