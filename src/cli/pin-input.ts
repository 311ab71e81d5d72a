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
  if (typeof direct === "string") {
    if (direct === "") throw new CliError(`--${name}: 暗証番号が空です / the PIN is empty`, 2);
    return direct;
  }
  const file = values[`${name}-file`];
  if (typeof file === "string") {
    let pin: string;
    try {
      pin = readFileSync(file, "utf8").split(/\r?\n/)[0]!.trim();
    } catch (error) {
      throw new CliError(`--${name}-file: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    // An empty PIN would otherwise pass for "no PIN given": the card then answers "PIN not verified".
    if (pin === "") throw new CliError(`--${name}-file: ${file} の1行目が空です / the first line of ${file} holds no PIN`, 2);
    return pin;
  }
  if (!process.stdin.isTTY) throw new CliError(`--${name} or --${name}-file is required (no terminal to ask on)`, 2);
  return promptHidden(prompt);
}

/**
 * A PIN about to be set on a card: as {@link readPin}, but typed twice when asked for on the
 * terminal. Nothing is echoed, so a typo would otherwise set a PIN that nobody knows.
 */
export async function readNewPin(values: Values, name: string, prompt: string): Promise<string> {
  if (typeof values[name] === "string" || typeof values[`${name}-file`] === "string") return readPin(values, name, prompt);
  const first = await readPin(values, name, prompt);
  const again = await promptHidden("確認のためもう一度 / again to confirm: ");
  if (again !== first) throw new CliError(`--${name}: 2回の入力が一致しません / the two entries do not match (nothing was changed)`, 2);
  return first;
}

export function pinOptions(name: string) {
  return { [name]: { type: "string" as const }, [`${name}-file`]: { type: "string" as const } };
}

function promptHidden(prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    const output = rl as unknown as { _writeToOutput: (s: string) => void };
    let settled = false;
    process.stderr.write(prompt);
    // Echo nothing while the PIN is typed.
    output._writeToOutput = () => {};
    // The terminal is in raw mode while readline reads, so Ctrl+C arrives as a key, not a signal.
    // Without these, readline merely paused and the process ended silently with status 13.
    rl.on("SIGINT", () => {
      settled = true;
      rl.close(); // restores the terminal
      process.stderr.write("\n");
      // What Ctrl+C does anywhere else: the default action of SIGINT (status 130 in the shell).
      process.kill(process.pid, "SIGINT");
    });
    rl.on("close", () => {
      if (settled) return;
      settled = true;
      process.stderr.write("\n");
      reject(new CliError("暗証番号が入力されませんでした / no PIN entered (end of input)", 2));
    });
    rl.question("", (answer) => {
      settled = true;
      rl.close();
      process.stderr.write("\n");
      // Like an empty --pin: an empty answer must not pass for "no PIN given".
      if (answer.trim() === "") reject(new CliError("暗証番号が入力されませんでした / no PIN entered", 2));
      else resolve(answer.trim());
    });
  });
}
