// `openjpki serve` as its own process, for tests of what only a process shows: signals, exits,
// surviving a database restart.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { fileURLToPath } from "node:url";
import { TEST_PASSPHRASE } from "./context.ts";
import { freePort } from "./net.ts";

export interface SpawnedServe {
  base: string;
  process: ChildProcessWithoutNullStreams;
  stdout(): string;
  stderr(): string;
  /** The exit code once it has exited (null when ended by a signal), undefined while running. */
  exitCode(): number | null | undefined;
  exited: Promise<number | null>;
  /** SIGTERM, then wait for the exit. */
  stop(): Promise<number | null>;
}

/** Starts `openjpki serve --open-status` on a free port and resolves once it says it is serving. */
export async function spawnServe(options: { dataDir: string; env?: Record<string, string>; args?: string[] }): Promise<SpawnedServe> {
  const port = await freePort();
  const child = spawn(process.execPath, ["bin/openjpki.js", "serve", "--port", String(port), "--open-status", ...(options.args ?? []), "--data", options.dataDir], {
    cwd: fileURLToPath(new URL("../..", import.meta.url)),
    env: { ...process.env, OPENJPKI_CA_PASSPHRASE: TEST_PASSPHRASE, ...options.env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  let code: number | null | undefined;
  child.stdout.on("data", (chunk) => (stdout += chunk));
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (exitCode) => resolve((code = exitCode))));
  const serve: SpawnedServe = {
    base: `http://127.0.0.1:${port}`,
    process: child,
    stdout: () => stdout,
    stderr: () => stderr,
    exitCode: () => code,
    exited,
    stop: () => {
      if (code === undefined) child.kill("SIGTERM");
      return exited;
    },
  };
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", () => stdout.includes("停止 / stop") && resolve());
      void exited.then((exitCode) => reject(new Error(`serve exited (${exitCode}): ${stderr}`)));
      setTimeout(() => reject(new Error(`serve did not start in 60 s: ${stderr}`)), 60_000).unref();
    });
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
  return serve;
}
