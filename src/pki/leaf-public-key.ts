/**
 * The subject public key of a JPKI leaf, taken as SubjectPublicKeyInfo DER (what a card's
 * GENERATE KEY PAIR answers and what the issuance API receives) and checked strictly, without
 * turning it into a KeyObject: OpenSSL's SPKI decoder costs ≈0.1 ms per key, and the
 * certificate needs only the bytes and the key bits its key identifier hashes.
 *
 * Accepted: rsaEncryption with NULL parameters, a positive odd modulus of 2,048–4,096 bits,
 * public exponent 65537, strict DER (src/profile/der-reader.ts), nothing after the key.
 * These are the keys the CLI and the card accept; anything else is refused with a reason.
 */
import type { KeyObject } from "node:crypto";
import { DerCursor, DerReadError, TAG, bytesEqual, contentOf, encodingOf } from "../profile/der-reader.ts";
import { bitStringBytes } from "../profile/der-values.ts";

export interface SubjectPublicKey {
  /** The SubjectPublicKeyInfo DER, exactly as it goes into the certificate. */
  readonly der: Uint8Array;
  /** The subjectPublicKey BIT STRING's value without the unused-bits byte (what SKI hashes). */
  readonly keyBits: Uint8Array;
  /** Size of the RSA modulus in bits. */
  readonly modulusBits: number;
}

/** Why a public key was refused; `message` says what is wrong with it. */
export class SubjectPublicKeyError extends Error {
  override readonly name = "SubjectPublicKeyError";
}

export const RSA_KEY_LIMITS = {
  minModulusBits: 2048,
  maxModulusBits: 4096,
  /** An RSA-4096 SubjectPublicKeyInfo is 550 bytes; anything much larger is not one of ours. */
  maxDerBytes: 1024,
} as const;

/** AlgorithmIdentifier { rsaEncryption, NULL }. */
const RSA_ENCRYPTION = Uint8Array.of(0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00);
const EXPONENT_65537 = Uint8Array.of(0x01, 0x00, 0x01);

/** Reads and checks an RSA SubjectPublicKeyInfo; throws SubjectPublicKeyError saying why it is refused. */
export function readRsaSubjectPublicKey(der: Uint8Array): SubjectPublicKey {
  if (der.length > RSA_KEY_LIMITS.maxDerBytes) {
    throw new SubjectPublicKeyError(`is ${der.length} bytes; an RSA SubjectPublicKeyInfo of at most ${RSA_KEY_LIMITS.maxModulusBits} bits is far smaller`);
  }
  let keyBits: Uint8Array;
  let modulus: Uint8Array;
  let exponent: Uint8Array;
  try {
    const spki = DerCursor.only(der, TAG.SEQUENCE, "SubjectPublicKeyInfo", { remaining: 16 });
    const algorithm = encodingOf(der, spki.next(TAG.SEQUENCE, "algorithm"));
    if (!bytesEqual(algorithm, RSA_ENCRYPTION)) throw new SubjectPublicKeyError("is not an RSA key (rsaEncryption with NULL parameters)");
    keyBits = bitStringBytes(der, spki.next(TAG.BIT_STRING, "subjectPublicKey"));
    spki.end();
    const rsaKey = DerCursor.only(keyBits, TAG.SEQUENCE, "RSAPublicKey", { remaining: 8 });
    modulus = contentOf(keyBits, rsaKey.next(TAG.INTEGER, "modulus"));
    exponent = contentOf(keyBits, rsaKey.next(TAG.INTEGER, "publicExponent"));
    rsaKey.end();
  } catch (error) {
    if (error instanceof DerReadError) throw new SubjectPublicKeyError(`is not a DER SubjectPublicKeyInfo: ${error.message}`, { cause: error });
    throw error;
  }
  // RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }: a minimal, positive, odd modulus.
  if (modulus.length === 0 || modulus[0]! & 0x80) throw new SubjectPublicKeyError("has a negative RSA modulus");
  if (modulus.length > 1 && modulus[0] === 0 && !(modulus[1]! & 0x80)) throw new SubjectPublicKeyError("has a non-minimal RSA modulus");
  const magnitude = modulus[0] === 0 ? modulus.subarray(1) : modulus;
  if (magnitude.length === 0) throw new SubjectPublicKeyError("has an RSA modulus of zero");
  const modulusBits = magnitude.length * 8 - Math.clz32(magnitude[0]!) + 24;
  if (modulusBits < RSA_KEY_LIMITS.minModulusBits || modulusBits > RSA_KEY_LIMITS.maxModulusBits) {
    throw new SubjectPublicKeyError(`is RSA-${modulusBits}; JPKI allows ${RSA_KEY_LIMITS.minModulusBits} to ${RSA_KEY_LIMITS.maxModulusBits} bits`);
  }
  if ((magnitude[magnitude.length - 1]! & 1) === 0) throw new SubjectPublicKeyError("has an even RSA modulus");
  if (!bytesEqual(exponent, EXPONENT_65537)) throw new SubjectPublicKeyError("has a public exponent other than 65537");
  return { der, keyBits, modulusBits };
}

/** KeyObjects are immutable, and exporting one costs more than building the certificate: read each once. */
const fromKeyObjects = new WeakMap<KeyObject, SubjectPublicKey>();

/** The same checks for a key already in a KeyObject (the card and CLI paths). */
export function subjectPublicKeyOf(key: KeyObject): SubjectPublicKey {
  let read = fromKeyObjects.get(key);
  if (!read) {
    if (key.type !== "public") throw new SubjectPublicKeyError(`is a ${key.type} key, not a public key`);
    read = readRsaSubjectPublicKey(new Uint8Array(key.export({ type: "spki", format: "der" })));
    fromKeyObjects.set(key, read);
  }
  return read;
}
