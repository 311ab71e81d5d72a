/** 券面事項入力補助AP, spec card-protocol §3.1, and the neighbouring APs of §1. */
import { describe, it, before } from "node:test";
import assert from "node:assert/strict";
import { issuedCardTemplate, cloneCard, KENHOJO, KENHOJO_PIN, AUTH_PIN, type CardTemplate } from "./fixtures/cards.ts";
import { expectSw, selectEf, verifyApdu, SELECT_JPKI, SELECT_KENHOJO } from "./fixtures/apdu-helpers.ts";

let t: CardTemplate;
before(async () => {
  t = await issuedCardTemplate();
});

describe("§3.1 券面事項入力補助AP", () => {
  it("EF 0001 holds the My Number in exactly 17 bytes, readable after the 4-digit PIN (EF 0011)", async () => {
    const { reader } = await cloneCard(t);
    await expectSw(reader, SELECT_KENHOJO, "9000");
    await expectSw(reader, selectEf("0001"), "9000");
    await expectSw(reader, "00B0000011", "6982");
    await expectSw(reader, selectEf("0011"), "9000");
    await expectSw(reader, "00200080", "63C3");
    await expectSw(reader, verifyApdu(KENHOJO_PIN), "9000");
    await expectSw(reader, selectEf("0001"), "9000");
    const file = await expectSw(reader, "00B0000011", "9000");
    assert.equal(file.length, 17);
    assert.equal(Buffer.from(file).toString("hex"), "ff100c" + Buffer.from(KENHOJO.myNumber).toString("hex") + "ffff");
    await expectSw(reader, "00B0001101", "6B00");
  });
  it("EF 0002 holds FF 20 { DF21..DF25 } with the four attributes (pyjpki reads it with one Le=00)", async () => {
    const { reader } = await cloneCard(t);
    await expectSw(reader, SELECT_KENHOJO, "9000");
    await expectSw(reader, verifyApdu(KENHOJO_PIN, "91"), "9000");
    await expectSw(reader, selectEf("0002"), "9000");
    const file = Buffer.from(await expectSw(reader, "00B0000000", "9000"));
    assert.equal(file[0], 0xff);
    assert.equal(file[1], 0x20);
    const text = file.toString("utf8");
    for (const v of [KENHOJO.name, KENHOJO.address, KENHOJO.birthDate]) assert.ok(text.includes(v), v);
    const sexAt = file.indexOf(Buffer.from([0xdf, 0x25, 0x01]));
    assert.equal(String.fromCharCode(file[sexAt + 3]!), KENHOJO.sex);
  });
  it("the kenhojo PIN has 3 tries and its own counter; blocked → 6984", async () => {
    const { reader } = await cloneCard(t);
    await expectSw(reader, SELECT_KENHOJO, "9000");
    await expectSw(reader, verifyApdu("0000", "91"), "63C2");
    await expectSw(reader, verifyApdu("0000", "91"), "63C1");
    await expectSw(reader, verifyApdu("0000", "91"), "63C0");
    await expectSw(reader, verifyApdu(KENHOJO_PIN, "91"), "6984");
    await expectSw(reader, SELECT_JPKI, "9000");
    await expectSw(reader, "00200098", "63C3");
    await expectSw(reader, verifyApdu(AUTH_PIN, "98"), "9000");
  });
  it("EF 0012 is always blocked; 照合番号A (EF 0014, the My Number) opens EF 0001 only", async () => {
    const { reader } = await cloneCard(t);
    await expectSw(reader, SELECT_KENHOJO, "9000");
    await expectSw(reader, "00200092", "63C0");
    await expectSw(reader, verifyApdu("1234", "92"), "6984");
    await expectSw(reader, verifyApdu(KENHOJO.myNumber, "94"), "9000");
    await expectSw(reader, "00B0810011", "9000");
    await expectSw(reader, "00B0820010", "6982");
  });
  it("selecting the JPKI AP clears the kenhojo PIN", async () => {
    const { reader } = await cloneCard(t);
    await expectSw(reader, SELECT_KENHOJO, "9000");
    await expectSw(reader, verifyApdu(KENHOJO_PIN, "91"), "9000");
    await expectSw(reader, SELECT_JPKI, "9000");
    await expectSw(reader, SELECT_KENHOJO, "9000");
    await expectSw(reader, "00B0810011", "6982");
  });
});

describe("§1 other applications", () => {
  it("券面事項確認AP, 住基AP and 共通カードAP can be selected, hold no emulated EF, and clear the JPKI state", async () => {
    const { reader } = await cloneCard(t);
    await expectSw(reader, SELECT_JPKI, "9000");
    await expectSw(reader, verifyApdu(AUTH_PIN, "98"), "9000");
    for (const aid of ["D3921000310001010402", "D3921000310001010401", "D3921000310001010100"]) {
      await expectSw(reader, `00A4040C0A${aid}`, "9000");
      await expectSw(reader, selectEf("0001"), "6A82");
      await expectSw(reader, "00B0810000", "6A82");
    }
    await expectSw(reader, SELECT_JPKI, "9000");
    await expectSw(reader, selectEf("0017"), "9000");
    await expectSw(reader, "802A0080" + "0101" + "00", "6982");
  });
});
