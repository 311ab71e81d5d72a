/**
 * A tiny CardEndpoint for transport tests: answers SELECT of the JPKI AP with 90 00,
 * other SELECTs with 6A 82, an "echo" command (80 EE …) with its data, and anything
 * else with 6D 00. Records power events so tests can see what the transport relayed.
 */
import type { CardEndpoint } from "../../src/readers/reader.ts";

export const STUB_ATR = Uint8Array.from([0x3b, 0xe0, 0x00, 0xff, 0x81, 0x31, 0xfe, 0x45, 0x14]);
const JPKI_AID = Uint8Array.from([0xd3, 0x92, 0xf0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01]);

export class StubCard implements CardEndpoint {
  readonly events: string[] = [];
  readonly commands: Uint8Array[] = [];
  powered = false;

  async powerOn(): Promise<Uint8Array> {
    this.powered = true;
    this.events.push("on");
    return STUB_ATR;
  }
  async powerOff(): Promise<void> {
    this.powered = false;
    this.events.push("off");
  }
  async reset(): Promise<Uint8Array> {
    this.events.push("reset");
    return STUB_ATR;
  }
  atr(): Uint8Array {
    return STUB_ATR;
  }
  async transmit(command: Uint8Array): Promise<Uint8Array> {
    this.commands.push(command);
    if (command.length < 4) return Uint8Array.of(0x67, 0x00);
    const [cla, ins, p1] = command;
    if (ins === 0xa4 && p1 === 0x04) {
      const lc = command[4] ?? 0;
      const aid = command.subarray(5, 5 + lc);
      const ok = aid.length === JPKI_AID.length && aid.every((b, i) => b === JPKI_AID[i]);
      return ok ? Uint8Array.of(0x90, 0x00) : Uint8Array.of(0x6a, 0x82);
    }
    if (cla === 0x80 && ins === 0xee) {
      // echo: case 3/4 short or extended
      if (command.length >= 7 && command[4] === 0) {
        const lc = (command[5]! << 8) | command[6]!;
        return Uint8Array.from([...command.subarray(7, 7 + lc), 0x90, 0x00]);
      }
      const lc = command[4] ?? 0;
      return Uint8Array.from([...command.subarray(5, 5 + lc), 0x90, 0x00]);
    }
    return Uint8Array.of(0x6d, 0x00);
  }
}
