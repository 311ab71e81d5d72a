/**
 * CRL build benchmark: OpenJPKI's buildCrl/writeCrl against `openssl ca -gencrl`, on the same
 * revoked serials (random 16-byte serials, a reasonCode on every entry but unspecified ones).
 *
 *   node --import tsx bench/crl.ts [100000 1000000] [--no-openssl] [--keep]
 *
 * For each size it prints: build time (objects → DER, and pre-encoded entries → DER), bytes per
 * entry, peak RSS growth, `openssl crl -CAfile` verification, and the openssl peer's time.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createPrivateKey, randomBytes } from "node:crypto";
import { createWriteStream, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { keyHashSha1, readCertificateFields } from "../src/pki/certificate-fields.ts";
import { buildCrl, encodeCrlEntry, writeCrl, type CrlEntry } from "../src/pki/crl.ts";
import { SoftwareSigner } from "../src/pki/software-signer.ts";
import type { RevocationReason } from "../src/rules/revocation.ts";

const args = process.argv.slice(2);
const sizes = args.filter((a) => /^\d+$/.test(a)).map(Number);
if (sizes.length === 0) sizes.push(100_000, 1_000_000);
const runOpenssl = !args.includes("--no-openssl");
const keep = args.includes("--keep");

const dir = mkdtempSync(join(tmpdir(), "openjpki-bench-crl-"));
const sh = (cmd: string, a: string[]): string => execFileSync(cmd, a, { cwd: dir, encoding: "utf8", maxBuffer: 1 << 28 });

// A CA made by openssl, so both tools sign with the same key and name.
sh("openssl", ["genrsa", "-out", "ca.key", "2048"]);
sh("openssl", ["req", "-x509", "-new", "-key", "ca.key", "-sha256", "-days", "3650", "-subj", "/C=JP/O=JPKI/CN=Bench CA", "-out", "ca.pem"]);
sh("openssl", ["x509", "-in", "ca.pem", "-outform", "DER", "-out", "ca.der"]);
const caDer = new Uint8Array(readFileSync(join(dir, "ca.der")));
const ca = readCertificateFields(caDer);
const signer = new SoftwareSigner(createPrivateKey(readFileSync(join(dir, "ca.key"))));
const ski = keyHashSha1(ca.spkiKeyBits);

const REASONS: RevocationReason[] = ["keyCompromise", "affiliationChanged", "superseded", "cessationOfOperation", "unspecified"];
const OPENSSL_REASON: Record<RevocationReason, string> = {
  unspecified: "unspecified",
  keyCompromise: "keyCompromise",
  cACompromise: "CACompromise",
  affiliationChanged: "affiliationChanged",
  superseded: "superseded",
  cessationOfOperation: "cessationOfOperation",
  certificateHold: "certificateHold",
};

function makeEntries(n: number): CrlEntry[] {
  const pool = randomBytes(16 * n);
  const base = Date.UTC(2025, 0, 1);
  const out: CrlEntry[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const serial = pool.subarray(16 * i, 16 * i + 16);
    serial[0] = (serial[0]! & 0x7f) | 0x01; // positive, no pad, never zero-led: same bytes for both tools
    out[i] = { serial, revokedAt: new Date(base + i * 1000), reason: REASONS[i % REASONS.length]! };
  }
  return out;
}

const yymmdd = (d: Date): string => d.toISOString().replace(/[-:T]/g, "").slice(2, 14) + "Z";

function writeIndex(path: string, entries: readonly CrlEntry[]): void {
  const lines: string[] = [];
  for (const e of entries) {
    const hex = Buffer.from(e.serial).toString("hex").toUpperCase();
    const r = e.reason === "unspecified" ? "" : "," + OPENSSL_REASON[e.reason];
    lines.push(`R\t301231235959Z\t${yymmdd(e.revokedAt)}${r}\t${hex}\tunknown\t/C=JP/CN=${hex}`);
  }
  writeFileSync(path, lines.join("\n") + "\n");
}

function time<T>(f: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  return f().then((v) => [v, performance.now() - t0]);
}

const thisUpdate = new Date();
const nextUpdate = new Date(thisUpdate.getTime() + 86_400_000);
const base = { issuerNameDer: ca.subjectNameDer, authorityKeyIdentifier: ski, signer, thisUpdate, nextUpdate, crlNumber: 1n };

console.log(`node ${process.version}, ${sh("openssl", ["version"]).trim()}`);
for (const n of sizes) {
  const entries = makeEntries(n);
  global.gc?.();
  const rss0 = process.memoryUsage().rss;

  const [der, msBuild] = await time(() => buildCrl({ ...base, entries, expectedEntries: n }));
  const rss1 = process.memoryUsage().rss;
  writeFileSync(join(dir, `ours-${n}.der`), der);

  const t0 = performance.now();
  const encoded = entries.map(encodeCrlEntry);
  const msEncode = performance.now() - t0;
  const [der2, msPre] = await time(() => buildCrl({ ...base, entries: encoded, expectedEntries: n }));
  if (Buffer.compare(der, der2) !== 0) throw new Error("pre-encoded build differs");

  const out = createWriteStream(join(dir, `stream-${n}.der`));
  const [bytes, msStream] = await time(() => writeCrl({ ...base, entries: entries.values(), expectedEntries: n }, out));
  await new Promise<void>((resolve) => out.end(resolve));

  const tv = performance.now();
  const v = spawnSync("openssl", ["crl", "-inform", "DER", "-in", `ours-${n}.der`, "-CAfile", "ca.pem", "-noout"], { cwd: dir, encoding: "utf8" });
  const msVerify = performance.now() - tv;
  const ok = /verify OK/.test(v.stdout + v.stderr);

  console.log(
    `ours    ${String(n).padStart(9)} entries: build ${msBuild.toFixed(0)} ms (objects), ${msPre.toFixed(0)} ms (pre-encoded; encoding them took ${msEncode.toFixed(0)} ms), ` +
      `writeCrl to file ${msStream.toFixed(0)} ms; ${der.length} bytes = ${(der.length / n).toFixed(2)} B/entry; ` +
      `RSS +${((rss1 - rss0) / 1e6).toFixed(0)} MB; openssl crl -CAfile: ${ok ? "verify OK" : "FAILED " + v.stderr} (${msVerify.toFixed(0)} ms)`,
  );
  if (bytes !== der.length || statSync(join(dir, `stream-${n}.der`)).size !== der.length) throw new Error("writeCrl size mismatch");

  if (runOpenssl) {
    writeIndex(join(dir, `index-${n}.txt`), entries);
    writeFileSync(
      join(dir, "crl-ca.cnf"),
      [
        "[ ca ]",
        "default_ca = CA_default",
        "[ CA_default ]",
        "database = $ENV::CRLDB",
        "certificate = ca.pem",
        "private_key = ca.key",
        "default_md = sha256",
        "default_crl_days = 1",
        "crlnumber = crlnumber",
        "crl_extensions = crl_ext",
        "[ crl_ext ]",
        "authorityKeyIdentifier = keyid:always",
        "",
      ].join("\n"),
    );
    writeFileSync(join(dir, "crlnumber"), "01\n");
    const t1 = performance.now();
    const r = spawnSync("openssl", ["ca", "-gencrl", "-config", "crl-ca.cnf", "-out", `openssl-${n}.pem`], {
      cwd: dir,
      encoding: "utf8",
      env: { ...process.env, CRLDB: `index-${n}.txt` },
    });
    const msOpenssl = performance.now() - t1;
    if (r.status !== 0) {
      console.log(`openssl ca -gencrl failed: ${r.stderr}`);
    } else {
      sh("openssl", ["crl", "-in", `openssl-${n}.pem`, "-outform", "DER", "-out", `openssl-${n}.der`]);
      const size = statSync(join(dir, `openssl-${n}.der`)).size;
      console.log(
        `openssl ${String(n).padStart(9)} entries: ca -gencrl ${msOpenssl.toFixed(0)} ms; ${size} bytes = ${(size / n).toFixed(2)} B/entry; ` +
          `ratio openssl/ours ${(msOpenssl / msBuild).toFixed(1)}×`,
      );
    }
  }
}

if (keep) console.log(`files kept in ${dir}`);
else rmSync(dir, { recursive: true, force: true });
