// The leaf DER template (src/pki/leaf-template.ts) against the profile written with the ASN.1
// library (leafTemplate + buildTbsCertificate): byte for byte over many varied residents, keys,
// municipalities, dates and serials; and its limits.
import "reflect-metadata";
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync, X509Certificate, type KeyObject } from "node:crypto";
import { AsnConvert } from "@peculiar/asn1-schema";
import { buildTbsCertificate, randomSerial, signTbsCertificate } from "../../src/pki/certificate.ts";
import { DEFAULT_CA_NAMING, leafTemplate, type CaNaming, type CaType } from "../../src/pki/jpki-profile.ts";
import { LEAF_LIMITS, LeafTemplate, type LeafFields } from "../../src/pki/leaf-template.ts";
import { subjectPublicKeyOf } from "../../src/pki/leaf-public-key.ts";
import { SoftwareSigner } from "../../src/pki/software-signer.ts";
import { normalizeName, toOtherNames, type Gender } from "../../src/profile/attributes.ts";
import { DEFAULT_MUNICIPALITIES } from "../../src/config/municipalities.ts";
import { testKeyPair, testPublicKeys } from "../helpers/keys.ts";

/** A small seeded generator, so a failing case can be reproduced. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const KANJI = "山田太郎花子佐藤鈴木高橋渡辺伊藤中村小林加藤吉田松本井上木村斎藤清水森池橋本阿部石川前藤小岡後長谷近坂遠青西福原野宮崎澤邊齋";
const KANA = "あいうえおかきくけこさしすせそアイウエオカキクケコサシスセソー";
const ADDRESS = "東京都町田市森野中町霞が関丁目番地号区北海道札幌市京都府大阪府沖縄県那覇市１２３４５６７８９０－";
const ASCII_NAMES = ["SMITH JOHN", "NGUYEN VAN AN", "O'BRIEN MARY-KATE", "GARCIA LOPEZ MARIA JOSE"];

const EXTRA_MUNICIPALITIES = [
  { code: "000000", prefectureRomaji: "Kagoshima-ken", cityRomaji: "Minamisatsuma-shi" },
  // Long enough that the subject Name and the CRL distribution point need 2-byte lengths.
  { code: "000001", prefectureRomaji: "Prefecture-with-a-very-long-romanised-name-for-testing-ken", cityRomaji: "A-municipality-whose-romanised-name-is-also-rather-long-mura" },
];

const NAMINGS: CaNaming[] = [
  DEFAULT_CA_NAMING,
  { organization: "JPKI", operator: "Japan Agency for Local Authority Information Systems", serviceJa: "公的個人認証サービス", operatorJa: "地方公共団体情報システム機構" },
];

const BASES = ["http://127.0.0.1:8080", `https://jpki.example.jp/${"long-path-segment/".repeat(8)}pki`];

function pick<T>(rnd: () => number, items: readonly T[]): T {
  return items[Math.floor(rnd() * items.length)]!;
}

function text(rnd: () => number, alphabet: string, length: number): string {
  let out = "";
  for (let i = 0; i < length; i++) out += alphabet[Math.floor(rnd() * alphabet.length)];
  return out;
}

function flags(rnd: () => number, n: number, substituted: boolean): string {
  let out = "";
  for (let i = 0; i < n; i++) out += substituted && rnd() < 0.15 ? "1" : "0";
  return out;
}

/** A resident's six otherNames: long and short names, foreign names, substitutes, many birth dates. */
function randomOtherNames(rnd: () => number) {
  const kind = rnd();
  let name: string;
  if (kind < 0.2) name = normalizeName(pick(rnd, ASCII_NAMES));
  else if (kind < 0.35) name = `${text(rnd, KANJI, 49)}\u3000${text(rnd, KANJI + KANA, 50)}`; // 100 characters, the longest
  else name = `${text(rnd, KANJI, 1 + Math.floor(rnd() * 4))}\u3000${text(rnd, KANJI + KANA, 1 + Math.floor(rnd() * 6))}`;
  const address = rnd() < 0.15 ? text(rnd, ADDRESS, 200) : `東京都町田市${text(rnd, ADDRESS, 5 + Math.floor(rnd() * 40))}`;
  const substituted = rnd() < 0.5;
  const year = 1900 + Math.floor(rnd() * 120);
  const birth = `${year}-${String(1 + Math.floor(rnd() * 12)).padStart(2, "0")}-${String(1 + Math.floor(rnd() * 28)).padStart(2, "0")}`;
  return toOtherNames({
    name,
    nameSubstitutes: flags(rnd, [...name].length, substituted),
    birth,
    gender: pick(rnd, ["1", "2", "3"] as Gender[]),
    address,
    addressSubstitutes: flags(rnd, [...address].length, substituted),
  });
}

function randomSerialOf(rnd: () => number): Uint8Array {
  const r = rnd();
  if (r < 0.1) return Uint8Array.of(1 + Math.floor(rnd() * 126)); // one byte
  if (r < 0.2) return Uint8Array.of(0x00, 0x80 | Math.floor(rnd() * 128), 0x12, 0x34); // sign pad
  if (r < 0.3) return Uint8Array.from({ length: 20 }, (_, i) => (i === 0 ? 0x7f : Math.floor(rnd() * 256))); // 20 bytes, the longest
  return randomSerial();
}

describe("leaf DER template", () => {
  const issuers = [testKeyPair(), testKeyPair()];
  const subjectKeys: KeyObject[] = [
    ...testPublicKeys(2),
    generateKeyPairSync("rsa", { modulusLength: 3072 }).publicKey,
    generateKeyPairSync("rsa", { modulusLength: 4096 }).publicKey,
  ];

  test("byte for byte the same TBSCertificate as the ASN.1-library profile, over 400 varied leaves", () => {
    const rnd = prng(20261125);
    const municipalities = [...DEFAULT_MUNICIPALITIES, ...EXTRA_MUNICIPALITIES];
    let compared = 0;
    for (const type of ["sign", "auth"] as CaType[]) {
      for (const naming of NAMINGS) {
        for (const base of BASES) {
          const issuer = pick(rnd, issuers);
          const urls = { ocsp: `${base}/ocsp/${type}`, caIssuers: `${base}/ca/${type}.crt`, cps: `${base}/cps` };
          const template = new LeafTemplate({ type, naming, issuerPublicKey: issuer.publicKey, urls });
          for (let i = 0; i < 50; i++) {
            const municipality = pick(rnd, municipalities);
            const subjectKey = pick(rnd, subjectKeys);
            // 2020–2049 starts (UTCTime) and ends up to 12 years later (GeneralizedTime from 2050), with milliseconds.
            const notBefore = new Date(Date.UTC(2020, 0, 1) + Math.floor(rnd() * 30 * 365 * 86400_000));
            const notAfter = new Date(notBefore.getTime() + 1000 + Math.floor(rnd() * 12 * 365 * 86400_000));
            const fields: LeafFields = {
              serial: randomSerialOf(rnd),
              subjectCn: rnd() < 0.1 ? "X".repeat(LEAF_LIMITS.maxCommonNameLength) : `20261125120000${text(rnd, "0123456789ABCDEFGHJKMNPQRSTVWXYZ", 9)}`,
              notBefore,
              notAfter,
              municipality,
              crlUrl: `${base}/crl/${type}/${municipality.code}.crl`,
              subjectPublicKey: subjectPublicKeyOf(subjectKey),
              ...(type === "sign" ? { otherNames: randomOtherNames(rnd) } : {}),
            };
            const reference = new Uint8Array(
              AsnConvert.serialize(
                buildTbsCertificate(
                  leafTemplate({
                    type,
                    naming,
                    issuerPublicKey: issuer.publicKey,
                    subjectPublicKey: subjectKey,
                    serial: fields.serial,
                    subjectCn: fields.subjectCn,
                    notBefore,
                    notAfter,
                    municipality,
                    ...(fields.otherNames ? { otherNames: fields.otherNames } : {}),
                    urls: { ...urls, crl: fields.crlUrl },
                  }),
                ),
              ),
            );
            const ours = template.tbsCertificate(fields);
            assert.equal(
              Buffer.from(ours).toString("hex"),
              Buffer.from(reference).toString("hex"),
              `case ${compared}: ${type}, ${municipality.code}, serial ${Buffer.from(fields.serial).toString("hex")}`,
            );
            compared++;
          }
        }
      }
    }
    assert.equal(compared, 400);
  });

  test("a certificate signed over the template's TBS verifies and reads back with its personal data", async () => {
    const issuer = issuers[0]!;
    const template = new LeafTemplate({
      type: "sign",
      naming: DEFAULT_CA_NAMING,
      issuerPublicKey: issuer.publicKey,
      urls: { ocsp: "http://127.0.0.1:8080/ocsp/sign", caIssuers: "http://127.0.0.1:8080/ca/sign.crt", cps: "http://127.0.0.1:8080/cps" },
    });
    const otherNames = toOtherNames({ name: "山田\u3000太郎", nameSubstitutes: "00100", birth: "1990-01-02", gender: "1", address: "東京都町田市森野２－２－２２", addressSubstitutes: "0".repeat(14) });
    const der = await signTbsCertificate(
      template.tbsCertificate({
        serial: randomSerial(),
        subjectCn: "20261125120000ABCDEFGHJ",
        notBefore: new Date("2026-11-25T03:00:00Z"),
        notAfter: new Date("2031-11-24T14:59:59Z"),
        municipality: DEFAULT_MUNICIPALITIES[0]!,
        crlUrl: "http://127.0.0.1:8080/crl/sign/132098.crl",
        subjectPublicKey: subjectPublicKeyOf(subjectKeys[0]!),
        otherNames,
      }),
      new SoftwareSigner(issuer.privateKey),
    );
    const x = new X509Certificate(der);
    assert.ok(x.verify(issuer.publicKey));
    assert.equal(x.subject, "C=JP\nL=Tokyo-to\nL=Machida-shi\nCN=20261125120000ABCDEFGHJ");
    assert.equal(x.publicKey.export({ type: "spki", format: "der" }).toString("hex"), subjectKeys[0]!.export({ type: "spki", format: "der" }).toString("hex"));
  });

  test("fields outside the limits are refused before anything is encoded", () => {
    const template = new LeafTemplate({ type: "sign", naming: DEFAULT_CA_NAMING, issuerPublicKey: issuers[0]!.publicKey, urls: { ocsp: "http://a/o", caIssuers: "http://a/c", cps: "http://a/p" } });
    const auth = new LeafTemplate({ type: "auth", naming: DEFAULT_CA_NAMING, issuerPublicKey: issuers[0]!.publicKey, urls: { ocsp: "http://a/o", caIssuers: "http://a/c", cps: "http://a/p" } });
    const otherNames = toOtherNames({ name: "山田\u3000太郎", nameSubstitutes: "00000", birth: "1990-01-02", gender: "1", address: "東京都", addressSubstitutes: "000" });
    const good: LeafFields = {
      serial: randomSerial(),
      subjectCn: "CN",
      notBefore: new Date("2026-01-01T00:00:00Z"),
      notAfter: new Date("2027-01-01T00:00:00Z"),
      municipality: DEFAULT_MUNICIPALITIES[0]!,
      crlUrl: "http://a/crl",
      subjectPublicKey: subjectPublicKeyOf(subjectKeys[0]!),
      otherNames,
    };
    assert.ok(template.tbsCertificate(good).length > 1000);
    const refused: [string, Partial<LeafFields>, LeafTemplate?][] = [
      ["21-byte serial", { serial: new Uint8Array(21).fill(0x11) }],
      ["negative serial", { serial: Uint8Array.of(0x80, 1) }],
      ["non-minimal serial", { serial: Uint8Array.of(0x00, 0x01) }],
      ["zero-length serial", { serial: new Uint8Array(0) }],
      ["empty CN", { subjectCn: "" }],
      ["65-character CN", { subjectCn: "A".repeat(65) }],
      ["CN with a newline", { subjectCn: "A\nB" }],
      ["notAfter before notBefore", { notAfter: new Date("2025-01-01T00:00:00Z") }],
      ["invalid date", { notAfter: new Date(Number.NaN) }],
      ["signing certificate without personal data", { otherNames: undefined }],
      ["five otherNames", { otherNames: otherNames.slice(0, 5) }],
      ["an unknown otherName OID", { otherNames: [{ oid: "1.2.3.4", value: "x" }, ...otherNames.slice(1)] }],
      ["an overlong otherName value", { otherNames: [{ oid: otherNames[0]!.oid, value: "あ".repeat(LEAF_LIMITS.maxOtherNameLength + 1) }, ...otherNames.slice(1)] }],
      ["an authentication certificate with personal data", {}, auth],
    ];
    for (const [what, change, on] of refused) {
      assert.throws(() => (on ?? template).tbsCertificate({ ...good, ...change }), (e: unknown) => e instanceof TypeError || e instanceof RangeError, what);
    }
  });
});
