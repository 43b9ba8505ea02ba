// The one record per TLS connection of what its client certificate is worth: the certificate as
// presented (leaf, chain, x5t#S256 — computed once by @certbound/cnf-verifier), the verdict of
// path validation and, for a chain that validated, of revocation checking. Everything on the
// server reads this record; nothing parses, hashes or validates the certificate again.
//
// Path validation and revocation are the expensive part of an mTLS request, and their answer only
// changes with time. A TLS connection presents its certificate once, so the record is kept per
// socket (WeakMap: it goes when the socket does). Verdicts also live in a bounded LRU keyed by
// what was presented, so the same chain on the next connection (a partner that connects per call,
// often resuming its TLS session) or forwarded by a trusted proxy (no socket of its own) is not
// validated again. A verdict never outlives what it rests on: the first expiry in the chain and
// the revocation answers (their nextUpdate, or a short retry for an unknown status).
// Reloading the CAs (a LiveTrustStore replaced by ops/reload.ts) or CLIENT_CRL_FILE (invalidate())
// starts a new epoch: a verdict of an older epoch is computed again on its connection's next
// request, so a client whose CA an operator removed is refused even on a kept-alive connection.
import { X509Certificate } from 'node:crypto';
import type { PresentedCertificate } from '@certbound/cnf-verifier';
import { LRUCache } from 'lru-cache';
import { validatePath, type PathErrorCode } from './path-validation.ts';
import { recordCertificateVerdict } from '../ops/metrics.ts';
import { describeRevocation, type RevocationAnswer, type RevocationChecker } from './revocation/index.ts';
import { trustStoreNow, type TrustStore } from './trust-store.ts';

export type CertificateErrorCode = PathErrorCode | 'revoked' | 'revocation_unknown';

export type CertificateVerdict =
  | { ok: true; chain: X509Certificate[]; /** absent when revocation checking is off */ revocation?: RevocationAnswer }
  | { ok: false; code: CertificateErrorCode; reason: string };

/** What a request's certificate is worth: read by oidc/ callbacks, refusals and the admin API. */
export interface ConnectionRecord {
  readonly presented: PresentedCertificate;
  readonly verdict: CertificateVerdict;
}

export interface VerdictCache {
  /** `socket` undefined = the certificate came from a proxy header */
  verdict(socket: object | undefined, presented: PresentedCertificate): Promise<CertificateVerdict>;
  /** entries in the certificate LRU */
  readonly size: number;
}

/** The cache itself (what createVerdictCache returns), as ops/reload.ts sees it. */
export interface ReloadableVerdictCache extends VerdictCache {
  /** forget every verdict: the revocation material changed (a CA change is noticed by itself) */
  invalidate(): void;
}

export interface VerdictCacheOptions {
  /** revocation checking for chains that validate; none = not checked */
  revocation?: RevocationChecker;
  /** smallest RSA modulus accepted (path-validation.ts; never below 2048) */
  minRsaBits?: number;
  /** certificate LRU bound; default 10 000 */
  maxEntries?: number;
  /** how long a refusal is reused; default 60 s, so a CA fixed in the store is noticed soon */
  failureTtlMs?: number;
  /** clock, for tests */
  now?: () => number;
}

interface Entry {
  readonly key: string;
  readonly verdict: Promise<CertificateVerdict>;
  /** the verdict may be reused until this instant (ms) */
  expiresAt: number;
  /** the trust material it was decided under (see `epoch` below) */
  readonly epoch: number;
}

export function createVerdictCache(trustStore: TrustStore, options: VerdictCacheOptions = {}): ReloadableVerdictCache {
  const { revocation, minRsaBits, maxEntries = 10_000, failureTtlMs = 60_000, now = Date.now } = options;
  const bySocket = new WeakMap<object, { entry: Entry; presented: PresentedCertificate }>();
  const byCertificate = new LRUCache<string, Entry>({ max: maxEntries });
  const keyOf = (presented: PresentedCertificate) => [presented.thumbprint, ...presented.chain.map((c) => c.fingerprint256)].join('.');
  // An entry is reused only within the epoch it was decided in: +1 at invalidate() and whenever the
  // trust store's generation moved (read on every request: one property read).
  let epoch = 0;
  let trustGeneration = trustStoreNow(trustStore).generation;
  const invalidate = () => {
    epoch++;
    byCertificate.clear();
  };
  const currentEpoch = () => {
    const { generation } = trustStoreNow(trustStore);
    if (generation !== trustGeneration) {
      trustGeneration = generation;
      invalidate();
    }
    return epoch;
  };

  async function decide(presented: PresentedCertificate, at: number): Promise<{ verdict: CertificateVerdict; expiresAt: number }> {
    // One bundle for the whole validation, even if a reload replaces it meanwhile.
    const store = trustStoreNow(trustStore).store;
    const path = await validatePath({ leaf: presented.leaf, presented: presented.chain, trustStore: store, at: new Date(at), minRsaBits });
    if (!path.ok) return { verdict: path, expiresAt: Math.min(presented.leaf.validToDate.getTime(), at + failureTtlMs) };
    const chainExpiry = Math.min(...path.chain.map((c) => c.validToDate.getTime()));
    // RFC 5280 §6.3: revocation is asked only about a chain that validated, so no request ever
    // goes to an address named by a certificate nobody vouched for.
    if (!revocation || revocation.mode === 'off') return { verdict: path, expiresAt: chainExpiry };
    const answer = await revocation.check(path.chain);
    const expiresAt = Math.min(chainExpiry, answer.validUntil);
    if (answer.status === 'revoked') return { verdict: { ok: false, code: 'revoked', reason: describeRevocation(answer) }, expiresAt };
    if (answer.status === 'unknown' && revocation.mode === 'hard') {
      return { verdict: { ok: false, code: 'revocation_unknown', reason: describeRevocation(answer) }, expiresAt };
    }
    // soft: an unreachable responder does not lock partners out; the checker logged and counted it.
    return { verdict: { ...path, revocation: answer }, expiresAt };
  }

  const compute = (key: string, presented: PresentedCertificate): Entry => {
    const at = now();
    const decidedIn = epoch;
    // Until settled, the entry lives as long as the leaf: concurrent requests share the work.
    const decided = decide(presented, at).catch((error: unknown) => ({
      // decide() has no throwing step; should one appear, the answer is still a refusal, never a 500
      verdict: { ok: false as const, code: 'untrusted' as const, reason: `certificate could not be checked (${(error as Error)?.message ?? String(error)})` },
      expiresAt: at + failureTtlMs,
    }));
    const entry: Entry = { key, verdict: decided.then((d) => d.verdict), expiresAt: presented.leaf.validToDate.getTime(), epoch: decidedIn };
    void decided.then((d) => {
      entry.expiresAt = d.expiresAt;
    });
    return entry;
  };

  const shared = (key: string, presented: PresentedCertificate): Entry => {
    let entry = byCertificate.get(key);
    if (!entry || now() > entry.expiresAt || entry.epoch !== epoch) {
      entry = compute(key, presented);
      byCertificate.set(key, entry);
    }
    return entry;
  };

  return {
    get size() {
      return byCertificate.size;
    },
    invalidate,
    async verdict(socket, presented) {
      if (!(presented.leaf instanceof X509Certificate) || !presented.chain.every((c) => c instanceof X509Certificate)) {
        // garbage: answered, never cached
        return validatePath({ leaf: presented.leaf, presented: presented.chain, trustStore: trustStoreNow(trustStore).store, at: new Date(now()), minRsaBits });
      }
      const current = currentEpoch();
      if (socket !== undefined) {
        const mine = bySocket.get(socket);
        // The same connection hands in the same PresentedCertificate object on every request
        // (@certbound/cnf-verifier computes it once per socket): no key to build then.
        if (mine && mine.presented === presented && now() <= mine.entry.expiresAt && mine.entry.epoch === current) return mine.entry.verdict;
        const key = keyOf(presented);
        let entry = mine?.entry;
        // A different key means TLS 1.2 renegotiation brought another certificate.
        if (!entry || entry.key !== key || now() > entry.expiresAt || entry.epoch !== current) entry = shared(key, presented);
        bySocket.set(socket, { entry, presented });
        return recordCertificateVerdict('mtls', entry.verdict); // once per connection: certbound_tls_client_certificates_total
      }
      return recordCertificateVerdict('proxy', shared(keyOf(presented), presented).verdict);
    },
  };
}
