/**
 * A card reader as every component sees it: APDUs in, APDUs out.
 *
 * The same interface is implemented in-process (the virtual card in this process),
 * over vpcd (the virtual card shown to the OS's pcscd) and over PC/SC (a real reader
 * with a real or virtual card). Nothing above this interface knows which one it has,
 * which is what lets the counter, kiosk and client code drive a real My Number Card.
 */
export interface CardReader {
  /** A human-readable name of the reader ("in-process", "Virtual PCD 00 00", …). */
  readonly name: string;
  /** Power the card up (or reconnect) and return its ATR. */
  connect(): Promise<Uint8Array>;
  /** Send one command APDU and return the full response APDU (data followed by SW1 SW2). */
  transmit(command: Uint8Array): Promise<Uint8Array>;
  /** Warm reset: security state is cleared. Returns the ATR. */
  reset(): Promise<Uint8Array>;
  /** Power the card off and release the reader. */
  disconnect(): Promise<void>;
}

/** The card side of a transport: what a reader talks to. The virtual card implements it. */
export interface CardEndpoint {
  powerOn(): Promise<Uint8Array>;
  powerOff(): Promise<void>;
  reset(): Promise<Uint8Array>;
  atr(): Uint8Array;
  transmit(command: Uint8Array): Promise<Uint8Array>;
}
