// Two layers for revocation answers. In process: a bounded LRU of verified answers, each kept
// no longer than the data it came from allows. Shared (Redis when configured): the signed DER
// itself, never a verdict, so an instance re-verifies what it loads and a writable Redis cannot
// mark a certificate good (DESIGN.md: Redis holds revocation lists).
import { LRUCache } from 'lru-cache';
import type { KvStore } from '../../storage/kv/kv.ts';

export interface Lru<T> {
  /** the value while `now() < until`, else undefined (and it is dropped) */
  get(key: string): T | undefined;
  set(key: string, value: T, until: number): void;
  readonly size: number;
}

/** lru-cache bounds and orders the entries; each one's own `until` (an instant, not a TTL) is checked here. */
export function createLru<T>(maxEntries: number, now: () => number): Lru<T> {
  const entries = new LRUCache<string, { value: T; until: number }>({ max: maxEntries });
  return {
    get(key) {
      const entry = entries.get(key);
      if (entry === undefined) return undefined;
      if (entry.until <= now()) {
        entries.delete(key);
        return undefined;
      }
      return entry.value;
    },
    set(key, value, until) {
      if (until <= now()) entries.delete(key);
      else entries.set(key, { value, until });
    },
    get size() {
      return entries.size;
    },
  };
}

export interface DerStore {
  /** undefined when absent, or when the store cannot be reached (the caller fetches instead) */
  load(key: string): Promise<Buffer | undefined>;
  /** kept until `until` (ms epoch); failures are ignored: the store is an optimisation */
  save(key: string, der: Uint8Array, until: number): Promise<void>;
}

const PREFIX = 'revocation:';

export function createDerStore(kv: KvStore, now: () => number): DerStore {
  return {
    async load(key) {
      try {
        const value = await kv.get(PREFIX + key);
        return value === undefined ? undefined : Buffer.from(value, 'base64');
      } catch {
        return undefined;
      }
    },
    async save(key, der, until) {
      const ttlSeconds = (until - now()) / 1000;
      if (!(ttlSeconds > 0)) return;
      try {
        await kv.set(PREFIX + key, Buffer.from(der).toString('base64'), ttlSeconds);
      } catch {
        // Another instance will fetch for itself; nothing is lost but a round trip.
      }
    },
  };
}
