/**
 * Files the CRL benchmarks share: the peers' inputs (openssl's `index.txt`, cfssl's serial list)
 * written from bench rows, and a count of the entries in a DER CRL, to check what was built.
 */
import { appendFileSync } from "node:fs";
import { indexLine } from "../fixtures/pki.ts";
import { serialHex, type BenchRow } from "../fixtures/store.ts";
import { run } from "../proc.ts";

/** The notAfter of every bench row (bench/fixtures/store.ts). */
export const BENCH_NOT_AFTER = new Date("2031-03-31T14:59:59Z");

/** Append `rows` to openssl's index (same serials, times and reasons) and to cfssl's decimal serial list. */
export function appendPeerFiles(indexFile: string, serialsFile: string | undefined, rows: readonly BenchRow[]): void {
  const CHUNK = 50_000;
  for (let i = 0; i < rows.length; i += CHUNK) {
    const slice = rows.slice(i, i + CHUNK);
    appendFileSync(indexFile, slice.map((r) => indexLine(serialHex(r.serial), BENCH_NOT_AFTER, { at: r.revokedAt, reason: r.reason })).join("\n") + "\n");
    if (serialsFile) appendFileSync(serialsFile, slice.map((r) => BigInt("0x" + serialHex(r.serial)).toString()).join("\n") + "\n");
  }
}

/** Count the revokedCertificates entries of a DER CRL (a minimal TLV walk; no per-entry parsing). */
export function countEntries(der: Uint8Array): number {
  const tlvAt = (at: number): { start: number; end: number; tag: number } => {
    const tag = der[at]!;
    let len = der[at + 1]!;
    let start = at + 2;
    if (len & 0x80) {
      const k = len & 0x7f;
      len = 0;
      for (let i = 0; i < k; i++) len = len * 256 + der[at + 2 + i]!;
      start += k;
    }
    return { tag, start, end: start + len };
  };
  const tbs = tlvAt(tlvAt(0).start);
  let at = tbs.start;
  const fields: { tag: number; start: number; end: number }[] = [];
  while (at < tbs.end) {
    const t = tlvAt(at);
    fields.push(t);
    at = t.end;
  }
  // version, signature, issuer, thisUpdate, nextUpdate, then revokedCertificates (a SEQUENCE) if any.
  const revoked = fields[5];
  if (!revoked || revoked.tag !== 0x30) return 0;
  let n = 0;
  for (at = revoked.start; at < revoked.end; at = tlvAt(at).end) n++;
  return n;
}

/** `openssl crl -CAfile` on a DER CRL: "verify OK", or what openssl said instead. */
export async function opensslVerifyCrl(derFile: string, caPem: string, cwd: string): Promise<string> {
  return run("sh", ["-c", `openssl crl -inform DER -in ${JSON.stringify(derFile)} -CAfile ${JSON.stringify(caPem)} -noout 2>&1`], { cwd }).then(
    (out) => (/verify OK/.test(out) ? "verify OK" : out.trim().slice(0, 200)),
    (error: Error) => error.message.slice(0, 200),
  );
}
