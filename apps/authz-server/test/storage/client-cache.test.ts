// The Client adapter's cache (client-cache.ts): a hit does not query, entries expire, the
// completion the oidc side hands in runs inside the cached load, a writer's invalidate drops the
// entry locally, and an invalidation reaches another instance through the KvStore's pub/sub
// (embedded store always, Redis when TEST_REDIS_URL is set).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { SqlClient } from '../../src/storage/sql.ts';
import type { KvStore } from '../../src/storage/kv/kv.ts';
import { openPglite } from '../../src/storage/embedded/pglite.ts';
import { createMemoryKv } from '../../src/storage/kv/memory.ts';
import { openRedisKv } from '../../src/storage/kv/redis.ts';
import { migrate } from '../../src/storage/migrate.ts';
import { setClientDisabled, upsertClient } from '../../src/storage/postgres/clients.ts';
import { ClientAdapter } from '../../src/storage/postgres/client-adapter.ts';
import { createClientCache } from '../../src/storage/client-cache.ts';
import { REDIS_URL, SKIP_REDIS, randomKeyPrefix } from './helpers.ts';

/** `sql` with every query counted (the Client adapter reads through `query`). */
function counting(sql: SqlClient): SqlClient & { count: number } {
  const counted = {
    count: 0,
    query<R>(text: string, params?: unknown[]) {
      counted.count += 1;
      return sql.query<R>(text, params);
    },
    exec: (script: string) => sql.exec(script),
    transaction: <T>(fn: (tx: SqlClient) => Promise<T>) => sql.transaction(fn),
    session: <T>(fn: (conn: SqlClient) => Promise<T>) => sql.session(fn),
    close: () => sql.close(),
  };
  return counted;
}

async function eventually(check: () => Promise<boolean>, ms = 2_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) assert.fail('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('Client adapter cache', () => {
  let raw: SqlClient;
  before(async () => {
    raw = await openPglite(undefined);
    await migrate(raw);
  });
  after(async () => {
    await raw?.close();
  });

  it('a hit does not query; the entry expires after the TTL', async () => {
    const sql = counting(raw);
    let clock = 1_000;
    const cache = createClientCache({ ttlMs: 2_000, now: () => clock });
    const adapter = new ClientAdapter(sql, { cache });
    const id = `c-${randomUUID()}`;
    await upsertClient(raw, { client_id: id, scope: 'a' });

    assert.equal((await adapter.find(id))!.scope, 'a');
    const afterMiss = sql.count;
    assert.ok(afterMiss >= 1);
    assert.equal((await adapter.find(id))!.scope, 'a');
    assert.equal(sql.count, afterMiss, 'a hit does not query');

    await upsertClient(raw, { client_id: id, scope: 'b' }); // written without calling invalidate
    clock += 1_999;
    assert.equal((await adapter.find(id))!.scope, 'a', 'still within the TTL');
    clock += 1;
    assert.equal((await adapter.find(id))!.scope, 'b', 'expired: read again');
    assert.equal(sql.count, afterMiss * 2);
  });

  it('caches "not found" and "disabled" too, and a caller cannot change the cached answer', async () => {
    const sql = counting(raw);
    const adapter = new ClientAdapter(sql, { cache: createClientCache() });
    const id = `c-${randomUUID()}`;
    assert.equal(await adapter.find(id), undefined);
    const count = sql.count;
    assert.equal(await adapter.find(id), undefined);
    assert.equal(sql.count, count);

    const disabledId = `c-${randomUUID()}`;
    await upsertClient(raw, { client_id: disabledId }, { disabled: true });
    assert.equal(await adapter.find(disabledId), undefined);

    const liveId = `c-${randomUUID()}`;
    await upsertClient(raw, { client_id: liveId, scope: 'a' });
    (await adapter.find(liveId))!.scope = 'tampered';
    assert.equal((await adapter.find(liveId))!.scope, 'a');
  });

  it('is bounded: the oldest entry is evicted first', async () => {
    const cache = createClientCache({ maxEntries: 2 });
    let loads = 0;
    const load = async () => {
      loads += 1;
      return undefined;
    };
    await cache.find('a', load);
    await cache.find('b', load);
    await cache.find('c', load);
    assert.equal(cache.size, 2);
    assert.equal(loads, 3);
    await cache.find('c', load);
    await cache.find('b', load);
    assert.equal(loads, 3);
    await cache.find('a', load);
    assert.equal(loads, 4, 'a was evicted');
  });

  it('a failed load is not cached', async () => {
    const cache = createClientCache();
    await assert.rejects(cache.find('x', () => Promise.reject(new Error('db down'))), /db down/);
    assert.equal(await cache.find('x', async () => ({ client_id: 'x' })).then((a) => a?.client_id), 'x');
  });

  it('a writer that calls invalidate after its change is seen at once; the queries alone invalidate nothing', async () => {
    const cache = createClientCache();
    const adapter = new ClientAdapter(raw, { cache });
    const id = `c-${randomUUID()}`;
    assert.equal(await adapter.find(id), undefined, 'cached as unknown');
    await upsertClient(raw, { client_id: id, scope: 'a' });
    assert.equal(await adapter.find(id), undefined, 'the query module does not touch the cache');
    await cache.invalidate(id);
    assert.equal((await adapter.find(id))!.scope, 'a', 'registered, invalidated, then found at once');
    await setClientDisabled(raw, id, true);
    await cache.invalidate(id);
    assert.equal(await adapter.find(id), undefined, 'disabled, invalidated: gone at once');
  });

  it('the completion runs inside the cached load: a hit neither queries nor completes again', async () => {
    const sql = counting(raw);
    const completed: string[] = [];
    const adapter = new ClientAdapter(sql, {
      cache: createClientCache(),
      complete: async (metadata, through) => {
        completed.push(String(metadata.client_id));
        const { rows } = await through.query<{ n: number }>('select 1 as n');
        return { ...metadata, completed_with: rows[0].n };
      },
    });
    const id = `c-${randomUUID()}`;
    await upsertClient(raw, { client_id: id, scope: 'a' });
    assert.deepEqual(await adapter.find(id), { client_id: id, scope: 'a', completed_with: 1 });
    const count = sql.count;
    assert.deepEqual(await adapter.find(id), { client_id: id, scope: 'a', completed_with: 1 });
    assert.equal(sql.count, count, 'a hit does not query');
    assert.deepEqual(completed, [id], 'completed once');
    assert.equal(await adapter.find(`nobody-${randomUUID()}`), undefined);
    assert.deepEqual(completed, [id], 'an unknown client is not completed');
  });

  function crossInstance(name: string, skip: string | false, open: () => Promise<{ a: KvStore; b: KvStore; close: () => Promise<void> }>) {
    it(`an invalidation reaches another instance: ${name}`, { skip }, async () => {
      const { a, b, close } = await open();
      try {
        const cacheA = createClientCache({ kv: a });
        const cacheB = createClientCache({ kv: b });
        const unsubscribeA = await cacheA.subscribe();
        const unsubscribeB = await cacheB.subscribe();
        const adapterA = new ClientAdapter(raw, { cache: cacheA });
        const adapterB = new ClientAdapter(raw, { cache: cacheB });
        const id = `c-${randomUUID()}`;
        await upsertClient(raw, { client_id: id, scope: 'a' });
        assert.equal((await adapterA.find(id))!.scope, 'a');
        assert.equal((await adapterB.find(id))!.scope, 'a');
        assert.equal(cacheB.size, 1);

        await upsertClient(raw, { client_id: id, scope: 'b' });
        await cacheA.invalidate(id);
        assert.equal((await adapterA.find(id))!.scope, 'b', 'local: at once');
        await eventually(async () => cacheB.size === 0);
        assert.equal((await adapterB.find(id))!.scope, 'b', 'the other instance: after the message');
        await unsubscribeA();
        await unsubscribeB();
      } finally {
        await close();
      }
    });
  }

  crossInstance('embedded memory KvStore', false, async () => {
    const kv = createMemoryKv();
    return { a: kv, b: kv, close: () => kv.close() };
  });

  crossInstance('Redis', SKIP_REDIS, async () => {
    const keyPrefix = randomKeyPrefix();
    const a = await openRedisKv(REDIS_URL!, { keyPrefix });
    const b = await openRedisKv(REDIS_URL!, { keyPrefix });
    return { a, b, close: async () => void (await Promise.all([a.close(), b.close()])) };
  });
});
