// In-process KvStore for the embedded mode (one instance, no Redis). Expired entries are never
// returned; they are removed when touched and by a sweep of a bounded number of entries on every
// write, so memory follows the live set without a timer. The clock is injectable for tests.
import { ttlToMs, type KvStore } from './kv.ts';

export interface MemoryKvOptions {
  /** Milliseconds since the epoch; default Date.now. */
  now?: () => number;
  /** Entries examined per write by the expiry sweep (default 32). */
  sweepBatch?: number;
}

export interface MemoryKvStore extends KvStore {
  /** Entries held, including expired ones not swept yet (for tests and metrics). */
  readonly size: number;
}

interface Entry {
  value: string | Set<string> | string[];
  expiresAt: number;
}

export function createMemoryKv(opts: MemoryKvOptions = {}): MemoryKvStore {
  const now = opts.now ?? Date.now;
  const sweepBatch = opts.sweepBatch ?? 32;
  const entries = new Map<string, Entry>();
  const channels = new Map<string, Set<(message: string) => void>>();
  let cursor: Iterator<[string, Entry]> = entries.entries();
  let closed = false;

  function live(key: string): Entry | undefined {
    const entry = entries.get(key);
    if (entry && entry.expiresAt <= now()) {
      entries.delete(key);
      return undefined;
    }
    return entry;
  }

  // Map iterators stay valid across inserts and deletes; restart when exhausted.
  function sweep(): void {
    const at = now();
    for (let i = 0; i < sweepBatch; i++) {
      let next = cursor.next();
      if (next.done) {
        cursor = entries.entries();
        next = cursor.next();
        if (next.done) return;
      }
      const [key, entry] = next.value;
      if (entry.expiresAt <= at) entries.delete(key);
    }
  }

  function write(key: string, entry: Entry): void {
    assertOpen();
    entries.set(key, entry);
    sweep();
  }

  function assertOpen(): void {
    if (closed) throw new Error('key-value store is closed');
  }

  return {
    get size() {
      return entries.size;
    },
    async get(key) {
      const entry = live(key);
      if (entry === undefined) return undefined;
      if (typeof entry.value !== 'string') throw new TypeError(`${key} holds a set or list, not a string`);
      return entry.value;
    },
    async set(key, value, ttlSeconds) {
      write(key, { value, expiresAt: now() + ttlToMs(ttlSeconds, 'seconds') });
    },
    async setKeepTtl(key, value) {
      const entry = live(key);
      if (entry === undefined) return false;
      write(key, { value, expiresAt: entry.expiresAt });
      return true;
    },
    async setIfAbsent(key, value, ttlMs) {
      const ms = ttlToMs(ttlMs, 'ms');
      if (live(key) !== undefined) return false;
      write(key, { value, expiresAt: now() + ms });
      return true;
    },
    async del(...keys) {
      for (const key of keys) entries.delete(key);
    },
    async sadd(key, member, ttlSeconds) {
      const expiresAt = now() + ttlToMs(ttlSeconds, 'seconds');
      const entry = live(key);
      if (entry === undefined) {
        write(key, { value: new Set([member]), expiresAt });
        return;
      }
      if (!(entry.value instanceof Set)) throw new TypeError(`${key} holds a string or list, not a set`);
      entry.value.add(member);
      write(key, { value: entry.value, expiresAt: Math.max(entry.expiresAt, expiresAt) });
    },
    async smembers(key) {
      const entry = live(key);
      if (entry === undefined) return [];
      if (!(entry.value instanceof Set)) throw new TypeError(`${key} holds a string or list, not a set`);
      return [...entry.value];
    },
    async pushCapped(key, value, maxLength, ttlSeconds) {
      const expiresAt = now() + ttlToMs(ttlSeconds, 'seconds');
      const entry = live(key);
      if (entry !== undefined && !Array.isArray(entry.value)) throw new TypeError(`${key} holds a string or set, not a list`);
      const list = entry === undefined ? [] : entry.value as string[];
      list.unshift(value);
      list.length = Math.min(list.length, Math.max(1, Math.floor(maxLength)));
      write(key, { value: list, expiresAt });
    },
    async listHead(key, count) {
      const entry = live(key);
      if (entry === undefined) return [];
      if (!Array.isArray(entry.value)) throw new TypeError(`${key} holds a string or set, not a list`);
      return entry.value.slice(0, Math.max(0, Math.floor(count)));
    },
    async publish(channel, message) {
      assertOpen();
      for (const handler of channels.get(channel) ?? []) queueMicrotask(() => handler(message));
    },
    async subscribe(channel, handler) {
      assertOpen();
      // Wrapped so the same function subscribed twice is two subscriptions, as with Redis.
      const subscription = (message: string) => handler(message);
      let handlers = channels.get(channel);
      if (handlers === undefined) channels.set(channel, (handlers = new Set()));
      handlers.add(subscription);
      return async () => {
        handlers.delete(subscription);
      };
    },
    async close() {
      closed = true;
      entries.clear();
      channels.clear();
    },
  };
}
