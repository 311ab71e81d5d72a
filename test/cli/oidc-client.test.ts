// `openjpki oidc client add|list` on a fresh data directory: list shows what add registered,
// never a secret; a name that is not one line of text is refused naming the field.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cli } from "../helpers/cli.ts";

describe("openjpki oidc client commands", () => {
  let dir: string;
  let data: string;
  const env = { OPENJPKI_NOW: "2026-11-25T03:00:00Z", OPENJPKI_CA_PASSPHRASE: "openjpki-test-passphrase-0123456789" };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "openjpki-cli-oidc-"));
    data = join(dir, "data");
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("list shows the registered clients, confidential and public, without their secrets", async () => {
    const empty = await cli(["oidc", "client", "list", "--data", data], env);
    assert.equal(empty.code, 0, empty.stderr);
    assert.match(empty.stdout, /no OIDC clients/);

    const bank = await cli(["oidc", "client", "add", "--data", data, "--name", "電子申請サービス", "--redirect-uri", "https://rp.example/callback", "--json"], env);
    assert.equal(bank.code, 0, bank.stderr);
    const app = await cli(["oidc", "client", "add", "--data", data, "--name", "手元のアプリ", "--redirect-uri", "http://127.0.0.1:7000/cb", "--public", "--public-subject", "--json"], env);
    assert.equal(app.code, 0, app.stderr);
    const secret = bank.json().clientSecret as string;
    assert.ok(secret);

    const listed = await cli(["oidc", "client", "list", "--data", data, "--json"], env);
    assert.equal(listed.code, 0, listed.stderr);
    const byId = new Map(listed.json().clients.map((c: { clientId: string }) => [c.clientId, c]));
    assert.deepEqual(byId.get(bank.json().clientId), { clientId: bank.json().clientId, name: "電子申請サービス", redirectUris: ["https://rp.example/callback"], public: false, subjectType: "pairwise" });
    assert.deepEqual(byId.get(app.json().clientId), { clientId: app.json().clientId, name: "手元のアプリ", redirectUris: ["http://127.0.0.1:7000/cb"], public: true, subjectType: "public" });
    assert.ok(!listed.stdout.includes(secret), "never the secret");
    const text = await cli(["oidc", "client", "list", "--data", data], env);
    assert.match(text.stdout, new RegExp(`${bank.json().clientId}  confidential  pairwise  電子申請サービス  https://rp.example/callback`));
    assert.ok(!text.stdout.includes(secret));
  });

  test("a name with a line break is refused naming the field", async () => {
    const forged = await cli(["oidc", "client", "add", "--data", data, "--name", "銀行\nrp_fake  confidential", "--redirect-uri", "https://rp.example/cb"], env);
    assert.notEqual(forged.code, 0);
    assert.match(forged.stderr, /name/);
  });
});
