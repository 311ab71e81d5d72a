// CA keys in an HSM: SoftHSM2 through PKCS#11, on each store back end. The keys are generated in
// the token, never stored, and everything the CAs sign verifies with OpenSSL.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { verify, X509Certificate } from "node:crypto";
import { ServiceError } from "../../src/services/errors.ts";
import { CaKeys } from "../../src/services/ca-keys.ts";
import { backends, openTestContext, type TestContext, type Backend } from "../helpers/context.ts";
import { testPublicKeys } from "../helpers/keys.ts";
import { privateSoftHsm, SOFTHSM_MODULE, type SoftHsm } from "../helpers/softhsm.ts";
import { Pkcs11Token } from "../../src/pki/pkcs11-token.ts";
import { realpathSync } from "node:fs";
import { dropPostgresSchema } from "../../src/store/database.ts";
import { cli } from "../helpers/cli.ts";
import type { CaType } from "../../src/pki/jpki-profile.ts";

const NOW = "2026-11-25T03:00:00Z";
const PIN = "hsm-user-1234";

let hsm: SoftHsm;
before(() => {
  hsm = privateSoftHsm();
  // Every token is made before any context loads the library: SoftHSM reads its tokens at C_Initialize.
  for (const backend of backends()) hsm.initToken(`ca-${backend}`, PIN);
  hsm.initToken("other-token", PIN);
  hsm.initToken("unit-token", PIN);
  hsm.initToken("twin-token", PIN);
  hsm.initToken("twin-token", PIN);
});
after(() => hsm.cleanup());

async function rejectsWith(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof ServiceError, `expected a ServiceError, got ${String(error)}`);
    assert.equal(error.code, "ca-unavailable");
    assert.match(error.message, pattern);
    return true;
  });
}

for (const backend of backends()) {
  describe(`CA keys in an HSM (SoftHSM2) on ${backend}`, () => {
    const token = `ca-${backend}`;
    const schema = `t_hsm_${Math.random().toString(16).slice(2, 10)}`;
    const dataDir = mkdtempSync(join(tmpdir(), "openjpki-hsm-"));
    const work = mkdtempSync(join(tmpdir(), "openjpki-hsm-out-"));
    const keys = testPublicKeys(40);
    let t: TestContext;
    /** Reopen the same store (a restart), with this environment. */
    const reopen = (env: NodeJS.ProcessEnv) => openTestContext(backend as Backend, { now: NOW, dataDir, schema, env });

    before(async () => {
      t = await reopen(hsm.env(token, PIN));
    });
    after(async () => {
      await t.context.close();
      if (backend === "postgres") await dropPostgresSchema(process.env.DATABASE_URL!, schema);
      rmSync(dataDir, { recursive: true, force: true });
      rmSync(work, { recursive: true, force: true });
    });

    test("the roots' keys are made in the token: the store keeps only a PKCS#11 URI", async () => {
      assert.deepEqual(t.context.initialisation.caKeys, { kind: "hsm", token, module: SOFTHSM_MODULE });
      const rows = await t.context.store.db.selectFrom("authorities").select(["ca_type", "private_key_pem"]).orderBy("ca_type").execute();
      assert.deepEqual(rows.map((r) => r.ca_type), ["auth", "sign"]);
      for (const row of rows) {
        assert.match(row.private_key_pem, new RegExp(`^pkcs11:token=${token};object=openjpki-${row.ca_type}-ca-1-[0-9a-f]{8};type=private$`));
      }
    });

    test("OpenSC's pkcs11-tool sees both keys as sensitive, never extractable, generated in the token, sign-only", () => {
      const out = execFileSync(
        "pkcs11-tool",
        ["--module", SOFTHSM_MODULE, "--token-label", token, "--login", "--pin", PIN, "--list-objects", "--type", "privkey"],
        { encoding: "utf8", env: process.env },
      );
      const objects = out.split(/^(?=Private Key Object)/m).filter((o) => o.startsWith("Private Key Object"));
      assert.equal(objects.length, 2, out);
      for (const object of objects) {
        assert.match(object, /label:\s+openjpki-(sign|auth)-ca-1-[0-9a-f]{8}/);
        assert.match(object, /Access:\s+sensitive, always sensitive, never extractable, local/);
        assert.match(object, /Usage:\s+sign\s*$/m);
      }
    });

    test("the token's own attributes: the keys can only sign, and cannot be changed, copied or exported", async () => {
      const rows = await t.context.store.db.selectFrom("authorities").select("private_key_pem").execute();
      const probe = await Pkcs11Token.open({ module: SOFTHSM_MODULE, token, pin: PIN });
      try {
        for (const { private_key_pem: uri } of rows) {
          const label = decodeURIComponent(/object=([^;]+)/.exec(uri)![1]!);
          assert.deepEqual(probe.protection(label), {
            sensitive: true, extractable: false, neverExtractable: true, local: true, modifiable: false, copyable: false,
            sign: true, signRecover: false, decrypt: false, unwrap: false, derive: false,
          });
        }
      } finally {
        await probe.close();
      }
    });

    test("certificates signed in the token verify with OpenSSL; so does a CRL", async () => {
      const resident = await t.context.registry.add({
        name: "町田 花子", birth: "1990-04-01", gender: "2", address: "東京都町田市森野２－２－２２", municipality: "132098",
      });
      for (const type of ["sign", "auth"] as CaType[]) {
        const issued = await t.context.ca.issue({ type, residentId: resident.id, subjectPublicKey: keys[type === "sign" ? 0 : 1]! });
        writeFileSync(join(work, `${type}-ca.pem`), new X509Certificate(t.context.ca.authority(type).certificateDer).toString());
        writeFileSync(join(work, `${type}.pem`), new X509Certificate(issued.der).toString());
        const verify = spawnSync("openssl", ["verify", "-CAfile", join(work, `${type}-ca.pem`), join(work, `${type}.pem`)], { encoding: "utf8" });
        assert.equal(verify.status, 0, verify.stderr);
        assert.match(verify.stdout, /: OK/);
      }
      const revoked = (await t.context.ca.certificatesOf(resident.id)).find((c) => c.type === "sign")!.serialHex;
      await t.context.ca.revoke({ type: "sign", serialHex: revoked, reason: "keyCompromise", by: "operator" });
      const crl = await t.context.crls.build("sign", undefined);
      writeFileSync(join(work, "sign.crl"), crl.der);
      const check = spawnSync("openssl", ["crl", "-inform", "DER", "-noout", "-CAfile", join(work, "sign-ca.pem"), "-in", join(work, "sign.crl")], { encoding: "utf8" });
      assert.equal(check.status, 0, check.stderr);
      assert.match(check.stderr + check.stdout, /verify OK/);
      const listed = execFileSync("openssl", ["crl", "-inform", "DER", "-noout", "-text", "-in", join(work, "sign.crl")], { encoding: "utf8" });
      assert.match(listed.replace(/\s+/g, " "), new RegExp(`Serial Number: ${revoked.replace(/^0+/, "")}`, "i"));
    });

    test("many issuances at once share the token's sessions and all verify", async () => {
      const resident = await t.context.registry.add({
        name: "町田 次郎", birth: "1975-12-31", gender: "1", address: "東京都町田市中町１－２０－２３", municipality: "132098",
      });
      const issued = await Promise.all(keys.slice(2, 26).map((key) => t.context.ca.issue({ type: "auth", residentId: resident.id, subjectPublicKey: key })));
      const root = new X509Certificate(t.context.ca.authority("auth").certificateDer);
      for (const record of issued) assert.ok(new X509Certificate(record.der).verify(root.publicKey), record.serialHex);
    });

    test("after a restart the CAs find their keys in the token again", async () => {
      await t.context.close();
      t = await reopen(hsm.env(token, PIN));
      assert.deepEqual(t.context.initialisation.createdRoots, []);
      const resident = await t.context.registry.add({
        name: "町田 三郎", birth: "2000-02-29", gender: "1", address: "東京都町田市原町田６－１－１", municipality: "132098",
      });
      const issued = await t.context.ca.issue({ type: "sign", residentId: resident.id, subjectPublicKey: keys[30]! });
      assert.ok(new X509Certificate(issued.der).verify(new X509Certificate(t.context.ca.authority("sign").certificateDer).publicKey));
    });

    test("a store whose keys are in a token does not open without it, nor with the wrong token or PIN", async () => {
      await t.context.close();
      await rejectsWith(reopen({}), new RegExp(`the sign CA key is in the HSM token ${token}; set OPENJPKI_CA_PKCS11_MODULE`));
      await rejectsWith(reopen(hsm.env("other-token", PIN)), new RegExp(`in the HSM token ${token}, but the configured token is other-token`));
      await rejectsWith(reopen(hsm.env(token, "wrong-pin")), new RegExp(`wrong PIN for the token ${token}`));
      await rejectsWith(reopen(hsm.env("no-such-token", PIN)), /no token labelled no-such-token in .*tokens present: .*ca-/);
      const { OPENJPKI_CA_PKCS11_PIN: _pin, ...incomplete } = hsm.env(token, PIN);
      await rejectsWith(reopen(incomplete), /HSM configuration incomplete: OPENJPKI_CA_PKCS11_PIN \(or _PIN_FILE\) missing/);
      t = await reopen(hsm.env(token, PIN));
    });

    test("a key reference pointing at another key is refused before the CA signs anything", async () => {
      const rows = await t.context.store.db.selectFrom("authorities").select(["ca_type", "private_key_pem"]).execute();
      const authKey = rows.find((r) => r.ca_type === "auth")!.private_key_pem;
      const signCertificateKey = t.context.ca.authority("sign").publicKey;
      const keysOnly = await CaKeys.open(hsm.env(token, PIN), "unused-passphrase-0123456789");
      try {
        await rejectsWith(keysOnly.load(authKey, "sign CA", signCertificateKey), /sign CA: the token key does not match the CA certificate's public key/);
        for (const bad of ["pkcs11:token=x;object=y", `pkcs11:token=${token};object=y;type=private;x=%ZZ`, `pkcs11:token=${token};object=a;object=b;type=private`, `pkcs11:token=${token};object=%E0%A4%A;type=private`]) {
          await rejectsWith(keysOnly.load(bad, "sign CA", signCertificateKey), /not a PKCS#11 private-key URI/);
        }
        const signKey = rows.find((r) => r.ca_type === "sign")!.private_key_pem;
        const signer = await keysOnly.load(signKey, "sign CA", signCertificateKey);
        assert.equal(signer.publicKey.export({ format: "jwk" }).n, signCertificateKey.export({ format: "jwk" }).n);
      } finally {
        await keysOnly.close();
      }
    });
  });
}

describe("openjpki init with an HSM", () => {
  test("says the new roots' keys are in the token, and the token holds them", async () => {
    const data = mkdtempSync(join(tmpdir(), "openjpki-hsm-cli-"));
    try {
      const env: NodeJS.ProcessEnv = { OPENJPKI_CA_PASSPHRASE: "cli-test-passphrase-0123456789", ...hsm.env("other-token", PIN) };
      const r = await cli(["init", "--data", data, "--json"], env);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.json().caKeys, { kind: "hsm", token: "other-token", module: SOFTHSM_MODULE });
      const listed = execFileSync("pkcs11-tool", ["--module", SOFTHSM_MODULE, "--token-label", "other-token", "--login", "--pin", PIN, "--list-objects", "--type", "privkey"], { encoding: "utf8" });
      assert.equal(listed.match(/label:\s+openjpki-(sign|auth)-ca-1-[0-9a-f]{8}/g)?.length, 2, listed);
      assert.match(r.stderr, /with the sign and auth CA \(HSM トークン other-token 内の鍵 \/ keys in the HSM token other-token\)/);
      const text = await cli(["init", "--data", data], env);
      assert.match(text.stdout, /already there \(nothing created\); new keys would go to: HSM token other-token/);
      const { OPENJPKI_CA_PKCS11_PIN: _pin, ...noPin } = env;
      const refused = await cli(["init", "--data", data], noPin);
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, /OPENJPKI_CA_PKCS11_PIN \(or _PIN_FILE\) missing/);
    } finally {
      rmSync(data, { recursive: true, force: true });
    }
  });
});

describe("the PKCS#11 token", () => {
  const data = Buffer.from("to be signed");

  test("a second open in the same process must bring the PIN that logged in, whatever path names the library", async () => {
    const first = await Pkcs11Token.open({ module: SOFTHSM_MODULE, token: "unit-token", pin: PIN });
    const realPath = realpathSync(SOFTHSM_MODULE);
    try {
      await first.generateRsaKey("unit-key");
      // The token is logged in now and would accept any PIN: the module checks it instead.
      for (const module of [SOFTHSM_MODULE, realPath]) {
        await assert.rejects(Pkcs11Token.open({ module, token: "unit-token", pin: "not-the-pin" }), /wrong PIN for the token unit-token/);
      }
      const second = await Pkcs11Token.open({ module: realPath, token: "unit-token", pin: PIN });
      const signer = second.signer("unit-key");
      assert.ok(verify("sha256", data, signer.publicKey, await signer.sign(data)));
      await second.close();
      // Closing the second left the library and the login to the first.
      const signature = await first.signer("unit-key").sign(data);
      assert.ok(verify("sha256", data, first.signer("unit-key").publicKey, signature));
    } finally {
      await first.close();
    }
    // With every user closed the token itself checks the PIN again (not a login record of ours).
    await assert.rejects(Pkcs11Token.open({ module: SOFTHSM_MODULE, token: "unit-token", pin: "not-the-pin" }), (error: Error) => {
      assert.match(error.message, /wrong PIN for the token unit-token/);
      assert.match(String((error.cause as Error | undefined)?.message), /CKR_PIN_INCORRECT/);
      return true;
    });
  });

  test("two tokens with one label, a relative library path and a taken key label are refused", async () => {
    await assert.rejects(Pkcs11Token.open({ module: SOFTHSM_MODULE, token: "twin-token", pin: PIN }), /2 tokens are labelled twin-token/);
    await assert.rejects(Pkcs11Token.open({ module: "libsofthsm2.so", token: "unit-token", pin: PIN }), /must be absolute/);
    const token = await Pkcs11Token.open({ module: SOFTHSM_MODULE, token: "unit-token", pin: PIN });
    try {
      await assert.rejects(token.generateRsaKey("unit-key"), /already holds a key labelled unit-key/);
      assert.throws(() => token.signer("no such key"), /printable ASCII/);
      assert.throws(() => token.signer("no-such-key"), /holds no private key labelled no-such-key/);
    } finally {
      await token.close();
    }
  });

  test("closing while signing: what is in the token finishes, what waits fails, nothing signs afterwards", async () => {
    const token = await Pkcs11Token.open({ module: SOFTHSM_MODULE, token: "unit-token", pin: PIN, sessions: 2 });
    await token.generateRsaKey("close-key");
    const signer = token.signer("close-key");
    const signing = Array.from({ length: 40 }, () => signer.sign(data));
    const closed = token.close();
    const outcomes = await Promise.allSettled(signing);
    await closed;
    const done = outcomes.filter((o) => o.status === "fulfilled");
    const refused = outcomes.filter((o): o is PromiseRejectedResult => o.status === "rejected");
    assert.ok(done.length >= 1 && done.length <= 2, `${done.length} signed (only the two sessions' signatures were in the token)`);
    for (const o of done) assert.ok(verify("sha256", data, signer.publicKey, Buffer.from((o as PromiseFulfilledResult<Uint8Array>).value)));
    assert.equal(refused.length, 40 - done.length);
    for (const o of refused) assert.match(String(o.reason), /the token unit-token is closed/);
    await assert.rejects(signer.sign(data), /the token unit-token is closed/);
  });
});

describe("an HSM configured for a store whose roots have software keys", () => {
  test("the old roots keep signing with their software keys; the PIN can come from a file", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "openjpki-hsm-soft-"));
    try {
      const soft = await openTestContext("sqlite", { now: NOW, dataDir });
      assert.deepEqual(soft.context.initialisation.caKeys, { kind: "software" });
      await soft.context.close();
      const pinFile = join(dataDir, "hsm-pin");
      writeFileSync(pinFile, `${PIN}\n`, { mode: 0o644 });
      const { OPENJPKI_CA_PKCS11_PIN: _pin, ...env } = hsm.env("unit-token", PIN);
      await rejectsWith(openTestContext("sqlite", { now: NOW, dataDir, env: { ...env, OPENJPKI_CA_PKCS11_PIN_FILE: pinFile } }), /HSM PIN file .* is readable by others; chmod 600 it/);
      await rejectsWith(openTestContext("sqlite", { now: NOW, dataDir, env: { ...env, OPENJPKI_CA_PKCS11_PIN_FILE: join(dataDir, "no-such-file") } }), /cannot read the HSM PIN file/);
      chmodSync(pinFile, 0o600);
      const t = await openTestContext("sqlite", { now: NOW, dataDir, env: { ...env, OPENJPKI_CA_PKCS11_PIN_FILE: pinFile } });
      try {
        assert.deepEqual(t.context.initialisation.createdRoots, []);
        assert.equal(t.context.initialisation.caKeys.kind, "hsm");
        const rows = await t.context.store.db.selectFrom("authorities").select("private_key_pem").execute();
        for (const row of rows) assert.match(row.private_key_pem, /^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
        const resident = await t.context.registry.add({ name: "町田 四郎", birth: "1960-01-01", gender: "1", address: "東京都町田市森野２－２－２２", municipality: "132098" });
        const issued = await t.context.ca.issue({ type: "auth", residentId: resident.id, subjectPublicKey: testPublicKeys(1)[0]! });
        assert.ok(new X509Certificate(issued.der).verify(t.context.ca.authority("auth").publicKey));
      } finally {
        await t.context.close();
      }
      const both = { ...env, OPENJPKI_CA_PKCS11_PIN: PIN, OPENJPKI_CA_PKCS11_PIN_FILE: pinFile };
      await rejectsWith(openTestContext("sqlite", { now: NOW, dataDir, env: both }), /OPENJPKI_CA_PKCS11_PIN or OPENJPKI_CA_PKCS11_PIN_FILE, not both/);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
