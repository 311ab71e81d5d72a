/**
 * A virtual My Number Card with real certificates, for client and interoperability tests.
 *
 * A throwaway test CA (two RSA-2048 roots: authentication and signing) issues
 * certificates over public keys the card generates itself through the counter-terminal
 * commands (IssuerSession); the certificates, both CA certificates, the PINs and the
 * 券面事項入力補助AP data are written to the card in APDUs, exactly as at a counter.
 * The card is personalised once per process; {@link freshCard} hands each test its own
 * copy of that directory (so blocking a PIN in one test does not affect another).
 */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createPublicKey, generateKeyPair, randomBytes, webcrypto, type KeyObject } from "node:crypto";
import { promisify } from "node:util";
import { manufactureCard, openCard, type VirtualCard } from "../../src/card/index.ts";
import { InProcessReader } from "../../src/readers/in-process.ts";
import { IssuerSession } from "../../src/client/issuer.ts";
import { createTerminalCa, createTerminalCredentials } from "../../src/client/terminal-credentials.ts";

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export const TEST_PINS = { auth: "1234", sign: "ABC123", kenhojo: "5678" } as const;
export const TEST_KENHOJO = {
  myNumber: "123456789018",
  name: "公的　花子",
  address: "東京都千代田区霞が関二丁目1番2号",
  birthDate: "19850401",
  sex: "2",
} as const;

export interface IssuedCardTemplate {
  /** The personalised card's directory (do not use directly: take a freshCard()). */
  readonly dir: string;
  readonly chipMasterKey: Uint8Array;
  readonly certs: { auth: Uint8Array; sign: Uint8Array; "auth-ca": Uint8Array; "sign-ca": Uint8Array };
  /** PEM of the end-entity public keys (from the certificates), for openssl. */
  readonly publicKeyPem: { auth: string; sign: string };
}

export interface FreshCard extends IssuedCardTemplate {
  readonly card: VirtualCard;
  /** Removes this copy's directory. */
  dispose(): void;
}

const RSA_SHA256 = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } as const;
const DAY = 86_400_000;
const generateRsa = promisify(generateKeyPair);

async function importSigningKey(privateKey: KeyObject): Promise<webcrypto.CryptoKey> {
  return webcrypto.subtle.importKey("pkcs8", privateKey.export({ type: "pkcs8", format: "der" }), RSA_SHA256, false, ["sign"]);
}

function serial(): string {
  const b = randomBytes(12);
  b[0]! &= 0x7f;
  b[0]! |= 0x01;
  return b.toString("hex");
}

async function makeRoot(name: string): Promise<{ name: string; key: webcrypto.CryptoKey; der: Uint8Array }> {
  const { privateKey, publicKey } = await generateRsa("rsa", { modulusLength: 2048, publicExponent: 0x10001 });
  const key = await importSigningKey(privateKey);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: name,
    issuer: name,
    notBefore: new Date(now - DAY),
    notAfter: new Date(now + 3650 * DAY),
    publicKey: new Uint8Array(publicKey.export({ type: "spki", format: "der" })),
    signingKey: key as never,
    signingAlgorithm: RSA_SHA256,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    ],
  });
  return { name, key, der: new Uint8Array(cert.rawData) };
}

async function issue(
  ca: { name: string; key: webcrypto.CryptoKey },
  subject: string,
  publicKey: KeyObject,
  usage: number,
): Promise<Uint8Array> {
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject,
    issuer: ca.name,
    notBefore: new Date(now - DAY),
    notAfter: new Date(now + 365 * DAY),
    publicKey: new Uint8Array(publicKey.export({ type: "spki", format: "der" })),
    signingKey: ca.key as never,
    signingAlgorithm: RSA_SHA256,
    extensions: [new x509.BasicConstraintsExtension(false, undefined, true), new x509.KeyUsagesExtension(usage, true)],
  });
  return new Uint8Array(cert.rawData);
}

async function personalise(): Promise<IssuedCardTemplate> {
  const dir = mkdtempSync(join(tmpdir(), "openjpki-issued-card-"));
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  const chipMasterKey = new Uint8Array(randomBytes(32));
  const [terminalCa, authRoot, signRoot] = await Promise.all([
    createTerminalCa({ name: "CN=Test Terminal CA, O=OpenJPKI test, C=JP" }),
    makeRoot("CN=Test JPKI User Authentication CA, O=OpenJPKI test, C=JP"),
    makeRoot("CN=Test JPKI Digital Signature CA, O=OpenJPKI test, C=JP"),
  ]);
  const counter = await createTerminalCredentials(terminalCa, { role: "counter" });
  const card = await manufactureCard({
    dir: join(dir, "card"),
    cardId: "test-card-0001",
    terminalCaPublicKeyDer: terminalCa.publicKeyDer,
    chipMasterKey,
  });
  const reader = new InProcessReader(card, "issuer");
  await reader.connect();
  const session = new IssuerSession(reader);
  await session.authenticate({ role: "counter", privateKey: counter.privateKey, certificateDer: counter.certificateDer });
  const authKey = await session.generateKeyPair("auth");
  const signKey = await session.generateKeyPair("sign");
  const certs = {
    auth: await issue(authRoot, "CN=Test Holder Auth, O=OpenJPKI test, C=JP", authKey, x509.KeyUsageFlags.digitalSignature),
    sign: await issue(
      signRoot,
      "CN=Test Holder, O=OpenJPKI test, C=JP",
      signKey,
      x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation,
    ),
    "auth-ca": authRoot.der,
    "sign-ca": signRoot.der,
  };
  for (const ef of ["auth", "sign", "auth-ca", "sign-ca"] as const) await session.writeCertificate(ef, certs[ef]);
  await session.setPin("auth", TEST_PINS.auth);
  await session.setPin("sign", TEST_PINS.sign);
  await session.writeKenhojo(TEST_KENHOJO);
  await session.setPin("kenhojo", TEST_PINS.kenhojo);
  await reader.disconnect();
  const pem = (der: Uint8Array): string =>
    createPublicKey({ key: Buffer.from(new x509.X509Certificate(der).publicKey.rawData), format: "der", type: "spki" })
      .export({ type: "spki", format: "pem" })
      .toString();
  return { dir: join(dir, "card"), chipMasterKey, certs, publicKeyPem: { auth: pem(certs.auth), sign: pem(certs.sign) } };
}

let template: Promise<IssuedCardTemplate> | null = null;

/** The personalised card, made once per process. */
export function issuedCardTemplate(): Promise<IssuedCardTemplate> {
  template ??= personalise();
  return template;
}

/** A private copy of the personalised card, opened. */
export async function freshCard(): Promise<FreshCard> {
  const t = await issuedCardTemplate();
  const dir = mkdtempSync(join(tmpdir(), "openjpki-card-copy-"));
  cpSync(t.dir, dir, { recursive: true });
  const card = await openCard(dir, { chipMasterKey: t.chipMasterKey });
  return { ...t, dir, card, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}
