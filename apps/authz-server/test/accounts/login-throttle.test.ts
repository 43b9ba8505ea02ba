// Issue 10, the login throttle's rules over its two counter stores: in process (time mocked) and
// Redis when TEST_REDIS_URL is set (time moved by shortening every key's TTL). The account source
// below only counts how often it was asked: a refused attempt must never reach it (no hash).
import { describe, it, before, after, beforeEach, afterEach, mock } from 'node:test';
import assert from 'node:assert/strict';
import { createMemoryRateLimits, openRedisRateLimits, type RateLimits, type WindowCounter } from '../../src/storage/kv/rate-limits.ts';
import { addressBucket, createLoginThrottle, type LoginThrottleOptions } from '../../src/accounts/login-throttle.ts';
import { withLoginThrottle } from '../../src/accounts/throttled-account-source.ts';
import { HashingBusyError, LoginThrottledError, ThrottleUnavailableError } from '../../src/accounts/login-errors.ts';
import type { AccountSource } from '../../src/accounts/account-source.ts';
import { REDIS_URL, SKIP_REDIS, randomKeyPrefix, redisTimeMachine } from '../storage/helpers.ts';

const RIGHT = 'the right password';
const HERE = '198.51.100.7';
const THERE = '203.0.113.9';

/** An account source with one account per username listed, all with password RIGHT. */
function countingSource(opts: { turns?: number; busy?: () => boolean } = {}) {
  const asked: string[] = [];
  const source: AccountSource = {
    async findAccount() {
      return undefined;
    },
    async authenticate(username, password) {
      asked.push(username);
      if (opts.busy?.()) throw new HashingBusyError(2);
      // setImmediate: the in-process run mocks setTimeout
      for (let i = 0; i < (opts.turns ?? 0); i++) await new Promise((r) => setImmediate(r));
      return password === RIGHT ? `id-of-${username.toLowerCase()}` : undefined;
    },
  };
  return { source, asked };
}

async function refusal(attempt: Promise<unknown>): Promise<LoginThrottledError> {
  try {
    await attempt;
  } catch (err) {
    assert.ok(err instanceof LoginThrottledError, `expected LoginThrottledError, got ${String(err)}`);
    return err;
  }
  assert.fail('the attempt was not refused');
}

interface Clock {
  advance(seconds: number): Promise<void>;
}

function throttleRules(engine: string, skip: string | false, open: () => Promise<{ limits: RateLimits; clock: Clock; close: () => Promise<void> }>) {
  describe(`login throttle rules: ${engine}`, { skip }, () => {
    let limits: RateLimits;
    let clock: Clock;
    let close: () => Promise<void>;
    beforeEach(async () => {
      ({ limits, clock, close } = await open());
    });
    afterEach(async () => {
      await close();
    });

    function accounts(opts: LoginThrottleOptions = {}, source = countingSource()) {
      return { ...source, accounts: withLoginThrottle(source.source, createLoginThrottle(limits, opts)) };
    }
    const login = (a: AccountSource, username: string, password: string, address = HERE) => a.authenticate(username, password, { address });

    it('after 5 consecutive failures refuses the 6th attempt, the right password too, with a wait, and never asks the source', async () => {
      const { accounts: a, asked } = accounts();
      for (let i = 0; i < 5; i++) assert.equal(await login(a, 'alice', `guess ${i}`), undefined);
      const err = await refusal(login(a, 'alice', RIGHT));
      assert.equal(err.status, 429);
      assert.equal(err.code, 'login_throttled');
      assert.equal(err.rule, 'account_and_address');
      assert.ok(err.retryAfterSeconds > 55 && err.retryAfterSeconds <= 60, `Retry-After ${err.retryAfterSeconds}`);
      assert.equal(asked.length, 5, 'the refused attempt never reached the password check');
    });

    it('backs off exponentially: one attempt per window, the window doubling with each further failure, up to the cap', async () => {
      const { accounts: a, asked } = accounts({ maxLockSeconds: 300 });
      for (let i = 0; i < 5; i++) await login(a, 'alice', 'wrong');
      for (const window of [60, 120, 240, 300, 300]) {
        const err = await refusal(login(a, 'alice', RIGHT));
        assert.ok(err.retryAfterSeconds > window - 3 && err.retryAfterSeconds <= window, `expected a wait of ${window} s, got ${err.retryAfterSeconds}`);
        await clock.advance(err.retryAfterSeconds);
        assert.equal(await login(a, 'alice', 'wrong'), undefined, 'one attempt once the window has passed');
      }
      assert.equal(asked.length, 10, 'five free attempts and one per window');
    });

    it('lets the right password in once the window has passed, and a success resets the count', async () => {
      const { accounts: a } = accounts();
      for (let i = 0; i < 5; i++) await login(a, 'alice', 'wrong');
      await clock.advance(61);
      assert.equal(await login(a, 'alice', RIGHT), 'id-of-alice');
      for (let i = 0; i < 4; i++) assert.equal(await login(a, 'alice', 'wrong'), undefined, `failure ${i + 1} after the reset is free`);
      assert.equal(await login(a, 'alice', RIGHT), 'id-of-alice', 'four failures after a reset: still free');
    });

    it('keeps other addresses and other usernames from the same address unaffected', async () => {
      const { accounts: a } = accounts();
      for (let i = 0; i < 5; i++) await login(a, 'alice', 'wrong');
      await refusal(login(a, 'alice', RIGHT));
      assert.equal(await login(a, 'alice', RIGHT, THERE), 'id-of-alice', 'alice from another address');
      assert.equal(await login(a, 'bob', RIGHT), 'id-of-bob', 'another username from the throttled address');
    });

    it('counts a username case-insensitively, as the accounts table matches it', async () => {
      const { accounts: a } = accounts();
      for (const name of ['alice', 'ALICE', 'Alice', 'aLiCe', 'alicE']) await login(a, name, 'wrong');
      await refusal(login(a, 'alice', RIGHT));
    });

    it('caps failures per address per hour across usernames, then lets it try again after the hour', async () => {
      const { accounts: a, asked } = accounts({ addressFailuresPerHour: 10 });
      for (let i = 0; i < 10; i++) assert.equal(await login(a, `user${i}`, 'wrong'), undefined);
      const err = await refusal(login(a, 'someone-else', RIGHT));
      assert.equal(err.rule, 'address');
      assert.ok(err.retryAfterSeconds > 3500 && err.retryAfterSeconds <= 3600, `Retry-After ${err.retryAfterSeconds}`);
      assert.equal(asked.length, 10);
      assert.equal(await login(a, 'someone-else', RIGHT, THERE), 'id-of-someone-else', 'another address is not capped');
      await clock.advance(3601);
      assert.equal(await login(a, 'someone-else', RIGHT), 'id-of-someone-else');
    });

    it('does not count successes against the address cap', async () => {
      const { accounts: a } = accounts({ addressFailuresPerHour: 3 });
      for (let i = 0; i < 10; i++) assert.equal(await login(a, `user${i}`, RIGHT), `id-of-user${i}`);
      for (let i = 0; i < 3; i++) await login(a, 'x', 'wrong');
      await refusal(login(a, 'y', RIGHT));
    });

    it('lets at most 5 of 20 parallel guesses reach the password check', async () => {
      const { accounts: a, asked } = accounts({}, countingSource({ turns: 20 }));
      const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => login(a, 'alice', `parallel guess ${i}`)));
      assert.equal(asked.length, 5);
      assert.equal(results.filter((r) => r.status === 'rejected' && r.reason instanceof LoginThrottledError).length, 15);
    });

    it('gives back an attempt the source never checked (hashing queue full)', async () => {
      let busy = true;
      const { accounts: a } = accounts({}, countingSource({ busy: () => busy }));
      for (let i = 0; i < 8; i++) await assert.rejects(login(a, 'alice', 'wrong'), HashingBusyError);
      busy = false;
      for (let i = 0; i < 4; i++) assert.equal(await login(a, 'alice', 'wrong'), undefined);
      assert.equal(await login(a, 'alice', RIGHT), 'id-of-alice', 'busy answers did not count as failures');
    });
  });
}

throttleRules('in process', false, async () => {
  mock.timers.enable({ apis: ['Date', 'setTimeout'], now: Date.parse('2026-12-01T09:00:00Z') });
  return {
    limits: createMemoryRateLimits(),
    clock: {
      async advance(seconds) {
        mock.timers.tick(seconds * 1000);
      },
    },
    close: async () => mock.timers.reset(),
  };
});

throttleRules('Redis', SKIP_REDIS, async () => {
  const prefix = randomKeyPrefix();
  const limits = await openRedisRateLimits(REDIS_URL!, { keyPrefix: prefix });
  const machine = redisTimeMachine(REDIS_URL!, prefix);
  return {
    limits,
    clock: machine,
    async close() {
      assert.deepEqual(await machine.keysWithoutTtl(), [], 'every counter expires');
      await machine.close();
      await limits.close();
    },
  };
});

describe('login throttle: counters unavailable', () => {
  it('refuses with 503 and Retry-After rather than letting attempts through uncounted', async () => {
    const down: WindowCounter = {
      add: async () => { throw new Error('connect ECONNREFUSED'); },
      get: async () => { throw new Error('connect ECONNREFUSED'); },
      delete: async () => { throw new Error('connect ECONNREFUSED'); },
    };
    const { source, asked } = countingSource();
    const a = withLoginThrottle(source, createLoginThrottle({ counter: () => down, shared: true, close: async () => undefined }));
    const err = await a.authenticate('alice', RIGHT, { address: HERE }).then(() => assert.fail('let through'), (e: unknown) => e);
    assert.ok(err instanceof ThrottleUnavailableError);
    assert.equal(err.status, 503);
    assert.equal(err.retryAfterSeconds, 5);
    assert.equal(asked.length, 0);
  });
});

describe('login throttle: the address counted', () => {
  it('counts IPv4 whole, IPv4-mapped IPv6 as IPv4, and IPv6 by its /64', () => {
    assert.equal(addressBucket('192.0.2.1'), '192.0.2.1');
    assert.equal(addressBucket('::ffff:192.0.2.1'), '192.0.2.1');
    assert.equal(addressBucket('2001:db8:1:2:3:4:5:6'), '2001:db8:1:2::/64');
    assert.equal(addressBucket('2001:DB8:1:2::ff'), '2001:db8:1:2::/64');
    assert.equal(addressBucket('2001:db8::1'), '2001:db8:0:0::/64');
    assert.equal(addressBucket('::1'), '0:0:0:0::/64');
    assert.equal(addressBucket('fe80::1%eth0'), 'fe80:0:0:0::/64');
    assert.equal(addressBucket(''), 'unknown');
  });
});

describe('login throttle: two instances on one Redis', { skip: SKIP_REDIS }, () => {
  const prefix = randomKeyPrefix();
  let first: RateLimits;
  let second: RateLimits;
  before(async () => {
    [first, second] = await Promise.all([openRedisRateLimits(REDIS_URL!, { keyPrefix: prefix }), openRedisRateLimits(REDIS_URL!, { keyPrefix: prefix })]);
  });
  after(async () => {
    const machine = redisTimeMachine(REDIS_URL!, prefix);
    await machine.close();
    await Promise.all([first?.close(), second?.close()]);
  });

  it('counts failures at one instance against attempts at the other', async () => {
    const { source } = countingSource();
    const one = withLoginThrottle(source, createLoginThrottle(first));
    const two = withLoginThrottle(source, createLoginThrottle(second));
    for (let i = 0; i < 5; i++) await (i % 2 ? one : two).authenticate('alice', 'wrong', { address: HERE });
    assert.equal(first.shared, true);
    await refusal(one.authenticate('alice', RIGHT, { address: HERE }));
    await refusal(two.authenticate('alice', RIGHT, { address: HERE }));
  });
});
