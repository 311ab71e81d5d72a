import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Debian's SoftHSM2 module (package softhsm2; `.ci/run` installs it). */
export const SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so";

export interface SoftHsm {
  readonly dir: string;
  /** The OPENJPKI_CA_PKCS11_* settings for one token. */
  env(token: string, pin: string): NodeJS.ProcessEnv;
  /** Initialise a fresh token (before any context opens the library: SoftHSM reads its tokens at C_Initialize). */
  initToken(label: string, pin: string): void;
  cleanup(): void;
}

/**
 * A private SoftHSM2 token directory for this test process: SOFTHSM2_CONF points the library
 * (loaded in this process) and softhsm2-util at it, so the machine's own tokens are never touched.
 */
export function privateSoftHsm(): SoftHsm {
  if (!existsSync(SOFTHSM_MODULE)) throw new Error(`SoftHSM2 is not installed (${SOFTHSM_MODULE}); apt-get install softhsm2`);
  const dir = mkdtempSync(join(tmpdir(), "openjpki-softhsm-"));
  mkdirSync(join(dir, "tokens"));
  const conf = join(dir, "softhsm2.conf");
  writeFileSync(conf, `directories.tokendir = ${join(dir, "tokens")}\nobjectstore.backend = file\nlog.level = ERROR\n`);
  const previous = process.env.SOFTHSM2_CONF;
  process.env.SOFTHSM2_CONF = conf;
  return {
    dir,
    env: (token, pin) => ({ OPENJPKI_CA_PKCS11_MODULE: SOFTHSM_MODULE, OPENJPKI_CA_PKCS11_TOKEN: token, OPENJPKI_CA_PKCS11_PIN: pin }),
    initToken(label, pin) {
      execFileSync("softhsm2-util", ["--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", "87654321"], {
        env: { ...process.env, SOFTHSM2_CONF: conf },
        stdio: "pipe",
      });
    },
    cleanup() {
      if (previous === undefined) delete process.env.SOFTHSM2_CONF;
      else process.env.SOFTHSM2_CONF = previous;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
