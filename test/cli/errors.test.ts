// What the CLI says when the command line, the environment or the machine is wrong: one line
// that names the problem, never a stack trace.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateKeyPairSync } from "node:crypto";
import { cli, type CliResult } from "../helpers/cli.ts";
import { testPublicKeys } from "../helpers/keys.ts";

const NOW = { OPENJPKI_NOW: "2026-11-25T03:00:00Z" };
const PASSPHRASE = { ...NOW, OPENJPKI_CA_PASSPHRASE: "cli-test-passphrase-0123456789" };

/** One line on stderr, no stack frame. */
function oneLine(r: CliResult): string {
  assert.doesNotMatch(r.stderr, /\n\s+at /, r.stderr);
  assert.equal(r.stderr.trimEnd().split("\n").length, 1, r.stderr);
  return r.stderr;
}

describe("openjpki: errors name the problem", () => {
  let dir: string;
  let data: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "openjpki-cli-errors-"));
    data = join(dir, "data");
    assert.equal((await cli(["init", "--data", data], PASSPHRASE)).code, 0);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("--data and --json may come before the command", async () => {
    const r = await cli(["--data", data, "--json", "resident", "list"], PASSPHRASE);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.json(), { residents: [] });
    const equals = await cli([`--data=${data}`, "resident", "list", "--json"], PASSPHRASE);
    assert.deepEqual(equals.json(), { residents: [] });
  });

  test("a command group without its subcommand lists them (exit 2)", async () => {
    const r = await cli(["card"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /give one of its subcommands/);
    assert.match(r.stderr, /^ {2}card issue /m);
    assert.match(r.stderr, /^ {2}card read-cert /m);
    assert.doesNotMatch(r.stderr, /resident add/);
    assert.match((await cli(["nonsense"])).stderr, /unknown command "nonsense"/);
  });

  test("an option value that starts with a dash says how to give it", async () => {
    const r = await cli(["ocsp", "refresh", "--data", data, "--within", "-5"], PASSPHRASE);
    assert.equal(r.code, 2);
    assert.match(oneLine(r), /--within has no value, or its value starts with "-" \(then write --within=VALUE\)/);
  });

  test("--data naming a file", async () => {
    const file = join(dir, "a-file");
    writeFileSync(file, "");
    const r = await cli(["resident", "list", "--data", file], PASSPHRASE);
    assert.equal(r.code, 1);
    assert.match(oneLine(r), new RegExp(`data directory ${file}: exists and is not a directory`));
  });

  test("OPENJPKI_PUBLIC_URL that is not a base URL is refused before anything is issued", async () => {
    const r = await cli(["resident", "list", "--data", data], { ...PASSPHRASE, OPENJPKI_PUBLIC_URL: "notaurl" });
    assert.equal(r.code, 1);
    assert.match(oneLine(r), /OPENJPKI_PUBLIC_URL must be an http\(s\) base URL such as http:\/\/127\.0\.0\.1:8080, not "notaurl"/);
  });

  test("a PostgreSQL server that cannot be reached is named, without its password", async () => {
    const closed = await freePort();
    const r = await cli(["resident", "list", "--data", join(dir, "pg")], { ...PASSPHRASE, OPENJPKI_DATABASE_URL: `postgres://someone:s3cret@127.0.0.1:${closed}/none` });
    assert.equal(r.code, 1);
    const line = oneLine(r);
    assert.match(line, new RegExp(`PostgreSQL postgres://someone:\\*\\*\\*@127\\.0\\.0\\.1:${closed}/none \\(OPENJPKI_DATABASE_URL\\)`));
    assert.match(line, /ECONNREFUSED/);
    assert.doesNotMatch(line, /s3cret/);
    // Another scheme is named as such, not looked up as a host name.
    const mysql = await cli(["resident", "list", "--data", join(dir, "pg")], { ...PASSPHRASE, OPENJPKI_DATABASE_URL: "mysql://root:pw@x/db" });
    assert.equal(mysql.code, 1);
    assert.match(oneLine(mysql), /OPENJPKI_DATABASE_URL must be a postgres:\/\/ or postgresql:\/\/ URL .*not "mysql:\/\/root:\*\*\*@x\/db"/);
    assert.doesNotMatch(oneLine(mysql), /ENOTFOUND|pw@/);
  });

  test("a store whose CA keys were made under another passphrase, opened from a new data directory", async () => {
    // As a second node pointed at the first one's database: here, a copy of its SQLite store.
    const first = join(dir, "first");
    assert.equal((await cli(["init", "--data", first], NOW)).code, 0);
    const second = join(dir, "second");
    mkdirSync(second);
    copyFileSync(join(first, "openjpki.sqlite"), join(second, "openjpki.sqlite"));
    const r = await cli(["resident", "list", "--data", second], NOW);
    assert.equal(r.code, 1);
    assert.match(oneLine(r), /the CA keys in this store were made under another passphrase, and this data directory had none/);
    assert.equal(existsSync(join(second, "ca-passphrase")), false, "the useless passphrase is not left behind");
    const withFile = await cli(["resident", "list", "--data", second], { ...NOW, OPENJPKI_CA_PASSPHRASE_FILE: join(first, "ca-passphrase") });
    assert.equal(withFile.code, 0, withFile.stderr);
  });

  test("an empty ca-passphrase (a first start killed while writing it, before this was atomic) is refused with what to do", async () => {
    const emptied = join(dir, "emptied");
    mkdirSync(emptied);
    writeFileSync(join(emptied, "ca-passphrase"), "");
    const r = await cli(["resident", "list", "--data", emptied], NOW);
    assert.equal(r.code, 1);
    assert.match(oneLine(r), /ca-passphrase is empty\. .*if this store has no CA keys yet \(a new data directory\), delete the file and start again/);
    rmSync(join(emptied, "ca-passphrase"));
    const again = await cli(["resident", "list", "--data", emptied], NOW);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(statSync(join(emptied, "ca-passphrase")).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(emptied).filter((n) => n.endsWith(".tmp")), [], "no temporary file left");
  });

  test("serve on a port already in use says so and what to do", async () => {
    const busy = await listening();
    try {
      const port = (busy.address() as { port: number }).port;
      const r = await cli(["serve", "--data", data, "--port", String(port)], PASSPHRASE);
      assert.equal(r.code, 1);
      assert.match(oneLine(r), new RegExp(`127\\.0\\.0\\.1:${port} is already in use: stop what listens there, or choose another port with --port`));
    } finally {
      await new Promise((resolve) => busy.close(resolve));
    }
  });

  test("a gender code not among 1, 2, 3 is a command-line error (exit 2), for add and change alike", async () => {
    const add = await cli(["resident", "add", "--data", data, "--name", "森野 四郎", "--birth", "1975-05-05", "--gender", "4",
      "--address", "東京都町田市森野１－１", "--municipality", "132098"], PASSPHRASE);
    assert.equal(add.code, 2);
    assert.match(oneLine(add), /--gender must be one of 1, 2, 3, not "4"/);
    const change = await cli(["resident", "change", "--data", data, "--id", "R-0000000000", "--gender", "male"], PASSPHRASE);
    assert.equal(change.code, 2);
    assert.match(oneLine(change), /--gender must be one of 1, 2, 3, not "male"/);
  });

  test("ca issue refuses a private key for --pubkey", async () => {
    const resident = (await cli(["resident", "add", "--data", data, "--name", "森野 一郎", "--birth", "1975-05-05", "--gender", "1",
      "--address", "東京都町田市森野１－１", "--municipality", "132098", "--json"], PASSPHRASE)).json().id;
    const keyFile = join(dir, "private.pem");
    writeFileSync(keyFile, generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" }));
    const r = await cli(["ca", "issue", "--data", data, "--type", "auth", "--resident", resident, "--pubkey", keyFile], PASSPHRASE);
    assert.equal(r.code, 1);
    assert.match(oneLine(r), /holds a private key; give the public key only/);
    const pub = join(dir, "public.pem");
    writeFileSync(pub, testPublicKeys(1)[0]!.export({ type: "spki", format: "pem" }));
    assert.equal((await cli(["ca", "issue", "--data", data, "--type", "auth", "--resident", resident, "--pubkey", pub], PASSPHRASE)).code, 0);
    // An --out that cannot be written is refused before anything is issued (a certificate, once issued, is recorded).
    const certificates = async () => (await cli(["resident", "show", "--data", data, "--id", resident, "--json"], PASSPHRASE)).json().certificates.length;
    const before = await certificates();
    const nowhere = await cli(["ca", "issue", "--data", data, "--type", "sign", "--resident", resident, "--pubkey", pub, "--out", join(dir, "no-such-dir", "x.pem")], PASSPHRASE);
    assert.equal(nowhere.code, 2);
    assert.match(oneLine(nowhere), /--out .*x\.pem: cannot be written \(no such directory\); nothing was issued/);
    assert.equal(await certificates(), before);
  });

  test("card issue refuses a second current card for the same resident (a lost card is reissued)", async () => {
    const resident = (await cli(["resident", "add", "--data", data, "--name", "中町 二郎", "--birth", "1980-01-02", "--gender", "1",
      "--address", "東京都町田市中町１－１", "--municipality", "132098", "--json"], PASSPHRASE)).json().id;
    const issue = () => cli(["card", "issue", "--data", data, "--resident", resident, "--auth-pin", "1234", "--sign-pin", "ABC123", "--json"], PASSPHRASE);
    const first = await issue();
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.json().certificates.length, 2);
    const second = await issue();
    assert.equal(second.code, 1);
    assert.match(oneLine(second), new RegExp(`the resident already holds card ${first.json().id}: use reissue for a lost or damaged card`));
    const cards = (await cli(["card", "list", "--data", data, "--resident", resident, "--json"], PASSPHRASE)).json().cards;
    assert.deepEqual(cards.map((c: { id: string }) => c.id), [first.json().id], "no second card was made");
  });

  test("card issue --no-auth: a card with the signing certificate only; an authentication PIN with it is refused", async () => {
    const resident = (await cli(["resident", "add", "--data", data, "--name", "中町 三郎", "--birth", "1981-01-02", "--gender", "1",
      "--address", "東京都町田市中町１－２", "--municipality", "132098", "--json"], PASSPHRASE)).json().id;
    const both = await cli(["card", "issue", "--data", data, "--resident", resident, "--no-auth", "--auth-pin", "1234", "--sign-pin", "ABC123"], PASSPHRASE);
    assert.equal(both.code, 2);
    assert.match(oneLine(both), /--auth-pin: not with --no-auth/);
    const r = await cli(["card", "issue", "--data", data, "--resident", resident, "--no-auth", "--kenhojo-pin", "5678", "--sign-pin", "ABC123"], PASSPHRASE);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /署名用電子証明書 [0-9A-F]{32}/);
    assert.doesNotMatch(r.stdout, /利用者証明用電子証明書 [0-9A-F]/);
    assert.match(r.stdout, /no authentication certificate: declined/);
  });

  test("card issue for a child: the legal representative applies (--legal-representative, --relationship, --representative-identity)", async () => {
    const child = (await cli(["resident", "add", "--data", data, "--name", "中町 四葉", "--birth", "2018-04-01", "--gender", "2",
      "--address", "東京都町田市中町１－３", "--municipality", "132098", "--json"], PASSPHRASE)).json().id;
    const issue = (...extra: string[]) => cli(["card", "issue", "--data", data, "--resident", child, "--auth-pin", "1234", ...extra], PASSPHRASE);
    const alone = await issue();
    assert.equal(alone.code, 1);
    assert.match(oneLine(alone), /法定代理人.*\(--legal-representative\)\n$/);
    const halfGiven = await issue("--relationship", "parent");
    assert.equal(halfGiven.code, 2);
    assert.match(oneLine(halfGiven), /--relationship goes with --legal-representative/);
    const wrong = await issue("--legal-representative", "中町 一郎", "--relationship", "adult-guardian", "--representative-identity", "passport");
    assert.equal(wrong.code, 1);
    const unidentified = await issue("--legal-representative", "中町 一郎", "--relationship", "parent");
    assert.equal(unidentified.code, 1);
    assert.match(oneLine(unidentified), /the identity document the representative showed \(--representative-identity\)\n$/);
    const unknownDocument = await issue("--legal-representative", "中町 一郎", "--relationship", "parent", "--representative-identity", "library-card");
    assert.equal(unknownDocument.code, 2);
    assert.match(oneLine(unknownDocument), /--representative-identity must be one of my-number-card, driver-licence/);
    const done = await issue("--legal-representative", "中町 一郎", "--relationship", "parent", "--representative-identity", "driver-licence", "--json");
    assert.equal(done.code, 0, done.stderr);
    assert.deepEqual(done.json().certificates.map((c: { type: string }) => c.type), ["auth"], "no signing certificate under 15");
  });
});

function listening(): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve(server));
  });
}

/** A port nothing listens on (taken and released). */
async function freePort(): Promise<number> {
  const server = await listening();
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
