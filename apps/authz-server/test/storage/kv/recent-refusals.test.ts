// The console's recent refusals (storage/kv/recent-refusals.ts): per registered client and one
// global capped list, items dropped after 24 h, a client id only ever hashed into a key, one noisy
// client unable to evict another's list, and recording that never throws or waits — a store that
// fails is logged at most once a second. The embedded store always; Redis when TEST_REDIS_URL is set.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { KvStore } from '../../../src/storage/kv/kv.ts';
import { createMemoryKv } from '../../../src/storage/kv/memory.ts';
import { openRedisKv } from '../../../src/storage/kv/redis.ts';
import { clientKey, createRecentRefusals, KEEP_SECONDS, type RefusalInput } from '../../../src/storage/kv/recent-refusals.ts';
import { REDIS_URL, SKIP_REDIS, randomKeyPrefix, redisTimeMachine } from '../helpers.ts';

interface Stack {
  kv: KvStore;
  /** Moves the stored items' TTLs (Redis) or the store's clock (embedded) forward. */
  advance(seconds: number): Promise<void>;
  close(): Promise<void>;
}

const refusal = (clientId: string, over: Partial<RefusalInput> = {}): RefusalInput => ({
  clientId, registered: true, error: 'invalid_client', reason: 'certificate_subject',
  description: 'certificate subject "CN=x" does not match the registered tls_client_auth_subject_dn "CN=y"', listener: 'mtls', ...over,
});

function contract(name: string, skip: string | false, open: (clock: { now: number }) => Promise<Stack>): void {
  describe(`recent refusals: ${name}`, { skip }, () => {
    const clock = { now: Date.parse('2026-01-01T12:00:00Z') };
    let stack: Stack;
    const longAgo = new Date(0);
    before(async () => {
      stack = await open(clock);
    });
    after(async () => {
      await stack?.close();
    });

    it('records a refusal under its client and in the global list, with the stable reason and the description', async () => {
      const recent = createRecentRefusals(stack.kv, { now: () => clock.now });
      recent.record(refusal('ledger', { at: new Date(clock.now) }));
      await recent.settled();
      const expected = {
        at: '2026-01-01T12:00:00.000Z', client_id: 'ledger', error: 'invalid_client', reason: 'certificate_subject',
        description: 'certificate subject "CN=x" does not match the registered tls_client_auth_subject_dn "CN=y"', listener: 'mtls',
      };
      assert.deepEqual(await recent.forClient('ledger', { since: longAgo, limit: 100 }), [expected]);
      assert.deepEqual((await recent.recent({ since: longAgo, limit: 2000 })).filter((r) => r.client_id === 'ledger'), [expected]);
      assert.deepEqual(await recent.forClient('payments', { since: longAgo, limit: 100 }), []);
    });

    it('keeps the newest per client and globally; a noisy client fills the global list but never evicts another client\'s list', async () => {
      const recent = createRecentRefusals(stack.kv, { now: () => clock.now, perClient: 5, global: 8 });
      recent.record(refusal('quiet', { description: 'the quiet one' }));
      for (let i = 0; i < 20; i++) recent.record(refusal('noisy', { description: `noise ${i}` }));
      await recent.settled();
      const noisy = await recent.forClient('noisy', { since: longAgo, limit: 100 });
      assert.deepEqual(noisy.map((r) => r.description), ['noise 19', 'noise 18', 'noise 17', 'noise 16', 'noise 15']);
      assert.deepEqual((await recent.forClient('quiet', { since: longAgo, limit: 100 })).map((r) => r.description), ['the quiet one']);
      const global = await recent.recent({ since: longAgo, limit: 100 });
      assert.equal(global.length, 8);
      assert.equal(global[0].description, 'noise 19');
    });

    it('an id no registered client has goes to the global list only: no key per invented id', async () => {
      const recent = createRecentRefusals(stack.kv, { now: () => clock.now });
      recent.record(refusal('invented-123', { registered: false, error: 'invalid_client', reason: 'client_unknown' }));
      await recent.settled();
      assert.deepEqual(await stack.kv.listHead(clientKey('invented-123'), 10), []);
      assert.equal((await recent.recent({ since: longAgo, limit: 2000 })).some((r) => r.client_id === 'invented-123'), true);
    });

    it('hashes the client id into the key and bounds what is stored', async () => {
      const recent = createRecentRefusals(stack.kv, { now: () => clock.now });
      const long = `partner-${'x'.repeat(5000)}`;
      assert.match(clientKey(long), /^refusals:client:[A-Za-z0-9_-]{43}$/);
      assert.equal(clientKey('a:b{c}'), clientKey('a:b{c}'));
      assert.notEqual(clientKey('a'), clientKey('b'));
      recent.record(refusal(long, { description: 'd'.repeat(10_000), error: 'e'.repeat(200) }));
      await recent.settled();
      const [stored] = await stack.kv.listHead(clientKey(long), 1);
      assert.ok(stored.length < 1_200, `one item is small (${stored.length} bytes)`);
      const [back] = await recent.forClient(long, { since: longAgo, limit: 10 });
      assert.equal(back.client_id, `${long.slice(0, 255)}…`);
      assert.equal(back.description.length, 500);
      assert.equal(back.error.length, 64);
    });

    it('reads only the window asked for, and nothing older than 24 hours', async () => {
      const recent = createRecentRefusals(stack.kv, { now: () => clock.now });
      const start = clock.now;
      recent.record(refusal('windowed', { at: new Date(start - 2 * 3_600_000), description: 'two hours ago' }));
      recent.record(refusal('windowed', { at: new Date(start - 60_000), description: 'a minute ago' }));
      await recent.settled();
      const lastHour = await recent.forClient('windowed', { since: new Date(start - 3_600_000), limit: 100 });
      assert.deepEqual(lastHour.map((r) => r.description), ['a minute ago']);
      clock.now = start + (KEEP_SECONDS - 3600) * 1000; // the older one is now more than a day old
      assert.deepEqual((await recent.forClient('windowed', { since: longAgo, limit: 100 })).map((r) => r.description), ['a minute ago']);
      clock.now = start;
    });

    it('forgets a client\'s list a day after its last refusal', async () => {
      const recent = createRecentRefusals(stack.kv, { now: () => clock.now });
      recent.record(refusal('gone'));
      await recent.settled();
      await stack.advance(KEEP_SECONDS - 10);
      assert.equal(await stack.kv.listHead(clientKey('gone'), 10).then((l) => l.length), 1);
      await stack.advance(11);
      assert.deepEqual(await stack.kv.listHead(clientKey('gone'), 10), []);
    });

    it('skips items the store holds that are not refusals', async () => {
      const recent = createRecentRefusals(stack.kv, { now: () => clock.now });
      await stack.kv.pushCapped(clientKey('odd'), 'not json', 10, 60);
      await stack.kv.pushCapped(clientKey('odd'), JSON.stringify({ at: 'yesterday', client_id: 'odd' }), 10, 60);
      recent.record(refusal('odd', { at: new Date(clock.now) }));
      await recent.settled();
      assert.deepEqual((await recent.forClient('odd', { since: longAgo, limit: 10 })).map((r) => r.client_id), ['odd']);
    });
  });
}

contract('embedded', false, async (clock) => {
  const kv = createMemoryKv({ now: () => clock.now });
  return {
    kv,
    async advance(seconds) {
      clock.now += seconds * 1000;
    },
    close: () => kv.close(),
  };
});

contract('Redis', SKIP_REDIS, async () => {
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

describe('recent refusals: a store that fails', () => {
  /** A KvStore whose list writes fail (as a Redis that is down does), or never settle. */
  function failingKv(mode: 'reject' | 'throw' | 'hang'): KvStore {
    const kv = createMemoryKv();
    return {
      ...kv,
      pushCapped: () => {
        if (mode === 'throw') throw new Error('key-value store is closed');
        return mode === 'hang' ? new Promise<void>(() => undefined) : Promise.reject(new Error('Redis is unavailable (refused)'));
      },
    };
  }

  it('record returns at once, never throws, and logs at most one line a second with the count it suppressed', async () => {
    let clock = 0;
    const lines: Array<{ fields: Record<string, unknown>; message: string }> = [];
    const dropped: string[] = [];
    for (const mode of ['reject', 'throw'] as const) {
      lines.length = 0;
      const recent = createRecentRefusals(failingKv(mode), {
        now: () => clock, logger: { warn: (fields, message) => lines.push({ fields, message }) }, onDropped: (why) => dropped.push(why),
      });
      for (let i = 0; i < 50; i++) assert.equal(recent.record(refusal('ledger')), undefined);
      await recent.settled();
      assert.equal(lines.length, 1, `${mode}: one line for 50 failures within a second`);
      assert.equal(lines[0].fields.event, 'recent_refusals_write_failed');
      clock += 1_000;
      recent.record(refusal('ledger'));
      await recent.settled();
      assert.equal(lines.length, 2);
      assert.equal(lines[1].fields.suppressed, 49);
      assert.match(lines[1].message, /49 more since the previous line/);
    }
    assert.equal(dropped.filter((d) => d === 'failed').length, 102);
  });

  it('a store that never answers: writes in flight are bounded and the rest are dropped, not queued', async () => {
    const dropped: string[] = [];
    const recent = createRecentRefusals(failingKv('hang'), { onDropped: (why) => dropped.push(why) });
    for (let i = 0; i < 1_000; i++) recent.record(refusal('ledger'));
    assert.equal(dropped.length, 1_000 - 256);
    assert.ok(dropped.every((d) => d === 'overloaded'));
  });
});
