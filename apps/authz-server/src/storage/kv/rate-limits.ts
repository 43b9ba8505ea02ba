// Counters for rate limits (login throttling): atomic increments that expire with a window, in
// Redis when REDIS_URL is set (shared by every instance) or in process when embedded, both through
// rate-limiter-flexible. Policy (how many, how long) belongs to the caller; this only counts.
import { connectRedis, createRedisClient, type RedisTarget } from './redis-connection.ts';
import type { StoreTls } from '../store-tls.ts';
import { FAIL_FAST } from './redis-outage.ts';
import { RateLimiterMemory, RateLimiterRedis, type RateLimiterAbstract, type RateLimiterRes } from 'rate-limiter-flexible';

export interface WindowCount {
  /** Points in the window so far (may be 0 or less after `add` with a negative amount). */
  count: number;
  /** Milliseconds until the window ends and the count is forgotten. */
  msLeft: number;
}

/**
 * One named family of counters. A key's window starts with its first `add` and is never extended
 * by later ones: the count is forgotten `windowSeconds` after the first point.
 */
export interface WindowCounter {
  /** Adds `points` (negative to give back) atomically and returns the new count. */
  add(key: string, points: number, windowSeconds: number): Promise<WindowCount>;
  /** The live count, or undefined when the key has none. */
  get(key: string): Promise<WindowCount | undefined>;
  delete(key: string): Promise<void>;
}

export interface RateLimits {
  /** The counters named `name` (a key namespace); the same name gives the same counters. */
  counter(name: string): WindowCounter;
  /** True when the counts are shared through Redis by every instance. */
  readonly shared: boolean;
  close(): Promise<void>;
}

export interface RedisRateLimitsOptions {
  /** Prepended to every key (the same prefix as the KV store's). */
  keyPrefix?: string;
  /** Connection-level errors, for the log (see kv/redis.ts). */
  onError?: (err: Error) => void;
  /** REDIS_TLS_* (kv/redis-connection.ts). */
  tls?: StoreTls;
}

/** Never reached: these limiters count, they do not refuse (the caller's policy does). */
const UNLIMITED = Number.MAX_SAFE_INTEGER;
/** Whole seconds, at least 1: Redis `EX` takes an integer. */
const seconds = (value: number) => Math.max(1, Math.ceil(value));

function counterOver(limiter: RateLimiterAbstract): WindowCounter {
  const read = (res: RateLimiterRes): WindowCount => ({ count: res.consumedPoints, msLeft: Math.max(0, res.msBeforeNext) });
  return {
    async add(key, points, windowSeconds) {
      // penalty() adds without refusing; reward() is the same with the sign flipped.
      return read(await limiter.penalty(key, points, { customDuration: seconds(windowSeconds) }));
    },
    async get(key) {
      const res = await limiter.get(key);
      // An in-process record can outlive its window by a timer tick: expired is absent.
      return res && res.msBeforeNext > 0 ? read(res) : undefined;
    },
    async delete(key) {
      await limiter.delete(key);
    },
  };
}

function rateLimits(make: (name: string) => RateLimiterAbstract, shared: boolean, close: () => Promise<void>): RateLimits {
  const counters = new Map<string, WindowCounter>();
  return {
    counter(name) {
      let counter = counters.get(name);
      if (!counter) counters.set(name, counter = counterOver(make(name)));
      return counter;
    },
    shared,
    close,
  };
}

/** In-process counters (embedded mode, tests): lost on restart, not shared between processes. */
export function createMemoryRateLimits(): RateLimits {
  return rateLimits((name) => new RateLimiterMemory({ keyPrefix: `rl:${name}`, points: UNLIMITED, duration: 60 }), false, async () => undefined);
}

/**
 * Counters in Redis over a connection of their own, which refuses commands while disconnected
 * (no offline queue): a login must not wait for a Redis that is down, it gets 503 instead.
 */
export async function openRedisRateLimits(where: string | RedisTarget, opts: RedisRateLimitsOptions = {}): Promise<RateLimits> {
  const target: RedisTarget = typeof where === 'string' ? { mode: 'url', url: where } : where;
  const redis = createRedisClient(target, opts.tls, { keyPrefix: opts.keyPrefix ?? '', ...FAIL_FAST });
  redis.on('error', opts.onError ?? (() => undefined));
  await connectRedis(redis, target, opts.tls, 'Redis for rate limits');
  return rateLimits(
    (name) => new RateLimiterRedis({ storeClient: redis, keyPrefix: `rl:${name}`, points: UNLIMITED, duration: 60, rejectIfRedisNotReady: true }),
    true,
    async () => {
      await redis.quit().catch(() => redis.disconnect());
    },
  );
}
