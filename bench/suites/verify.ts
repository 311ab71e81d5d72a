/**
 * VERIFY-CMS and VERIFY-AUTH: the relying party's library (src/verify, `createVerifier`) on
 * documents made with software keys whose certificates the real CA issued (`context.ca.issue`).
 *
 *   VERIFY-CMS   attached CMS SignedData over 1 KiB (signedAttrs incl. ESS signingCertificateV2,
 *                built with src/pki/cms-signed-data.ts, signed with node crypto), `verifyCms`;
 *   VERIFY-AUTH  a login challenge: 32 random bytes signed RSA PKCS#1 v1.5 SHA-256, with the
 *                authentication certificate, `verifyRawSignature({ expectedType: "auth" })`.
 *
 * Each verification checks the document's signature, then the certificate: its chain, type,
 * policy and key usage, validity at the verification time, and revocation. The verifier keeps
 * each certificate it has parsed, with its checked chain, type, policy and key usage, in an LRU
 * keyed by the certificate's exact bytes (`limits.certificateCacheEntries`, default 10,000). With
 * 10^8 card holders a relying party almost never sees the same certificate twice within 10,000
 * verifications, so the figures the target applies to are "cold": the verifier's certificate
 * cache is cut to COLD_CERTIFICATE_CACHE entries, fewer than the documents' distinct
 * certificates, which are verified in turn, so every verification parses its certificate,
 * imports its key and checks its chain again (each run counts the cache hits; the limit is 0).
 * Issuing more certificates than the default cache holds (> 10,000 per type, ≈7 ms each through
 * context.ca.issue) would not fit a quick run. The CA certificate and the CRL stay cached, as in
 * real use. The old figure, the same documents with the default cache (every certificate seen
 * again every 64 or 256 verifications: all hits), is reported beside it as "cache hit".
 * Revocation is answered in-process, four ways:
 *   - CRL (the figure the target applies to): the CA's full CRL from `context.crls.current(type)`,
 *     given to the verifier's `crl.fetch`; the verifier parses it once and caches it until
 *     nextUpdate, so each verification is a map lookup. 1 core = 1 worker thread, 2 cores = 2
 *     worker threads (children/verify-worker.ts), each with its own verifier, summed; cold (the
 *     target) and cache hit;
 *   - OCSP without nonce, cached: `context.ocsp.answer(requestDer)` in the main thread (a
 *     pre-signed answer from the responder's cache after one store row read); the verifier keeps
 *     each checked answer until its nextUpdate (RFC 5019), so after the warm-up every
 *     verification is a cache hit (answers and certificates); 1 core;
 *   - OCSP without nonce, cold: the verifier's answer cache cut to one entry and its certificate
 *     cache as for cold CRL, so every verification parses the certificate and fetches, parses and
 *     checks an answer (signature, responder; the responder's certificate stays cached); 1 core;
 *   - OCSP with a nonce (what the server's own verifier, src/services/trust.ts, does): every
 *     verification waits for a freshly signed answer; 8 in flight; certificates cached; reported,
 *     no target.
 * The CRL carries the issued certificates' revoked siblings plus bench rows (revoked).
 */
import { CacheAnswers, warmUpCalls } from "../cache-answers.ts";
import { generateKeyPair, randomBytes, sign, verify, type KeyObject } from "node:crypto";
import { promisify } from "node:util";
import { Worker } from "node:worker_threads";
import { prepareSignedAttributes, assembleSignedData } from "../../src/pki/cms-signed-data.ts";
import { createVerifier, type Verifier, type VerificationResult } from "../../src/verify/index.ts";
import type { Context } from "../../src/services/context.ts";
import type { CaType } from "../../src/pki/jpki-profile.ts";
import { atLeast, atMost, bestOf, describeRounds, headline, metric, roundLabel, roundsFor, type BenchResult, type Metric, type Suite, type SuiteContext } from "../harness.ts";
import { cpuWindow, type CpuWindow } from "../machine.ts";
import { addBenchResident, openBenchContext } from "../fixtures/context.ts";
import { insertRows, makeRows } from "../fixtures/store.ts";
import type { VerifyWorkerInput, VerifyWorkerOutput } from "../children/verify-worker.ts";

const generateRsa = promisify(generateKeyPair);
const WORKER = new URL("../children/verify-worker.ts", import.meta.url);
/** Worker threads do not inherit tsx's loader: a data: URL bootstrap registers it, then imports the worker. */
const WORKER_BOOTSTRAP = new URL(
  `data:text/javascript,${encodeURIComponent(`import { register } from ${JSON.stringify(import.meta.resolve("tsx/esm/api"))}; register(); await import(${JSON.stringify(WORKER.href)});`)}`,
);
const NONCE_IN_FLIGHT = 8;
/**
 * The verifier's certificate cache for the cold figures: fewer entries than the documents'
 * distinct certificates (64 quick, 256 full), which are verified in order, so the LRU has always
 * just dropped the next one and every verification misses it.
 */
const COLD_CERTIFICATE_CACHE = 16;

type Kind = "cms" | "auth";
type Item = VerifyWorkerInput["items"][number];

interface Sizes {
  keys: number;
  documents: number;
  revokedRows: number;
  seconds: number;
}

interface Rate {
  done: number;
  valid: number;
  seconds: number;
  /** Valid verifications per second: a verification that fails is not counted, so failing fast cannot raise the figure. */
  rate: number;
  /** Workers only: how much of the union of their timed windows all of them were running (1 = started and ended together). */
  overlap?: number;
  firstInvalid?: string;
  /** Valid verifications answered from the verifier's per-certificate cache, of `seenBefore` (documents verified before). */
  repeats: number;
  seenBefore: number;
}

interface Fixture {
  context: Context;
  anchors: VerifyWorkerInput["anchors"];
  crlDer: Record<CaType, Uint8Array>;
  crlEntries: Record<CaType, number>;
  items: Record<Kind, Item[]>;
  /** One document per kind whose certificate was revoked: every mode must answer `revoked`. */
  revokedItem: Record<Kind, Item>;
  cmsBytes: number;
  certificateBytes: Record<CaType, number>;
}

export const verifySuite: Suite = {
  ids: ["VERIFY-CMS", "VERIFY-AUTH"],
  async run(ctx: SuiteContext): Promise<BenchResult[]> {
    const sizes: Sizes = ctx.options.quick
      ? { keys: 4, documents: 64, revokedRows: 2_000, seconds: 1.5 }
      : { keys: 8, documents: 256, revokedRows: 20_000, seconds: 4 };
    const wants = (id: string) => !ctx.options.only || ctx.options.only.has(id);
    const bench = await openBenchContext(ctx.cleanup, "verify");
    try {
      const fx = await setUp(ctx, bench.context, sizes);
      const results: BenchResult[] = [];
      if (wants("VERIFY-CMS")) results.push(await measureKind(ctx, fx, "cms", sizes));
      if (wants("VERIFY-AUTH")) results.push(await measureKind(ctx, fx, "auth", sizes));
      return results;
    } finally {
      await bench.destroy();
    }
  },
};

async function setUp(ctx: SuiteContext, context: Context, sizes: Sizes): Promise<Fixture> {
  ctx.progress(`VERIFY: ${sizes.keys} RSA-2048 software keys, ${sizes.documents} certificates of each type through context.ca.issue, ${sizes.revokedRows.toLocaleString("en-US")} revoked rows per CA`);
  const residents = await Promise.all(Array.from({ length: 8 }, (_, i) => addBenchResident(context, i)));
  const keys = await Promise.all(Array.from({ length: sizes.keys }, () => generateRsa("rsa", { modulusLength: 2048 })));
  const issue = async (type: CaType, i: number) => {
    const key = keys[i % keys.length]!;
    const record = await context.ca.issue({ type, residentId: residents[i % residents.length]!, subjectPublicKey: key.publicKey });
    return { record, privateKey: key.privateKey };
  };
  const cmsOf = (certificateDer: Uint8Array, privateKey: KeyObject): Item => {
    const content = new Uint8Array(randomBytes(1024));
    const signedAttributes = prepareSignedAttributes({ content, signingTime: new Date(), certificateDer });
    const signature = new Uint8Array(sign(signedAttributes.hash, signedAttributes.signedAttrsDer, privateKey));
    return { cms: assembleSignedData({ signedAttributes, signature, certificateDer, content }) };
  };
  const authOf = (certificateDer: Uint8Array, privateKey: KeyObject): Item => {
    const data = new Uint8Array(randomBytes(32));
    return { certificateDer, data, signature: new Uint8Array(sign("sha256", data, privateKey)) };
  };

  const items: Record<Kind, Item[]> = { cms: [], auth: [] };
  const certificateBytes: Record<CaType, number> = { sign: 0, auth: 0 };
  for (let i = 0; i < sizes.documents; i++) {
    const s = await issue("sign", i);
    items.cms.push(cmsOf(s.record.der, s.privateKey));
    const a = await issue("auth", i);
    items.auth.push(authOf(a.record.der, a.privateKey));
    certificateBytes.sign = s.record.der.length;
    certificateBytes.auth = a.record.der.length;
  }
  const revokedSign = await issue("sign", 0);
  const revokedAuth = await issue("auth", 0);
  for (const r of [revokedSign, revokedAuth]) {
    await context.ca.revoke({ type: r.record.type, serialHex: r.record.serialHex, reason: "keyCompromise", by: "operator" });
  }
  const revokedItem: Record<Kind, Item> = { cms: cmsOf(revokedSign.record.der, revokedSign.privateKey), auth: authOf(revokedAuth.record.der, revokedAuth.privateKey) };
  for (const type of ["sign", "auth"] as const) {
    await insertRows(context.store.db, makeRows(sizes.revokedRows, 1), { type, residentId: residents[0]!, municipality: "131016" });
  }
  const signCrl = await context.crls.current("sign");
  const authCrl = await context.crls.current("auth");
  return {
    context,
    anchors: { sign: [context.ca.authority("sign").certificateDer], auth: [context.ca.authority("auth").certificateDer] },
    crlDer: { sign: signCrl.der, auth: authCrl.der },
    crlEntries: { sign: sizes.revokedRows + 1, auth: sizes.revokedRows + 1 },
    items,
    revokedItem,
    cmsBytes: "cms" in items.cms[0]! ? items.cms[0].cms.length : 0,
    certificateBytes,
  };
}

/** One verification, its arguments written as a literal (see children/verify-worker.ts on spreading). */
function verifyOne(verifier: Verifier, item: Item): Promise<VerificationResult> {
  return "cms" in item
    ? verifier.verifyCms(item.cms, { expectedType: "sign" })
    : verifier.verifyRawSignature({ certificateDer: item.certificateDer, data: item.data, signature: item.signature, hash: "sha256", expectedType: "auth" });
}

/**
 * The verifier with OCSP answered in-process by the responder (with or without a nonce).
 * `cold` cuts the verifier's OCSP answer cache to one entry and its certificate cache to
 * COLD_CERTIFICATE_CACHE: with the documents' many certificates in turn, every verification then
 * parses its certificate and fetches and checks an answer.
 */
function ocspVerifier(fx: Fixture, useNonce: boolean, cold = false): Verifier {
  return createVerifier({
    trustAnchors: fx.anchors,
    revocation: { ocsp: { fetch: async (_url, requestDer) => (await fx.context.ocsp.answer(requestDer)).der, useNonce }, prefer: "ocsp" },
    ...(cold ? { limits: { ocspCacheEntries: 1, certificateCacheEntries: COLD_CERTIFICATE_CACHE } } : {}),
  });
}

/** Verify in the main thread for `seconds`, `inFlight` at a time (after two warm-up passes). */
async function mainThreadRate(verifier: Verifier, items: readonly Item[], seconds: number, inFlight: number): Promise<Rate> {
  const answers = new CacheAnswers();
  // Whole passes, at least two: the verifier keeps a certificate from its second sighting on (see warmUpCalls).
  for (let i = 0; i < warmUpCalls(items.length); i++) {
    const r = await verifyOne(verifier, items[i % items.length]!);
    if (r.valid) answers.prime(i % items.length, r.certificate);
  }
  let done = 0;
  let valid = 0;
  let firstInvalid: string | undefined;
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (performance.now() < deadline) {
        const i = done++ % items.length;
        const r = await verifyOne(verifier, items[i]!);
        if (r.valid) {
          valid++;
          answers.record(i, r.certificate);
        } else firstInvalid ??= `${r.code}: ${r.message}`;
      }
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  return { done, valid, seconds: elapsed, rate: valid / elapsed, repeats: answers.repeats, seenBefore: answers.seenBefore, ...(firstInvalid ? { firstInvalid } : {}) };
}

/**
 * `threads` worker threads, each with its own verifier and the cached CRL, started together (cold:
 * each verifier's certificate cache smaller than the documents' certificates). The
 * rate is their valid verifications over the union of their timed windows, so a worker whose
 * warm-up overran the common start cannot inflate the sum.
 */
async function workerRate(fx: Fixture, kind: Kind, threads: number, seconds: number, cold: boolean): Promise<Rate> {
  const type: CaType = kind === "cms" ? "sign" : "auth";
  const input: Omit<VerifyWorkerInput, "startAt"> = {
    kind,
    anchors: fx.anchors,
    crlDer: fx.crlDer[type],
    items: fx.items[kind],
    seconds,
    ...(cold ? { certificateCacheEntries: COLD_CERTIFICATE_CACHE } : {}),
  };
  const startAt = Date.now() + 3000; // room for the workers to load tsx, warm up and parse the CRL
  const outputs = await Promise.all(
    Array.from(
      { length: threads },
      () =>
        new Promise<VerifyWorkerOutput>((resolve, reject) => {
          const worker = new Worker(WORKER_BOOTSTRAP, { workerData: { ...input, startAt } satisfies VerifyWorkerInput });
          const timer = setTimeout(() => void worker.terminate().then(() => reject(new Error("verify worker timed out"))), (seconds + 60) * 1000);
          worker.once("message", (out: VerifyWorkerOutput) => {
            clearTimeout(timer);
            resolve(out);
            void worker.terminate();
          });
          worker.once("error", (error) => {
            clearTimeout(timer);
            reject(error);
          });
        }),
    ),
  );
  const done = outputs.reduce((s, o) => s + o.done, 0);
  const valid = outputs.reduce((s, o) => s + o.valid, 0);
  const start = Math.min(...outputs.map((o) => o.startedAt));
  const end = Math.max(...outputs.map((o) => o.endedAt));
  const common = Math.min(...outputs.map((o) => o.endedAt)) - Math.max(...outputs.map((o) => o.startedAt));
  const union = (end - start) / 1000;
  const firstInvalid = outputs.find((o) => o.firstInvalid)?.firstInvalid;
  const repeats = outputs.reduce((s, o) => s + o.repeats, 0);
  const seenBefore = outputs.reduce((s, o) => s + o.seenBefore, 0);
  return { done, valid, seconds: union, rate: valid / union, overlap: Math.max(0, common) / (end - start), repeats, seenBefore, ...(firstInvalid ? { firstInvalid } : {}) };
}

/** "; first invalid: <code>: <message>" for the first measurement that saw one, else "". */
function firstInvalidOf(rates: readonly Rate[]): string {
  const first = rates.find((r) => r.firstInvalid)?.firstInvalid;
  return first ? `; first invalid: ${first}` : "";
}

/** RSA-2048 verify with a cached KeyObject in this process: the floor a verification cannot beat (it does two). */
function nodeVerifyRate(key: { privateKey: KeyObject; publicKey: KeyObject }, seconds: number): number {
  const data = randomBytes(1024);
  const sig = sign("sha256", data, key.privateKey);
  let n = 0;
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  while (performance.now() < deadline) {
    for (let k = 0; k < 100; k++) verify("sha256", data, key.publicKey, sig);
    n += 100;
  }
  return n / ((performance.now() - t0) / 1000);
}

async function measureKind(ctx: SuiteContext, fx: Fixture, kind: Kind, sizes: Sizes): Promise<BenchResult> {
  const id = kind === "cms" ? "VERIFY-CMS" : "VERIFY-AUTH";
  const target = kind === "cms" ? 0.2 : 0.3;
  const type: CaType = kind === "cms" ? "sign" : "auth";
  const b = await ctx.baselines();
  const cpu: CpuWindow[] = [];
  const window = async <T>(label: string, f: () => Promise<T>): Promise<T> => {
    await ctx.settle(8000);
    ctx.progress(`${id}: ${label}`);
    const close = cpuWindow(`${id} ${label}`);
    const out = await f();
    cpu.push(close());
    return out;
  };

  // Every mode must say `revoked` for the revoked certificate's document.
  const revokedCodes: string[] = [];
  const crlVerifier = createVerifier({ trustAnchors: fx.anchors, revocation: { crl: { fetch: async () => fx.crlDer[type] }, prefer: "crl" } });
  for (const v of [crlVerifier, ocspVerifier(fx, false), ocspVerifier(fx, false, true), ocspVerifier(fx, true)]) {
    const r = await verifyOne(v, fx.revokedItem[kind]);
    revokedCodes.push(r.valid ? "valid" : r.code);
  }

  // The target figures, cold, in rounds (1 and 2 threads in turn); each figure is its best round.
  const rounds = roundsFor(ctx.options);
  const cold1Rounds: Rate[] = [];
  const cold2Rounds: Rate[] = [];
  for (let round = 1; round <= rounds; round++) {
    const of = roundLabel(round, rounds);
    cold1Rounds.push(await window(`CRL (cached), cold certificates, 1 worker thread${of}`, () => workerRate(fx, kind, 1, sizes.seconds, true)));
    cold2Rounds.push(await window(`CRL (cached), cold certificates, 2 worker threads${of}`, () => workerRate(fx, kind, 2, sizes.seconds, true)));
  }
  const rateOf = (r: Rate) => r.rate;
  const cold1All = bestOf(cold1Rounds, rateOf);
  const cold2All = bestOf(cold2Rounds, rateOf);
  const [cold1, cold2] = [cold1All.best, cold2All.best];
  // The former figures, every certificate a cache hit: one round each, 2 threads only in a full
  // run (an extra figure, no target; a quick run has 3 minutes for everything).
  const hit1 = await window("CRL (cached), certificates cached, 1 worker thread", () => workerRate(fx, kind, 1, sizes.seconds, false));
  const hit2 = ctx.options.quick ? undefined : await window("CRL (cached), certificates cached, 2 worker threads", () => workerRate(fx, kind, 2, sizes.seconds, false));
  const hits = hit2 ? [hit1, hit2] : [hit1];
  const ocsp1 = await window("OCSP in-process, no nonce (pre-signed answers, kept by the verifier until nextUpdate; certificates cached), main thread", () =>
    mainThreadRate(ocspVerifier(fx, false), fx.items[kind], sizes.seconds, 1),
  );
  const fresh = await window("OCSP in-process, no nonce, cold: a fresh answer checked and the certificate parsed per verification, main thread", () =>
    mainThreadRate(ocspVerifier(fx, false, true), fx.items[kind], sizes.seconds, 1),
  );
  const nonce = await window(`OCSP in-process with nonce (freshly signed), ${NONCE_IN_FLIGHT} in flight`, () =>
    mainThreadRate(ocspVerifier(fx, true), fx.items[kind], sizes.seconds, NONCE_IN_FLIGHT),
  );
  const floor = nodeVerifyRate(await generateRsa("rsa", { modulusLength: 2048 }), Math.min(1, sizes.seconds));
  for (const [label, r] of [["cold1", cold1], ["cold2", cold2], ["hit1", hit1], ...(hit2 ? [["hit2", hit2] as const] : []), ["ocsp", ocsp1], ["ocsp-cold", fresh], ["nonce", nonce]] as const) {
    ctx.progress(`  ${label}: ${Math.round(r.rate)}/s (${r.valid}/${r.done} valid; certificate cache hits ${r.repeats}/${r.seenBefore}${r.firstInvalid ? `; first invalid: ${r.firstInvalid}` : ""})`);
  }
  const coldRuns = [...cold1Rounds, ...cold2Rounds, fresh];
  const hitShare = (r: Rate) => (r.seenBefore > 0 ? r.repeats / r.seenBefore : Number.NaN);
  const hitShareAll = Math.min(...hits.map(hitShare));
  const all = [...cold1Rounds, ...cold2Rounds, ...hits, ocsp1, fresh, nonce];

  const metrics: Metric[] = [
    headline(metric("1 core, cold (every certificate new to the verifier), CRL: verifications/s", cold1.rate, "/s")),
    metric("1 core cold (CRL) / R_ver1", cold1.rate / b.verifyPerS1, "×", "ratio", atLeast(target)),
    headline(metric("2 cores (2 worker threads), cold, CRL: verifications/s", cold2.rate, "/s")),
    metric("2 cores cold (CRL) / R_ver2", cold2.rate / b.verifyPerS2, "×", "ratio", atLeast(target)),
    metric("2 cores cold (CRL) per core / R_ver1", cold2.rate / 2 / b.verifyPerS1, "×", "ratio", atLeast(target)),
    metric("scaling cold, 2 threads / 1 thread", cold2.rate / cold1.rate, "×"),
    ...(rounds > 1
      ? [
          metric(`1 core cold (CRL), median of ${rounds} rounds / R_ver1`, cold1All.median / b.verifyPerS1, "×"),
          metric(`2 cores cold (CRL) per core, median of ${rounds} rounds / R_ver1`, cold2All.median / 2 / b.verifyPerS1, "×"),
        ]
      : []),
    metric("verifications answered from the certificate cache in the cold runs (CRL and OCSP cold; must be none)", coldRuns.reduce((n, r) => n + r.repeats, 0), "", "limit", atMost(0)),
    headline(metric(`1 core, cache hit (${fx.items[kind].length} certificates in turn, all kept parsed), CRL: verifications/s`, hit1.rate, "/s")),
    metric("1 core cache hit (CRL) / R_ver1 (not the target: real use is cold)", hit1.rate / b.verifyPerS1, "×"),
    ...(hit2
      ? [metric("2 cores, cache hit, CRL: verifications/s", hit2.rate, "/s"), metric("2 cores cache hit (CRL) per core / R_ver1 (not the target)", hit2.rate / 2 / b.verifyPerS1, "×")]
      : []),
    metric("share of the cache-hit runs' verifications answered from the certificate cache", hitShareAll, ""),
    metric("1 core, cache hit / cold (what the certificate cache saves)", hit1.rate / cold1.rate, "×"),
    headline(metric("1 core, OCSP in-process without nonce (answers and certificates kept): verifications/s", ocsp1.rate, "/s")),
    metric("1 core (OCSP, no nonce, cached) / R_ver1", ocsp1.rate / b.verifyPerS1, "×", "ratio"),
    metric("1 core, OCSP without nonce, cold (a fresh answer and the certificate parsed per verification): verifications/s", fresh.rate, "/s"),
    metric("1 core (OCSP, no nonce, cold) / R_ver1", fresh.rate / b.verifyPerS1, "×", "ratio"),
    headline(metric(`OCSP with nonce (signed per verification), ${NONCE_IN_FLIGHT} in flight: verifications/s`, nonce.rate, "/s")),
    metric("OCSP with nonce / R_sign2 (bound by the responder's signatures)", nonce.rate / b.signPerS2, "×"),
    metric("node crypto.verify RSA-2048, cached KeyObject, 1 core (floor reference)", floor, "/s"),
    metric("verifications not valid (all modes and rounds; the rates count valid ones only)", all.reduce((n, r) => n + r.done - r.valid, 0), "", "limit", atMost(0)),
    metric("revoked certificate's document answered revoked (of 4 modes)", revokedCodes.filter((c) => c === "revoked").length, "", "limit", atLeast(revokedCodes.length)),
  ];
  const what =
    kind === "cms"
      ? `${fx.items.cms.length} attached CMS SignedData documents (1 KiB content, signedAttrs with contentType, signingTime, messageDigest, signingCertificateV2; ${fx.cmsBytes} bytes each), one per signing certificate (${fx.certificateBytes.sign} B DER), verifyCms(…, { expectedType: "sign" })`
      : `${fx.items.auth.length} login challenges (32 random bytes, RSA PKCS#1 v1.5 SHA-256), one per authentication certificate (${fx.certificateBytes.auth} B DER), verifyRawSignature({ hash: "sha256", expectedType: "auth" })`;
  return {
    id,
    title: kind === "cms" ? "CMS SignedData verify: signature, chain, revocation; 1 and 2 cores" : "login challenge verify: raw signature, chain, revocation",
    status: "measured",
    metrics,
    notes: [
      `${what}; certificates issued by context.ca.issue, signatures made with node crypto on software keys (${sizes.keys} keys).`,
      `Revocation for the target figures: the full ${type} CRL from context.crls.current("${type}") (${fx.crlDer[type].length.toLocaleString("en-US")} B, ${fx.crlEntries[type].toLocaleString("en-US")} entries, incl. ${sizes.revokedRows.toLocaleString("en-US")} bench rows), handed to each verifier's crl.fetch; parsed once per verifier and cached until nextUpdate (parsing happens in the warm-up, not in the timed window).`,
      `Cold (the target figures): with 10^8 card holders a relying party almost never sees a certificate again while its verifier still holds it (default 10,000 certificates), so each verifier's certificate cache is cut to ${COLD_CERTIFICATE_CACHE} entries (limits.certificateCacheEntries) and the ${fx.items[kind].length} documents are verified in turn: every verification parses its certificate, imports its key and checks chain, type, policy and key usage again (cache hits counted in every run: ${coldRuns.reduce((n, r) => n + r.repeats, 0)} of ${coldRuns.reduce((n, r) => n + r.seenBefore, 0)}). The CA certificate and the CRL stay cached, as in real use. A smaller cache instead of > 10,000 certificates: issuing that many per type through context.ca.issue takes minutes, beyond a quick run.`,
      `Cache hit (extra figure, the former headline): the verifier's default cache keeps all ${fx.items[kind].length} certificates (each seen again every ${fx.items[kind].length} verifications; ${(100 * hitShareAll).toFixed(1)} % answered from it; 2 threads in full runs only), so a verification is the document's signature, validity and the revocation lookup. ${kind === "cms" ? "The SignedData itself is parsed on every call (strict DER reader), cold or not." : ""}`,
      `1 and 2 cores: worker threads (bench/children/verify-worker.ts), each its own verifier, started together; the 2-thread rate is both threads' valid verifications over the union of their timed windows (the cold windows overlapped ${(100 * (cold2.overlap ?? 1)).toFixed(1)} %${hit2 ? `, the cache-hit ones ${(100 * (hit2.overlap ?? 1)).toFixed(1)} %` : ""}). OCSP modes run in the main thread against context.ocsp.answer (a confirmed answer is served on the CA's unchanged revocation version); 2-core OCSP is not measured (the responder lives in one thread). "No nonce, cached" keeps answers until nextUpdate and certificates, so after the warm-up it measures the verifier's caches; "cold" cuts the answer cache to one entry and the certificate cache as above, so every verification parses the certificate and fetches, parses and checks a pre-signed answer; "with nonce" keeps certificates cached.`,
      `Revoked certificate's document → CRL: ${revokedCodes[0]}, OCSP: ${revokedCodes[1]}, OCSP cold: ${revokedCodes[2]}, OCSP+nonce: ${revokedCodes[3]} (all must be "revoked").`,
      `CRL rates, valid verifications/s: cold 1 thread ${describeRounds(cold1All, rateOf, "/s")}; cold 2 threads ${describeRounds(cold2All, rateOf, "/s")} (the figures are the best rounds); cache hit 1 thread ${Math.round(hit1.rate).toLocaleString("en-US")} /s${hit2 ? `, 2 threads ${Math.round(hit2.rate).toLocaleString("en-US")} /s` : ""} (one round each).`,
      `Counts: CRL cold 1 thread (best round) ${cold1.done}, 2 threads ${cold2.done}, cache hit ${hits.map((r) => r.done).join(" / ")}, OCSP ${ocsp1.done}, OCSP cold ${fresh.done}, OCSP+nonce ${nonce.done} verifications${firstInvalidOf(all)}.`,
      `Baselines: R_ver1 ${Math.round(b.verifyPerS1)}/s, R_ver2 ${Math.round(b.verifyPerS2)}/s (openssl speed, this run).`,
    ],
    cpu,
  };
}
