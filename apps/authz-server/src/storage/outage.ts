// What a store outage looks like to the rest of the server: every SqlClient, KvStore and
// rate-limit operation that fails because PostgreSQL or Redis cannot be reached rejects with one
// error (StoreUnavailableError, or what the caller's `unavailableError` makes: main.ts hands the
// OAuth error that answers 503 temporarily_unavailable), reported once to the outage log
// (outage-log.ts). Other failures (a constraint, a bad query) pass through untouched. Whether a
// failure is an outage is decided by each store's classifier (postgres/pool.ts, kv/redis.ts).
import type { SqlClient } from './sql.ts';
import type { KvStore } from './kv/kv.ts';
import type { RateLimits, WindowCounter } from './kv/rate-limits.ts';
import type { OutageLog, StoreName } from './outage-log.ts';

/** Seconds a caller is told to wait (Retry-After) before trying a request that needs an unreachable store again. */
export const OUTAGE_RETRY_AFTER_SECONDS = 5;

/** The default outage error: the store and the classified cause, the driver's error as `cause`. */
export class StoreUnavailableError extends Error {
  readonly store: StoreName;
  readonly reason: string;
  constructor(store: StoreName, reason: string, cause: Error) {
    super(`${store === 'postgres' ? 'PostgreSQL' : 'Redis'} is unavailable (${reason})`, { cause });
    this.name = 'StoreUnavailableError';
    this.store = store;
    this.reason = reason;
  }
}

/** Makes the error an outage rejects with; `cause` is the driver's error. */
export type UnavailableErrorFactory = (store: StoreName, reason: string, cause: Error) => Error;

const outages = new WeakSet<object>();

/** True for an error a guarded store threw because the store could not be reached. */
export function isStoreUnavailable(err: unknown): boolean {
  return typeof err === 'object' && err !== null && outages.has(err);
}

/** A failure's outage cause (refused, lost, timeout, ...), or undefined when it is not an outage. */
export type OutageClassifier = (err: unknown) => string | undefined;

export interface Guard {
  store: StoreName;
  classify: OutageClassifier;
  log: OutageLog;
  make?: UnavailableErrorFactory | undefined;
}

/** `promise`, with an outage turned into the one outage error (reported once) and anything else untouched. */
export async function guarded<T>(guard: Guard, promise: Promise<T>): Promise<T> {
  try {
    return await promise;
  } catch (err) {
    if (isStoreUnavailable(err)) throw err; // a nested guarded call already reported it
    const reason = guard.classify(err);
    if (reason === undefined) throw err;
    const cause = err instanceof Error ? err : new Error(String(err));
    guard.log.report(guard.store, reason, cause);
    const outage = guard.make?.(guard.store, reason, cause) ?? new StoreUnavailableError(guard.store, reason, cause);
    outages.add(outage);
    throw outage;
  }
}

export function guardSql(sql: SqlClient, guard: Guard): SqlClient {
  return {
    query: (text, params) => guarded(guard, sql.query(text, params)),
    exec: (script) => guarded(guard, sql.exec(script)),
    transaction: (fn) => guarded(guard, sql.transaction(fn)),
    session: (fn) => guarded(guard, sql.session(fn)),
    close: () => sql.close(),
  };
}

export function guardKv(kv: KvStore, guard: Guard): KvStore {
  const publish = kv.publish === undefined ? undefined : (channel: string, message: string) => kv.publish!(channel, message);
  const subscribe = kv.subscribe === undefined ? undefined : (channel: string, handler: (message: string) => void) => kv.subscribe!(channel, handler);
  return {
    get: (key) => guarded(guard, kv.get(key)),
    set: (key, value, ttlSeconds) => guarded(guard, kv.set(key, value, ttlSeconds)),
    setKeepTtl: (key, value) => guarded(guard, kv.setKeepTtl(key, value)),
    setIfAbsent: (key, value, ttlMs) => guarded(guard, kv.setIfAbsent(key, value, ttlMs)),
    del: (...keys) => guarded(guard, kv.del(...keys)),
    sadd: (key, member, ttlSeconds) => guarded(guard, kv.sadd(key, member, ttlSeconds)),
    smembers: (key) => guarded(guard, kv.smembers(key)),
    pushCapped: (key, value, maxLength, ttlSeconds) => guarded(guard, kv.pushCapped(key, value, maxLength, ttlSeconds)),
    listHead: (key, count) => guarded(guard, kv.listHead(key, count)),
    ...(publish === undefined ? {} : { publish: (channel: string, message: string) => guarded(guard, publish(channel, message)) }),
    ...(subscribe === undefined ? {} : {
      subscribe: (channel: string, handler: (message: string) => void) => guarded(guard, subscribe(channel, handler)),
    }),
    close: () => kv.close(),
  };
}

export function guardRateLimits(limits: RateLimits, guard: Guard): RateLimits {
  const counters = new Map<string, WindowCounter>();
  return {
    counter(name) {
      let counter = counters.get(name);
      if (counter === undefined) {
        const inner = limits.counter(name);
        counter = {
          add: (key, points, windowSeconds) => guarded(guard, inner.add(key, points, windowSeconds)),
          get: (key) => guarded(guard, inner.get(key)),
          delete: (key) => guarded(guard, inner.delete(key)),
        };
        counters.set(name, counter);
      }
      return counter;
    },
    get shared() {
      return limits.shared;
    },
    close: () => limits.close(),
  };
}
