/**
 * OCSP-REFRESH: batch pre-signing of N answers (200,000; quick 20,000) for distinct
 * certificates through the responder's own path, `context.ocsp.answer(request)` with no nonce
 * (parse, store lookup, build, sign, cache), 64 in flight. Ratio to R_sign2.
 */
import { certIdFor, ocspIssuerFromCertificate } from "../../src/pki/ocsp.ts";
import { atLeast, headline, metric, type BenchResult, type Suite, type SuiteContext } from "../harness.ts";
import { cpuWindow, waitQuiet } from "../machine.ts";
import { addBenchResident, openBenchContext } from "../fixtures/context.ts";
import { insertRows, makeRows } from "../fixtures/store.ts";
import { ocspRequestDer } from "../fixtures/pki.ts";

const IN_FLIGHT = 64;

export const refreshSuite: Suite = {
  ids: ["OCSP-REFRESH"],
  async run(ctx: SuiteContext): Promise<BenchResult[]> {
    const n = ctx.options.quick ? 20_000 : 200_000;
    const bench = await openBenchContext(ctx.cleanup, "refresh");
    try {
      const { context } = bench;
      ctx.progress(`OCSP-REFRESH: inserting ${n.toLocaleString("en-US")} certificate rows (10 % revoked)`);
      const residentId = await addBenchResident(context);
      const rows = makeRows(n, 10);
      await insertRows(context.store.db, rows, { type: "sign", residentId, municipality: "131016" });
      const issuer = ocspIssuerFromCertificate(context.ca.authority("sign").certificateDer);
      const requests = rows.map((r) => ocspRequestDer(certIdFor(issuer, r.serial)));
      const b = await ctx.baselines();

      await waitQuiet(ctx.options.quick ? 2000 : 10_000);
      ctx.progress(`OCSP-REFRESH: pre-signing ${n.toLocaleString("en-US")} answers via context.ocsp.answer, ${IN_FLIGHT} in flight`);
      const close = cpuWindow("OCSP-REFRESH");
      let next = 0;
      let revoked = 0;
      let failed = 0;
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: IN_FLIGHT }, async () => {
          while (next < n) {
            const i = next++;
            const answer = await context.ocsp.answer(requests[i]!, "sign");
            if (!answer.cache) failed++;
            else if (isRevoked(answer.der, rows[i]!.serial)) revoked++;
          }
        }),
      );
      const seconds = (performance.now() - t0) / 1000;
      const cpu = [close()];
      const rate = n / seconds;
      const expectedRevoked = rows.filter((r) => r.revoked).length;
      return [
        {
          id: "OCSP-REFRESH",
          title: `batch pre-signing of ${n.toLocaleString("en-US")} OCSP answers for distinct certificates`,
          status: "measured",
          metrics: [
            headline(metric("answers/s", rate, "/s")),
            metric("rate / R_sign2", rate / b.signPerS2, "×", "ratio", atLeast(0.8)),
            headline(metric("hours to refresh 200 M answers at this rate", 200e6 / rate / 3600, "h")),
            metric("answers not successful / not cacheable", failed, ""),
          ],
          notes: [
            `${n.toLocaleString("en-US")} bench rows (der placeholder; the responder reads only status, time and reason); ${revoked} answers said revoked, ${expectedRevoked} rows are revoked.`,
            "Each answer goes through context.ocsp.answer (parse the request, read the row by primary key, build, sign on the thread pool, cache). " +
              "There is no durable response store yet: pre-signed answers live in the responder's in-memory map, capped at 100,000 entries " +
              "(CACHE_LIMIT in src/services/ocsp-responder.ts), so a 200,000-answer refresh evicts the first half as it goes.",
          ],
          cpu,
        },
      ];
    } finally {
      await bench.destroy();
    }
  },
};

/** Whether the answer's certStatus (right after the CertID, which ends with the serial) is revoked ([1], 0xA1). */
function isRevoked(der: Uint8Array, serial: Uint8Array): boolean {
  const tail = Buffer.concat([Buffer.of(0x02, serial.length), serial]);
  const at = Buffer.from(der.buffer, der.byteOffset, der.byteLength).indexOf(tail);
  return at >= 0 && der[at + tail.length] === 0xa1;
}
