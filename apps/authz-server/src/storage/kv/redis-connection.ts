// Opens an ioredis connection to whichever Redis deployment is configured (issue 14 item 3): one
// server by REDIS_URL, a primary found through Sentinel (REDIS_SENTINELS + REDIS_SENTINEL_NAME),
// or a Redis Cluster (REDIS_CLUSTER_NODES), each optionally over mutual TLS (REDIS_TLS_*_FILE,
// storage/store-tls.ts). kv/redis.ts and kv/rate-limits.ts open their connections here, so the
// three modes behave the same for the KV store, pub/sub and the rate-limit counters.
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { probeTlsRefusal, type StoreTls } from '../store-tls.ts';
import type { HostPort, RedisTarget } from '../../config.ts';

export type { HostPort, RedisTarget } from '../../config.ts';

export type RedisClient = Redis | Cluster;

/** What the callers choose per connection (prefix, queueing, retries, timeouts); the target and TLS decide the rest. */
export type RedisConnectionOptions = Pick<RedisOptions, 'keyPrefix' | 'enableOfflineQueue' | 'maxRetriesPerRequest' | 'commandTimeout' | 'connectTimeout'>;

/** The target for log lines and error messages, without credentials. */
export function describeRedisTarget(target: RedisTarget): string {
  switch (target.mode) {
    case 'url':
      return redactUrl(target.url);
    case 'sentinel':
      return `Sentinel ${target.sentinels.map(hostPort).join(',')} (primary "${target.name}")`;
    case 'cluster':
      return `Redis Cluster ${target.nodes.map(hostPort).join(',')}`;
  }
}

const hostPort = (node: HostPort) => `${node.host}:${node.port}`;

/**
 * After a Sentinel failover the old primary answers writes with READONLY until the connection
 * moves: reconnect and resend (2) instead of failing the command.
 */
const reconnectOnReadonly = (err: Error) => (err.message.startsWith('READONLY') ? 2 : false);

/** A new, not yet connected client (lazyConnect); connect it with `connectRedis`. */
export function createRedisClient(target: RedisTarget, tls: StoreTls | undefined, opts: RedisConnectionOptions = {}): RedisClient {
  const common: RedisOptions = {
    maxRetriesPerRequest: 3,
    ...opts,
    lazyConnect: true,
    keyPrefix: opts.keyPrefix ?? '',
    // The options' ca/cert/key are getters: each new connection reads the files in force.
    ...(tls === undefined ? {} : { tls: tls.options }),
  };
  switch (target.mode) {
    case 'url':
      return new Redis(target.url, common);
    case 'sentinel': {
      const client = new Redis({
        ...common,
        sentinels: target.sentinels.map((node) => ({ host: node.host, port: node.port })),
        name: target.name,
        role: 'master',
        // Moves to the new primary as soon as the sentinels announce +switch-master.
        failoverDetector: true,
        reconnectOnError: reconnectOnReadonly,
        // Sentinels speak TLS with the same files when Redis does (tls-port on both).
        ...(tls === undefined ? {} : { enableTLSForSentinelMode: true, sentinelTLS: tls.options }),
      });
      // quit() ends the connection but leaves the failover detector's sentinel connections open
      // (ioredis 6); disconnect() once it has ended closes them too.
      client.once('end', () => client.disconnect());
      return client;
    }
    case 'cluster': {
      const { keyPrefix, enableOfflineQueue, ...redisOptions } = common;
      return new Cluster(target.nodes.map((node) => ({ host: node.host, port: node.port })), {
        lazyConnect: true,
        keyPrefix,
        ...(enableOfflineQueue === undefined ? {} : { enableOfflineQueue }),
        redisOptions: { ...redisOptions, reconnectOnError: reconnectOnReadonly },
      });
    }
  }
}

/** A second connection to the same deployment (a subscriber), no key prefix, not yet connected. */
export function duplicateRedisClient(client: RedisClient): RedisClient {
  if (client instanceof Cluster) return client.duplicate(undefined, { lazyConnect: true, keyPrefix: '' });
  const copy = client.duplicate({ lazyConnect: true, keyPrefix: '' });
  if (copy.options.sentinels !== undefined) copy.once('end', () => copy.disconnect()); // as in createRedisClient
  return copy;
}

/**
 * Connects `client`. A failure closes it and throws: a ConfigError naming the file when the
 * handshake failed over the TLS files (the store refused our certificate, or its certificate is
 * not trusted), otherwise an Error naming the target and the last connection error.
 */
export async function connectRedis(client: RedisClient, target: RedisTarget, tls: StoreTls | undefined, purpose = 'Redis'): Promise<void> {
  let last: unknown;
  const remember = (err: unknown) => {
    last = err;
  };
  client.on('error', remember);
  client.on('node error', remember);
  try {
    await client.connect();
  } catch (err) {
    client.disconnect();
    // The alert itself, when ioredis saw only the reset that followed it (TLS 1.3).
    const probed = async (files: StoreTls) => files.explain(await probeTlsRefusal(...firstAddress(target), files.options));
    const explained = tls?.explain(last) ?? tls?.explain(err) ?? (tls === undefined ? undefined : await probed(tls));
    if (explained !== undefined) throw explained;
    const why = [err, last].filter((e): e is Error => e instanceof Error).map((e) => e.message).filter((m, i, all) => all.indexOf(m) === i).join(': ');
    throw new Error(`cannot connect to ${purpose} at ${describeRedisTarget(target)}: ${why || String(err)}`, { cause: err });
  } finally {
    client.off('error', remember);
    client.off('node error', remember);
  }
}

/** Where a TLS probe goes: the URL's server, the first sentinel (same files), the first cluster node. */
function firstAddress(target: RedisTarget): [string, number] {
  if (target.mode === 'sentinel') return [target.sentinels[0]?.host ?? '127.0.0.1', target.sentinels[0]?.port ?? 26379];
  if (target.mode === 'cluster') return [target.nodes[0]?.host ?? '127.0.0.1', target.nodes[0]?.port ?? 6379];
  try {
    const url = new URL(target.url);
    return [url.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1', Number(url.port || 6379)];
  } catch {
    return ['127.0.0.1', 6379];
  }
}

/** The URL without its password, for error messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable REDIS_URL)';
  }
}
