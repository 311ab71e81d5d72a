import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { Kysely } from "kysely";
import type { Database } from "../store/schema.ts";
import type { CaType } from "../pki/jpki-profile.ts";
import type { Settings } from "../config/defaults.ts";
import { freeText } from "./free-text.ts";
import { ServiceError } from "./errors.ts";
import type { Clock } from "./clock.ts";
import { appendAudit, CLI_OPERATOR, type Actor } from "./audit.ts";

export interface Verifier {
  id: string;
  name: string;
  createdAt: string;
  active: boolean;
}

export interface LookupReportRow {
  verifierId: string;
  verifierName: string;
  type: CaType;
  kind: "ocsp" | "crl";
  month: string;
  lookups: number;
  feeYen: number;
}

/**
 * Registered verifiers (署名検証者・利用者証明検証者): as in the real service, revocation data
 * goes to parties registered in advance, each lookup counted for the per-lookup fee. API keys
 * are random 32-byte values shown once; only their SHA-256 is stored.
 */
export class Verifiers {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly settings: Settings,
    private readonly clock: Clock,
  ) {}

  async add(name: string, actor: Actor = CLI_OPERATOR): Promise<Verifier & { apiKey: string }> {
    // One line of free text, as an issuance client's name: a newline, an escape sequence or a
    // bidi override would forge lines of `verifier list` and the fee report.
    const trimmed = freeText(name, "name", 200);
    const apiKey = `ojv_${randomBytes(32).toString("base64url")}`;
    const id = `V-${randomBytes(5).toString("hex").toUpperCase()}`;
    const createdAt = this.clock().toISOString();
    await this.db.transaction().execute(async (trx) => {
      await trx.insertInto("verifiers").values({ id, name: trimmed, key_hash: hashKey(apiKey), created_at: createdAt, active: 1 }).execute();
      await appendAudit(trx, actor, { action: "verifier.add", subject: id, after: { name: trimmed } }, new Date(createdAt));
    });
    return { id, name: trimmed, createdAt, active: true, apiKey };
  }

  async list(): Promise<Verifier[]> {
    const rows = await this.db.selectFrom("verifiers").selectAll().orderBy("created_at").execute();
    return rows.map((r) => ({ id: r.id, name: r.name, createdAt: r.created_at, active: r.active === 1 }));
  }

  /** The active verifier holding this key, or undefined. */
  async authenticate(apiKey: string): Promise<Verifier | undefined> {
    if (apiKey.length < 10 || apiKey.length > 200) return undefined;
    const hash = hashKey(apiKey);
    const row = await this.db.selectFrom("verifiers").selectAll().where("key_hash", "=", hash).executeTakeFirst();
    // The lookup is by hash; compare again in constant time so timing says nothing about near misses.
    if (!row || row.active !== 1 || !timingSafeEqual(Buffer.from(row.key_hash), Buffer.from(hash))) return undefined;
    return { id: row.id, name: row.name, createdAt: row.created_at, active: true };
  }

  /** Count `n` lookups, durably, before the answer goes out. */
  async count(verifierId: string, type: CaType, kind: "ocsp" | "crl", n: number): Promise<void> {
    if (n <= 0) return;
    const month = japanMonth(this.clock());
    await this.db
      .insertInto("verifier_lookups")
      .values({ verifier_id: verifierId, ca_type: type, kind, month, count: n })
      .onConflict((oc) =>
        oc.columns(["verifier_id", "ca_type", "kind", "month"]).doUpdateSet((eb) => ({ count: eb("verifier_lookups.count", "+", n) })),
      )
      .execute();
  }

  async report(month?: string): Promise<LookupReportRow[]> {
    if (month !== undefined && !/^\d{4}-(0[1-9]|1[0-2])$/.test(month)) {
      throw new ServiceError("invalid-input", `month: expected YYYY-MM, not ${JSON.stringify(month)}`, "month");
    }
    let query = this.db
      .selectFrom("verifier_lookups")
      .innerJoin("verifiers", "verifiers.id", "verifier_lookups.verifier_id")
      .select(["verifier_id", "verifiers.name", "ca_type", "kind", "month", "count"])
      .orderBy("month")
      .orderBy("verifier_id")
      .orderBy("ca_type")
      .orderBy("kind");
    if (month) query = query.where("month", "=", month);
    const rows = await query.execute();
    return rows.map((r) => ({
      verifierId: r.verifier_id,
      verifierName: r.name,
      type: r.ca_type,
      kind: r.kind,
      month: r.month,
      lookups: Number(r.count),
      feeYen: Number(r.count) * this.settings.lookupFeeYen[r.ca_type],
    }));
  }
}

function hashKey(apiKey: string): string {
  return createHash("sha256").update(apiKey).digest("hex");
}

function japanMonth(now: Date): string {
  return new Date(now.getTime() + 9 * 3600_000).toISOString().slice(0, 7);
}
