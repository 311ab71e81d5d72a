// `openjpki issuance-client add|list|deactivate` on a fresh data directory; the key it prints
// is the one the issuance API accepts.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cli } from "../helpers/cli.ts";
import { Context } from "../../src/services/context.ts";

describe("openjpki issuance-client commands", () => {
  let dir: string;
  let data: string;
  const env = { OPENJPKI_NOW: "2026-11-25T03:00:00Z", OPENJPKI_CA_PASSPHRASE: "openjpki-test-passphrase-0123456789" };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "openjpki-cli-"));
    data = join(dir, "data");
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("add prints the key once; list shows the client; the key authenticates; deactivate ends it", async () => {
    const added = await cli(["issuance-client", "add", "--data", data, "--name", "町田市 交付システム", "--municipality", "132098"], env);
    assert.equal(added.code, 0, added.stderr);
    const key = /^(oji_\S+)$/m.exec(added.stdout)?.[1];
    const id = /registered (I-[0-9A-F]{10})/.exec(added.stdout)?.[1];
    assert.ok(key && id, added.stdout);
    assert.match(added.stdout, /Authorization: Bearer/);

    const listed = await cli(["issuance-client", "list", "--data", data, "--json"], env);
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(
      listed.json().clients.map((c: { id: string; municipality: string; active: boolean }) => [c.id, c.municipality, c.active]),
      [[id, "132098", true]],
    );
    assert.ok(!listed.stdout.includes(key), "list never shows a key");

    const context = await Context.open({ dataDir: data, env });
    try {
      assert.equal((await context.issuanceClients.authenticate(key))?.id, id);
    } finally {
      await context.close();
    }

    const deactivated = await cli(["issuance-client", "deactivate", "--data", data, "--id", id], env);
    assert.equal(deactivated.code, 0, deactivated.stderr);
    assert.match((await cli(["issuance-client", "list", "--data", data], env)).stdout, /\(inactive\)/);
    const again = await cli(["issuance-client", "deactivate", "--data", data, "--id", id], env);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already inactive/);
  });

  test("errors name the option or field at fault", async () => {
    const noName = await cli(["issuance-client", "add", "--data", data, "--municipality", "132098"], env);
    assert.equal(noName.code, 2);
    assert.match(noName.stderr, /--name is required/);
    const badCode = await cli(["issuance-client", "add", "--data", data, "--name", "x", "--municipality", "999999"], env);
    assert.equal(badCode.code, 1);
    assert.match(badCode.stderr, /municipality: 市区町村コード 999999 は登録されていません \/ unknown municipality code 999999/);
  });
});
