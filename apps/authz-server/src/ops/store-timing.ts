// Store latency for the metrics (certbound_store_operation_duration_seconds): replaces, in place,
// the methods of the SqlClient and KvStore that openStores returned, so every user of them (the
// oidc-provider adapters included, which hold the same objects) is timed without storage/ knowing.
// A transaction or session is timed as one operation, from BEGIN to COMMIT.
import type { SqlClient } from '../storage/sql.ts';
import type { KvStore } from '../storage/kv/kv.ts';
import { recordStoreLatency } from './metrics.ts';

const SQL_OPERATIONS = ['query', 'exec', 'transaction', 'session'] as const;
const KV_OPERATIONS = ['get', 'set', 'setKeepTtl', 'setIfAbsent', 'del', 'sadd', 'smembers', 'pushCapped', 'listHead', 'publish'] as const;

function timeMethods<T extends object>(target: T, store: string, operations: readonly string[]): void {
  const methods = target as unknown as Record<string, unknown>;
  for (const operation of operations) {
    const original = methods[operation];
    if (typeof original !== 'function') continue;
    methods[operation] = function timed(this: unknown, ...args: unknown[]): Promise<unknown> {
      const started = performance.now();
      const done = () => recordStoreLatency(store, operation, performance.now() - started);
      const result = (original as (...a: unknown[]) => Promise<unknown>).apply(this, args);
      result.then(done, done);
      return result;
    };
  }
}

/** Times every operation of `sql` and `kv` from now on; `names` label them (postgres/pglite, redis/memory). */
export function timeStores(stores: { sql: SqlClient; kv: KvStore }, names: { sql: string; kv: string }): void {
  timeMethods(stores.sql, names.sql, SQL_OPERATIONS);
  timeMethods(stores.kv, names.kv, KV_OPERATIONS);
}
