import { before, test, describe } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import type { CardReader } from "../../src/readers/reader.ts";
import { CardError, JpkiClient, decodeAttributes, decodeMyNumber, encodePin, signInput } from "../../src/client/jpki-client.ts";
import { buildApdu, errorForSw, parseResponse } from "../../src/client/apdu.ts";
import { readTlvHeader } from "../../src/client/tlv.ts";
import { createTerminalCa } from "../../src/client/terminal-credentials.ts";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex").toUpperCase();
const bytes = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h.replace(/\s+/g, ""), "hex"));

/**
 * A scripted stand-in for a JPKI card, just enough to pin down the client's APDUs:
 * files by FID per AP, PINs with counters, 80 2A echoing a fake signature.
 */
class FakeCardReader implements CardReader {
  readonly name = "fake";
  log: string[] = [];
  ap: string | null = null;
  ef = 0;
  verified = new Set<number>();
  tries = new Map<number, number>([[0x18, 3], [0x1b, 5], [0x11, 3]]);
  pins = new Map<number, string>([[0x18, "1234"], [0x1b, "ABC123"], [0x11, "5678"]]);
  files = new Map<string, Uint8Array>();
  lastSignInput: Uint8Array | null = null;

  async connect(): Promise<Uint8Array> {
    return bytes("3BE000FF8131FE4514");
  }
  async reset(): Promise<Uint8Array> {
    this.ap = null;
    this.verified.clear();
    return bytes("3BE000FF8131FE4514");
  }
  async disconnect(): Promise<void> {}
  async transmit(c: Uint8Array): Promise<Uint8Array> {
    this.log.push(hex(c));
    const sw = (s: number, data: Uint8Array = new Uint8Array(0)): Uint8Array => Uint8Array.from([...data, s >> 8, s & 0xff]);
    const [cla, ins, p1, p2] = c;
    if (ins === 0xa4 && p1 === 0x04) {
      const aid = hex(c.subarray(5, 5 + c[4]!));
      const ap = aid === "D392F000260100000001" ? "jpki" : aid === "D3921000310001010408" ? "kenhojo" : null;
      if (!ap) return sw(0x6a82);
      if (ap !== this.ap) this.verified.clear();
      this.ap = ap;
      return sw(0x9000);
    }
    if (ins === 0xa4 && p1 === 0x02) {
      this.ef = (c[5]! << 8) | c[6]!;
      return sw(0x9000);
    }
    if (ins === 0xb0) {
      const file = this.files.get(`${this.ap}:${this.ef}`);
      if (!file) return sw(0x6a82);
      if (this.ap === "jpki" && this.ef === 0x0001 && !this.verified.has(0x1b)) return sw(0x6982);
      if (this.ap === "kenhojo" && !this.verified.has(0x11)) return sw(0x6982);
      const offset = (p1! << 8) | p2!;
      const le = c[4] === 0 ? 256 : c[4]!;
      if (offset >= file.length) return sw(0x6b00);
      return sw(0x9000, file.subarray(offset, offset + le));
    }
    if (ins === 0x20) {
      const t = this.tries.get(this.ef)!;
      if (c.length === 4) return sw(0x63c0 | t);
      if (t === 0) return sw(0x6984);
      const pin = new TextDecoder().decode(c.subarray(5, 5 + c[4]!));
      if (pin === this.pins.get(this.ef)) {
        this.tries.set(this.ef, this.ef === 0x1b ? 5 : 3);
        this.verified.add(this.ef);
        return sw(0x9000);
      }
      this.tries.set(this.ef, t - 1);
      return sw(0x63c0 | (t - 1));
    }
    if (ins === 0x24) {
      if (!this.verified.has(this.ef)) return sw(0x6982);
      this.pins.set(this.ef, new TextDecoder().decode(c.subarray(5, 5 + c[4]!)));
      return sw(0x9000);
    }
    if (cla === 0x80 && ins === 0x2a) {
      const pin = this.ef === 0x17 ? 0x18 : 0x1b;
      if (!this.verified.has(pin)) return sw(0x6982);
      this.lastSignInput = c.subarray(5, 5 + c[4]!);
      return sw(0x9000, new Uint8Array(256).fill(0x5a));
    }
    return sw(0x6d00);
  }
}

/**
 * Real certificates (the client refuses a file that is not one): self-signed, made larger than
 * 1 KB with a long subject so that the auth one takes five READ BINARYs.
 */
const certs: { auth: Uint8Array; authCa: Uint8Array; sign: Uint8Array } = { auth: new Uint8Array(0), authCa: new Uint8Array(0), sign: new Uint8Array(0) };
before(async () => {
  const make = async (subjectLength: number) =>
    (await createTerminalCa({ name: `CN=${"x".repeat(subjectLength)}, O=OpenJPKI, C=JP` })).certificateDer;
  [certs.auth, certs.authCa, certs.sign] = await Promise.all([make(200), make(10), make(300)]);
  assert.ok(certs.auth.length > 1024 && certs.auth.length < 1280, String(certs.auth.length));
});

describe("APDU helpers", () => {
  test("buildApdu encodes cases 1–4, short and extended", () => {
    assert.equal(hex(buildApdu(0, 0x20, 0, 0x80)), "00200080");
    assert.equal(hex(buildApdu(0, 0xb0, 0, 0, undefined, 256)), "00B0000000");
    assert.equal(hex(buildApdu(0, 0xb0, 1, 2, undefined, 7)), "00B0010207");
    assert.equal(hex(buildApdu(0, 0xa4, 2, 0x0c, bytes("0018"))), "00A4020C020018");
    assert.equal(hex(buildApdu(0x80, 0x2a, 0, 0x80, bytes("AABB"), 256)), "802A008002AABB00");
    assert.equal(hex(buildApdu(0, 0xb0, 0, 0, undefined, 65536)), "00B00000000000");
    const ext = buildApdu(0x80, 0x2a, 0, 0x80, new Uint8Array(300), 256);
    assert.equal(hex(ext.subarray(0, 7)), "802A008000012C");
    assert.equal(ext.length, 7 + 300 + 2);
    assert.throws(() => buildApdu(0x100, 0, 0, 0), RangeError);
    assert.throws(() => buildApdu(0, 0, 0, 0, undefined, 0), RangeError);
  });

  test("status words map to stable codes", () => {
    assert.equal(errorForSw(0x63c2, "x").code, "wrong-pin");
    assert.equal(errorForSw(0x63c2, "x").triesLeft, 2);
    assert.equal(errorForSw(0x63c0, "x").code, "pin-blocked");
    assert.equal(errorForSw(0x6984, "x").code, "pin-blocked");
    assert.equal(errorForSw(0x6982, "x").code, "security-status");
    assert.equal(errorForSw(0x6a82, "x").code, "file-not-found");
    const e = errorForSw(0x6a86, "select");
    assert.equal(e.code, "card-error");
    assert.equal(e.sw, 0x6a86);
    assert.match(e.message, /6A86/);
    assert.throws(() => parseResponse(Uint8Array.of(0x90)), (err: unknown) => err instanceof CardError && err.code === "invalid-response");
  });

  test("TLV headers: short, long and multi-byte tags; incomplete input", () => {
    assert.deepEqual(readTlvHeader(bytes("3082010A")), { tag: 0x30, headerLength: 4, length: 266 });
    assert.deepEqual(readTlvHeader(bytes("FF2081C8")), { tag: 0xff20, headerLength: 4, length: 200 });
    assert.deepEqual(readTlvHeader(bytes("DF2205")), { tag: 0xdf22, headerLength: 3, length: 5 });
    assert.equal(readTlvHeader(bytes("3082")), null);
    assert.throws(() => readTlvHeader(bytes("3085")), CardError);
  });

  test("PIN formats are checked before anything is sent", () => {
    assert.equal(hex(encodePin("auth", "1234")), "31323334");
    assert.equal(hex(encodePin("sign", "abc123")), hex(new TextEncoder().encode("ABC123")));
    for (const [type, pin] of [["auth", "123"], ["auth", "12345"], ["auth", "12a4"], ["sign", "ABC12"], ["sign", "ABC-123"], ["sign", "A".repeat(17)]] as const) {
      assert.throws(() => encodePin(type, pin), (e: unknown) => e instanceof CardError && e.code === "invalid-argument", `${type} ${pin}`);
    }
  });

  test("signInput builds DigestInfo for SHA-256/384/512 and passes raw bytes", () => {
    const data = new TextEncoder().encode("hello");
    const d256 = signInput(data, "sha256");
    assert.equal(hex(d256), "3031300D060960864801650304020105000420" + createHash("sha256").update(data).digest("hex").toUpperCase());
    assert.equal(signInput(data, "sha384").length, 19 + 48);
    assert.equal(signInput(data, "sha512").length, 19 + 64);
    assert.equal(hex(signInput(createHash("sha256").update(data).digest(), "sha256", true)), hex(d256));
    assert.equal(hex(signInput(data, "raw")), hex(data));
    assert.throws(() => signInput(new Uint8Array(246), "raw"), CardError);
    assert.throws(() => signInput(new Uint8Array(0), "raw"), CardError);
    assert.throws(() => signInput(new Uint8Array(31), "sha256", true), CardError);
  });
});

describe("JpkiClient against a scripted card", () => {
  const setup = (): { card: FakeCardReader; client: JpkiClient } => {
    const card = new FakeCardReader();
    card.files.set("jpki:10", certs.auth); // 000A auth
    card.files.set("jpki:11", Uint8Array.from([...certs.authCa, ...new Array<number>(500).fill(0xff)])); // 000B auth CA, padded
    card.files.set("jpki:1", certs.sign); // 0001 sign
    card.files.set("jpki:6", new TextEncoder().encode("JPKIAPICCTOKEN2".padEnd(32, " ") + "x".repeat(128)));
    return { card, client: new JpkiClient(card) };
  };

  test("reads certificates in 256-byte chunks, sized by the DER header, ignoring padding", async () => {
    const { card, client } = setup();
    assert.equal(hex(await client.readCertificate("auth")), hex(certs.auth));
    assert.deepEqual(card.log, [
      "00A4040C0AD392F000260100000001",
      "00A4020C02000A",
      "00B0000000",
      "00B0010000",
      "00B0020000",
      "00B0030000",
      `00B00400${(certs.auth.length - 1024).toString(16).toUpperCase().padStart(2, "0")}`,
    ]);
    card.log = [];
    assert.equal(hex(await client.readCertificate("auth-ca")), hex(certs.authCa));
    assert.equal(card.log[0], "00A4020C02000B", "the AP is not re-selected");
    assert.equal(await client.tokenLabel(), "JPKIAPICCTOKEN2");
  });

  test("the signing certificate needs the signing password", async () => {
    const { client } = setup();
    await assert.rejects(client.readCertificate("sign"), (e: unknown) => e instanceof CardError && e.code === "security-status" && e.sw === 0x6982);
    assert.equal(hex(await client.readCertificate("sign", { signPin: "abc123" })), hex(certs.sign));
    await assert.rejects(client.readCertificate("sign-ca"), (e: unknown) => e instanceof CardError && e.code === "file-not-found");
  });

  test("an empty certificate file is reported as no-certificate", async () => {
    const { card, client } = setup();
    card.files.set("jpki:10", new Uint8Array(0));
    await assert.rejects(client.readCertificate("auth"), (e: unknown) => e instanceof CardError && e.code === "no-certificate");
    card.files.set("jpki:10", new Uint8Array(64).fill(0xff));
    await assert.rejects(client.readCertificate("auth"), (e: unknown) => e instanceof CardError && e.code === "no-certificate");
  });

  test("verifyPin: ok, wrong with tries left, blocked; triesLeft with an empty VERIFY", async () => {
    const { card, client } = setup();
    assert.equal(await client.triesLeft("auth"), 3);
    assert.equal(card.log.at(-1), "00200080");
    assert.deepEqual(await client.verifyPin("auth", "0000"), { ok: false, blocked: false, triesLeft: 2 });
    assert.equal(card.log.at(-1), "002000800430303030");
    assert.deepEqual(await client.verifyPin("auth", "1234"), { ok: true });
    assert.equal(await client.triesLeft("auth"), 3);
    for (const left of [2, 1]) assert.deepEqual(await client.verifyPin("auth", "9999"), { ok: false, blocked: false, triesLeft: left });
    assert.deepEqual(await client.verifyPin("auth", "9999"), { ok: false, blocked: true, triesLeft: 0 });
    assert.deepEqual(await client.verifyPin("auth", "1234"), { ok: false, blocked: true, triesLeft: 0 });
    assert.equal(await client.triesLeft("auth"), 0);
    assert.equal(await client.triesLeft("sign"), 5);
    const before = card.log.length;
    await assert.rejects(client.verifyPin("auth", "12"), CardError);
    assert.equal(card.log.length, before, "a malformed PIN is never sent");
  });

  test("sign: verify then 80 2A 00 80 with a DigestInfo, without re-selecting the AP", async () => {
    const { card, client } = setup();
    await assert.rejects(client.sign("auth", new Uint8Array([1])), (e: unknown) => e instanceof CardError && e.code === "security-status");
    assert.deepEqual(await client.verifyPin("auth", "1234"), { ok: true });
    card.log = [];
    const sig = await client.sign("auth", new TextEncoder().encode("data"));
    assert.equal(sig.length, 256);
    assert.deepEqual(card.log.slice(0, 1), ["00A4020C020017"]);
    assert.match(card.log[1]!, /^802A0080333031300D060960864801650304020105000420[0-9A-F]{64}00$/);
    await assert.rejects(client.sign("sign", new Uint8Array([1]), { pin: "WRONG1" }), (e: unknown) => e instanceof CardError && e.code === "wrong-pin" && e.triesLeft === 4);
    const raw = await client.sign("sign", bytes("0102030405"), { hash: "raw", pin: "ABC123" });
    assert.equal(raw.length, 256);
    assert.equal(hex(card.lastSignInput!), "0102030405");
  });

  test("changePin verifies the old PIN first and refuses a bad new one locally", async () => {
    const { card, client } = setup();
    await client.changePin("auth", "1234", "4321");
    assert.deepEqual(card.log.slice(-2), ["002000800431323334", "002401800434333231"]);
    assert.deepEqual(await client.verifyPin("auth", "4321"), { ok: true });
    await assert.rejects(client.changePin("auth", "0000", "1111"), (e: unknown) => e instanceof CardError && e.code === "wrong-pin");
    await assert.rejects(client.changePin("sign", "ABC123", "short"), (e: unknown) => e instanceof CardError && e.code === "invalid-argument");
  });

  test("readKenhojo decodes My Number and the four attributes", async () => {
    const { card, client } = setup();
    const enc = new TextEncoder();
    const tlv = (tag: number[], v: Uint8Array): number[] => [...tag, v.length, ...v];
    const inner = [
      ...tlv([0xdf, 0x21], new Uint8Array(8)),
      ...tlv([0xdf, 0x22], enc.encode("公的　太郎")),
      ...tlv([0xdf, 0x23], enc.encode("東京都千代田区霞が関二丁目1番2号")),
      ...tlv([0xdf, 0x24], enc.encode("19800101")),
      ...tlv([0xdf, 0x25], enc.encode("1")),
    ];
    card.files.set("kenhojo:2", Uint8Array.from([0xff, 0x20, 0x81, inner.length, ...inner, ...new Array<number>(300).fill(0xff)]));
    card.files.set("kenhojo:1", Uint8Array.from([0xff, 0x10, 0x0c, ...enc.encode("123456789018"), 0xff, 0xff]));
    const data = await client.readKenhojo("5678");
    assert.deepEqual(data, {
      myNumber: "123456789018",
      name: "公的　太郎",
      address: "東京都千代田区霞が関二丁目1番2号",
      birthDate: "19800101",
      sex: "1",
    });
    assert.equal(card.log[0], "00A4040C0AD3921000310001010408");
    assert.equal(await client.kenhojoTriesLeft(), 3);
    await assert.rejects(client.readKenhojo("0000"), (e: unknown) => e instanceof CardError && e.code === "wrong-pin" && e.triesLeft === 2);
    // back to JPKI: the client re-selects the JPKI AP
    card.log = [];
    await client.triesLeft("auth");
    assert.equal(card.log[0], "00A4040C0AD392F000260100000001");
  });

  test("malformed kenhojo files are invalid-response", () => {
    assert.throws(() => decodeMyNumber(bytes("FF100B")), CardError);
    assert.throws(() => decodeMyNumber(Uint8Array.from([0xff, 0x10, 0x0c, ...new TextEncoder().encode("12345678901A")])), CardError);
    assert.throws(() => decodeAttributes(bytes("FF2003DF2201")), CardError);
    assert.throws(() => decodeAttributes(bytes("FF2000")), /lacks/);
  });

  test("a non-JPKI card answers 6A82 to the SELECT", async () => {
    const reader: CardReader = {
      name: "other",
      connect: async () => new Uint8Array(0),
      reset: async () => new Uint8Array(0),
      disconnect: async () => undefined,
      transmit: async () => bytes("6A82"),
    };
    await assert.rejects(new JpkiClient(reader).readCertificate("auth"), (e: unknown) => e instanceof CardError && e.code === "file-not-found");
  });
});

describe("JpkiClient against the virtual card (in-process)", () => {
  const open = async () => {
    const { freshCard } = await import("../helpers/issued-card.ts");
    const { InProcessReader } = await import("../../src/readers/in-process.ts");
    const card = await freshCard();
    const reader = new InProcessReader(card.card);
    await reader.connect();
    return { card, reader, client: new JpkiClient(reader) };
  };

  test("certificates, signatures with every hash and raw, kenhojo", { timeout: 60_000 }, async () => {
    const { createPublicKey, verify, publicDecrypt, constants } = await import("node:crypto");
    const { TEST_PINS, TEST_KENHOJO } = await import("../helpers/issued-card.ts");
    const { card, reader, client } = await open();
    try {
      assert.equal(await client.tokenLabel(), "JPKIAPICCTOKEN2");
      for (const t of ["auth", "auth-ca", "sign-ca"] as const) assert.deepEqual(await client.readCertificate(t), card.certs[t]);
      await assert.rejects(client.readCertificate("sign"), (e: unknown) => e instanceof CardError && e.code === "security-status");
      assert.deepEqual(await client.readCertificate("sign", { signPin: TEST_PINS.sign }), card.certs.sign);
      const data = new TextEncoder().encode("a document");
      await assert.rejects(client.sign("auth", data), (e: unknown) => e instanceof CardError && e.code === "security-status");
      assert.deepEqual(await client.verifyPin("auth", TEST_PINS.auth), { ok: true });
      const authKey = createPublicKey(card.publicKeyPem.auth);
      for (const hash of ["sha256", "sha384", "sha512"] as const) {
        assert.ok(verify(hash, data, authKey, await client.sign("auth", data, { hash })), hash);
      }
      const raw = bytes("00112233445566778899");
      const rawSig = await client.sign("auth", raw, { hash: "raw" });
      assert.equal(hex(publicDecrypt({ key: authKey, padding: constants.RSA_PKCS1_PADDING }, rawSig)), hex(raw));
      const signSig = await client.sign("sign", data, { pin: TEST_PINS.sign });
      assert.ok(verify("sha256", data, createPublicKey(card.publicKeyPem.sign), signSig));
      assert.deepEqual(await client.readKenhojo(TEST_PINS.kenhojo), TEST_KENHOJO);
    } finally {
      await reader.disconnect();
      card.dispose();
    }
  });

  test("wrong PINs count down, block with 63C0, then 6984; other PINs are unaffected", { timeout: 60_000 }, async () => {
    const { card, reader, client } = await open();
    try {
      assert.equal(await client.triesLeft("auth"), 3);
      assert.deepEqual(await client.verifyPin("auth", "0000"), { ok: false, blocked: false, triesLeft: 2 });
      assert.deepEqual(await client.verifyPin("auth", "0000"), { ok: false, blocked: false, triesLeft: 1 });
      assert.deepEqual(await client.verifyPin("auth", "0000"), { ok: false, blocked: true, triesLeft: 0 });
      const r = await client.transmit(bytes("002000800431323334")); // the right PIN, once blocked
      assert.equal(r.sw, 0x6984);
      assert.equal(await client.triesLeft("auth"), 0);
      await assert.rejects(client.sign("auth", new Uint8Array(1), { pin: "1234" }), (e: unknown) => e instanceof CardError && e.code === "pin-blocked");
      assert.equal(await client.triesLeft("sign"), 5);
    } finally {
      await reader.disconnect();
      card.dispose();
    }
  });

  test("changePin: the new PIN works, the old one no longer does; a reset clears verified state", { timeout: 60_000 }, async () => {
    const { TEST_PINS } = await import("../helpers/issued-card.ts");
    const { card, reader, client } = await open();
    try {
      await client.changePin("sign", TEST_PINS.sign, "NEWPASS99");
      assert.deepEqual(await client.verifyPin("sign", TEST_PINS.sign), { ok: false, blocked: false, triesLeft: 4 });
      assert.deepEqual(await client.verifyPin("sign", "newpass99"), { ok: true });
      assert.equal(await client.triesLeft("sign"), 5);
      await reader.reset();
      client.forgetSelection();
      await assert.rejects(client.readCertificate("sign"), (e: unknown) => e instanceof CardError && e.code === "security-status");
    } finally {
      await reader.disconnect();
      card.dispose();
    }
  });
});
