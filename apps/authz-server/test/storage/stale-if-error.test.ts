// Stale if error (issue 14 item 1) and the outage log (item 3), in process with a fake clock: a
// cached answer is served after its TTL only while the reload fails because the store is
// unreachable (storage/outage.ts), only for STALE_IF_ERROR after its last successful load, with
// the store asked again at most once a second; an invalidation still drops a stale entry; any
// other failure is not hidden. The outage log writes one line per second per store and cause
// with the count of the failures it suppressed, and counts every failure. STALE_IF_ERROR is read
// as whole seconds, 0 to 86400, default 300.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createStoreCache, STALE_RETRY_MS } from '../../src/storage/client-cache.ts';
import { guarded, isStoreUnavailable, StoreUnavailableError, type Guard } from '../../src/storage/outage.ts';
import { createOutageLog } from '../../src/storage/outage-log.ts';
import { postgresOutageCause } from '../../src/storage/postgres/pg-outage.ts';
import { redisOutageCause } from '../../src/storage/kv/redis-outage.ts';
import { ConfigError, loadConfig } from '../../src/config.ts';

const quietGuard: Guard = { store: 'postgres', classify: postgresOutageCause, log: createOutageLog() };

/** A load whose database is up or down at will, counting its calls. */
function database() {
  const db = { up: true, calls: 0, value: 'v1' };
  const load = async (_key: string) => {
    db.calls += 1;
    const answer = db.up ? Promise.resolve(db.value) : Promise.reject(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }));
    return guarded(quietGuard, answer);
  };
  return { db, load };
}

describe('stale if error', () => {
  it('serves the last answer while the store is unreachable, asking it again at most once a second, up to staleMs', async () => {
    let now = 0;
    const stale: number[] = [];
    const cache = createStoreCache<string>('test', { ttlMs: 2_000, staleMs: 10_000, now: () => now, onStale: (_key, age) => stale.push(age) });
    const { db, load } = database();
    assert.equal(await cache.find('c', load), 'v1');
    db.up = false;
    now = 2_500;
    assert.equal(await cache.find('c', load), 'v1');
    assert.equal(db.calls, 2);
    assert.deepEqual(stale, [2_500]);
    now += STALE_RETRY_MS - 1;
    assert.equal(await cache.find('c', load), 'v1');
    assert.equal(db.calls, 2, 'not asked again within a second');
    now = 10_000;
    assert.equal(await cache.find('c', load), 'v1');
    assert.equal(db.calls, 3);
    now = 10_001;
    await assert.rejects(cache.find('c', load), (err: unknown) => isStoreUnavailable(err), 'older than staleMs: the outage error');
    db.up = true;
    db.value = 'v2';
    assert.equal(await cache.find('c', load), 'v2');
  });

  it('after the store is back, the next reload replaces the stale answer', async () => {
    let now = 0;
    const cache = createStoreCache<string>('test', { ttlMs: 2_000, staleMs: 60_000, now: () => now });
    const { db, load } = database();
    await cache.find('c', load);
    db.up = false;
    now = 3_000;
    assert.equal(await cache.find('c', load), 'v1');
    db.up = true;
    db.value = 'v2';
    now += STALE_RETRY_MS;
    assert.equal(await cache.find('c', load), 'v2');
  });

  it('an invalidation drops a stale entry: the next request needs the store', async () => {
    let now = 0;
    const cache = createStoreCache<string>('test', { ttlMs: 2_000, staleMs: 60_000, now: () => now });
    const { db, load } = database();
    await cache.find('c', load);
    db.up = false;
    now = 3_000;
    assert.equal(await cache.find('c', load), 'v1');
    cache.drop('c');
    await assert.rejects(cache.find('c', load), (err: unknown) => isStoreUnavailable(err));
  });

  it('never hides a failure that is not an outage, nor serves stale with staleMs 0 or for a key never loaded', async () => {
    let now = 0;
    const cache = createStoreCache<string>('test', { ttlMs: 2_000, staleMs: 0, now: () => now });
    const { db, load } = database();
    await cache.find('c', load);
    db.up = false;
    now = 3_000;
    await assert.rejects(cache.find('c', load), (err: unknown) => isStoreUnavailable(err));
    await assert.rejects(cache.find('unknown', load), (err: unknown) => isStoreUnavailable(err));
    const other = createStoreCache<string>('test', { ttlMs: 2_000, staleMs: 60_000, now: () => now });
    await other.find('d', async () => 'x');
    now = 6_000;
    await assert.rejects(other.find('d', () => Promise.reject(new Error('syntax error at or near "selec"'))), /syntax error/);
  });
});

describe('outage classification', () => {
  it('tells PostgreSQL and Redis outages from statement failures', () => {
    assert.equal(postgresOutageCause(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })), 'refused');
    assert.equal(postgresOutageCause(new Error('Connection terminated unexpectedly')), 'lost');
    assert.equal(postgresOutageCause(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' })), 'lost');
    assert.equal(postgresOutageCause(Object.assign(new Error('duplicate key'), { code: '23505' })), undefined);
    assert.equal(postgresOutageCause(new TypeError('x is undefined')), undefined);
    assert.equal(redisOutageCause(new Error("Stream isn't writeable and enableOfflineQueue options is false")), 'lost');
    assert.equal(redisOutageCause(new Error('Command timed out')), 'timeout');
    assert.equal(redisOutageCause(new RangeError('TTL must be a positive number')), undefined);
  });

  it('a guarded failure that is no outage passes through untouched', async () => {
    const original = new Error('duplicate key value violates unique constraint');
    await assert.rejects(guarded(quietGuard, Promise.reject(original)), (err: unknown) => err === original);
    const outage = await guarded(quietGuard, Promise.reject(new Error('Connection terminated'))).catch((err: unknown) => err);
    assert.ok(outage instanceof StoreUnavailableError && outage.store === 'postgres' && outage.reason === 'lost');
  });
});

describe('outage log', () => {
  it('writes at most one line per second per store and cause, with the suppressed count, and counts every failure', () => {
    let now = 0;
    const lines: Array<Record<string, unknown>> = [];
    const counted: string[] = [];
    const log = createOutageLog({ logger: { warn: (fields) => lines.push(fields) }, count: (store, cause) => counted.push(`${store}/${cause}`), now: () => now });
    const err = new Error('connect ECONNREFUSED');
    for (let i = 0; i < 1_000; i++) {
      now = i * 5; // 1000 failures over 5 s
      log.report('postgres', 'refused', err);
    }
    log.report('redis', 'lost', err);
    assert.equal(counted.length, 1_001);
    const postgres = lines.filter((l) => l['store'] === 'postgres');
    assert.equal(postgres.length, 5);
    assert.deepEqual(postgres.map((l) => l['suppressed']), [0, 199, 199, 199, 199]);
    assert.equal(lines.filter((l) => l['store'] === 'redis').length, 1);
    assert.ok(lines.every((l) => l['event'] === 'store_unavailable'));
  });
});

describe('STALE_IF_ERROR', () => {
  it('defaults to 300 s, accepts 0 (never stale) to 86400, and refuses anything else naming the variable', () => {
    assert.equal(loadConfig({}).staleIfErrorSeconds, 300);
    assert.equal(loadConfig({ STALE_IF_ERROR: '0' }).staleIfErrorSeconds, 0);
    assert.equal(loadConfig({ STALE_IF_ERROR: '86400' }).staleIfErrorSeconds, 86_400);
    for (const bad of ['-1', '1.5', '86401', 'soon']) {
      assert.throws(() => loadConfig({ STALE_IF_ERROR: bad }), (err: unknown) => err instanceof ConfigError && err.message.includes('STALE_IF_ERROR'));
    }
  });
});
