import type { ParseArgsConfig } from "node:util";

export type OptionSpec = NonNullable<ParseArgsConfig["options"]>;
export type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

export interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
  /** Tests that run the CLI in-process: PBKDF2 iterations for new CA keys (the bin never sets it; see ContextOptions). */
  caKdfIterations?: number;
}

export interface Command {
  /** The words that name it: ["resident", "add"]. */
  path: string[];
  summary: string;
  /** The usage line(s) after `openjpki <path>`. */
  usage: string;
  /** Lines describing each option, shown by --help. */
  help: string[];
  options: OptionSpec;
  /** The option that gives a service input (a ServiceError's `field`), named after its message when one is refused. */
  fieldOptions?: Record<string, string>;
  run(values: Values, io: Io): Promise<number | void>;
}

/** A failure the user can fix: printed as one line on stderr. `usage` errors exit 2, others 1. */
export class CliError extends Error {
  override readonly name = "CliError";
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 1,
  ) {
    super(message);
  }
}

export function requireString(values: Values, name: string): string {
  const value = values[name];
  if (typeof value !== "string" || value.length === 0) throw new CliError(`--${name} is required`, 2);
  return value;
}

export function optionalString(values: Values, name: string): string | undefined {
  const value = values[name];
  return typeof value === "string" ? value : undefined;
}

export function oneOf<T extends string>(values: Values, name: string, allowed: readonly T[]): T {
  const value = requireString(values, name);
  if (!(allowed as readonly string[]).includes(value)) {
    throw new CliError(`--${name} must be one of ${allowed.join(", ")}, not ${JSON.stringify(value)}`, 2);
  }
  return value as T;
}

export function json(io: Io, object: unknown): void {
  io.stdout(`${JSON.stringify(object, null, 2)}\n`);
}

/** The options every command takes. */
export const COMMON_OPTIONS: OptionSpec = {
  data: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
};

export const COMMON_HELP = [
  "  --data DIR        data directory (default ./openjpki-data, or $OPENJPKI_DATA); created and migrated when new",
  "  --json            print one JSON object on stdout",
  "  -h, --help        show this help",
];
