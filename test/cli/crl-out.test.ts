// `crl --out FILE` replaces the published CRL atomically: a run that fails or dies midway leaves the
// previous CRL whole (a killed run used to leave it empty or cut short, and `openssl crl` could not
// load it), and a run that succeeds leaves no temporary file behind; a run killed before its rename
// leaves one, which the next run removes.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs, { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cli } from "../helpers/cli.ts";
import { deadPid, withLivePid } from "../helpers/pids.ts";
import { injectFailure } from "../helpers/file-faults.ts";

const env = { OPENJPKI_NOW: "2026-11-25T03:00:00Z", OPENJPKI_CA_PASSPHRASE: "cli-test-passphrase-0123456789" };

/** `openssl crl` loads the file as a DER CRL. */
function opensslAccepts(path: string): void {
  const r = spawnSync("openssl", ["crl", "-inform", "DER", "-noout", "-in", path], { encoding: "utf8" });
  assert.equal(r.status, 0, `openssl crl refused ${path}: ${r.stderr}`);
}

describe("openjpki crl --out replaces the CRL atomically", () => {
  let dir: string;
  let data: string;
  let pub: string;
  let out: string;
  const crl = (target = out) => cli(["crl", "--data", data, "--type", "sign", "--out", target, "--json"], env);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "openjpki-cli-crl-out-"));
    data = join(dir, "data");
    pub = join(dir, "pub");
    mkdirSync(pub);
    out = join(pub, "sign.crl");
    const first = await crl();
    assert.equal(first.code, 0, first.stderr);
    opensslAccepts(out);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("a run replaces the CRL whole, keeps the file's permission bits (not setgid) and leaves no temporary file", async () => {
    chmodSync(out, 0o2640);
    const before = readFileSync(out);
    const r = await crl();
    assert.equal(r.code, 0, r.stderr);
    const after = readFileSync(out);
    assert.notDeepEqual(after, before, "a new CRL (a new CRL number)");
    assert.equal(after.length, r.json().bytes);
    opensslAccepts(out);
    assert.deepEqual(readdirSync(pub), ["sign.crl"]);
    assert.equal(statSync(out).mode & 0o7777, 0o640);
  });

  test("a pipe (named, through a link, or a piped stdout) is written through: the reader gets the whole CRL and the pipe stays", async () => {
    const fifo = join(dir, "crl.fifo");
    const link = join(dir, "to-fifo");
    spawnSync("mkfifo", [fifo]);
    symlinkSync(fifo, link);
    try {
      for (const target of [fifo, link]) {
        const read = new Promise<Buffer>((resolve, reject) => {
          const chunks: Buffer[] = [];
          fs.createReadStream(fifo).on("data", (c) => chunks.push(c as Buffer)).on("end", () => resolve(Buffer.concat(chunks))).on("error", reject);
        });
        const r = await crl(target);
        assert.equal(r.code, 0, r.stderr);
        const der = await read;
        assert.equal(der.length, r.json().bytes, target);
        const copy = join(dir, "from-fifo.crl");
        writeFileSync(copy, der);
        opensslAccepts(copy);
        assert.ok(lstatSync(fifo).isFIFO(), "the pipe is not replaced by a file");
        assert.ok(lstatSync(link).isSymbolicLink(), "nor the link to it");
      }
      // An anonymous pipe: the output of a run piped through the shell's `|` (a pipe(2); Node's own
      // child stdio is a socket, which cannot be opened by path), named by a link like /dev/stdout
      // (our own, so that a run that replaced it would not replace the system's).
      const stdoutLink = join(dir, "stdout");
      symlinkSync("/proc/self/fd/1", stdoutLink);
      const command = `"$NODE" "$CLI" crl --data "$DATA" --type sign --out "$OUT" | cat`;
      const piped = spawnSync("sh", ["-c", command], { env: { ...process.env, ...env, NODE: process.execPath, CLI: join(import.meta.dirname, "../../bin/openjpki.js"), DATA: data, OUT: stdoutLink } });
      assert.equal(piped.status, 0, piped.stderr.toString());
      const bytes = Number(/\((?:full), (\d+) bytes\)/.exec(piped.stdout.toString("latin1"))?.[1]);
      assert.ok(bytes > 0, piped.stdout.toString("latin1").slice(-200));
      writeFileSync(join(dir, "from-fifo.crl"), piped.stdout.subarray(0, bytes));
      opensslAccepts(join(dir, "from-fifo.crl"));
      assert.ok(lstatSync(stdoutLink).isSymbolicLink(), "the link is left as it was");
    } finally {
      rmSync(join(dir, "stdout"), { force: true });
      rmSync(fifo, { force: true });
      rmSync(link, { force: true });
      rmSync(join(dir, "from-fifo.crl"), { force: true });
    }
  });

  for (const [step, message, what] of [
    ["write", /ENOSPC: injected failure, write/, "a write that fails midway (disk full)"],
    ["rename", /EIO: injected failure, rename/, "a rename that fails"],
  ] as const) {
    test(`${what} leaves the published CRL as it was, and no temporary file`, async () => {
      const good = readFileSync(out);
      const undo = await injectFailure(pub, step);
      let r;
      try {
        r = await crl();
      } finally {
        undo();
      }
      assert.equal(r.code, 1, r.stdout);
      assert.match(r.stderr, message);
      assert.deepEqual(readFileSync(out), good, "the previous CRL, byte for byte");
      opensslAccepts(out);
      assert.deepEqual(readdirSync(pub), ["sign.crl"]);
    });
  }

  test("a run removes the temporary file a killed run left, and not one of a run still going", async () => {
    const dead = `.sign.crl.${await deadPid()}.0a1b2c3d4e5f.tmp`;
    await withLivePid(async (pid) => {
      const live = `.sign.crl.${pid}.0a1b2c3d4e5f.tmp`;
      for (const name of [dead, live]) writeFileSync(join(pub, name), "half a CRL");
      try {
        const r = await crl();
        assert.equal(r.code, 0, r.stderr);
        opensslAccepts(out);
        assert.deepEqual(readdirSync(pub).sort(), [live, "sign.crl"].sort());
      } finally {
        for (const name of [dead, live]) rmSync(join(pub, name), { force: true });
      }
    });
  });

  test("through a symbolic link, the link's target is replaced and the link kept", async () => {
    const link = join(pub, "current.crl");
    symlinkSync("sign.crl", link);
    try {
      const before = readFileSync(out);
      const r = await crl(link);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(lstatSync(link).isSymbolicLink());
      assert.notDeepEqual(readFileSync(out), before);
      opensslAccepts(link);
      assert.deepEqual(readdirSync(pub).sort(), ["current.crl", "sign.crl"]);
    } finally {
      rmSync(link);
    }
  });
});
