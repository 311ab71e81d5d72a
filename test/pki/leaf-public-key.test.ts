// The strict SubjectPublicKeyInfo reader of the issuance path (src/pki/leaf-public-key.ts):
// what it accepts agrees with OpenSSL, and everything JPKI does not allow is refused.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, createPublicKey, generateKeyPairSync } from "node:crypto";
import { keyIdentifier } from "../../src/pki/certificate.ts";
import { readRsaSubjectPublicKey, subjectPublicKeyOf, SubjectPublicKeyError } from "../../src/pki/leaf-public-key.ts";
import { testPublicKeys } from "../helpers/keys.ts";

const spki = (key: ReturnType<typeof generateKeyPairSync>["publicKey"]) => new Uint8Array(key.export({ type: "spki", format: "der" }));
const refused = (der: Uint8Array, pattern: RegExp, what: string) =>
  assert.throws(() => readRsaSubjectPublicKey(der), (e: unknown) => e instanceof SubjectPublicKeyError && pattern.test(e.message), what);

/** An RSA SubjectPublicKeyInfo with the given modulus and exponent contents (for keys Node would not make). */
function rsaSpki(modulus: Uint8Array, exponent: Uint8Array): Uint8Array {
  const tlv = (tag: number, content: Uint8Array) => {
    const n = content.length;
    const len = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
    return Uint8Array.from([tag, ...len, ...content]);
  };
  const rsaKey = tlv(0x30, Uint8Array.from([...tlv(0x02, modulus), ...tlv(0x02, exponent)]));
  const algorithm = Uint8Array.of(0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00);
  return tlv(0x30, Uint8Array.from([...algorithm, ...tlv(0x03, Uint8Array.from([0, ...rsaKey]))]));
}

describe("subject public key reader", () => {
  const [key2048] = testPublicKeys(1);
  const key3072 = generateKeyPairSync("rsa", { modulusLength: 3072 }).publicKey;

  test("accepts RSA keys of 2048–4096 bits as Node exports them; keyBits is what the key identifier hashes", () => {
    for (const [key, bits] of [[key2048!, 2048], [key3072, 3072]] as const) {
      const der = spki(key);
      const read = readRsaSubjectPublicKey(der);
      assert.equal(read.modulusBits, bits);
      assert.equal(read.der, der, "the DER goes into the certificate as it came");
      const viaKeyObject = subjectPublicKeyOf(key);
      assert.deepEqual(Buffer.from(viaKeyObject.der), Buffer.from(der));
      assert.deepEqual(
        createHash("sha1").update(read.keyBits).digest(),
        Buffer.from(keyIdentifier(key)),
      );
    }
  });

  test("refuses what JPKI does not allow, naming the problem", () => {
    refused(spki(generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey), /not an RSA key/, "EC");
    refused(spki(generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey), /RSA-1024/, "RSA-1024");
    refused(spki(generateKeyPairSync("rsa", { modulusLength: 2048, publicExponent: 3 }).publicKey), /exponent other than 65537/, "e = 3");
    refused(spki(generateKeyPairSync("rsa-pss", { modulusLength: 2048 }).publicKey), /not an RSA key/, "RSASSA-PSS key");
    const modulus = new Uint8Array(257);
    modulus.fill(0xab, 1);
    refused(rsaSpki(modulus.map((b, i) => (i === 256 ? 0xaa : b)), Uint8Array.of(1, 0, 1)), /even/, "even modulus");
    refused(rsaSpki(modulus.subarray(1), Uint8Array.of(1, 0, 1)), /negative/, "negative modulus");
    refused(rsaSpki(Uint8Array.of(0, 0, ...modulus.subarray(1)), Uint8Array.of(1, 0, 1)), /non-minimal/, "padded modulus");
    refused(rsaSpki(Uint8Array.of(0), Uint8Array.of(1, 0, 1)), /zero/, "zero modulus");
    const big = new Uint8Array(600).fill(0xab);
    big[0] = 0;
    refused(rsaSpki(big, Uint8Array.of(1, 0, 1)), /RSA-4792/, "RSA-4792");
    assert.doesNotThrow(() => readRsaSubjectPublicKey(rsaSpki(modulus, Uint8Array.of(1, 0, 1))), "the same modulus, odd and positive, is accepted");
  });

  test("refuses malformed DER: truncated, trailing bytes, non-minimal or indefinite lengths, oversized input", () => {
    const der = spki(key2048!);
    refused(der.subarray(0, der.length - 1), /not a DER/, "truncated");
    refused(Uint8Array.from([...der, 0]), /not a DER/, "trailing byte");
    refused(Uint8Array.of(0x30, 0x80, ...der.subarray(4), 0, 0), /not a DER/, "indefinite length");
    refused(Uint8Array.of(0x30, 0x83, 0x00, der[2]!, der[3]!, ...der.subarray(4)), /not a DER/, "non-minimal length");
    refused(new Uint8Array(2000), /bytes/, "2,000 bytes");
    refused(new Uint8Array(0), /not a DER/, "empty");
  });

  test("random corruption never gets past the reader unless OpenSSL reads the same RSA key", () => {
    const der = spki(key2048!);
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x80000000);
    for (let i = 0; i < 3000; i++) {
      const mutated = der.slice();
      const flips = 1 + Math.floor(rnd() * 3);
      for (let f = 0; f < flips; f++) mutated[Math.floor(rnd() * mutated.length)] = Math.floor(rnd() * 256);
      let read;
      try {
        read = readRsaSubjectPublicKey(mutated);
      } catch (error) {
        assert.ok(error instanceof SubjectPublicKeyError, `only SubjectPublicKeyError, not ${String(error)}`);
        continue;
      }
      // Accepted: then OpenSSL must parse it as an RSA key of that size with e = 65537.
      const key = createPublicKey({ key: Buffer.from(mutated), format: "der", type: "spki" });
      assert.equal(key.asymmetricKeyType, "rsa");
      assert.equal(key.asymmetricKeyDetails?.modulusLength, read.modulusBits);
      assert.equal(key.asymmetricKeyDetails?.publicExponent, 65537n);
    }
  });
});
