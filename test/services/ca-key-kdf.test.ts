// CA keys at rest under a strong PBKDF2 count: new keys at 600,000 iterations, keys stored by
// earlier versions (2,048) still loaded and re-encryptable, stored parameters outside the limits
// refused with a message that says so (and never the key).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { sign, verify } from "node:crypto";
import * as asn1js from "asn1js";
import { ServiceError } from "../../src/services/errors.ts";
import { CaKeys } from "../../src/services/ca-keys.ts";
import { KeyWrapping, unwrapPrivateKey, wrapPrivateKey } from "../../src/services/keystore.ts";
import { legacyEncryptedKey } from "../helpers/legacy-keys.ts";
import { encryptedPkcs8Der, encryptedPkcs8Pem, readEncryptedPkcs8 } from "../../src/pki/pbes2.ts";
import { testKeyPair } from "../helpers/keys.ts";
import { openTestContext, TEST_KDF_ITERATIONS, TEST_PASSPHRASE } from "../helpers/context.ts";

const PASSPHRASE = "kdf-review-passphrase-0123456789";

function iterationsOf(pem: string): number {
  return readEncryptedPkcs8(encryptedPkcs8Der(pem)).parameters.iterations;
}

/** The stored key with its PBKDF2 iteration count replaced (the rest untouched), as a damaged or tampered row would be. */
function withIterations(pem: string, iterations: bigint): string {
  const info = asn1js.fromBER(encryptedPkcs8Der(pem)).result as asn1js.Sequence;
  const pbes2Params = (info.valueBlock.value[0] as asn1js.Sequence).valueBlock.value[1] as asn1js.Sequence;
  const kdfParams = (pbes2Params.valueBlock.value[0] as asn1js.Sequence).valueBlock.value[1] as asn1js.Sequence;
  kdfParams.valueBlock.value[1] = asn1js.Integer.fromBigInt(iterations);
  return encryptedPkcs8Pem(new Uint8Array(info.toBER()));
}

describe("CA keys under PBKDF2", () => {
  test("a new software CA key is stored at 600,000 PBKDF2-HMAC-SHA256 iterations and loads back", async () => {
    const keys = await CaKeys.open({}, PASSPHRASE);
    const made = await keys.create("sign", 1);
    assert.equal(iterationsOf(made.stored), 600_000);
    assert.equal(readEncryptedPkcs8(encryptedPkcs8Der(made.stored)).parameters.prf, "sha256");
    assert.doesNotMatch(made.stored, /BEGIN (RSA )?PRIVATE KEY/);
    const signer = await keys.load(made.stored, "sign CA", made.publicKey);
    const data = Buffer.from("kdf");
    assert.ok(verify("sha256", data, made.publicKey, await signer.sign(data)));
    // Tests may ask for fewer iterations; the default is the strong count above.
    const quick = await CaKeys.open({}, PASSPHRASE, { kdfIterations: 1000 });
    assert.equal(iterationsOf((await quick.create("auth", 1)).stored), 1000);
  });

  test("a key stored at 2,048 iterations (earlier versions) still loads, and re-encrypts at the strong count", async () => {
    const { privateKey, publicKey } = testKeyPair();
    const legacy = legacyEncryptedKey(privateKey, PASSPHRASE);
    assert.equal(iterationsOf(legacy), 2048);
    const keys = await CaKeys.open({}, PASSPHRASE, { kdfIterations: 4096 });
    const signer = await keys.load(legacy, "sign CA", publicKey);
    assert.ok(signer.publicKey.equals(publicKey));

    const rewrapped = await keys.rewrap(legacy, "sign CA", publicKey);
    assert.ok(rewrapped);
    assert.equal(iterationsOf(rewrapped), 4096);
    assert.ok((await keys.load(rewrapped, "sign CA", publicKey)).publicKey.equals(publicKey));
    // Nothing to do for a key already at the count, nor for a token key; and not the certificate's key: refused.
    assert.equal(await keys.rewrap(rewrapped, "sign CA", publicKey), undefined);
    assert.equal(await keys.rewrap("pkcs11:token=t;object=o;type=private", "sign CA", publicKey), undefined);
    await assert.rejects(keys.rewrap(legacy, "sign CA", testKeyPair().publicKey), /not the CA certificate's key/);
  });

  test("a store whose CA keys were written at 2,048 iterations opens and signs", async () => {
    const t = await openTestContext("sqlite");
    const dataDir = t.dataDir;
    try {
      const db = t.context.store.db;
      for (const row of await db.selectFrom("authorities").select(["id", "private_key_pem"]).execute()) {
        assert.equal(iterationsOf(row.private_key_pem), TEST_KDF_ITERATIONS, "a test store's keys (production's count is checked above)");
        const { key } = await unwrapPrivateKey(row.private_key_pem, TEST_PASSPHRASE, row.id);
        await db.updateTable("authorities").set({ private_key_pem: legacyEncryptedKey(key, TEST_PASSPHRASE) }).where("id", "=", row.id).execute();
      }
      await t.context.close();
      const again = await openTestContext("sqlite", { dataDir });
      try {
        for (const row of await again.context.store.db.selectFrom("authorities").select("private_key_pem").execute()) assert.equal(iterationsOf(row.private_key_pem), 2048);
        for (const type of ["sign", "auth"] as const) {
          const authority = again.context.ca.authority(type);
          const data = Buffer.from(type);
          assert.ok(verify("sha256", data, authority.publicKey, await authority.signer.sign(data)));
        }
      } finally {
        await again.context.close();
      }
    } finally {
      await t.cleanup();
    }
  });

  test("a stored key whose parameters are outside the limits is refused, in Japanese then English, without deriving", async () => {
    const { privateKey, publicKey } = testKeyPair();
    const stored = await wrapPrivateKey(privateKey, PASSPHRASE, 1000);
    const keys = await CaKeys.open({}, PASSPHRASE);
    for (const iterations of [20_000_000n, 1n << 40n, 0n]) {
      const tampered = withIterations(stored, iterations);
      const refused = (error: unknown) => {
        assert.ok(error instanceof ServiceError, String(error));
        assert.equal(error.code, "ca-unavailable");
        assert.match(error.message, /^保存された sign CA 鍵の暗号化の形式またはパラメータが受け付けられる範囲外です \/ the sign CA key in the store is refused: PBKDF2 iteration count \d+ is outside 1–10000000/);
        assert.doesNotMatch(error.message, /BEGIN|MII/);
        return true;
      };
      await assert.rejects(keys.load(tampered, "sign CA", publicKey), refused);
      // The other services' keys are read through the same checks.
      await assert.rejects(new KeyWrapping(PASSPHRASE).unwrap(tampered, "sign CA"), refused);
    }
    // The untouched key is fine, and a wrong passphrase is still told as one.
    assert.ok((await keys.load(stored, "sign CA", publicKey)).publicKey.equals(publicKey));
    const other = await CaKeys.open({}, "another-passphrase-0123456789");
    await assert.rejects(other.load(stored, "sign CA", publicKey), (error: unknown) => {
      assert.ok(error instanceof ServiceError);
      assert.equal(error.code, "bad-passphrase");
      assert.match(error.message, /^sign CA 鍵を復号できません.* \/ cannot decrypt the sign CA key: wrong CA passphrase\?/);
      assert.doesNotMatch(error.message, /BEGIN|MII/);
      return true;
    });
    // The signature below only shows the key object is whole after the checks.
    assert.ok(sign("sha256", Buffer.from("x"), privateKey).length > 0);
  });
});
