// KvStore over Redis (ioredis), shared by every instance. Every write sets an expiry in the same
// command (SET ... PX, or a script for sets), so no key can be left without a TTL.
import { ttlToMs, type KvStore } from './kv.ts';
import { FAIL_FAST } from './redis-outage.ts';
import { connectRedis, createRedisClient, duplicateRedisClient, type RedisClient, type RedisTarget } from './redis-connection.ts';
import type { StoreTls } from '../store-tls.ts';

export interface RedisKvOptions {
  /** Prepended to every key and channel (ioredis keyPrefix); tests use one per suite. */
  keyPrefix?: string;
  /**
   * Connection-level errors (refused, reset, reconnecting). Commands that fail still reject to
   * their caller; without a handler ioredis would print every reconnect attempt.
   */
  onError?: (err: Error) => void;
  /** REDIS_TLS_*: the files each new connection (and the sentinels') uses. */
  tls?: StoreTls;
  /**
   * Replicas that must acknowledge a setIfAbsent (the replay records) before it reports success
   * (WAIT, REPLICA_WAIT_MS); fewer throws, so the request fails closed rather than accepting a
   * proof that a failover could forget. 0: no wait.
   */
  waitReplicas?: number;
}

/** How long a replay record waits for its replicas' acknowledgement. */
export const REPLICA_WAIT_MS = 500;

// SADD, then raise the set's expiry to at least ARGV[2] ms. PTTL is -1 for a new key, so the
// first member always sets it; later members never shorten it.
const SADD_WITH_TTL = `
redis.call('SADD', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1`;

// LPUSH, LTRIM to the newest ARGV[2] items and PEXPIRE in one step: a list is never left
// uncapped or without a TTL, whatever fails in between.
const PUSH_CAPPED = `
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[2]) - 1)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1`;

export async function openRedisKv(where: string | RedisTarget, opts: RedisKvOptions = {}): Promise<KvStore> {
  const keyPrefix = opts.keyPrefix ?? '';
  const onError = opts.onError ?? (() => undefined);
  const target: RedisTarget = typeof where === 'string' ? { mode: 'url', url: where } : where;
  const redis = createRedisClient(target, opts.tls, { keyPrefix, ...FAIL_FAST });
  redis.on('error', onError);
  await connectRedis(redis, target, opts.tls);
  const waitReplicas = opts.waitReplicas ?? 0;

  // A connection in subscriber mode cannot run other commands: a second one, opened on demand.
  let subscriber: RedisClient | undefined;
  const channels = new Map<string, { handlers: Set<(message: string) => void>; ready: Promise<unknown> }>();

  async function subscriberConnection(): Promise<RedisClient> {
    if (subscriber) return subscriber;
    const sub = duplicateRedisClient(redis);
    sub.on('error', onError);
    sub.on('message', (channel: string, message: string) => {
      for (const handler of channels.get(channel)?.handlers ?? []) handler(message);
    });
    subscriber = sub;
    await sub.connect();
    return sub;
  }

  return {
    async get(key) {
      return (await redis.get(key)) ?? undefined;
    },
    async set(key, value, ttlSeconds) {
      await redis.set(key, value, 'PX', ttlToMs(ttlSeconds, 'seconds'));
    },
    async setKeepTtl(key, value) {
      // XX: only an existing key; KEEPTTL: its expiry stays as it was (Redis >= 6.0).
      return (await redis.set(key, value, 'KEEPTTL', 'XX')) === 'OK';
    },
    async setIfAbsent(key, value, ttlMs) {
      if (waitReplicas === 0) return (await redis.set(key, value, 'PX', ttlToMs(ttlMs, 'ms'), 'NX')) === 'OK';
      // One pipeline: in Cluster mode the WAIT goes to the node that took the SET.
      const results = await redis.pipeline().set(key, value, 'PX', ttlToMs(ttlMs, 'ms'), 'NX').wait(waitReplicas, REPLICA_WAIT_MS).exec();
      const [setResult, waitResult] = results ?? [];
      if (setResult?.[0]) throw setResult[0];
      if (setResult?.[1] !== 'OK') return false;
      if (waitResult?.[0]) throw waitResult[0];
      const acknowledged = Number(waitResult?.[1]);
      if (!(acknowledged >= waitReplicas)) {
        throw new Error(`Redis: ${acknowledged} of ${waitReplicas} replicas acknowledged the record within ${REPLICA_WAIT_MS} ms (REDIS_WAIT_REPLICAS); refused rather than risk a failover forgetting it`);
      }
      return true;
    },
    async del(...keys) {
      if (keys.length === 0) return;
      // One DEL per key: a multi-key DEL fails across Redis Cluster hash slots.
      await Promise.all(keys.map((key) => redis.del(key)));
    },
    async sadd(key, member, ttlSeconds) {
      await redis.eval(SADD_WITH_TTL, 1, key, member, ttlToMs(ttlSeconds, 'seconds'));
    },
    async smembers(key) {
      return redis.smembers(key);
    },
    async pushCapped(key, value, maxLength, ttlSeconds) {
      await redis.eval(PUSH_CAPPED, 1, key, value, Math.max(1, Math.floor(maxLength)), ttlToMs(ttlSeconds, 'seconds'));
    },
    async listHead(key, count) {
      const n = Math.floor(count);
      return n <= 0 ? [] : redis.lrange(key, 0, n - 1);
    },
    async publish(channel, message) {
      await redis.publish(keyPrefix + channel, message);
    },
    async subscribe(channel, handler) {
      const full = keyPrefix + channel;
      const sub = await subscriberConnection();
      const subscription = (message: string) => handler(message);
      let entry = channels.get(full);
      if (entry === undefined) {
        entry = { handlers: new Set(), ready: sub.subscribe(full) };
        channels.set(full, entry);
      }
      const { handlers, ready } = entry;
      handlers.add(subscription);
      await ready;
      return async () => {
        handlers.delete(subscription);
        if (handlers.size === 0 && channels.get(full) === entry) {
          channels.delete(full);
          await sub.unsubscribe(full);
        }
      };
    },
    async close() {
      await Promise.all([redis.quit(), subscriber?.quit()]);
    },
  };
}
