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
import { decryptPrivateKey, encryptPrivateKey } from "./keystore.ts";
import type { Clock } from "./clock.ts";

const CA_ID = "terminal-ca";

/**
 * The terminal CA and the terminals it certified. Every card is manufactured trusting this
 * CA's key; a counter terminal may then run all issuer commands on it, a kiosk terminal only
 * the PIN reset. Keys are stored encrypted under the CA passphrase.
 */
export class Terminals {
  #ca: TerminalCa | undefined;
  readonly #credentials = new Map<string, TerminalCredentials>();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly passphrase: string,
    private readonly clock: Clock,
  ) {}

  async ca(): Promise<TerminalCa> {
    if (this.#ca) return this.#ca;
    let row = await this.db.selectFrom("terminal_keys").selectAll().where("id", "=", CA_ID).executeTakeFirst();
    if (!row) {
      const now = this.clock();
      const created = await createTerminalCa({
        name: "OpenJPKI Terminal CA",
        notBefore: new Date(now.getTime() - 60_000),
        notAfter: new Date(now.getTime() + 20 * 365 * 86_400_000),
      });
      await this.db
        .insertInto("terminal_keys")
        .values({
          id: CA_ID,
          role: "ca",
          office: null,
          certificate_der: created.certificateDer,
          private_key_pem: encryptPrivateKey(created.privateKey, this.passphrase),
          created_at: now.toISOString(),
        })
        .onConflict((oc) => oc.column("id").doNothing())
        .execute();
      row = await this.db.selectFrom("terminal_keys").selectAll().where("id", "=", CA_ID).executeTakeFirstOrThrow();
    }
    const privateKey = decryptPrivateKey(row.private_key_pem, this.passphrase, "terminal CA");
    const publicKey = createPublicKey(privateKey);
    const certificateDer = bytes(row.certificate_der);
    this.#ca = {
      privateKey,
      publicKey,
      publicKeyDer: new Uint8Array(publicKey.export({ type: "spki", format: "der" })),
      certificateDer,
      name: new X509Certificate(certificateDer).subject,
    };
    return this.#ca;
  }

  /** The credentials of a terminal (made and certified on first use). */
  async terminal(id: string, role: TerminalRole, office?: string): Promise<TerminalCredentials> {
    const cached = this.#credentials.get(id);
    if (cached) return cached;
    let row = await this.db.selectFrom("terminal_keys").selectAll().where("id", "=", id).executeTakeFirst();
    if (!row) {
      const now = this.clock();
      const made = await createTerminalCredentials(await this.ca(), {
        role,
        name: id,
        notBefore: new Date(now.getTime() - 60_000),
        notAfter: new Date(now.getTime() + 5 * 365 * 86_400_000),
      });
      await this.db
        .insertInto("terminal_keys")
        .values({
          id,
          role,
          office: office ?? null,
          certificate_der: made.certificateDer,
          private_key_pem: encryptPrivateKey(made.privateKey, this.passphrase),
          created_at: now.toISOString(),
        })
        .onConflict((oc) => oc.column("id").doNothing())
        .execute();
      row = await this.db.selectFrom("terminal_keys").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
    }
    if (row.role !== role) throw new Error(`terminal ${id} is a ${row.role} terminal, not ${role}`);
    const credentials: TerminalCredentials = {
      role,
      privateKey: decryptPrivateKey(row.private_key_pem, this.passphrase, `terminal ${id}`),
      certificateDer: bytes(row.certificate_der),
    };
    this.#credentials.set(id, credentials);
    return credentials;
  }
}
