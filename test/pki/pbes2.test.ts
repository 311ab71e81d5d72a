// PBES2-encrypted PKCS#8 (RFC 8018) for the CA key store: written at a strong PBKDF2 count in the
// form OpenSSL reads, the forms OpenSSL writes read back, and parameters outside the limits refused
// before anything is derived.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createPrivateKey, randomBytes } from "node:crypto";
import * as asn1js from "asn1js";
import {
  decryptPkcs8,
  encryptedPkcs8Der,
  encryptedPkcs8Pem,
  encryptPkcs8,
  MAX_PBKDF2_ITERATIONS,
  PBKDF2_ITERATIONS,
  Pbes2Error,
  readEncryptedPkcs8,
} from "../../src/pki/pbes2.ts";
import { testKeyPair } from "../helpers/keys.ts";
import { openssl, tempDir } from "../helpers/test-pki.ts";

const PASSPHRASE = "pbes2-test-passphrase-0123456789";

const OID = {
  pbes2: "1.2.840.113549.1.5.13",
  pbkdf2: "1.2.840.113549.1.5.12",
  scrypt: "1.3.6.1.4.1.11591.4.11",
  pbeWithMD5AndDES: "1.2.840.113549.1.5.3",
  hmacWithSHA256: "1.2.840.113549.2.9",
  hmacWithMD5: "1.2.840.113549.2.6",
  aes256Cbc: "2.16.840.1.101.3.4.1.42",
  desEde3Cbc: "1.2.840.113549.3.7",
};

function pkcs8Pem(key = testKeyPair().privateKey): { der: Buffer; pem: string } {
  return { der: key.export({ type: "pkcs8", format: "der" }), pem: key.export({ type: "pkcs8", format: "pem" }) as string };
}

const algorithm = (oid: string, parameters?: asn1js.AsnType) =>
  new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: oid }), ...(parameters ? [parameters] : [])] });

/** An EncryptedPrivateKeyInfo with chosen parameters (built with asn1js), for what must be refused. */
function forged(options: { scheme?: string; kdf?: string; iterations?: bigint; prf?: string; cipher?: string; salt?: number; iv?: number; data?: number } = {}): Uint8Array {
  const { scheme = OID.pbes2, kdf = OID.pbkdf2, iterations = 2048n, prf = OID.hmacWithSHA256, cipher = OID.aes256Cbc, salt = 16, iv = 16, data = 1216 } = options;
  const kdfParams = new asn1js.Sequence({
    value: [new asn1js.OctetString({ valueHex: randomBytes(salt) }), asn1js.Integer.fromBigInt(iterations), algorithm(prf, new asn1js.Null())],
  });
  const pbes2Params = new asn1js.Sequence({ value: [algorithm(kdf, kdfParams), algorithm(cipher, new asn1js.OctetString({ valueHex: randomBytes(iv) }))] });
  const info = new asn1js.Sequence({ value: [algorithm(scheme, pbes2Params), new asn1js.OctetString({ valueHex: randomBytes(data) })] });
  return new Uint8Array(info.toBER());
}

describe("PBES2 private-key encryption", () => {
  test("new keys are PBKDF2-HMAC-SHA256 at 600,000 iterations with AES-256-CBC, and OpenSSL 3 reads them", async () => {
    const { der, pem } = pkcs8Pem();
    const encrypted = await encryptPkcs8(der, PASSPHRASE);
    const { parameters } = readEncryptedPkcs8(encrypted);
    assert.equal(PBKDF2_ITERATIONS, 600_000);
    assert.equal(parameters.iterations, 600_000);
    assert.equal(parameters.prf, "sha256");
    assert.equal(parameters.cipher, "aes-256-cbc");
    assert.equal(parameters.salt.length, 16);
    const dir = tempDir("pbes2");
    try {
      const keyPath = dir.write("key.pem", encryptedPkcs8Pem(encrypted));
      dir.write("pass.txt", `${PASSPHRASE}\n`);
      const parsed = openssl(["asn1parse", "-in", keyPath], dir.dir);
      assert.equal(parsed.status, 0, parsed.stderr);
      assert.match(parsed.stdout, /:PBES2\n[\s\S]*:PBKDF2\n[\s\S]*INTEGER +:0927C0\n[\s\S]*:hmacWithSHA256\n[\s\S]*:aes-256-cbc\n/);
      const read = openssl(["pkcs8", "-in", keyPath, "-passin", "file:pass.txt"], dir.dir);
      assert.equal(read.status, 0, read.stderr);
      assert.equal(read.stdout, pem);
      const wrong = openssl(["pkcs8", "-in", keyPath, "-passin", "pass:another-passphrase-0123456789"], dir.dir);
      assert.notEqual(wrong.status, 0);
    } finally {
      dir.dispose();
    }
    // And back here, through the PEM.
    const { pkcs8 } = await decryptPkcs8(encryptedPkcs8Der(encryptedPkcs8Pem(encrypted)), PASSPHRASE);
    assert.ok(pkcs8.equals(der));
  });

  test("keys OpenSSL writes are read: Node's own export (2,048 iterations) and other PRFs and AES key sizes", async () => {
    const key = testKeyPair().privateKey;
    const { der, pem } = pkcs8Pem(key);
    const legacy = key.export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: PASSPHRASE }) as string;
    const read = await decryptPkcs8(encryptedPkcs8Der(legacy), PASSPHRASE);
    assert.equal(read.parameters.iterations, 2048);
    assert.ok(read.pkcs8.equals(der));

    const dir = tempDir("pbes2");
    try {
      dir.write("clear.pem", pem);
      dir.write("pass.txt", `${PASSPHRASE}\n`);
      for (const [cipher, prf, name] of [["aes-128-cbc", "hmacWithSHA512", "sha512"], ["aes-192-cbc", "hmacWithSHA1", "sha1"]] as const) {
        const made = openssl(["pkcs8", "-topk8", "-in", "clear.pem", "-v2", cipher, "-v2prf", prf, "-iter", "1000", "-passout", "file:pass.txt"], dir.dir);
        assert.equal(made.status, 0, made.stderr);
        const { pkcs8, parameters } = await decryptPkcs8(encryptedPkcs8Der(made.stdout), PASSPHRASE);
        assert.deepEqual([parameters.cipher, parameters.prf, parameters.iterations], [cipher, name, 1000]);
        assert.ok(pkcs8.equals(der));
      }
    } finally {
      dir.dispose();
    }
    assert.equal(createPrivateKey({ key: read.pkcs8, format: "der", type: "pkcs8" }).asymmetricKeyType, "rsa");
  });

  test("a wrong passphrase is a decrypt failure, not a key, even when the padding happens to check out", async () => {
    // One in 256 wrong keys leaves valid padding; 2,000 tries (at one iteration) meet that case all but surely.
    const encrypted = await encryptPkcs8(pkcs8Pem().der, PASSPHRASE, 1);
    for (let i = 0; i < 2000; i++) {
      await assert.rejects(decryptPkcs8(encrypted, `another-passphrase-${i}`), (error: unknown) => {
        assert.ok(error instanceof Pbes2Error, String(error));
        assert.equal(error.reason, "decrypt");
        return true;
      });
    }
  });

  test("parameters outside the limits are refused before anything is derived (an absurd count would hang here)", async () => {
    assert.equal(MAX_PBKDF2_ITERATIONS, 10_000_000);
    const cases: Array<[Parameters<typeof forged>[0], RegExp]> = [
      [{ iterations: 10_000_001n }, /iteration count 10000001 is outside 1–10000000/],
      [{ iterations: 1n << 62n }, /iteration count \d+ is outside/],
      [{ iterations: 0n }, /iteration count 0 is outside/],
      [{ iterations: -5n }, /iteration count -5 is outside/],
      [{ scheme: OID.pbeWithMD5AndDES }, /unsupported key encryption 1\.2\.840\.113549\.1\.5\.3 \(only PBES2/],
      [{ kdf: OID.scrypt }, /unsupported key derivation 1\.3\.6\.1\.4\.1\.11591\.4\.11/],
      [{ prf: OID.hmacWithMD5 }, /unsupported PBKDF2 PRF 1\.2\.840\.113549\.2\.6/],
      [{ cipher: OID.desEde3Cbc }, /unsupported key encryption cipher 1\.2\.840\.113549\.3\.7/],
      [{ salt: 4 }, /salt of 4 bytes/],
      [{ iv: 8 }, /IV of 8 bytes/],
      [{ data: 1000 }, /not whole AES blocks/],
    ];
    for (const [options, pattern] of cases) {
      const der = forged(options);
      for (const attempt of [() => readEncryptedPkcs8(der), () => decryptPkcs8(der, PASSPHRASE)]) {
        await assert.rejects(async () => attempt(), (error: unknown) => {
          assert.ok(error instanceof Pbes2Error, `${JSON.stringify(options, (_, v) => (typeof v === "bigint" ? String(v) : v))}: ${String(error)}`);
          assert.equal(error.reason, "refused");
          assert.match(error.message, pattern);
          return true;
        });
      }
    }
    // Within the limits the same forgery is read (it is the data, not the form, that is random).
    assert.equal(readEncryptedPkcs8(forged({ iterations: 10_000_000n })).parameters.iterations, 10_000_000);
    // Not DER, or not the PEM block: refused as malformed.
    assert.throws(() => readEncryptedPkcs8(Uint8Array.of(0x30, 0x03, 0x02, 0x01)), /malformed EncryptedPrivateKeyInfo/);
    assert.throws(() => encryptedPkcs8Der("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), /not a single ENCRYPTED PRIVATE KEY PEM block/);
    // Nor is a count out of range written.
    await assert.rejects(encryptPkcs8(pkcs8Pem().der, PASSPHRASE, MAX_PBKDF2_ITERATIONS + 1), RangeError);
  });
});
