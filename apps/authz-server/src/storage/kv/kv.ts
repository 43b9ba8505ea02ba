// The key-value surface for short-lived state: Redis in production, an in-process TTL store
// when embedded. Every write carries a TTL, so nothing here outlives its purpose.

export interface KvStore {
  get(key: string): Promise<string | undefined>;
  /** Writes `value`, expiring after `ttlSeconds` (fractions allowed, must be > 0). */
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  /**
   * Overwrites an existing key and keeps its remaining TTL; false (and nothing written) when the
   * key is absent or expired, so a concurrent delete is never undone.
   */
  setKeepTtl(key: string, value: string): Promise<boolean>;
  /** Atomic create (SET NX PX): true when this call created the key. */
  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean>;
  del(...keys: string[]): Promise<void>;
  /** Adds to a set and extends the set's TTL to at least `ttlSeconds` (never shortens it). */
  sadd(key: string, member: string, ttlSeconds: number): Promise<void>;
  smembers(key: string): Promise<string[]>;
  /**
   * Puts `value` at the head of the list `key`, keeps only its `maxLength` newest items, and sets
   * the list's TTL to `ttlSeconds` (from this push): one atomic step, so a list is always capped.
   */
  pushCapped(key: string, value: string, maxLength: number, ttlSeconds: number): Promise<void>;
  /** The first `count` items of the list `key`, newest first ([] when absent). */
  listHead(key: string, count: number): Promise<string[]>;
  /** Cross-instance notification, e.g. cache invalidation. */
  publish?(channel: string, message: string): Promise<void>;
  /** Resolves once subscribed; the returned function unsubscribes `handler`. */
  subscribe?(channel: string, handler: (message: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/** Validates a TTL before it reaches a store: a key without expiry is a leak. */
export function ttlToMs(ttl: number, unit: 'seconds' | 'ms'): number {
  const ms = unit === 'seconds' ? ttl * 1000 : ttl;
  if (!Number.isFinite(ms) || ms <= 0) {
    throw new RangeError(`TTL must be a positive number of ${unit}, got ${ttl}`);
  }
  return Math.ceil(ms);
}
