import { parseArgs } from "node:util";
import { ServiceError } from "../services/errors.ts";
import { isInputError } from "../services/input-errors.ts";
import { type Command, type Io, CliError, COMMON_HELP, COMMON_OPTIONS } from "./command.ts";
import { init } from "./commands/init.ts";
import { serve } from "./commands/serve.ts";
import { rulesValidity } from "./commands/rules.ts";
import { residentAdd, residentChange, residentDeath, residentEmigrate, residentApplyDepartures, residentList, residentShow, residentWithdrawEmigration } from "./commands/resident.ts";
import { certRevoke, certStatus } from "./commands/cert.ts";
import { crl } from "./commands/crl.ts";
import { auditList, auditVerify } from "./commands/audit.ts";
import { verifyCms, verifySig, verifyXml } from "./commands/verify.ts";
import { signCms, signXml } from "./commands/sign.ts";
import { oidcClientAdd, oidcClientList } from "./commands/oidc.ts";
import { officeList, staffAdd } from "./commands/staff.ts";
import { counterExpiryNotices, counterFees, counterIssuanceNotice } from "./commands/counter.ts";
import { cardAttach, cardIssue, cardList, cardReadCert, cardReaders, cardReadReal, cardShow, cardSign, cardVerifyPin } from "./commands/card.ts";
import { verifierAdd, verifierList, verifierReport } from "./commands/verifier.ts";
import { caIssue, caRewrapKeys, caShow } from "./commands/ca.ts";
import { issuanceClientAdd, issuanceClientDeactivate, issuanceClientList } from "./commands/issuance.ts";
import { storePartition } from "./commands/store.ts";
import { ocspRefresh } from "./commands/ocsp.ts";

/** Every command, in the order `openjpki --help` lists them. */
export const COMMANDS: readonly Command[] = [
  serve,
  init,
  rulesValidity,
  residentAdd,
  residentShow,
  residentList,
  residentChange,
  residentDeath,
  residentEmigrate,
  residentWithdrawEmigration,
  residentApplyDepartures,
  caIssue,
  caRewrapKeys,
  caShow,
  certRevoke,
  certStatus,
  crl,
  verifierAdd,
  verifierList,
  verifierReport,
  issuanceClientAdd,
  issuanceClientList,
  issuanceClientDeactivate,
  auditVerify,
  auditList,
  cardIssue,
  cardList,
  cardShow,
  cardReadCert,
  cardSign,
  cardVerifyPin,
  cardAttach,
  cardReaders,
  cardReadReal,
  verifyCms,
  verifyXml,
  verifySig,
  signCms,
  signXml,
  oidcClientAdd,
  oidcClientList,
  officeList,
  staffAdd,
  counterFees,
  counterExpiryNotices,
  counterIssuanceNotice,
  storePartition,
  ocspRefresh,
];

const defaultIo: Io = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
};

function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.path.join(" ").length));
  return [
    "OpenJPKI — 公的個人認証サービス（模擬） / an open implementation of JPKI",
    "",
    "使い方 / usage: openjpki <command> [options]   (openjpki <command> --help for details)",
    "",
    ...COMMANDS.map((c) => `  ${c.path.join(" ").padEnd(width)}  ${c.summary}`),
    "",
  ].join("\n");
}

function commandHelp(command: Command): string {
  return [
    `openjpki ${command.path.join(" ")} ${command.usage}`,
    "",
    command.summary,
    "",
    ...command.help,
    ...alignedTo(command.help, COMMON_HELP),
    "",
  ].join("\n");
}

/**
 * The common options' lines with their descriptions in the command's own column (each command
 * sets its width): the column most of its option lines use (a line with wide characters counts
 * them as one and so stands apart).
 */
function alignedTo(help: readonly string[], lines: readonly string[]): string[] {
  const counts = new Map<number, number>();
  for (const line of help) {
    const width = /^ {2}-\S.*?\S {2,}(?=\S)/.exec(line)?.[0].length;
    if (width !== undefined) counts.set(width, (counts.get(width) ?? 0) + 1);
  }
  const column = [...counts].sort((a, b) => b[1] - a[1] || b[0] - a[0])[0]?.[0];
  if (column === undefined) return [...lines];
  return lines.map((line) => {
    const m = /^( {2}-\S.*?\S) {2,}(\S.*)$/.exec(line);
    return m && m[1]!.length < column ? `${m[1]!.padEnd(column)}${m[2]}` : line;
  });
}

/** Find the command whose path is the longest prefix of argv. */
function route(argv: string[]): { command?: Command; rest: string[]; words: string[] } {
  let best: Command | undefined;
  for (const command of COMMANDS) {
    if (command.path.every((word, i) => argv[i] === word) && command.path.length > (best?.path.length ?? 0)) best = command;
  }
  const words = argv.slice(0, argv.findIndex((a) => a.startsWith("-")) >>> 0 || argv.length);
  return best ? { command: best, rest: argv.slice(best.path.length), words } : { rest: argv, words };
}

/**
 * The options every command takes may also come before the command (`openjpki --data DIR
 * resident list`, as with git): they are split off here and handed to the command's parser.
 */
function splitLeadingCommonOptions(argv: string[]): { leading: string[]; argv: string[] } {
  const leading: string[] = [];
  let i = 0;
  while (i < argv.length) {
    const word = argv[i]!;
    if (word === "--json") leading.push(word);
    else if (word.startsWith("--data=")) leading.push(word);
    else if (word === "--data" && i + 1 < argv.length) leading.push(word, argv[++i]!);
    else break;
    i++;
  }
  return { leading, argv: argv.slice(i) };
}

/** `openjpki resident` (a group without its subcommand): the group's commands. */
function groupHelp(word: string): string | undefined {
  const members = COMMANDS.filter((c) => c.path.length > 1 && c.path[0] === word);
  if (members.length === 0) return undefined;
  const width = Math.max(...members.map((c) => c.path.join(" ").length));
  return [
    `openjpki ${word}: サブコマンドを指定してください / give one of its subcommands:`,
    ...members.map((c) => `  ${c.path.join(" ").padEnd(width)}  ${c.summary}`),
    "",
  ].join("\n");
}

/** Run the CLI; returns the exit code. Errors become one line on stderr naming the problem. */
export async function main(args: string[], io: Io = defaultIo): Promise<number> {
  const { leading, argv } = splitLeadingCommonOptions(args);
  const { command, rest, words } = route(argv);
  if (!command) {
    if (argv.length === 0 || argv[0] === "--help" || argv[0] === "-h" || argv[0] === "help") {
      io.stdout(overview());
      return 0;
    }
    const group = words.length === 1 ? groupHelp(words[0]!) : undefined;
    if (group) {
      io.stderr(group);
      return 2;
    }
    io.stderr(`openjpki: unknown command "${words.join(" ") || argv[0]}" (openjpki --help lists the commands)\n`);
    return 2;
  }
  try {
    const { values, positionals } = parseArgs({
      args: [...leading, ...rest],
      options: { ...COMMON_OPTIONS, ...command.options },
      strict: true,
      allowPositionals: true,
    });
    if (values.help) {
      io.stdout(commandHelp(command));
      return 0;
    }
    if (positionals.length > 0) throw new CliError(`unexpected argument "${positionals[0]}"`, 2);
    const code = await command.run(values, io);
    return typeof code === "number" ? code : 0;
  } catch (error) {
    return report(error, command, io);
  }
}

function report(error: unknown, command: Command, io: Io): number {
  const name = `openjpki ${command.path.join(" ")}`;
  if (error instanceof CliError) {
    io.stderr(`${name}: ${error.message}\n`);
    return error.exitCode;
  }
  const named = (error as Error | undefined)?.name;
  if (error instanceof ServiceError || isInputError(error) || named === "PcscError" || named === "CardError") {
    const option = error instanceof ServiceError && error.field ? command.fieldOptions?.[error.field] : undefined;
    io.stderr(`${name}: ${(error as Error).message}${option ? ` (${option})` : ""}\n`);
    return 1;
  }
  const code = (error as { code?: string }).code;
  if (typeof code === "string" && code.startsWith("ERR_PARSE_ARGS")) {
    io.stderr(`${name}: ${parseArgsLine((error as Error).message)} (see --help)\n`);
    return 2;
  }
  // A system call that failed on something the user named (a path, a port): Node's own message
  // says which, e.g. "EACCES: permission denied, open '/x'". Anything else is a defect: stack.
  if (typeof code === "string" && /^E[A-Z]+$/.test(code) && typeof (error as { syscall?: unknown }).syscall === "string") {
    io.stderr(`${name}: ${(error as Error).message}\n`);
    return 1;
  }
  io.stderr(`${name}: ${(error as Error)?.stack ?? String(error)}\n`);
  return 1;
}

/** node:util parseArgs's message, on one line; a value that starts with a dash gets its remedy. */
function parseArgsLine(message: string): string {
  const ambiguous = /^Option '(--[\w-]+)[^']*' argument is ambiguous/.exec(message);
  if (ambiguous) return `${ambiguous[1]} has no value, or its value starts with "-" (then write ${ambiguous[1]}=VALUE)`;
  return message.split("\n")[0]!.split(". To specify")[0]!;
}
