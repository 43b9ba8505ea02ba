// The revocation check for a chain that has already been path-validated (RFC 5280 §6.3 is the
// revocation part of path validation; doing it only after the rest means no request ever goes to
// an address an untrusted certificate names). Per certificate, in order:
//   1. CLIENT_CRL_FILE, when set: a revoked entry there is final;
//   2. the OCSP responders the certificate names (AIA, RFC 6960), first definitive answer wins;
//   3. when no OCSP answer was definitive, the CRL distribution points it names (RFC 5280 §4.2.1.13).
// A definitive 'revoked' from any source wins; otherwise 'good' from any source; otherwise
// 'unknown'. Soft or hard is the caller's decision: this only answers (and, in soft mode, logs an
// unknown once per certificate per retry window so an outage is visible).
import { createHash, type X509Certificate } from 'node:crypto';
import type { Logger } from '../../log.ts';
import type { KvStore } from '../../storage/kv/kv.ts';
import { reasonName, worstOf, type RevocationAnswer, type RevocationMode, type RevocationSource } from './answer.ts';
import { createDerStore, createLru } from './cache.ts';
import { describeCert } from '../trust-store.ts';
import { createCrlFileSource, type CrlFileSource } from './crl-file.ts';
import { crlDerBlocks, crlFreshness, lookupSerial, verifyCrl, type CrlLookup, type VerifiedCrl } from './crl.ts';
import {
  DEFAULT_MAX_CRL_BYTES, DEFAULT_MAX_OCSP_BYTES, DEFAULT_TIMEOUT_MS, httpFetch, singleFlight, unusableUrl,
  type HttpFetch, type HttpResult,
} from './fetch.ts';
import { buildOcspRequest, DEFAULT_SKEW_MS, verifyOcspResponse } from './ocsp.ts';
import { revocationUrls } from './urls.ts';
import type { RevocationHealth } from './health.ts';
import { recordRevocationEvent } from '../../ops/metrics.ts';

export interface RevocationChecker {
  readonly mode: RevocationMode;
  /**
   * `chain` has ALREADY been path-validated: leaf first, trust anchor last. Checks every
   * certificate but the anchor against its issuer (chain[i + 1]). Resolves to the worst answer
   * (revoked > unknown > good) with validUntil the earliest of the chain. Never throws.
   */
  check(chain: readonly X509Certificate[]): Promise<RevocationAnswer>;
  /** counters for tests and metrics, e.g. { 'ocsp:good': 3, 'ocsp:error': 1, 'fetch:crl': 1 } */
  counts(): Record<string, number>;
  close(): void;
}

export interface RevocationCheckerOptions {
  readonly mode: RevocationMode;
  /** shared store (Redis) for the signed responses and CRLs, so every instance reuses them */
  readonly kv?: KvStore;
  /** CLIENT_CRL_FILE: its path, or the source ops/reload.ts keeps up to date */
  readonly crlFile?: string | CrlFileSource;
  /** per HTTP exchange; default 2000 ms */
  readonly timeoutMs?: number;
  /** one cap for OCSP and CRL bodies; default 1 MiB for OCSP, 10 MiB for CRLs */
  readonly maxResponseBytes?: number;
  readonly logger?: Pick<Logger, 'warn'>;
  readonly now?: () => number;
  readonly fetch?: HttpFetch;
  /** how long an 'unknown' is kept before asking again; default 30 s */
  readonly retryMs?: number;
  /** upper bound on relying on any answer, whatever its nextUpdate says; default 1 h */
  readonly maxAgeMs?: number;
  /** tolerated clock difference for thisUpdate; default 5 min */
  readonly skewMs?: number;
  /** how often CLIENT_CRL_FILE's mtime is looked at; default 1 s */
  readonly crlFileRecheckMs?: number;
  /** where each completed OCSP / CRL fetch is recorded (health.ts: GET /admin/v1/status) */
  readonly health?: RevocationHealth;
}

type About = Pick<RevocationAnswer, 'serial' | 'subject'>;
type CrlState = { readonly crl: VerifiedCrl; readonly until: number } | { readonly detail: string; readonly until: number };

const sha256 = (text: string | Uint8Array) => createHash('sha256').update(text).digest('base64url');

export function createRevocationChecker(options: RevocationCheckerOptions): RevocationChecker {
  const {
    mode, kv, crlFile, logger, health, now = Date.now, timeoutMs = DEFAULT_TIMEOUT_MS, retryMs = 30_000,
    maxAgeMs = 3_600_000, skewMs = DEFAULT_SKEW_MS, crlFileRecheckMs = 1000,
  } = options;
  const maxOcspBytes = options.maxResponseBytes ?? DEFAULT_MAX_OCSP_BYTES;
  const maxCrlBytes = options.maxResponseBytes ?? DEFAULT_MAX_CRL_BYTES;
  const tally = new Map<string, number>();
  const bump = (name: string) => {
    tally.set(name, (tally.get(name) ?? 0) + 1);
    recordRevocationEvent(name); // certbound_revocation_checks_total (ops/metrics.ts)
  };
  const fetch = singleFlight(options.fetch ?? httpFetch, (request) => bump(request.method === 'POST' ? 'fetch:ocsp' : 'fetch:crl'));
  const store = kv ? createDerStore(kv, now) : undefined;
  const file = typeof crlFile === 'object' ? crlFile : crlFile ? createCrlFileSource(crlFile, { now, recheckMs: crlFileRecheckMs }) : undefined;
  const ocspAnswers = createLru<RevocationAnswer>(10_000, now);
  const crls = createLru<CrlState>(1_000, now);
  const logged = createLru<true>(10_000, now);
  const inFlight = new Map<string, Promise<unknown>>();

  /** concurrent callers asking the same question share one computation */
  const shared = <T>(key: string, compute: () => Promise<T>): Promise<T> => {
    let pending = inFlight.get(key) as Promise<T> | undefined;
    if (pending === undefined) {
      pending = compute().finally(() => inFlight.delete(key));
      inFlight.set(key, pending);
    }
    return pending;
  };

  const bounded = (nextUpdate: Date | undefined) => Math.min(nextUpdate?.getTime() ?? now() + retryMs, now() + maxAgeMs);

  const unknown = (about: About, source: RevocationSource, detail: string): RevocationAnswer =>
    ({ status: 'unknown', source, ...about, validUntil: now() + retryMs, detail });

  const fromLookup = (found: CrlLookup, source: RevocationSource, about: About, validUntil: number): RevocationAnswer => {
    if (found.status === 'unknown') return { ...unknown(about, source, found.detail), validUntil: Math.min(validUntil, now() + retryMs) };
    if (found.status === 'good') return { status: 'good', source, ...about, validUntil };
    return { status: 'revoked', source, ...about, reason: reasonName(found.reasonCode), reasonCode: found.reasonCode ?? 0, revokedAt: found.revokedAt, validUntil };
  };

  const ocspAnswer = (url: string, cert: X509Certificate, issuer: X509Certificate, about: About): Promise<RevocationAnswer> => {
    const request = buildOcspRequest(cert, issuer);
    const key = `ocsp:${sha256(`${url}\n${request.certId.toString('base64')}`)}`;
    return shared(key, async () => {
      const cached = ocspAnswers.get(key);
      if (cached !== undefined) {
        bump('ocsp:cache-hit');
        return cached;
      }
      const [answer, outcome] = await askResponder(url, key, request.der, cert, issuer, about);
      bump(`ocsp:${outcome}`);
      ocspAnswers.set(key, answer, answer.validUntil);
      return answer;
    });
  };

  /** the answer, and for the counters: the responder's status, 'error' (not reached) or 'invalid' (refused) */
  type Asked = [RevocationAnswer, 'good' | 'revoked' | 'unknown' | 'error' | 'invalid'];
  const askResponder = async (url: string, key: string, body: Buffer, cert: X509Certificate, issuer: X509Certificate, about: About): Promise<Asked> => {
    const refusal = unusableUrl(url);
    if (refusal !== undefined) return [unknown(about, 'ocsp', `OCSP responder ${url} ${refusal}`), 'error'];
    const context = { cert, issuer, now: now(), skewMs };
    // A stored response is used only if it still verifies now (the store is not trusted).
    const stored = await store?.load(key);
    let verdict = stored && verifyOcspResponse(stored, context);
    let fetched: HttpResult | undefined;
    if (verdict && verdict.ok && verdict.status !== 'unknown') {
      bump('ocsp:store-hit');
    } else {
      fetched = await fetch({ url, method: 'POST', body, contentType: 'application/ocsp-request', accept: 'application/ocsp-response', timeoutMs, maxBytes: maxOcspBytes });
      if (!fetched.ok) {
        health?.failed('ocsp', url, fetched.detail);
        return [unknown(about, 'ocsp', `OCSP responder ${url} ${fetched.detail}`), 'error'];
      }
      verdict = verifyOcspResponse(fetched.body, { ...context, now: now() });
      if (verdict.ok) health?.succeeded('ocsp', url);
      else health?.failed('ocsp', url, `response refused: it ${verdict.detail}`);
    }
    if (!verdict.ok) return [unknown(about, 'ocsp', `OCSP response from ${url} refused: it ${verdict.detail}`), 'invalid'];
    if (verdict.status === 'unknown') {
      return [unknown(about, 'ocsp', `OCSP responder ${url} does not know serial ${cert.serialNumber} (certStatus unknown)`), 'unknown'];
    }
    const validUntil = bounded(verdict.nextUpdate);
    if (fetched?.ok) await store?.save(key, fetched.body, validUntil);
    const answer: RevocationAnswer = verdict.status === 'good'
      ? { status: 'good', source: 'ocsp', ...about, validUntil }
      : { status: 'revoked', source: 'ocsp', ...about, reason: reasonName(verdict.reasonCode), reasonCode: verdict.reasonCode ?? 0, revokedAt: verdict.revokedAt!, validUntil };
    return [answer, verdict.status];
  };

  const crlAnswer = async (url: string, cert: X509Certificate, issuer: X509Certificate, about: About): Promise<RevocationAnswer> => {
    const refusal = unusableUrl(url);
    if (refusal !== undefined) return unknown(about, 'crl', `CRL distribution point ${url} ${refusal}`);
    const key = `crl:${sha256(url)}`;
    const localKey = `${key}:${issuer.fingerprint256}`;
    const state = await shared(localKey, async (): Promise<CrlState> => {
      const cached = crls.get(localKey);
      if (cached !== undefined) {
        bump('crl:cache-hit');
        return cached;
      }
      const loaded = await loadCrl(url, key, issuer);
      crls.set(localKey, loaded, loaded.until);
      return loaded;
    });
    if ('detail' in state) {
      bump('crl:error');
      return unknown(about, 'crl', state.detail);
    }
    const stale = crlFreshness(state.crl, now(), skewMs);
    const found = stale === undefined ? lookupSerial(state.crl, cert) : { status: 'unknown' as const, detail: stale };
    bump(`crl:${found.status}`);
    if (found.status === 'unknown') return unknown(about, 'crl', `CRL from ${url} ${found.detail}`);
    return fromLookup(found, 'crl', about, state.until);
  };

  const loadCrl = async (url: string, key: string, issuer: X509Certificate): Promise<CrlState> => {
    const usable = (der: Buffer | undefined) => {
      if (der === undefined) return undefined;
      const verdict = verifyCrl(der, issuer);
      return verdict.ok && crlFreshness(verdict.crl, now(), skewMs) === undefined ? verdict.crl : undefined;
    };
    const stored = usable(await store?.load(key));
    if (stored !== undefined) {
      bump('crl:store-hit');
      return { crl: stored, until: bounded(stored.nextUpdate) };
    }
    const fetched = await fetch({ url, method: 'GET', accept: 'application/pkix-crl', timeoutMs, maxBytes: maxCrlBytes });
    if (!fetched.ok) {
      health?.failed('crl', url, fetched.detail);
      return { detail: `CRL distribution point ${url} ${fetched.detail}`, until: now() + retryMs };
    }
    // RFC 5280 §4.2.1.13: one DER CRL; PEM is tolerated because servers do publish it.
    const [der] = crlDerBlocks(fetched.body);
    const verdict = der === undefined ? { ok: false as const, detail: 'holds no CRL' } : verifyCrl(der, issuer);
    const stale = verdict.ok ? crlFreshness(verdict.crl, now(), skewMs) : undefined;
    if (!verdict.ok || stale !== undefined) {
      const why = `refused: it ${verdict.ok ? stale : verdict.detail}`;
      health?.failed('crl', url, why);
      return { detail: `CRL from ${url} ${why}`, until: now() + retryMs };
    }
    health?.succeeded('crl', url);
    const until = bounded(verdict.crl.nextUpdate);
    await store?.save(key, der, until);
    return { crl: verdict.crl, until };
  };

  const checkCertificate = async (cert: X509Certificate, issuer: X509Certificate): Promise<RevocationAnswer> => {
    const about = { serial: cert.serialNumber, subject: describeCert(cert) };
    const consulted: RevocationAnswer[] = [];
    if (file !== undefined) {
      const found = await file.lookup(cert, issuer);
      if (found !== undefined) {
        // The file can change at any moment: an answer resting on it is re-asked within retryMs.
        const answer = fromLookup(found, 'crl-file', about, Math.min(found.nextUpdate?.getTime() ?? Infinity, now() + retryMs));
        bump(`crl-file:${answer.status}`);
        if (answer.status === 'revoked') return answer;
        consulted.push(answer);
      }
    }
    const { ocspUrls, crlDistributionPoints } = revocationUrls(cert);
    let definitive = false;
    for (const url of ocspUrls) {
      const answer = await ocspAnswer(url, cert, issuer, about);
      consulted.push(answer);
      if ((definitive = answer.status !== 'unknown')) break;
    }
    // RFC 5280 §6.3: any authoritative source will do; the CRL is the fallback when OCSP is silent.
    for (const url of definitive ? [] : crlDistributionPoints) {
      const answer = await crlAnswer(url, cert, issuer, about);
      consulted.push(answer);
      if (answer.status !== 'unknown') break;
    }
    if (consulted.length === 0) {
      return {
        status: 'good', source: 'none', ...about, validUntil: now() + maxAgeMs,
        detail: `the certificate names no OCSP responder or CRL distribution point${file ? ', and CLIENT_CRL_FILE has no CRL from its issuer' : ''}`,
      };
    }
    const validUntil = Math.min(...consulted.map((a) => a.validUntil));
    const decisive = consulted.find((a) => a.status === 'revoked') ?? consulted.find((a) => a.status === 'good');
    if (decisive !== undefined) return { ...decisive, validUntil };
    return { ...consulted[0], validUntil, detail: consulted.map((a) => a.detail).join('; ') };
  };

  const report = (answer: RevocationAnswer, issuer: X509Certificate) => {
    if (answer.status !== 'unknown' || mode !== 'soft' || logger === undefined) return;
    const key = `${issuer.fingerprint256}:${answer.serial}`;
    if (logged.get(key)) return;
    logged.set(key, true, now() + retryMs);
    bump('log:revocation_unknown');
    logger.warn({ event: 'revocation_unknown', serial: answer.serial, subject: answer.subject, source: answer.source, detail: answer.detail },
      'revocation status unknown; allowed because REVOCATION_CHECK=soft');
  };

  return {
    mode,
    async check(chain) {
      const leaf = chain[0];
      try {
        if (leaf === undefined) return { status: 'unknown', source: 'none', serial: '', subject: '', validUntil: now(), detail: 'no certificate to check' };
        const about = { serial: leaf.serialNumber, subject: describeCert(leaf) };
        if (mode === 'off') {
          return { status: 'good', source: 'none', ...about, validUntil: now() + maxAgeMs, detail: 'revocation checking is off (REVOCATION_CHECK=off)' };
        }
        if (chain.length < 2) return { status: 'good', source: 'none', ...about, validUntil: now() + maxAgeMs, detail: 'the certificate is its own trust anchor' };
        const answers = await Promise.all(chain.slice(0, -1).map(async (cert, i) => {
          const answer = await checkCertificate(cert, chain[i + 1]);
          report(answer, chain[i + 1]);
          return answer;
        }));
        const answer = worstOf(answers);
        bump(`answer:${answer.status}`);
        return answer;
      } catch (err) {
        // Never throws: an internal failure is an unknown status, which soft/hard then decides.
        bump('answer:error');
        return { status: 'unknown', source: 'none', serial: leaf?.serialNumber ?? '', subject: leaf ? describeCert(leaf) : '', validUntil: now() + retryMs, detail: `revocation check failed (${(err as Error).message})` };
      }
    },
    counts: () => Object.fromEntries(tally),
    close() {
      // No timers or watchers are held (CLIENT_CRL_FILE is polled on use), so only memory goes.
      inFlight.clear();
    },
  };
}
