// Review tests for src/cli/commands/card.ts: a wrong command line is one line naming the option.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cli } from "../helpers/cli.ts";

describe("openjpki card attach --vpcd", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "openjpki-card-cli-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("port 0 is refused as a bad --vpcd, not a stack trace", async () => {
    const r = await cli(["card", "attach", "--card", "C-AAAAAAAAAA", "--vpcd", "127.0.0.1:0", "--data", join(dir, "data")], {
      OPENJPKI_NOW: "2026-11-25T03:00:00Z",
      OPENJPKI_CA_PASSPHRASE: "cli-test-passphrase-0123456789",
    });
    assert.equal(r.code, 2, r.stderr);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    assert.match(r.stderr, /^openjpki card attach: --vpcd must be HOST:PORT/);
  });
});

describe("openjpki card issue --no-sign", () => {
  test("with --sign-pin as well is refused like --no-auth with --auth-pin, not silently ignored", async () => {
    const dir = mkdtempSync(join(tmpdir(), "openjpki-card-cli-"));
    try {
      for (const extra of [["--sign-pin", "ABC123"], ["--sign-pin-file", join(dir, "no-such-file")]]) {
        const r = await cli(["card", "issue", "--resident", "R-AAAAAAAAAA", "--auth-pin", "1234", "--no-sign", ...extra, "--data", join(dir, "data")]);
        assert.equal(r.code, 2, r.stderr);
        assert.equal(r.stderr, "openjpki card issue: --sign-pin: not with --no-sign (the signing certificate is declined)\n");
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("openjpki cert revoke --invalidity-date", () => {
  const revoke = (when: string, data: string) =>
    cli(["cert", "revoke", "--type", "auth", "--serial", "01", "--reason", "keyCompromise", "--invalidity-date", when, "--data", data]);

  test("an instant without a time zone is refused (it meant a different time on every machine's TZ)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "openjpki-cert-cli-"));
    try {
      const r = await revoke("2026-11-25T10:00:00", join(dir, "data"));
      assert.equal(r.code, 1, r.stderr);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
      assert.match(r.stderr, /^openjpki cert revoke: .*time zone/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("an impossible date is refused, not rolled over (2026-02-30 is not 2026-03-02)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "openjpki-cert-cli-"));
    try {
      const r = await revoke("2026-02-30T10:00:00Z", join(dir, "data"));
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /^openjpki cert revoke: .*2026-02-30/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
