// A bounded in-process cache of the Client adapter's answers (metadata, or undefined for an
// unknown or disabled client), so a token request does not query PostgreSQL for its client.
// Admin changes must reach every instance within 5 seconds: an entry lives at most `ttlMs`
// (2 s), and every writer of a client or its certificates calls `invalidate` once its change
// committed (the admin API after each request, the dev bootstrap after its upserts: main.ts hands
// them `stores.clientCache.invalidate`; the queries in postgres/clients.ts only run SQL). It drops
// the local entry and publishes the client_id on CLIENT_CHANGED_CHANNEL so every other instance
// (subscribed through `subscribe`, once at start) drops its own at once. A lost message heals
// by expiry.
// Stale if error (issue 14): when the reload of an expired entry fails because PostgreSQL is
// unreachable (storage/outage.ts), the last answer loaded is served instead, for at most
// `staleMs` (STALE_IF_ERROR) after it was loaded, and the database is asked again at most once a
// second per entry meanwhile. An invalidation drops the entry, stale or not: a client changed
// elsewhere is never served from here again. The same cache, on its own channel, serves the
// resource servers (resource-server-cache.ts).
import { LRUCache } from 'lru-cache';
import type { AdapterPayload } from 'oidc-provider';
import type { KvStore } from './kv/kv.ts';
import { isStoreUnavailable } from './outage.ts';

export const CLIENT_CHANGED_CHANNEL = 'certbound:client-changed';
export const CLIENT_CACHE_TTL_MS = 2_000;
export const CLIENT_CACHE_MAX_ENTRIES = 10_000;
/** STALE_IF_ERROR's default: how long a last answer may be served while the database is unreachable. */
export const STALE_IF_ERROR_MS = 300_000;
/** While serving a stale answer, the database is asked again for that entry at most this often. */
export const STALE_RETRY_MS = 1_000;

type Answer = AdapterPayload | undefined;

/** What a writer of clients is handed: call it with the client_id after the change committed. */
export type ClientInvalidator = (clientId: string) => Promise<void>;

interface Entry<V> {
  expiresAt: number;
  answer: Promise<V>;
  /** the last answer a load gave, and when: what may be served stale */
  loaded?: { value: V; at: number };
}

export interface StoreCacheOptions {
  /** where invalidations are published and heard; without publish/subscribe, local only */
  kv?: KvStore;
  ttlMs?: number;
  /** STALE_IF_ERROR in ms; 0 = never serve a stale answer */
  staleMs?: number;
  maxEntries?: number;
  now?: () => number;
  /** Called when a stale answer is served (one call per reload that failed). */
  onStale?: (key: string, ageMs: number) => void;
}

export type ClientCacheOptions = StoreCacheOptions;

export interface StoreCache<V> {
  /** The cached answer for `key`, or `load`'s (then cached; a failed load is not, stale if error aside). */
  find(key: string, load: (key: string) => Promise<V>): Promise<V>;
  /** After a committed change: drop it here and on every other instance. */
  invalidate(key: string): Promise<void>;
  /** Drops the local entry only (what a published invalidation does on the receiving side). */
  drop(key: string): void;
  /** Listens for other instances' invalidations; resolves once subscribed, returns the unsubscribe. */
  subscribe(): Promise<() => Promise<void>>;
  readonly size: number;
}

export interface ClientCache extends StoreCache<Answer> {
  invalidate: ClientInvalidator;
}

export function createClientCache(opts: ClientCacheOptions = {}): ClientCache {
  return createStoreCache<Answer>(CLIENT_CHANGED_CHANNEL, opts);
}

/** A cache of one kind of row, invalidated on `channel`, with the stale-if-error rule above. */
export function createStoreCache<V>(channel: string, opts: StoreCacheOptions = {}): StoreCache<V> {
  const ttlMs = opts.ttlMs ?? CLIENT_CACHE_TTL_MS;
  const staleMs = opts.staleMs ?? STALE_IF_ERROR_MS;
  const maxEntries = opts.maxEntries ?? CLIENT_CACHE_MAX_ENTRIES;
  const now = opts.now ?? Date.now;
  const kv = opts.kv;
  // lru-cache evicts the least recently used entry past maxEntries.
  const entries = new LRUCache<string, Entry<V>>({ max: maxEntries });

  function drop(key: string): void {
    entries.delete(key);
  }

  return {
    find(key, load) {
      const at = now();
      const entry = entries.get(key);
      if (entry !== undefined && entry.expiresAt > at) return entry.answer;
      const previous = entry?.loaded;
      const fresh: Entry<V> = { expiresAt: at + ttlMs, answer: Promise.resolve() as Promise<V> };
      fresh.answer = load(key).then(
        (value) => {
          fresh.loaded = { value, at: now() };
          return value;
        },
        (err: unknown) => {
          const current = entries.get(key) === fresh;
          const age = previous === undefined ? Infinity : now() - previous.at;
          // Only while the store is unreachable, only what this entry held, and not once invalidated meanwhile.
          if (current && previous !== undefined && isStoreUnavailable(err) && age <= staleMs) {
            fresh.loaded = previous;
            fresh.expiresAt = Math.min(now() + STALE_RETRY_MS, previous.at + staleMs); // never past staleMs
            opts.onStale?.(key, age);
            return previous.value;
          }
          if (current) entries.delete(key);
          throw err;
        },
      );
      entries.set(key, fresh);
      return fresh.answer;
    },
    async invalidate(key) {
      drop(key);
      try {
        await kv?.publish?.(channel, key);
      } catch (err) {
        // Redis unreachable: the other instances' entries expire within ttlMs, and none is served
        // stale, since a change committed means PostgreSQL is reachable (the outage is logged).
        if (!isStoreUnavailable(err)) throw err;
      }
    },
    drop,
    async subscribe() {
      if (kv?.subscribe === undefined) return async () => undefined;
      return kv.subscribe(channel, drop);
    },
    get size() {
      return entries.size;
    },
  };
}
