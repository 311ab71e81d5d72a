// Review tests for src/client: what the client does with answers a broken or hostile card gives.
import { test, describe, before } from "node:test";
import assert from "node:assert/strict";
import type { CardReader } from "../../src/readers/reader.ts";
import { CardError, JpkiClient, decodeAttributes } from "../../src/client/jpki-client.ts";
import { describeSw, errorForSw } from "../../src/client/apdu.ts";
import { createTerminalCa } from "../../src/client/terminal-credentials.ts";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex").toUpperCase();
const bytes = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h.replace(/\s+/g, ""), "hex"));

/** A JPKI AP whose files are given; READ BINARY answers min(Le, remaining) and 6B00 past the end. */
class FileCard implements CardReader {
  readonly name = "file card";
  log: string[] = [];
  ef = -1;
  constructor(readonly files: Map<number, Uint8Array>) {}
  async connect(): Promise<Uint8Array> {
    return new Uint8Array(0);
  }
  async reset(): Promise<Uint8Array> {
    return new Uint8Array(0);
  }
  async disconnect(): Promise<void> {}
  async transmit(c: Uint8Array): Promise<Uint8Array> {
    this.log.push(hex(c));
    const sw = (s: number, data: Uint8Array = new Uint8Array(0)) => Uint8Array.from([...data, s >> 8, s & 0xff]);
    if (c[1] === 0xa4 && c[2] === 0x04) return sw(0x9000);
    if (c[1] === 0xa4 && c[2] === 0x02) {
      this.ef = (c[5]! << 8) | c[6]!;
      return this.files.has(this.ef) ? sw(0x9000) : sw(0x6a82);
    }
    if (c[1] === 0xb0) {
      const file = this.files.get(this.ef)!;
      const offset = (c[2]! << 8) | c[3]!;
      const le = c[4] === 0 ? 256 : c[4]!;
      if (offset >= file.length) return sw(0x6b00);
      return sw(0x9000, file.subarray(offset, offset + le));
    }
    return sw(0x6d00);
  }
}

describe("certificates from a broken card", () => {
  let real: Uint8Array;
  before(async () => {
    // A real certificate over 1 KB (a long subject), so that it takes several READ BINARYs.
    real = (await createTerminalCa({ name: `CN=${"x".repeat(200)}, O=OpenJPKI, C=JP` })).certificateDer;
    assert.ok(real.length > 1024 && real.length < 1280, String(real.length));
  });

  test("a real certificate is read whole, in 256-byte chunks, and the file's padding is left out", async () => {
    const card = new FileCard(new Map([[0x000a, Uint8Array.from([...real, ...new Array<number>(300).fill(0xff)])]]));
    assert.equal(hex(await new JpkiClient(card).readCertificate("auth")), hex(real));
    assert.deepEqual(card.log.slice(2), ["00B0000000", "00B0010000", "00B0020000", "00B0030000", `00B00400${(real.length - 1024).toString(16).toUpperCase().padStart(2, "0")}`]);
  });

  test("a SEQUENCE that is not an X.509 certificate is an invalid response naming the certificate, not handed on as one", async () => {
    // 30 82 01 00 and 256 bytes of nonsense: the header is all the client can check by itself.
    const junk = Uint8Array.from([0x30, 0x82, 0x01, 0x00, ...new Array<number>(256).fill(0x22)]);
    const card = new FileCard(new Map([[0x000a, junk]]));
    await assert.rejects(new JpkiClient(card).readCertificate("auth"), (e: unknown) => {
      assert.ok(e instanceof CardError, String(e));
      assert.equal(e.code, "invalid-response");
      assert.match(e.message, /auth certificate/);
      return true;
    });
  });

  test("a certificate whose DER header announces fewer bytes than it has is refused (it would be cut short)", async () => {
    const short = Uint8Array.from(real);
    const announced = real.length - 4 - 100; // the header says 100 bytes less than the certificate holds
    short[2] = announced >> 8;
    short[3] = announced & 0xff;
    const card = new FileCard(new Map([[0x000a, short]]));
    await assert.rejects(new JpkiClient(card).readCertificate("auth"), (e: unknown) => e instanceof CardError && e.code === "invalid-response");
  });
});

describe("the four attributes", () => {
  test("an FF20 object shorter than its header says is refused", () => {
    const enc = new TextEncoder();
    const tlv = (tag: number[], v: Uint8Array): number[] => [...tag, v.length, ...v];
    const inner = [
      ...tlv([0xdf, 0x21], new Uint8Array(8)),
      ...tlv([0xdf, 0x22], enc.encode("公的　太郎")),
      ...tlv([0xdf, 0x23], enc.encode("東京都")),
      ...tlv([0xdf, 0x24], enc.encode("19800101")),
      ...tlv([0xdf, 0x25], enc.encode("1")),
    ];
    const whole = Uint8Array.from([0xff, 0x20, 0x81, inner.length, ...inner]);
    assert.equal(decodeAttributes(whole).name, "公的　太郎");
    const claimsMore = Uint8Array.from([0xff, 0x20, 0x81, inner.length + 40, ...inner]);
    assert.throws(() => decodeAttributes(claimsMore), (e: unknown) => e instanceof CardError && e.code === "invalid-response");
  });
});

describe("status words the client does not act on", () => {
  test("61xx and 6Cxx are described, not called a bare card error", () => {
    assert.match(describeSw(0x6110), /more data|GET RESPONSE/i);
    assert.match(describeSw(0x6c11), /Le|length/i);
    assert.match(errorForSw(0x6c11, "read").message, /6C11/);
  });
});

describe("a card that is not a My Number Card", () => {
  test("SELECT of the JPKI AP answered 6A82 says the card is not a My Number Card, in Japanese and English", async () => {
    const other: CardReader = {
      name: "other",
      connect: async () => new Uint8Array(0),
      reset: async () => new Uint8Array(0),
      disconnect: async () => undefined,
      transmit: async () => bytes("6A82"),
    };
    await assert.rejects(new JpkiClient(other).readCertificate("auth"), (e: unknown) => {
      assert.ok(e instanceof CardError && e.code === "file-not-found" && e.sw === 0x6a82, String(e));
      assert.match(e.message, /^カードに公的個人認証APがありません.*\/ the card has no JPKI application \(not a My Number Card\?\)/);
      return true;
    });
  });
});

describe("PIN messages", () => {
  test("a wrong or malformed PIN is told in Japanese first, then English, naming which PIN", async () => {
    const { encodePin } = await import("../../src/client/jpki-client.ts");
    assert.throws(() => encodePin("sign", "abc"), /^CardError: 署名用パスワードは英大文字と数字の6〜16文字です \/ the signing password must be/);
    assert.throws(() => encodePin("auth", "12"), /^CardError: 利用者証明用電子証明書の暗証番号は数字4桁です \/ the authentication PIN must be 4 digits/);
    const card: CardReader = {
      name: "wrong pin",
      connect: async () => new Uint8Array(0),
      reset: async () => new Uint8Array(0),
      disconnect: async () => undefined,
      transmit: async (c) => (c[1] === 0x20 ? bytes("63C4") : bytes("9000")),
    };
    await assert.rejects(new JpkiClient(card).readCertificate("sign", { signPin: "WRONG1" }), (e: unknown) => {
      assert.ok(e instanceof CardError && e.code === "wrong-pin" && e.triesLeft === 4, String(e));
      assert.equal(e.message, "署名用パスワードが違います（残り4回）/ wrong signing password: 4 tries left");
      return true;
    });
  });
});
