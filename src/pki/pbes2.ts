import { createCipheriv, createDecipheriv, pbkdf2, randomBytes } from "node:crypto";
import { promisify } from "node:util";
import * as asn1js from "asn1js";
import { AsnConvert, AsnIntegerBigIntConverter, AsnProp, AsnPropTypes, OctetString } from "@peculiar/asn1-schema";
import { AlgorithmIdentifier } from "@peculiar/asn1-x509";

/**
 * Password-based encryption of PKCS#8 private keys as RFC 8018 PBES2 EncryptedPrivateKeyInfo
 * (PBKDF2 + AES-CBC), the form `openssl pkcs8` reads. The key is derived with the asynchronous
 * PBKDF2 (libuv's thread pool), so a strong iteration count does not stall the event loop the
 * way the synchronous derivation inside crypto.createPrivateKey does.
 */

/** PBKDF2-HMAC-SHA256 iterations for new keys (OWASP's 2023 recommendation). */
export const PBKDF2_ITERATIONS = 600_000;

/**
 * The most iterations a stored key may ask for: far above any count written here, and low enough
 * that a damaged or tampered record cannot hang start-up for minutes in the derivation.
 */
export const MAX_PBKDF2_ITERATIONS = 10_000_000;

const OID = {
  pbes2: "1.2.840.113549.1.5.13",
  pbkdf2: "1.2.840.113549.1.5.12",
} as const;

/** The PBKDF2 pseudo-random functions read (RFC 8018 B.1.2); the default is HMAC-SHA-1. */
const PRFS: Readonly<Record<string, string>> = {
  "1.2.840.113549.2.7": "sha1",
  "1.2.840.113549.2.8": "sha224",
  "1.2.840.113549.2.9": "sha256",
  "1.2.840.113549.2.10": "sha384",
  "1.2.840.113549.2.11": "sha512",
};
const HMAC_SHA256 = "1.2.840.113549.2.9";
const HMAC_SHA1 = "1.2.840.113549.2.7";

/** The encryption schemes read: AES in CBC mode (NIST OIDs), with their key sizes. */
const CIPHERS: Readonly<Record<string, { name: string; keyLength: number }>> = {
  "2.16.840.1.101.3.4.1.2": { name: "aes-128-cbc", keyLength: 16 },
  "2.16.840.1.101.3.4.1.22": { name: "aes-192-cbc", keyLength: 24 },
  "2.16.840.1.101.3.4.1.42": { name: "aes-256-cbc", keyLength: 32 },
};
const AES_256_CBC = "2.16.840.1.101.3.4.1.42";

const SALT_BYTES = 16;
const BLOCK_BYTES = 16;
/** Bounds on what is read: OpenSSL writes 8- or 16-byte salts; an RSA-4096 PKCS#8 key is under 3 KB. */
const MIN_SALT_BYTES = 8;
const MAX_SALT_BYTES = 64;
const MAX_ENCRYPTED_BYTES = 64 * 1024;

// The schemas are declared by calling asn1-schema's property decorators as functions after each
// class, not with `@` syntax: decorators in source depend on the TypeScript setting
// (experimentalDecorators) that tsx only reads from a tsconfig.json it finds from the working
// directory, so the CLI run from any other directory (and the benchmarks' child processes) compiled
// them as standard decorators, which asn1-schema cannot take, and failed at start.

// RFC 8018 A.2: PBKDF2-params ::= SEQUENCE { salt CHOICE { specified OCTET STRING, otherSource
// AlgorithmIdentifier }, iterationCount INTEGER, keyLength INTEGER OPTIONAL, prf AlgorithmIdentifier
// DEFAULT hmacWithSHA1 }. Only the `specified` salt is declared: otherSource has no defined use.
class Pbkdf2Params {
  salt = new OctetString();
  iterationCount = 0n;
  keyLength?: bigint;
  prf?: AlgorithmIdentifier;

  constructor(params: Partial<Pbkdf2Params> = {}) {
    Object.assign(this, params);
  }
}
declareSchema(Pbkdf2Params, {
  salt: { type: OctetString },
  iterationCount: { type: AsnPropTypes.Integer, converter: AsnIntegerBigIntConverter },
  keyLength: { type: AsnPropTypes.Integer, converter: AsnIntegerBigIntConverter, optional: true },
  prf: { type: AlgorithmIdentifier, optional: true },
});

// RFC 8018 A.4: PBES2-params ::= SEQUENCE { keyDerivationFunc AlgorithmIdentifier, encryptionScheme AlgorithmIdentifier }.
class Pbes2Params {
  keyDerivationFunc = new AlgorithmIdentifier();
  encryptionScheme = new AlgorithmIdentifier();

  constructor(params: Partial<Pbes2Params> = {}) {
    Object.assign(this, params);
  }
}
declareSchema(Pbes2Params, { keyDerivationFunc: { type: AlgorithmIdentifier }, encryptionScheme: { type: AlgorithmIdentifier } });

// RFC 5958 / PKCS#8: EncryptedPrivateKeyInfo ::= SEQUENCE { encryptionAlgorithm AlgorithmIdentifier, encryptedData OCTET STRING }.
class EncryptedPrivateKeyInfo {
  encryptionAlgorithm = new AlgorithmIdentifier();
  encryptedData = new OctetString();

  constructor(params: Partial<EncryptedPrivateKeyInfo> = {}) {
    Object.assign(this, params);
  }
}
declareSchema(EncryptedPrivateKeyInfo, { encryptionAlgorithm: { type: AlgorithmIdentifier }, encryptedData: { type: OctetString } });

/** A SEQUENCE schema: each field's AsnProp, applied in the order given (the DER order). */
function declareSchema<T extends object>(type: new () => T, fields: { [K in keyof T]?: Parameters<typeof AsnProp>[0] }): void {
  for (const [name, options] of Object.entries(fields)) AsnProp(options as Parameters<typeof AsnProp>[0])(type.prototype, name);
}

/**
 * Why an encrypted key was not read. `refused`: a form or parameters outside what is accepted
 * (nothing was derived); `decrypt`: the parameters were fine but the passphrase did not open it.
 * The messages name parameters only, never key bytes.
 */
export class Pbes2Error extends Error {
  constructor(
    readonly reason: "refused" | "decrypt",
    message: string,
  ) {
    super(message);
    this.name = "Pbes2Error";
  }
}

/** The parameters of a PBES2-encrypted key, as read and checked. */
export interface Pbes2Parameters {
  iterations: number;
  /** The PBKDF2 HMAC hash, as node:crypto names it. */
  prf: string;
  /** The cipher, as node:crypto names it. */
  cipher: string;
  keyLength: number;
  salt: Uint8Array;
  iv: Uint8Array;
}

const derive = promisify(pbkdf2);

/** Encrypt PKCS#8 DER as PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC) EncryptedPrivateKeyInfo DER. */
export async function encryptPkcs8(pkcs8: Uint8Array, passphrase: string, iterations: number = PBKDF2_ITERATIONS): Promise<Uint8Array> {
  if (!Number.isSafeInteger(iterations) || iterations < 1 || iterations > MAX_PBKDF2_ITERATIONS) {
    throw new RangeError(`PBKDF2 iterations must be 1–${MAX_PBKDF2_ITERATIONS}, not ${iterations}`);
  }
  const salt = randomBytes(SALT_BYTES);
  const iv = randomBytes(BLOCK_BYTES);
  const secret = Buffer.from(passphrase, "utf8");
  let key: Buffer;
  try {
    key = await derive(secret, salt, iterations, CIPHERS[AES_256_CBC]!.keyLength, "sha256");
  } finally {
    secret.fill(0);
  }
  let encrypted: Buffer;
  try {
    const cipher = createCipheriv("aes-256-cbc", key, iv);
    encrypted = Buffer.concat([cipher.update(pkcs8), cipher.final()]);
  } finally {
    key.fill(0);
  }
  const kdf = new Pbkdf2Params({
    salt: new OctetString(salt),
    iterationCount: BigInt(iterations),
    // keyLength left out: AES-256 has one key size, and OpenSSL leaves it out too.
    prf: new AlgorithmIdentifier({ algorithm: HMAC_SHA256, parameters: null }), // NULL, as RFC 8018 B.1.2 gives
  });
  const params = new Pbes2Params({
    keyDerivationFunc: new AlgorithmIdentifier({ algorithm: OID.pbkdf2, parameters: AsnConvert.serialize(kdf) }),
    encryptionScheme: new AlgorithmIdentifier({ algorithm: AES_256_CBC, parameters: AsnConvert.serialize(new OctetString(iv)) }),
  });
  const info = new EncryptedPrivateKeyInfo({
    encryptionAlgorithm: new AlgorithmIdentifier({ algorithm: OID.pbes2, parameters: AsnConvert.serialize(params) }),
    encryptedData: new OctetString(encrypted),
  });
  return new Uint8Array(AsnConvert.serialize(info));
}

/**
 * Read an EncryptedPrivateKeyInfo and check its parameters before anything is derived: PBES2
 * with PBKDF2 (an HMAC-SHA-1/2 PRF) and AES-CBC, a sane salt and IV, and at most
 * MAX_PBKDF2_ITERATIONS iterations. Anything else is a Pbes2Error("refused").
 */
export function readEncryptedPkcs8(der: Uint8Array): { parameters: Pbes2Parameters; encryptedData: Uint8Array } {
  const info = parse(der, EncryptedPrivateKeyInfo, "EncryptedPrivateKeyInfo");
  if (info.encryptionAlgorithm.algorithm !== OID.pbes2) {
    throw new Pbes2Error("refused", `unsupported key encryption ${info.encryptionAlgorithm.algorithm} (only PBES2 is read)`);
  }
  const params = parse(parametersOf(info.encryptionAlgorithm, "PBES2-params"), Pbes2Params, "PBES2-params");
  if (params.keyDerivationFunc.algorithm !== OID.pbkdf2) {
    throw new Pbes2Error("refused", `unsupported key derivation ${params.keyDerivationFunc.algorithm} (only PBKDF2 is read)`);
  }
  const kdf = parse(parametersOf(params.keyDerivationFunc, "PBKDF2-params"), Pbkdf2Params, "PBKDF2-params");
  const prfOid = kdf.prf?.algorithm ?? HMAC_SHA1;
  const prf = PRFS[prfOid];
  if (!prf) throw new Pbes2Error("refused", `unsupported PBKDF2 PRF ${prfOid}`);
  const cipher = CIPHERS[params.encryptionScheme.algorithm];
  if (!cipher) throw new Pbes2Error("refused", `unsupported key encryption cipher ${params.encryptionScheme.algorithm} (AES-CBC is read)`);
  if (kdf.iterationCount < 1n || kdf.iterationCount > BigInt(MAX_PBKDF2_ITERATIONS)) {
    throw new Pbes2Error("refused", `PBKDF2 iteration count ${kdf.iterationCount} is outside 1–${MAX_PBKDF2_ITERATIONS}`);
  }
  if (kdf.keyLength !== undefined && kdf.keyLength !== BigInt(cipher.keyLength)) {
    throw new Pbes2Error("refused", `PBKDF2 key length ${kdf.keyLength} does not fit ${cipher.name}`);
  }
  const salt = new Uint8Array(kdf.salt.buffer);
  if (salt.length < MIN_SALT_BYTES || salt.length > MAX_SALT_BYTES) {
    throw new Pbes2Error("refused", `PBKDF2 salt of ${salt.length} bytes is outside ${MIN_SALT_BYTES}–${MAX_SALT_BYTES}`);
  }
  const iv = new Uint8Array(parse(parametersOf(params.encryptionScheme, "AES-CBC IV"), OctetString, "AES-CBC IV").buffer);
  if (iv.length !== BLOCK_BYTES) throw new Pbes2Error("refused", `AES-CBC IV of ${iv.length} bytes (16 expected)`);
  const encryptedData = new Uint8Array(info.encryptedData.buffer);
  if (encryptedData.length === 0 || encryptedData.length % BLOCK_BYTES !== 0 || encryptedData.length > MAX_ENCRYPTED_BYTES) {
    throw new Pbes2Error("refused", `encrypted key of ${encryptedData.length} bytes is not whole AES blocks of at most ${MAX_ENCRYPTED_BYTES} bytes`);
  }
  return { parameters: { iterations: Number(kdf.iterationCount), prf, cipher: cipher.name, keyLength: cipher.keyLength, salt, iv }, encryptedData };
}

/**
 * The PKCS#8 DER inside an EncryptedPrivateKeyInfo (checked by readEncryptedPkcs8 first). The
 * caller owns the returned buffer and should zero it once the key object is made.
 */
export async function decryptPkcs8(der: Uint8Array, passphrase: string): Promise<{ pkcs8: Buffer; parameters: Pbes2Parameters }> {
  const { parameters, encryptedData } = readEncryptedPkcs8(der);
  const secret = Buffer.from(passphrase, "utf8");
  let key: Buffer;
  try {
    key = await derive(secret, parameters.salt, parameters.iterations, parameters.keyLength, parameters.prf);
  } finally {
    secret.fill(0);
  }
  let pkcs8: Buffer | undefined;
  // The decipher's parts hold the plaintext too: zeroed once joined, not left to the collector.
  const parts: Buffer[] = [];
  try {
    const decipher = createDecipheriv(parameters.cipher, key, parameters.iv);
    parts.push(decipher.update(encryptedData));
    parts.push(decipher.final());
    pkcs8 = Buffer.concat(parts);
  } catch {
    // Bad padding: the passphrase is not the one the key was encrypted under (or the data is damaged).
  } finally {
    key.fill(0);
    for (const part of parts) part.fill(0);
  }
  // A wrong key passes the padding check about once in 256 tries: what it yields is then no single
  // DER SEQUENCE (PrivateKeyInfo), and is refused the same way.
  const outer = pkcs8 && asn1js.fromBER(pkcs8);
  if (!pkcs8 || !outer || outer.offset !== pkcs8.length || !(outer.result instanceof asn1js.Sequence)) {
    pkcs8?.fill(0);
    throw new Pbes2Error("decrypt", "the key did not decrypt: wrong passphrase or damaged data");
  }
  return { pkcs8, parameters };
}

const PEM_LABEL = "ENCRYPTED PRIVATE KEY";

export function encryptedPkcs8Pem(der: Uint8Array): string {
  const body = Buffer.from(der).toString("base64").replace(/(.{64})/g, "$1\n").replace(/\n$/, "");
  return `-----BEGIN ${PEM_LABEL}-----\n${body}\n-----END ${PEM_LABEL}-----\n`;
}

/** The DER of one ENCRYPTED PRIVATE KEY PEM block (and nothing else but white space around it). */
export function encryptedPkcs8Der(pem: string): Uint8Array {
  const match = /^\s*-----BEGIN ENCRYPTED PRIVATE KEY-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END ENCRYPTED PRIVATE KEY-----\s*$/.exec(pem);
  if (!match) throw new Pbes2Error("refused", "not a single ENCRYPTED PRIVATE KEY PEM block");
  return new Uint8Array(Buffer.from(match[1]!.replace(/\s+/g, ""), "base64"));
}

function parametersOf(algorithm: AlgorithmIdentifier, what: string): ArrayBuffer {
  if (!algorithm.parameters) throw new Pbes2Error("refused", `${what} missing`);
  return algorithm.parameters;
}

function parse<T>(der: ArrayBuffer | Uint8Array, type: new () => T, what: string): T {
  try {
    return AsnConvert.parse(der, type);
  } catch {
    throw new Pbes2Error("refused", `malformed ${what}`);
  }
}
