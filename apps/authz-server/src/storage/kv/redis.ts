// KvStore over Redis (ioredis), shared by every instance. Every write sets an expiry in the same
// command (SET ... PX, or a script for sets), so no key can be left without a TTL.
import { Redis } from 'ioredis';
import { ttlToMs, type KvStore } from './kv.ts';
import { FAIL_FAST } from './redis-outage.ts';

export interface RedisKvOptions {
  /** Prepended to every key and channel (ioredis keyPrefix); tests use one per suite. */
  keyPrefix?: string;
  /**
   * Connection-level errors (refused, reset, reconnecting). Commands that fail still reject to
   * their caller; without a handler ioredis would print every reconnect attempt.
   */
  onError?: (err: Error) => void;
}

// SADD, then raise the set's expiry to at least ARGV[2] ms. PTTL is -1 for a new key, so the
// first member always sets it; later members never shorten it.
const SADD_WITH_TTL = `
redis.call('SADD', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1`;

export async function openRedisKv(url: string, opts: RedisKvOptions = {}): Promise<KvStore> {
  const keyPrefix = opts.keyPrefix ?? '';
  const onError = opts.onError ?? (() => undefined);
  const redis = new Redis(url, { lazyConnect: true, keyPrefix, ...FAIL_FAST });
  redis.on('error', onError);
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    throw new Error(`cannot connect to Redis at ${redactUrl(url)}: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }

  // A connection in subscriber mode cannot run other commands: a second one, opened on demand.
  let subscriber: Redis | undefined;
  const channels = new Map<string, { handlers: Set<(message: string) => void>; ready: Promise<unknown> }>();

  async function subscriberConnection(): Promise<Redis> {
    if (subscriber) return subscriber;
    const sub = redis.duplicate({ lazyConnect: true, keyPrefix: '' });
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
      return (await redis.set(key, value, 'PX', ttlToMs(ttlMs, 'ms'), 'NX')) === 'OK';
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

/** The URL without its password, for error messages. */
function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable REDIS_URL)';
  }
}
