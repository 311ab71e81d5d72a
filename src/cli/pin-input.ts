import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { CliError, type Values } from "./command.ts";

/**
 * Where a PIN comes from, in order: `--<name>` on the command line (convenient for test cards;
 * it shows up in the shell history and `ps`), `--<name>-file FILE` (first line), or an
 * interactive prompt that does not echo. With no terminal and no flag, it is an error.
 */
export async function readPin(values: Values, name: string, prompt: string): Promise<string> {
  const direct = values[name];
  if (typeof direct === "string") return direct;
  const file = values[`${name}-file`];
  if (typeof file === "string") {
    try {
      return readFileSync(file, "utf8").split(/\r?\n/)[0]!.trim();
    } catch (error) {
      throw new CliError(`--${name}-file: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  }
  if (!process.stdin.isTTY) throw new CliError(`--${name} or --${name}-file is required (no terminal to ask on)`, 2);
  return promptHidden(prompt);
}

export function pinOptions(name: string) {
  return { [name]: { type: "string" as const }, [`${name}-file`]: { type: "string" as const } };
}

function promptHidden(prompt: string): Promise<string> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    const output = rl as unknown as { _writeToOutput: (s: string) => void };
    process.stderr.write(prompt);
    // Echo nothing while the PIN is typed.
    output._writeToOutput = () => {};
    rl.question("", (answer) => {
      rl.close();
      process.stderr.write("\n");
      resolve(answer.trim());
    });
  });
}
