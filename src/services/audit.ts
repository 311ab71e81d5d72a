import { createHash } from "node:crypto";
import type { Kysely } from "kysely";
import type { AuditLogTable, Database } from "../store/schema.ts";

/** Who did something: a staff member at an office terminal, an operator at the CLI, the system. */
export interface Actor {
  actor: string;
  office?: string;
  terminal?: string;
}

export const CLI_OPERATOR: Actor = { actor: "operator:cli" };

export interface AuditEntry {
  action: string;
  subject: string;
  before?: unknown;
  after?: unknown;
}

const GENESIS = "0".repeat(64);

/**
 * The tamper-evident audit trail. Every state change appends a record in the same transaction
 * as the change; each record's hash covers its content and its predecessor's hash, and the
 * head row holds the last hash, so an edited, removed or reordered record — or a cut-off
 * tail — breaks the chain at a place `verify` names.
 */
export async function appendAudit(db: Kysely<Database>, actor: Actor, entry: AuditEntry, at: Date): Promise<number> {
  const [seq] = await appendAuditRecords(db, [{ actor, entry, at }]);
  return seq!;
}

/** One record to append: who, what, when. */
export interface AuditAppend {
  actor: Actor;
  entry: AuditEntry;
  at: Date;
}

/** Rows per INSERT statement: 12 columns each, well under SQLite's and PostgreSQL's parameter limits. */
const ROWS_PER_INSERT = 500;

/**
 * Append several records, in the given order, chained one to the next: the head is locked and
 * read once and written once however many records there are (group commit of issuances).
 * Returns their sequence numbers.
 */
export async function appendAuditRecords(db: Kysely<Database>, records: readonly AuditAppend[]): Promise<number[]> {
  if (records.length === 0) return [];
  // Taking the head row first serialises writers (a row lock on PostgreSQL; SQLite has one writer).
  // One statement creates it on the very first append, locks it, and reads it.
  const head = await db
    .insertInto("audit_head")
    .values({ id: 1, seq: 0, hash: GENESIS })
    .onConflict((oc) => oc.column("id").doUpdateSet((eb) => ({ seq: eb.ref("audit_head.seq") })))
    .returning(["seq", "hash"])
    .executeTakeFirstOrThrow();
  let seq = Number(head.seq);
  let prev = head.hash;
  const rows: AuditLogTable[] = records.map(({ actor, entry, at }) => {
    const record: Omit<AuditLogTable, "hash"> = {
      seq: ++seq,
      at: at.toISOString(),
      actor: actor.actor,
      office: actor.office ?? null,
      terminal: actor.terminal ?? null,
      action: entry.action,
      subject: entry.subject,
      before: entry.before === undefined ? null : JSON.stringify(entry.before),
      after: entry.after === undefined ? null : JSON.stringify(entry.after),
      prev_hash: prev,
    };
    prev = recordHash(record);
    return { ...record, hash: prev };
  });
  for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
    await db.insertInto("audit_log").values(rows.slice(i, i + ROWS_PER_INSERT)).execute();
  }
  await db.updateTable("audit_head").set({ seq, hash: prev }).where("id", "=", 1).execute();
  return rows.map((r) => r.seq);
}

/** SHA-256 over a fixed field order, so the hash does not depend on how a driver returns rows. */
export function recordHash(r: Omit<AuditLogTable, "hash">): string {
  const canonical = JSON.stringify([r.seq, r.at, r.actor, r.office, r.terminal, r.action, r.subject, r.before, r.after, r.prev_hash]);
  return createHash("sha256").update(canonical).digest("hex");
}

export type AuditVerification =
  | { ok: true; records: number; head: string }
  | { ok: false; records: number; firstBad: number; problem: string };

/** Where a walk of the chain may resume: how many records fit so far, and the last one's hash. */
export interface AuditCheckpoint {
  records: number;
  head: string;
}

/**
 * Walk the chain in order; report the first record that does not fit. Streams in pages. From a
 * checkpoint, only the records after it are walked (the ones before are taken as checked).
 */
export async function verifyAudit(db: Kysely<Database>, from?: AuditCheckpoint): Promise<AuditVerification> {
  let expectedSeq = (from?.records ?? 0) + 1;
  let prev = from?.head ?? GENESIS;
  let count = from?.records ?? 0;
  for (;;) {
    const page = await db.selectFrom("audit_log").selectAll().where("seq", ">=", expectedSeq).orderBy("seq").limit(5000).execute();
    for (const row of page) {
      const seq = Number(row.seq);
      if (seq !== expectedSeq) {
        return { ok: false, records: count, firstBad: expectedSeq, problem: `record ${expectedSeq} is missing (next is ${seq})` };
      }
      if (row.prev_hash !== prev) {
        return { ok: false, records: count, firstBad: seq, problem: `record ${seq} does not follow record ${seq - 1} (removed or reordered)` };
      }
      const { hash, ...content } = row;
      if (recordHash({ ...content, seq }) !== hash) {
        return { ok: false, records: count, firstBad: seq, problem: `record ${seq} was edited (its hash does not match its content)` };
      }
      prev = hash;
      expectedSeq = seq + 1;
      count++;
    }
    if (page.length < 5000) break;
  }
  const head = await db.selectFrom("audit_head").select(["seq", "hash"]).where("id", "=", 1).executeTakeFirst();
  if (head && (Number(head.seq) !== count || head.hash !== prev)) {
    return { ok: false, records: count, firstBad: count + 1, problem: `the chain ends at record ${count}, but ${Number(head.seq)} were written (records removed from the end)` };
  }
  return { ok: true, records: count, head: prev };
}

/** How long the audit page relies on its last walk of the whole chain, walking only the records after it. */
const WHOLE_CHAIN_EVERY_MS = 10 * 60_000;

const wholeChainWalks = new WeakMap<Kysely<Database>, { at: Date; checkpoint: AuditCheckpoint }>();

/**
 * The chain checked for the audit page. Walking it whole takes time in proportion to its length
 * (a minute for millions of records), so per store the whole chain is walked at most every
 * WHOLE_CHAIN_EVERY_MS; in between, only the records after the last walk's end. A break found
 * is never remembered: the next view walks the whole chain again. The CLI (`audit verify`) and
 * the API always walk it whole.
 */
export async function verifyAuditForPage(db: Kysely<Database>, now: Date): Promise<AuditVerification & { wholeChainCheckedAt: Date }> {
  const last = wholeChainWalks.get(db);
  const whole = !last || now.getTime() - last.at.getTime() >= WHOLE_CHAIN_EVERY_MS || now.getTime() < last.at.getTime();
  const result = await verifyAudit(db, whole ? undefined : last.checkpoint);
  const at = whole ? now : last.at;
  if (result.ok) wholeChainWalks.set(db, { at, checkpoint: { records: result.records, head: result.head } });
  else wholeChainWalks.delete(db);
  return { ...result, wholeChainCheckedAt: at };
}
