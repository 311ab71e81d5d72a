import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import { once } from "node:events";
import {
  VpcdFrameDecoder,
  answerVpcdMessage,
  attachToVpcd,
  encodeVpcdFrame,
  type VpcdStatus,
} from "../../src/readers/vpcd.ts";
import { StubCard, STUB_ATR } from "../helpers/stub-card.ts";
import type { CardEndpoint } from "../../src/readers/reader.ts";
import { pcscdUnavailableReason, startPcscd } from "../helpers/pcscd.ts";
import { waitFor } from "../helpers/wait.ts";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex").toUpperCase();
const bytes = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h.replace(/\s+/g, ""), "hex"));

describe("vpcd framing", () => {
  test("decoder reassembles frames split and merged arbitrarily", () => {
    const frames = [Uint8Array.of(4), bytes("00A4040C0AD392F000260100000001"), new Uint8Array(300).fill(7)];
    const stream = Buffer.concat(frames.map((f) => encodeVpcdFrame(f)));
    for (const chunkSize of [1, 2, 3, 5, 17, 301, stream.length]) {
      const d = new VpcdFrameDecoder();
      const out: Uint8Array[] = [];
      for (let i = 0; i < stream.length; i += chunkSize) out.push(...d.push(stream.subarray(i, i + chunkSize)));
      assert.deepEqual(out.map(hex), frames.map(hex), `chunk size ${chunkSize}`);
      assert.equal(d.pending, 0);
    }
  });

  test("decoder holds an incomplete frame and a zero-length frame is delivered as empty", () => {
    const d = new VpcdFrameDecoder();
    assert.deepEqual(d.push(bytes("0005 0102")), []);
    assert.equal(d.pending, 4);
    assert.deepEqual(d.push(bytes("030405 0000")).map(hex), ["0102030405", ""]);
  });

  test("encoder refuses empty and oversized payloads", () => {
    assert.throws(() => encodeVpcdFrame(new Uint8Array(0)), RangeError);
    assert.throws(() => encodeVpcdFrame(new Uint8Array(65536)), RangeError);
    assert.equal(hex(encodeVpcdFrame(Uint8Array.of(0x90, 0x00))), "00029000");
    assert.equal(encodeVpcdFrame(new Uint8Array(65535)).length, 65537);
  });

  test("control codes: power and reset get no answer, ATR is answered", async () => {
    const card = new StubCard();
    assert.equal(await answerVpcdMessage(card, Uint8Array.of(1)), null);
    assert.equal(await answerVpcdMessage(card, Uint8Array.of(2)), null);
    assert.equal(await answerVpcdMessage(card, Uint8Array.of(0)), null);
    assert.deepEqual(card.events, ["on", "reset", "off"]);
    assert.equal(hex((await answerVpcdMessage(card, Uint8Array.of(4)))!), hex(STUB_ATR));
    await assert.rejects(answerVpcdMessage(card, Uint8Array.of(9)), /unknown control/);
  });

  test("a failing card answers 6F00 and a bad ATR is refused", async () => {
    const broken: CardEndpoint = {
      powerOn: async () => new Uint8Array(0),
      powerOff: async () => undefined,
      reset: async () => new Uint8Array(0),
      atr: () => new Uint8Array(40),
      transmit: async () => {
        throw new Error("boom");
      },
    };
    assert.equal(hex((await answerVpcdMessage(broken, bytes("00A40400")))!), "6F00");
    await assert.rejects(answerVpcdMessage(broken, Uint8Array.of(4)), /ATR/);
    const short: CardEndpoint = { ...broken, transmit: async () => Uint8Array.of(0x90) };
    assert.equal(hex((await answerVpcdMessage(short, bytes("00A40400")))!), "6F00");
  });
});

/** A fake vpcd: accepts the card's connection and lets the test exchange frames. */
class FakeVpcd {
  server: Server;
  sockets: Socket[] = [];
  private decoder = new VpcdFrameDecoder();
  private frames: Uint8Array[] = [];
  private waiters: Array<() => void> = [];
  constructor() {
    this.server = createServer((s) => {
      this.sockets.push(s);
      this.decoder = new VpcdFrameDecoder();
      s.on("data", (d: Buffer) => {
        this.frames.push(...this.decoder.push(d));
        for (const w of this.waiters.splice(0)) w();
      });
      s.on("error", () => undefined);
    });
  }
  async listen(port = 0): Promise<number> {
    this.server.listen(port, "127.0.0.1");
    await once(this.server, "listening");
    return (this.server.address() as { port: number }).port;
  }
  get socket(): Socket {
    return this.sockets[this.sockets.length - 1]!;
  }
  async nextFrame(timeoutMs = 2000): Promise<Uint8Array> {
    const deadline = Date.now() + timeoutMs;
    while (this.frames.length === 0) {
      if (Date.now() > deadline) throw new Error("no frame from the card");
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
    return this.frames.shift()!;
  }
  /** Sends a frame byte by byte with pauses, to exercise buffering. */
  async sendSlowly(payload: Uint8Array): Promise<void> {
    const frame = encodeVpcdFrame(payload);
    for (const b of frame) {
      this.socket.write(Uint8Array.of(b));
      await new Promise((r) => setTimeout(r, 1));
    }
  }
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

describe("vpcd transport against a fake vpcd", () => {
  test("answers ATR and APDUs, relays power, buffers split frames, merged frames", async () => {
    const vpcd = new FakeVpcd();
    const port = await vpcd.listen();
    const card = new StubCard();
    const link = attachToVpcd(card, { port });
    try {
      await link.connected;
      await waitFor(() => vpcd.sockets.length === 1);
      vpcd.socket.write(encodeVpcdFrame(Uint8Array.of(4)));
      assert.equal(hex(await vpcd.nextFrame()), hex(STUB_ATR));
      vpcd.socket.write(encodeVpcdFrame(Uint8Array.of(1)));
      await vpcd.sendSlowly(bytes("00A4040C0AD392F000260100000001"));
      assert.equal(hex(await vpcd.nextFrame()), "9000");
      assert.deepEqual(card.events, ["on"]);
      // two frames in one TCP write, answered in order
      vpcd.socket.write(Buffer.concat([encodeVpcdFrame(bytes("00A4040C02AAAA")), encodeVpcdFrame(bytes("80EE000003010203"))]));
      assert.equal(hex(await vpcd.nextFrame()), "6A82");
      assert.equal(hex(await vpcd.nextFrame()), "0102039000");
      // an extended APDU with a large payload passes through whole
      const big = new Uint8Array(4000).map((_, i) => i & 0xff);
      vpcd.socket.write(encodeVpcdFrame(Uint8Array.from([0x80, 0xee, 0, 0, 0, big.length >> 8, big.length & 0xff, ...big])));
      const answer = await vpcd.nextFrame();
      assert.equal(answer.length, 4002);
      assert.equal(hex(answer.subarray(0, 4000)), hex(big));
    } finally {
      await link.close();
      await vpcd.close();
    }
    assert.equal(link.isConnected, false);
    assert.equal(card.events.at(-1), "off", "closing the link powers the card off");
  });

  test("a peer that stops reading the answers is not read either: nothing piles up, and every answer comes once it reads again", async () => {
    const vpcd = new FakeVpcd();
    const port = await vpcd.listen();
    const ANSWER = 60_000;
    let handled = 0;
    // A card whose every answer is large: the case where a peer that never reads fills memory.
    const card: CardEndpoint = {
      atr: () => STUB_ATR,
      powerOn: async () => STUB_ATR,
      powerOff: async () => undefined,
      reset: async () => STUB_ATR,
      transmit: async (command) => {
        handled += 1;
        const answer = new Uint8Array(ANSWER + 2).fill(command[4] ?? 0);
        answer.set([0x90, 0x00], ANSWER);
        return answer;
      },
    };
    const link = attachToVpcd(card, { port });
    try {
      await link.connected;
      await waitFor(() => vpcd.sockets.length === 1);
      const peer = vpcd.socket;
      peer.pause();
      const COMMANDS = 1000;
      for (let i = 0; i < COMMANDS; i++) peer.write(encodeVpcdFrame(Uint8Array.of(0x00, 0xb0, 0x00, 0x00, i & 0xff)));
      // Let the card run until it stops by itself (no progress for half a second).
      let seen = -1;
      while (seen !== handled) {
        seen = handled;
        await new Promise((r) => setTimeout(r, 500));
      }
      // Before the backpressure, all 1,000 were answered into memory (60 MB here; unbounded in general).
      assert.ok(handled < COMMANDS / 2, `${handled} of ${COMMANDS} commands answered while the peer read nothing`);
      peer.resume();
      const answers: Uint8Array[] = [];
      while (answers.length < COMMANDS) answers.push(await vpcd.nextFrame(10_000));
      assert.equal(handled, COMMANDS);
      assert.ok(answers.every((a, i) => a.length === ANSWER + 2 && a[0] === (i & 0xff) && a[ANSWER] === 0x90), "every answer, in order");
    } finally {
      await link.close();
      await vpcd.close();
    }
  });

  test("reconnects with backoff after the connection drops, and before vpcd listens", async () => {
    const probe = new FakeVpcd();
    const port = await probe.listen();
    await probe.close(); // port now refused: the card must keep retrying
    const statuses: VpcdStatus[] = [];
    const card = new StubCard();
    const link = attachToVpcd(card, { port, initialRetryDelayMs: 20, maxRetryDelayMs: 100, onStatus: (s) => statuses.push(s) });
    try {
      await new Promise((r) => setTimeout(r, 150));
      assert.ok(statuses.some((s) => s.state === "disconnected"), "refused attempts are reported");
      const vpcd = new FakeVpcd();
      await vpcd.listen(port);
      await link.connected;
      await waitFor(() => vpcd.sockets.length === 1);
      vpcd.socket.write(encodeVpcdFrame(Uint8Array.of(1)));
      vpcd.socket.write(encodeVpcdFrame(Uint8Array.of(4)));
      assert.equal(hex(await vpcd.nextFrame()), hex(STUB_ATR));
      // pcscd goes away: the card is powered off and the link reconnects to the new listener
      await vpcd.close();
      await waitFor(() => card.events.at(-1) === "off");
      const vpcd2 = new FakeVpcd();
      await vpcd2.listen(port);
      await waitFor(() => vpcd2.sockets.length === 1 && link.isConnected);
      vpcd2.socket.write(encodeVpcdFrame(bytes("00A4040C0AD392F000260100000001")));
      assert.equal(hex(await vpcd2.nextFrame()), "9000");
      await link.close();
      await vpcd2.close();
    } finally {
      await link.close();
    }
    assert.equal(statuses.at(-1)?.state, "closed");
  });

  test("a link lost during a slow command: the card is powered off before the next link powers it on", async () => {
    // A card whose one command (80 EE with data FF) runs until released, like GENERATE KEY inside a real card.
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let slowStarted!: () => void;
    const started = new Promise<void>((r) => (slowStarted = r));
    const card = new (class extends StubCard {
      override async transmit(command: Uint8Array): Promise<Uint8Array> {
        if (command[1] === 0xee && command[5] === 0xff) {
          slowStarted();
          await released;
        }
        return super.transmit(command);
      }
    })();
    const vpcd = new FakeVpcd();
    const port = await vpcd.listen();
    const link = attachToVpcd(card, { port, initialRetryDelayMs: 10, maxRetryDelayMs: 10 });
    let vpcd2: FakeVpcd | undefined;
    try {
      await link.connected;
      await waitFor(() => vpcd.sockets.length === 1);
      vpcd.socket.write(encodeVpcdFrame(Uint8Array.of(1))); // power on
      vpcd.socket.write(encodeVpcdFrame(bytes("80EE000001FF")));
      await started;
      await vpcd.close(); // pcscd goes away mid-command
      const next = new FakeVpcd();
      vpcd2 = next;
      await next.listen(port);
      // The link may dial again only once the slow command is over. Wait a few retry delays, and
      // if it has dialled meanwhile, have the new session power the card on at once, as pcscd would.
      await new Promise((r) => setTimeout(r, 100));
      const dialledEarly = next.sockets.length > 0;
      if (dialledEarly) next.socket.write(encodeVpcdFrame(Uint8Array.of(1)));
      release();
      await waitFor(() => next.sockets.length === 1 && link.isConnected);
      if (!dialledEarly) next.socket.write(encodeVpcdFrame(Uint8Array.of(1))); // the new session powers the card on
      next.socket.write(encodeVpcdFrame(bytes("00A4040C0AD392F000260100000001")));
      assert.equal(hex(await next.nextFrame()), "9000");
      await waitFor(() => card.events.includes("off"));
      await new Promise((r) => setTimeout(r, 20)); // room for a late power-off to land
      assert.deepEqual(card.events.slice(-2), ["off", "on"], `events: ${card.events.join(" ")}`);
      assert.equal(card.powered, true, "the old link's power-off did not land after the new power-on");
      assert.equal(dialledEarly, false, "no new link while the old one's command ran");
    } finally {
      release();
      await link.close();
      await vpcd2?.close();
    }
  });

  test("abort signal stops a link that never connected", async () => {
    const probe = new FakeVpcd();
    const port = await probe.listen();
    await probe.close();
    const ac = new AbortController();
    const link = attachToVpcd(new StubCard(), { port, signal: ac.signal, initialRetryDelayMs: 10 });
    setTimeout(() => ac.abort(), 50);
    await assert.rejects(link.connected, /closed before it connected/);
    await link.close();
  });

  test("rejects an invalid port", () => {
    assert.throws(() => attachToVpcd(new StubCard(), { port: 70000 }), RangeError);
  });
});

const skip = pcscdUnavailableReason(["opensc-tool"]);
describe("vpcd transport through a private pcscd", { skip: skip ?? false }, () => {
  test("opensc-tool sees the card, its ATR and APDU answers; the card survives a pcscd restart", { timeout: 45_000 }, async () => {
    const pcscd = await startPcscd();
    const card = new StubCard();
    const link = attachToVpcd(card, { port: pcscd.vpcdPort, initialRetryDelayMs: 50, maxRetryDelayMs: 300 });
    try {
      await link.connected;
      const atr = await waitForCard(pcscd);
      assert.match(atr, /3b:e0:00:ff:81:31:fe:45:14/);
      const r = await pcscd.exec("opensc-tool", ["-r", pcscd.readerName, "-s", "00A4040C0AD392F000260100000001", "-s", "80EE000003AABBCC00"], { timeoutMs: 15_000 });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /SW1=0x90, SW2=0x00/);
      assert.match(r.stdout, /AA BB CC/);
      assert.ok(card.events.includes("on"), "pcscd powered the card on");

      await pcscd.restart();
      await waitFor(() => link.isConnected, 10_000);
      const atr2 = await waitForCard(pcscd);
      assert.match(atr2, /3b:e0:00:ff:81:31:fe:45:14/);
    } finally {
      await link.close();
      await pcscd.stop();
    }
  });
});

/** Polls `opensc-tool -a` until the card is present; returns its output. */
async function waitForCard(pcscd: Awaited<ReturnType<typeof startPcscd>>): Promise<string> {
  const deadline = Date.now() + 15_000;
  let last = "";
  while (Date.now() < deadline) {
    const r = await pcscd.exec("opensc-tool", ["-r", pcscd.readerName, "-a"], { timeoutMs: 10_000 });
    if (r.code === 0) return r.stdout;
    last = r.stdout + r.stderr;
    await new Promise((res) => setTimeout(res, 200));
  }
  throw new Error(`card never appeared: ${last}\n${pcscd.log()}`);
}
