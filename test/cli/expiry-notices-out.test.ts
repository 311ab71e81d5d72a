// `counter expiry-notices --out FILE --format csv` writes the run as it is read, to a temporary
// file beside FILE renamed over it only once the run is read whole: a run that fails part way
// leaves a previous FILE as it was and no temporary file (it used to empty FILE, then remove it),
// and a path that is not a regular file (/dev/null, /dev/stdout) is written through.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Kysely } from "kysely";
import { Context } from "../../src/services/context.ts";
import type { Database } from "../../src/store/schema.ts";
import { cli } from "../helpers/cli.ts";
import { TEST_KDF_ITERATIONS } from "../helpers/context.ts";
import { injectFailure } from "../helpers/file-faults.ts";
import { failingFrom } from "../helpers/faults.ts";

const env = { OPENJPKI_NOW: "2026-11-25T03:00:00Z", OPENJPKI_CA_PASSPHRASE: "cli-test-passphrase-0123456789" };
const FROM = "2031-01-10"; // window 2031-03-10 … 2031-04-09

/** While `body` runs, the CLI's store fails any query that names `day` (read once the days before it are written). */
async function whileStoreFailsOn<T>(day: string, body: () => Promise<T>): Promise<T> {
  const open = Context.open;
  Context.open = async (options) => {
    const context = await open.call(Context, options);
    const store = context.store as { db: Kysely<Database> };
    store.db = failingFrom(store.db, day);
    return context;
  };
  try {
    return await body();
  } finally {
    Context.open = open;
  }
}

describe("openjpki counter expiry-notices --out keeps a previous file until the run is whole", () => {
  let dir: string;
  let data: string;
  let pub: string;
  let out: string;
  const run = (target = out) => cli(["counter", "expiry-notices", "--data", data, "--date", FROM, "--format", "csv", "--out", target, "--json"], env);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "openjpki-cli-expiry-out-"));
    data = join(dir, "data");
    pub = join(dir, "pub");
    mkdirSync(pub);
    out = join(pub, "expiry.csv");
    // Residents expiring on the window's first day (written before the second day is read) and on a later one.
    const context = await Context.open({ dataDir: data, env, caKdfIterations: TEST_KDF_ITERATIONS });
    try {
      const db = context.store.db;
      const authorities = Object.fromEntries((await db.selectFrom("authorities").select(["id", "ca_type"]).execute()).map((r) => [r.ca_type, r.id]));
      for (const [i, expires] of ["2031-03-10", "2031-03-10", "2031-03-20"].entries()) {
        const r = await context.registry.add({ name: `期限 ${i + 1}`, birth: "1980-03-10", gender: "1", address: "東京都町田市森野２－２－２２", municipality: "132098" });
        await db.insertInto("certificates").values({
          ca_type: "auth", serial_hex: `EE0000000${i}`, authority_id: authorities.auth!, resident_id: r.id, card_id: null, subject_cn: `test ${i}`,
          municipality_code: "132098", not_before: "2026-01-10T00:00:00Z", not_after: `${expires}T14:59:59Z`, expires, issued_at: "2026-01-10T00:00:00Z",
          status: "valid", revoked_at: null, revocation_reason: null, invalidity_date: null, revoked_by: null,
        }).execute();
      }
    } finally {
      await context.close();
    }
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("a run that fails part way leaves the previous file as it was, and no temporary file", async () => {
    writeFileSync(out, "the previous run\r\n");
    const r = await whileStoreFailsOn("2031-03-11", run);
    assert.notEqual(r.code, 0, r.stdout);
    assert.match(r.stderr, /the store went away/);
    assert.equal(readFileSync(out, "utf8"), "the previous run\r\n");
    assert.deepEqual(readdirSync(pub), ["expiry.csv"]);
  });

  test("a run that fails part way with no previous file leaves none", async () => {
    rmSync(out, { force: true });
    const r = await whileStoreFailsOn("2031-03-11", run);
    assert.notEqual(r.code, 0, r.stdout);
    assert.deepEqual(readdirSync(pub), []);
  });

  test("a whole run replaces the file, readable by its owner only, and leaves no temporary file", async () => {
    rmSync(out, { force: true });
    const r = await run();
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.json().count, 3);
    const lines = readFileSync(out, "utf8").trim().split("\r\n");
    assert.deepEqual(lines.slice(1).map((l) => l.split(",").at(-2)), ["2031-03-10", "2031-03-10", "2031-03-20"]);
    assert.equal(statSync(out).mode & 0o777, 0o600);
    writeFileSync(out, "the previous run\r\n");
    assert.equal((await run()).code, 0);
    assert.equal(readFileSync(out, "utf8").trim().split("\r\n").length, 4, "a previous file replaced");
    assert.deepEqual(readdirSync(pub), ["expiry.csv"]);
  });

  test("the PDF too: a disk that fills up while it is written leaves the previous file as it was", async () => {
    const pdf = join(pub, "expiry.pdf");
    writeFileSync(pdf, "the previous PDF");
    const undo = await injectFailure(pub, "write");
    let r;
    try {
      r = await cli(["counter", "expiry-notices", "--data", data, "--date", FROM, "--format", "pdf", "--out", pdf, "--json"], env);
    } finally {
      undo();
    }
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, /--out: cannot write .*ENOSPC/);
    assert.equal(readFileSync(pdf, "utf8"), "the previous PDF");
    assert.deepEqual(readdirSync(pub).filter((f) => f.endsWith(".tmp")), [], "no temporary file left");
    rmSync(pdf);
  });

  test("a path that is not a regular file is written through, not replaced", async () => {
    const r = await run("/dev/null");
    assert.equal(r.code, 0, r.stderr);
    assert.ok(statSync("/dev/null").isCharacterDevice());
  });
});
