import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { Context } from "../../src/services/context.ts";
import { cli } from "../helpers/cli.ts";
import { TEST_PASSPHRASE } from "../helpers/context.ts";

const env = { OPENJPKI_CA_PASSPHRASE: TEST_PASSPHRASE };
const ROWS = 1200; // above the progress bar's threshold (1,000 certificates)
let data: string;

before(async () => {
  data = mkdtempSync(join(tmpdir(), "openjpki-cli-ocsp-"));
  // Signing-certificate rows written straight into the store (no DER: OCSP never reads it).
  const context = await Context.open({ dataDir: data, env });
  try {
    const resident = await context.registry.add({ name: "応答 花子", birth: "1985-05-05", gender: "2", address: "東京都千代田区霞が関２－１－２", municipality: "131016" });
    const rows = Array.from({ length: ROWS }, (_, i) => {
      const serial = randomBytes(16);
      serial[0] = (serial[0]! & 0x3f) | 0x40;
      const serialHex = serial.toString("hex").toUpperCase();
      const revoked = i % 10 === 0;
      return {
        ca_type: "sign" as const, serial_hex: serialHex, authority_id: "sign-1", resident_id: resident.id, card_id: null, subject_cn: `ROW${serialHex}`,
        municipality_code: "131016", not_before: "2025-01-01T00:00:00.000Z", not_after: "2031-03-31T14:59:59.000Z", expires: "2031-03-31",
        issued_at: "2025-01-01T00:00:00.000Z", status: revoked ? ("revoked" as const) : ("valid" as const),
        revoked_at: revoked ? "2025-06-01T00:00:00.000Z" : null, revocation_reason: revoked ? "superseded" : null, invalidity_date: null, revoked_by: revoked ? "operator" : null,
      };
    });
    for (let i = 0; i < rows.length; i += 200) await context.store.db.insertInto("certificates").values(rows.slice(i, i + 200)).execute();
  } finally {
    await context.close();
  }
});

after(() => rmSync(data, { recursive: true, force: true }));

test("ocsp refresh: signs every due answer with a progress bar, then finds them fresh; --within re-signs", async () => {
  const first = await cli(["ocsp", "refresh", "--data", data, "--type", "sign", "--json"], env);
  assert.equal(first.code, 0, first.stderr);
  const [sign] = first.json().refreshed;
  assert.equal(sign.type, "sign");
  assert.equal(sign.certificates, ROWS);
  assert.equal(sign.signed, ROWS);
  assert.equal(sign.fresh, 0);
  assert.ok(sign.batches >= 2, "committed in batches");
  assert.match(first.stderr, /sign \[#+\.*\] +100\.0 % 1,200\/1,200 certificates, 1,200 signed/);

  const second = await cli(["ocsp", "refresh", "--data", data, "--type", "sign", "--json"], env);
  assert.equal(second.code, 0, second.stderr);
  assert.deepEqual([second.json().refreshed[0].signed, second.json().refreshed[0].fresh], [0, ROWS]);

  // Answers live 10 minutes (the default): a one-hour window makes every one due.
  const window = await cli(["ocsp", "refresh", "--data", data, "--type", "sign", "--within", "1"], env);
  assert.equal(window.code, 0, window.stderr);
  assert.match(window.stdout, /^sign: 1200 件署名 \/ signed 1200 answers \(\d+\/s\), 0 件は有効 \/ still fresh, 1200 certificates; nextUpdate \d{4}-/m);
});

test("ocsp refresh: both CAs by default; refuses a bad --type or --within", async () => {
  const both = await cli(["ocsp", "refresh", "--data", data, "--json"], env);
  assert.equal(both.code, 0, both.stderr);
  assert.deepEqual(both.json().refreshed.map((r: { type: string }) => r.type), ["sign", "auth"]);
  const badType = await cli(["ocsp", "refresh", "--data", data, "--type", "both"], env);
  assert.equal(badType.code, 2);
  assert.match(badType.stderr, /--type must be one of sign, auth, not "both"/);
  const badWithin = await cli(["ocsp", "refresh", "--data", data, "--within", "soon"], env);
  assert.equal(badWithin.code, 2);
  assert.match(badWithin.stderr, /--within must be a number of hours, not "soon"/);
  const help = await cli(["ocsp", "refresh", "--help"], env);
  assert.match(help.stdout, /--within HOURS/);
});
