import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cli } from "../helpers/cli.ts";
import { TEST_PASSPHRASE } from "../helpers/context.ts";

test("store partition: names what is wrong with the count, and refuses the SQLite store", async () => {
  const data = mkdtempSync(join(tmpdir(), "openjpki-cli-store-"));
  const env = { OPENJPKI_CA_PASSPHRASE: TEST_PASSPHRASE };
  try {
    const bad = await cli(["store", "partition", "--data", data, "--hash-partitions", "many"], env);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--hash-partitions must be a whole number from 1 to 256, not "many"/);
    const zero = await cli(["store", "partition", "--data", data, "--hash-partitions", "0"], env);
    assert.equal(zero.code, 2);
    assert.match(zero.stderr, /from 1 to 256, not "0"/);
    const sqlite = await cli(["store", "partition", "--data", data], env);
    assert.equal(sqlite.code, 2);
    assert.match(sqlite.stderr, /partitioning needs PostgreSQL/);
  } finally {
    rmSync(data, { recursive: true, force: true });
  }
});
