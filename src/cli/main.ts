import { parseArgs } from "node:util";
import { ServiceError } from "../services/errors.ts";
import { isInputError } from "../services/input-errors.ts";
import { type Command, type Io, CliError, COMMON_HELP, COMMON_OPTIONS } from "./command.ts";
import { init } from "./commands/init.ts";
import { serve } from "./commands/serve.ts";
import { rulesValidity } from "./commands/rules.ts";
import { residentAdd, residentChange, residentDeath, residentEmigrate, residentList, residentShow } from "./commands/resident.ts";
import { certRevoke, certStatus } from "./commands/cert.ts";
import { crl } from "./commands/crl.ts";
import { auditList, auditVerify } from "./commands/audit.ts";
import { verifyCms, verifySig, verifyXml } from "./commands/verify.ts";
import { signCms, signXml } from "./commands/sign.ts";
import { oidcClientAdd } from "./commands/oidc.ts";
import { officeList, staffAdd } from "./commands/staff.ts";
import { counterExpiryNotices, counterFees, counterIssuanceNotice } from "./commands/counter.ts";
import { cardAttach, cardIssue, cardList, cardReadCert, cardReaders, cardReadReal, cardShow, cardSign, cardVerifyPin } from "./commands/card.ts";
import { verifierAdd, verifierList, verifierReport } from "./commands/verifier.ts";
import { caIssue, caShow } from "./commands/ca.ts";
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
  caIssue,
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
    ...COMMON_HELP,
    "",
  ].join("\n");
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

/** Run the CLI; returns the exit code. Errors become one line on stderr naming the problem. */
export async function main(argv: string[], io: Io = defaultIo): Promise<number> {
  const { command, rest, words } = route(argv);
  if (!command) {
    if (argv.length === 0 || argv[0] === "--help" || argv[0] === "-h" || argv[0] === "help") {
      io.stdout(overview());
      return 0;
    }
    io.stderr(`openjpki: unknown command "${words.join(" ") || argv[0]}" (openjpki --help lists the commands)\n`);
    return 2;
  }
  try {
    const { values, positionals } = parseArgs({
      args: rest,
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
    io.stderr(`${name}: ${(error as Error).message}\n`);
    return 1;
  }
  const code = (error as { code?: string }).code;
  if (typeof code === "string" && code.startsWith("ERR_PARSE_ARGS")) {
    io.stderr(`${name}: ${(error as Error).message.split("\n")[0]!.split(". To specify")[0]} (see --help)\n`);
    return 2;
  }
  io.stderr(`${name}: ${(error as Error)?.stack ?? String(error)}\n`);
  return 1;
}
