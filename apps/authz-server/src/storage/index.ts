// Opens the server's stores: PostgreSQL and Redis when their URLs are given, otherwise PGlite
// under DATA_DIR and an in-process TTL store (each independently), then brings the schema up to
// date. The rest of the server only sees SqlClient, KvStore and the adapter factory. An outage of
// either store is one error (outage.ts) and a bounded number of log lines (outage-log.ts); the
// client and resource-server caches serve their last answers while PostgreSQL is unreachable.
import { join } from 'node:path';
import type { SqlClient } from './sql.ts';
import type { KvStore } from './kv/kv.ts';
import { openPostgres } from './postgres/pool.ts';
import { openPglite } from './embedded/pglite.ts';
import { openRedisKv } from './kv/redis.ts';
import type { RedisTarget } from './kv/redis-connection.ts';
import { loadStoreTls, storeTlsConfigured, type StoreTlsFiles } from './store-tls.ts';
import { createMemoryKv } from './kv/memory.ts';
import { migrate } from './migrate.ts';
import { createAdapterFactory, type AdapterFactory } from './adapter-factory.ts';
import type { ClientCompletion } from './postgres/client-adapter.ts';
import { createRevocationList, type RevocationList } from './kv/revocation-list.ts';
import { createClientCache, STALE_IF_ERROR_MS, type ClientCache } from './client-cache.ts';
import { createResourceServerCache, type ResourceServerCache } from './resource-server-cache.ts';
import { createOutageLog, type OutageLogger, type StoreName } from './outage-log.ts';
import { guardKv, guardRateLimits, guardSql, type Guard, type UnavailableErrorFactory } from './outage.ts';
import { postgresOutageCause } from './postgres/pg-outage.ts';
import { redisOutageCause } from './kv/redis-outage.ts';
import { createMemoryRateLimits, openRedisRateLimits, type RateLimits } from './kv/rate-limits.ts';
import { scheduleModelSweep, type ModelSweeper, type ScheduleOptions, type SweepLogger } from './postgres/sweep.ts';

export type { SqlClient, SqlResult } from './sql.ts';
export type { KvStore } from './kv/kv.ts';
export type { AdapterFactory } from './adapter-factory.ts';
export type { ClientCompletion } from './postgres/client-adapter.ts';
export type { RevocationList } from './kv/revocation-list.ts';
export type { ClientCache, ClientInvalidator } from './client-cache.ts';
export type { RateLimits, WindowCounter, WindowCount } from './kv/rate-limits.ts';
export type { SweepLogger } from './postgres/sweep.ts';
export { createClientCache, CLIENT_CHANGED_CHANNEL } from './client-cache.ts';
export type { ResourceServerCache } from './resource-server-cache.ts';
export { StoreUnavailableError, isStoreUnavailable, type UnavailableErrorFactory } from './outage.ts';
export type { StoreName, OutageLogger } from './outage-log.ts';
export type { ClientMetadata, ClientRow } from './postgres/clients.ts';
export type { ResourceServerInput, ResourceServerRow } from './postgres/resource-servers.ts';
export { createAdapterFactory } from './adapter-factory.ts';
export { createRevocationList } from './kv/revocation-list.ts';
export { migrate } from './migrate.ts';
export { findClient, upsertClient, setClientDisabled } from './postgres/clients.ts';
export { listResourceServers, findResourceServer, upsertResourceServer } from './postgres/resource-servers.ts';

export interface StoresOptions {
  /** DATABASE_URL; unset = PGlite under `${dataDir}/pglite`. */
  databaseUrl?: string;
  /** REDIS_URL; unset = in-process TTL store. */
  redisUrl?: string;
  /** REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES (config.redis); wins over redisUrl. */
  redis?: RedisTarget;
  /** REDIS_TLS_*_FILE and DATABASE_SSL_*_FILE (storage/store-tls.ts). */
  redisTls?: StoreTlsFiles;
  databaseTls?: StoreTlsFiles;
  /** REDIS_WAIT_REPLICAS: replicas acknowledging each replay record (kv/redis.ts). */
  redisWaitReplicas?: number;
  dataDir: string;
  /** PostgreSQL schema (tests); ignored for PGlite. */
  schema?: string;
  /** Prefix for every Redis key and channel (tests, or a Redis shared with other apps). */
  redisKeyPrefix?: string;
  /** Connection-level errors of PostgreSQL idle connections and Redis reconnects (also in the outage log). */
  onConnectionError?: (store: 'postgres' | 'redis', err: Error) => void;
  /** Where store outages are logged, at most once per second per store and cause (outage-log.ts). */
  outageLogger?: OutageLogger;
  /** Counts every store failure that is an outage (ops/metrics.ts: certbound_store_errors_total). */
  countStoreError?: (store: StoreName, cause: string) => void;
  /** What an operation rejects with while its store is unreachable (main.ts: the 503 temporarily_unavailable). */
  unavailableError?: UnavailableErrorFactory;
  /** STALE_IF_ERROR in ms: how long cached clients and resource servers are served while PostgreSQL is unreachable. */
  staleIfErrorMs?: number;
  /** Where the sweep of expired oidc_models rows logs its count and failures (storage/postgres/sweep.ts). */
  logger?: SweepLogger;
  /** That sweep's schedule (default every 10 minutes ± 20 %); false = no sweep (tests). */
  sweep?: false | Omit<ScheduleOptions, 'logger'>;
  /**
   * What the oidc side adds to a stored client before oidc-provider sees it, inside the cached
   * load (main.ts: oidc/pinned-certificates.ts). Without it the Client adapter answers the stored
   * metadata as it is: stores that feed oidc-provider must be given it.
   */
  completeClient?: ClientCompletion;
}

export interface Stores {
  sql: SqlClient;
  kv: KvStore;
  adapterFactory: AdapterFactory;
  revocations: RevocationList;
  /**
   * The Client adapter's cache (≤ 2 s per entry); whoever changes a client or its certificates
   * calls `invalidate(clientId)` after the change committed (postgres/clients.ts only runs SQL).
   */
  clientCache: ClientCache;
  /** The resource servers the token endpoint reads, cached like the clients (resource-server-cache.ts). */
  resourceServers: ResourceServerCache;
  /** Rate-limit counters (login throttling): in Redis with REDIS_URL, else in process. */
  rateLimits: RateLimits;
  /** True when either store is in-process: state is not shared, so run one instance only. */
  embedded: boolean;
  /** Re-reads DATABASE_SSL_* and REDIS_TLS_* now (SIGHUP); new connections use what checks out (each also looks itself). */
  refreshStoreTls(): void;
  close(): Promise<void>;
}

export async function openStores(opts: StoresOptions): Promise<Stores> {
  const outageLog = createOutageLog({
    ...(opts.outageLogger === undefined ? {} : { logger: opts.outageLogger }),
    ...(opts.countStoreError === undefined ? {} : { count: opts.countStoreError }),
  });
  const guard = (store: StoreName, classify: Guard['classify']): Guard => ({ store, classify, log: outageLog, make: opts.unavailableError });
  // Connection-level errors (idle connections cut, reconnect attempts) join the same bounded log.
  const report = (store: StoreName, err: Error) => {
    outageLog.report(store, (store === 'postgres' ? postgresOutageCause(err) : redisOutageCause(err)) ?? 'connection', err);
    opts.onConnectionError?.(store, err);
  };
  const redis: RedisTarget | undefined = opts.redis ?? (opts.redisUrl === undefined ? undefined : { mode: 'url', url: opts.redisUrl });
  const databaseTls = storeTlsConfigured(opts.databaseTls) ? loadStoreTls('DATABASE_SSL', opts.databaseTls, (err) => report?.('postgres', err)) : undefined;
  const redisTls = storeTlsConfigured(opts.redisTls) ? loadStoreTls('REDIS_TLS', opts.redisTls, (err) => report?.('redis', err)) : undefined;
  const rawSql = opts.databaseUrl
    ? await openPostgres(opts.databaseUrl, {
      ...(databaseTls === undefined ? {} : { ssl: databaseTls.options }),
      ...(opts.schema === undefined ? {} : { schema: opts.schema }),
      onError: (err: Error) => report('postgres', err),
    }).catch((err: unknown) => {
      // A handshake refused over the DATABASE_SSL_* files is a configuration error naming the file.
      throw databaseTls?.explain(err) ?? err;
    })
    : await openPglite(join(opts.dataDir, 'pglite'));
  const sql = opts.databaseUrl ? guardSql(rawSql, guard('postgres', postgresOutageCause)) : rawSql;

  let kv: KvStore | undefined;
  let rateLimits: RateLimits | undefined;
  let clientCache: ClientCache;
  let resourceServers: ResourceServerCache;
  let unsubscribe: () => Promise<void>;
  try {
    kv = redis
      ? await openRedisKv(redis, {
        ...(redisTls === undefined ? {} : { tls: redisTls }),
        ...(opts.redisWaitReplicas === undefined ? {} : { waitReplicas: opts.redisWaitReplicas }),
        ...(opts.redisKeyPrefix === undefined ? {} : { keyPrefix: opts.redisKeyPrefix }),
        onError: (err: Error) => report('redis', err),
      })
      : createMemoryKv();
    if (redis) kv = guardKv(kv, guard('redis', redisOutageCause));
    rateLimits = redis
      ? await openRedisRateLimits(redis, {
        ...(redisTls === undefined ? {} : { tls: redisTls }),
        ...(opts.redisKeyPrefix === undefined ? {} : { keyPrefix: opts.redisKeyPrefix }),
        onError: (err: Error) => report('redis', err),
      })
      : createMemoryRateLimits();
    if (redis) rateLimits = guardRateLimits(rateLimits, guard('redis', redisOutageCause));
    await migrate(sql);
    const staleMs = opts.staleIfErrorMs ?? STALE_IF_ERROR_MS;
    clientCache = createClientCache({ kv, staleMs });
    resourceServers = createResourceServerCache(sql, { kv, staleMs });
    // Other instances' invalidations (admin changes): subscribed before the server serves.
    const unsubscribes = [await clientCache.subscribe(), await resourceServers.subscribe()];
    unsubscribe = async () => {
      await Promise.all(unsubscribes.map((stop) => stop()));
    };
  } catch (err) {
    await Promise.allSettled([sql.close(), kv?.close(), rateLimits?.close()]);
    throw err;
  }

  // Every instance schedules the sweep; an advisory lock lets one of them run each round.
  const sweeper: ModelSweeper | undefined = opts.sweep === false
    ? undefined
    : scheduleModelSweep(sql, { ...opts.sweep, ...(opts.logger === undefined ? {} : { logger: opts.logger }) });

  const stores: Stores = {
    sql,
    kv,
    adapterFactory: createAdapterFactory({ sql, kv, clientCache, completeClient: opts.completeClient }),
    revocations: createRevocationList(kv),
    clientCache,
    resourceServers,
    rateLimits,
    embedded: !opts.databaseUrl || !redis,
    refreshStoreTls() {
      databaseTls?.refresh();
      redisTls?.refresh();
    },
    async close() {
      await sweeper?.stop();
      await unsubscribe().catch(() => undefined);
      const results = await Promise.allSettled([sql.close(), stores.kv.close(), stores.rateLimits.close()]);
      const failures = results.flatMap((r): unknown[] => (r.status === 'rejected' ? [r.reason] : []));
      if (failures.length > 0) throw new AggregateError(failures, 'closing the stores failed');
    },
  };
  return stores;
}
