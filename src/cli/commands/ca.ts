import { createPublicKey, X509Certificate, type KeyObject } from "node:crypto";
import { accessSync, constants, existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { withContext } from "../open-context.ts";
import { type Command, CliError, json, oneOf, optionalString, requireString } from "../command.ts";

const TYPES = ["sign", "auth"] as const;
const TYPE_JA = { sign: "署名用電子証明書", auth: "利用者証明用電子証明書" } as const;

/** Read an RSA public key (PEM SPKI, PEM PKCS#1, or DER SPKI) and check it is one JPKI allows. */
export function readPublicKey(path: string): KeyObject {
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch (error) {
    throw new CliError(`--pubkey: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  if (data.length > 64 * 1024) throw new CliError(`--pubkey: ${path} is too large for a public key`);
  let key: KeyObject;
  try {
    const text = data.toString("latin1");
    // createPublicKey would take a private key too and derive its public half; a private key has
    // no business in the CA's hands (in JPKI it never leaves the card), so it is refused.
    if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) {
      throw new CliError(`--pubkey: ${path} holds a private key; give the public key only (openssl pkey -in KEY -pubout)`);
    }
    key = text.includes("-----BEGIN")
      ? createPublicKey({ key: text, format: "pem" })
      : createPublicKey({ key: data, format: "der", type: "spki" });
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError(`--pubkey: ${path} is not a PEM or DER public key`);
  }
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType !== "rsa" || !details?.modulusLength) {
    throw new CliError(`--pubkey: ${path} is a ${key.asymmetricKeyType} key; JPKI certificates are RSA`);
  }
  if (details.modulusLength < 2048 || details.modulusLength > 4096) {
    throw new CliError(`--pubkey: RSA-${details.modulusLength} is outside what JPKI allows (2048 to 4096 bits)`);
  }
  if (details.publicExponent !== 65537n) throw new CliError(`--pubkey: the public exponent must be 65537`);
  return key;
}

function pem(der: Uint8Array): string {
  const body = Buffer.from(der).toString("base64").replace(/(.{64})/g, "$1\n").replace(/\n$/, "");
  return `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n`;
}

export const caIssue: Command = {
  path: ["ca", "issue"],
  summary: "公開鍵から証明書を発行 / issue a certificate for a resident from a public key",
  usage: "--type sign|auth --resident ID --pubkey FILE [--out FILE] [--json]",
  help: [
    "  --type sign|auth   署名用 (signing) or 利用者証明用 (authentication)",
    "  --resident ID      the resident's id (R-…)",
    "  --pubkey FILE      the subject's RSA public key, PEM or DER",
    "  --out FILE         write the certificate there (DER if FILE ends in .der or .cer, else PEM)",
  ],
  options: { type: { type: "string" }, resident: { type: "string" }, pubkey: { type: "string" }, out: { type: "string" } },
  async run(values, io) {
    const type = oneOf(values, "type", TYPES);
    const residentId = requireString(values, "resident");
    const subjectPublicKey = readPublicKey(requireString(values, "pubkey"));
    const out = optionalString(values, "out");
    // A certificate is recorded once issued: find out first that it can be written where asked.
    if (out) checkWritable(out);
    const record = await withContext(values, io, (ctx) => ctx.ca.issue({ type, residentId, subjectPublicKey }));
    const certificatePem = pem(record.der);
    if (out) {
      try {
        writeFileSync(out, /\.(der|cer)$/i.test(out) ? record.der : certificatePem);
      } catch (error) {
        throw new CliError(`--out ${out}: ${(error as Error).message}; the certificate was issued and recorded (serial ${record.serialHex}; openjpki cert status --type ${type} --serial ${record.serialHex})`);
      }
    }
    const subject = new X509Certificate(record.der).subject.replace(/\n/g, ", ");
    if (values.json) {
      const { der: _der, ...rest } = record;
      return json(io, { id: record.serialHex, ...rest, subject, pem: certificatePem });
    }
    io.stdout(
      `${TYPE_JA[type]}を発行しました / issued the ${type} certificate\n` +
        `  シリアル番号 / serial: ${record.serialHex}\n  subject: ${subject}\n` +
        `  有効期限 / expires: ${record.expires} (notAfter ${record.notAfter})\n`,
    );
    if (!out) io.stdout(certificatePem);
  },
};

export const caShow: Command = {
  path: ["ca", "show"],
  summary: "CA 証明書を表示 / print a CA's root certificate (PEM)",
  usage: "--type sign|auth [--json]",
  help: ["  --type sign|auth   the signing or the authentication CA"],
  options: { type: { type: "string" } },
  async run(values, io) {
    const type = oneOf(values, "type", TYPES);
    const der = await withContext(values, io, async (ctx) => ctx.ca.authority(type).certificateDer);
    if (!values.json) return io.stdout(pem(der));
    const x = new X509Certificate(der);
    json(io, {
      id: `${type}-ca`,
      type,
      subject: x.subject.replace(/\n/g, ", "),
      serial: x.serialNumber,
      notBefore: new Date(x.validFrom).toISOString(),
      notAfter: new Date(x.validTo).toISOString(),
      sha256: x.fingerprint256.replace(/:/g, ""),
      pem: pem(der),
    });
  },
};

export const caRewrapKeys: Command = {
  path: ["ca", "rewrap-keys"],
  summary: "保存された秘密鍵を現在の強度で暗号化し直す / re-encrypt stored private keys at the current PBKDF2 strength",
  usage: "[--json]",
  help: [
    "  Private keys stored by versions before 2026-12 (PBKDF2 at 2,048 iterations) are encrypted again at",
    "  600,000, under the same passphrase: the CA keys, the OCSP responder keys, the terminal keys and the",
    "  OIDC signing key. Keys in an HSM and keys already that strong are left as they are.",
    "  Each key is replaced in one statement: a crash leaves the old or the new form, both readable.",
  ],
  options: {},
  async run(values, io) {
    const keys = await withContext(values, io, async (ctx) => [
      ...(await ctx.ca.rewrapStoredKeys()).map((k) => ({ kind: "ca", ...k })),
      ...(await ctx.ocsp.rewrapStoredKeys()).map((k) => ({ kind: "ocsp-responder", ...k })),
      ...(await ctx.terminals.rewrapStoredKeys()).map((k) => ({ kind: "terminal", ...k })),
      ...(await ctx.oidc.rewrapStoredKeys()).map((k) => ({ kind: "oidc", ...k })),
    ]);
    if (values.json) return json(io, { keys });
    for (const k of keys) io.stdout(`${k.kind} ${k.id}: ${k.rewrapped ? "暗号化し直しました / re-encrypted" : "変更なし / unchanged"}\n`);
  },
};

/** Refuses an --out path that cannot be written (no such directory, not writable, a directory). */
function checkWritable(path: string): void {
  const target = resolve(path);
  try {
    if (existsSync(target)) {
      if (!statSync(target).isFile()) throw new Error("is not a regular file");
      accessSync(target, constants.W_OK);
    } else {
      accessSync(dirname(target), constants.W_OK);
    }
  } catch (error) {
    const why = (error as NodeJS.ErrnoException).code === "ENOENT" ? "no such directory" : (error as Error).message;
    throw new CliError(`--out ${path}: cannot be written (${why}); nothing was issued`, 2);
  }
}
