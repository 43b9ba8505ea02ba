// KvStore contract: the embedded TTL store always, Redis when TEST_REDIS_URL is set, and a private
// Redis Cluster when redis-server is installed.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { KvStore } from '../../../src/storage/kv/kv.ts';
import { createMemoryKv } from '../../../src/storage/kv/memory.ts';
import { openRedisKv } from '../../../src/storage/kv/redis.ts';
import { REDIS_URL, SKIP_REDIS, randomKeyPrefix, redisTimeMachine } from '../helpers.ts';
import { clusterTimeMachine, redisServersUnavailable, startRedisCluster } from '../../../../../test/support/redis-servers.ts';

interface KvStack {
  kv: KvStore;
  advance(seconds: number): Promise<void>;
  close: () => Promise<void>;
}

function kvContract(name: string, skip: string | false, open: () => Promise<KvStack>): void {
  describe(`KvStore contract: ${name}`, { skip }, () => {
    let stack: KvStack;
    let kv: KvStore;
    before(async () => {
      stack = await open();
      kv = stack.kv;
    });
    after(async () => {
      await stack?.close();
    });
    const key = () => `k:${randomUUID()}`;

    it('get returns what set wrote, and undefined for an unknown key', async () => {
      const k = key();
      await kv.set(k, 'value', 60);
      assert.equal(await kv.get(k), 'value');
      assert.equal(await kv.get(key()), undefined);
    });

    it('set expires after ttlSeconds', async () => {
      const k = key();
      await kv.set(k, 'v', 10);
      await stack.advance(9);
      assert.equal(await kv.get(k), 'v');
      await stack.advance(2);
      assert.equal(await kv.get(k), undefined);
    });

    it('refuses a write without a positive TTL, and writes nothing', async () => {
      const k = key();
      for (const ttl of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
        await assert.rejects(kv.set(k, 'v', ttl), RangeError);
        await assert.rejects(kv.setIfAbsent(k, 'v', ttl), RangeError);
        await assert.rejects(kv.sadd(k, 'm', ttl), RangeError);
      }
      assert.equal(await kv.get(k), undefined);
      assert.deepEqual(await kv.smembers(k), []);
    });

    it('setIfAbsent creates once, refuses while the key lives, and again after it expired', async () => {
      const k = key();
      assert.equal(await kv.setIfAbsent(k, 'first', 5_000), true);
      assert.equal(await kv.setIfAbsent(k, 'second', 5_000), false);
      assert.equal(await kv.get(k), 'first');
      await stack.advance(6);
      assert.equal(await kv.setIfAbsent(k, 'third', 5_000), true);
      assert.equal(await kv.get(k), 'third');
    });

    it('setIfAbsent lets exactly one of many concurrent callers win', async () => {
      const k = key();
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => kv.setIfAbsent(k, String(i), 60_000)));
      assert.equal(results.filter(Boolean).length, 1);
    });

    it('setKeepTtl overwrites a live key without extending its expiry', async () => {
      const k = key();
      await kv.set(k, 'v1', 10);
      await stack.advance(5);
      assert.equal(await kv.setKeepTtl(k, 'v2'), true);
      assert.equal(await kv.get(k), 'v2');
      await stack.advance(6);
      assert.equal(await kv.get(k), undefined);
    });

    it('setKeepTtl does not create a missing key', async () => {
      const k = key();
      assert.equal(await kv.setKeepTtl(k, 'v'), false);
      assert.equal(await kv.get(k), undefined);
    });

    it('del removes several keys and ignores unknown ones', async () => {
      const [a, b] = [key(), key()];
      await kv.set(a, '1', 60);
      await kv.set(b, '2', 60);
      await kv.del(a, b, key());
      await kv.del();
      assert.equal(await kv.get(a), undefined);
      assert.equal(await kv.get(b), undefined);
    });

    it('sadd collects members; the set lives as long as its longest TTL, never shorter', async () => {
      const k = key();
      await kv.sadd(k, 'm1', 60);
      await kv.sadd(k, 'm2', 10);
      await stack.advance(30);
      assert.deepEqual((await kv.smembers(k)).sort(), ['m1', 'm2']);
      await kv.sadd(k, 'm3', 100);
      await stack.advance(90);
      assert.deepEqual((await kv.smembers(k)).sort(), ['m1', 'm2', 'm3']);
      await stack.advance(11);
      assert.deepEqual(await kv.smembers(k), []);
    });

    it('pushCapped keeps the newest maxLength items, newest first, and the list expires ttlSeconds after the last push', async () => {
      const k = key();
      assert.deepEqual(await kv.listHead(k, 10), []);
      for (let i = 1; i <= 5; i++) await kv.pushCapped(k, `item${i}`, 3, 60);
      assert.deepEqual(await kv.listHead(k, 10), ['item5', 'item4', 'item3']);
      assert.deepEqual(await kv.listHead(k, 2), ['item5', 'item4']);
      assert.deepEqual(await kv.listHead(k, 0), []);
      await stack.advance(50);
      await kv.pushCapped(k, 'item6', 3, 60);
      await stack.advance(50);
      assert.deepEqual(await kv.listHead(k, 10), ['item6', 'item5', 'item4'], 'a push renews the TTL');
      await stack.advance(11);
      assert.deepEqual(await kv.listHead(k, 10), []);
      await assert.rejects(kv.pushCapped(k, 'v', 3, 0), RangeError);
      assert.deepEqual(await kv.listHead(k, 10), [], 'a refused push writes nothing');
    });

    it('publish reaches subscribers until they unsubscribe', async () => {
      assert.ok(typeof kv.publish === 'function' && typeof kv.subscribe === 'function');
      const channel = `ch:${randomUUID()}`;
      const received: string[] = [];
      let signal!: () => void;
      const arrived = new Promise<void>((resolve) => (signal = resolve));
      const unsubscribe = await kv.subscribe(channel, (message) => {
        received.push(message);
        signal();
      });
      await kv.publish(channel, 'client-a changed');
      await arrived;
      assert.deepEqual(received, ['client-a changed']);
      await unsubscribe();
      await kv.publish(channel, 'after');
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.deepEqual(received, ['client-a changed']);
    });
  });
}

kvContract('embedded TTL store', false, async () => {
  let now = 1_900_000_000_000;
  const kv = createMemoryKv({ now: () => now });
  return { kv, advance: async (s) => void (now += s * 1000), close: () => kv.close() };
});

kvContract('Redis', SKIP_REDIS, async () => {
  const prefix = randomKeyPrefix();
  const kv = await openRedisKv(REDIS_URL!, { keyPrefix: prefix });
  const time = redisTimeMachine(REDIS_URL!, prefix);
  return {
    kv,
    advance: (s) => time.advance(s),
    async close() {
      await kv.close();
      await time.close();
    },
  };
});

// Redis Cluster (issue 14 item 3): three private redis-server masters, never the shared Redis.
kvContract('Redis Cluster', redisServersUnavailable() ?? false, async () => {
  const cluster = await startRedisCluster(3);
  const prefix = randomKeyPrefix();
  const kv = await openRedisKv({ mode: 'cluster', nodes: cluster.ports.map((port) => ({ host: '127.0.0.1', port })) }, { keyPrefix: prefix });
  const time = clusterTimeMachine(cluster, prefix);
  return {
    kv,
    advance: (s) => time.advance(s),
    async close() {
      await kv.close();
      await time.close();
      await cluster.stop();
    },
  };
});

describe('embedded TTL store housekeeping', () => {
  it('sweeps expired entries a bounded batch per write, without a timer', async () => {
    let now = 0;
    const kv = createMemoryKv({ now: () => now, sweepBatch: 32 });
    for (let i = 0; i < 100; i++) await kv.set(`old:${i}`, 'v', 1);
    assert.equal(kv.size, 100);
    now += 2_000;
    await kv.set('new:0', 'v', 60);
    assert.ok(kv.size > 10, 'one write sweeps at most one batch');
    for (let i = 1; i < 10; i++) await kv.set(`new:${i}`, 'v', 60);
    assert.equal(kv.size, 10, 'every expired entry swept after enough writes');
    await kv.close();
  });

  it('refuses work after close', async () => {
    const kv = createMemoryKv();
    await kv.close();
    await assert.rejects(kv.set('k', 'v', 1), /closed/);
  });
});

describe('Redis connection errors', () => {
  it('names the address without the password', async () => {
    await assert.rejects(openRedisKv('redis://:s3cret@127.0.0.1:1/0'), (err: Error) => {
      assert.match(err.message, /cannot connect to Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:1\/0/);
      assert.doesNotMatch(err.message, /s3cret/);
      return true;
    });
  });
});
