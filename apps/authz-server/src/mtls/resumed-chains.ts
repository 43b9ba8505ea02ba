// A resumed TLS session (RFC 5077, RFC 8446 §4.6.1) carries the client's leaf certificate but
// not the intermediates it sent in the full handshake (OpenSSL keeps only the peer certificate
// in the session), so the chain a client presented is remembered by the leaf's x5t#S256 — in
// this process and in the KvStore, which every worker and instance shares — and offered again to
// path validation when that client resumes. Only intermediates are stored, never trust: path
// validation still checks every signature up to a configured client CA.
import { X509Certificate } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { isTlsSocket } from '@certbound/cnf-verifier';
import type { KvStore } from '../storage/kv/kv.ts';
import type { VerdictCache } from './connection-verdict.ts';

export interface ChainMemoryOptions {
  /** how long a remembered chain is kept after its last use (seconds) */
  ttlSeconds: number;
  /** entries kept in this process; default 10 000 */
  maxEntries?: number;
  now?: () => number;
}

interface Remembered {
  chain: X509Certificate[];
  /** when the KvStore copy was last written (ms) */
  storedAt: number;
}

/**
 * Wraps the verdict cache: after a full handshake whose presented chain validated, the
 * intermediates are remembered under the leaf's thumbprint; a resumed connection that presents
 * none gets them back.
 */
export function rememberResumedChains(verdicts: VerdictCache, kv: KvStore, options: ChainMemoryOptions): VerdictCache {
  const { ttlSeconds, maxEntries = 10_000, now = Date.now } = options;
  const local = new LRUCache<string, Remembered>({ max: maxEntries });
  const kvKey = (thumbprint: string) => `tls-resumption-chain:${thumbprint}`;

  function keep(thumbprint: string, entry: Remembered): void {
    local.set(thumbprint, entry);
  }

  function store(thumbprint: string, entry: Remembered): void {
    entry.storedAt = now();
    const value = JSON.stringify(entry.chain.map((c) => c.raw.toString('base64')));
    // Best effort: a failed write only means a later resumption on another worker revalidates
    // without the intermediates and the client is asked to reconnect with a full handshake.
    kv.set(kvKey(thumbprint), value, ttlSeconds).catch(() => undefined);
  }

  async function recall(thumbprint: string): Promise<X509Certificate[]> {
    let entry = local.get(thumbprint);
    if (!entry) {
      const stored = await kv.get(kvKey(thumbprint)).catch(() => undefined);
      if (stored === undefined) return [];
      try {
        entry = { chain: (JSON.parse(stored) as string[]).map((der) => new X509Certificate(Buffer.from(der, 'base64'))), storedAt: now() };
      } catch {
        return [];
      }
    }
    keep(thumbprint, entry);
    // Still in use: keep the shared copy alive as long as the client keeps resuming.
    if (now() - entry.storedAt > (ttlSeconds * 1000) / 4) store(thumbprint, entry);
    return entry.chain;
  }

  return {
    get size() {
      return verdicts.size;
    },
    async verdict(socket, presented) {
      if (!isTlsSocket(socket)) return verdicts.verdict(socket, presented);
      if (socket.isSessionReused() && presented.chain.length === 0) {
        // Most leaves chain to a stored CA on their own: the remembered intermediates (a KvStore
        // read on a cold worker) are fetched only when the leaf alone does not validate.
        const alone = await verdicts.verdict(socket, presented);
        if (alone.ok) return alone;
        const chain = await recall(presented.thumbprint);
        return chain.length > 0 ? verdicts.verdict(socket, { ...presented, chain }) : alone;
      }
      const verdict = await verdicts.verdict(socket, presented);
      if (verdict.ok && presented.chain.length > 0) {
        const known = local.get(presented.thumbprint);
        const same = known && known.chain.length === presented.chain.length && known.chain.every((c, i) => c.raw.equals(presented.chain[i].raw));
        if (!same) {
          const entry = { chain: presented.chain, storedAt: 0 };
          keep(presented.thumbprint, entry);
          store(presented.thumbprint, entry);
        }
      }
      return verdict;
    },
  };
}
