/**
 * Card benchmark: APDU round trips per second in-process and through vpcd (a PC/SC
 * client → private pcscd → vpcd → the card over TCP), and card signatures per second
 * against Node's crypto.sign with an RSA-2048 key of the same size.
 *
 *   node --import tsx bench/card.ts [seconds-per-measurement=2]
 *
 * The vpcd row needs pcscd, vsmartcard-vpcd and root (the private pcscd of
 * test/helpers/pcscd.ts); without them it is reported as skipped.
 */
import { constants, generateKeyPairSync, sign as nodeSign } from "node:crypto";
import { pathToFileURL } from "node:url";
import type { CardReader } from "../src/readers/reader.ts";
import { InProcessReader } from "../src/readers/in-process.ts";
import { attachToVpcd } from "../src/readers/vpcd.ts";
import { JpkiClient } from "../src/client/jpki-client.ts";
import { freshCard, TEST_PINS } from "../test/helpers/issued-card.ts";
import { pcscdUnavailableReason, startPcscd } from "../test/helpers/pcscd.ts";

export interface CardBenchResult {
  name: string;
  /** Operations per second, or null when skipped. */
  perSecond: number | null;
  /** Mean latency in ms. */
  meanMs: number | null;
  note?: string;
}

/** SELECT EF 0018 + empty VERIFY: two round trips that neither write nor need a PIN. */
const SELECT_PIN_EF = Uint8Array.from(Buffer.from("00A4020C020018", "hex"));

async function measure(seconds: number, op: () => Promise<unknown>, opsPerCall = 1): Promise<{ perSecond: number; meanMs: number }> {
  for (let i = 0; i < 5; i++) await op(); // warm-up
  const deadline = performance.now() + seconds * 1000;
  const start = performance.now();
  let n = 0;
  while (performance.now() < deadline) {
    await op();
    n += opsPerCall;
  }
  const elapsed = (performance.now() - start) / 1000;
  return { perSecond: n / elapsed, meanMs: (elapsed * 1000) / n };
}

async function apduRoundTrips(reader: CardReader, seconds: number): Promise<{ perSecond: number; meanMs: number }> {
  const client = new JpkiClient(reader);
  await client.selectJpki();
  return measure(seconds, async () => {
    const r = await reader.transmit(SELECT_PIN_EF);
    if (r[r.length - 2] !== 0x90) throw new Error("SELECT failed during the benchmark");
  });
}

export async function runCardBench(seconds = 2): Promise<CardBenchResult[]> {
  const results: CardBenchResult[] = [];
  const card = await freshCard();
  try {
    // 1. In-process APDU round trips.
    const inProcess = new InProcessReader(card.card);
    await inProcess.connect();
    const ip = await apduRoundTrips(inProcess, seconds);
    results.push({ name: "APDU round trip, in-process", ...ip });

    // 2. Card signatures (80 2A, RSA-2048, DigestInfo over SHA-256) vs node crypto.sign.
    const client = new JpkiClient(inProcess);
    const v = await client.verifyPin("auth", TEST_PINS.auth);
    if (!v.ok) throw new Error("benchmark card: auth PIN refused");
    const data = new TextEncoder().encode("benchmark document");
    const cardSign = await measure(seconds, () => client.sign("auth", data));
    results.push({ name: "card signature (80 2A, in-process)", ...cardSign });
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const node = await measure(seconds, async () => nodeSign("sha256", data, { key: privateKey, padding: constants.RSA_PKCS1_PADDING }));
    results.push({ name: "node crypto.sign RSA-2048 SHA-256", ...node });
    results.push({
      name: "card / node signature ratio",
      perSecond: cardSign.perSecond / node.perSecond,
      meanMs: null,
      note: "1.0 = the card adds nothing over the raw RSA operation",
    });
    await inProcess.disconnect();

    // 3. Through vpcd: PC/SC client → pcscd → vpcd → TCP → card.
    const skip = pcscdUnavailableReason();
    if (skip) {
      results.push({ name: "APDU round trip, through vpcd", perSecond: null, meanMs: null, note: skip });
    } else {
      const pcscd = await startPcscd();
      const link = attachToVpcd(card.card, { port: pcscd.vpcdPort });
      try {
        process.env.PCSCLITE_CSOCK_NAME = pcscd.env.PCSCLITE_CSOCK_NAME;
        const { openPcscReader } = await import("../src/readers/pcsc.ts");
        await link.connected;
        let reader = await openPcscReader(pcscd.readerName);
        for (let i = 0; i < 50 && !reader.cardPresent; i++) {
          await reader.disconnect();
          await new Promise((r) => setTimeout(r, 100));
          reader = await openPcscReader(pcscd.readerName);
        }
        await reader.connect();
        try {
          const vp = await apduRoundTrips(reader, seconds);
          results.push({
            name: "APDU round trip, through vpcd (pcsclite)",
            ...vp,
            note: "vpcd sends length and payload in two TCP segments; delayed ACKs can add ~40 ms to some round trips",
          });
        } finally {
          await reader.disconnect();
        }
      } finally {
        await link.close();
        await pcscd.stop();
      }
    }
  } finally {
    card.dispose();
  }
  return results;
}

export function formatCardBench(results: CardBenchResult[]): string {
  const rows = results.map((r) => [
    r.name,
    r.perSecond === null ? "skipped" : r.name.includes("ratio") ? r.perSecond.toFixed(3) : r.perSecond.toFixed(0),
    r.meanMs === null ? "" : r.meanMs.toFixed(3),
    r.note ?? "",
  ]);
  const head = ["measurement", "per second", "mean ms", "note"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 1 || i === 2 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ").trimEnd();
  return [line(head), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const seconds = Number(process.argv[2] ?? 2);
  if (!(seconds > 0 && seconds <= 60)) throw new RangeError("seconds per measurement must be in (0, 60]");
  console.log(formatCardBench(await runCardBench(seconds)));
}
