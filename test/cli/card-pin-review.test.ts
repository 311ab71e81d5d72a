// Review tests for src/cli/pin-input.ts: the PIN prompt on a terminal (no echo; Ctrl+C and Ctrl+D
// end the command the way a terminal user expects, never a silent exit with status 13).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const bin = join(root, "bin/openjpki.js");
const hasPython = spawnSync("python3", ["-c", "import pty"], { timeout: 5000 }).status === 0;

/**
 * Runs `openjpki args` on a pseudo-terminal (python3's pty); for each step waits until the terminal
 * shows `waitFor`, then types `keys`. Returns everything the terminal showed and the exit status
 * (negative: killed by that signal).
 */
const PTY_SCRIPT = `
import os, pty, sys, time, select, json
steps = json.loads(sys.argv[1]); args = sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(args[0], args)
out = b''
def read(until, timeout):
    global out
    end = time.time() + timeout
    while time.time() < end and (until is None or until not in out):
        r, _, _ = select.select([fd], [], [], 0.05)
        if r:
            try: d = os.read(fd, 4096)
            except OSError: return
            if not d: return
            out += d
for wait_for, keys in steps:
    read(wait_for.encode(), 20)
    time.sleep(0.3)
    os.write(fd, bytes.fromhex(keys))
read(None, 8)
end = time.time() + 5
p, st = os.waitpid(pid, os.WNOHANG)
while p == 0 and time.time() < end:
    time.sleep(0.05); p, st = os.waitpid(pid, os.WNOHANG)
if p == 0:
    os.kill(pid, 9); os.waitpid(pid, 0); code = 'hung'
else:
    code = os.waitstatus_to_exitcode(st)
print(json.dumps({"code": code, "out": out.decode('utf-8', 'replace')}))
`;

function onTerminalSteps(steps: Array<[waitFor: string, keys: string]>, args: string[]): Promise<{ code: number | string; out: string }> {
  const encoded = JSON.stringify(steps.map(([w, k]) => [w, Buffer.from(k, "utf8").toString("hex")]));
  return new Promise((resolve, reject) => {
    const child = spawn("python3", ["-c", PTY_SCRIPT, encoded, process.execPath, bin, ...args], {
      cwd: root,
      stdio: ["ignore", "pipe", "inherit"],
    });
    let text = "";
    child.stdout.on("data", (d: Buffer) => (text += d.toString("utf8")));
    child.on("error", reject);
    child.on("close", () => {
      try {
        resolve(JSON.parse(text.trim().split("\n").at(-1)!));
      } catch (e) {
        reject(new Error(`no result from the pty helper: ${text}`, { cause: e }));
      }
    });
  });
}

const onTerminal = (keys: string, args: string[]) => onTerminalSteps([["PIN: ", keys]], args);

describe("PIN prompt on a terminal", { skip: hasPython ? false : "python3 with pty is not installed" }, () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "openjpki-pin-prompt-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const args = () => ["card", "verify-pin", "--card", "C-AAAAAAAAAA", "--type", "auth", "--data", join(dir, "data")];

  test("Ctrl+C at the prompt interrupts the command like any other Ctrl+C (status 130)", { timeout: 60_000 }, async () => {
    const r = await onTerminal("12\x03", args());
    assert.equal(r.code, -2, `expected death by SIGINT, got ${r.code}: ${JSON.stringify(r.out)}`);
    assert.doesNotMatch(r.out, /12/, "the typed digits are not echoed");
  });

  test("Ctrl+D at the prompt says that no PIN was entered", { timeout: 60_000 }, async () => {
    const r = await onTerminal("\x04", args());
    assert.equal(r.code, 2, JSON.stringify(r.out));
    assert.match(r.out, /openjpki card verify-pin: .*no PIN entered/);
  });

  test("card issue: a new PIN asked for on the terminal is typed twice, and two different entries change nothing", { timeout: 60_000 }, async () => {
    const r = await onTerminalSteps(
      [
        ["(4 digits): ", "1234\r"],
        ["confirm: ", "1243\r"],
      ],
      ["card", "issue", "--resident", "R-AAAAAAAAAA", "--no-sign", "--data", join(dir, "issue-data")],
    );
    assert.match(r.out, /again to confirm: /);
    assert.match(r.out, /openjpki card issue: --auth-pin: .*the two entries do not match/);
    assert.doesNotMatch(r.out, /1234|1243/);
    assert.equal(r.code, 2, JSON.stringify(r.out));
  });

  test("Enter alone at the prompt says that no PIN was entered", { timeout: 60_000 }, async () => {
    const r = await onTerminal("\r", args());
    assert.equal(r.code, 2, JSON.stringify(r.out));
    assert.match(r.out, /openjpki card verify-pin: .*no PIN entered/);
  });

  test("a PIN typed at the prompt is not echoed and is used", { timeout: 60_000 }, async () => {
    const r = await onTerminal("1234\r", args());
    assert.doesNotMatch(r.out, /1234/);
    // it went on to the card (which does not exist in this empty data directory)
    assert.match(r.out, /C-AAAAAAAAAA/);
    assert.equal(r.code, 1, JSON.stringify(r.out));
  });
});

describe("PIN from the command line or a file", () => {
  test("an empty --pin or an empty first line of --pin-file is refused, naming the option", async () => {
    const { readPin } = await import("../../src/cli/pin-input.ts");
    const { writeFileSync } = await import("node:fs");
    const dir = mkdtempSync(join(tmpdir(), "openjpki-pin-file-"));
    try {
      const empty = join(dir, "empty");
      writeFileSync(empty, "\n1234\n");
      await assert.rejects(readPin({ "pin-file": empty }, "pin", "PIN: "), (e: Error) => e.name === "CliError" && /--pin-file: .*holds no PIN/.test(e.message));
      await assert.rejects(readPin({ pin: "" }, "pin", "PIN: "), (e: Error) => e.name === "CliError" && /--pin: .*empty/.test(e.message));
      const good = join(dir, "good");
      writeFileSync(good, "\uFEFF5678 \r\nignored\n");
      assert.equal(await readPin({ "pin-file": good }, "pin", "PIN: "), "5678");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
