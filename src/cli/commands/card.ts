import { createHash, X509Certificate } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import type { IssuedCard } from "../../services/cards.ts";
import { CLI_OPERATOR } from "../../services/audit.ts";
import { IDENTITY_DOCUMENTS } from "../../services/counter/identity.ts";
import { LEGAL_REPRESENTATIVE_RELATIONSHIPS, type LegalRepresentativeInput } from "../../services/counter/legal-representative.ts";
import { readCardCertificate, readChipState, signOnCard, verifyCardPin, type CertificateType } from "../../services/card-session.ts";
import { attachCardToVpcd, VPCD_DEFAULT_HOST, VPCD_DEFAULT_PORT } from "../../services/vpcd-attachment.ts";
import { pcscReaderNames, readCertificateInReader } from "../../services/pcsc-readers.ts";
import { openContext, withContext } from "../open-context.ts";
import { pinOptions, readNewPin, readPin } from "../pin-input.ts";
import { type Command, CliError, json, oneOf, optionalString, requireString, type Values } from "../command.ts";

const PIN_HELP = [
  "  --pin P / --pin-file FILE   the PIN (default: asked for without echo). --pin is for test cards only:",
  "                              it ends up in the shell history.",
];

export const cardIssue: Command = {
  path: ["card", "issue"],
  summary: "カードを発行 / make a card and issue its certificates onto it (as a counter terminal)",
  usage: "--resident ID [--auth-pin P | --no-auth] [--sign-pin P | --no-sign] [--kenhojo-pin P] [--my-number N] [--legal-representative NAME --relationship R --representative-identity DOC] [--json]",
  help: [
    "  --resident ID      the resident (R-…)",
    "  --auth-pin P       利用者証明用暗証番号: 4 digits (or --auth-pin-file; asked for when omitted)",
    "  --sign-pin P       署名用パスワード: 6–16 of A–Z and 0–9 with a letter and a digit (or --sign-pin-file)",
    "  --no-sign          the resident declines the signing certificate (under-15s and adults under guardianship never get one)",
    "  --no-auth          the resident declines the authentication certificate (then --kenhojo-pin is needed)",
    "  --kenhojo-pin P    券面事項入力補助用暗証番号 (default: the authentication PIN; asked for with --no-auth)",
    "  --my-number N      the 12-digit individual number to write (default: a random valid test number)",
    "  --legal-representative NAME  法定代理人: who applies for a child under 15 (and sets the PINs) or an adult under",
    "                     guardianship; required for them, refused for anyone else",
    "  --relationship R   the representative's: parent (親権者), minor-guardian (未成年後見人), adult-guardian (成年後見人)",
    `  --representative-identity DOC  the identity document the representative showed: ${IDENTITY_DOCUMENTS.join(", ")}`,
    "  --representative-identity-note TEXT  optional, e.g. how the representation was proven (up to 200 characters)",
  ],
  options: {
    resident: { type: "string" },
    ...pinOptions("auth-pin"),
    ...pinOptions("sign-pin"),
    ...pinOptions("kenhojo-pin"),
    "no-sign": { type: "boolean" },
    "no-auth": { type: "boolean" },
    "my-number": { type: "string" },
    "legal-representative": { type: "string" },
    relationship: { type: "string" },
    "representative-identity": { type: "string" },
    "representative-identity-note": { type: "string" },
  },
  fieldOptions: {
    legalRepresentative: "--legal-representative",
    "legalRepresentative.name": "--legal-representative",
    "legalRepresentative.relationship": "--relationship",
    "legalRepresentative.identity": "--representative-identity",
    "legalRepresentative.identity.document": "--representative-identity",
    "legalRepresentative.identity.note": "--representative-identity-note",
  },
  async run(values, io) {
    const residentId = requireString(values, "resident");
    const legalRepresentative = legalRepresentativeOf(values);
    const noSign = values["no-sign"] === true;
    const noAuth = values["no-auth"] === true;
    if (noAuth && (typeof values["auth-pin"] === "string" || typeof values["auth-pin-file"] === "string")) {
      throw new CliError("--auth-pin: not with --no-auth (the authentication certificate is declined)", 2);
    }
    if (noSign && (typeof values["sign-pin"] === "string" || typeof values["sign-pin-file"] === "string")) {
      throw new CliError("--sign-pin: not with --no-sign (the signing certificate is declined)", 2);
    }
    const authPin = noAuth ? undefined : await readNewPin(values, "auth-pin", "利用者証明用暗証番号（数字4桁）/ authentication PIN (4 digits): ");
    const card: IssuedCard = await withContext(values, io, async (ctx) => {
      const resident = await ctx.registry.get(residentId);
      // Ask for a signing password only when one may be issued.
      const wantsSign = !noSign && (typeof values["sign-pin"] === "string" || typeof values["sign-pin-file"] === "string" || process.stdin.isTTY);
      const eligible = await ctx.cards.signEligible(resident.id);
      const signPin = wantsSign && eligible ? await readNewPin(values, "sign-pin", "署名用パスワード（英大文字・数字6〜16文字）/ signing password: ") : undefined;
      // With the authentication certificate declined there is no PIN to take it from: asked for.
      const kenhojoPin = noAuth || typeof values["kenhojo-pin"] === "string" || typeof values["kenhojo-pin-file"] === "string"
        ? await readNewPin(values, "kenhojo-pin", "券面事項入力補助用暗証番号（数字4桁）/ 券面事項入力補助 PIN (4 digits): ")
        : undefined;
      const myNumber = optionalString(values, "my-number");
      // Through the counter's card application, as at a window: it refuses a second current card
      // for the same resident (a lost or damaged card is reissued, at the counter).
      return ctx.counter.produceCard({
        residentId,
        ...(authPin ? { authPin } : {}),
        ...(noAuth ? { noAuth } : {}),
        ...(signPin ? { signPin } : {}),
        ...(noSign ? { noSign } : {}),
        ...(kenhojoPin ? { kenhojoPin } : {}),
        ...(myNumber ? { myNumber } : {}),
        ...(legalRepresentative ? { legalRepresentative } : {}),
      }, CLI_OPERATOR);
    });
    const summary = { ...card, certificates: card.certificates.map(({ der: _der, ...c }) => c) };
    if (values.json) return json(io, summary);
    io.stdout(
      `カードを発行しました / issued card ${card.id}\n` +
        `  カードの有効期限 / card expires: ${card.expires}\n` +
        card.certificates
          .map((c) => `  ${c.type === "sign" ? "署名用電子証明書" : "利用者証明用電子証明書"} ${c.serialHex}  有効期限 / expires ${c.expires}\n`)
          .join("") +
        (card.signSkipped ? `  署名用電子証明書なし / no signing certificate: ${card.signSkipped}\n` : "") +
        (card.authSkipped ? `  利用者証明用電子証明書なし / no authentication certificate: ${card.authSkipped}\n` : ""),
    );
  },
};

/**
 * --legal-representative with its --relationship and --representative-identity (the service checks
 * whether the holder needs one, which fits, and that the representative's identity was checked).
 */
function legalRepresentativeOf(values: Values): LegalRepresentativeInput | undefined {
  const name = optionalString(values, "legal-representative");
  const given = ["relationship", "representative-identity", "representative-identity-note"].filter((o) => values[o] !== undefined);
  if (!name && given.length === 0) return undefined;
  if (!name) throw new CliError(`--${given[0]} goes with --legal-representative`, 2);
  const document = values["representative-identity"] === undefined ? undefined : oneOf(values, "representative-identity", IDENTITY_DOCUMENTS);
  const note = optionalString(values, "representative-identity-note");
  if (note && !document) throw new CliError("--representative-identity-note goes with --representative-identity", 2);
  return {
    name,
    relationship: oneOf(values, "relationship", LEGAL_REPRESENTATIVE_RELATIONSHIPS),
    ...(document ? { identity: { document, ...(note ? { note } : {}) } } : {}),
  };
}

export const cardList: Command = {
  path: ["card", "list"],
  summary: "カードの一覧 / list cards",
  usage: "[--resident ID] [--json]",
  help: ["  --resident ID      only this resident's cards"],
  options: { resident: { type: "string" } },
  async run(values, io) {
    const residentId = optionalString(values, "resident");
    const cards = await withContext(values, io, (ctx) => ctx.cards.list(residentId ? { residentId } : {}));
    if (values.json) return json(io, { cards });
    if (cards.length === 0) io.stdout("カードはありません / no cards\n");
    for (const c of cards) io.stdout(`${c.id}  ${c.residentId}  ${c.status}  有効期限 / expires ${c.expires}\n`);
  },
};

export const cardShow: Command = {
  path: ["card", "show"],
  summary: "カードの状態 / show a card: certificates on it, PIN tries left",
  usage: "--card ID [--json]",
  help: ["  --card ID          the card (C-…)", "  Reads the card in APDUs: certificates, and tries left for each PIN (no PIN needed)."],
  options: { card: { type: "string" } },
  async run(values, io) {
    const id = requireString(values, "card");
    const shown = await withContext(values, io, async (ctx) => {
      const card = await ctx.cards.get(id);
      const { token, authCertificate, triesLeft } = await readChipState(ctx.cards, id);
      const chip = { token, authCertificate: authCertificate ? describeCertificate(authCertificate) : null, triesLeft };
      const certificates = (await ctx.ca.certificatesOf(card.residentId))
        .filter((c) => c.cardId === id);
      return { ...card, ...chip, certificates };
    });
    if (values.json) return json(io, shown);
    io.stdout(
      `${shown.id}  ${shown.status}  カードの有効期限 / card expires ${shown.expires}\n` +
        `  残り回数 / tries left: 利用者証明用 auth ${shown.triesLeft.auth}/3, 署名用 sign ${shown.triesLeft.sign}/5, 券面事項入力補助 kenhojo ${shown.triesLeft.kenhojo}/3\n` +
        shown.certificates.map((c) => `  ${c.type === "sign" ? "署名用" : "利用者証明用"} ${c.serialHex}  ${c.status}  有効期限 / expires ${c.expires}\n`).join(""),
    );
  },
};

function describeCertificate(der: Uint8Array) {
  const x = new X509Certificate(der);
  return { subject: x.subject.replace(/\n/g, ", "), serial: x.serialNumber, notAfter: new Date(x.validTo).toISOString() };
}

function pem(der: Uint8Array): string {
  return `-----BEGIN CERTIFICATE-----\n${Buffer.from(der).toString("base64").replace(/(.{64})/g, "$1\n").replace(/\n$/, "")}\n-----END CERTIFICATE-----\n`;
}

export const cardReadCert: Command = {
  path: ["card", "read-cert"],
  summary: "カードから証明書を読む / read a certificate from the card",
  usage: "--card ID --type auth|sign|auth-ca|sign-ca [--pem] [--out FILE] [--json]",
  help: [
    "  --card ID          the card (C-…)",
    "  --type T           auth, sign (needs the signing password), auth-ca or sign-ca",
    "  --pem              write PEM to --out instead of DER",
    "  --out FILE         write it there (DER unless --pem); without --out, PEM goes to stdout",
    ...PIN_HELP,
  ],
  options: { card: { type: "string" }, type: { type: "string" }, pem: { type: "boolean" }, out: { type: "string" }, ...pinOptions("pin") },
  async run(values, io) {
    const id = requireString(values, "card");
    const type = oneOf(values, "type", ["auth", "sign", "auth-ca", "sign-ca"] as const) as CertificateType;
    const signPin = type === "sign" ? await readPin(values, "pin", "署名用パスワード / signing password: ") : undefined;
    const der = await withContext(values, io, (ctx) => readCardCertificate(ctx.cards, id, type, signPin));
    const out = optionalString(values, "out");
    if (values.json) {
      return json(io, { id: `${id}:${type}`, card: id, type, ...describeCertificate(der), sha256: createHash("sha256").update(der).digest("hex"), pem: pem(der) });
    }
    const body = values.pem || !out ? pem(der) : der;
    if (out) writeFileSync(out, body);
    else io.stdout(body as string);
  },
};

export const cardSign: Command = {
  path: ["card", "sign"],
  summary: "カードで署名 / sign a file with a key on the card",
  usage: "--card ID --type auth|sign --in FILE --out SIG [--hash sha256|sha384|sha512] [--json]",
  help: [
    "  --card ID          the card (C-…)",
    "  --type auth|sign   which key (and which PIN)",
    "  --in FILE          the data to sign (hashed here; the card signs the DigestInfo)",
    "  --out SIG          where to write the 256-byte PKCS#1 v1.5 signature",
    "  --hash H           sha256 (default), sha384 or sha512",
    ...PIN_HELP,
  ],
  options: {
    card: { type: "string" },
    type: { type: "string" },
    in: { type: "string" },
    out: { type: "string" },
    hash: { type: "string" },
    ...pinOptions("pin"),
  },
  async run(values, io) {
    const id = requireString(values, "card");
    const type = oneOf(values, "type", ["auth", "sign"] as const);
    const hash = values.hash === undefined ? "sha256" : oneOf(values, "hash", ["sha256", "sha384", "sha512"] as const);
    const input = requireString(values, "in");
    const out = requireString(values, "out");
    let data: Buffer;
    try {
      data = readFileSync(input);
    } catch (error) {
      throw new CliError(`--in: cannot read ${input}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    const pinValue = await readPin(values, "pin", type === "sign" ? "署名用パスワード / signing password: " : "利用者証明用暗証番号 / PIN: ");
    const signature = await withContext(values, io, (ctx) => signOnCard(ctx.cards, id, type, data, { hash, pin: pinValue }));
    writeFileSync(out, signature);
    if (values.json) return json(io, { id: `${id}:${type}`, card: id, type, hash, bytes: signature.length, out });
    io.stdout(`署名しました / signed with the ${type} key (${hash}): ${out}\n`);
  },
};

export const cardVerifyPin: Command = {
  path: ["card", "verify-pin"],
  summary: "暗証番号を確認 / verify a PIN on the card and print the tries left",
  usage: "--card ID --type auth|sign [--json]",
  help: ["  --card ID          the card (C-…)", "  --type auth|sign   which PIN", ...PIN_HELP],
  options: { card: { type: "string" }, type: { type: "string" }, ...pinOptions("pin") },
  async run(values, io) {
    const id = requireString(values, "card");
    const type = oneOf(values, "type", ["auth", "sign"] as const);
    const pinValue = await readPin(values, "pin", type === "sign" ? "署名用パスワード / signing password: " : "利用者証明用暗証番号 / PIN: ");
    const result = await withContext(values, io, (ctx) => verifyCardPin(ctx.cards, id, type, pinValue));
    const ok = result.outcome.ok;
    const blocked = !result.outcome.ok && result.outcome.blocked;
    if (values.json) json(io, { id: `${id}:${type}`, card: id, type, ok, blocked, triesLeft: result.triesLeft });
    else if (ok) io.stdout(`暗証番号は正しいです / PIN correct; tries left ${result.triesLeft}\n`);
    if (ok) return 0;
    io.stderr(
      blocked
        ? `openjpki card verify-pin: 暗証番号がロックされています。窓口で初期化してください / the ${type} PIN is blocked: reset it at the counter\n`
        : `openjpki card verify-pin: 暗証番号が違います / wrong ${type} PIN: ${result.triesLeft} tries left\n`,
    );
    return 1;
  },
};

export const cardAttach: Command = {
  path: ["card", "attach"],
  summary: "カードを PC/SC に接続 / show the card to the OS's pcscd through the vsmartcard-vpcd driver",
  usage: "--card ID [--vpcd HOST:PORT]",
  help: [
    "  --card ID          the card (C-…)",
    "  --vpcd HOST:PORT   where pcscd's vpcd driver listens (default 127.0.0.1:35963)",
    "  Runs until Ctrl+C; reconnects when pcscd restarts. Any PC/SC program (pcsc_scan, OpenSC's",
    "  pkcs15-tool / pkcs11-tool) then sees the card in the reader \"Virtual PCD 00 00\".",
  ],
  options: { card: { type: "string" }, vpcd: { type: "string" } },
  async run(values, io) {
    const id = requireString(values, "card");
    const target = optionalString(values, "vpcd") ?? `${VPCD_DEFAULT_HOST}:${VPCD_DEFAULT_PORT}`;
    const match = /^(.+):(\d{1,5})$/.exec(target);
    if (!match || Number(match[2]) < 1 || Number(match[2]) > 65535) throw new CliError(`--vpcd must be HOST:PORT, not ${JSON.stringify(target)}`, 2);
    const [host, port] = [match[1]!.replace(/^\[|\]$/g, ""), Number(match[2])];
    const context = await openContext(values, io);
    try {
      const stop = new AbortController();
      const attachment = await attachCardToVpcd(context.cards, id, {
        host,
        port,
        signal: stop.signal,
        onStatus: (status) => {
          if (status.state === "connected") io.stderr(`vpcd に接続しました / connected to vpcd at ${host}:${port}: the card is in the reader\n`);
          if (status.state === "disconnected") {
            // Refused means nobody listens: pcscd is not running, or runs without the vpcd driver (restart it after installing vsmartcard-vpcd).
            const hint = /refused/.test(status.reason) ? `; is pcscd running with the vpcd driver on ${host}:${port}? (systemctl restart pcscd, or pcscd -f)` : "";
            io.stderr(`vpcd から切断 / disconnected (${status.reason})${hint}; retrying in ${status.retryInMs} ms\n`);
          }
          if (status.state === "protocol-error") io.stderr(`vpcd プロトコルエラー / protocol error: ${status.reason}\n`);
        },
      });
      io.stdout(`カード ${id} を接続しています / attaching card ${id} to ${host}:${port} (Ctrl+C to stop)\n`);
      await new Promise<void>((resolve) => {
        const onSignal = () => {
          process.off("SIGINT", onSignal);
          process.off("SIGTERM", onSignal);
          resolve();
        };
        process.on("SIGINT", onSignal);
        process.on("SIGTERM", onSignal);
      });
      stop.abort();
      await attachment.close();
    } finally {
      await context.close();
    }
  },
};

export const cardReaders: Command = {
  path: ["card", "readers"],
  summary: "カードリーダーの一覧 / list PC/SC readers (real cards too)",
  usage: "[--json]",
  help: ["  Needs a running pcscd; says so in one line when there is none."],
  options: {},
  async run(values, io) {
    const readers = await pcscReaderNames();
    if (values.json) return json(io, { readers });
    if (readers.length === 0) io.stdout("カードリーダーがありません / no readers\n");
    for (const r of readers) io.stdout(`${r}\n`);
  },
};

export const cardReadReal: Command = {
  path: ["card", "read-reader"],
  summary: "リーダーのカードから証明書を読む / read a certificate from a card in a PC/SC reader (a real My Number Card works)",
  usage: "[--reader NAME] --type auth|sign|auth-ca|sign-ca [--pem] [--out FILE]",
  help: [
    "  --reader NAME      the reader (exact name or a unique part; default: the first with a card)",
    "  --type T           auth, sign (needs the signing password), auth-ca or sign-ca",
    "  --pem, --out FILE  as for card read-cert",
    ...PIN_HELP,
  ],
  options: { reader: { type: "string" }, type: { type: "string" }, pem: { type: "boolean" }, out: { type: "string" }, ...pinOptions("pin") },
  async run(values, io) {
    const type = oneOf(values, "type", ["auth", "sign", "auth-ca", "sign-ca"] as const) as CertificateType;
    const signPin = type === "sign" ? await readPin(values, "pin", "署名用パスワード / signing password: ") : undefined;
    const { reader, der } = await readCertificateInReader(optionalString(values, "reader"), type, signPin);
    const out = optionalString(values, "out");
    if (values.json) return json(io, { id: `${reader}:${type}`, reader, type, ...describeCertificate(der), pem: pem(der) });
    const body = values.pem || !out ? pem(der) : der;
    if (out) writeFileSync(out, body);
    else io.stdout(body as string);
  },
};
