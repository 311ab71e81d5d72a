// A CA whose HSM fails after start-up: what it cannot sign is refused as the CA being unavailable
// (503, retry later), naming the CA and the token, not as an internal error.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ServiceError } from "../../src/services/errors.ts";
import { buildApp } from "../../src/http/app.ts";
import { openTestContext, type TestContext } from "../helpers/context.ts";
import { testPublicKeys } from "../helpers/keys.ts";
import { privateSoftHsm, SOFTHSM_MODULE, type SoftHsm } from "../helpers/softhsm.ts";
import { CaKeys, pkcs11Uri } from "../../src/services/ca-keys.ts";
import { Pkcs11Token } from "../../src/pki/pkcs11-token.ts";

const PIN = "hsm-user-1234";

let hsm: SoftHsm;
before(() => {
  hsm = privateSoftHsm();
  hsm.initToken("fail-token", PIN);
  hsm.initToken("loose-token", PIN);
  // A key made by hand, as a tool makes it by default or when asked: readable in clear, extractable.
  execFileSync("pkcs11-tool", ["--module", SOFTHSM_MODULE, "--token-label", "loose-token", "--login", "--pin", PIN, "--keypairgen", "--key-type", "rsa:2048", "--label", "loose-key", "--id", "01", "--usage-sign", "--extractable"], { stdio: "pipe", env: process.env });
});
after(() => hsm.cleanup());

describe("a token key that could leave the token", () => {
  test("is refused as a CA key: only a sensitive, non-extractable key is used", async () => {
    const probe = await Pkcs11Token.open({ module: SOFTHSM_MODULE, token: "loose-token", pin: PIN });
    try {
      const protection = probe.protection("loose-key");
      assert.equal(protection.extractable, true, "the key made for this test is extractable");
      const keys = await CaKeys.open(hsm.env("loose-token", PIN), "review-passphrase-0123456789");
      try {
        await assert.rejects(keys.load(pkcs11Uri("loose-token", "loose-key"), "sign CA", probe.signer("loose-key").publicKey), (error: unknown) => {
          assert.ok(error instanceof ServiceError, `expected a ServiceError, got ${String(error)}`);
          assert.equal(error.code, "ca-unavailable");
          assert.match(error.message, /sign CA: the token loose-token lets the key loose-key be (extracted|read)/);
          return true;
        });
      } finally {
        await keys.close();
      }
    } finally {
      await probe.close();
    }
  });
});

describe("a CA whose HSM token fails after start-up", () => {
  let t: TestContext;
  before(async () => {
    t = await openTestContext("sqlite", { now: "2026-11-25T03:00:00Z", settings: { openStatus: true }, env: hsm.env("fail-token", PIN) });
  });
  after(() => t.cleanup());

  test("issuance and CRLs are refused as ca-unavailable (HTTP 503) naming the CA, and say what the token said", async () => {
    const resident = await t.context.registry.add({ name: "町田 五郎", birth: "1970-01-01", gender: "1", address: "東京都町田市森野２－２－２２", municipality: "132098" });
    // The token goes away under the running CA (a reset or removed HSM). Last in this file: every token goes.
    for (const entry of readdirSync(join(hsm.dir, "tokens"))) rmSync(join(hsm.dir, "tokens", entry), { recursive: true, force: true });
    await assert.rejects(t.context.ca.issue({ type: "auth", residentId: resident.id, subjectPublicKey: testPublicKeys(1)[0]! }), (error: unknown) => {
      assert.ok(error instanceof ServiceError, `expected a ServiceError, got ${String(error)}`);
      assert.equal(error.code, "ca-unavailable");
      assert.match(error.message, /auth CA.*token fail-token/);
      return true;
    });
    await assert.rejects(t.context.crls.build("sign", undefined), (error: unknown) => {
      assert.ok(error instanceof ServiceError, `expected a ServiceError, got ${String(error)}`);
      assert.equal(error.code, "ca-unavailable");
      assert.match(error.message, /sign CA.*token fail-token/);
      return true;
    });
    const app = await buildApp(t.context);
    try {
      const answer = await app.inject({ method: "GET", url: "/crl/sign.crl" });
      assert.equal(answer.statusCode, 503, answer.body);
      assert.equal(answer.json().error.code, "ca-unavailable");
    } finally {
      await app.close();
    }
  });
});
