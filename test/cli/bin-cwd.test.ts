// The installed command runs from any working directory: tsx finds the project's tsconfig.json only
// from the working directory, so source that depended on a tsconfig setting (decorators) failed at
// start everywhere but the repository — the CLI and the benchmarks' child processes alike.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const BIN = fileURLToPath(new URL("../../bin/openjpki.js", import.meta.url));

test("openjpki run from outside the repository makes a store (CA keys encrypted and read back) and shows its CA", () => {
  const dir = mkdtempSync(join(tmpdir(), "openjpki-cwd-"));
  try {
    const env = { ...process.env, OPENJPKI_CA_PASSPHRASE: "cwd-test-passphrase-0123456789", OPENJPKI_NOW: "2026-11-25T03:00:00Z" };
    const init = spawnSync(process.execPath, [BIN, "init", "--data", join(dir, "data"), "--json"], { cwd: dir, env, encoding: "utf8" });
    assert.equal(init.status, 0, init.stderr);
    assert.deepEqual(JSON.parse(init.stdout).createdRoots, ["sign", "auth"]);
    const show = spawnSync(process.execPath, [BIN, "ca", "show", "--type", "auth", "--data", join(dir, "data")], { cwd: dir, env, encoding: "utf8" });
    assert.equal(show.status, 0, show.stderr);
    assert.match(show.stdout, /^-----BEGIN CERTIFICATE-----/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
