// Opens the server's stores: PostgreSQL and Redis when their URLs are given, otherwise PGlite
// under DATA_DIR and an in-process TTL store (each independently), then brings the schema up to
// date. The rest of the server only sees SqlClient, KvStore and the adapter factory.
import { join } from 'node:path';
import type { SqlClient } from './sql.ts';
import type { KvStore } from './kv/kv.ts';
import { openPostgres } from './postgres/pool.ts';
import { openPglite } from './embedded/pglite.ts';
import { openRedisKv } from './kv/redis.ts';
import { createMemoryKv } from './kv/memory.ts';
import { migrate } from './migrate.ts';
import { createAdapterFactory, type AdapterFactory } from './adapter-factory.ts';
import type { ClientCompletion } from './postgres/client-adapter.ts';
import { createRevocationList, type RevocationList } from './kv/revocation-list.ts';
import { createClientCache, type ClientCache } from './client-cache.ts';
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
  dataDir: string;
  /** PostgreSQL schema (tests); ignored for PGlite. */
  schema?: string;
  /** Prefix for every Redis key and channel (tests, or a Redis shared with other apps). */
  redisKeyPrefix?: string;
  /** Connection-level errors of PostgreSQL idle connections and Redis reconnects, for the log. */
  onConnectionError?: (store: 'postgres' | 'redis', err: Error) => void;
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
  /** Rate-limit counters (login throttling): in Redis with REDIS_URL, else in process. */
  rateLimits: RateLimits;
  /** True when either store is in-process: state is not shared, so run one instance only. */
  embedded: boolean;
  close(): Promise<void>;
}

export async function openStores(opts: StoresOptions): Promise<Stores> {
  const report = opts.onConnectionError;
  const sql = opts.databaseUrl
    ? await openPostgres(opts.databaseUrl, {
      ...(opts.schema === undefined ? {} : { schema: opts.schema }),
      ...(report === undefined ? {} : { onError: (err: Error) => report('postgres', err) }),
    })
    : await openPglite(join(opts.dataDir, 'pglite'));

  let kv: KvStore | undefined;
  let rateLimits: RateLimits | undefined;
  let clientCache: ClientCache;
  let unsubscribe: () => Promise<void>;
  try {
    kv = opts.redisUrl
      ? await openRedisKv(opts.redisUrl, {
        ...(opts.redisKeyPrefix === undefined ? {} : { keyPrefix: opts.redisKeyPrefix }),
        ...(report === undefined ? {} : { onError: (err: Error) => report('redis', err) }),
      })
      : createMemoryKv();
    rateLimits = opts.redisUrl
      ? await openRedisRateLimits(opts.redisUrl, {
        ...(opts.redisKeyPrefix === undefined ? {} : { keyPrefix: opts.redisKeyPrefix }),
        ...(report === undefined ? {} : { onError: (err: Error) => report('redis', err) }),
      })
      : createMemoryRateLimits();
    await migrate(sql);
    clientCache = createClientCache({ kv });
    // Other instances' invalidations (admin changes): subscribed before the server serves.
    unsubscribe = await clientCache.subscribe();
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
    rateLimits,
    embedded: !opts.databaseUrl || !opts.redisUrl,
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
