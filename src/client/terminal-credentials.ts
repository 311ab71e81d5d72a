/**
 * Terminal CA and terminal certificates for the issuer-side card commands
 * (docs/card-issuer-commands.md). A terminal certificate is an ordinary X.509 v3
 * certificate signed by the terminal CA, with a critical extension naming its role.
 * The card trusts the terminal CA's public key, set when the card is manufactured.
 */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { AsnConvert, OctetString } from "@peculiar/asn1-schema";
import * as asn1X509 from "@peculiar/asn1-x509";
import { createPublicKey, generateKeyPair, randomBytes, sign as rsaSign, webcrypto, type KeyObject } from "node:crypto";
import { promisify } from "node:util";

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/** Same values as the card's (src/card/terminal-auth.ts); repeated because the card imports nothing of ours. */
export const OPENJPKI_ARC = "2.25.277252241222709093668397091308557852788";
export const TERMINAL_ROLE_OID = `${OPENJPKI_ARC}.1.1`;

export type TerminalRole = "counter" | "kiosk";

export interface TerminalCa {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** SubjectPublicKeyInfo DER: what manufactureCard takes as terminalCaPublicKeyDer. */
  readonly publicKeyDer: Uint8Array;
  readonly certificateDer: Uint8Array;
  readonly name: string;
}

export interface TerminalCredentials {
  readonly role: TerminalRole;
  readonly privateKey: KeyObject;
  readonly certificateDer: Uint8Array;
}

export interface ValidityOptions {
  notBefore?: Date;
  notAfter?: Date;
}

const RSA_SHA256 = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } as const;
const generateRsa = promisify(generateKeyPair);
const DAY = 86_400_000;

async function rsaPair(): Promise<{ privateKey: KeyObject; publicKey: KeyObject }> {
  return generateRsa("rsa", { modulusLength: 2048, publicExponent: 0x10001 });
}

async function signingKey(privateKey: KeyObject): Promise<webcrypto.CryptoKey> {
  const pkcs8 = privateKey.export({ type: "pkcs8", format: "der" });
  return webcrypto.subtle.importKey("pkcs8", pkcs8, RSA_SHA256, false, ["sign"]);
}

function spki(key: KeyObject): Uint8Array {
  return new Uint8Array(key.export({ type: "spki", format: "der" }));
}

function serial(): string {
  const bytes = randomBytes(16);
  bytes[0]! &= 0x7f; // positive INTEGER
  return bytes.toString("hex");
}

/** Make a terminal CA: an RSA-2048 key and a self-signed certificate (10 years by default). */
export async function createTerminalCa(
  opts: ValidityOptions & { name?: string } = {},
): Promise<TerminalCa> {
  const { privateKey, publicKey } = await rsaPair();
  const name = opts.name ?? "CN=OpenJPKI Terminal CA, O=OpenJPKI, C=JP";
  const notBefore = opts.notBefore ?? new Date();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: name,
    issuer: name,
    notBefore,
    notAfter: opts.notAfter ?? new Date(notBefore.getTime() + 3653 * DAY),
    publicKey: spki(publicKey),
    signingKey: (await signingKey(privateKey)) as never,
    signingAlgorithm: RSA_SHA256,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    ],
  });
  return { privateKey, publicKey, publicKeyDer: spki(publicKey), certificateDer: new Uint8Array(cert.rawData), name };
}

/** DER of `TerminalRole ::= ENUMERATED { counter(1), kiosk(2) }`. */
export function terminalRoleValue(role: TerminalRole): Uint8Array {
  return Uint8Array.of(0x0a, 0x01, role === "counter" ? 1 : 2);
}

/**
 * Make a terminal key and its certificate (2 years by default). `publicKey` lets a
 * terminal whose key lives elsewhere (an HSM) be certified without the private key;
 * then the returned privateKey is absent.
 */
export async function createTerminalCredentials(
  ca: Pick<TerminalCa, "privateKey" | "name">,
  opts: ValidityOptions & { role: TerminalRole; name?: string },
): Promise<TerminalCredentials> {
  const { privateKey, publicKey } = await rsaPair();
  const certificateDer = await certifyTerminalKey(ca, publicKey, opts);
  return { role: opts.role, privateKey, certificateDer };
}

/** Certify an existing terminal public key. */
export async function certifyTerminalKey(
  ca: Pick<TerminalCa, "privateKey" | "name">,
  publicKey: KeyObject,
  opts: ValidityOptions & { role: TerminalRole; name?: string },
): Promise<Uint8Array> {
  const notBefore = opts.notBefore ?? new Date();
  const draft = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: opts.name ?? `CN=OpenJPKI ${opts.role} terminal, O=OpenJPKI, C=JP`,
    issuer: ca.name,
    notBefore,
    notAfter: opts.notAfter ?? new Date(notBefore.getTime() + 730 * DAY),
    publicKey: spki(publicKey.type === "private" ? createPublicKey(publicKey) : publicKey),
    signingKey: (await signingKey(ca.privateKey)) as never,
    signingAlgorithm: RSA_SHA256,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    ],
  });
  // The role extension is added here and the certificate re-signed, because the
  // generator round-trips extensions through a parser that mangles OID arcs above
  // 2^53, and ours is a UUID arc (2.25.<128-bit>).
  const cert = AsnConvert.parse(draft.rawData, asn1X509.Certificate);
  cert.tbsCertificate.extensions!.push(
    new asn1X509.Extension({
      extnID: TERMINAL_ROLE_OID,
      critical: true,
      extnValue: new OctetString(terminalRoleValue(opts.role)),
    }),
  );
  const tbs = new Uint8Array(AsnConvert.serialize(cert.tbsCertificate));
  cert.signatureValue = new Uint8Array(rsaSign("sha256", tbs, ca.privateKey)).buffer;
  return new Uint8Array(AsnConvert.serialize(cert));
}
