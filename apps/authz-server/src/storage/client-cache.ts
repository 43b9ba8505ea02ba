// A bounded in-process cache of the Client adapter's answers (metadata, or undefined for an
// unknown or disabled client), so a token request does not query PostgreSQL for its client.
// Admin changes must reach every instance within 5 seconds: an entry lives at most `ttlMs`
// (2 s), and every writer of a client or its certificates calls `invalidate` once its change
// committed (the admin API after each request, the dev bootstrap after its upserts: main.ts hands
// them `stores.clientCache.invalidate`; the queries in postgres/clients.ts only run SQL). It drops
// the local entry and publishes the client_id on CLIENT_CHANGED_CHANNEL so every other instance
// (subscribed through `subscribe`, once at start) drops its own at once. A lost message heals
// by expiry.
import { LRUCache } from 'lru-cache';
import type { AdapterPayload } from 'oidc-provider';
import type { KvStore } from './kv/kv.ts';

export const CLIENT_CHANGED_CHANNEL = 'certbound:client-changed';
export const CLIENT_CACHE_TTL_MS = 2_000;
export const CLIENT_CACHE_MAX_ENTRIES = 10_000;

type Answer = AdapterPayload | undefined;

/** What a writer of clients is handed: call it with the client_id after the change committed. */
export type ClientInvalidator = (clientId: string) => Promise<void>;

interface Entry {
  expiresAt: number;
  answer: Promise<Answer>;
}

export interface ClientCacheOptions {
  /** where invalidations are published and heard; without publish/subscribe, local only */
  kv?: KvStore;
  ttlMs?: number;
  maxEntries?: number;
  now?: () => number;
}

export interface ClientCache {
  /** The cached answer for `clientId`, or `load`'s (then cached; a failed load is not). */
  find(clientId: string, load: (clientId: string) => Promise<Answer>): Promise<Answer>;
  /** After a committed change to the client: drop it here and on every other instance. */
  invalidate: ClientInvalidator;
  /** Drops the local entry only (what a published invalidation does on the receiving side). */
  drop(clientId: string): void;
  /** Listens for other instances' invalidations; resolves once subscribed, returns the unsubscribe. */
  subscribe(): Promise<() => Promise<void>>;
  readonly size: number;
}

export function createClientCache(opts: ClientCacheOptions = {}): ClientCache {
  const ttlMs = opts.ttlMs ?? CLIENT_CACHE_TTL_MS;
  const maxEntries = opts.maxEntries ?? CLIENT_CACHE_MAX_ENTRIES;
  const now = opts.now ?? Date.now;
  const kv = opts.kv;
  // lru-cache evicts the least recently used entry past maxEntries.
  const entries = new LRUCache<string, Entry>({ max: maxEntries });

  function drop(clientId: string): void {
    entries.delete(clientId);
  }

  return {
    find(clientId, load) {
      const at = now();
      const entry = entries.get(clientId);
      if (entry !== undefined && entry.expiresAt > at) return entry.answer;
      if (entry !== undefined) entries.delete(clientId);
      const answer = load(clientId);
      const fresh: Entry = { expiresAt: at + ttlMs, answer };
      entries.set(clientId, fresh);
      // A failure is never cached; an invalidation during the load has already removed `fresh`.
      answer.catch(() => {
        if (entries.get(clientId) === fresh) entries.delete(clientId);
      });
      return answer;
    },
    async invalidate(clientId) {
      drop(clientId);
      await kv?.publish?.(CLIENT_CHANGED_CHANNEL, clientId);
    },
    drop,
    async subscribe() {
      if (kv?.subscribe === undefined) return async () => undefined;
      return kv.subscribe(CLIENT_CHANGED_CHANNEL, drop);
    },
    get size() {
      return entries.size;
    },
  };
}
