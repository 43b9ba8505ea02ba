// The resource servers' cache (resource-server-cache.ts) on the embedded stores: a hit does not
// reach the database, a change is seen once the entry is invalidated, and an invalidation
// published by one instance drops the entry of another (the same KvStore's pub/sub), as the
// admin API does after a committed change (admin/index.ts, main.ts invalidateResourceServer).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStores, upsertResourceServer, type Stores } from '../../src/storage/index.ts';
import { createResourceServerCache } from '../../src/storage/resource-server-cache.ts';

describe('resource-server cache', () => {
  let dir: string;
  let stores: Stores;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'certbound-rs-cache-'));
    stores = await openStores({ dataDir: dir, sweep: false });
  });

  after(async () => {
    await stores?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers from the cache until invalidated, here and on another instance', async () => {
    const identifier = 'https://api.example/cache';
    await upsertResourceServer(stores.sql, { identifier, scopes: ['a'] });
    const other = createResourceServerCache(stores.sql, { kv: stores.kv, ttlMs: 60_000 });
    const unsubscribe = await other.subscribe();
    try {
      assert.deepEqual((await stores.resourceServers.find(identifier))?.scopes, ['a']);
      assert.deepEqual((await other.find(identifier))?.scopes, ['a']);
      await upsertResourceServer(stores.sql, { identifier, scopes: ['a', 'b'] });
      assert.deepEqual((await other.find(identifier))?.scopes, ['a'], 'cached');
      await stores.resourceServers.invalidate(identifier);
      assert.deepEqual((await stores.resourceServers.find(identifier))?.scopes, ['a', 'b']);
      assert.deepEqual((await other.find(identifier))?.scopes, ['a', 'b'], 'dropped by the published invalidation');
      assert.equal(await stores.resourceServers.find('https://api.example/none'), undefined);
    } finally {
      await unsubscribe();
    }
  });
});
