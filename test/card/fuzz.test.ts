/**
 * Bad input (issue 7): 100,000 random and mutated APDUs, seeded and deterministic.
 * Every answer must be a status word (with data), never an exception, never 61xx/6Cxx;
 * afterwards the chip's files and keys are exactly as before and the card still works.
 */
import { describe, it, before } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { createHash, verify as rsaVerify } from "node:crypto";
import { issuedCardTemplate, cloneCard, AUTH_PIN, SIGN_PIN, KENHOJO_PIN, type CardTemplate } from "./fixtures/cards.ts";
import { expectSw, h, verifyApdu, selectEf, SELECT_JPKI, SELECT_KENHOJO } from "./fixtures/apdu-helpers.ts";
import { openCard } from "../../src/card/index.ts";
import { InProcessReader } from "../../src/readers/in-process.ts";
import { IssuerSession } from "../../src/client/issuer.ts";

const TOTAL = 100_000;
const SEED = 0x4a504b49; // "JPKI"

/** mulberry32: small, fast, good enough to drive a fuzzer deterministically. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const DI = "3031300d060960864801650304020105000420" + "ab".repeat(32);
const CORPUS = [
  SELECT_JPKI,
  SELECT_KENHOJO,
  "00A404000AD392F00026010000000100",
  "00A4040C0AD3921000310001010402",
  selectEf("000A"),
  selectEf("0001"),
  selectEf("0006"),
  selectEf("0017"),
  selectEf("0018"),
  selectEf("001A"),
  selectEf("001B"),
  selectEf("0011"),
  "00B0000004",
  "00B0000000",
  "00B00100FF",
  "00B08A00000000",
  "00B0810004",
  "00B0860020",
  "00200080",
  "00200098",
  "0020009B",
  verifyApdu(AUTH_PIN, "98"),
  verifyApdu(SIGN_PIN, "9B"),
  verifyApdu(KENHOJO_PIN, "91"),
  verifyApdu("0000", "98"),
  verifyApdu("WRONG1", "9B"),
  `802A008033${DI}00`,
  `802A009733${DI}00`,
  `802A009A33${DI}00`,
  "0084000010",
  "0084000000",
  "002A00BE0430820000",
  "00820000" + "00" + "0100" + "00".repeat(256),
  "00460097000000",
  "80D60000043082AAAA",
  "002C029804" + "31313131",
  "002C0398",
  "0024018004" + "3132", // wrong length for a PIN: never a valid new PIN
  "00A40000",
  "00CADF3005",
].map(h);

function mutate(rand: () => number, seed: Uint8Array): Uint8Array {
  const b = Array.from(seed);
  if (rand() < 0.5) {
    // Gentle: keep the length bytes, change P1/P2 or data, so the command reaches its handler.
    const spots = [2, 3, ...Array.from({ length: Math.max(0, b.length - 5) }, (_, i) => i + 5)];
    for (let k = 0, n = 1 + Math.floor(rand() * 2); k < n; k++) {
      const at = spots[Math.floor(rand() * spots.length)]!;
      b[at] = rand() < 0.5 ? Math.floor(rand() * 256) : b[at]! ^ (1 << Math.floor(rand() * 8));
    }
    return Uint8Array.from(b);
  }
  const ops = 1 + Math.floor(rand() * 3);
  for (let k = 0; k < ops; k++) {
    const r = rand();
    const at = Math.floor(rand() * Math.max(1, b.length));
    if (r < 0.3 && b.length > 0) b[at] = Math.floor(rand() * 256);
    else if (r < 0.45 && b.length > 0) b[at] = b[at]! ^ (1 << Math.floor(rand() * 8));
    else if (r < 0.6) b.length = Math.floor(rand() * b.length);
    else if (r < 0.7) b.splice(at, 0, ...Array.from({ length: 1 + Math.floor(rand() * 8) }, () => Math.floor(rand() * 256)));
    else if (r < 0.8 && b.length > 4) b[4] = [0x00, 0x01, 0xff, b.length - 5, b.length - 4, Math.floor(rand() * 256)][Math.floor(rand() * 6)]!;
    else if (r < 0.9 && b.length >= 4) b[Math.floor(rand() * 4)] = Math.floor(rand() * 256);
    else if (b.length > 6) {
      // extended-length confusion
      b[4] = 0;
      b[5] = Math.floor(rand() * 256);
    }
  }
  return Uint8Array.from(b);
}

function randomApdu(rand: () => number): Uint8Array {
  const len = rand() < 0.9 ? Math.floor(rand() * 300) : Math.floor(rand() * 5000);
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) out[i] = Math.floor(rand() * 256);
  if (len >= 2 && rand() < 0.5) out[0] = [0x00, 0x80, 0x0c][Math.floor(rand() * 3)]!;
  return out;
}

let t: CardTemplate;
before(async () => {
  t = await issuedCardTemplate();
});

describe("fuzz", () => {
  it(`${TOTAL} random and mutated APDUs: no exception, always a status word, state intact`, async () => {
    const { reader, dir } = await cloneCard(t);
    const before = JSON.parse(await readFile(join(dir, "chip.json"), "utf8"));
    const rand = prng(SEED);
    const seen = new Map<string, number>();
    for (let i = 0; i < TOTAL; i++) {
      if (rand() < 0.003) await reader.reset();
      const apdu = rand() < 0.3 ? randomApdu(rand) : mutate(rand, CORPUS[Math.floor(rand() * CORPUS.length)]!);
      const r = await reader.transmit(apdu);
      assert.ok(r instanceof Uint8Array && r.length >= 2, `APDU #${i} got no status word`);
      const sw1 = r[r.length - 2]!;
      assert.ok(sw1 === 0x90 || sw1 === 0x63 || (sw1 >= 0x64 && sw1 <= 0x6f && sw1 !== 0x6c), `APDU #${i}: SW1 ${sw1.toString(16)}`);
      if (sw1 !== 0x90) assert.equal(r.length, 2, "errors carry no data");
      const sw = Buffer.from(r.subarray(r.length - 2)).toString("hex");
      seen.set(sw, (seen.get(sw) ?? 0) + 1);
    }
    // the fuzzer reached many different outcomes, not just one error
    assert.ok(seen.size >= 12, `only ${[...seen.keys()].join(",")}`);
    assert.ok((seen.get("9000") ?? 0) > 500, `9000 only ${seen.get("9000")} times`);

    // Files and keys are byte-for-byte unchanged; counters are within range.
    const after = JSON.parse(await readFile(join(dir, "chip.json"), "utf8"));
    assert.deepEqual(after.files, before.files);
    assert.deepEqual(after.keys, before.keys);
    for (const [k, p] of Object.entries(after.pins) as [string, { tries: number; mac: string }][]) {
      assert.equal(p.mac, before.pins[k].mac, `${k} reference data unchanged`);
      assert.ok(p.tries >= 0 && p.tries <= 10);
    }

    // And the card still works, reopened from storage: restore counters, verify, sign, read.
    await reader.disconnect();
    const again = new InProcessReader(await openCard(dir));
    await again.connect();
    const issuer = new IssuerSession(again);
    await issuer.authenticate(t.pki.counter);
    await issuer.restoreRetryCounter("auth");
    await issuer.restoreRetryCounter("sign");
    await issuer.restoreRetryCounter("kenhojo");
    await expectSw(again, SELECT_JPKI, "9000");
    await expectSw(again, verifyApdu(AUTH_PIN, "98"), "9000");
    await expectSw(again, verifyApdu(SIGN_PIN, "9B"), "9000");
    const m = Buffer.from("still working");
    const di = "3031300d060960864801650304020105000420" + createHash("sha256").update(m).digest("hex");
    assert.ok(rsaVerify("sha256", m, t.authPublicKey, await expectSw(again, `802A009733${di}00`, "9000")));
    assert.ok(rsaVerify("sha256", m, t.signPublicKey, await expectSw(again, `802A009A33${di}00`, "9000")));
    assert.deepEqual(new Uint8Array(await expectSw(again, "00B08100000000", "9000")), t.signCert);
    await expectSw(again, SELECT_KENHOJO, "9000");
    await expectSw(again, verifyApdu(KENHOJO_PIN, "91"), "9000");
  });
});
