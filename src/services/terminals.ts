import { createPublicKey, X509Certificate } from "node:crypto";
import type { Kysely } from "kysely";
import type { Database } from "../store/schema.ts";
import { bytes } from "../store/database.ts";
import {
  createTerminalCa,
  createTerminalCredentials,
  type TerminalCa,
  type TerminalCredentials,
  type TerminalRole,
} from "../client/terminal-credentials.ts";
import { rewrapKeyTable, type KeyWrapping } from "./keystore.ts";
import type { Clock } from "./clock.ts";

const CA_ID = "terminal-ca";

/**
 * The terminal CA and the terminals it certified. Every card is manufactured trusting this
 * CA's key; a counter terminal may then run all issuer commands on it, a kiosk terminal only
 * the PIN reset. Keys are stored encrypted under the CA passphrase, and each is decrypted once
 * (≈0.2 s at the production PBKDF2 count) and kept in memory: callers at the same time share one
 * load, and a failed one is tried again by the next caller.
 */
export class Terminals {
  #ca: Promise<TerminalCa> | undefined;
  readonly #credentials = new Map<string, Promise<TerminalCredentials>>();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly keyWrapping: KeyWrapping,
    private readonly clock: Clock,
  ) {}

  ca(): Promise<TerminalCa> {
    this.#ca ??= this.loadCa().catch((error: unknown) => {
      this.#ca = undefined;
      throw error;
    });
    return this.#ca;
  }

  private async loadCa(): Promise<TerminalCa> {
    let row = await this.db.selectFrom("terminal_keys").selectAll().where("id", "=", CA_ID).executeTakeFirst();
    if (!row) {
      const now = this.clock();
      const created = await createTerminalCa({
        name: "OpenJPKI Terminal CA",
        notBefore: new Date(now.getTime() - 60_000),
        notAfter: new Date(now.getTime() + 20 * 365 * 86_400_000),
      });
      const stored = await this.keyWrapping.wrap(created.privateKey);
      await this.db
        .insertInto("terminal_keys")
        .values({
          id: CA_ID,
          role: "ca",
          office: null,
          certificate_der: created.certificateDer,
          private_key_pem: stored,
          created_at: now.toISOString(),
        })
        .onConflict((oc) => oc.column("id").doNothing())
        .execute();
      row = await this.db.selectFrom("terminal_keys").selectAll().where("id", "=", CA_ID).executeTakeFirstOrThrow();
    }
    // A key just written comes back without a derivation (unless another process's row won).
    const privateKey = await this.keyWrapping.unwrap(row.private_key_pem, "terminal CA");
    const publicKey = createPublicKey(privateKey);
    const certificateDer = bytes(row.certificate_der);
    return {
      privateKey,
      publicKey,
      publicKeyDer: new Uint8Array(publicKey.export({ type: "spki", format: "der" })),
      certificateDer,
      name: new X509Certificate(certificateDer).subject,
    };
  }

  /** The credentials of a terminal (made and certified on first use). */
  async terminal(id: string, role: TerminalRole, office?: string): Promise<TerminalCredentials> {
    let loading = this.#credentials.get(id);
    if (!loading) {
      loading = this.loadTerminal(id, role, office).catch((error: unknown) => {
        this.#credentials.delete(id);
        throw error;
      });
      this.#credentials.set(id, loading);
    }
    const credentials = await loading;
    if (credentials.role !== role) throw new Error(`terminal ${id} is a ${credentials.role} terminal, not ${role}`);
    return credentials;
  }

  private async loadTerminal(id: string, role: TerminalRole, office: string | undefined): Promise<TerminalCredentials> {
    let row = await this.db.selectFrom("terminal_keys").selectAll().where("id", "=", id).executeTakeFirst();
    if (!row) {
      const now = this.clock();
      const made = await createTerminalCredentials(await this.ca(), {
        role,
        name: id,
        notBefore: new Date(now.getTime() - 60_000),
        notAfter: new Date(now.getTime() + 5 * 365 * 86_400_000),
      });
      const stored = await this.keyWrapping.wrap(made.privateKey);
      await this.db
        .insertInto("terminal_keys")
        .values({
          id,
          role,
          office: office ?? null,
          certificate_der: made.certificateDer,
          private_key_pem: stored,
          created_at: now.toISOString(),
        })
        .onConflict((oc) => oc.column("id").doNothing())
        .execute();
      row = await this.db.selectFrom("terminal_keys").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
    }
    if (row.role !== role) throw new Error(`terminal ${id} is a ${row.role} terminal, not ${role}`);
    return {
      role,
      privateKey: await this.keyWrapping.unwrap(row.private_key_pem, `terminal ${id}`),
      certificateDer: bytes(row.certificate_der),
    };
  }

  /**
   * Terminal keys (the terminal CA's and every terminal's) stored at fewer PBKDF2 iterations than
   * new keys get — the 2,048 of versions before 2026-12 — encrypted again at the current count, each
   * replaced by one statement guarded on the old value (as the CA keys are: `openjpki ca rewrap-keys`).
   */
  async rewrapStoredKeys(): Promise<{ id: string; rewrapped: boolean }[]> {
    return rewrapKeyTable(this.db, "terminal_keys", (row) => this.keyWrapping.rewrap(row.private_key_pem, row.id === CA_ID ? "terminal CA" : `terminal ${row.id}`));
  }
}
