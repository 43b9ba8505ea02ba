/** Remembers DPoP proof `jti`s for as long as a proof is acceptable (RFC 9449 §11.1). */

export interface ReplayStore {
  /**
   * Records `key` for `ttlMs`. Resolves true when the key was new, false when it was already
   * recorded (a replay). Must be atomic across every instance sharing the store.
   */
  add(key: string, ttlMs: number): Promise<boolean>;
}

export interface MemoryReplayStoreOptions {
  /** Upper bound on remembered keys; expired ones are swept first. Default 100000. */
  maxEntries?: number;
  /** Clock in ms, for tests. */
  now?: () => number;
}

/** In-process store: correct for one instance only. Use the Redis store behind a load balancer. */
export function createMemoryReplayStore(options: MemoryReplayStoreOptions = {}): ReplayStore {
  const maxEntries = options.maxEntries ?? 100_000;
  const now = options.now ?? Date.now;
  const entries = new Map<string, number>();
  const sweep = (t: number) => {
    for (const [key, expires] of entries) if (expires <= t) entries.delete(key);
  };
  return {
    async add(key, ttlMs) {
      const t = now();
      const expires = entries.get(key);
      if (expires !== undefined && expires > t) return false;
      if (entries.size >= maxEntries) sweep(t);
      // Still full of live keys: forget the oldest rather than grow without bound.
      if (entries.size >= maxEntries) entries.delete(entries.keys().next().value!);
      entries.delete(key);
      entries.set(key, t + ttlMs);
      return true;
    },
  };
}

/** The one Redis command the store needs; an ioredis client fits. */
export interface RedisSetNx {
  set(key: string, value: string, px: 'PX', milliseconds: number, nx: 'NX'): Promise<'OK' | string | null>;
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
