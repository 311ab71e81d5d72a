/**
 * The JPKI AP as spec/card-protocol.md describes it, section by section, ending with the
 * §8 checklist. Cards are clones of one issued template (no RSA keygen per test).
 */
import { describe, it, before } from "node:test";
import assert from "node:assert/strict";
import { createHash, verify as rsaVerify, publicDecrypt, constants, X509Certificate } from "node:crypto";
import { issuedCardTemplate, cloneCard, AUTH_PIN, SIGN_PIN, type CardTemplate } from "./fixtures/cards.ts";
import { expectSw, send, h, toHex, selectEf, verifyApdu, readAll, SELECT_JPKI } from "./fixtures/apdu-helpers.ts";
import { DEFAULT_ATR } from "../../src/card/index.ts";

const DIGEST_INFO_SHA256 = "3031300d060960864801650304020105000420";

let t: CardTemplate;
before(async () => {
  t = await issuedCardTemplate();
});

async function fresh() {
  return cloneCard(t);
}

describe("§2.1 SELECT", () => {
  it("selects the JPKI AP with P2=0C (no Le) and P2=00 (with Le)", async () => {
    const { reader } = await fresh();
    assert.equal((await expectSw(reader, SELECT_JPKI, "9000")).length, 0);
    await expectSw(reader, "00A404000AD392F00026010000000100", "9000");
    await expectSw(reader, "00A404000AD392F000260100000001", "9000");
  });
  it("answers 6A82 for unknown AIDs and unknown EFs", async () => {
    const { reader } = await fresh();
    await expectSw(reader, "00A4040C0AD392F000260100000002", "6A82");
    await expectSw(reader, SELECT_JPKI, "9000");
    await expectSw(reader, selectEf("0099"), "6A82");
    await expectSw(reader, selectEf("3F00"), "6A82");
  });
  it("selects an EF only inside an AP; SELECT MF is 6A86 cold and a no-op inside an AP", async () => {
    const { reader } = await fresh();
    await expectSw(reader, selectEf("000A"), "6A82");
    await expectSw(reader, "00A40000", "6A86");
    await expectSw(reader, SELECT_JPKI, "9000");
    await expectSw(reader, "00A40000", "9000");
    await expectSw(reader, "00A4040C", "6700");
    await expectSw(reader, "00A4020C0300000A", "6700");
    await expectSw(reader, "00A4080C02000A", "6A86");
    await expectSw(reader, "00A4020402000A", "6A86");
  });
});

describe("§2.2 elementary files", () => {
  it("EF 0006 starts with the label JPKIAPICCTOKEN2, space-padded, in a 160-byte CK_TOKEN_INFO", async () => {
    const { reader } = await fresh();
    await expectSw(reader, SELECT_JPKI, "9000");
    await expectSw(reader, selectEf("0006"), "9000");
    const label = await expectSw(reader, "00B0000020", "9000");
    assert.equal(Buffer.from(label).toString("ascii"), "JPKIAPICCTOKEN2".padEnd(32, " "));
    const all = await expectSw(reader, "00B0000000", "9000");
    assert.equal(all.length, 160);
    await expectSw(reader, "00B000A001", "6B00");
  });
  it("EF 0008 reads 8F 8F 00 when both certificates are present", async () => {
    const { reader } = await fresh();
    await expectSw(reader, SELECT_JPKI, "9000");
    await expectSw(reader, selectEf("0008"), "9000");
    assert.equal(toHex(await expectSw(reader, "00B0000003", "9000")), "8F8F00");
  });
  it("the auth certificate and both CA certificates read without a PIN, and equal what was written", async () => {
    const { reader } = await fresh();
    await expectSw(reader, SELECT_JPKI, "9000");
    for (const [fid, want] of [["000A", t.authCert], ["000B", t.authCaCert], ["0002", t.signCaCert]] as const) {
      await expectSw(reader, selectEf(fid), "9000");
      const head = await expectSw(reader, "00B0000004", "9000");
      assert.equal(head[0], 0x30);
      assert.equal(head[1], 0x82);
      const size = ((head[2]! << 8) | head[3]!) + 4;
      assert.deepEqual(new Uint8Array(await readAll(reader, size)), want);
    }
  });
  it("the signing certificate (EF 0001) answers 6982 until the signing password is verified", async () => {
    const { reader } = await fresh();
    await expectSw(reader, SELECT_JPKI, "9000");
    await expectSw(reader, selectEf("0001"), "9000");
    await expectSw(reader, "00B0000004", "6982");
    await expectSw(reader, selectEf("0018"), "9000");
    await expectSw(reader, verifyApdu(AUTH_PIN), "9000");
    await expectSw(reader, selectEf("0001"), "9000");
    await expectSw(reader, "00B0000004", "6982");
    await expectSw(reader, selectEf("001B"), "9000");
    await expectSw(reader, verifyApdu(SIGN_PIN), "9000");
    await expectSw(reader, selectEf("0001"), "9000");
    const size = t.signCert.length;
    assert.deepEqual(new Uint8Array(await readAll(reader, size)), t.signCert);
  });
  it("key and PIN EFs cannot be read", async () => {
    const { reader } = await fresh();
    await expectSw(reader, SELECT_JPKI, "9000");
    for (const fid of ["0017", "0018", "001A", "001B"]) {
      await expectSw(reader, selectEf(fid), "9000");
      await expectSw(reader, "00B0000000", "6981");
    }
  });
});

describe("§2.4 READ BINARY", () => {
  it("returns exactly min(Le, remaining) bytes and 6B00 at or past the end", async () => {
    const { reader } = await fresh();
    const size = t.authCert.length;
    await expectSw(reader, SELECT_JPKI, "9000");
    await expectSw(reader, selectEf("000A"), "9000");
    assert.equal((await expectSw(reader, "00B0000000", "9000")).length, 256);
    assert.equal((await expectSw(reader, "00B00000FF", "9000")).length, 255);
    const last = size - 10;
    const tail = await expectSw(reader, `00B0${last.toString(16).padStart(4, "0")}00`, "9000");
    assert.deepEqual(new Uint8Array(tail), t.authCert.subarray(last));
    await expectSw(reader, `00B0${size.toString(16).padStart(4, "0")}01`, "6B00");
    await expectSw(reader, "00B07FFF01", "6B00");
  });
  it("pyjpki's loop (Le=FF until 6B00) reads the whole certificate", async () => {
    const { reader } = await fresh();
    await expectSw(reader, SELECT_JPKI, "9000");
    await expectSw(reader, selectEf("000A"), "9000");
    const parts: Uint8Array[] = [];
    for (let off = 0; ; ) {
      const a = await send(reader, `00B0${off.toString(16).padStart(4, "0")}FF`);
      if (a.sw === "6B00") break;
      assert.equal(a.sw, "9000");
      parts.push(a.data);
      off += a.data.length;
    }
    assert.deepEqual(new Uint8Array(Buffer.concat(parts)), t.authCert);
  });
  it("extended Le 0000 (65536) returns the whole file at once (jsapdu)", async () => {
    const { reader } = await fresh();
    await expectSw(reader, SELECT_JPKI, "9000");
    const all = await expectSw(reader, "00B08A00000000", "9000"); // SFI 0x0A, offset 0
    assert.deepEqual(new Uint8Array(all), t.authCert);
  });
  it("SFI form: P1=80|SFI, 8-bit offset, the EF becomes current", async () => {
    const { reader } = await fresh();
    await expectSw(reader, SELECT_JPKI, "9000");
    const a = await expectSw(reader, "00B08B1008", "9000"); // EF 000B from offset 16
    assert.deepEqual(new Uint8Array(a), t.authCaCert.subarray(16, 24));
    assert.deepEqual(new Uint8Array(await expectSw(reader, "00B0000004", "9000")), t.authCaCert.subarray(0, 4));
    await expectSw(reader, "00B0810004", "6982"); // EF 0001 still needs the password
    await expectSw(reader, "00B0800004", "6A86"); // SFI 0
    await expectSw(reader, "00B0A00004", "6A86"); // bits 7-6 set
    await expectSw(reader, "00B0990004", "6A82"); // no EF 0019
  });
  it("malformed READ BINARY: no Le → 6700, data → 6700, no current EF → 6986", async () => {
    const { reader } = await fresh();
    await expectSw(reader, SELECT_JPKI, "9000");
    await expectSw(reader, "00B00000", "6700");
    await expectSw(reader, "00B00000020000", "6700");
    await expectSw(reader, "00B0000004", "6986");
  });
});

describe("§2.5 VERIFY, retry counters, CHANGE REFERENCE DATA", () => {
  it("empty VERIFY answers 63Cx, even right after a successful VERIFY", async () => {
    const { reader } = await fresh();
    await expectSw(reader, SELECT_JPKI, "9000");
    await expectSw(reader, selectEf("0018"), "9000");
    await expectSw(reader, "00200080", "63C3");
    await expectSw(reader, selectEf("001B"), "9000");
    await expectSw(reader, "00200080", "63C5");
    await expectSw(reader, verifyApdu(SIGN_PIN), "9000");
    await expectSw(reader, "00200080", "63C5");
  });
  it("wrong PINs count down to 63C0, then 6984 even for the right PIN; empty VERIFY says 63C0", async () => {
    const { reader } = await fresh();
    await expectSw(reader, SELECT_JPKI, "9000");
    await expectSw(reader, selectEf("0018"), "9000");
    await expectSw(reader, verifyApdu("0000"), "63C2");
    await expectSw(reader, verifyApdu("0000"), "63C1");
    await expectSw(reader, verifyApdu("0000"), "63C0");
    await expectSw(reader, verifyApdu(AUTH_PIN), "6984");
    await expectSw(reader, "00200080", "63C0");
  });
  it("a correct VERIFY resets the counter", async () => {
    const { reader } = await fresh();
    await expectSw(reader, SELECT_JPKI, "9000");
    await expectSw(reader, selectEf("001B"), "9000");
    await expectSw(reader, verifyApdu("WRONG1"), "63C4");
    await expectSw(reader, verifyApdu("WRONG1"), "63C3");
    await expectSw(reader, verifyApdu(SIGN_PIN), "9000");
    await expectSw(reader, "00200080", "63C5");
  });
  it("VERIFY by SFI (P2=80|FID) needs no SELECT; bad references are refused", async () => {
    const { reader } = await fresh();
    await expectSw(reader, SELECT_JPKI, "9000");
    await expectSw(reader, "00200098", "63C3");
    await expectSw(reader, verifyApdu(AUTH_PIN, "98"), "9000");
    await expectSw(reader, "0020009A", "6A88"); // key EF, not a PIN
    await expectSw(reader, "00200080", "6A88"); // no current EF
    await expectSw(reader, "00200180", "6A86");
    await expectSw(reader, "00200000", "6A86");
  });
  it("counters persist across power cycles and card reopen", async () => {
    const { reader, dir } = await fresh();
    await expectSw(reader, SELECT_JPKI, "9000");
    await expectSw(reader, selectEf("0018"), "9000");
    await expectSw(reader, verifyApdu("9999"), "63C2");
    await reader.reset();
    await expectSw(reader, SELECT_JPKI, "9000");
    await expectSw(reader, "00200098", "63C2");
    const { openCard } = await import("../../src/card/index.ts");
    const { InProcessReader } = await import("../../src/readers/in-process.ts");
    const again = new InProcessReader(await openCard(dir));
    await again.connect();
    await expectSw(again, SELECT_JPKI, "9000");
    await expectSw(again, "00200098", "63C2");
  });
  it("CHANGE REFERENCE DATA needs the PIN verified first, checks the format, and takes effect", async () => {
    const { reader } = await fresh();
    await expectSw(reader, SELECT_JPKI, "9000");
    await expectSw(reader, selectEf("0018"), "9000");
    await expectSw(reader, "0024018004" + Buffer.from("4321").toString("hex"), "6982");
    await expectSw(reader, verifyApdu(AUTH_PIN), "9000");
    await expectSw(reader, "0024018003" + Buffer.from("432").toString("hex"), "6A80");
    await expectSw(reader, "0024008004" + Buffer.from("4321").toString("hex"), "6A86");
    await expectSw(reader, "0024018004" + Buffer.from("4321").toString("hex"), "9000");
    await reader.reset();
    await expectSw(reader, SELECT_JPKI, "9000");
    await expectSw(reader, selectEf("0018"), "9000");
    await expectSw(reader, verifyApdu(AUTH_PIN), "63C2");
    await expectSw(reader, verifyApdu("4321"), "9000");
    // the signing password: 6–16 of A–Z0–9
    await expectSw(reader, selectEf("001B"), "9000");
    await expectSw(reader, verifyApdu(SIGN_PIN), "9000");
    await expectSw(reader, "002401800561626331" + "32", "6A80"); // lower case
    await expectSw(reader, "0024018006" + Buffer.from("NEWPW9").toString("hex"), "9000");
  });
});

describe("§2.6 security state", () => {
  it("power off/on and reset clear verified PINs", async () => {
    const { reader } = await fresh();
    await expectSw(reader, SELECT_JPKI, "9000");
    await expectSw(reader, verifyApdu(SIGN_PIN, "9B"), "9000");
    await reader.reset();
    await expectSw(reader, SELECT_JPKI, "9000");
    await expectSw(reader, "00B0810004", "6982");
    await expectSw(reader, verifyApdu(SIGN_PIN, "9B"), "9000");
    await reader.disconnect();
    await reader.connect();
    await expectSw(reader, SELECT_JPKI, "9000");
    await expectSw(reader, "00B0810004", "6982");
  });
  it("re-selecting the same AP keeps verified PINs (pyjpki), selecting another AP clears them", async () => {
    const { reader } = await fresh();
    await expectSw(reader, SELECT_JPKI, "9000");
    await expectSw(reader, verifyApdu(SIGN_PIN, "9B"), "9000");
    await expectSw(reader, SELECT_JPKI, "9000");
    await expectSw(reader, "00B0810004", "9000");
    await expectSw(reader, "00A4040C0AD3921000310001010408", "9000");
    await expectSw(reader, SELECT_JPKI, "9000");
    await expectSw(reader, "00B0810004", "6982");
  });
  it("with the per-card switch, re-selecting the same AP clears verified PINs", async () => {
    const tt = await issuedCardTemplate({ reselectClearsPins: true });
    const { reader } = await cloneCard(tt);
    await expectSw(reader, SELECT_JPKI, "9000");
    await expectSw(reader, verifyApdu(SIGN_PIN, "9B"), "9000");
    await expectSw(reader, "00B0810004", "9000");
    await expectSw(reader, SELECT_JPKI, "9000");
    await expectSw(reader, "00B0810004", "6982");
  });
  it("a wrong VERIFY clears that PIN's verified state", async () => {
    const { reader } = await fresh();
    await expectSw(reader, SELECT_JPKI, "9000");
    await expectSw(reader, verifyApdu(SIGN_PIN, "9B"), "9000");
    await expectSw(reader, verifyApdu("NOPE00", "9B"), "63C4");
    await expectSw(reader, "00B0810004", "6982");
  });
});

describe("§2.7 COMPUTE DIGITAL SIGNATURE", () => {
  const message = Buffer.from("OpenJPKI signs this");
  const digestInfo = Buffer.concat([h(DIGEST_INFO_SHA256), createHash("sha256").update(message).digest()]);
  const cds = (data: Uint8Array, p1 = "00", p2 = "80") =>
    `802A${p1}${p2}${data.length.toString(16).padStart(2, "0")}${Buffer.from(data).toString("hex")}00`;

  it("each key signs a DigestInfo after its own PIN; the signature verifies as sha256WithRSAEncryption", async () => {
    const { reader } = await fresh();
    await expectSw(reader, SELECT_JPKI, "9000");
    await expectSw(reader, selectEf("0018"), "9000");
    await expectSw(reader, verifyApdu(AUTH_PIN), "9000");
    await expectSw(reader, selectEf("0017"), "9000");
    const sig = await expectSw(reader, cds(digestInfo), "9000");
    assert.equal(sig.length, 256);
    assert.ok(rsaVerify("sha256", message, t.authPublicKey, sig));
    assert.ok(rsaVerify("sha256", message, new X509Certificate(t.authCert).publicKey, sig));

    await expectSw(reader, selectEf("001A"), "9000");
    await expectSw(reader, cds(digestInfo), "6982"); // the auth PIN does not open the sign key
    await expectSw(reader, selectEf("001B"), "9000");
    await expectSw(reader, verifyApdu(SIGN_PIN), "9000");
    await expectSw(reader, selectEf("001A"), "9000");
    const sig2 = await expectSw(reader, cds(digestInfo), "9000");
    assert.ok(rsaVerify("sha256", message, t.signPublicKey, sig2));
  });
  it("the sign password does not open the auth key", async () => {
    const { reader } = await fresh();
    await expectSw(reader, SELECT_JPKI, "9000");
    await expectSw(reader, verifyApdu(SIGN_PIN, "9B"), "9000");
    await expectSw(reader, selectEf("0017"), "9000");
    await expectSw(reader, cds(digestInfo), "6982");
  });
  it("pads arbitrary bytes (1..245) with PKCS#1 v1.5 type 1; 246 bytes is 6700", async () => {
    const { reader } = await fresh();
    await expectSw(reader, SELECT_JPKI, "9000");
    await expectSw(reader, verifyApdu(AUTH_PIN, "98"), "9000");
    await expectSw(reader, selectEf("0017"), "9000");
    for (const n of [1, 11, 245]) {
      const data = Buffer.alloc(n, 0x5a);
      const sig = await expectSw(reader, cds(data), "9000");
      const recovered = publicDecrypt({ key: t.authPublicKey, padding: constants.RSA_PKCS1_PADDING }, sig);
      assert.deepEqual(recovered, data);
    }
    await expectSw(reader, "802A0080" + "0000F6" + "5a".repeat(246) + "0000", "6700");
    await expectSw(reader, "802A008000", "6700"); // no data
  });
  it("P2 may name the key by SFI (97, 9A); P1 01–03 hash variants; 04/05 and odd P2 refused", async () => {
    const { reader } = await fresh();
    await expectSw(reader, SELECT_JPKI, "9000");
    await expectSw(reader, verifyApdu(AUTH_PIN, "98"), "9000");
    const sig = await expectSw(reader, cds(digestInfo, "00", "97"), "9000");
    assert.ok(rsaVerify("sha256", message, t.authPublicKey, sig));
    const sig3 = await expectSw(reader, cds(message, "03", "97"), "9000");
    assert.ok(rsaVerify("sha256", message, t.authPublicKey, sig3));
    const sig2 = await expectSw(reader, cds(createHash("sha256").update(message).digest(), "02", "97"), "9000");
    assert.ok(rsaVerify("sha256", message, t.authPublicKey, sig2));
    const sig1 = await expectSw(reader, cds(message, "01", "97"), "9000");
    const bare = publicDecrypt({ key: t.authPublicKey, padding: constants.RSA_PKCS1_PADDING }, sig1);
    assert.deepEqual(bare, createHash("sha256").update(message).digest());
    await expectSw(reader, cds(digestInfo, "04", "97"), "6A86");
    await expectSw(reader, cds(digestInfo, "00", "00"), "6A86");
    await expectSw(reader, cds(digestInfo, "00", "98"), "6981"); // a PIN EF is not a key
    await expectSw(reader, cds(digestInfo, "00", "9A"), "6982");
    await expectSw(reader, "802A00970101" + "10", "6700"); // Le < 256
  });
  it("CLA 00 with INS 2A is not the signing command", async () => {
    const { reader } = await fresh();
    await expectSw(reader, SELECT_JPKI, "9000");
    await expectSw(reader, "002A9E9A0101" + "00", "6A86");
  });
});

describe("§2.8 other commands, classes and instructions", () => {
  it("unknown INS → 6D00, unsupported CLA → 6E00, SM CLA → 6882 on SELECT and 69FC otherwise", async () => {
    const { reader } = await fresh();
    await expectSw(reader, SELECT_JPKI, "9000");
    await expectSw(reader, "00CADF3005", "6D00");
    await expectSw(reader, "00CB3FFF035C017E08", "6D00");
    await expectSw(reader, "00B2010C00", "6D00");
    await expectSw(reader, "A0B0000004", "6E00");
    await expectSw(reader, "FFB0000004", "6E00");
    await expectSw(reader, "80B0000004", "6E00");
    await expectSw(reader, "082000800000", "6700"); // malformed length comes first
    await expectSw(reader, "0C200080", "69FC");
    await expectSw(reader, "0CB0000004", "69FC");
    await expectSw(reader, "08A4040C0AD392F000260100000001", "6882");
    await expectSw(reader, "01B0000004", "6881");
    await expectSw(reader, "10B0000004", "6884");
  });
  it("GET CHALLENGE returns Le random bytes; extended form 6985", async () => {
    const { reader } = await fresh();
    await expectSw(reader, SELECT_JPKI, "9000");
    const a = await expectSw(reader, "0084000008", "9000");
    const b = await expectSw(reader, "0084000008", "9000");
    assert.equal(a.length, 8);
    assert.notDeepEqual(a, b);
    assert.equal((await expectSw(reader, "0084000000", "9000")).length, 256);
    await expectSw(reader, "00840000000010", "6985");
    await expectSw(reader, "0084010008", "6A86");
  });
});

describe("§2.9 example flow: pkcs11-tool --login --sign --id 01 (OpenSC 0.23.0 log)", () => {
  it("runs exactly as in the log", async () => {
    const { reader } = await fresh();
    await expectSw(reader, SELECT_JPKI, "9000");
    await expectSw(reader, "00A4020C020018", "9000");
    await expectSw(reader, "00200080", "63C3");
    await expectSw(reader, "00200080", "63C3");
    await expectSw(reader, "0020008004" + Buffer.from(AUTH_PIN).toString("hex"), "9000");
    await expectSw(reader, "00A4020C020017", "9000");
    const di = DIGEST_INFO_SHA256 + "11".repeat(32);
    const sig = await expectSw(reader, `802A008033${di}00`, "9000");
    assert.equal(sig.length, 256);
  });
});

describe("§5.1 OpenSC driver matching", () => {
  it("every probe of the drivers before jpki gets 6A82 or 6D00, never 9000", async () => {
    const { reader } = await fresh();
    const probes = [
      "00A4040007627601FF000000",
      "00A4040006A00000000101",
      "00A404000BE82B0601040181C31F020100",
      "00A4040C0FD23300000045737445494420763335",
      "00CADF3005",
      "00CB3FFF035C017E08",
      "00A4040009A0000003080000100000",
      "00A4040009A0000003080000100000",
      "00A4040C07A000000116DB0000",
      "00A4040C07A000000079100000",
      ...Array.from({ length: 16 }, (_, x) => `00A4040C07A000000079010${x.toString(16).toUpperCase()}00`),
      "00A404000CF276A288BCFBA69D34F31001",
      "00A4040009A0000003974254465900",
      "00A4040006D2760001240100",
    ];
    for (const p of probes) {
      const a = await send(reader, p);
      assert.ok(a.sw === "6A82" || a.sw === "6D00", `${p} → ${a.sw}`);
    }
    await expectSw(reader, SELECT_JPKI, "9000");
  });
  it("ATR is 3B E0 00 FF 81 31 FE 45 14 (OpenSC's jpki ATR table), returned by connect and reset", async () => {
    const { reader, card } = await fresh();
    assert.equal(toHex(DEFAULT_ATR), "3BE000FF8131FE4514");
    assert.equal(toHex(card.atr()), "3BE000FF8131FE4514");
    assert.equal(toHex(await reader.reset()), "3BE000FF8131FE4514");
  });
});
