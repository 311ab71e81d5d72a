import { spawn } from "node:child_process";
import { once } from "node:events";

/** The pid of a process that has ended: a writer that died, as far as its leftover files can tell. */
export async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  await once(child, "exit");
  return child.pid!;
}

/** Run `body` with the pid of another process that is alive throughout (a child that idles), ended after. */
export async function withLivePid<T>(body: (pid: number) => Promise<T>): Promise<T> {
  const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1 << 30)"], { stdio: "ignore" });
  await once(child, "spawn");
  const exited = once(child, "exit");
  try {
    return await body(child.pid!);
  } finally {
    child.kill();
    await exited;
  }
}
