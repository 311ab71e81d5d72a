/**
 * The relying party's verifier: trust anchors, revocation sources and the clock go in once; each
 * call checks one certificate, CMS, XML signature or raw signature and returns a result. The steps
 * follow the order a person would check by hand: signature over the document, then the
 * certificate (issuing root by key identifier and signature, type, policy, key usage, validity),
 * then revocation, which is fail closed.
 *
 * What is kept between calls, and why it cannot change an outcome:
 * - parsed certificates, by their exact bytes (certificate-cache.ts), with their decoded
 *   extensions, attributes and imported key: pure functions of the bytes;
 * - for each certificate and expected type, the root it chains to once every check that depends
 *   on nothing but the certificate and the trust anchors has passed (signature by the root, type,
 *   policy, critical extensions, key usage). Anchors never change during a verifier's life.
 *   Failures are not kept: they are computed again;
 * - revocation data until its nextUpdate: checked CRLs (their revoked serials in a Map), and
 *   OCSP answers obtained without a nonce.
 * Validity against the verification time, the freshness of revocation data against now(), the
 * revocation lookup and the signature over the document or challenge happen on every call.
 */
import { POLICY_OID } from "../profile/oids.ts";
import { DerReadError } from "../profile/der-reader.ts";
import { attributesOf, hasPersonalData } from "./attributes.ts";
import {
  KU,
  crlDistributionPointsOf,
  derivedOnce,
  keptFor,
  isCa,
  keyUsageOf,
  ocspUrlsOf,
  policiesOf,
  unknownCriticalExtension,
  type ParsedCertificate,
} from "./certificate.ts";
import { CertificateCache } from "./certificate-cache.ts";
import { CrlCache, checkCrlFresh, checkCrlScope, parseCrl, type CheckedCrl } from "./crl.ts";
import { VerificationFailure, describeError, failure } from "./errors.ts";
import { Unavailable, buildOcspRequest, checkOcspResponse, newNonce, type OcspAnswer } from "./ocsp.ts";
import { OcspAnswerCache } from "./ocsp-cache.ts";
import { TrustStore, type Anchor } from "./trust.ts";
import type {
  Attributes,
  CertificateInfo,
  CertificateType,
  CheckOptions,
  InvalidResult,
  RevocationInfo,
  RevocationOptions,
  SignatureInfo,
  ValidResult,
  VerificationResult,
  VerifierOptions,
  VerifyLimits,
} from "./types.ts";

export const DEFAULT_LIMITS: Readonly<VerifyLimits> = Object.freeze({
  cmsBytes: 16 * 1024 * 1024,
  contentBytes: 64 * 1024 * 1024,
  xmlChars: 4 * 1024 * 1024,
  xmlElements: 2_000,
  xmlMillis: 5_000,
  ocspResponseBytes: 64 * 1024,
  crlBytes: 64 * 1024 * 1024,
  crlNodes: 20_000_000,
  crlCacheEntries: 64,
  certificateCacheEntries: 10_000,
  ocspCacheEntries: 100_000,
});

const TYPES: readonly CertificateType[] = ["sign", "auth"];
const TYPE_JA: Readonly<Record<CertificateType, string>> = { sign: "署名用電子証明書", auth: "利用者証明用電子証明書" };
/** How long a revocation fetch may take before it counts as no answer. */
const FETCH_TIMEOUT_MS = 10_000;

/** Per-call state: what the result can say about the certificate even when it fails. */
export interface CallState {
  certificate?: CertificateInfo;
}

/** A certificate that passed every check, ready to be reported. */
export interface CheckedCertificate {
  readonly type: CertificateType;
  readonly certificate: CertificateInfo;
  readonly attributes?: Attributes;
  readonly root: Anchor;
  readonly revocation: RevocationInfo;
  readonly at: Date;
}

/** The certificate as results describe it; made once per parsed certificate and frozen, as results share it. */
export function certificateInfo(cert: ParsedCertificate): CertificateInfo {
  return derivedOnce(cert, "info", () =>
    Object.freeze({
      serialHex: cert.serialHex,
      subject: cert.subject,
      issuer: cert.issuer,
      notBefore: cert.notBefore.toISOString(),
      notAfter: cert.notAfter.toISOString(),
    }),
  );
}

/** The four attributes of a signing certificate, decoded once per parsed certificate and frozen. */
function attributesOnce(cert: ParsedCertificate): Attributes {
  return derivedOnce(cert, "attributes", () => {
    // attributesOf makes fresh objects: frozen as they are, not copied first.
    const a = attributesOf(cert);
    Object.freeze(a.gender);
    Object.freeze(a.birth);
    return Object.freeze(a);
  });
}

/**
 * A signing time claimed before the certificate's notBefore (or after its notAfter) claims a
 * signature the key could not have made under that certificate: refused with the validity codes,
 * before revocation is asked. Checked against the certificate only, as the claim is the signer's.
 */
function checkSignedWithinValidity(c: ParsedCertificate, signedAt: Date): void {
  const t = signedAt.getTime();
  const code = t < c.notBefore.getTime() ? "not-yet-valid" : t > c.notAfter.getTime() ? "expired" : undefined;
  if (code === undefined) return;
  const signingTime = signedAt.toISOString();
  const notBefore = c.notBefore.toISOString();
  const notAfter = c.notAfter.toISOString();
  failure(code, `the signingTime ${signingTime} is outside the certificate's validity (${notBefore} to ${notAfter})`, { signingTime, notBefore, notAfter });
}

/** One certificate of the path, valid at the verification time (a function, not a loop over pairs: it runs on every call). */
function checkValidAt(c: ParsedCertificate, which: "certificate" | "root", at: Date): void {
  if (at < c.notBefore) failure("not-yet-valid", `the ${which} is not valid until ${c.notBefore.toISOString()} (checked at ${at.toISOString()})`, { certificate: which, notBefore: c.notBefore.toISOString(), at: at.toISOString() });
  if (at > c.notAfter) failure("expired", `the ${which} expired at ${c.notAfter.toISOString()} (checked at ${at.toISOString()})`, { certificate: which, notAfter: c.notAfter.toISOString(), at: at.toISOString() });
}

function policyTypeOf(cert: ParsedCertificate): CertificateType | "both" | undefined {
  const policies = policiesOf(cert);
  const sign = policies.includes(POLICY_OID.sign) || policies.includes(POLICY_OID.signTest);
  const auth = policies.includes(POLICY_OID.auth);
  return sign && auth ? "both" : sign ? "sign" : auth ? "auth" : undefined;
}

function checkLimits(limits: Partial<VerifyLimits> | undefined): VerifyLimits {
  if (limits === undefined) return DEFAULT_LIMITS;
  if (typeof limits !== "object" || limits === null) throw new TypeError("limits must be an object");
  const out = { ...DEFAULT_LIMITS };
  for (const [key, value] of Object.entries(limits)) {
    if (!(key in DEFAULT_LIMITS)) throw new TypeError(`limits.${key} is not a known limit`);
    if (value === undefined) continue;
    if (!Number.isSafeInteger(value) || (value as number) <= 0) throw new TypeError(`limits.${key} must be a positive integer`);
    (out as Record<string, number>)[key] = value as number;
  }
  return out;
}

function checkRevocationOptions(r: RevocationOptions): void {
  if (!r || typeof r !== "object") throw new TypeError("revocation must be an object ({} means no method: every verification fails closed)");
  if (r.ocsp !== undefined) {
    if (typeof r.ocsp?.fetch !== "function") throw new TypeError("revocation.ocsp.fetch must be a function (url, requestDer) => Promise<Uint8Array>");
    if (r.ocsp.useNonce !== undefined && typeof r.ocsp.useNonce !== "boolean") throw new TypeError("revocation.ocsp.useNonce must be a boolean");
    if (r.ocsp.url !== undefined && typeof r.ocsp.url !== "string") throw new TypeError("revocation.ocsp.url must be a string");
  }
  if (r.crl !== undefined) {
    if (typeof r.crl?.fetch !== "function") throw new TypeError("revocation.crl.fetch must be a function (url) => Promise<Uint8Array>");
    if (r.crl.url !== undefined && typeof r.crl.url !== "string") throw new TypeError("revocation.crl.url must be a string");
  }
  if (r.prefer !== undefined && r.prefer !== "ocsp" && r.prefer !== "crl") throw new TypeError('revocation.prefer must be "ocsp" or "crl"');
}

export function checkCallOptions(options: CheckOptions | undefined, defaultType: CertificateType | undefined, what: string): { expectedType: CertificateType; at?: Date } {
  if (options !== undefined && (typeof options !== "object" || options === null)) throw new TypeError(`${what}: options must be an object`);
  const expectedType = options?.expectedType ?? defaultType;
  if (!TYPES.includes(expectedType as CertificateType)) throw new TypeError(`${what}: expectedType must be "sign" or "auth"`);
  const at = options?.at;
  if (at !== undefined && (!(at instanceof Date) || Number.isNaN(at.getTime()))) throw new TypeError(`${what}: at must be a valid Date`);
  return { expectedType: expectedType as CertificateType, ...(at ? { at } : {}) };
}

function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Unavailable(`${what} took longer than ${FETCH_TIMEOUT_MS / 1000} s`)), FETCH_TIMEOUT_MS);
    timer.unref?.();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

interface Attempt {
  readonly method: "ocsp" | "crl";
  readonly url?: string;
  readonly reason: string;
}

/** The engine behind `createVerifier`; the document formats (cms.ts, xml.ts) call `checkCertificate`. */
export class VerifierCore {
  readonly trust: TrustStore;
  readonly limits: VerifyLimits;
  readonly #revocation: RevocationOptions;
  /** The revocation methods in the order they are tried (fixed for the verifier's life). */
  readonly #methods: readonly ("ocsp" | "crl")[];
  readonly #now: () => Date;
  readonly #skewMs: number;
  readonly #crlCache: CrlCache;
  readonly #ocspAnswers: OcspAnswerCache;
  /** Parsed certificates seen by this verifier (documents' signers, logins, OCSP responders). */
  readonly certificates: CertificateCache;
  /** This verifier's key for what it keeps on a certificate (keptFor): the certificate holds it, and should not hold the verifier. */
  readonly #ownKey = {};
  /**
   * Delegated OCSP responder certificates already checked against a root. A WeakMap is fine here,
   * unlike for signers' certificates (see certificate.ts DERIVED): responders are few and long-lived.
   */
  readonly #delegations = new WeakMap<ParsedCertificate, Set<string>>();

  constructor(options: VerifierOptions) {
    if (!options || typeof options !== "object") throw new TypeError("createVerifier needs an options object");
    this.trust = new TrustStore(options.trustAnchors);
    checkRevocationOptions(options.revocation);
    this.#revocation = { ...options.revocation };
    const methods: ("ocsp" | "crl")[] = [];
    if (this.#revocation.ocsp) methods.push("ocsp");
    if (this.#revocation.crl) methods.push("crl");
    if (this.#revocation.prefer === "crl") methods.reverse();
    this.#methods = methods;
    if (options.now !== undefined && typeof options.now !== "function") throw new TypeError("now must be a function returning a Date");
    this.#now = options.now ?? (() => new Date());
    const skew = options.clockSkewSeconds ?? 300;
    if (!Number.isFinite(skew) || skew < 0) throw new TypeError("clockSkewSeconds must be a non-negative number");
    this.#skewMs = skew * 1000;
    this.limits = checkLimits(options.limits);
    this.#crlCache = new CrlCache(this.limits.crlCacheEntries);
    this.#ocspAnswers = new OcspAnswerCache(this.limits.ocspCacheEntries);
    this.certificates = new CertificateCache(this.limits.certificateCacheEntries);
  }

  now(): Date {
    const now = this.#now();
    if (!(now instanceof Date) || Number.isNaN(now.getTime())) throw new TypeError("now() must return a valid Date");
    return now;
  }

  /** Runs one verification, turning a failure into a result. */
  async run(body: (state: CallState) => Promise<ValidResult>): Promise<VerificationResult> {
    const state: CallState = {};
    try {
      return await body(state);
    } catch (thrown) {
      // A strict DER read that escaped its parser's own refusal is still malformed input, not a crash.
      const error = thrown instanceof DerReadError ? new VerificationFailure("malformed-input", `not DER: ${thrown.message}`) : thrown;
      if (error instanceof VerificationFailure) {
        const result: InvalidResult = {
          valid: false,
          code: error.code,
          message: error.message,
          ...(error.detail ? { detail: error.detail } : {}),
          ...(state.certificate ? { certificate: state.certificate } : {}),
        };
        return result;
      }
      throw error;
    }
  }

  /**
   * Every check of one end-entity certificate, revocation last. `signedAt` is the time a CMS
   * signer claims to have signed (signingTime): the certificate must have been valid then too.
   */
  async checkCertificate(
    cert: ParsedCertificate,
    expected: CertificateType,
    atOption: Date | undefined,
    state: CallState,
    signedAt?: Date,
  ): Promise<CheckedCertificate> {
    state.certificate = certificateInfo(cert);
    const now = this.now();
    const at = atOption ?? now;
    const root = this.#acceptedRoot(cert, expected);

    // Validity at the verification time: the certificate, and the root that issued it.
    checkValidAt(cert, "certificate", at);
    checkValidAt(root.cert, "root", at);
    if (signedAt) checkSignedWithinValidity(cert, signedAt);

    const attributes = expected === "sign" ? attributesOnce(cert) : undefined;
    const revocation = await this.revocationOf(cert, root, now);
    return { type: expected, certificate: state.certificate, ...(attributes ? { attributes } : {}), root, revocation, at };
  }

  /**
   * The root `cert` chains to, after every check that depends only on the certificate and the
   * trust anchors: done once per (certificate, expected type); a failure is not kept.
   */
  #acceptedRoot(cert: ParsedCertificate, expected: CertificateType): Anchor {
    // Per expected type, the root the certificate was found to chain to, kept on the certificate for this verifier.
    const accepted = keptFor(cert, this.#ownKey, (): Partial<Record<CertificateType, Anchor>> => ({}));
    return (accepted[expected] ??= this.#checkPathAndProfile(cert, expected));
  }

  #checkPathAndProfile(cert: ParsedCertificate, expected: CertificateType): Anchor {
    const root = this.trust.issuerOf(cert);

    // Type: the root it chains to, and the policy it carries, must both be the expected type.
    const policyType = policyTypeOf(cert);
    if (root.type !== expected) {
      if (policyType === expected) {
        failure("untrusted-root", `this ${TYPE_JA[expected]} (${expected}) was issued by a ${root.type} root, not a ${expected} trust anchor`, {
          expectedType: expected,
          rootType: root.type,
        });
      }
      failure("wrong-certificate-type", `expected a ${TYPE_JA[expected]} (${expected}), got a ${TYPE_JA[root.type]} (${root.type})`, {
        expectedType: expected,
        actualType: root.type,
      });
    }
    if (policyType === undefined) failure("bad-policy", `the certificate carries no JPKI ${expected} policy (${expected === "sign" ? POLICY_OID.sign : POLICY_OID.auth})`, { policies: [...policiesOf(cert)] });
    if (policyType !== expected) failure("bad-policy", `the certificate's policy is for ${policyType === "both" ? "both types" : policyType} but its root is a ${expected} root`, { policies: [...policiesOf(cert)] });
    const critical = unknownCriticalExtension(cert);
    if (critical) failure("malformed-input", `the certificate has a critical extension this verifier does not process (${critical})`, { extension: critical });
    if (expected === "auth" && hasPersonalData(cert)) failure("bad-policy", "an authentication certificate must carry no personal data");

    // Key usage.
    if (isCa(cert)) failure("bad-key-usage", "the certificate is a CA certificate, not an end-entity certificate");
    const ku = keyUsageOf(cert);
    const needed = expected === "sign" ? KU.digitalSignature | KU.nonRepudiation : KU.digitalSignature;
    if (ku === undefined || (ku & needed) !== needed) {
      failure("bad-key-usage", `a ${expected} certificate needs keyUsage ${expected === "sign" ? "digitalSignature and nonRepudiation" : "digitalSignature"}`, {
        keyUsage: ku ?? null,
      });
    }
    return root;
  }

  result(checked: CheckedCertificate, signature?: SignatureInfo, content?: Uint8Array): ValidResult {
    return {
      valid: true,
      type: checked.type,
      certificate: checked.certificate,
      ...(checked.attributes ? { attributes: checked.attributes } : {}),
      path: { root: checked.root.info },
      revocation: checked.revocation,
      verifiedAt: checked.at.toISOString(),
      ...(signature ? { signature } : {}),
      ...(content ? { content } : {}),
    };
  }

  // ----- revocation -----

  async revocationOf(cert: ParsedCertificate, root: Anchor, now: Date): Promise<RevocationInfo> {
    const methods = this.#methods;
    if (methods.length === 0) {
      failure("revocation-unavailable", "no revocation method is configured (OCSP or CRL); a certificate whose status is unknown is not accepted", {
        attempts: [],
      });
    }
    const attempts: Attempt[] = [];
    for (const method of methods) {
      const info = method === "ocsp" ? await this.#viaOcsp(cert, root, now, attempts) : await this.#viaCrl(cert, root, now, attempts);
      if (info) return info;
    }
    return failure(
      "revocation-unavailable",
      `no revocation answer could be trusted: ${attempts.map((a) => `${a.method}${a.url ? ` ${a.url}` : ""}: ${a.reason}`).join("; ")}`,
      { attempts },
    );
  }

  async #viaOcsp(cert: ParsedCertificate, root: Anchor, now: Date, attempts: Attempt[]): Promise<RevocationInfo | undefined> {
    const ocsp = this.#revocation.ocsp!;
    const urls = ocsp.url ? [ocsp.url] : ocspUrlsOf(cert);
    if (urls.length === 0) {
      attempts.push({ method: "ocsp", reason: "the certificate names no OCSP responder (authorityInfoAccess)" });
      return undefined;
    }
    const useNonce = ocsp.useNonce !== false;
    for (const url of urls) {
      try {
        const key = useNonce ? undefined : OcspAnswerCache.key(url, root, cert.serialHex);
        let answer = key === undefined ? undefined : this.#ocspAnswers.get(key, now, this.#skewMs);
        const cached = answer !== undefined;
        if (!answer) {
          answer = await this.#askOcsp(url, cert, root, now, useNonce);
          if (key !== undefined) this.#ocspAnswers.put(key, answer);
        }
        if (answer.kind === "revoked") this.#revoked(answer.reason, answer.reasonCode, answer.revokedAt, "ocsp", url);
        if (answer.kind === "unknown") {
          failure("unknown-certificate", `the OCSP responder at ${url} does not know certificate ${cert.serialHex}`, { method: "ocsp", url });
        }
        return {
          method: "ocsp",
          status: "good",
          url,
          producedAt: answer.producedAt.toISOString(),
          thisUpdate: answer.thisUpdate.toISOString(),
          ...(answer.nextUpdate ? { nextUpdate: answer.nextUpdate.toISOString() } : {}),
          ...(useNonce ? {} : { cached }),
        };
      } catch (error) {
        if (!(error instanceof Unavailable)) throw error;
        attempts.push({ method: "ocsp", url, reason: error.message });
      }
    }
    return undefined;
  }

  /** One OCSP request and its checked answer; throws `Unavailable` when it cannot be trusted. */
  async #askOcsp(url: string, cert: ParsedCertificate, root: Anchor, now: Date, useNonce: boolean): Promise<OcspAnswer> {
    const ocsp = this.#revocation.ocsp!;
    const nonce = useNonce ? newNonce() : undefined;
    const request = buildOcspRequest(cert, root, nonce);
    let response: Uint8Array;
    try {
      response = await withTimeout(Promise.resolve().then(() => ocsp.fetch(url, request)), "the OCSP request");
    } catch (error) {
      throw error instanceof Unavailable ? error : new Unavailable(`fetch failed: ${describeError(error)}`);
    }
    return checkOcspResponse(response, {
      leaf: cert,
      issuer: root,
      now,
      skewMs: this.#skewMs,
      maxBytes: this.limits.ocspResponseBytes,
      certificates: this.certificates,
      delegations: this.#delegations,
      ...(nonce ? { nonce } : {}),
    });
  }

  async #viaCrl(cert: ParsedCertificate, root: Anchor, now: Date, attempts: Attempt[]): Promise<RevocationInfo | undefined> {
    const crlOptions = this.#revocation.crl!;
    const points = crlDistributionPointsOf(cert);
    const urls = crlOptions.url ? [crlOptions.url] : points.uris;
    if (urls.length === 0) {
      attempts.push({ method: "crl", reason: "the certificate names no CRL location (cRLDistributionPoints URI)" });
      return undefined;
    }
    for (const url of urls) {
      try {
        const key = CrlCache.key(url, root);
        let crl: CheckedCrl | undefined = this.#crlCache.get(key, now);
        const cached = crl !== undefined;
        if (!crl) {
          crl = await this.#crlCache.shared(key, async () => {
            let der: Uint8Array;
            try {
              der = await withTimeout(Promise.resolve().then(() => crlOptions.fetch(url)), "the CRL download");
            } catch (error) {
              throw error instanceof Unavailable ? error : new Unavailable(`fetch failed: ${describeError(error)}`);
            }
            const checked = parseCrl(der, url, root, { maxBytes: this.limits.crlBytes, maxNodes: this.limits.crlNodes });
            checkCrlFresh(checked, now, this.#skewMs);
            this.#crlCache.put(key, checked);
            return checked;
          });
        }
        checkCrlFresh(crl, now, this.#skewMs);
        checkCrlScope(crl, cert, points);
        const entry = crl.statusOf(cert.serialHex);
        if (entry) this.#revoked(entry.reason, entry.reasonCode, entry.revokedAt, "crl", url);
        return {
          method: "crl",
          status: "good",
          url,
          thisUpdate: crl.thisUpdateIso,
          nextUpdate: crl.nextUpdateIso,
          cached,
        };
      } catch (error) {
        if (!(error instanceof Unavailable)) throw error;
        attempts.push({ method: "crl", url, reason: error.message });
      }
    }
    return undefined;
  }

  #revoked(reason: string, reasonCode: number, revokedAt: Date, method: "ocsp" | "crl", url: string): never {
    const detail = { reason, reasonCode, revokedAt: revokedAt.toISOString(), method, url };
    if (reason === "certificateHold") failure("on-hold", `the certificate is on hold since ${detail.revokedAt} (${method})`, detail);
    return failure("revoked", `the certificate was revoked at ${detail.revokedAt}, reason ${reason} (${method})`, detail);
  }
}
