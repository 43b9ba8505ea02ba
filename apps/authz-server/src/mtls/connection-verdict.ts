// Path validation is the expensive part of an mTLS request, and its answer only changes with
// time. A TLS connection presents its certificate once, so the verdict is kept per socket
// (WeakMap: it goes when the socket does). Verdicts also live in a bounded LRU keyed by what was
// presented, so the same chain on the next connection (a partner that connects per call, often
// resuming its TLS session) or forwarded by a trusted proxy (no socket of its own) is not
// validated again.
// A cache belongs to one TrustStore: reloading the CAs means a new cache.
import { X509Certificate } from 'node:crypto';
import { validatePath, type PathVerdict } from './path-validation.ts';
import { x5tS256 } from './thumbprint.ts';
import type { TrustStore } from './trust-store.ts';

export interface VerdictCache {
  /** `socket` undefined = the certificate came from a proxy header */
  verdict(socket: object | undefined, leaf: X509Certificate, presented?: X509Certificate[]): Promise<PathVerdict>;
  /** entries in the certificate LRU */
  readonly size: number;
}

export interface VerdictCacheOptions {
  /** certificate LRU bound; default 10 000 */
  maxEntries?: number;
  /** how long a refusal is reused; default 60 s, so a CA fixed in the store is noticed soon */
  failureTtlMs?: number;
  /** clock, for tests */
  now?: () => number;
}

interface Entry {
  readonly key: string;
  readonly verdict: Promise<PathVerdict>;
  /** the verdict may be reused until this instant (ms) */
  expiresAt: number;
}

export function createVerdictCache(trustStore: TrustStore, options: VerdictCacheOptions = {}): VerdictCache {
  const { maxEntries = 10_000, failureTtlMs = 60_000, now = Date.now } = options;
  const bySocket = new WeakMap<object, Entry>();
  const byCertificate = new Map<string, Entry>(); // insertion order = recency

  const compute = (key: string, leaf: X509Certificate, presented: X509Certificate[] | undefined): Entry => {
    const computedAt = now();
    // Until settled, the entry lives as long as the leaf: concurrent requests share the work.
    const entry: Entry = { key, verdict: validatePath({ leaf, presented, trustStore, at: new Date(computedAt) }), expiresAt: leaf.validToDate.getTime() };
    void entry.verdict.then((verdict) => {
      // A success holds until the first certificate of the chain expires; a refusal briefly.
      entry.expiresAt = verdict.ok
        ? Math.min(...verdict.chain.map((c) => c.validToDate.getTime()))
        : Math.min(entry.expiresAt, computedAt + failureTtlMs);
    });
    return entry;
  };

  const shared = (key: string, leaf: X509Certificate, presented: X509Certificate[] | undefined): Entry => {
    let entry = byCertificate.get(key);
    if (entry) byCertificate.delete(key);
    if (!entry || now() > entry.expiresAt) entry = compute(key, leaf, presented);
    byCertificate.set(key, entry);
    if (byCertificate.size > maxEntries) byCertificate.delete(byCertificate.keys().next().value!);
    return entry;
  };

  return {
    get size() {
      return byCertificate.size;
    },
    async verdict(socket, leaf, presented) {
      let key: string;
      try {
        key = [leaf, ...(presented ?? [])].map(x5tS256).join('.');
      } catch {
        return validatePath({ leaf, presented, trustStore, at: new Date(now()) }); // garbage: answered, never cached
      }
      if (socket !== undefined) {
        let entry = bySocket.get(socket);
        // A different key means TLS 1.2 renegotiation brought another certificate.
        if (!entry || entry.key !== key || now() > entry.expiresAt) {
          entry = shared(key, leaf, presented);
          bySocket.set(socket, entry);
        }
        return entry.verdict;
      }
      return shared(key, leaf, presented).verdict;
    },
  };
}
