import { main } from "../../src/cli/main.ts";
import { TEST_KDF_ITERATIONS } from "./context.ts";

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  json<T = any>(): T;
}

/** Run the CLI in-process with captured output (the same code path as the bin, minus the process). */
export async function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  let stdout = "";
  let stderr = "";
  const code = await main(args, {
    stdout: (text) => void (stdout += text),
    stderr: (text) => void (stderr += text),
    env,
    caKdfIterations: TEST_KDF_ITERATIONS,
  });
  return {
    code,
    stdout,
    stderr,
    json() {
      return JSON.parse(stdout);
    },
  };
}
