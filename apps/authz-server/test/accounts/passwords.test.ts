// Issue 10, the password hashes: scrypt at N = 2^17 (OWASP) with the memory limit it needs, hashes
// made at N = 2^15 still verifying (and replaced at the next sign-in), and one bounded queue in
// front of every scrypt, so a flood of logins is answered 503 instead of growing memory.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHashingQueue, HashingBusyError } from '../../src/accounts/hashing-queue.ts';
import { createPasswordHasher, DEFAULT_COST, verifyPassword } from '../../src/accounts/passwords.ts';
import { createLocalAccount, createLocalAccountSource } from '../../src/accounts/local-accounts.ts';
import { openPglite } from '../../src/storage/embedded/pglite.ts';
import { migrate } from '../../src/storage/migrate.ts';

const LEGACY_COST = { N: 2 ** 15, r: 8, p: 1 };

describe('scrypt at N = 2^17', () => {
  it('hashes at the OWASP cost (128 MiB, above Node\'s default maxmem of 32 MiB)', async () => {
    assert.deepEqual({ ...DEFAULT_COST }, { N: 131072, r: 8, p: 1 });
    const hash = await createPasswordHasher().hash('correct horse battery staple');
    assert.match(hash, /^scrypt\$131072\$8\$1\$/);
  });

  it('still verifies a hash made at N = 2^15, and says it needs replacing', async () => {
    const legacy = await createPasswordHasher({ cost: LEGACY_COST }).hash('old password');
    assert.match(legacy, /^scrypt\$32768\$8\$1\$/);
    const current = createPasswordHasher();
    assert.equal(await current.verify('old password', legacy), true);
    assert.equal(await current.verify('old passwort', legacy), false);
    assert.equal(current.needsRehash(legacy), true);
    assert.equal(current.needsRehash(await current.hash('new password')), false);
    assert.equal(await verifyPassword('old password', legacy), true, 'the process hasher too');
  });

  it('pads the check of a cheaper legacy hash to about the time of a current one (no user enumeration by timing)', async () => {
    // A controlled clock: every scrypt "takes" 5 ms, so the wait asked for is exact.
    let clock = 0;
    const waits: number[] = [];
    const hasher = createPasswordHasher({ now: () => (clock += 5), sleep: async (ms) => { waits.push(ms); } });
    const legacy = await createPasswordHasher({ cost: LEGACY_COST }).hash('old password');
    await hasher.verify('a guess', undefined);
    assert.deepEqual(waits, [], 'a hash at the current cost waits for nothing');
    await hasher.verify('a guess', legacy);
    // N = 2^17 is 4 × the work of N = 2^15: the 5 ms legacy hash waits 15 ms more.
    assert.deepEqual(waits, [5 * (2 ** 17 / 2 ** 15 - 1)]);
  });

  it('refuses a stored hash whose N is not a power of 2 without throwing', async () => {
    assert.equal(await createPasswordHasher().verify('x', 'scrypt$1000$8$1$AAAA$AAAA'), false);
  });
});

describe('the hashing queue', () => {
  it('runs at most `concurrency` jobs at once and refuses beyond `maxWaiting` with 503 and Retry-After', async () => {
    const queue = createHashingQueue({ concurrency: 2, maxWaiting: 3, retryAfterSeconds: 2 });
    let running = 0;
    let peak = 0;
    const gates: Array<() => void> = [];
    const job = () => queue.run(async () => {
      running++;
      peak = Math.max(peak, running);
      await new Promise<void>((resolve) => gates.push(resolve));
      running--;
      return 'done';
    });
    const accepted = Array.from({ length: 5 }, job);
    assert.equal(queue.active, 2);
    assert.equal(queue.waiting, 3);
    const refused = await job().then(() => undefined, (e: unknown) => e);
    assert.ok(refused instanceof HashingBusyError);
    assert.equal(refused.status, 503);
    assert.equal(refused.retryAfterSeconds, 2);
    while (gates.length || running) {
      gates.shift()?.();
      await new Promise((r) => setImmediate(r));
    }
    assert.deepEqual(await Promise.all(accepted), ['done', 'done', 'done', 'done', 'done']);
    assert.equal(peak, 2);
    assert.equal(queue.active, 0);
    const again = job();
    await new Promise((r) => setImmediate(r));
    gates.shift()!();
    assert.equal(await again, 'done', 'room again once drained');
  });

  it('passes a failed job\'s slot on', async () => {
    const queue = createHashingQueue({ concurrency: 1, maxWaiting: 1 });
    await assert.rejects(queue.run(async () => { throw new Error('boom'); }), /boom/);
    assert.equal(await queue.run(async () => 42), 42);
    assert.equal(queue.active, 0);
  });

  it('under a flood of 200 real N = 2^17 verifications, computes at most 2 at once and refuses the rest with 503 (memory stays bounded)', async () => {
    const hasher = createPasswordHasher({ queue: createHashingQueue({ concurrency: 2, maxWaiting: 4 }) });
    const rssBefore = process.memoryUsage().rss;
    const outcomes = await Promise.allSettled(Array.from({ length: 200 }, (_, i) => hasher.verify(`guess ${i}`, undefined)));
    const busy = outcomes.filter((o) => o.status === 'rejected' && o.reason instanceof HashingBusyError).length;
    assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 6, 'two running and four waiting were computed');
    assert.equal(busy, 194);
    const grewMiB = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
    assert.ok(grewMiB < 200 * 128 / 4, `RSS grew ${grewMiB.toFixed(0)} MiB (unbounded would be ~${200 * 128} MiB)`);
  });
});

describe('rehash on sign-in', () => {
  it('replaces an N = 2^15 hash with an N = 2^17 one when the password is right, and only then', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'certbound-rehash-'));
    const sql = await openPglite(join(dir, 'pglite'));
    try {
      await migrate(sql);
      const id = await createLocalAccount(sql, { username: 'olga', password: 'old password' });
      const legacy = await createPasswordHasher({ cost: LEGACY_COST }).hash('old password');
      await sql.query('update accounts set password_hash = $1 where account_id = $2', [legacy, id]);
      const stored = async () => (await sql.query<{ password_hash: string }>('select password_hash from accounts where account_id = $1', [id])).rows[0].password_hash;
      const accounts = createLocalAccountSource(sql);
      assert.equal(await accounts.authenticate('olga', 'wrong password'), undefined);
      assert.equal(await stored(), legacy, 'a wrong password changes nothing');
      assert.equal(await accounts.authenticate('olga', 'old password'), id);
      const upgraded = await stored();
      assert.match(upgraded, /^scrypt\$131072\$8\$1\$/);
      assert.equal(await accounts.authenticate('olga', 'old password'), id, 'the new hash verifies');
      assert.equal(await stored(), upgraded, 'rehashed once');
    } finally {
      await sql.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
