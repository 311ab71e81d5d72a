import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { Kysely } from "kysely";
import type { Database, IssuanceClientTable } from "../store/schema.ts";
import { freeText } from "./free-text.ts";
import { ServiceError } from "./errors.ts";
import type { Clock } from "./clock.ts";
import type { Registry } from "./registry.ts";
import { appendAudit, CLI_OPERATOR, type Actor } from "./audit.ts";

export interface IssuanceClient {
  id: string;
  name: string;
  /** The municipality whose residents this client may have certificates issued for. */
  municipality: string;
  createdAt: string;
  active: boolean;
}

const KEY_PREFIX = "oji_";
const ID_PATTERN = /^I-[0-9A-F]{10}$/;
/**
 * How long an authenticated key is taken on trust before the store is asked again. Every request
 * carries the key, and the lookup would be a good part of an issuance's cost; deactivating a
 * client ends its key at once in this process and within this time in any other.
 */
export const AUTHENTICATION_CACHE_MS = 5000;
const AUTHENTICATION_CACHE_SIZE = 1000;

/**
 * Registered issuance clients: the municipal systems (市区町村の交付システム) that ask the CA for
 * certificates over the API, each for the residents of one municipality. As with registered
 * verifiers, an API key is 32 random bytes shown once; only its SHA-256 is stored, and a client
 * can be deactivated, which ends its key at once.
 */
export class IssuanceClients {
  /** Key hash → the client and when (monotonic ms) to look again. Only successful lookups are kept. */
  readonly #authenticated = new Map<string, { client: IssuanceClient; until: number }>();
  /** Bumped by every deactivation once committed: a lookup begun before it is not cached. */
  #deactivations = 0;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly registry: Registry,
    private readonly clock: Clock,
  ) {}

  async add(input: { name: string; municipality: string }, actor: Actor = CLI_OPERATOR): Promise<IssuanceClient & { apiKey: string }> {
    // One line of free text: no control characters (a newline or an escape sequence would forge
    // lines of `issuance-client list`), no bidi overrides, at most 200 characters.
    const name = freeText(input.name, "name", 200);
    const municipality = await this.registry.municipality(input.municipality);
    const apiKey = `${KEY_PREFIX}${randomBytes(32).toString("base64url")}`;
    const id = `I-${randomBytes(5).toString("hex").toUpperCase()}`;
    const createdAt = this.clock().toISOString();
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto("issuance_clients")
        .values({ id, name, municipality_code: municipality.code, key_hash: hashKey(apiKey), created_at: createdAt, active: 1 })
        .execute();
      await appendAudit(trx, actor, { action: "issuance-client.add", subject: id, after: { name, municipality: municipality.code } }, new Date(createdAt));
    });
    return { id, name, municipality: municipality.code, createdAt, active: true, apiKey };
  }

  async list(): Promise<IssuanceClient[]> {
    const rows = await this.db.selectFrom("issuance_clients").selectAll().orderBy("created_at").orderBy("id").execute();
    return rows.map(toClient);
  }

  /** Deactivate a client: its key stops working on the next request. */
  async deactivate(id: string, actor: Actor = CLI_OPERATOR): Promise<IssuanceClient> {
    if (!ID_PATTERN.test(id)) throw new ServiceError("invalid-input", `id: 発行クライアントの ID ではありません（I- と16進10桁） / ${JSON.stringify(id)} is not an issuance client id (I- and 10 hexadecimal digits, as openjpki issuance-client list shows)`, "id");
    const deactivated = await this.db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom("issuance_clients").selectAll().where("id", "=", id).executeTakeFirst();
      if (!row) throw new ServiceError("not-found", `id: 発行クライアント ${id} はありません / no issuance client ${id}`, "id");
      if (row.active !== 1) throw new ServiceError("conflict", `id: 発行クライアント ${id} は既に無効です / issuance client ${id} is already inactive`, "id");
      await trx.updateTable("issuance_clients").set({ active: 0 }).where("id", "=", id).execute();
      await appendAudit(trx, actor, { action: "issuance-client.deactivate", subject: id, before: { active: true }, after: { active: false } }, this.clock());
      return { client: toClient({ ...row, active: 0 }), keyHash: row.key_hash };
    });
    // Only once committed: a lookup that read the row still active (before the commit, or while
    // it ran) neither stays in the cache nor is put there when it finishes.
    this.#deactivations++;
    this.#authenticated.delete(deactivated.keyHash);
    return deactivated.client;
  }

  /** The active client holding this key, or undefined. */
  async authenticate(apiKey: string): Promise<IssuanceClient | undefined> {
    if (typeof apiKey !== "string" || !apiKey.startsWith(KEY_PREFIX) || apiKey.length > 100) return undefined;
    const hash = hashKey(apiKey);
    const cached = this.#authenticated.get(hash);
    if (cached && cached.until > performance.now()) return cached.client;
    const deactivations = this.#deactivations;
    const row = await this.db.selectFrom("issuance_clients").selectAll().where("key_hash", "=", hash).executeTakeFirst();
    // The lookup is by hash; compare again in constant time so timing says nothing about near misses.
    if (!row || row.active !== 1 || !timingSafeEqual(Buffer.from(row.key_hash), Buffer.from(hash))) {
      this.#authenticated.delete(hash);
      return undefined;
    }
    const client = Object.freeze(toClient(row));
    if (deactivations !== this.#deactivations) return client; // a deactivation committed meanwhile: answer, but do not keep
    if (this.#authenticated.size >= AUTHENTICATION_CACHE_SIZE) this.#authenticated.clear();
    this.#authenticated.set(hash, { client, until: performance.now() + AUTHENTICATION_CACHE_MS });
    return client;
  }
}

function toClient(row: IssuanceClientTable): IssuanceClient {
  return { id: row.id, name: row.name, municipality: row.municipality_code, createdAt: row.created_at, active: row.active === 1 };
}

function hashKey(apiKey: string): string {
  return createHash("sha256").update(apiKey).digest("hex");
}
