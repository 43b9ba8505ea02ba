// Revoked JWT access tokens by jti: kept exactly as long as the token could still be presented.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { KvStore } from '../../../src/storage/kv/kv.ts';
import { createMemoryKv } from '../../../src/storage/kv/memory.ts';
import { openRedisKv } from '../../../src/storage/kv/redis.ts';
import { createRevocationList, type RevocationList } from '../../../src/storage/kv/revocation-list.ts';
import { REDIS_URL, SKIP_REDIS, randomKeyPrefix, redisTimeMachine } from '../helpers.ts';

interface Stack {
  kv: KvStore;
  list: RevocationList;
  /** Seconds since the epoch as the list sees it. */
  now(): number;
  advance(seconds: number): Promise<void>;
  pttl?(key: string): Promise<number>;
  close: () => Promise<void>;
}

function revocationSuite(name: string, skip: string | false, open: () => Promise<Stack>): void {
  describe(`revocation list: ${name}`, { skip }, () => {
    let s: Stack;
    before(async () => {
      s = await open();
    });
    after(async () => {
      await s?.close();
    });

    it('a revoked jti is revoked, under revoked:jti:<jti>', async () => {
      const jti = randomUUID();
      await s.list.revoke(jti, s.now() + 600);
      assert.equal(await s.list.isRevoked(jti), true);
      assert.ok(await s.kv.get(`revoked:jti:${jti}`));
    });

    it('an unknown jti is not revoked', async () => {
      assert.equal(await s.list.isRevoked(randomUUID()), false);
    });

    it("is remembered for the token's remaining lifetime, then forgotten", async () => {
      const jti = randomUUID();
      await s.list.revoke(jti, s.now() + 120);
      if (s.pttl) {
        const pttl = await s.pttl(`revoked:jti:${jti}`);
        assert.ok(pttl > 118_000 && pttl <= 120_000, `TTL ${pttl} ms is the remaining lifetime`);
      }
      await s.advance(118);
      assert.equal(await s.list.isRevoked(jti), true);
      await s.advance(3);
      assert.equal(await s.list.isRevoked(jti), false);
    });

    it('an already expired token is still recorded for at least one second', async () => {
      const jti = randomUUID();
      await s.list.revoke(jti, s.now() - 30);
      assert.equal(await s.list.isRevoked(jti), true);
      await s.advance(1.5);
      assert.equal(await s.list.isRevoked(jti), false);
    });

    it('refuses an exp that is not a number of seconds', async () => {
      await assert.rejects(s.list.revoke(randomUUID(), Number.NaN), RangeError);
    });
  });
}

revocationSuite('embedded TTL store', false, async () => {
  let ms = 1_900_000_000_000;
  const kv = createMemoryKv({ now: () => ms });
  return {
    kv,
    list: createRevocationList(kv, { now: () => ms }),
    now: () => ms / 1000,
    advance: async (seconds) => void (ms += seconds * 1000),
    close: () => kv.close(),
  };
});

revocationSuite('Redis', SKIP_REDIS, async () => {
  const prefix = randomKeyPrefix();
  const kv = await openRedisKv(REDIS_URL!, { keyPrefix: prefix });
  const time = redisTimeMachine(REDIS_URL!, prefix);
  return {
    kv,
    list: createRevocationList(kv),
    now: () => Date.now() / 1000,
    advance: (seconds) => time.advance(seconds),
    pttl: (key) => time.pttl(key),
    async close() {
      await kv.close();
      await time.close();
    },
  };
});
