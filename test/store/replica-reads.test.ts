// OCSP status reads through a PostgreSQL hot standby (src/store/replica-reads.ts), against a
// private primary and a real streaming standby: the reads go to the standby when it is recent
// enough, a revocation by this node shows at once, one by another node within the lag bound even
// while the standby's replay is paused (and never pins a stale "good") and under a heavy write
// load from other sessions, a standby that is down costs a fallback, not a hang, and a standby of
// another cluster or bad settings are refused.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { Context } from "../../src/services/context.ts";
import { fixedClock } from "../../src/services/clock.ts";
import { certIdFor, ocspIssuerFromCertificate } from "../../src/pki/ocsp.ts";
import type { CaType } from "../../src/pki/jpki-profile.ts";
import { parseLsn, STANDBY_APPLICATION_NAME } from "../../src/store/replica-reads.ts";
import { TEST_PASSPHRASE } from "../helpers/context.ts";
import { testPublicKeys } from "../helpers/keys.ts";
import { readAnswer, requestDer } from "../helpers/ocsp.ts";
import { spawnServe } from "../helpers/serve.ts";
import { privateReplication, type PrivateReplication } from "../helpers/pg-standby.ts";
import { notRevokedAfter, timedRead, wentBackInTime, type TimedRead } from "../helpers/read-timeline.ts";

const MAX_LAG_MS = 200;
const NOW = new Date("2026-04-01T03:00:00Z");
/** The schema the nodes work in: the standby must be given the primary's search_path. */
const SCHEMA = "replica_test";

describe("OCSP status reads through a PostgreSQL hot standby", () => {
  let replication: PrivateReplication;
  let dataDir: string;
  const opened: Context[] = [];
  let standbyClient: pg.Client;
  let primaryClient: pg.Client;

  /** What the nodes told the operator. */
  const logged: string[] = [];
  const open = async (env: NodeJS.ProcessEnv = {}, databaseUrl?: string) => {
    const context = await Context.open({
      dataDir,
      databaseUrl: databaseUrl ?? replication.primaryUrl,
      databaseSchema: SCHEMA,
      env: { OPENJPKI_CA_PASSPHRASE: TEST_PASSPHRASE, ...env },
      clock: fixedClock(NOW),
      log: (line) => logged.push(line),
    });
    opened.push(context);
    return context;
  };
  /** The test's own connection to the standby (the standby is stopped once: its end is expected). */
  const connectStandby = async () => {
    standbyClient = new pg.Client({ connectionString: replication.standbyUrl });
    standbyClient.on("error", () => {});
    await standbyClient.connect();
  };
  const withReplica = (lag = MAX_LAG_MS) => open({ OPENJPKI_DATABASE_REPLICA_URL: replication.standbyUrl, OPENJPKI_DATABASE_REPLICA_MAX_LAG_MS: String(lag) });

  /** Wait until the standby has replayed everything the primary had written when this was called. */
  const caughtUp = async () => {
    const target = parseLsn((await primaryClient.query("select pg_current_wal_flush_lsn()::text as lsn")).rows[0].lsn)!;
    for (let i = 0; i < 1000; i++) {
      const replayed = parseLsn((await standbyClient.query("select pg_last_wal_replay_lsn()::text as lsn")).rows[0].lsn)!;
      if (replayed >= target) return;
      await sleep(10);
    }
    throw new Error("the standby did not catch up in 10 s");
  };
  const issue = async (node: Context, type: CaType, i: number) => {
    const resident = await node.registry.add({ name: `複製 太郎${i}`, birth: "1980-04-01", gender: "1", address: "東京都町田市森野２－２－２２", municipality: "132098" });
    return (await node.ca.issue({ type, residentId: resident.id, subjectPublicKey: testPublicKeys(i + 1)[i]! })).serialHex;
  };
  /** A cacheable (no nonce) request, the form whose "good" the responder caches under the CA's revocation version. */
  const ask = async (node: Context, type: CaType, serialHex: string, nonce = false) => {
    const certId = certIdFor(ocspIssuerFromCertificate(node.ca.authority(type).certificateDer), Buffer.from(serialHex, "hex"));
    return readAnswer((await node.ocsp.answer(requestDer(certId, { nonce }), type)).der).status;
  };

  before(async () => {
    replication = await privateReplication();
    dataDir = mkdtempSync(join(tmpdir(), "openjpki-replica-"));
    primaryClient = new pg.Client({ connectionString: replication.primaryUrl });
    await primaryClient.connect();
    await connectStandby();
  });
  after(async () => {
    for (const context of opened) await context.close().catch(() => {});
    await primaryClient?.end();
    await standbyClient?.end().catch(() => {});
    replication?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  test("status reads go to the standby once it has replayed recent enough a primary position", async () => {
    // The standby URL's own session options are kept, and the schema is added to them.
    const node = await open({ OPENJPKI_DATABASE_REPLICA_URL: `${replication.standbyUrl}?options=-c%20work_mem%3D8MB`, OPENJPKI_DATABASE_REPLICA_MAX_LAG_MS: String(MAX_LAG_MS) });
    const reads = node.store.replicaReads!;
    assert.ok(reads, "the store routes status reads");
    const serial = await issue(node, "sign", 0);
    await caughtUp();
    const before = reads.stats.standby;
    for (let i = 0; i < 50 && reads.stats.standby === before; i++) {
      assert.equal(await ask(node, "sign", serial, true), "good");
      await sleep(20);
    }
    assert.ok(reads.stats.standby > before, `some reads were answered by the standby (${JSON.stringify(reads.stats)})`);
    const { rows } = await standbyClient.query("select count(*)::int as n from pg_stat_activity where application_name = $1", [STANDBY_APPLICATION_NAME]);
    assert.ok(rows[0].n > 0, "the standby itself holds the node's status-read connections");
  });

  test("this node's revocation shows at once, even while the standby's replay is paused", async () => {
    const node = await withReplica();
    const serial = await issue(node, "auth", 1);
    await caughtUp();
    assert.equal(await ask(node, "auth", serial), "good");
    assert.equal(await ask(node, "auth", serial), "good", "cached, vouched for by the revocation version");
    await standbyClient.query("select pg_wal_replay_pause()");
    try {
      await node.ca.revoke({ type: "auth", serialHex: serial, reason: "keyCompromise", by: "operator" });
      assert.equal(await ask(node, "auth", serial), "revoked", "the very next answer");
      assert.equal(await ask(node, "auth", serial, true), "revoked");
      // In-process checks (logins, the kiosk) read the primary: a certificate issued a moment ago is known at once.
      const fresh = await issue(node, "auth", 7);
      const routed = () => node.store.replicaReads!.stats.standby + node.store.replicaReads!.stats.primary;
      const before = routed();
      const certId = certIdFor(ocspIssuerFromCertificate(node.ca.authority("auth").certificateDer), Buffer.from(fresh, "hex"));
      assert.equal(readAnswer((await node.ocsp.answer(requestDer(certId, { nonce: true }), "auth", { primary: true })).der).status, "good");
      assert.equal(routed(), before, "not routed: read on the primary directly");
    } finally {
      await standbyClient.query("select pg_wal_replay_resume()");
    }
  });

  test("'unknown' from a standby recent enough but without the row yet is asked of the primary again", async () => {
    const node = await withReplica(60_000); // a wide bound: the paused standby still qualifies
    const other = await open();
    await caughtUp();
    await sleep(50);
    await standbyClient.query("select pg_wal_replay_pause()");
    try {
      const serial = await issue(other, "sign", 10); // on the primary only
      const standbyBefore = node.store.replicaReads!.stats.standby;
      assert.equal(await ask(node, "sign", serial, true), "good", "not 'unknown' from the standby");
      assert.equal(node.store.replicaReads!.stats.standby, standbyBefore + 1, "the standby did answer (without the row)");
    } finally {
      await standbyClient.query("select pg_wal_replay_resume()");
    }
  });

  test("what the primary showed after a standby's 'unknown' is not taken back by the next standby read", async () => {
    const node = await withReplica(60_000); // a wide bound: the paused standby still qualifies
    const other = await open();
    const known = await issue(other, "sign", 11);
    await caughtUp();
    await sleep(50);
    await standbyClient.query("select pg_wal_replay_pause()");
    try {
      await other.ca.revoke({ type: "sign", serialHex: known, reason: "keyCompromise", by: "operator" });
      const fresh = await issue(other, "sign", 12); // on the primary only
      assert.equal(await ask(node, "sign", fresh, true), "good", "the standby did not know it: asked of the primary");
      // That primary read saw the revocation: the standby, paused before it, must not answer next.
      const behind = node.store.replicaReads!.stats.standbyBehind;
      assert.equal(await ask(node, "sign", known, true), "revoked");
      assert.equal(node.store.replicaReads!.stats.standbyBehind, behind + 1, "the standby was passed over");
    } finally {
      await standbyClient.query("select pg_wal_replay_resume()");
    }
  });

  test("another node's revocation: never 'good' once the lag bound has passed, and no stale 'good' pinned after the standby catches up", async () => {
    const node = await withReplica();
    const other = await open(); // another HTTP node, writing to the primary
    const [revoked, stays] = [await issue(node, "sign", 2), await issue(node, "sign", 3)];
    await caughtUp();
    for (const serial of [revoked, stays]) {
      assert.equal(await ask(node, "sign", serial), "good");
      assert.equal(await ask(node, "sign", serial), "good"); // now cached under the current version
    }
    const behindBefore = node.store.replicaReads!.stats.standbyBehind;
    await standbyClient.query("select pg_wal_replay_pause()");
    let revokedAt: number;
    try {
      await other.ca.revoke({ type: "sign", serialHex: revoked, reason: "keyCompromise", by: "operator" });
      revokedAt = performance.now();
      // Ask continuously for a while: an answer that began more than the bound after the
      // revocation must say revoked (before that, the standby may still say good).
      const late: string[] = [];
      while (performance.now() - revokedAt < 4 * MAX_LAG_MS) {
        const began = performance.now();
        const status = await ask(node, "sign", revoked);
        if (began - revokedAt > MAX_LAG_MS && status !== "revoked") late.push(`${Math.round(began - revokedAt)} ms: ${status}`);
        assert.equal(await ask(node, "sign", stays), "good");
        await sleep(5);
      }
      assert.deepEqual(late, [], "no 'good' after the lag bound");
      assert.ok(node.store.replicaReads!.stats.standbyBehind > behindBefore, "the paused standby was seen to be behind, and passed over");
    } finally {
      await standbyClient.query("select pg_wal_replay_resume()");
    }
    await caughtUp();
    await sleep(2 * MAX_LAG_MS);
    for (let i = 0; i < 10; i++) assert.equal(await ask(node, "sign", revoked), "revoked", "still revoked once the standby serves again");
    assert.equal(await ask(node, "sign", stays), "good");
  });

  test("under steady concurrent load, reads return to the standby after a fallback (own revocation, replay paused a moment)", { timeout: 60_000 }, async () => {
    const node = await withReplica();
    const reads = node.store.replicaReads!;
    const serials = [await issue(node, "auth", 8), await issue(node, "auth", 9)];
    await caughtUp();
    let running = true;
    const load = Promise.all(
      Array.from({ length: 16 }, async (_, i) => {
        while (running) await ask(node, "auth", serials[i % 2]!, true);
      }),
    );
    /** Wait (under the load) until some reads have been answered by the standby again. */
    const standbyServesAgain = async (what: string) => {
      const before = reads.stats.standby;
      for (let i = 0; i < 200 && reads.stats.standby < before + 20; i++) await sleep(25);
      assert.ok(reads.stats.standby >= before + 20, `${what}: the standby serves again under load (${JSON.stringify(reads.stats)})`);
    };
    try {
      await standbyServesAgain("at first");
      await node.ca.revoke({ type: "auth", serialHex: serials[1]!, reason: "keyCompromise", by: "operator" });
      await standbyServesAgain("after this node's revocation");
      await standbyClient.query("select pg_wal_replay_pause()");
      await sleep(3 * MAX_LAG_MS);
      await standbyClient.query("select pg_wal_replay_resume()");
      await standbyServesAgain("after the standby fell behind");
    } finally {
      running = false;
      await load;
      await standbyClient.query("select pg_wal_replay_resume()");
    }
  });

  test("under a heavy write load on the primary (other sessions committing as fast as they can), reads stay on the standby and another node's revocation shows within the bound", { timeout: 60_000 }, async (t) => {
    // A 1 s bound (and so 1 s timeouts): on a busy shared host a standby checkout or read over
    // the default's 200 ms would send reads to the primary for a second, which is not what this
    // test is about.
    const lagMs = 1_000;
    const node = await withReplica(lagMs);
    const other = await open();
    const reads = node.store.replicaReads!;
    const serial = await issue(node, "sign", 10);
    await caughtUp();
    await primaryClient.query("create schema write_load; create table write_load.rows (id bigserial primary key, payload text)");
    let running = true;
    /** Sixteen status reads at a time straight from the store, each with when it began and ended. */
    const answers: TimedRead[] = [];
    const storeStatus = async () => (await node.store.certificateStatus("sign", serial))?.status ?? "unknown";
    const reading = Array.from({ length: 16 }, async () => {
      while (running) await timedRead(answers, storeStatus);
    });
    const writers: pg.Client[] = [];
    let writing: Promise<unknown>[] = [];
    let commits = 0;
    let revokedAt = Infinity;
    let measured: { before: typeof reads.stats; startedAt: number; endedAt: number } | undefined;
    try {
      // The standby pool's connections are opened first, before the load.
      const warm = reads.stats.standby;
      for (let i = 0; i < 200 && reads.stats.standby < warm + 32; i++) await sleep(10);
      // Eight sessions of some other application on the same primary, each committing small
      // rows one by one: every commit moves the primary's WAL position the standby must replay.
      for (let i = 0; i < 8; i++) {
        const client = new pg.Client({ connectionString: replication.primaryUrl });
        writers.push(client);
        await client.connect();
      }
      const before = { ...reads.stats };
      const startedAt = performance.now();
      writing = writers.map(async (client) => {
        while (running) {
          await client.query("insert into write_load.rows (payload) values (repeat('x', 200))");
          commits += 1;
        }
      });
      // At least 1.5 s of load and 1,000 commits before the revocation: on a busy shared host the
      // sessions commit more slowly, so the load is counted rather than timed (up to 30 s).
      const loadStart = performance.now();
      while ((performance.now() - loadStart < 1_500 || commits < 1_000) && performance.now() - loadStart < 30_000) await sleep(50);
      await other.ca.revoke({ type: "sign", serialHex: serial, reason: "keyCompromise", by: "operator" });
      revokedAt = performance.now();
      await sleep(lagMs + 500);
      measured = { before, startedAt, endedAt: performance.now() };
    } finally {
      running = false;
      const settled = await Promise.allSettled([...writing, ...reading]);
      for (const client of writers) await client.end().catch(() => {});
      await primaryClient.query("drop schema if exists write_load cascade");
      await caughtUp();
      const failed = settled.find((result) => result.status === "rejected");
      if (failed) throw (failed as PromiseRejectedResult).reason;
    }
    const { before, startedAt, endedAt } = measured;
    const delta = Object.fromEntries(Object.entries(reads.stats).map(([key, value]) => [key, value - before[key as keyof typeof before]]));
    t.diagnostic(`${Math.round(commits / ((endedAt - startedAt) / 1000))} commits/s by the other sessions; status reads: ${JSON.stringify(delta)}`);
    assert.ok(commits >= 1_000, `precondition: the other sessions committed (${commits})`);
    assert.deepEqual(notRevokedAfter(answers, revokedAt, lagMs), [], "no 'valid' (good) after the lag bound");
    assert.deepEqual(wentBackInTime(answers, revokedAt), [], "no read begun after a 'revoked' one ended says otherwise");
    assert.ok(delta.standby! > 4 * delta.primary!, `the standby answered most reads under the write load (${JSON.stringify(delta)})`);
  });

  test("a standby that is down costs a fallback to the primary, and is used again once back", async () => {
    const node = await withReplica();
    const reads = node.store.replicaReads!;
    const serial = await issue(node, "auth", 4);
    await caughtUp();
    const loggedBefore = logged.length;
    replication.stopStandby();
    try {
      const failedBefore = reads.stats.standbyFailed;
      for (let i = 0; i < 5; i++) {
        assert.equal(await ask(node, "auth", serial, true), "good");
        await sleep(2 * MAX_LAG_MS / 5);
      }
      assert.ok(reads.stats.standbyFailed > failedBefore, `the failures were counted (${JSON.stringify(reads.stats)})`);
      const told = logged.slice(loggedBefore).filter((line) => line.includes("a standby read failed"));
      assert.equal(told.length, 1, `told once, not once per read: ${told.join("\n")}`);
      assert.match(told[0]!, /^PostgreSQL スタンバイから読めません。1 秒はプライマリが答えます \/ a standby read failed, the primary answers for 1 s: /);
    } finally {
      replication.startStandby();
    }
    await standbyClient.end().catch(() => {});
    await connectStandby();
    await caughtUp();
    const standbyBefore = reads.stats.standby;
    for (let i = 0; i < 100 && reads.stats.standby === standbyBefore; i++) {
      assert.equal(await ask(node, "auth", serial, true), "good");
      await sleep(30); // the retry pause after a failure is 1 s
    }
    assert.ok(reads.stats.standby > standbyBefore, "the standby answers again");
  });

  test("a standby that hangs (connections and queries) costs a fallback within the timeouts, not a hang", { timeout: 60_000 }, async () => {
    const node = await withReplica();
    const reads = node.store.replicaReads!;
    const serial = await issue(node, "sign", 6);
    await caughtUp();
    await sleep(MAX_LAG_MS);
    assert.equal(await ask(node, "sign", serial, true), "good");
    replication.freezeStandby();
    try {
      const failedBefore = reads.stats.standbyFailed;
      // Without the timeouts the first of these would wait for the frozen standby for ever (and the test time out).
      for (let i = 0; i < 5; i++) assert.equal(await ask(node, "sign", serial, true), "good");
      assert.ok(reads.stats.standbyFailed > failedBefore, `the hang was counted as a failure (${JSON.stringify(reads.stats)})`);
    } finally {
      replication.thawStandby();
    }
  });

  test("refused at start: a 'standby' that is the primary, one of another cluster, one that does not answer, bad settings", async () => {
    await assert.rejects(open({ OPENJPKI_DATABASE_REPLICA_URL: replication.primaryUrl }), /not a standby \(it is not in recovery\)/);
    if (process.env.DATABASE_URL) {
      // The machine's own PostgreSQL: a different cluster (the standby's schema check comes later).
      await assert.rejects(open({ OPENJPKI_DATABASE_REPLICA_URL: process.env.DATABASE_URL }), /is not a copy of the primary: system identifier \d+, the primary's \d+/);
    }
    // The primary's schema set for its role (not in the URL): the standby, as another role, would read other tables.
    await primaryClient.query(`create role alt login superuser; alter role alt set search_path = ${SCHEMA}`);
    await assert.rejects(
      Context.open({
        dataDir,
        databaseUrl: replication.primaryUrl.replace("postgres@", "alt@"),
        env: { OPENJPKI_CA_PASSPHRASE: TEST_PASSPHRASE, OPENJPKI_DATABASE_REPLICA_URL: replication.standbyUrl },
        clock: fixedClock(NOW),
      }),
      /resolves the store's tables to others than the primary \(OIDs none, the primary's \d+,\d+\): give both the same schema/,
    );
    await assert.rejects(open({ OPENJPKI_DATABASE_REPLICA_URL: "postgres://postgres@127.0.0.1:1/postgres" }), /standby \(OPENJPKI_DATABASE_REPLICA_URL\) does not answer/);
    await assert.rejects(open({ OPENJPKI_DATABASE_REPLICA_URL: replication.standbyUrl, OPENJPKI_DATABASE_REPLICA_MAX_LAG_MS: "fast" }), /MAX_LAG_MS must be a whole number of milliseconds, not "fast"/);
    await assert.rejects(open({ OPENJPKI_DATABASE_REPLICA_URL: replication.standbyUrl, OPENJPKI_DATABASE_REPLICA_MAX_LAG_MS: "5" }), /from 50 to 60000, not 5/);
    await assert.rejects(open({ OPENJPKI_DATABASE_REPLICA_URL: "host=127.0.0.1 dbname=postgres" }), /must be a postgres:\/\/ or postgresql:\/\/ URL/);
    await assert.rejects(open({ OPENJPKI_DATABASE_REPLICA_MAX_LAG_MS: "100" }), /MAX_LAG_MS is set without OPENJPKI_DATABASE_REPLICA_URL/);
    const sqliteDir = mkdtempSync(join(tmpdir(), "openjpki-replica-sqlite-"));
    try {
      await assert.rejects(
        Context.open({ dataDir: sqliteDir, env: { OPENJPKI_CA_PASSPHRASE: TEST_PASSPHRASE, OPENJPKI_DATABASE_REPLICA_URL: replication.standbyUrl } }),
        /needs the PostgreSQL primary too \(OPENJPKI_DATABASE_URL\)/,
      );
    } finally {
      rmSync(sqliteDir, { recursive: true, force: true });
    }
  });

  test("`openjpki serve` with a standby says so at start and answers OCSP GET through it", async () => {
    const node = await withReplica();
    const serial = await issue(node, "sign", 5);
    await caughtUp();
    const server = await spawnServe({
      dataDir,
      env: {
        OPENJPKI_DATABASE_URL: `${replication.primaryUrl}?options=-c%20search_path%3D${SCHEMA}`,
        OPENJPKI_DATABASE_REPLICA_URL: replication.standbyUrl,
        OPENJPKI_DATABASE_REPLICA_MAX_LAG_MS: String(MAX_LAG_MS),
      },
    });
    try {
      assert.match(server.stdout(), new RegExp(`status reads: PostgreSQL スタンバイ（遅れ ${MAX_LAG_MS} ms まで、超えればプライマリ）/ standby, at most ${MAX_LAG_MS} ms behind, else the primary`));
      const certId = certIdFor(ocspIssuerFromCertificate(node.ca.authority("sign").certificateDer), Buffer.from(serial, "hex"));
      const response = await fetch(`${server.base}/ocsp/sign/${encodeURIComponent(Buffer.from(requestDer(certId)).toString("base64"))}`);
      assert.equal(response.status, 200);
      assert.equal(readAnswer(new Uint8Array(await response.arrayBuffer())).status, "good");
      await node.ca.revoke({ type: "sign", serialHex: serial, reason: "affiliationChanged", by: "operator" });
      await sleep(2 * MAX_LAG_MS);
      const after = await fetch(`${server.base}/ocsp/sign/${encodeURIComponent(Buffer.from(requestDer(certId)).toString("base64"))}`);
      assert.equal(readAnswer(new Uint8Array(await after.arrayBuffer())).status, "revoked", "another node's revocation, after the bound");
    } finally {
      await server.stop();
    }
  });

  test("parseLsn reads pg_lsn's text form and nothing else", () => {
    assert.equal(parseLsn("0/3000148"), 0x3000148n);
    assert.equal(parseLsn("1A/FF"), (0x1an << 32n) | 0xffn);
    assert.ok(parseLsn("1/0")! > parseLsn("0/FFFFFFFF")!);
    for (const bad of [null, undefined, "", "0/", "/1", "0/123456789", "g/1", "0/1 "]) assert.equal(parseLsn(bad), undefined, String(bad));
  });
});
