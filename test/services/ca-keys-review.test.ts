// The software CA key store: the passphrase (its file readable by its owner alone, long enough from
// any source), keys at rest only encrypted, and a stored key proved to be its certificate's key.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ServiceError } from "../../src/services/errors.ts";
import { CaKeys } from "../../src/services/ca-keys.ts";
import { resolveCaPassphrase, unwrapPrivateKey } from "../../src/services/keystore.ts";
import { legacyEncryptedKey } from "../helpers/legacy-keys.ts";
import { testKeyPair } from "../helpers/keys.ts";

const PASSPHRASE = "review-passphrase-0123456789";

async function refused(promise: Promise<unknown>, code: string, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof ServiceError, `expected a ServiceError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.match(error.message, pattern);
    return true;
  });
}

function withDir(body: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), "openjpki-keystore-"));
    try {
      await body(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

describe("the CA passphrase", () => {
  test(
    "a passphrase file others can read is refused (named file and the data directory's), like the HSM PIN file; 0600 is used",
    withDir(async (dir) => {
      const named = join(dir, "named-passphrase");
      writeFileSync(named, `${PASSPHRASE}\n`);
      for (const mode of [0o644, 0o640, 0o604]) {
        chmodSync(named, mode);
        await refused(resolveCaPassphrase(dir, { OPENJPKI_CA_PASSPHRASE_FILE: named }), "bad-passphrase", /named-passphrase .*readable by others.*chmod 600/);
      }
      chmodSync(named, 0o600);
      assert.deepEqual(await resolveCaPassphrase(dir, { OPENJPKI_CA_PASSPHRASE_FILE: named }), { passphrase: PASSPHRASE, origin: "file", path: named });

      const data = join(dir, "data");
      const { mkdirSync } = await import("node:fs");
      mkdirSync(data, { mode: 0o700 });
      writeFileSync(join(data, "ca-passphrase"), `${PASSPHRASE}\n`, { mode: 0o644 });
      chmodSync(join(data, "ca-passphrase"), 0o644);
      await refused(resolveCaPassphrase(data, {}), "bad-passphrase", /ca-passphrase .*readable by others/);
      chmodSync(join(data, "ca-passphrase"), 0o600);
      assert.equal((await resolveCaPassphrase(data, {})).passphrase, PASSPHRASE);
    }),
  );

  test(
    "a passphrase from the environment must be as long as one from a file (16 characters)",
    withDir(async (dir) => {
      await refused(resolveCaPassphrase(dir, { OPENJPKI_CA_PASSPHRASE: "short" }), "bad-passphrase", /OPENJPKI_CA_PASSPHRASE .*shorter than 16 characters/);
      assert.equal((await resolveCaPassphrase(dir, { OPENJPKI_CA_PASSPHRASE: PASSPHRASE })).origin, "environment");
    }),
  );
});

describe("software CA keys in the store", () => {
  test("a key stored in clear is refused, not used: keys exist at rest only encrypted", async () => {
    const { privateKey, publicKey } = testKeyPair();
    for (const clear of [privateKey.export({ type: "pkcs8", format: "pem" }) as string, privateKey.export({ type: "pkcs1", format: "pem" }) as string]) {
      await assert.rejects(
        unwrapPrivateKey(clear, PASSPHRASE, "sign CA"),
        (error: unknown) => {
          assert.ok(error instanceof ServiceError);
          assert.match(error.message, /sign CA key .*not encrypted/);
          assert.doesNotMatch(error.message, /BEGIN|MII/);
          return true;
        },
      );
      const keys = await CaKeys.open({}, PASSPHRASE);
      await assert.rejects(keys.load(clear, "sign CA", publicKey), /sign CA key .*not encrypted/);
    }
    // The encrypted form is read back; a wrong passphrase says so without quoting the key.
    const stored = legacyEncryptedKey(privateKey, PASSPHRASE);
    assert.match(stored, /^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
    assert.equal((await unwrapPrivateKey(stored, PASSPHRASE, "sign CA")).key.asymmetricKeyType, "rsa");
    await assert.rejects(unwrapPrivateKey(stored, "another-passphrase-0123456789", "sign CA"), (error: unknown) => {
      assert.ok(error instanceof ServiceError);
      assert.equal(error.code, "bad-passphrase");
      assert.doesNotMatch(error.message, /BEGIN|MII/);
      return true;
    });
  });

  test("a stored software key that is not the CA certificate's key is refused before the CA signs anything", async () => {
    const mine = testKeyPair();
    const other = testKeyPair();
    const keys = await CaKeys.open({}, PASSPHRASE);
    await refused(keys.load(legacyEncryptedKey(other.privateKey, PASSPHRASE), "sign CA", mine.publicKey), "ca-unavailable", /sign CA: the key in the store is not the CA certificate's key/);
    const signer = await keys.load(legacyEncryptedKey(mine.privateKey, PASSPHRASE), "sign CA", mine.publicKey);
    assert.ok(signer.publicKey.equals(mine.publicKey));
  });
});
