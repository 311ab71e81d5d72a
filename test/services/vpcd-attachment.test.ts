// Attaching a card of the data directory to vpcd: a local TCP server stands in for pcscd's vpcd
// driver (its port, not vpcd's), powers the card on, asks for the ATR and selects the JPKI AP.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import { once } from "node:events";
import { attachCardToVpcd } from "../../src/services/vpcd-attachment.ts";
import { ServiceError } from "../../src/services/errors.ts";
import { openTestContextWithCard, type TestContextWithCard } from "../helpers/context.ts";

const SELECT_JPKI_AP = Uint8Array.from([0x00, 0xa4, 0x04, 0x0c, 0x0a, 0xd3, 0x92, 0xf0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01]);

function frame(payload: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([payload.length >> 8, payload.length & 0xff]), payload]);
}

/** The next vpcd frame the card side sends. */
function nextFrame(socket: Socket): Promise<Buffer> {
  return new Promise((resolve) => {
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
        socket.off("data", onData);
        resolve(buffered.subarray(2, 2 + buffered.readUInt16BE(0)));
      }
    };
    socket.on("data", onData);
  });
}

describe("attachCardToVpcd", () => {
  let t: TestContextWithCard;
  let server: Server;
  before(async () => {
    t = await openTestContextWithCard("2026-11-25T03:00:00Z");
    server = createServer();
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
  });
  after(async () => {
    server.close();
    await t.cleanup();
  });

  test("the card answers the driver in APDUs until the attachment is closed", async () => {
    const port = (server.address() as { port: number }).port;
    const accepted = once(server, "connection") as Promise<[Socket]>;
    const states: string[] = [];
    const attachment = await attachCardToVpcd(t.context.cards, t.card.id, { host: "127.0.0.1", port, onStatus: (s) => states.push(s.state) });
    try {
      const [socket] = await accepted;
      await attachment.connected;
      socket.write(frame(Uint8Array.of(0x01))); // power on
      socket.write(frame(Uint8Array.of(0x04))); // ATR, please
      const atr = await nextFrame(socket);
      assert.ok(atr.length >= 2 && atr.length <= 33, `ATR of ${atr.length} bytes`);
      socket.write(frame(SELECT_JPKI_AP));
      assert.deepEqual([...(await nextFrame(socket))], [0x90, 0x00]);
      assert.ok(states.includes("connected"));
    } finally {
      await attachment.close();
    }
  });

  test("an unknown card is refused before anything connects", async () => {
    await assert.rejects(
      attachCardToVpcd(t.context.cards, "C-0000000000", { host: "127.0.0.1", port: 1 }),
      (error: unknown) => error instanceof ServiceError && error.code === "not-found",
    );
  });
});
