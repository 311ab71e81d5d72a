import { listReaders, openPcscReader } from "../readers/pcsc.ts";
import { JpkiClient, type CertificateType } from "../client/jpki-client.ts";

/**
 * The OS's PC/SC readers (through pcscd), with whatever card is in them: a real My Number Card
 * as well as one of ours attached through vpcd. Without pcscd, or without a matching reader,
 * these throw PcscError, whose message says which.
 */

/** The names of the readers pcscd knows. */
export function pcscReaderNames(): Promise<string[]> {
  return listReaders();
}

/**
 * Read a certificate from the card in a reader: `readerName` exact or a unique part of it, or
 * omitted for the first reader holding a card. The signing certificate needs the signing password.
 */
export async function readCertificateInReader(
  readerName: string | undefined,
  type: CertificateType,
  signPin?: string,
): Promise<{ reader: string; der: Uint8Array }> {
  const reader = await openPcscReader(readerName);
  try {
    await reader.connect();
    return { reader: reader.name, der: await new JpkiClient(reader).readCertificate(type, signPin !== undefined ? { signPin } : {}) };
  } finally {
    await reader.disconnect();
  }
}
