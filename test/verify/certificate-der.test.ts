// The verifier's strict certificate reader (src/verify/certificate-der.ts, used by
// src/verify/certificate.ts) against the decoder it replaced (@peculiar/asn1-schema, kept as
// test/verify/certificate-reference.ts): over the project's issued certificates, the real J-LIS
// roots, OpenSSL-made certificates with unusual contents and thousands of mutations of them, both
// must give the same fields and extension values, or both refuse as malformed-input. The one
// allowed difference: input that is not DER (BER lengths, constructed strings, bits or defaults
// DER forbids), which the strict reader refuses and the generic parser let through.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as current from "../../src/verify/certificate.ts";
import * as reference from "./certificate-reference.ts";
import { VerificationFailure } from "../../src/verify/errors.ts";
import { toHex, utf8StringValue } from "../../src/verify/der.ts";
import { keys, makeWorld, responderCertificate, type World } from "./fixtures.ts";
import { AsnConvert } from "@peculiar/asn1-schema";

const JLIS_DIR = "/work/shared/jpki-ca-certs";

type Impl = typeof current | typeof reference;
type Outcome = { ok: unknown } | { refused: string };

function outcome(f: () => unknown): Outcome {
  try {
    return { ok: plain(f()) };
  } catch (error) {
    if (error instanceof VerificationFailure) return { refused: `${error.code}: ${error.message}` };
    throw error;
  }
}

/** Values made comparable: bytes as hex, dates as ISO, maps and frozen arrays as plain data. */
function plain(v: unknown): unknown {
  if (v instanceof Uint8Array) return `hex:${toHex(v)}`;
  if (v instanceof Date) return v.toISOString();
  if (v instanceof Map) return [...v].map(([k, x]) => [k, plain(x)]);
  if (Array.isArray(v)) return Array.from(v, plain); // the old decoders returned AsnArray subclasses
  if (typeof v === "number" && Number.isNaN(v)) return 0; // the old KeyUsage.toNumber() of an empty bit string
  if (v && typeof v === "object") {
    if ("asymmetricKeyType" in v) {
      const k = v as import("node:crypto").KeyObject;
      return `key:${k.asymmetricKeyType}:${toHex(k.export({ type: "spki", format: "der" }))}`;
    }
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  }
  return v;
}

interface View {
  parse: Outcome;
  decoded?: Record<string, Outcome>;
}

function view(impl: Impl, der: Uint8Array): View {
  let cert: ReturnType<Impl["parseCertificate"]> | undefined;
  const parse = outcome(() => {
    cert = impl.parseCertificate(der);
    const { der: _der, version: _version, ...fields } = cert as ReturnType<typeof current.parseCertificate>;
    return fields;
  });
  if (!cert) return { parse };
  const c = cert as never;
  return {
    parse,
    decoded: {
      keyUsage: outcome(() => impl.keyUsageOf(c)),
      isCa: outcome(() => impl.isCa(c)),
      policies: outcome(() => impl.policiesOf(c)),
      eku: outcome(() => impl.extendedKeyUsagesOf(c)),
      aki: outcome(() => impl.authorityKeyIdOf(c)),
      ski: outcome(() => impl.subjectKeyIdOf(c)),
      ocspUrls: outcome(() => impl.ocspUrlsOf(c)),
      crlDistributionPoints: outcome(() => impl.crlDistributionPointsOf(c)),
      otherNames: outcome(() => impl.otherNamesOf(c)),
      unknownCritical: outcome(() => impl.unknownCriticalExtension(c)),
    },
  };
}

/**
 * Why the strict reader may refuse what the generic parser accepted: the input is not DER.
 * Each pattern is a DER rule (X.690 §10, §11) or an X.509 syntax rule the old parser skipped.
 */
const NOT_DER = [
  /indefinite length/,
  /not minimally encoded/,
  /BIT STRING with (unused bits|a bad unused-bits count)|BIT STRING without/,
  /constructed universal element/,
  /version is not v2 or v3/, // an explicit v1 (DER omits a DEFAULT), or no such version
  /extensions in a certificate that is not v3|unique identifier in a v1/,
  /an empty (Extensions )?list/,
  /trailing bytes|unexpected element .* at the end/,
  /multi-byte tags/,
  /has tag 0x|expected tag 0x|is missing|is not constructed/, // an element of another tag than X.509 says (the generic parser let some through, e.g. [APPLICATION 16] for SEQUENCE)
  /KeyUsage longer than 32 bits/,
  /negative pathLenConstraint/,
  /BOOLEAN neither/,
  /OBJECT IDENTIFIER/,
  /time|UTCTime|GeneralizedTime/,
  /truncated|runs past its container/,
];

interface Tally {
  same: number;
  stricter: number;
  examples: string[];
}

function compare(der: Uint8Array, label: string, tally: Tally): void {
  const a = view(current, der);
  const b = view(reference, der);
  const refusedNew = "refused" in a.parse;
  const refusedOld = "refused" in b.parse;
  if (refusedNew && refusedOld) {
    assert.match((a.parse as { refused: string }).refused, /^malformed-input: /, label);
    tally.same++;
    return;
  }
  if (refusedNew && !refusedOld) {
    const why = (a.parse as { refused: string }).refused;
    assert.ok(
      NOT_DER.some((p) => p.test(why)),
      `${label}: only the strict reader refuses, for a reason that is not a DER rule: ${why}`,
    );
    assert.match(why, /^malformed-input: /);
    tally.stricter++;
    if (tally.examples.length < 8) tally.examples.push(why);
    return;
  }
  assert.deepEqual(a.parse, b.parse, `${label}: parse`);
  for (const [key, x] of Object.entries(a.decoded!)) {
    const y = b.decoded![key]!;
    if ("refused" in x && "refused" in y) {
      assert.equal(x.refused.split(":")[0], y.refused.split(":")[0], `${label}: ${key}`);
      continue;
    }
    if ("refused" in x && "ok" in y) {
      assert.ok(NOT_DER.some((p) => p.test(x.refused)), `${label}: ${key}: only the strict reader refuses, not for a DER rule: ${x.refused}`);
      tally.stricter++;
      if (tally.examples.length < 8) tally.examples.push(`${key}: ${x.refused}`);
      continue;
    }
    assert.deepEqual(x, y, `${label}: ${key}`);
  }
  tally.same++;
}

function pemToDer(text: string): Uint8Array[] {
  return [...text.matchAll(/-----BEGIN CERTIFICATE-----([^-]+)-----END CERTIFICATE-----/g)].map((m) => new Uint8Array(Buffer.from(m[1]!.replace(/\s+/g, ""), "base64")));
}

/** Deterministic pseudo-random numbers (mulberry32), so a failure can be replayed. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ----- certificates made by OpenSSL -----

let dir: string;
let w: World;
const issued: { label: string; der: Uint8Array }[] = [];
const openssl: { label: string; der: Uint8Array }[] = [];

function run(args: string[], input?: string): void {
  execFileSync("openssl", args, { cwd: dir, stdio: ["pipe", "ignore", "pipe"], ...(input ? { input } : {}) });
}

function derOf(file: string): Uint8Array {
  return pemToDer(readFileSync(join(dir, file), "utf8"))[0]!;
}

/** `openssl req -x509` with the given config (subject, extensions) and extra arguments. */
function selfSigned(label: string, config: string, extra: string[] = []): void {
  const conf = join(dir, `${label}.cnf`);
  writeFileSync(conf, `[req]\ndistinguished_name = dn\nprompt = no\n${config}`);
  run(["req", "-x509", "-new", "-key", "key.pem", "-config", conf, "-days", "30", "-out", `${label}.pem`, ...extra]);
  openssl.push({ label, der: derOf(`${label}.pem`) });
}

const EDGE_CASES: Record<string, { config: string; extra?: string[] }> = {
  plain: { config: "x509_extensions = ext\n[dn]\nCN = plain\n[ext]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign,cRLSign\n" },
  "odd-san": {
    config:
      "x509_extensions = ext\n[dn]\nC = JP\nO = Org\nCN = odd\n[ext]\nsubjectAltName = @san\nextendedKeyUsage = serverAuth,clientAuth,1.3.6.1.5.5.7.3.9\nkeyUsage = digitalSignature,nonRepudiation,keyEncipherment,dataEncipherment,keyAgreement,keyCertSign,cRLSign,encipherOnly,decipherOnly\n" +
      "[san]\nemail.1 = a@example.jp\nDNS.1 = example.jp\nURI.1 = https://example.jp/\nIP.1 = 192.0.2.1\nIP.2 = 2001:db8::1\notherName.1 = 1.2.392.200149.8.5.5.1;UTF8:山田 太郎\ndirName.1 = dir\nRID.1 = 1.2.3.4\n[dir]\nCN = inner\n",
  },
  "other-names-only": {
    config:
      "x509_extensions = ext\n[dn]\nCN = on\n[ext]\nsubjectAltName = @san\nkeyUsage = critical,digitalSignature,nonRepudiation\ncertificatePolicies = 1.2.392.200149.8.5.1.1.10\n" +
      "[san]\notherName.1 = 1.2.392.200149.8.5.5.1;UTF8:山田 太郎\notherName.2 = 1.2.392.200149.8.5.5.4;UTF8:東京都\notherName.3 = 1.2.392.200149.8.5.5.3;UTF8:1\n",
  },
  "other-name-not-utf8": {
    config: "x509_extensions = ext\n[dn]\nCN = on2\n[ext]\nsubjectAltName = otherName:1.2.392.200149.8.5.5.1;IA5:abc\n",
  },
  "crl-points": {
    config:
      "x509_extensions = ext\n[dn]\nCN = cdp\n[ext]\ncrlDistributionPoints = cdp1, cdp2, cdp3\nauthorityInfoAccess = OCSP;URI:http://ocsp.example.jp/,caIssuers;URI:http://ca.example.jp/ca.crt,OCSP;URI:http://ocsp2.example.jp/\n" +
      "[cdp1]\nfullname = URI:http://crl.example.jp/a.crl, dirName:cdpdir\n[cdp2]\nfullname = URI:http://crl.example.jp/reasons.crl\nreasons = keyCompromise\n[cdp3]\nfullname = URI:http://crl.example.jp/b.crl\nCRLissuer = dirName:cdpdir\n[cdpdir]\nC = JP\nO = JPKI\nOU = 町田市\n",
  },
  "crl-points-plain": {
    config: "x509_extensions = ext\n[dn]\nCN = cdp2\n[ext]\ncrlDistributionPoints = URI:http://crl.example.jp/a.crl, URI:http://crl.example.jp/b.crl\nauthorityInfoAccess = OCSP;URI:http://ocsp.example.jp/\n",
  },
  "aia-not-uri": {
    config: "x509_extensions = ext\n[dn]\nCN = aia\n[ext]\nauthorityInfoAccess = OCSP;email:ocsp@example.jp,OCSP;URI:http://ocsp.example.jp/\n",
  },
  policies: {
    config:
      "x509_extensions = ext\n[dn]\nCN = pol\n[ext]\ncertificatePolicies = 1.2.392.200149.8.5.1.3.10, @pol\n[pol]\npolicyIdentifier = 1.2.392.200149.8.5.1.1.10\nCPS.1 = http://example.jp/cps\nuserNotice.1 = @notice\n[notice]\nexplicitText = UTF8:notice text\norganization = Org\nnoticeNumbers = 1, 2\n",
  },
  "critical-unknown": {
    config: "x509_extensions = ext\n[dn]\nCN = crit\n[ext]\n1.2.3.4.5 = critical,DER:0500\n1.2.3.4.6 = DER:0101FF\nbasicConstraints = CA:FALSE\n",
  },
  "aki-issuer": {
    config: "x509_extensions = ext\n[dn]\nCN = aki\n[ext]\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid:always,issuer:always\nbasicConstraints = critical,CA:TRUE,pathlen:3\n",
  },
  "strings-teletex-bmp": {
    config: "string_mask = nombstr\nx509_extensions = ext\n[dn]\nC = JP\nO = T\\C3\\A9l\\C3\\A9tex\nCN = bmp \\E5\\B1\\B1\nemailAddress = a@example.jp\n[ext]\nbasicConstraints = CA:FALSE\n",
    extra: ["-utf8"],
  },
  "strings-bmp": {
    config: "string_mask = pkix\nx509_extensions = ext\n[dn]\nCN = 山田\nOU = 2.5.4.11 multi\n1.2.3.4 = custom\n[ext]\nbasicConstraints = CA:FALSE\n",
    extra: ["-utf8"],
  },
  "multi-valued-rdn": {
    config: "x509_extensions = ext\n[dn]\nC = JP\nO = Org\nCN = a\n[ext]\nbasicConstraints = CA:FALSE\n",
    extra: ["-multivalue-rdn", "-subj", "/C=JP/O=Org+OU=Unit/CN=multi"],
  },
  "long-serial": { config: "x509_extensions = ext\n[dn]\nCN = long\n[ext]\nkeyUsage = digitalSignature\n", extra: ["-set_serial", "0x7f" + "ab".repeat(29)] },
  "negative-serial": { config: "x509_extensions = ext\n[dn]\nCN = neg\n[ext]\nkeyUsage = digitalSignature\n", extra: ["-set_serial", "-1234567"] },
  "zero-serial": { config: "x509_extensions = ext\n[dn]\nCN = zero\n[ext]\nkeyUsage = digitalSignature\n", extra: ["-set_serial", "0"] },
  "empty-subject-sha512": { config: "x509_extensions = ext\n[dn]\nCN = x\n[ext]\nsubjectAltName = critical,DNS:example.jp\n", extra: ["-subj", "/", "-sha512"] },
  "rsa-pss-key": { config: "x509_extensions = ext\n[dn]\nCN = pss\n[ext]\nkeyUsage = digitalSignature\n", extra: ["-key", "pss.pem"] },
  "ec-key": { config: "x509_extensions = ext\n[dn]\nCN = ec\n[ext]\nkeyUsage = digitalSignature\n", extra: ["-key", "ec.pem"] },
};

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "cert-der-"));
  run(["genrsa", "-out", "key.pem", "2048"]);
  run(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ec.pem"]);
  run(["genpkey", "-algorithm", "RSA-PSS", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "pss.pem"]);
  for (const [label, { config, extra }] of Object.entries(EDGE_CASES)) {
    // -key given twice: the last wins (the EC case).
    selfSigned(label, config, extra);
  }
  // A v1 certificate: a request signed by its own key with no extensions section.
  run(["req", "-new", "-key", "key.pem", "-subj", "/C=JP/CN=v1", "-out", "v1.csr"]);
  run(["x509", "-req", "-in", "v1.csr", "-signkey", "key.pem", "-days", "30", "-out", "v1.pem"]);
  openssl.push({ label: "v1", der: derOf("v1.pem") });

  w = await makeWorld();
  const other = await w.issueHolder({ name: "佐藤 花子", birth: "1985-12-31", gender: "2" });
  const [, , , , , rk] = keys(6);
  issued.push(
    { label: "sign root", der: w.roots.sign },
    { label: "auth root", der: w.roots.auth },
    { label: "holder sign", der: w.holder.sign.der },
    { label: "holder auth", der: w.holder.auth.der },
    { label: "other sign", der: other.sign.der },
    { label: "other auth", der: other.auth.der },
    { label: "OCSP responder", der: await responderCertificate(w, "sign", rk!) },
    { label: "OCSP responder without EKU", der: await responderCertificate(w, "auth", rk!, false) },
  );
  for (const f of readdirSync(JLIS_DIR).filter((f) => f.endsWith(".pem"))) {
    pemToDer(readFileSync(join(JLIS_DIR, f), "utf8")).forEach((der, i) => issued.push({ label: `J-LIS ${f}#${i}`, der }));
  }
});

after(async () => {
  rmSync(dir, { recursive: true, force: true });
  await w?.cleanup();
});

// ----- hand-made encodings -----

/** The length octets of `n` in DER. */
function lengthOf(n: number): number[] {
  if (n < 0x80) return [n];
  const out: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v & 0xff);
  return [0x80 | out.length, ...out];
}

function tlv(tag: number, content: Uint8Array | number[]): Uint8Array {
  const c = content instanceof Uint8Array ? [...content] : content;
  return Uint8Array.from([tag, ...lengthOf(c.length), ...c]);
}

/** The header length of the element at `offset` and its content length. */
function header(der: Uint8Array, offset: number): { h: number; len: number } {
  const b = der[offset + 1]!;
  if (b < 0x80) return { h: 2, len: b };
  const n = b & 0x7f;
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + der[offset + 2 + i]!;
  return { h: 2 + n, len };
}

/** The certificate with its outer SEQUENCE (or the element at `offset`) in BER indefinite length. */
function indefinite(der: Uint8Array, offset = 0): Uint8Array {
  const { h, len } = header(der, offset);
  return Uint8Array.from([...der.subarray(0, offset + 1), 0x80, ...der.subarray(offset + h, offset + h + len), 0, 0, ...der.subarray(offset + h + len)]);
}

/** The element at `offset` with a non-minimal length (one more length octet, leading zero), containers fixed up. */
function longLength(der: Uint8Array, offset: number, parents: number[]): Uint8Array {
  const { h, len } = header(der, offset);
  const l = lengthOf(len);
  const wide = l.length === 1 ? [0x81, len] : [0x80 | l.length, 0, ...l.slice(1)];
  if (l.length === 1 && len >= 0x80) throw new Error("unexpected");
  const grown = Uint8Array.from([...der.subarray(0, offset + 1), ...wide, ...der.subarray(offset + h)]);
  return fixLengths(grown, parents, wide.length - (h - 1));
}

/** Re-encodes the lengths of the containers at `parents` (outermost first) after content grew by `delta`. */
function fixLengths(der: Uint8Array, parents: number[], delta: number): Uint8Array {
  let out = der;
  for (const p of [...parents].reverse()) {
    const { h, len } = header(out, p);
    const l = lengthOf(len + delta);
    const next = Uint8Array.from([...out.subarray(0, p + 1), ...l, ...out.subarray(p + h)]);
    delta += l.length - (h - 1);
    out = next;
  }
  return out;
}

/** Offsets of tbsCertificate and of the TBSCertificate's children. */
function outline(der: Uint8Array): { tbs: number; children: number[] } {
  const tbs = header(der, 0).h;
  const { h, len } = header(der, tbs);
  const children: number[] = [];
  for (let p = tbs + h; p < tbs + h + len; p += header(der, p).h + header(der, p).len) children.push(p);
  return { tbs, children };
}

describe("the strict certificate reader gives what the generic parser gave", () => {
  test("the project's issued certificates (roots, signing, authentication, OCSP responders) and the J-LIS roots", () => {
    const tally: Tally = { same: 0, stricter: 0, examples: [] };
    for (const { label, der } of issued) compare(der, label, tally);
    assert.equal(tally.stricter, 0, tally.examples.join("\n"));
    assert.equal(tally.same, issued.length);
    // And they are read, not refused.
    for (const { label, der } of issued) assert.doesNotThrow(() => current.parseCertificate(der), label);
  });

  test("the project's leaf and responder certificates are read, and every check's extension decoded, without the generic parser", () => {
    const parse = AsnConvert.parse;
    let calls = 0;
    AsnConvert.parse = ((...args: Parameters<typeof parse>) => {
      calls++;
      return parse(...args);
    }) as typeof parse;
    try {
      for (const { label, der } of issued.filter((i) => /holder|other|responder/.test(i.label))) {
        const c = current.parseCertificate(der);
        current.keyUsageOf(c);
        current.isCa(c);
        current.policiesOf(c);
        current.extendedKeyUsagesOf(c);
        current.authorityKeyIdOf(c);
        current.subjectKeyIdOf(c);
        current.ocspUrlsOf(c);
        current.crlDistributionPointsOf(c);
        current.otherNamesOf(c);
        assert.equal(calls, 0, label);
      }
    } finally {
      AsnConvert.parse = parse;
    }
  });

  test("OpenSSL-made certificates: odd extensions and names, critical unknown extensions, v1, long, negative and zero serials, EC and RSA-PSS keys", () => {
    const tally: Tally = { same: 0, stricter: 0, examples: [] };
    for (const { label, der } of openssl) compare(der, label, tally);
    assert.equal(tally.stricter, 0, tally.examples.join("\n"));
    for (const { label, der } of openssl) assert.doesNotThrow(() => current.parseCertificate(der), label);
    const byLabel = (l: string) => current.parseCertificate(openssl.find((o) => o.label === l)!.der);
    assert.equal(byLabel("v1").version, 1);
    assert.equal(byLabel("rsa-pss-key").publicKey.asymmetricKeyType, "rsa-pss");
    assert.equal(byLabel("ec-key").publicKey.asymmetricKeyType, "ec");
    assert.equal(byLabel("negative-serial").serialHex, "ED2979"); // -1234567 in two's complement, as written
    assert.equal(current.unknownCriticalExtension(byLabel("critical-unknown")), "1.2.3.4.5");
    assert.deepEqual(current.crlDistributionPointsOf(byLabel("crl-points")).uris, ["http://crl.example.jp/a.crl"]);
    // An IA5String value (emailAddress) is shown, not left empty.
    assert.match(byLabel("strings-teletex-bmp").subject, /=a@example\.jp$/);
  });

  test("encodings that are not DER are refused by the strict reader (malformed-input); the rest agree", () => {
    const base = w.holder.sign.der;
    const { tbs, children } = outline(base);
    const cases: { label: string; der: Uint8Array; strictOnly: boolean }[] = [
      { label: "trailing byte", der: Uint8Array.from([...base, 0]), strictOnly: false },
      { label: "indefinite outer length", der: indefinite(base), strictOnly: false },
      { label: "indefinite tbsCertificate", der: indefinite(base, tbs), strictOnly: false },
      { label: "non-minimal tbsCertificate length", der: longLength(base, tbs, [0]), strictOnly: false },
      { label: "non-minimal issuer length", der: longLength(base, children[3]!, [0, tbs]), strictOnly: false },
      { label: "truncated", der: base.subarray(0, base.length - 1), strictOnly: false },
    ];
    // The extensions list ([3] at the end) with a non-minimal length inside: the old reader only checked the outline.
    const ext = children[children.length - 1]!;
    cases.push({ label: "non-minimal [3] extensions length", der: longLength(base, ext, [0, tbs]), strictOnly: true });
    const extSeq = ext + header(base, ext).h;
    const inner = indefinite(base, extSeq);
    cases.push({ label: "indefinite Extensions", der: fixLengths(inner, [0, tbs, ext], inner.length - base.length), strictOnly: true });
    // An explicit v1 version: DER omits a DEFAULT value.
    const v = children[0]!; // a0 03 02 01 02
    const v1 = Uint8Array.from(base);
    v1[v + 4] = 0;
    cases.push({ label: "explicit v1 with extensions", der: v1, strictOnly: true });
    // sha256WithRSAEncryption with an empty SEQUENCE for its parameters (both copies, so they still agree): RFC 4055 has NULL.
    const hex = toHex(base).replace(/(06092A864886F70D01010B)0500/g, "$13000");
    cases.push({ label: "RSA signature algorithm parameters not NULL", der: Uint8Array.from(Buffer.from(hex, "hex")), strictOnly: true });
    const tally: Tally = { same: 0, stricter: 0, examples: [] };
    for (const c of cases) {
      const before = tally.stricter;
      compare(c.der, c.label, tally);
      assert.throws(() => current.parseCertificate(c.der), (e: unknown) => e instanceof VerificationFailure && e.code === "malformed-input", c.label);
      assert.equal(tally.stricter - before, c.strictOnly ? 1 : 0, `${c.label}: ${tally.examples.join("; ")}`);
    }
  });

  test("extension values that are not DER are refused when read (malformed-input); the generic parser read them", () => {
    const cert = current.parseCertificate(w.holder.sign.der);
    const ku = cert.extensions.get(current.OID.keyUsage)!.value;
    // keyUsage 03 02 06 c0 → unused bits set (03 02 06 c1), and a BER constructed BIT STRING.
    const variants: [string, Uint8Array][] = [
      ["unused bits set", Uint8Array.from([0x03, 0x02, 0x06, ku[3]! | 1])],
      ["constructed BIT STRING", tlv(0x23, tlv(0x03, ku.subarray(2)))],
      ["non-minimal length", Uint8Array.from([0x03, 0x81, 0x02, ...ku.subarray(2)])],
    ];
    for (const [label, value] of variants) {
      const fake = { ...cert, extensions: new Map([[current.OID.keyUsage, { critical: true, value }]]) };
      const r = outcome(() => current.keyUsageOf(fake));
      assert.ok("refused" in r && /^malformed-input: the keyUsage extension/.test(r.refused), `${label}: ${JSON.stringify(r)}`);
      const old = outcome(() => reference.keyUsageOf({ ...fake } as never));
      assert.ok("ok" in old, `${label}: the generic parser accepted it (${JSON.stringify(old)})`);
    }
  });

  test("what is derived from a parsed certificate stays with it: a spread copy with other extensions derives its own, a frozen one still derives", () => {
    const cert = current.parseCertificate(w.holder.sign.der);
    const authKeyUsage = current.parseCertificate(w.holder.auth.der).extensions.get(current.OID.keyUsage)!;
    const signing = current.keyUsageOf(cert);
    // The copy keeps nothing of the original's derived values: its own extensions are read.
    const copy = { ...cert, extensions: new Map([[current.OID.keyUsage, authKeyUsage]]) };
    assert.notEqual(current.keyUsageOf(copy), signing);
    assert.equal(current.keyUsageOf(copy), current.keyUsageOf(current.parseCertificate(w.holder.auth.der)));
    assert.equal(current.keyUsageOf(cert), signing);
    // Two parses of the same bytes stay deep-equal once one has been read; a frozen one still derives.
    assert.deepEqual(current.parseCertificate(w.holder.sign.der), cert);
    const frozen = Object.freeze(current.parseCertificate(w.holder.sign.der));
    assert.equal(current.keyUsageOf(frozen), signing);
  });

  test("thousands of mutations of issued and OpenSSL-made certificates: same answers, or refused only by the strict reader for a DER rule", () => {
    const random = rng(20261207);
    const bases = [...issued.filter((i) => !i.label.startsWith("J-LIS")).slice(0, 6), ...openssl, ...issued.filter((i) => i.label.startsWith("J-LIS")).slice(0, 2)];
    const tally: Tally = { same: 0, stricter: 0, examples: [] };
    let accepted = 0;
    for (const { label, der } of bases) {
      // Mutations in the TBSCertificate up to the public key land in the parsed fields; the rest in the extensions.
      const { children } = outline(der);
      const spki = children.find((p, i) => i >= 5 && der[p] === 0x30 && header(der, p).len > 60) ?? children[0]!;
      for (let i = 0; i < 120; i++) {
        const m = Uint8Array.from(der);
        const spkiEnd = spki + header(der, spki).h + header(der, spki).len;
        // A third in the fields up to and including the public key, the rest in the extensions.
        const region = i % 3 === 0 ? [0, spkiEnd] : [spkiEnd, der.length - 300];
        const at = region[0]! + Math.floor(random() * Math.max(1, region[1]! - region[0]!));
        const kind = i % 4;
        let mutated: Uint8Array;
        if (kind === 0) {
          m[at] = m[at]! ^ (1 << Math.floor(random() * 8));
          mutated = m;
        } else if (kind === 1) {
          m[at] = Math.floor(random() * 256);
          mutated = m;
        } else if (kind === 2) {
          m[at] = [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x0c, 0x13, 0x14, 0x16, 0x1e, 0x30, 0x31, 0x80, 0x81, 0x82, 0xa0, 0xa3, 0xff][Math.floor(random() * 20)]!;
          mutated = m;
        } else {
          mutated = Uint8Array.from([...m.subarray(0, at), ...m.subarray(at + 1)]);
        }
        compare(mutated, `${label} mutation ${i} at ${at}`, tally);
        try {
          current.parseCertificate(mutated);
          accepted++;
        } catch {
          // refused: compared above
        }
      }
    }
    assert.ok(tally.same > 1000, `compared ${tally.same}`);
    assert.ok(accepted > 300, `some mutations still parse (they reach the extension decoders): ${accepted}`);
  });
});

test("a UTF8String's leading byte-order mark is kept as a character (as names keep it), not dropped", () => {
  const value = Buffer.from("\uFEFF山田", "utf8");
  assert.equal(utf8StringValue(Uint8Array.from([0x0c, value.length, ...value])), "\uFEFF山田");
});
