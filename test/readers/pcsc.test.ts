import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { attachToVpcd } from "../../src/readers/vpcd.ts";
import { StubCard, STUB_ATR } from "../helpers/stub-card.ts";
import { pcscdUnavailableReason, runCommand, startPcscd } from "../helpers/pcscd.ts";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex").toUpperCase();
const root = fileURLToPath(new URL("../..", import.meta.url));

describe("PC/SC reader without pcscd", () => {
  test("listReaders and openPcscReader fail with a one-line typed error, not a crash", { timeout: 30_000 }, async () => {
    // In a child process: the PC/SC library reads PCSCLITE_CSOCK_NAME once per process.
    const script = `
      import { listReaders, openPcscReader, PcscError } from "./src/readers/pcsc.ts";
      const out = [];
      for (const f of [() => listReaders(), () => openPcscReader("x")]) {
        try { await f(); out.push("no error"); }
        catch (e) { out.push({ isPcscError: e instanceof PcscError, code: e.code, message: e.message }); }
      }
      console.log(JSON.stringify(out));
    `;
    const r = await runCommand(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      cwd: root,
      env: { PCSCLITE_CSOCK_NAME: "/nonexistent/openjpki/pcscd.comm" },
      timeoutMs: 25_000,
    });
    assert.equal(r.code, 0, r.stderr);
    const results = JSON.parse(r.stdout.trim().split("\n").at(-1)!) as Array<{ isPcscError: boolean; code: string; message: string }>;
    for (const res of results) {
      assert.equal(res.isPcscError, true);
      assert.equal(res.code, "pcsc-unavailable");
      assert.doesNotMatch(res.message, /\n/);
      assert.match(res.message, /pcscd/);
      assert.match(res.message, /PC\/SCサービス/);
    }
  });
});

const skip = pcscdUnavailableReason();
describe("PC/SC reader through a private pcscd and vpcd", { skip: skip ?? false }, () => {
  test("lists the vpcd readers, connects, transmits, resets and powers off", { timeout: 45_000 }, async () => {
    const pcscd = await startPcscd();
    process.env.PCSCLITE_CSOCK_NAME = pcscd.env.PCSCLITE_CSOCK_NAME;
    const { listReaders, openPcscReader, PcscError } = await import("../../src/readers/pcsc.ts");
    const card = new StubCard();
    const link = attachToVpcd(card, { port: pcscd.vpcdPort });
    try {
      await link.connected;
      const names = await listReaders();
      assert.ok(names.includes("Virtual PCD 00 00"), names.join(","));
      assert.ok(names.includes("Virtual PCD 00 01"));

      await assert.rejects(openPcscReader("No Such Reader"), (e: unknown) => e instanceof PcscError && e.code === "reader-not-found");
      await assert.rejects(openPcscReader("Virtual PCD"), (e: unknown) => e instanceof PcscError && /matches/.test(e.message));

      const empty = await openPcscReader("Virtual PCD 00 01");
      await assert.rejects(empty.connect(), (e: unknown) => e instanceof PcscError && e.code === "no-card");
      await empty.disconnect();

      // no name: the reader holding a card is chosen
      const reader = await waitForCardReader(openPcscReader);
      assert.equal(reader.name, "Virtual PCD 00 00");
      const atr = await reader.connect();
      assert.equal(hex(atr), hex(STUB_ATR));
      assert.equal(hex(await reader.transmit(Uint8Array.from(Buffer.from("00A4040C0AD392F000260100000001", "hex")))), "9000");
      assert.equal(hex(await reader.transmit(Uint8Array.from(Buffer.from("80EE0000020102", "hex")))), "01029000");
      const eventsBefore = card.events.length;
      assert.equal(hex(await reader.reset()), hex(STUB_ATR));
      assert.ok(card.events.slice(eventsBefore).some((e) => e === "reset" || e === "on"), `card saw ${card.events.slice(eventsBefore)}`);
      await reader.disconnect();
      // pcscd powers the card down shortly after the last client leaves
      const deadline = Date.now() + 5000;
      while (card.events.at(-1) !== "off" && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
      assert.equal(card.events.at(-1), "off");
      await assert.rejects(reader.connect(), PcscError);
    } finally {
      await link.close();
      await pcscd.stop();
    }
  });
});

async function waitForCardReader(
  open: typeof import("../../src/readers/pcsc.ts").openPcscReader,
): Promise<import("../../src/readers/pcsc.ts").PcscReader> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const r = await open();
    if (r.cardPresent || Date.now() > deadline) return r;
    await r.disconnect();
    await new Promise((res) => setTimeout(res, 200));
  }
}
