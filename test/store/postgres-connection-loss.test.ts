/**
 * PostgreSQL connections that the server closes — a restart, a failover, an idle timeout,
 * pg_terminate_backend — must cost at most the statements in flight on them, never the process:
 * node-postgres reports a lost connection as an "error" event, which ends a Node process when
 * nobody listens (it did, before the store listened: any PostgreSQL restart stopped
 * `openjpki serve`). Each test on the machine's PostgreSQL names its connections
 * (application_name) and has the server terminate exactly those; `openjpki serve` is run against
 * a private server of its own, which is restarted under it.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { sql } from "kysely";
import { dropPostgresSchema, openStore, type Store } from "../../src/store/database.ts";
import { Context } from "../../src/services/context.ts";
import { buildApp } from "../../src/http/app.ts";
import { TEST_PASSPHRASE } from "../helpers/context.ts";
import { testPublicKeys } from "../helpers/keys.ts";
import { spawnServe } from "../helpers/serve.ts";
import { readAnswer, requestDer } from "../helpers/ocsp.ts";
import { privateCluster } from "../helpers/pg-standby.ts";
import { certIdFor, ocspIssuerFromCertificate } from "../../src/pki/ocsp.ts";

const url = process.env.DATABASE_URL;

describe("PostgreSQL: connections closed by the server", { skip: url ? false : "DATABASE_URL not set" }, () => {
  const tag = randomBytes(5).toString("hex");
  const schema = `conn_loss_${tag}`;
  const applicationName = `openjpki-conn-loss-${tag}`;
  let admin: pg.Client;
  let store: Store;
  const logged: string[] = [];

  /** DATABASE_URL with this file's application_name, so that only its own connections are terminated. */
  const namedUrl = () => {
    const named = new URL(url!);
    named.searchParams.set("application_name", applicationName);
    return named.toString();
  };
  /** Have the server end every connection of this file's; how many it ended. */
  const terminateOurs = async (onlyActive = false) => {
    const { rows } = await admin.query<{ n: number }>(
      `select count(pg_terminate_backend(pid))::int as n from pg_stat_activity where application_name = $1 and pid <> pg_backend_pid()${onlyActive ? " and state = 'active'" : ""}`,
      [applicationName],
    );
    return rows[0]!.n;
  };
  const count = async () => Number((await store.db.selectFrom("certificates").select((eb) => eb.fn.countAll().as("n")).executeTakeFirstOrThrow()).n);

  before(async () => {
    admin = new pg.Client({ connectionString: url });
    await admin.connect();
    store = await openStore({ postgresUrl: namedUrl(), postgresSchema: schema, log: (line) => logged.push(line) });
  });
  after(async () => {
    await store?.close();
    await admin?.end();
    await dropPostgresSchema(url!, schema);
  });

  test("idle pooled connections ended by the server: the process lives on and the next queries open new ones", async () => {
    // Several connections at once, so the pool holds more than one idle.
    await Promise.all(Array.from({ length: 4 }, () => sql`select pg_sleep(0.05)`.execute(store.db)));
    assert.ok((await terminateOurs()) >= 2, "the server ended the pool's idle connections");
    await sleep(200); // the ends arrive as events on the idle clients
    assert.equal(await count(), 0);
    assert.equal(await store.certificateStatus("sign", "0".repeat(32)), undefined, "the status fast path reconnects too");
    // Told once, not once per connection.
    assert.equal(logged.length, 1, logged.join("\n"));
    assert.match(logged[0]!, /^PostgreSQL への接続が切れました。新しい接続で続けます \/ lost a connection to PostgreSQL, carrying on over a new one: terminating connection due to administrator command$/);
  });

  test("a connection ended while its statement runs: that statement fails with the server's reason, the next succeeds", async () => {
    const running = sql`select pg_sleep(30)`.execute(store.db);
    const outcome = running.then(
      () => undefined,
      (error: unknown) => error as Error,
    );
    for (let i = 0; i < 200; i++) {
      const { rows } = await admin.query<{ n: number }>("select count(*)::int as n from pg_stat_activity where application_name = $1 and query like '%pg_sleep(30)%' and state = 'active'", [
        applicationName,
      ]);
      if (rows[0]!.n > 0) break;
      await sleep(20);
    }
    assert.equal(await terminateOurs(true), 1);
    const error = await outcome;
    assert.ok(error instanceof Error, "the statement in flight fails");
    assert.match(error.message, /terminat/i);
    await sleep(100);
    assert.equal(await count(), 0);
  });

  test("a connection ended while a transaction holds it between statements: the transaction fails, the process lives, the next one succeeds", async () => {
    let ended!: () => void;
    const terminated = new Promise<void>((resolve) => (ended = resolve));
    let begun!: () => void;
    const inTransaction = new Promise<void>((resolve) => (begun = resolve));
    const outcome = store.db
      .transaction()
      .execute(async (trx) => {
        await sql`select 1`.execute(trx);
        begun();
        await terminated; // the client is checked out and idle: the loss arrives only as an event
        await sql`select 1`.execute(trx);
      })
      .then(
        () => undefined,
        (error: unknown) => error as Error,
      );
    await inTransaction;
    const { rows } = await admin.query<{ n: number }>(
      "select count(pg_terminate_backend(pid))::int as n from pg_stat_activity where application_name = $1 and state = 'idle in transaction'",
      [applicationName],
    );
    assert.equal(rows[0]!.n, 1);
    await sleep(200); // the "error" event reaches the checked-out client
    ended();
    assert.ok((await outcome) instanceof Error, "the transaction fails");
    assert.equal(await count(), 0, "the next statement gets a working connection");
  });

  test("a node whose connections were lost: issuance, its group commit and the status read carry on over new ones", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "openjpki-conn-loss-"));
    const nodeSchema = `${schema}_node`;
    const node = await Context.open({ dataDir, databaseUrl: namedUrl(), databaseSchema: nodeSchema, env: { OPENJPKI_CA_PASSPHRASE: TEST_PASSPHRASE } });
    try {
      const keys = testPublicKeys(3);
      const resident = await node.registry.add({ name: "接続 花子", birth: "1985-06-01", gender: "2", address: "東京都町田市森野２－２－２２", municipality: "132098" });
      await node.ca.issue({ type: "auth", residentId: resident.id, subjectPublicKey: keys[0]! });
      assert.ok((await terminateOurs()) >= 1);
      await sleep(200);
      // The pool opens new connections: issuance, its group commit and the status read all work.
      const record = await node.ca.issue({ type: "auth", residentId: resident.id, subjectPublicKey: keys[1]! });
      assert.equal((await node.store.certificateStatus("auth", record.serialHex))?.status, "valid");
      assert.equal((await node.ca.certificatesOf(resident.id)).length, 2);
    } finally {
      await node.close();
      await dropPostgresSchema(url!, nodeSchema);
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe("`openjpki serve` on PostgreSQL", () => {
  test("lives through a restart of its database server and answers again after it", { timeout: 120_000 }, async () => {
    const cluster = await privateCluster(0);
    const dataDir = mkdtempSync(join(tmpdir(), "openjpki-restart-"));
    const server = await spawnServe({ dataDir, env: { OPENJPKI_DATABASE_URL: cluster.primary.url } }).catch((error: unknown) => {
      cluster.stop();
      throw error;
    });
    try {
      const base = server.base;
      const caDer = new Uint8Array(await (await fetch(`${base}/ca/sign.crt`)).arrayBuffer());
      // A serial this CA never issued: the answer needs a status read from the database.
      const certId = certIdFor(ocspIssuerFromCertificate(caDer), Buffer.from("7F".repeat(16), "hex"));
      const status = async () => {
        const response = await fetch(`${base}/ocsp/sign/${encodeURIComponent(Buffer.from(requestDer(certId)).toString("base64"))}`, { headers: { "cache-control": "no-cache" } });
        return response.status === 200 ? readAnswer(new Uint8Array(await response.arrayBuffer())).status : `HTTP ${response.status}`;
      };
      assert.equal(await status(), "unknown");

      cluster.primary.stop("fast"); // ends every connection of the node's pool
      await sleep(300);
      assert.equal(server.exitCode(), undefined, `serve is still running while its database is down (${server.stderr()})`);
      cluster.primary.start();
      let after = "";
      for (let i = 0; i < 50 && after !== "unknown"; i++) {
        after = await status().catch((error: Error) => error.message);
        if (after !== "unknown") await sleep(100);
      }
      assert.equal(after, "unknown", "answers from the restarted database");
      assert.equal(server.exitCode(), undefined, `serve is still running (${server.stderr()})`);
      assert.match(server.stderr(), /lost a connection to PostgreSQL, carrying on over a new one/, "the operator is told");
    } finally {
      await server.stop();
      cluster.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe("/healthz on PostgreSQL", () => {
  test("503 while the database server hangs or is down, in bounded time; 200 again once it is back", { timeout: 120_000 }, async () => {
    const cluster = await privateCluster(0);
    const dataDir = mkdtempSync(join(tmpdir(), "openjpki-healthz-"));
    let node: Context | undefined;
    try {
      node = await Context.open({ dataDir, databaseUrl: cluster.primary.url, env: { OPENJPKI_CA_PASSPHRASE: TEST_PASSPHRASE } });
      const logged: string[] = [];
      const app = await buildApp(node, { log: (line) => logged.push(line) });
      const health = async () => {
        const response = await app.inject({ method: "GET", url: "/healthz" });
        return { status: response.statusCode, body: response.json<{ status: string; store: string; message?: string }>() };
      };
      const healthyAgain = async () => {
        for (let i = 0; i < 100; i++) {
          if ((await health()).status === 200) return true;
          await sleep(100);
        }
        return false;
      };
      assert.deepEqual(await health(), { status: 200, body: { status: "ok", store: "postgres" } });

      cluster.primary.freeze(); // accepts nothing, answers nothing: only a timeout ends the check
      const frozen = await health();
      cluster.primary.thaw();
      assert.equal(frozen.status, 503);
      assert.equal(frozen.body.status, "unavailable");
      assert.equal(frozen.body.message, "データベースが応答しません / the database does not answer", "the reason is not told to whoever asks");
      assert.ok(await healthyAgain(), "healthy once the server runs again");
      // The operator is told the reason, once when the checks start failing and once when they pass again.
      assert.deepEqual(logged, [
        "healthz: データベースが応答しません / the database does not answer: no answer from PostgreSQL within 2000 ms",
        "データベースが応答しています / the database answers again",
      ]);

      cluster.primary.stop("fast");
      const down = await health();
      cluster.primary.start();
      assert.equal(down.status, 503);
      assert.ok(await healthyAgain(), "healthy once the server is back");
      assert.equal(logged.length, 4, logged.join("\n"));

      // Busy is not down: the check does not queue behind statements holding every pooled connection.
      const busy = Array.from({ length: 10 }, () => sql`select pg_sleep(3)`.execute(node!.store.db));
      await sleep(300);
      assert.equal((await health()).status, 200, "healthy while the pool is busy");
      await Promise.all(busy);
      await app.close();
    } finally {
      await node?.close();
      cluster.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
