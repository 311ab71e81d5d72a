/**
 * A small test PKI made with @peculiar/x509: a self-signed CA, end-entity certificates with a
 * directoryName CRL distribution point (like JPKI's per-municipality partitions), and a
 * delegated OCSP responder certificate (id-kp-OCSPSigning + id-pkix-ocsp-nocheck). Plus an
 * OpenSSL runner and a temporary directory. Generate keys once per test file: RSA-2048 keygen
 * costs about 100 ms.
 */
import "reflect-metadata";
import * as asn1X509 from "@peculiar/asn1-x509";
import { AsnConvert } from "@peculiar/asn1-schema";
import * as x509 from "@peculiar/x509";
import { spawnSync } from "node:child_process";
import { KeyObject, webcrypto } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SoftwareSigner } from "../../src/pki/software-signer.ts";

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const RSA = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256", publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 };

type KeyPair = Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[0]["keys"];

export interface TestKey {
  readonly keys: KeyPair;
  readonly signer: SoftwareSigner;
}

export async function generateKey(): Promise<TestKey> {
  const keys = (await webcrypto.subtle.generateKey(RSA, true, ["sign", "verify"])) as unknown as KeyPair;
  return { keys, signer: new SoftwareSigner(KeyObject.from(keys.privateKey as unknown as webcrypto.CryptoKey)) };
}

export interface TestCert {
  readonly cert: x509.X509Certificate;
  readonly der: Uint8Array;
  readonly pem: string;
}

export interface TestCa extends TestCert {
  readonly key: TestKey;
  /** DER of the CA's subject Name, as in the certificate. */
  readonly nameDer: Uint8Array;
  readonly subjectKeyIdentifier: Uint8Array;
}

function wrap(cert: x509.X509Certificate): TestCert {
  return { cert, der: new Uint8Array(cert.rawData), pem: cert.toString("pem") + "\n" };
}

export function nameDer(dn: string): Uint8Array {
  return new Uint8Array(new x509.Name(dn).toArrayBuffer());
}

export async function makeCa(dn: string, key: TestKey): Promise<TestCa> {
  const notBefore = new Date(Date.UTC(2025, 0, 1));
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: "01",
    name: dn,
    notBefore,
    notAfter: new Date(Date.UTC(2035, 0, 1)),
    keys: key.keys,
    signingAlgorithm: RSA,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(key.keys.publicKey),
    ],
  });
  const ski = cert.getExtension(x509.SubjectKeyIdentifierExtension)!;
  return {
    ...wrap(cert),
    key,
    nameDer: new Uint8Array(cert.subjectName.toArrayBuffer()),
    subjectKeyIdentifier: Uint8Array.from(Buffer.from(ski.keyId, "hex")),
  };
}

export interface LeafOptions {
  readonly serialHex: string;
  readonly key: TestKey;
  readonly cn: string;
  /** DER of the directoryName the certificate names as its CRL distribution point. */
  readonly crlDistributionPointDer?: Uint8Array;
}

export async function makeLeaf(ca: TestCa, opts: LeafOptions): Promise<TestCert> {
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
  ];
  if (opts.crlDistributionPointDer) {
    const name = AsnConvert.parse(opts.crlDistributionPointDer, asn1X509.Name);
    const dp = new asn1X509.DistributionPoint({
      distributionPoint: new asn1X509.DistributionPointName({ fullName: [new asn1X509.GeneralName({ directoryName: name })] }),
    });
    extensions.push(new x509.CRLDistributionPointsExtension([dp]));
  }
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: opts.serialHex,
    subject: `C=JP, CN=${opts.cn}`,
    issuer: ca.cert.subject,
    notBefore: new Date(Date.UTC(2025, 0, 1)),
    notAfter: new Date(Date.UTC(2034, 0, 1)),
    publicKey: opts.key.keys.publicKey,
    signingKey: ca.key.keys.privateKey,
    signingAlgorithm: RSA,
    extensions,
  });
  return wrap(cert);
}

/** A delegated OCSP responder certificate: EKU id-kp-OCSPSigning and id-pkix-ocsp-nocheck. */
export async function makeOcspResponder(ca: TestCa, key: TestKey): Promise<TestCert> {
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: "7f01",
    subject: `C=JP, CN=OCSP Responder for ${ca.cert.subjectName.getField("CN")[0] ?? "CA"}`,
    issuer: ca.cert.subject,
    notBefore: new Date(Date.UTC(2025, 0, 1)),
    notAfter: new Date(Date.UTC(2034, 0, 1)),
    publicKey: key.keys.publicKey,
    signingKey: ca.key.keys.privateKey,
    signingAlgorithm: RSA,
    extensions: [
      new x509.BasicConstraintsExtension(false),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.ocspSigning]),
      new x509.Extension("1.3.6.1.5.5.7.48.1.5", false, Uint8Array.of(0x05, 0x00)),
      await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
    ],
  });
  return wrap(cert);
}

export interface OpensslResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `openssl` with `args` in `cwd`; never throws for a non-zero exit. */
export function openssl(args: readonly string[], cwd: string): OpensslResult {
  const r = spawnSync("openssl", args, { cwd, encoding: "utf8", timeout: 60_000, maxBuffer: 256 * 1024 * 1024 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A temporary directory and a way to write files into it; `dispose()` removes it. */
export function tempDir(prefix: string): { dir: string; write(name: string, data: string | Uint8Array): string; dispose(): void } {
  const dir = mkdtempSync(join(tmpdir(), `openjpki-${prefix}-`));
  return {
    dir,
    write(name, data) {
      const path = join(dir, name);
      writeFileSync(path, data);
      return path;
    },
    dispose() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function hexBytes(hex: string): Uint8Array {
  return Uint8Array.from(Buffer.from(hex, "hex"));
}
