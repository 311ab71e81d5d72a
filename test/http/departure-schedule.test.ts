// A running server applies filed emigrations on their day of departure by itself (and logs
// it), and stops its schedule before the store closes.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startServer, type RunningServer } from "../../src/http/server.ts";
import { openTestContext, type TestContext } from "../helpers/context.ts";
import { testPublicKeys } from "../helpers/keys.ts";
import { waitFor } from "../helpers/wait.ts";

describe("the departure schedule of a running server", () => {
  let now = new Date("2026-12-07T03:00:00Z");
  let t: TestContext;
  let server: RunningServer | undefined;
  const lines: string[] = [];
  const [key] = testPublicKeys(1);

  before(async () => {
    t = await openTestContext("sqlite", { clock: () => new Date(now) });
  });
  after(async () => {
    await server?.close();
    await t.cleanup();
  });

  test("a departure filed for tomorrow is applied by the server once tomorrow comes, and logged", async () => {
    const resident = await t.context.registry.add({ name: "遠藤 光", birth: "1970-01-01", gender: "1", address: "東京都町田市森野１－１－１", municipality: "132098" });
    const sign = await t.context.ca.issue({ type: "sign", residentId: resident.id, subjectPublicKey: key! });
    await t.context.events.endRegistration(resident.id, { kind: "emigration", continuedUse: false, departureDate: "2026-12-08" });
    server = await startServer(t.context, { host: "127.0.0.1", port: 0, handleSignals: false, log: (l) => lines.push(l), departureCheckMs: 20 });
    await new Promise((r) => setTimeout(r, 100)); // several checks on the day before
    assert.equal((await t.context.registry.get(resident.id)).status, "registered");
    now = new Date("2026-12-07T15:00:01Z"); // 2026-12-08 00:00:01 JST
    await waitFor(() => lines.some((l) => l.includes(resident.id)), 5000);
    assert.equal((await t.context.registry.get(resident.id)).status, "emigrated");
    assert.equal((await t.context.ca.certificate("sign", sign.serialHex)).status, "revoked");
    assert.match(lines.find((l) => l.includes(resident.id))!, /emigration applied: R-\w+ \(departure 2026-12-08, 1 certificate\(s\) revoked\)/);
    await server.close();
    server = undefined;
  });
});
