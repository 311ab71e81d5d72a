// Review tests for src/services/card-slot.ts: nobody on the host can keep a card's slot from being released.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { mkdtemp, realpath, rm } from "node:fs/promises";
import { createConnection, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CardSlots } from "../../src/services/card-slot.ts";

/** The slot's abstract socket name, as card-slot.ts derives it (any local process can compute it). */
const slotName = (dir: string, id: string): string =>
  `\0openjpki-card-slot-${createHash("sha256").update(`${dir}/${id}`).digest("hex").slice(0, 40)}`;

describe("card slot release", () => {
  let dir: string;
  before(async () => {
    dir = await realpath(await mkdtemp(join(tmpdir(), "openjpki-slot-review-")));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test("a peer that connects to the slot and never closes does not keep the card held", async () => {
    const slots = new CardSlots(dir, { waitMs: 200 });
    let peer: Socket | undefined;
    try {
      const held = slots.hold("C-EEEEEEEEEE", "test", async () => {
        // Like `socat - ABSTRACT-CONNECT:…` left open, or a client that reads the greeting and idles.
        peer = createConnection({ path: slotName(dir, "C-EEEEEEEEEE"), allowHalfOpen: true });
        peer.on("error", () => undefined);
        peer.on("data", () => undefined);
        await once(peer, "connect");
        await once(peer, "end"); // the holder's greeting has been sent
        return "used";
      });
      const outcome = await Promise.race([held, new Promise((r) => setTimeout(() => r("still held after 2 s"), 2000).unref())]);
      assert.equal(outcome, "used");
      // and the card is free again for the next user
      assert.equal(await slots.hold("C-EEEEEEEEEE", "next", async () => "next"), "next");
    } finally {
      peer?.destroy();
    }
  });
});
