// How each revocation responder this process asked has been doing: per OCSP responder or CRL
// distribution point, when a fetch last succeeded, when one last failed and why. Fed by the
// checker (checker.ts) where a fetch completes, read by GET /admin/v1/status. The URLs come from
// validated chains only (the checker asks nothing else), and at most `maxUrls` are remembered:
// the least recently updated one is forgotten first (lru-cache, the one LRU). One process's view;
// nothing is shared.
import { LRUCache } from 'lru-cache';

export type ResponderSource = 'ocsp' | 'crl';

export interface ResponderHealth {
  source: ResponderSource;
  url: string;
  /** ISO 8601, or null when no fetch from it has succeeded yet */
  last_success_at: string | null;
  last_failure_at: string | null;
  /** why the last failure failed; null when none has */
  last_error: string | null;
  /** the last fetch succeeded */
  healthy: boolean;
}

export interface RevocationHealth {
  /** A fetch from `url` gave a response that verified. */
  succeeded(source: ResponderSource, url: string): void;
  /** A fetch from `url` failed (unreachable, timeout, too large, HTTP error, or a response refused). */
  failed(source: ResponderSource, url: string, detail: string): void;
  /** Every responder remembered, the unhealthy first, then by URL. */
  snapshot(): ResponderHealth[];
}

export const DEFAULT_MAX_URLS = 200;
const MAX_URL_LENGTH = 1024;
const MAX_ERROR_LENGTH = 500;

interface Entry {
  source: ResponderSource;
  url: string;
  success: number | undefined;
  failure: number | undefined;
  error: string | undefined;
  lastOk: boolean;
}

export function createRevocationHealth(opts: { maxUrls?: number; now?: () => number } = {}): RevocationHealth {
  const maxUrls = opts.maxUrls ?? DEFAULT_MAX_URLS;
  const now = opts.now ?? Date.now;
  // Each update sets the entry again: it becomes the most recent, the least recent one goes first.
  const entries = new LRUCache<string, Entry>({ max: maxUrls });

  function touch(source: ResponderSource, url: string): Entry {
    const shown = url.length <= MAX_URL_LENGTH ? url : `${url.slice(0, MAX_URL_LENGTH - 1)}…`;
    const key = `${source} ${shown}`;
    const entry = entries.get(key) ?? { source, url: shown, success: undefined, failure: undefined, error: undefined, lastOk: false };
    entries.set(key, entry);
    return entry;
  }

  const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

  return {
    succeeded(source, url) {
      const entry = touch(source, url);
      entry.success = now();
      entry.lastOk = true;
    },
    failed(source, url, detail) {
      const entry = touch(source, url);
      entry.failure = now();
      entry.lastOk = false;
      entry.error = detail.length <= MAX_ERROR_LENGTH ? detail : `${detail.slice(0, MAX_ERROR_LENGTH - 1)}…`;
    },
    snapshot() {
      return [...entries.values()]
        .map((e): ResponderHealth => ({
          source: e.source,
          url: e.url,
          last_success_at: iso(e.success),
          last_failure_at: iso(e.failure),
          last_error: e.error ?? null,
          healthy: e.lastOk,
        }))
        .sort((a, b) => Number(a.healthy) - Number(b.healthy) || (a.url < b.url ? -1 : a.url > b.url ? 1 : a.source < b.source ? -1 : 1));
    },
  };
}
