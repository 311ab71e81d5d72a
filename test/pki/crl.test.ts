import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createWriteStream, statSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { buildCrl, countEncodedCrlEntries, encodeCrlEntry, encodeRecordedRevocation, writeCrl, type CrlEntry, type CrlOptions } from "../../src/pki/crl.ts";
import type { RevocationReason } from "../../src/rules/revocation.ts";
import {
  generateKey,
  hexBytes,
  makeCa,
  makeLeaf,
  nameDer,
  openssl,
  tempDir,
  type TestCa,
  type TestCert,
} from "../helpers/test-pki.ts";

const THIS_UPDATE = new Date("2026-01-10T00:00:00.789Z");
const NEXT_UPDATE = new Date("2026-01-11T00:00:00Z");
const AT_TIME = String(Date.UTC(2026, 0, 10, 12) / 1000); // for openssl verify -attime
const PARTITION_DN = "C=JP, O=JPKI, OU=JPKI for digital signature, OU=CRL Distribution Points, OU=Tokyo-to, CN=Chiyoda-ku CRLDP";
const OTHER_PARTITION_DN = "C=JP, O=JPKI, OU=JPKI for digital signature, OU=CRL Distribution Points, OU=Tokyo-to, CN=Minato-ku CRLDP";

const pem = (label: string, der: Uint8Array): string =>
  `-----BEGIN ${label}-----\n${Buffer.from(der).toString("base64").replace(/.{64}/g, "$&\n").replace(/\n?$/, "\n")}-----END ${label}-----\n`;

let ca: TestCa;
let revokedLeaf: TestCert;
let goodLeaf: TestCert;
let tmp: ReturnType<typeof tempDir>;

function options(entries: CrlOptions["entries"], extra: Partial<CrlOptions> = {}): CrlOptions {
  return {
    issuerNameDer: ca.nameDer,
    authorityKeyIdentifier: ca.subjectKeyIdentifier,
    signer: ca.key.signer,
    thisUpdate: THIS_UPDATE,
    nextUpdate: NEXT_UPDATE,
    crlNumber: 42n,
    entries,
    ...extra,
  };
}

before(async () => {
  tmp = tempDir("crl");
  const [caKey, leafKey] = await Promise.all([generateKey(), generateKey()]);
  ca = await makeCa("C=JP, O=JPKI, OU=JPKI for digital signature, CN=Test Signing CA", caKey);
  revokedLeaf = await makeLeaf(ca, { serialHex: "8f0102030405060708090a0b0c0d0e0f", key: leafKey, cn: "revoked", crlDistributionPointDer: nameDer(PARTITION_DN) });
  goodLeaf = await makeLeaf(ca, { serialHex: "0badc0ffee", key: leafKey, cn: "good", crlDistributionPointDer: nameDer(PARTITION_DN) });
  tmp.write("ca.pem", ca.pem);
  tmp.write("revoked.pem", revokedLeaf.pem);
  tmp.write("good.pem", goodLeaf.pem);
});

after(() => tmp.dispose());

const ALL_REASONS: RevocationReason[] = [
  "unspecified",
  "keyCompromise",
  "cACompromise",
  "affiliationChanged",
  "superseded",
  "cessationOfOperation",
  "certificateHold",
];

describe("buildCrl checked by openssl", () => {
  test("a partition CRL verifies and shows number, AKI, critical IDP and every reason", async () => {
    const entries: CrlEntry[] = ALL_REASONS.map((reason, i) => ({
      serial: Uint8Array.of(0x10 + i, 0xaa),
      revokedAt: new Date(Date.UTC(2026, 0, 1, 9, i)),
      reason,
    }));
    entries.push({ serial: hexBytes("8f0102030405060708090a0b0c0d0e0f"), revokedAt: new Date("2026-01-05T01:02:03.999Z"), reason: "keyCompromise", invalidityDate: new Date("2026-01-04T00:00:00Z") });
    const der = await buildCrl(options(entries, { issuingDistributionPoint: { fullNameDirectoryNameDer: nameDer(PARTITION_DN) } }));
    tmp.write("part.der", der);

    const verified = openssl(["crl", "-inform", "DER", "-in", "part.der", "-CAfile", "ca.pem", "-noout"], tmp.dir);
    assert.equal(verified.status, 0, verified.stderr);
    assert.match(verified.stderr + verified.stdout, /verify OK/);

    const text = openssl(["crl", "-inform", "DER", "-in", "part.der", "-noout", "-text"], tmp.dir).stdout;
    assert.match(text, /Version 2 \(0x1\)/);
    assert.match(text, /Signature Algorithm: sha256WithRSAEncryption/);
    assert.match(text, /Last Update: Jan 10 00:00:00 2026 GMT/);
    assert.match(text, /Next Update: Jan 11 00:00:00 2026 GMT/);
    assert.match(text, /X509v3 CRL Number:\s*\n\s*42/);
    assert.match(text, /X509v3 Authority Key Identifier:\s*\n\s*(keyid:)?[0-9A-F:]+/);
    assert.match(text, /X509v3 Issuing Distribution Point: critical\s*\n\s*Full Name:\s*\n\s*DirName:.*CN\s*=\s*Chiyoda-ku CRLDP/);
    for (const reason of ["Key Compromise", "CA Compromise", "Affiliation Changed", "Superseded", "Cessation Of Operation", "Certificate Hold"]) {
      assert.match(text, new RegExp(`CRL Reason Code:\\s*\\n\\s*${reason}`), reason);
    }
    assert.doesNotMatch(text, /Unspecified/, "unspecified carries no reasonCode (RFC 5280 §5.3.1)");
    assert.match(text, /Serial Number: 10AA\s*\n\s*Revocation Date: Jan  1 09:00:00 2026 GMT\s*\n\s*Serial Number: 11AA/);
    assert.match(text, /Serial Number: 8F0102030405060708090A0B0C0D0E0F\s*\n\s*Revocation Date: Jan  5 01:02:03 2026 GMT/);
    assert.match(text, /Invalidity Date:\s*\n\s*Jan  4 00:00:00 2026 GMT/);
  });

  test("openssl verify -crl_check rejects the revoked leaf and accepts the good one (partition and full CRL)", async () => {
    const entries = [{ serial: hexBytes("8f0102030405060708090a0b0c0d0e0f"), revokedAt: new Date("2026-01-05T00:00:00Z"), reason: "affiliationChanged" as const }];
    const partition = await buildCrl(options(entries, { issuingDistributionPoint: { fullNameDirectoryNameDer: nameDer(PARTITION_DN), onlyContainsUserCerts: true } }));
    const full = await buildCrl(options(entries, { crlNumber: 7n }));
    tmp.write("partition.pem", pem("X509 CRL", partition));
    tmp.write("full.pem", pem("X509 CRL", full));
    for (const crl of ["partition.pem", "full.pem"]) {
      const bad = openssl(["verify", "-attime", AT_TIME, "-crl_check", "-CAfile", "ca.pem", "-CRLfile", crl, "revoked.pem"], tmp.dir);
      assert.notEqual(bad.status, 0, crl);
      assert.match(bad.stdout + bad.stderr, /certificate revoked/, crl);
      const good = openssl(["verify", "-attime", AT_TIME, "-crl_check", "-CAfile", "ca.pem", "-CRLfile", crl, "good.pem"], tmp.dir);
      assert.equal(good.status, 0, `${crl}: ${good.stdout}${good.stderr}`);
      assert.match(good.stdout, /good\.pem: OK/);
    }
  });

  test("a partition for another municipality is out of scope for the leaf", async () => {
    const crl = await buildCrl(options([], { issuingDistributionPoint: { fullNameDirectoryNameDer: nameDer(OTHER_PARTITION_DN) } }));
    tmp.write("other.pem", pem("X509 CRL", crl));
    const r = openssl(["verify", "-attime", AT_TIME, "-crl_check", "-CAfile", "ca.pem", "-CRLfile", "other.pem", "good.pem"], tmp.dir);
    assert.notEqual(r.status, 0);
    assert.match(r.stdout + r.stderr, /different CRL scope/);
  });

  test("an empty CRL omits revokedCertificates and verifies", async () => {
    const der = await buildCrl(options([]));
    tmp.write("empty.der", der);
    const r = openssl(["crl", "-inform", "DER", "-in", "empty.der", "-CAfile", "ca.pem", "-noout", "-text"], tmp.dir);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout + r.stderr, /verify OK/);
    assert.match(r.stdout, /No Revoked Certificates/);
    const parsed = new x509.X509Crl(der);
    assert.equal(parsed.entries.length, 0);
  });

  test("a tampered CRL fails verification", async () => {
    const der = (await buildCrl(options([{ serial: Uint8Array.of(1), revokedAt: THIS_UPDATE, reason: "superseded" }]))).slice();
    der[der.length - 300]! ^= 1; // inside the TBSCertList or signature
    tmp.write("bad.der", der);
    const r = openssl(["crl", "-inform", "DER", "-in", "bad.der", "-CAfile", "ca.pem", "-noout"], tmp.dir);
    // openssl crl exits 0 either way; it says which.
    assert.match(r.stdout + r.stderr, /verify failure/);
    assert.doesNotMatch(r.stdout + r.stderr, /verify OK/);
  });
});

describe("encoding details", () => {
  test("times: whole seconds, UTCTime before 2050, GeneralizedTime from 2050", async () => {
    const der = await buildCrl(
      options(
        [
          { serial: Uint8Array.of(1), revokedAt: new Date("2049-12-31T23:59:59.999Z"), reason: "superseded" },
          { serial: Uint8Array.of(2), revokedAt: new Date("2050-01-01T00:00:00.000Z"), reason: "superseded" },
        ],
        { nextUpdate: new Date("2051-06-01T12:00:00Z") },
      ),
    );
    const hex = Buffer.from(der).toString("hex");
    const ascii = (s: string): string => Buffer.from(s).toString("hex");
    assert.ok(hex.includes("170d" + ascii("491231235959Z")), "UTCTime 2049");
    assert.ok(hex.includes("180f" + ascii("20500101000000Z")), "GeneralizedTime 2050");
    assert.ok(hex.includes("180f" + ascii("20510601120000Z")), "GeneralizedTime nextUpdate");
    assert.ok(hex.includes("170d" + ascii("260110000000Z")), "thisUpdate without milliseconds");
    tmp.write("times.der", der);
    const r = openssl(["crl", "-inform", "DER", "-in", "times.der", "-CAfile", "ca.pem", "-noout"], tmp.dir);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout + r.stderr, /verify OK/);
  });

  test("serials: leading zeros dropped, sign pad added, over 20 octets refused", async () => {
    const withPad = encodeCrlEntry({ serial: Uint8Array.of(0, 0, 0x80, 1), revokedAt: THIS_UPDATE, reason: "unspecified" });
    assert.equal(Buffer.from(withPad).toString("hex"), "3014" + "0203008001" + "170d" + Buffer.from("260110000000Z").toString("hex"));
    const zero = encodeCrlEntry({ serial: Uint8Array.of(0, 0), revokedAt: THIS_UPDATE, reason: "unspecified" });
    assert.equal(Buffer.from(zero).subarray(2, 5).toString("hex"), "020100");
    assert.throws(() => encodeCrlEntry({ serial: new Uint8Array(21).fill(1), revokedAt: THIS_UPDATE, reason: "keyCompromise" }), RangeError);
    assert.throws(() => encodeCrlEntry({ serial: Uint8Array.of(0x80, ...new Uint8Array(19)), revokedAt: THIS_UPDATE, reason: "keyCompromise" }), RangeError);
    assert.doesNotThrow(() => encodeCrlEntry({ serial: Uint8Array.of(0x7f, ...new Uint8Array(19)), revokedAt: THIS_UPDATE, reason: "keyCompromise" }));
    assert.throws(() => encodeCrlEntry({ serial: new Uint8Array(0), revokedAt: THIS_UPDATE, reason: "keyCompromise" }), TypeError);
    assert.throws(() => encodeCrlEntry({ serial: Uint8Array.of(1), revokedAt: THIS_UPDATE, reason: "removeFromCRL" as RevocationReason }), TypeError);
    assert.throws(() => encodeCrlEntry({ serial: Uint8Array.of(1), revokedAt: new Date(Number.NaN), reason: "keyCompromise" }), RangeError);
  });

  test("an entry with a reasonCode is 49 bytes for a 16-byte serial, 50 with a sign pad", () => {
    const e = encodeCrlEntry({ serial: hexBytes("8f0102030405060708090a0b0c0d0e0f"), revokedAt: THIS_UPDATE, reason: "keyCompromise" });
    assert.equal(e.length, 50); // 17-byte INTEGER content (pad) + header 2 + time 15 + extensions 14 + seq 2
    const e2 = encodeCrlEntry({ serial: hexBytes("0f0102030405060708090a0b0c0d0e0f"), revokedAt: THIS_UPDATE, reason: "keyCompromise" });
    assert.equal(e2.length, 49);
  });

  test("pre-encoded entries, arrays and async iterables give the same bytes", async () => {
    const entries: CrlEntry[] = Array.from({ length: 200 }, (_, i) => ({
      serial: randomBytes(16),
      revokedAt: new Date(Date.UTC(2025, 11, 1) + i * 1000),
      reason: ALL_REASONS[i % ALL_REASONS.length]!,
      ...(i % 5 === 0 ? { invalidityDate: new Date(Date.UTC(2025, 10, 1)) } : {}),
    }));
    const fromObjects = await buildCrl(options(entries));
    // Signing is deterministic (PKCS#1 v1.5), so equal TBS gives equal CRLs.
    const fromBytes = await buildCrl(options(entries.map(encodeCrlEntry)));
    async function* gen(): AsyncGenerator<CrlEntry | Uint8Array> {
      for (const [i, e] of entries.entries()) yield i % 2 ? e : encodeCrlEntry(e);
    }
    const fromAsync = await buildCrl(options(gen()));
    assert.deepEqual(Buffer.from(fromBytes), Buffer.from(fromObjects));
    assert.deepEqual(Buffer.from(fromAsync), Buffer.from(fromObjects));

    const parsed = new x509.X509Crl(fromObjects, { berOptions: { maxNodes: 100_000 } } as never);
    assert.equal(parsed.entries.length, 200);
    assert.equal(parsed.entries[3]!.serialNumber, Buffer.from(entries[3]!.serial).toString("hex").replace(/^(00)+(?=.)/, ""));
    assert.equal(parsed.entries[3]!.reason, 3);
    assert.equal(await parsed.verify({ publicKey: ca.cert.publicKey }), true);
  });

  test("a recorded revocation (hex serial, ISO times) encodes to the same entry; bad records are refused", () => {
    const record = { serialHex: "8F0102030405060708090A0B0C0D0E0F", revokedAt: "2026-01-05T01:02:03.000Z", reason: "keyCompromise" as const, invalidityDate: "2026-01-04T00:00:00.000Z" };
    const expected = encodeCrlEntry({ serial: hexBytes(record.serialHex), revokedAt: new Date(record.revokedAt), reason: "keyCompromise", invalidityDate: new Date(record.invalidityDate) });
    assert.deepEqual(encodeRecordedRevocation(record), expected);
    assert.deepEqual(
      encodeRecordedRevocation({ ...record, reason: "unspecified", invalidityDate: null }),
      encodeCrlEntry({ serial: hexBytes(record.serialHex), revokedAt: new Date(record.revokedAt), reason: "unspecified" }),
    );
    assert.throws(() => encodeRecordedRevocation({ ...record, serialHex: "ABC" }), TypeError, "odd-length hex would be truncated silently");
    assert.throws(() => encodeRecordedRevocation({ ...record, serialHex: "0G" }), TypeError);
    assert.throws(() => encodeRecordedRevocation({ ...record, serialHex: "" }), TypeError);
    assert.throws(() => encodeRecordedRevocation({ ...record, revokedAt: "yesterday" }), RangeError);
    assert.throws(() => encodeRecordedRevocation({ ...record, invalidityDate: "not a date" }), RangeError);
  });

  test("a run of pre-encoded entries is counted only when every element is a well-formed entry", () => {
    const a = encodeCrlEntry({ serial: hexBytes("4f0102030405060708090a0b0c0d0e0f"), revokedAt: THIS_UPDATE, reason: "keyCompromise" });
    const b = encodeCrlEntry({ serial: Uint8Array.of(1), revokedAt: THIS_UPDATE, reason: "unspecified", invalidityDate: THIS_UPDATE });
    assert.equal(countEncodedCrlEntries(a), 1);
    assert.equal(countEncodedCrlEntries(Buffer.concat([a, b, a])), 3);
    assert.throws(() => countEncodedCrlEntries(new Uint8Array(0)), TypeError);
    assert.throws(() => countEncodedCrlEntries(Buffer.concat([a, b]).subarray(0, a.length + b.length - 1)), TypeError, "truncated");
    assert.throws(() => countEncodedCrlEntries(Buffer.concat([a, Uint8Array.of(0)])), TypeError, "trailing byte");
    const longForm = Uint8Array.of(0x30, 0x81, 0x03, 0x02, 0x01, 0x01);
    assert.throws(() => countEncodedCrlEntries(longForm), TypeError, "no entry this encoder writes needs a long-form length");
    const notSerial = Uint8Array.from(a);
    notSerial[2] = 0x04;
    assert.throws(() => countEncodedCrlEntries(notSerial), TypeError, "an entry starts with the serial's INTEGER");
    // A damaged length that swallows its neighbour still parses, but counts one entry fewer.
    const c = encodeCrlEntry({ serial: Uint8Array.of(2), revokedAt: THIS_UPDATE, reason: "unspecified" });
    const swallowing = Buffer.concat([Uint8Array.of(0x30, c.length - 2 + c.length), c.subarray(2), c]);
    assert.equal(countEncodedCrlEntries(Buffer.concat([c, c])), 2);
    assert.equal(countEncodedCrlEntries(swallowing), 1);
  });

  test("refuses bad pre-encoded bytes, bad options", async () => {
    await assert.rejects(buildCrl(options([Uint8Array.of(0x31, 0)])), TypeError);
    await assert.rejects(buildCrl(options([Uint8Array.of(0x30, 5, 1)])), TypeError);
    await assert.rejects(buildCrl(options([Uint8Array.of(0x30, 0x7e, 0x02, ...new Uint8Array(0x7d))])), TypeError);
    await assert.rejects(buildCrl(options([], { nextUpdate: THIS_UPDATE })), RangeError);
    await assert.rejects(buildCrl(options([], { crlNumber: -1n })), RangeError);
    await assert.rejects(buildCrl(options([], { crlNumber: 1n << 159n })), RangeError);
    await assert.rejects(buildCrl(options([], { issuerNameDer: Uint8Array.of(4, 0) })), TypeError);
  });
});

describe("scale", () => {
  test("1,000,000 entries stream through writeCrl to a file and verify with openssl", async () => {
    const n = 1_000_000;
    const serial = new Uint8Array(16);
    serial.set(randomBytes(16));
    serial[0] = 0x40;
    const base = Date.UTC(2025, 0, 1);
    const reasons: RevocationReason[] = ["unspecified", "affiliationChanged", "keyCompromise", "superseded"];
    function* entries(): Generator<CrlEntry> {
      // One buffer reused for every serial: the builder must copy, not keep, what it is given.
      for (let i = 0; i < n; i++) {
        serial[12] = i >>> 24;
        serial[13] = i >>> 16;
        serial[14] = i >>> 8;
        serial[15] = i;
        yield { serial, revokedAt: new Date(base + i * 1000), reason: reasons[i & 3]! };
      }
    }
    const path = `${tmp.dir}/big.der`;
    const out = createWriteStream(path);
    const bytes = await writeCrl(options(entries(), { expectedEntries: n }), out);
    await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
    assert.equal(statSync(path).size, bytes);
    const perEntry = bytes / n;
    assert.ok(perEntry > 35 && perEntry < 50, `bytes/entry ${perEntry}`);
    const r = openssl(["crl", "-inform", "DER", "-in", "big.der", "-CAfile", "ca.pem", "-noout"], tmp.dir);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout + r.stderr, /verify OK/);
    const text = openssl(["crl", "-inform", "DER", "-in", "big.der", "-noout", "-text"], tmp.dir).stdout;
    assert.equal(text.match(/Serial Number:/g)?.length, n);
  });
});
