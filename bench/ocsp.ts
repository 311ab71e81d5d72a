/**
 * OCSP encoding benchmark (no HTTP): request parse, and build + sign of one nonce response,
 * sequential and concurrent, and pre-signing (buildOcspResponse and OcspResponseTemplate),
 * against `openssl speed rsa2048` sign/s measured in the same run.
 *
 *   node --import tsx bench/ocsp.ts [N=2000]
 */
import { execFileSync } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { readFileSync, rmSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OcspResponseTemplate, buildOcspResponse, certIdFor, ocspIssuerFromCertificate, parseOcspRequest } from "../src/pki/ocsp.ts";
import { SoftwareSigner } from "../src/pki/software-signer.ts";

const n = Number(process.argv[2] ?? 2000);
const dir = mkdtempSync(join(tmpdir(), "openjpki-bench-ocsp-"));
const sh = (a: string[]): string => execFileSync("openssl", a, { cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

sh(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-subj", "/C=JP/CN=Bench CA", "-days", "30", "-out", "ca.pem"]);
sh(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ee.key", "-subj", "/C=JP/CN=ee", "-days", "30", "-out", "ee.pem"]);
sh(["ocsp", "-issuer", "ca.pem", "-sha256", "-cert", "ee.pem", "-reqout", "req.der"]);
sh(["x509", "-in", "ca.pem", "-outform", "DER", "-out", "ca.der"]);
const reqDer = new Uint8Array(readFileSync(join(dir, "req.der")));
const issuer = ocspIssuerFromCertificate(new Uint8Array(readFileSync(join(dir, "ca.der"))));
const responder = new SoftwareSigner(generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey);

let t = performance.now();
for (let i = 0; i < n; i++) parseOcspRequest(reqDer);
const parseUs = ((performance.now() - t) * 1000) / n;

const parsed = parseOcspRequest(reqDer);
const now = new Date();
const respond = (): Promise<Uint8Array> =>
  buildOcspResponse({
    signer: responder,
    producedAt: now,
    responses: parsed.requests.map((certId) => ({ certId, status: { kind: "good" }, thisUpdate: now })),
    ...(parsed.nonce ? { nonce: parsed.nonce } : {}),
  });
await respond();
t = performance.now();
for (let i = 0; i < n; i++) await respond();
const seqUs = ((performance.now() - t) * 1000) / n;
t = performance.now();
await Promise.all(Array.from({ length: n }, respond));
const concPerS = n / ((performance.now() - t) / 1000);

// Pre-signing (the cached, no-nonce path): cost per serial including CertID hashing.
t = performance.now();
await Promise.all(
  Array.from({ length: n }, () =>
    buildOcspResponse({ signer: responder, producedAt: now, responses: [{ certId: certIdFor(issuer, randomBytes(16)), status: { kind: "good" }, thisUpdate: now }] }),
  ),
);
const presignPerS = n / ((performance.now() - t) / 1000);

// The same with OcspResponseTemplate (what the batch refresher uses: shared parts encoded once).
const template = new OcspResponseTemplate({ signer: responder, producedAt: now, thisUpdate: now });
t = performance.now();
await Promise.all(Array.from({ length: n }, () => template.build(certIdFor(issuer, randomBytes(16)), { kind: "good" })));
const templatePerS = n / ((performance.now() - t) / 1000);

const speed = execFileSync("openssl", ["speed", "-seconds", "2", "rsa2048"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
const m = /rsa\s+2048 bits\s+[\d.]+s\s+[\d.]+s\s+([\d.]+)/.exec(speed);
const opensslSignPerS = m ? Number(m[1]) : Number.NaN;

console.log(`node ${process.version}; N=${n}`);
console.log(`parseOcspRequest: ${parseUs.toFixed(1)} µs per request`);
console.log(`buildOcspResponse (nonce, 1 SingleResponse): ${seqUs.toFixed(0)} µs sequential; ${concPerS.toFixed(0)} responses/s concurrent`);
console.log(`pre-signing (certIdFor + build + sign): ${presignPerS.toFixed(0)} responses/s concurrent`);
console.log(`pre-signing with OcspResponseTemplate: ${templatePerS.toFixed(0)} responses/s concurrent`);
console.log(`openssl speed rsa2048 (1 process): ${opensslSignPerS} sign/s; sequential response cost = ${(seqUs / (1e6 / opensslSignPerS)).toFixed(2)} × one RSA signature`);
rmSync(dir, { recursive: true, force: true });
