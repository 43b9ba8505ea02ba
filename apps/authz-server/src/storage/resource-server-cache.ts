// The resource servers oidc/resource-indicators.ts reads on every token request, cached like the
// clients (client-cache.ts): at most 2 s per entry, dropped on every instance by an invalidation
// on RESOURCE_SERVER_CHANGED_CHANNEL, and served stale for at most STALE_IF_ERROR while
// PostgreSQL is unreachable, so a known client's token request does not need the database.
import type { KvStore } from './kv/kv.ts';
import type { SqlClient } from './sql.ts';
import { createStoreCache, type StoreCacheOptions, type StoreCache } from './client-cache.ts';
import { findResourceServer, type ResourceServerRow } from './postgres/resource-servers.ts';

export const RESOURCE_SERVER_CHANGED_CHANNEL = 'certbound:resource-server-changed';

export interface ResourceServerCache {
  /** The resource server `identifier`, undefined when none is registered. */
  find(identifier: string): Promise<ResourceServerRow | undefined>;
  /** After a committed change to it: drop it here and on every other instance. */
  invalidate(identifier: string): Promise<void>;
  subscribe(): Promise<() => Promise<void>>;
}

export function createResourceServerCache(sql: SqlClient, opts: StoreCacheOptions & { kv?: KvStore } = {}): ResourceServerCache {
  const cache: StoreCache<ResourceServerRow | undefined> = createStoreCache(RESOURCE_SERVER_CHANGED_CHANNEL, opts);
  const load = (identifier: string) => findResourceServer(sql, identifier);
  return {
    find: (identifier) => cache.find(identifier, load),
    invalidate: (identifier) => cache.invalidate(identifier),
    subscribe: () => cache.subscribe(),
  };
}
