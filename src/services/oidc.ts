import { createHmac, generateKeyPair, randomBytes } from "node:crypto";
import { promisify } from "node:util";
import type { Kysely } from "kysely";
import type { Database } from "../store/schema.ts";
import type { CardReader } from "../readers/reader.ts";
import type { KeyWrapping } from "./keystore.ts";
import type { PortalLogin } from "./portal-login.ts";
import { ServiceError } from "./errors.ts";
import { freeText } from "./free-text.ts";
import { appendAudit, CLI_OPERATOR, type Actor } from "./audit.ts";
import type { Clock } from "./clock.ts";
import { PeriodicSweep } from "./periodic-sweep.ts";

const generateRsa = promisify(generateKeyPair);

/** The row of `server_secrets` that holds the ID-token signing key (encrypted PKCS#8 PEM). */
const SIGNING_KEY = "oidc-signing-key";

/** The storage adapter oidc-provider asks for (its documented interface), on our store. */
export interface OidcAdapter {
  upsert(id: string, payload: Record<string, unknown>, expiresIn?: number): Promise<void>;
  find(id: string): Promise<Record<string, unknown> | undefined>;
  findByUserCode(userCode: string): Promise<Record<string, unknown> | undefined>;
  findByUid(uid: string): Promise<Record<string, unknown> | undefined>;
  /** Marks the row used; true for the one call that did, false when it already was (or is gone). */
  consume(id: string): Promise<boolean>;
  destroy(id: string): Promise<void>;
  revokeByGrantId(grantId: string): Promise<void>;
}

export interface OidcClientRegistration {
  clientId: string;
  clientSecret?: string;
  redirectUris: string[];
  name: string;
  subjectType: SubjectType;
}

/**
 * How a client sees the holder's subject: `pairwise` (the default) gives each relying party its
 * own, so two services cannot match their users by it (OIDC Core §8.1); `public` gives every
 * client the same, for a deployment whose services are meant to share one identifier.
 */
export type SubjectType = "pairwise" | "public";

/**
 * OpenID Connect around card login (like the Digital Agency's authentication app: authorization
 * code with PKCE S256). This module keeps the provider's state and secrets in our store, makes
 * the subject stable per certificate holder across renewals, and registers clients; the HTTP
 * side (src/http/oidc.ts) runs the well-kept `oidc-provider` library over it.
 */
export class Oidc {
  /** Anyone can start an authorization (an Interaction row): expired rows of every model go, at most once a minute. */
  readonly #sweep = new PeriodicSweep(60_000, async (now) => {
    await this.db.deleteFrom("oidc_payloads").where("expires_at", "<", now.toISOString()).execute();
  });

  constructor(
    private readonly db: Kysely<Database>,
    private readonly portal: PortalLogin,
    private readonly keyWrapping: KeyWrapping,
    private readonly clock: Clock,
  ) {}

  adapterFor = (model: string): OidcAdapter => {
    const db = this.db;
    const clock = this.clock;
    const sweep = this.#sweep;
    const row = (id: string) => db.selectFrom("oidc_payloads").selectAll().where("model", "=", model).where("id", "=", id);
    const live = (r: Database["oidc_payloads"] | undefined) => {
      if (!r || (r.expires_at && r.expires_at <= clock().toISOString())) return undefined;
      const payload = JSON.parse(r.payload) as Record<string, unknown>;
      return r.consumed_at ? { ...payload, consumed: Math.floor(new Date(r.consumed_at).getTime() / 1000) } : payload;
    };
    return {
      async upsert(id, payload, expiresIn) {
        const values = {
          model,
          id,
          payload: JSON.stringify(payload),
          grant_id: typeof payload.grantId === "string" ? payload.grantId : null,
          user_code: typeof payload.userCode === "string" ? payload.userCode : null,
          uid: typeof payload.uid === "string" ? payload.uid : null,
          expires_at: expiresIn ? new Date(clock().getTime() + expiresIn * 1000).toISOString() : null,
          consumed_at: null,
        };
        await db
          .insertInto("oidc_payloads")
          .values(values)
          .onConflict((oc) => oc.columns(["model", "id"]).doUpdateSet({ ...values }))
          .execute();
        await sweep.maybe(clock());
      },
      async find(id) {
        return live(await row(id).executeTakeFirst());
      },
      async findByUserCode(userCode) {
        return live(await db.selectFrom("oidc_payloads").selectAll().where("model", "=", model).where("user_code", "=", userCode).executeTakeFirst());
      },
      async findByUid(uid) {
        return live(await db.selectFrom("oidc_payloads").selectAll().where("model", "=", model).where("uid", "=", uid).executeTakeFirst());
      },
      async consume(id) {
        // Atomic: of two requests redeeming one authorization code at the same moment (both found it
        // unused), exactly one marks it; the other learns it was a reuse (src/http/oidc.ts).
        const taken = await db
          .updateTable("oidc_payloads")
          .set({ consumed_at: clock().toISOString() })
          .where("model", "=", model)
          .where("id", "=", id)
          .where("consumed_at", "is", null)
          .executeTakeFirst();
        return Number(taken.numUpdatedRows) === 1;
      },
      async destroy(id) {
        await db.deleteFrom("oidc_payloads").where("model", "=", model).where("id", "=", id).execute();
      },
      async revokeByGrantId(grantId) {
        await db.deleteFrom("oidc_payloads").where("grant_id", "=", grantId).execute();
      },
    };
  };

  /** A secret made once and kept in the store (all nodes share it). */
  private async secret(name: string, make: () => string | Promise<string>): Promise<string> {
    const found = await this.db.selectFrom("server_secrets").select("value").where("name", "=", name).executeTakeFirst();
    if (found) return found.value;
    const value = await make();
    await this.db
      .insertInto("server_secrets")
      .values({ name, value, created_at: this.clock().toISOString() })
      .onConflict((oc) => oc.column("name").doNothing())
      .execute();
    return (await this.db.selectFrom("server_secrets").select("value").where("name", "=", name).executeTakeFirstOrThrow()).value;
  }

  /** The ID-token signing key (RSA, encrypted under the CA passphrase) as a private JWK, and the cookie keys. */
  async keys(): Promise<{ jwks: { keys: Record<string, unknown>[] }; cookieKeys: string[] }> {
    const jwk = await this.signingJwk();
    const cookie = await this.secret("oidc-cookie-key", () => randomBytes(32).toString("base64url"));
    return { jwks: { keys: [jwk] }, cookieKeys: [cookie] };
  }

  /**
   * The signing key, made once in the store (all nodes share it) and never changed, so decrypted
   * once (≈0.2 s at the production PBKDF2 count) and kept; a failed read is tried again next time.
   */
  #signingJwk: Promise<Record<string, unknown>> | undefined;
  private signingJwk(): Promise<Record<string, unknown>> {
    this.#signingJwk ??= this.loadSigningJwk().catch((error: unknown) => {
      this.#signingJwk = undefined;
      throw error;
    });
    return this.#signingJwk;
  }

  private async loadSigningJwk(): Promise<Record<string, unknown>> {
    const stored = await this.secret(SIGNING_KEY, async () => this.keyWrapping.wrap((await generateRsa("rsa", { modulusLength: 2048 })).privateKey));
    // A key just written comes back without a derivation (unless another node's won).
    const key = await this.keyWrapping.unwrap(stored, "OIDC signing");
    const jwk = key.export({ format: "jwk" }) as Record<string, unknown>;
    const kid = createHmac("sha256", "kid").update(String(jwk.n)).digest("base64url").slice(0, 16);
    return { ...jwk, kid, use: "sig", alg: "RS256" };
  }

  /**
   * The signing key, when stored at fewer PBKDF2 iterations than new keys get (the 2,048 of versions
   * before 2026-12), encrypted again at the current count in one statement guarded on the old value
   * (as the CA keys are: `openjpki ca rewrap-keys`). Empty when no key was made yet.
   */
  async rewrapStoredKeys(): Promise<{ id: string; rewrapped: boolean }[]> {
    const row = await this.db.selectFrom("server_secrets").select("value").where("name", "=", SIGNING_KEY).executeTakeFirst();
    if (!row) return [];
    const stronger = await this.keyWrapping.rewrap(row.value, "OIDC signing");
    let rewrapped = false;
    if (stronger) {
      const updated = await this.db.updateTable("server_secrets").set({ value: stronger }).where("name", "=", SIGNING_KEY).where("value", "=", row.value).executeTakeFirst();
      rewrapped = Number(updated.numUpdatedRows) === 1;
    }
    return [{ id: SIGNING_KEY, rewrapped }];
  }

  /**
   * The OIDC subject of a holder: an HMAC of the resident, so it stays the same when the card or
   * its certificates are renewed, and says nothing about the person.
   */
  async subjectFor(residentId: string): Promise<string> {
    return createHmac("sha256", await this.subjectSalt()).update(residentId).digest("base64url");
  }

  /** The salt of every subject: made once in the store (all nodes share it) and never changed, so read once. */
  #subjectSalt: Promise<string> | undefined;
  private subjectSalt(): Promise<string> {
    this.#subjectSalt ??= this.secret("oidc-subject-salt", () => randomBytes(32).toString("base64url")).catch((error: unknown) => {
      this.#subjectSalt = undefined; // a failed read is tried again next time
      throw error;
    });
    return this.#subjectSalt;
  }

  /**
   * A pairwise client's view of a subject (OIDC Core §8.1): keyed by the client's sector (the host
   * of its redirect URIs), so clients of one sector share it and no two sectors can link theirs.
   */
  async pairwiseSubject(subject: string, sectorIdentifier: string): Promise<string> {
    return createHmac("sha256", await this.subjectSalt()).update(`pairwise\0${sectorIdentifier}\0${subject}`).digest("base64url");
  }

  /**
   * Card login (challenge–response, path, OCSP) for an interaction. The provider's account is the
   * authentication certificate the card logged in with (its serial), so that every later use of
   * the login — single sign-on, a token, userinfo — goes through {@link account} and stops the
   * moment that certificate is revoked, put on hold or expires.
   */
  async loginWithCard(reader: CardReader, pin: string): Promise<{ accountId: string; serialHex: string }> {
    // The card's proof only: the provider keeps the login (its session); a portal session opened
    // here would lie in the store for 30 minutes, a credential no one was given.
    const session = await this.portal.proveWithCard(reader, pin);
    if (!(await this.account(session.serialHex))) {
      throw new ServiceError("refused", "この電子証明書は登録されていません / unknown certificate", "card", { reason: "unknown-certificate" });
    }
    return { accountId: session.serialHex, serialHex: session.serialHex };
  }

  /**
   * The provider's account for a certificate serial while that certificate is valid (issued by
   * us, not revoked, not on hold, not expired); undefined otherwise, which makes the provider
   * ask for the card again and refuse tokens. Its one claim is the holder's stable subject.
   */
  async account(serialHex: string): Promise<{ accountId: string; claims: () => Promise<{ sub: string }> } | undefined> {
    if (typeof serialHex !== "string" || !/^[0-9A-F]{1,40}$/.test(serialHex)) return undefined;
    const row = await this.db
      .selectFrom("certificates")
      .select(["resident_id", "status", "not_after"])
      .where("ca_type", "=", "auth")
      .where("serial_hex", "=", serialHex)
      .executeTakeFirst();
    if (!row || row.status !== "valid" || new Date(row.not_after).getTime() <= this.clock().getTime()) return undefined;
    const sub = await this.subjectFor(row.resident_id);
    return { accountId: serialHex, claims: async () => ({ sub }) };
  }

  /**
   * Register a relying party (client) allowed to use card login. Confidential unless `public`;
   * its subjects pairwise unless `subjectType` says public (see SubjectType).
   */
  async registerClient(input: { name: string; redirectUris: string[]; public?: boolean; subjectType?: SubjectType }, actor: Actor = CLI_OPERATOR): Promise<OidcClientRegistration> {
    const subjectType = input.subjectType ?? "pairwise";
    // One line of free text, as issuance clients' and verifiers' names (it is listed, one client a line).
    const name = freeText(input.name, "name", 200);
    if (input.redirectUris.length === 0) throw new ServiceError("invalid-input", "redirect-uri: リダイレクト URI を1つ以上指定してください / at least one", "redirect-uri");
    for (const uri of input.redirectUris) {
      let url: URL;
      try {
        url = new URL(uri);
      } catch {
        throw new ServiceError("invalid-input", `redirect-uri: ${JSON.stringify(uri)} is not a URL`, "redirect-uri");
      }
      if (url.hash || !/^https?:$/.test(url.protocol)) throw new ServiceError("invalid-input", `redirect-uri: ${uri} must be http(s) without a fragment`, "redirect-uri");
      // A public client proves nothing at the token endpoint: its code may travel in clear only to
      // the user's own machine (OIDC Core §3.1.2.1 allows http to confidential clients; RFC 8252 §7.3 loopback).
      if (input.public && url.protocol === "http:" && !["127.0.0.1", "[::1]", "localhost"].includes(url.hostname)) {
        throw new ServiceError("invalid-input", `redirect-uri: ${uri}: a public client's redirect URI uses https, or http only to the loopback address (127.0.0.1, [::1], localhost)`, "redirect-uri");
      }
    }
    // The sector of a pairwise client is its redirect URIs' host: with several hosts it would take
    // a sector_identifier_uri document, which this registration does not offer.
    const hosts = new Set(input.redirectUris.map((uri) => new URL(uri).host));
    if (subjectType === "pairwise" && hosts.size > 1) {
      throw new ServiceError("invalid-input", `redirect-uri: a pairwise client's redirect URIs share one host (here ${[...hosts].join(", ")}); register one client per host, or public subjects`, "redirect-uri");
    }
    const clientId = `rp_${randomBytes(9).toString("base64url")}`;
    const clientSecret = input.public ? undefined : randomBytes(32).toString("base64url");
    const metadata = {
      client_id: clientId,
      client_name: name,
      redirect_uris: input.redirectUris,
      grant_types: ["authorization_code"],
      response_types: ["code"],
      subject_type: subjectType,
      ...(clientSecret ? { client_secret: clientSecret, token_endpoint_auth_method: "client_secret_basic" } : { token_endpoint_auth_method: "none" }),
    };
    await this.db.transaction().execute(async (trx) => {
      await trx.insertInto("oidc_payloads").values({ model: "Client", id: clientId, payload: JSON.stringify(metadata), grant_id: null, user_code: null, uid: null, expires_at: null, consumed_at: null }).execute();
      await appendAudit(trx, actor, { action: "oidc.client.add", subject: clientId, after: { name, redirectUris: input.redirectUris, public: !clientSecret, subjectType } }, this.clock());
    });
    return { clientId, ...(clientSecret ? { clientSecret } : {}), redirectUris: input.redirectUris, name, subjectType };
  }

  /** The registered relying parties, oldest first by id order of the store; never their secrets. */
  async listClients(): Promise<OidcClientSummary[]> {
    const rows = await this.db.selectFrom("oidc_payloads").select(["id", "payload"]).where("model", "=", "Client").orderBy("id").execute();
    return rows.map((row) => {
      const meta = JSON.parse(row.payload) as { client_name?: string; redirect_uris?: string[]; token_endpoint_auth_method?: string; subject_type?: SubjectType };
      return {
        clientId: row.id,
        name: meta.client_name ?? "",
        redirectUris: meta.redirect_uris ?? [],
        public: meta.token_endpoint_auth_method === "none",
        // Clients registered before pairwise subjects existed have none: they keep the public subject.
        subjectType: meta.subject_type ?? "public",
      };
    });
  }
}

/** A registered relying party as `oidc client list` shows it. */
export interface OidcClientSummary {
  clientId: string;
  name: string;
  redirectUris: string[];
  public: boolean;
  subjectType: SubjectType;
}
