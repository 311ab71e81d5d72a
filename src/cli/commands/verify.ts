/**
 * `openjpki verify cms|xml|sig`: the relying-party library from the command line. Flags map onto
 * the library's options one to one; the verifier (with its HTTP fetchers) comes from the
 * relying-party service, and the command adds only file reading and the output. Exit 0 when
 * valid; 1 with one line on stderr (code and message) when not.
 */
import { readFileSync } from "node:fs";
import { storeExists } from "../../services/context.ts";
import { X509Certificate } from "node:crypto";
import {
  relyingPartyVerifier,
  type CertificateType,
  type HashName,
  type RelyingPartyRevocation,
  type TrustAnchors,
  type VerificationResult,
  type Verifier,
} from "../../services/relying-party.ts";
import { withContext } from "../open-context.ts";
import { type Command, type Io, type Values, CliError, json, oneOf, optionalString, requireString } from "../command.ts";

const TYPES = ["sign", "auth"] as const;
const HASHES = ["sha256", "sha384", "sha512"] as const;

function readFile(path: string, what: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (error) {
    throw new CliError(`${what}: cannot read ${path}: ${(error as Error).message}`);
  }
}

/** The certificates in a PEM or DER file. */
export function certificatesIn(bytes: Uint8Array, path: string): Uint8Array[] {
  const text = Buffer.from(bytes).toString("latin1");
  if (text.includes("-----BEGIN CERTIFICATE-----")) {
    const found = [...text.matchAll(/-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/g)].map(
      (m) => new Uint8Array(Buffer.from(m[1]!.replace(/\s+/g, ""), "base64")),
    );
    if (found.length === 0) throw new CliError(`${path}: no readable PEM certificate`);
    return found;
  }
  return [bytes];
}

/** Which root a certificate is, from its name: J-LIS and OpenJPKI both say "for digital signature" / "for user authentication". */
function rootType(der: Uint8Array, path: string): CertificateType {
  let subject: string;
  try {
    subject = new X509Certificate(der).subject;
  } catch {
    throw new CliError(`--trust ${path}: not a certificate`);
  }
  if (/for digital signature/i.test(subject)) return "sign";
  if (/for user authentication/i.test(subject)) return "auth";
  throw new CliError(`--trust ${path}: cannot tell whether this is a signing or an authentication root; use --trust-sign or --trust-auth`);
}

function list(values: Values, name: string): string[] {
  const v = values[name];
  return Array.isArray(v) ? (v.filter((x) => typeof x === "string") as string[]) : typeof v === "string" ? [v] : [];
}

async function trustAnchors(values: Values, io: Io): Promise<TrustAnchors> {
  const sign: Uint8Array[] = [];
  const auth: Uint8Array[] = [];
  for (const path of list(values, "trust")) for (const der of certificatesIn(readFile(path, "--trust"), path)) (rootType(der, path) === "sign" ? sign : auth).push(der);
  for (const path of list(values, "trust-sign")) sign.push(...certificatesIn(readFile(path, "--trust-sign"), path));
  for (const path of list(values, "trust-auth")) auth.push(...certificatesIn(readFile(path, "--trust-auth"), path));
  if (sign.length + auth.length > 0) return { sign, auth };
  // Default: the two roots of an existing store. A verifier needs no store of its own, so none is
  // created here (opening a new data directory would make two CAs to trust).
  const { exists, dataDir } = storeExists({ dataDir: typeof values.data === "string" ? values.data : undefined, env: io.env });
  if (!exists) {
    throw new CliError(`no trust anchors: give --trust FILE (a root certificate, e.g. from openjpki ca show), or --data DIR of an OpenJPKI store (${dataDir} holds none)`, 2);
  }
  return withContext(values, io, async (ctx) => ({ sign: [ctx.ca.authority("sign").certificateDer], auth: [ctx.ca.authority("auth").certificateDer] }));
}

function revocation(values: Values, io: Io): RelyingPartyRevocation {
  const crlFile = optionalString(values, "crl");
  return {
    ...(crlFile ? { crl: { der: readFile(crlFile, "--crl"), url: `file:${crlFile}` } } : {}),
    ocspUrl: optionalString(values, "ocsp-url"),
    ocspNonce: values["no-nonce"] !== true,
    // A server without --open-status gives revocation data to registered verifiers only; the key
    // comes from the environment, not the command line (where other users could read it).
    ...(io.env.OPENJPKI_VERIFIER_KEY ? { verifierKey: io.env.OPENJPKI_VERIFIER_KEY } : {}),
  };
}

function at(values: Values): Date | undefined {
  const text = optionalString(values, "at");
  if (text === undefined) return undefined;
  const date = new Date(text);
  if (!/^\d{4}-\d{2}-\d{2}/.test(text) || Number.isNaN(date.getTime())) throw new CliError(`--at: ${JSON.stringify(text)} is not an ISO-8601 instant`, 2);
  return date;
}

function now(io: Io): () => Date {
  const pinned = io.env.OPENJPKI_NOW;
  if (!pinned) return () => new Date();
  const date = new Date(pinned);
  if (Number.isNaN(date.getTime())) throw new CliError(`OPENJPKI_NOW: ${JSON.stringify(pinned)} is not an ISO-8601 instant`, 2);
  return () => new Date(date);
}

async function verifierFrom(values: Values, io: Io): Promise<Verifier> {
  const anchors = await trustAnchors(values, io);
  return relyingPartyVerifier(anchors, revocation(values, io), now(io));
}

function type(values: Values, fallback: CertificateType): CertificateType {
  return values.type === undefined ? fallback : oneOf(values, "type", TYPES);
}

function report(result: VerificationResult, values: Values, io: Io, name: string): number {
  // Bytes as base64 in JSON (a Uint8Array would print as an object of numbered bytes).
  const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");
  const printable = result.valid
    ? { ...result, ...(result.content ? { content: base64(result.content) } : {}), ...(result.signature ? { signature: { ...result.signature, value: base64(result.signature.value) } } : {}) }
    : result;
  if (values.json) json(io, printable);
  if (!result.valid) {
    io.stderr(`openjpki verify ${name}: ${result.code}: ${result.message}\n`);
    return 1;
  }
  if (!values.json) {
    const lines = [
      `検証成功 / valid: ${result.type === "sign" ? "署名用電子証明書 (signing)" : "利用者証明用電子証明書 (authentication)"}`,
      `  serial:     ${result.certificate.serialHex}`,
      `  subject:    ${result.certificate.subject}`,
      `  valid:      ${result.certificate.notBefore} → ${result.certificate.notAfter}`,
      `  root:       ${result.path.root.subject} (key id ${result.path.root.keyIdentifierHex})`,
      `  revocation: ${result.revocation.method} ${result.revocation.status} (${result.revocation.url}, thisUpdate ${result.revocation.thisUpdate})`,
    ];
    const a = result.attributes;
    if (a) {
      lines.push(
        `  氏名 / name:      ${a.name}`,
        `  住所 / address:   ${a.address}`,
        `  生年月日 / birth: ${a.birth.era ?? ""} (${a.birth.western})`,
        `  性別 / gender:    ${a.gender.ja} (${a.gender.en})`,
      );
    }
    io.stdout(`${lines.join("\n")}\n`);
  }
  return 0;
}

const TRUST_OPTIONS = {
  trust: { type: "string", multiple: true },
  "trust-sign": { type: "string", multiple: true },
  "trust-auth": { type: "string", multiple: true },
  crl: { type: "string" },
  "ocsp-url": { type: "string" },
  "no-nonce": { type: "boolean" },
  at: { type: "string" },
  type: { type: "string" },
} as const;

const TRUST_HELP = [
  "  --type sign|auth     the certificate type expected (default sign)",
  "  --trust FILE         a trusted root, PEM or DER (repeatable; its name says signing or authentication);",
  "                       default: this data directory's two roots",
  "  --trust-sign FILE, --trust-auth FILE   a trusted root of the given type (repeatable)",
  "  --crl FILE           use this CRL instead of fetching the certificate's",
  "  --ocsp-url URL       ask this OCSP responder instead of the certificate's (its CRL stays the fallback)",
  "  --no-nonce           send OCSP requests without a nonce (for pre-signed RFC 5019 responders)",
  "  --at ISO             the time the certificate must be valid at (default now)",
  "  Revocation is required: without an answer from OCSP or a CRL the result is revocation-unavailable.",
];

export const verifyCms: Command = {
  path: ["verify", "cms"],
  summary: "CMS 署名の検証 / verify a CMS SignedData",
  usage: "--in FILE [--content FILE] [--type sign|auth] [--trust FILE]… [--crl FILE] [--ocsp-url URL] [--at ISO] [--json]",
  help: ["  --in FILE            the CMS SignedData (DER)", "  --content FILE       the signed content, for a detached signature", ...TRUST_HELP],
  options: { in: { type: "string" }, content: { type: "string" }, ...TRUST_OPTIONS },
  async run(values, io) {
    const input = readFile(requireString(values, "in"), "--in");
    const contentPath = optionalString(values, "content");
    const expectedType = type(values, "sign");
    const when = at(values);
    const verifier = await verifierFrom(values, io);
    const result = await verifier.verifyCms(input, {
      expectedType,
      ...(contentPath ? { content: readFile(contentPath, "--content") } : {}),
      ...(when ? { at: when } : {}),
    });
    return report(result, values, io, "cms");
  },
};

export const verifyXml: Command = {
  path: ["verify", "xml"],
  summary: "XML 署名の検証 / verify an enveloped XML signature",
  usage: "--in FILE [--type sign|auth] [--trust FILE]… [--crl FILE] [--ocsp-url URL] [--at ISO] [--json]",
  help: ["  --in FILE            the signed XML document (UTF-8)", ...TRUST_HELP],
  options: { in: { type: "string" }, ...TRUST_OPTIONS },
  async run(values, io) {
    const bytes = readFile(requireString(values, "in"), "--in");
    let xml: string;
    try {
      xml = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
      throw new CliError("--in: the XML is not UTF-8");
    }
    const expectedType = type(values, "sign");
    const when = at(values);
    const verifier = await verifierFrom(values, io);
    return report(await verifier.verifyXml(xml, { expectedType, ...(when ? { at: when } : {}) }), values, io, "xml");
  },
};

export const verifySig: Command = {
  path: ["verify", "sig"],
  summary: "署名値の検証 / verify a raw RSA signature with its certificate",
  usage: "--cert FILE --in FILE --sig FILE [--hash sha256|sha384|sha512] [--type sign|auth] [--trust FILE]… [--json]",
  help: [
    "  --cert FILE          the signer's certificate (PEM or DER)",
    "  --in FILE            the signed data",
    "  --sig FILE           the RSA PKCS#1 v1.5 signature value (binary)",
    "  --hash H             sha256 (default), sha384 or sha512",
    ...TRUST_HELP,
  ],
  options: { cert: { type: "string" }, sig: { type: "string" }, in: { type: "string" }, hash: { type: "string" }, ...TRUST_OPTIONS },
  async run(values, io) {
    const certPath = requireString(values, "cert");
    const [certificateDer] = certificatesIn(readFile(certPath, "--cert"), certPath);
    const data = readFile(requireString(values, "in"), "--in");
    const signature = readFile(requireString(values, "sig"), "--sig");
    const hash: HashName = values.hash === undefined ? "sha256" : oneOf(values, "hash", HASHES);
    const expectedType = type(values, "sign");
    const when = at(values);
    const verifier = await verifierFrom(values, io);
    const result = await verifier.verifyRawSignature({ certificateDer: certificateDer!, data, signature, hash, expectedType, ...(when ? { at: when } : {}) });
    return report(result, values, io, "sig");
  },
};
