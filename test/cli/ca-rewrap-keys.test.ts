// `openjpki ca rewrap-keys`: private keys stored at fewer PBKDF2 iterations (the 2,048 of earlier
// versions) — the CA keys, OCSP responder keys, terminal keys and the OIDC signing key — are
// encrypted again at the current count, under the same passphrase, and still sign.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateKeyPairSync } from "node:crypto";
import Database from "better-sqlite3";
import { main } from "../../src/cli/main.ts";
import { encryptedPkcs8Der, readEncryptedPkcs8 } from "../../src/pki/pbes2.ts";
import { Context } from "../../src/services/context.ts";

async function run(args: string[], caKdfIterations: number) {
  let stdout = "";
  let stderr = "";
  const code = await main(args, { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env: { OPENJPKI_NOW: "2026-11-25T03:00:00Z" }, caKdfIterations });
  return { code, stdout, stderr };
}

test("ca rewrap-keys: weaker stored keys are encrypted again at the current count, once; the CAs sign afterwards", async () => {
  const dir = mkdtempSync(join(tmpdir(), "openjpki-rewrap-"));
  const data = join(dir, "data");
  try {
    assert.equal((await run(["init", "--data", data], 1_000)).code, 0, "a store whose keys are at 1,000 iterations");
    // A terminal and the OIDC signing key, made as the server makes them (on first use).
    const context = await Context.open({ dataDir: data, env: {}, caKdfIterations: 1_000 });
    try {
      await context.terminals.terminal("counter-rewrap", "counter");
      await context.oidc.keys();
    } finally {
      await context.close();
    }
    /** Every stored private key: [kind, id, PBKDF2 iterations], in the order the command reports them. */
    const stored = () => {
      const db = new Database(join(data, "openjpki.sqlite"), { readonly: true });
      try {
        const rows = (kind: string, sql: string) =>
          (db.prepare(sql).all() as { id: string; pem: string }[]).map((r) => [kind, r.id, readEncryptedPkcs8(encryptedPkcs8Der(r.pem)).parameters.iterations] as const);
        return [
          ...rows("ca", "select id, private_key_pem as pem from authorities order by id"),
          ...rows("ocsp-responder", "select id, private_key_pem as pem from ocsp_responders order by id"),
          ...rows("terminal", "select id, private_key_pem as pem from terminal_keys order by id"),
          ...rows("oidc", "select name as id, value as pem from server_secrets where name = 'oidc-signing-key'"),
        ];
      } finally {
        db.close();
      }
    };
    assert.deepEqual(stored().map(([kind]) => kind), ["ca", "ca", "ocsp-responder", "ocsp-responder", "terminal", "terminal", "oidc"]);
    assert.ok(stored().every(([, , n]) => n === 1_000));

    const first = await run(["ca", "rewrap-keys", "--data", data, "--json"], 4_096);
    assert.equal(first.code, 0, first.stderr);
    const keys = stored().map(([kind, id]) => ({ kind, id }));
    assert.deepEqual(JSON.parse(first.stdout), { keys: keys.map((k) => ({ ...k, rewrapped: true })) });
    assert.ok(stored().every(([, , n]) => n === 4_096));

    const again = await run(["ca", "rewrap-keys", "--data", data], 4_096);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout, keys.map((k) => `${k.kind} ${k.id}: 変更なし / unchanged\n`).join(""));

    // The re-encrypted keys load (and are checked against their certificates) and sign.
    assert.equal((await run(["resident", "add", "--data", data, "--name", "鍵 花子", "--birth", "1980-01-01", "--gender", "2", "--address", "東京都町田市森野１", "--municipality", "132098", "--json"], 4_096)).code, 0);
    const { publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    writeFileSync(join(dir, "pub.pem"), publicKey.export({ type: "spki", format: "pem" }));
    const list = await run(["resident", "list", "--data", data, "--json"], 4_096);
    const resident = JSON.parse(list.stdout).residents?.[0]?.id ?? JSON.parse(list.stdout)[0]?.id;
    const issued = await run(["ca", "issue", "--data", data, "--type", "auth", "--resident", resident, "--pubkey", join(dir, "pub.pem"), "--json"], 4_096);
    assert.equal(issued.code, 0, issued.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
