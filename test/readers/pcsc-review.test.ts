// Review tests for src/readers/pcsc.ts through a private pcscd and vpcd: a card taken out of the
// reader in the middle of a command is reported as "no card", naming the reader.
import { after, before, test, describe } from "node:test";
import assert from "node:assert/strict";
import { attachToVpcd, type VpcdAttachment } from "../../src/readers/vpcd.ts";
import type { CardEndpoint } from "../../src/readers/reader.ts";
import { STUB_ATR, StubCard } from "../helpers/stub-card.ts";
import { pcscdUnavailableReason, startPcscd, type PcscdHarness } from "../helpers/pcscd.ts";

const bytes = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, "hex"));

/** Answers SELECT with 90 00; on READ BINARY it is pulled out of the reader (the vpcd link closes) before answering. */
class CardPulledOnRead implements CardEndpoint {
  link: VpcdAttachment | null = null;
  async powerOn(): Promise<Uint8Array> {
    return STUB_ATR;
  }
  async powerOff(): Promise<void> {}
  async reset(): Promise<Uint8Array> {
    return STUB_ATR;
  }
  atr(): Uint8Array {
    return STUB_ATR;
  }
  async transmit(command: Uint8Array): Promise<Uint8Array> {
    if (command[1] === 0xb0) {
      void this.link?.close();
      await new Promise((r) => setTimeout(r, 300));
      return bytes("30820100" + "00".repeat(252) + "9000");
    }
    return bytes("9000");
  }
}

const skip = pcscdUnavailableReason();
describe("PC/SC reader: removal mid-operation, a card another program holds", { skip: skip ?? false }, () => {
  let pcscd: PcscdHarness;
  let pcsc: typeof import("../../src/readers/pcsc.ts");
  before(async () => {
    pcscd = await startPcscd();
    process.env.PCSCLITE_CSOCK_NAME = pcscd.env.PCSCLITE_CSOCK_NAME;
    pcsc = await import("../../src/readers/pcsc.ts");
  });
  after(() => pcscd?.stop());

  /** The reader once pcscd reports the card in it. */
  async function readerWithCard(name: string) {
    let reader = await pcsc.openPcscReader(name);
    for (const deadline = Date.now() + 10_000; !reader.cardPresent && Date.now() < deadline; ) {
      await reader.disconnect();
      await new Promise((r) => setTimeout(r, 200));
      reader = await pcsc.openPcscReader(name);
    }
    return reader;
  }

  test("a card pulled out during a command is no-card, not a PC/SC protocol error", { timeout: 60_000 }, async () => {
    const card = new CardPulledOnRead();
    const link = attachToVpcd(card, { port: pcscd.vpcdPort });
    card.link = link;
    try {
      await link.connected;
      const reader = await readerWithCard(pcscd.readerName);
      try {
        await reader.connect();
        assert.equal(Buffer.from(await reader.transmit(bytes("00A4040C0AD392F000260100000001"))).toString("hex"), "9000");
        await assert.rejects(reader.transmit(bytes("00B0000000")), (e: unknown) => {
          assert.ok(e instanceof pcsc.PcscError, String(e));
          assert.equal(e.code, "no-card", e.message);
          assert.match(e.message, /カード/);
          assert.ok(e.message.includes(pcscd.readerName), e.message);
          return true;
        });
      } finally {
        await reader.disconnect();
      }
    } finally {
      await link.close();
    }
  });

  test("a card another program holds exclusively: the error says so", { timeout: 60_000 }, async () => {
    const link = attachToVpcd(new StubCard(), { port: pcscd.vpcdPort + 1 });
    const name = "Virtual PCD 00 01";
    try {
      await link.connected;
      const holder = await readerWithCard(name);
      try {
        await holder.connect();
        const second = await pcsc.openPcscReader(name);
        try {
          await assert.rejects(second.connect(), (e: unknown) => {
            assert.ok(e instanceof pcsc.PcscError, String(e));
            assert.match(e.message, /他のプログラムが使用中です \/ the card is in use by another program/);
            assert.ok(e.message.includes(name), e.message);
            return true;
          });
        } finally {
          await second.disconnect();
        }
      } finally {
        await holder.disconnect();
      }
    } finally {
      await link.close();
    }
  });
});
