// `openjpki rules validity`: the exact JSON the issue specifies, and errors naming the field.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { cli } from "../helpers/cli.ts";

describe("openjpki rules validity", () => {
  test("prints auth and sign expiry and renewal windows as JSON", async () => {
    const r = await cli(["rules", "validity", "--birth", "1990-01-02", "--issued", "2026-11-25", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.json(), {
      auth: { expires: "2031-01-02", renewalFrom: "2030-10-02" },
      sign: { eligible: true, expires: "2031-01-02", renewalFrom: "2030-10-02" },
    });
  });

  test("an instant is first converted to its JST date (15:00Z is the next day in Japan)", async () => {
    // Birthday 2026-11-26: issued on it (JST), so that birthday does not count.
    const r = await cli(["rules", "validity", "--birth", "1990-11-26", "--issued", "2026-11-25T15:00:00Z", "--json"]);
    assert.equal(r.json().auth.expires, "2031-11-26");
    const before = await cli(["rules", "validity", "--birth", "1990-11-26", "--issued", "2026-11-25T14:59:59Z", "--json"]);
    assert.equal(before.json().auth.expires, "2030-11-26");
  });

  test("renewal gets the 6th birthday; caps apply; under-15 and guardianship are refused for sign", async () => {
    const renewal = await cli(["rules", "validity", "--birth", "1990-06-01", "--issued", "2026-04-01", "--renewal", "--json"]);
    assert.equal(renewal.json().sign.expires, "2031-06-01");
    const capped = await cli([
      "rules", "validity", "--birth", "1990-06-01", "--issued", "2026-04-01",
      "--card-expiry", "2030-12-31", "--auth-expiry", "2029-05-05", "--json",
    ]);
    assert.deepEqual(capped.json().auth, { expires: "2030-06-01", renewalFrom: "2030-03-01" });
    assert.equal(capped.json().sign.expires, "2029-05-05");
    const child = await cli(["rules", "validity", "--birth", "2015-06-01", "--issued", "2026-04-01", "--json"]);
    assert.deepEqual(child.json().sign, { eligible: false, reason: "under-15" });
    const ward = await cli(["rules", "validity", "--birth", "1970-06-01", "--issued", "2026-04-01", "--guardianship", "--json"]);
    assert.deepEqual(ward.json().sign, { eligible: false, reason: "guardianship" });
  });

  test("bad input exits non-zero with one line naming the field", async () => {
    const cases: [string[], RegExp][] = [
      [["--birth", "1990-02-29", "--issued", "2026-01-01"], /birth/],
      [["--birth", "1990-01-01", "--issued", "1980-01-01"], /issued/],
      [["--birth", "1990-01-01", "--issued", "2026-13-01"], /issued/],
      [["--birth", "1990-01-01", "--issued", "2026-01-01", "--card-expiry", "2026-02-31"], /card-expiry/],
      [["--birth", "1990-01-01", "--issued", "2026-01-01", "--frobnicate"], /--frobnicate/],
      [["--issued", "2026-01-01"], /--birth is required/],
    ];
    for (const [args, pattern] of cases) {
      const r = await cli(["rules", "validity", ...args]);
      assert.notEqual(r.code, 0, args.join(" "));
      assert.equal(r.stdout, "");
      assert.match(r.stderr, pattern);
      assert.equal(r.stderr.trim().split("\n").length, 1, `one line: ${r.stderr}`);
    }
  });

  test("the rules' refusals read as before their Japanese was written at the source: the field, 日本語 / English", async () => {
    const cases: [string[], string][] = [
      [["--birth", "2023-02-30", "--issued", "2026-01-01"], "birth: 2023-02-30 は暦にない日付です / 2023-02-30 is not a calendar date"],
      [
        ["--birth", "1990-01-01", "--issued", "2026-01-01T10:00:00"],
        'issued: 時刻にタイムゾーンがないため日本の日付が決まりません。Z か +09:00 のような時差を付けてください / "2026-01-01T10:00:00" has no time zone, so its Japan date is ambiguous; add Z or an offset such as +09:00',
      ],
      [
        ["--birth", "1990-01-01", "--issued", "2026-01-01", "--card-expiry", "2025-12-31"],
        "card-expiry: 2025-12-31 は発行日（2026-01-01）より前のため、有効な電子証明書を発行できません / 2025-12-31 is before the issuance date 2026-01-01, so no certificate could be valid",
      ],
      [["--birth", "1990-01-01", "--issued", "1989-12-31"], "issued: 1989-12-31 は生年月日（1990-01-01）より前です / 1989-12-31 is before the birth date 1990-01-01"],
    ];
    for (const [args, message] of cases) {
      const r = await cli(["rules", "validity", ...args]);
      assert.equal(r.code, 1, args.join(" "));
      assert.equal(r.stderr, `openjpki rules validity: ${message}\n`);
    }
  });
});
