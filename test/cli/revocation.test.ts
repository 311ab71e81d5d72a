// `cert revoke|status` and `resident change|death` from the command line.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cli } from "../helpers/cli.ts";
import { testPublicKeys } from "../helpers/keys.ts";

describe("openjpki cert and resident change", () => {
  let dir: string;
  let data: string;
  const env = { OPENJPKI_NOW: "2026-11-25T03:00:00Z", OPENJPKI_CA_PASSPHRASE: "cli-test-passphrase-0123456789" };
  let resident: string;
  let sign: string;
  let auth: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "openjpki-cli-rev-"));
    data = join(dir, "data");
    writeFileSync(join(dir, "pub.pem"), testPublicKeys(1)[0]!.export({ type: "spki", format: "pem" }));
    const r = await cli(["resident", "add", "--data", data, "--name", "森野 一郎", "--birth", "1975-05-05", "--gender", "1",
      "--address", "東京都町田市森野１－１", "--municipality", "132098", "--json"], env);
    resident = r.json().id;
    const issue = async (type: string) =>
      (await cli(["ca", "issue", "--data", data, "--type", type, "--resident", resident, "--pubkey", join(dir, "pub.pem"), "--json"], env)).json().id;
    auth = await issue("auth");
    sign = await issue("sign");
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("resident change --address revokes sign and keeps auth; cert status shows reason and meaning", async () => {
    const change = await cli(["resident", "change", "--data", data, "--id", resident, "--address", "東京都町田市中町２－２"], env);
    assert.equal(change.code, 0, change.stderr);
    assert.match(change.stdout, new RegExp(`署名用 ${sign}: revoked \\(affiliationChanged\\)`));
    const signStatus = await cli(["cert", "status", "--data", data, "--type", "sign", "--serial", sign], env);
    assert.match(signStatus.stdout, /失効 \(revoked\)/);
    assert.match(signStatus.stdout, /affiliationChanged \(3\)/);
    const authStatus = await cli(["cert", "status", "--data", data, "--type", "auth", "--serial", auth, "--json"], env);
    assert.equal(authStatus.json().status, "valid");
  });

  test("cert revoke with a reason and an invalidity date", async () => {
    const r = await cli(["cert", "revoke", "--data", data, "--type", "auth", "--serial", auth.toLowerCase(),
      "--reason", "keyCompromise", "--invalidity-date", "2026-11-20", "--by", "hotline", "--json"], env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.json().status, "revoked");
    assert.equal(r.json().revocationReason, "keyCompromise");
    assert.equal(r.json().invalidityDate, "2026-11-19T15:00:00.000Z", "the start of that Japan day");
    assert.equal(r.json().revokedBy, "hotline");
    const again = await cli(["cert", "revoke", "--data", data, "--type", "auth", "--serial", auth, "--reason", "superseded"], env);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already revoked/);
  });

  test("bad input names the problem", async () => {
    const cases: [string[], RegExp][] = [
      [["cert", "revoke", "--type", "auth", "--serial", "XYZ", "--reason", "keyCompromise"], /--serial must be hexadecimal/],
      [["cert", "revoke", "--type", "auth", "--serial", "AB", "--reason", "lost"], /--reason must be one of/],
      [["cert", "status", "--type", "sign", "--serial", "ABCDEF"], /no sign certificate with serial ABCDEF/],
      [["resident", "change", "--id", "R-0000000000", "--name", "山田 花子"], /no resident with id/],
      [["resident", "change", "--id", "R-0000000000"], /at least one of/],
      // A compromise cannot be known from a time still to come (OPENJPKI_NOW is 2026-11-25).
      [["cert", "revoke", "--type", "sign", "--serial", sign, "--reason", "keyCompromise", "--invalidity-date", "2026-11-26"], /invalidityDate 2026-11-25T15:00:00\.000Z is after the revocation \(2026-11-25T03:00:00\.000Z\): it must be a time already past/],
    ];
    for (const [args, pattern] of cases) {
      const r = await cli([...args, "--data", data], env);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, pattern);
    }
  });
});
