import { readFileSync, writeFileSync } from "node:fs";
import { X509Certificate } from "node:crypto";
import { signCmsOnCard, signXmlOnCard } from "../../services/document-signing.ts";
import { ServiceError } from "../../services/errors.ts";
import { withContext } from "../open-context.ts";
import { pinOptions, readPin } from "../pin-input.ts";
import { type Command, type Io, type Values, CliError, json, oneOf, requireString } from "../command.ts";

const PIN_HELP = [
  "  --pin P / --pin-file FILE   署名用パスワード / the signing password (default: asked for without echo).",
  "                              --pin is for test cards only: it ends up in the shell history.",
];
const PIN_PROMPT = "署名用パスワード / signing password: ";

function readInput(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new CliError(`--in: ${path} を読めません / cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

function writeOutput(path: string, body: Uint8Array | string): void {
  try {
    writeFileSync(path, body);
  } catch (error) {
    throw new CliError(`--out: ${path} に書けません / cannot write ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

/** Card refusals become one line on stderr (exit 1); with --json, the details go to stdout too. */
async function refusalsAsCliErrors<T>(values: Values, io: Io, card: string, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    if (error instanceof ServiceError && error.code === "refused") {
      if (values.json) json(io, { card, ok: false, code: error.reason, ...(error.triesLeft !== undefined ? { triesLeft: error.triesLeft } : {}), message: error.message });
      throw new CliError(error.message);
    }
    throw error;
  }
}

function signer(der: Uint8Array) {
  const x = new X509Certificate(der);
  return { subject: x.subject.replace(/\n/g, ", "), serial: x.serialNumber, notAfter: new Date(x.validTo).toISOString() };
}

export const signCms: Command = {
  path: ["sign", "cms"],
  summary: "カードで CMS 署名 / sign a file as CMS SignedData with the card's signing key",
  usage: "--card ID --in FILE --out FILE [--detached] [--hash sha256|sha384|sha512] [--with-ca] [--json]",
  help: [
    "  --card ID          the card (C-…)",
    "  --in FILE          the content to sign",
    "  --out FILE         where to write the SignedData (DER, .p7s / .p7m)",
    "  --detached         leave the content out (verify with --content FILE)",
    "  --hash H           sha256 (default), sha384 or sha512",
    "  --with-ca          also include the signing CA's certificate (read from the card)",
    ...PIN_HELP,
    "  The signing time is now (OPENJPKI_NOW pins it for tests).",
  ],
  options: {
    card: { type: "string" },
    in: { type: "string" },
    out: { type: "string" },
    detached: { type: "boolean" },
    hash: { type: "string" },
    "with-ca": { type: "boolean" },
    ...pinOptions("pin"),
  },
  async run(values, io) {
    const card = requireString(values, "card");
    const input = requireString(values, "in");
    const out = requireString(values, "out");
    const hash = values.hash === undefined ? "sha256" : oneOf(values, "hash", ["sha256", "sha384", "sha512"] as const);
    const detached = values.detached === true;
    const content = readInput(input);
    const pin = await readPin(values, "pin", PIN_PROMPT);
    const signed = await refusalsAsCliErrors(values, io, card, () =>
      withContext(values, io, (ctx) =>
        signCmsOnCard(ctx.cards, { cardId: card, pin, content, detached, hash, clock: ctx.clock, includeCaCertificate: values["with-ca"] === true }),
      ),
    );
    writeOutput(out, signed.der);
    if (values.json) {
      return json(io, { id: `${card}:cms`, card, out, format: "cms", hash, detached, bytes: signed.der.length, signingTime: signed.signingTime.toISOString(), signer: signer(signed.certificateDer) });
    }
    io.stdout(`署名しました / signed (CMS, ${hash}${detached ? ", detached" : ""}): ${out}\n`);
  },
};

export const signXml: Command = {
  path: ["sign", "xml"],
  summary: "カードで XML 署名 / sign an XML document (enveloped XMLDSig) with the card's signing key",
  usage: "--card ID --in FILE --out FILE [--json]",
  help: [
    "  --card ID          the card (C-…)",
    "  --in FILE          the XML document (UTF-8, no DOCTYPE, not yet signed)",
    "  --out FILE         where to write the signed document",
    "  RSA-SHA256, exclusive c14n, Reference URI=\"\" with the enveloped-signature transform,",
    "  the signing certificate in KeyInfo.",
    ...PIN_HELP,
  ],
  options: { card: { type: "string" }, in: { type: "string" }, out: { type: "string" }, ...pinOptions("pin") },
  async run(values, io) {
    const card = requireString(values, "card");
    const input = requireString(values, "in");
    const out = requireString(values, "out");
    const bytes = readInput(input);
    let xml: string;
    try {
      xml = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
      throw new CliError(`--in: ${input} は UTF-8 ではありません / ${input} is not UTF-8`);
    }
    const pin = await readPin(values, "pin", PIN_PROMPT);
    const signed = await refusalsAsCliErrors(values, io, card, () => withContext(values, io, (ctx) => signXmlOnCard(ctx.cards, { cardId: card, pin, xml })));
    writeOutput(out, signed.xml);
    if (values.json) return json(io, { id: `${card}:xml`, card, out, format: "xml", signer: signer(signed.certificateDer) });
    io.stdout(`署名しました / signed (XML): ${out}\n`);
  },
};
