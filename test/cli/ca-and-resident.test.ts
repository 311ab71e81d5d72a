// The operator commands end to end on a fresh data directory, checked with OpenSSL.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync, writeFileSync, readFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { generateKeyPairSync } from "node:crypto";
import { cli } from "../helpers/cli.ts";

const BIN = fileURLToPath(new URL("../../bin/openjpki.js", import.meta.url));

describe("openjpki resident and ca commands", () => {
  let dir: string;
  let data: string;
  const env = { OPENJPKI_NOW: "2026-11-25T03:00:00Z" };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "openjpki-cli-"));
    data = join(dir, "data");
    const { publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    writeFileSync(join(dir, "pub.pem"), publicKey.export({ type: "spki", format: "pem" }));
    writeFileSync(join(dir, "pub.der"), publicKey.export({ type: "spki", format: "der" }));
    const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
    writeFileSync(join(dir, "ec.pem"), ec.publicKey.export({ type: "spki", format: "pem" }));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("init creates the data directory, the SQLite store, both CAs and a 0600 passphrase file", async () => {
    const r = await cli(["init", "--data", data, "--json"], env);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.json().createdRoots, ["sign", "auth"]);
    assert.ok(existsSync(join(data, "openjpki.sqlite")));
    assert.equal(statSync(join(data, "ca-passphrase")).mode & 0o777, 0o600);
    assert.match(r.stderr, /ca-passphrase/);
    const again = await cli(["init", "--data", data, "--json"], env);
    assert.deepEqual(again.json().createdRoots, [], "a second init changes nothing");
  });

  test("resident add → ca issue → the certificate verifies with openssl and carries the resident's data", async () => {
    const added = await cli(
      ["resident", "add", "--data", data, "--name", "町田 花子", "--birth", "1988-02-29", "--gender", "2",
        "--address", "東京都町田市森野２丁目２番２２号", "--municipality", "132098", "--json"],
      env,
    );
    assert.equal(added.code, 0, added.stderr);
    const resident = added.json();
    assert.match(resident.id, /^R-[0-9A-Z]{10}$/);
    assert.equal(resident.name, "町田　花子");

    const issued = await cli(
      ["ca", "issue", "--data", data, "--type", "sign", "--resident", resident.id, "--pubkey", join(dir, "pub.pem"),
        "--out", join(dir, "sign.pem"), "--json"],
      env,
    );
    assert.equal(issued.code, 0, issued.stderr);
    const cert = issued.json();
    assert.equal(cert.id, cert.serialHex);
    // Born 29 Feb: in common years the birthday is 28 Feb; the 5th after 2026-11-25 is 2031-02-28.
    assert.equal(cert.expires, "2031-02-28");

    const ca = await cli(["ca", "show", "--data", data, "--type", "sign"], env);
    writeFileSync(join(dir, "sign-ca.pem"), ca.stdout);
    const verify = execFileSync("openssl", ["verify", "-CAfile", join(dir, "sign-ca.pem"), join(dir, "sign.pem")], { encoding: "utf8" });
    assert.match(verify, /OK/);
    const text = execFileSync("openssl", ["x509", "-in", join(dir, "sign.pem"), "-noout", "-text", "-nameopt", "utf8"], { encoding: "utf8" });
    assert.match(text, /8\.5\.5\.1::町田　花子/);
    assert.match(text, /8\.5\.5\.4::319880229/);
    assert.match(text, /8\.5\.5\.5::東京都町田市森野２丁目２番２２号/);

    const der = await cli(
      ["ca", "issue", "--data", data, "--type", "auth", "--resident", resident.id, "--pubkey", join(dir, "pub.der"),
        "--out", join(dir, "auth.der")],
      env,
    );
    assert.equal(der.code, 0, der.stderr);
    assert.equal(readFileSync(join(dir, "auth.der"))[0], 0x30, "DER when the file ends in .der");

    const shown = await cli(["resident", "show", "--data", data, "--id", resident.id, "--json"], env);
    assert.deepEqual(shown.json().certificates.map((c: { type: string }) => c.type).sort(), ["auth", "sign"]);
    const listed = await cli(["resident", "list", "--data", data, "--json"], env);
    assert.equal(listed.json().residents.length, 1);
  });

  test("refusals and bad input: one line on stderr naming the problem, non-zero exit", async () => {
    const cases: [string[], RegExp][] = [
      [["ca", "issue", "--type", "sign", "--resident", "R-NOSUCHONE0", "--pubkey", join(dir, "pub.pem")], /no resident with id R-NOSUCHONE0/],
      [["ca", "issue", "--type", "both", "--resident", "x", "--pubkey", join(dir, "pub.pem")], /--type must be one of sign, auth/],
      [["ca", "issue", "--type", "auth", "--resident", "x", "--pubkey", join(dir, "missing.pem")], /--pubkey: cannot read/],
      [["ca", "issue", "--type", "auth", "--resident", "x", "--pubkey", join(dir, "ec.pem")], /--pubkey: .*ec key; JPKI certificates are RSA/],
      [["resident", "add", "--name", "山田", "--birth", "1990-01-01", "--gender", "1", "--address", "東京都", "--municipality", "132098"], /name/],
      [["resident", "add", "--name", "山田 太郎", "--birth", "1990-01-01", "--gender", "1", "--address", "東京都", "--municipality", "123456"], /municipality/],
      [["resident", "frobnicate"], /unknown command "resident frobnicate"/],
    ];
    for (const [args, pattern] of cases) {
      const r = await cli([...args, "--data", data], env);
      assert.notEqual(r.code, 0, args.join(" "));
      assert.match(r.stderr, pattern, args.join(" "));
      assert.equal(r.stderr.trim().split("\n").length, 1, `one line: ${r.stderr}`);
    }
  });

  test("resident emigrate files a departure ahead (withdraw-emigration takes it back); apply-departures applies it on the day", async () => {
    const added = await cli(
      ["resident", "add", "--data", data, "--name", "海外 太郎", "--birth", "1975-06-01", "--gender", "1",
        "--address", "東京都町田市森野１－１－１", "--municipality", "132098", "--json"],
      env,
    );
    const id = added.json().id;
    const issued = await cli(["ca", "issue", "--data", data, "--type", "sign", "--resident", id, "--pubkey", join(dir, "pub.pem"), "--json"], env);
    assert.equal(issued.code, 0, issued.stderr);
    const filed = await cli(
      ["resident", "emigrate", "--data", data, "--id", id, "--departure", "2026-12-01", "--continued-use", "--abroad-address", "アメリカ合衆国", "--json"],
      env,
    );
    assert.equal(filed.code, 0, filed.stderr);
    assert.deepEqual(filed.json().revoked, []);
    assert.match((await cli(["resident", "show", "--data", data, "--id", id], env)).stdout, /emigration filed: departure 2026-12-01（継続利用/);
    // Withdrawn and filed again (the day was wrong): the same filing stands.
    const withdrawn = await cli(["resident", "withdraw-emigration", "--data", data, "--id", id], env);
    assert.equal(withdrawn.code, 0, withdrawn.stderr);
    assert.match(withdrawn.stdout, new RegExp(`withdrew the emigration of ${id} filed for departure on 2026-12-01`));
    assert.doesNotMatch((await cli(["resident", "show", "--data", data, "--id", id], env)).stdout, /emigration filed/);
    const again = await cli(["resident", "withdraw-emigration", "--data", data, "--id", id], env);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /has no emigration filed/);
    const refiled = await cli(["resident", "emigrate", "--data", data, "--id", id, "--departure", "2026-12-01", "--continued-use", "--abroad-address", "アメリカ合衆国"], env);
    assert.equal(refiled.code, 0, refiled.stderr);
    const early = await cli(["resident", "apply-departures", "--data", data], env);
    assert.match(early.stdout, /no emigration is due/);
    const onTheDay = await cli(["resident", "apply-departures", "--data", data], { OPENJPKI_NOW: "2026-11-30T15:00:05Z" });
    assert.equal(onTheDay.code, 0, onTheDay.stderr);
    assert.match(onTheDay.stdout, new RegExp(`\\(emigration\\) for ${id}\n  転出日 / day of departure: 2026-12-01\n  署名用 ${issued.json().serialHex}: revoked \\(affiliationChanged\\)`));
    const late = await cli(["resident", "emigrate", "--data", data, "--id", id, "--continued-use", "--abroad-address", "アメリカ合衆国"], env);
    assert.equal(late.code, 1);
    assert.match(late.stderr, /already emigrated/);
  });

  test("every command has --help", async () => {
    const { COMMANDS } = await import("../../src/cli/main.ts");
    for (const command of COMMANDS) {
      const r = await cli([...command.path, "--help"]);
      assert.equal(r.code, 0);
      assert.match(r.stdout, new RegExp(`^openjpki ${command.path.join(" ")} `));
      assert.match(r.stdout, /--data DIR/);
      // The common options' descriptions start in the column most of the command's own options use.
      const columns = new Map<number, number>();
      for (const line of command.help) {
        const width = /^ {2}-\S.*?\S {2,}(?=\S)/.exec(line)?.[0].length;
        if (width !== undefined) columns.set(width, (columns.get(width) ?? 0) + 1);
      }
      const column = [...columns].sort((a, b) => b[1] - a[1] || b[0] - a[0])[0]?.[0];
      const data = r.stdout.split("\n").find((line) => line.startsWith("  --data DIR"))!;
      if (column !== undefined && column > "  --data DIR  ".length) assert.equal(data.indexOf("data directory"), column, `${command.path.join(" ")}: ${data}`);
    }
  });

  test("the installed bin runs (tsx loader, exit codes)", () => {
    const ok = spawnSync(process.execPath, [BIN, "ca", "show", "--type", "auth", "--data", data], { encoding: "utf8" });
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /^-----BEGIN CERTIFICATE-----/);
    const bad = spawnSync(process.execPath, [BIN, "rules", "validity", "--birth", "x", "--issued", "2026-01-01"], { encoding: "utf8" });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /^openjpki rules validity: birth: /);
  });
});
