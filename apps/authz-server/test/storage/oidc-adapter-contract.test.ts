// Runs the one adapter contract against every store: always the embedded ones, and PostgreSQL +
// Redis when TEST_DATABASE_URL / TEST_REDIS_URL are set, and a private Redis Cluster when
// redis-server is installed.
import { after } from 'node:test';
import { adapterContract } from './adapter-contract.ts';
import {
  REDIS_URL,
  SKIP_POSTGRES,
  SKIP_POSTGRES_AND_REDIS,
  SKIP_REDIS,
  advanceSql,
  openTestPostgres,
  randomKeyPrefix,
  redisTimeMachine,
} from './helpers.ts';
import type { SqlClient } from '../../src/storage/sql.ts';
import type { KvStore } from '../../src/storage/kv/kv.ts';
import { openPglite } from '../../src/storage/embedded/pglite.ts';
import { createMemoryKv } from '../../src/storage/kv/memory.ts';
import { openRedisKv } from '../../src/storage/kv/redis.ts';
import { migrate } from '../../src/storage/migrate.ts';
import { PostgresOidcAdapter } from '../../src/storage/postgres/oidc-adapter.ts';
import { KvOidcAdapter } from '../../src/storage/kv/oidc-adapter.ts';
import { createAdapterFactory } from '../../src/storage/adapter-factory.ts';
import { clusterTimeMachine, redisServersUnavailable, startRedisCluster } from '../../../../test/support/redis-servers.ts';

// One PGlite for the embedded stacks of this file (it takes seconds to start); ids never collide.
let pglite: Promise<SqlClient> | undefined;
function sharedPglite(): Promise<SqlClient> {
  pglite ??= openPglite(undefined).then(async (sql) => {
    await migrate(sql);
    return sql;
  });
  return pglite;
}
after(async () => {
  await (await pglite)?.close();
});

function memoryKv(): { kv: KvStore; advance(seconds: number): void } {
  let now = Date.parse('2030-01-01T00:00:00Z');
  return { kv: createMemoryKv({ now: () => now }), advance: (seconds) => void (now += seconds * 1000) };
}

adapterContract('embedded PGlite, postgres/oidc-adapter.ts', false, async () => {
  const sql = await sharedPglite();
  return {
    adapter: (model) => new PostgresOidcAdapter(model, sql),
    advance: (seconds) => advanceSql(sql, seconds),
    close: async () => {},
  };
});

adapterContract('embedded TTL store, kv/oidc-adapter.ts', false, async () => {
  const clock = memoryKv();
  return {
    adapter: (model) => new KvOidcAdapter(model, clock.kv),
    advance: async (seconds) => clock.advance(seconds),
    kv: clock.kv,
    close: () => clock.kv.close(),
  };
});

adapterContract('embedded stack, createAdapterFactory (PGlite + TTL store)', false, async () => {
  const sql = await sharedPglite();
  const clock = memoryKv();
  const factory = createAdapterFactory({ sql, kv: clock.kv });
  return {
    adapter: factory,
    advance: async (seconds) => {
      clock.advance(seconds);
      await advanceSql(sql, seconds);
    },
    kv: clock.kv,
    close: () => clock.kv.close(),
  };
});

adapterContract('PostgreSQL, postgres/oidc-adapter.ts', SKIP_POSTGRES, async () => {
  const pg = await openTestPostgres();
  await migrate(pg.sql);
  return {
    adapter: (model) => new PostgresOidcAdapter(model, pg.sql),
    advance: (seconds) => advanceSql(pg.sql, seconds),
    close: () => pg.drop(),
  };
});

adapterContract('Redis, kv/oidc-adapter.ts', SKIP_REDIS, async () => {
  const prefix = randomKeyPrefix();
  const kv = await openRedisKv(REDIS_URL!, { keyPrefix: prefix });
  const time = redisTimeMachine(REDIS_URL!, prefix);
  return {
    adapter: (model) => new KvOidcAdapter(model, kv),
    advance: (seconds) => time.advance(seconds),
    kv,
    keysWithoutTtl: () => time.keysWithoutTtl(),
    close: async () => {
      await kv.close();
      await time.close();
    },
  };
});

// Redis Cluster (issue 14 item 3): three private redis-server masters, never the shared Redis.
adapterContract('Redis Cluster, kv/oidc-adapter.ts', redisServersUnavailable() ?? false, async () => {
  const cluster = await startRedisCluster(3);
  const prefix = randomKeyPrefix();
  const kv = await openRedisKv({ mode: 'cluster', nodes: cluster.ports.map((port) => ({ host: '127.0.0.1', port })) }, { keyPrefix: prefix });
  const time = clusterTimeMachine(cluster, prefix);
  return {
    adapter: (model) => new KvOidcAdapter(model, kv),
    advance: (seconds) => time.advance(seconds),
    kv,
    keysWithoutTtl: () => time.keysWithoutTtl(),
    close: async () => {
      await kv.close();
      await time.close();
      await cluster.stop();
    },
  };
});

adapterContract('PostgreSQL + Redis, createAdapterFactory', SKIP_POSTGRES_AND_REDIS, async () => {
  const pg = await openTestPostgres();
  await migrate(pg.sql);
  const prefix = randomKeyPrefix();
  const kv = await openRedisKv(REDIS_URL!, { keyPrefix: prefix });
  const time = redisTimeMachine(REDIS_URL!, prefix);
  return {
    adapter: createAdapterFactory({ sql: pg.sql, kv }),
    advance: async (seconds) => {
      await time.advance(seconds);
      await advanceSql(pg.sql, seconds);
    },
    kv,
    keysWithoutTtl: () => time.keysWithoutTtl(),
    close: async () => {
      await kv.close();
      await time.close();
      await pg.drop();
    },
  };
});
