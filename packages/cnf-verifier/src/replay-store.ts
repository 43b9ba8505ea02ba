/** Remembers DPoP proof `jti`s for as long as a proof is acceptable (RFC 9449 §11.1). */
import { TemporarilyUnavailableError } from './errors.ts';

export interface ReplayStore {
  /**
   * Records `key` for `ttlMs`. Resolves true when the key was new, false when it was already
   * recorded (a replay). Must be atomic across every instance sharing the store. A store that
   * cannot remember the key must not answer true: it throws, a `TemporarilyUnavailableError`
   * (503 with `Retry-After`) when it knows when to come back, anything else for a 503 upstream error.
   */
  add(key: string, ttlMs: number): Promise<boolean>;
}

export interface MemoryReplayStoreOptions {
  /**
   * Upper bound on remembered keys; expired ones are swept first. When every entry is still
   * unexpired a new proof is refused (503 `temporarily_unavailable`), never an old one forgotten.
   * Default 100000.
   */
  maxEntries?: number;
  /** Clock in ms, for tests. */
  now?: () => number;
}

/** The in-process store, with what it holds and how often it refused because it was full. */
export interface MemoryReplayStore extends ReplayStore {
  /** Keys remembered (some may have expired and not yet been swept). */
  readonly size: number;
  /** New proofs refused because the store was full of unexpired entries. */
  readonly refusedWhenFull: number;
}

/** In-process store: correct for one instance only. Use the Redis store behind a load balancer. */
export function createMemoryReplayStore(options: MemoryReplayStoreOptions = {}): MemoryReplayStore {
  const maxEntries = options.maxEntries ?? 100_000;
  if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new TypeError('maxEntries: must be a positive integer');
  const now = options.now ?? Date.now;
  if (typeof now !== 'function') throw new TypeError('now: must be a function returning milliseconds');
  const entries = new Map<string, number>();
  // A lower bound on the earliest expiry: while it lies ahead, a full store holds only live
  // keys and the O(n) sweep would find nothing (so a flood of refused proofs costs O(1) each).
  let earliest = Infinity;
  let refusedWhenFull = 0;
  const sweep = (t: number) => {
    earliest = Infinity;
    for (const [key, expires] of entries) {
      if (expires <= t) entries.delete(key);
      else if (expires < earliest) earliest = expires;
    }
  };
  return {
    get size() {
      return entries.size;
    },
    get refusedWhenFull() {
      return refusedWhenFull;
    },
    async add(key, ttlMs) {
      const t = now();
      const expires = entries.get(key);
      if (expires !== undefined && expires > t) return false;
      if (expires === undefined && entries.size >= maxEntries) {
        if (earliest <= t) sweep(t);
        // Still full of live keys: forgetting one would let its proof be replayed (RFC 9449 §11.1).
        if (entries.size >= maxEntries) {
          refusedWhenFull++;
          throw new TemporarilyUnavailableError('DPoP replay store is full; retry later', { retryAfter: (earliest - t) / 1000 });
        }
      }
      entries.delete(key);
      entries.set(key, t + ttlMs);
      if (t + ttlMs < earliest) earliest = t + ttlMs;
      return true;
    },
  };
}

/** The one Redis command the store needs; an ioredis client fits. */
export interface RedisSetNx {
  /** 'OK' when the key was set, null when it already existed. */
  set(key: string, value: string, px: 'PX', milliseconds: number, nx: 'NX'): Promise<string | null>;
}

export interface RedisReplayStoreOptions {
  /** Key prefix. Default `cnf-verifier:dpop-jti:`. */
  prefix?: string;
}

/** Shared store: `SET key 1 PX ttl NX` is atomic, so a replay is caught across replicas. */
export function createRedisReplayStore(redis: RedisSetNx, options: RedisReplayStoreOptions = {}): ReplayStore {
  if (typeof redis?.set !== 'function') throw new TypeError('redis: must be a client with set(key, value, "PX", ms, "NX")');
  const prefix = options.prefix ?? 'cnf-verifier:dpop-jti:';
  return {
    async add(key, ttlMs) {
      const reply = await redis.set(`${prefix}${key}`, '1', 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX');
      return reply === 'OK';
    },
  };
}
