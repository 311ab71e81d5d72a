import type { CardEndpoint, CardReader } from "./reader.ts";

/**
 * A reader whose card lives in this process: for tests, the server and the CLI. It
 * adds nothing to the card's answers, exactly like a transparent T=1 reader, and
 * copies bytes both ways so neither side can alter the other's buffers.
 */
export class InProcessReader implements CardReader {
  readonly name: string;
  readonly #card: CardEndpoint;
  #connected = false;

  constructor(card: CardEndpoint, name = "in-process") {
    this.#card = card;
    this.name = name;
  }

  async connect(): Promise<Uint8Array> {
    const atr = await this.#card.powerOn();
    this.#connected = true;
    return Uint8Array.from(atr);
  }

  async transmit(command: Uint8Array): Promise<Uint8Array> {
    if (!this.#connected) throw new Error(`${this.name}: not connected`);
    return Uint8Array.from(await this.#card.transmit(Uint8Array.from(command)));
  }

  async reset(): Promise<Uint8Array> {
    const atr = await this.#card.reset();
    this.#connected = true;
    return Uint8Array.from(atr);
  }

  async disconnect(): Promise<void> {
    if (!this.#connected) return;
    this.#connected = false;
    await this.#card.powerOff();
  }
}
