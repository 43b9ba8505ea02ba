// KEY_ENCRYPTION_KEY: parsed strictly, never echoed; generated once into DATA_DIR when unset.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeyEncryptionKeyError, resolveKeyEncryptionKey } from '../../src/keys/kek.ts';

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});
async function dataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'certbound-kek-'));
  dirs.push(dir);
  return dir;
}

describe('KEY_ENCRYPTION_KEY given', () => {
  const key = randomBytes(32);
  for (const [encoding, value] of [
    ['base64', key.toString('base64')],
    ['base64 without padding', key.toString('base64').replace(/=+$/, '')],
    ['base64url', key.toString('base64url')],
    ['hex', key.toString('hex')],
    ['upper-case hex', key.toString('hex').toUpperCase()],
    ['base64 with surrounding whitespace', ` ${key.toString('base64')}\n`],
  ] as const) {
    it(`accepts 32 bytes as ${encoding}`, async () => {
      assert.deepEqual(await resolveKeyEncryptionKey({ value, dataDir: '/nonexistent' }), key);
    });
  }

  for (const [problem, value, message] of [
    ['too short', randomBytes(16).toString('base64'), /^KEY_ENCRYPTION_KEY: decodes to 16 bytes, expected 32/],
    ['too long', randomBytes(48).toString('base64'), /^KEY_ENCRYPTION_KEY: decodes to 48 bytes, expected 32/],
    ['not an encoding', 'correct horse battery staple!', /^KEY_ENCRYPTION_KEY: not base64, base64url or hex/],
    ['empty', '', /^KEY_ENCRYPTION_KEY: is set but empty/],
  ] as const) {
    it(`refuses a value that is ${problem}, naming the variable and not echoing the value`, async () => {
      await assert.rejects(resolveKeyEncryptionKey({ value, dataDir: '/nonexistent' }), (err: Error) => {
        assert.ok(err instanceof KeyEncryptionKeyError);
        assert.match(err.message, message);
        if (value.length > 0) assert.ok(!err.message.includes(value.trim()));
        return true;
      });
    });
  }
});

describe('KEY_ENCRYPTION_KEY unset (development)', () => {
  it('generates DATA_DIR/kek once, mode 0600, and reuses it', async () => {
    const dir = join(await dataDir(), 'nested', 'data');
    const first = await resolveKeyEncryptionKey({ dataDir: dir });
    assert.equal(first.length, 32);
    const info = await stat(join(dir, 'kek'));
    assert.equal(info.mode & 0o777, 0o600);
    assert.deepEqual(await resolveKeyEncryptionKey({ dataDir: dir }), first);
    assert.deepEqual(Buffer.from((await readFile(join(dir, 'kek'), 'utf8')).trim(), 'base64url'), first);
  });

  it('two processes starting at once end with one key', async () => {
    const dir = await dataDir();
    const keys = await Promise.all(Array.from({ length: 8 }, () => resolveKeyEncryptionKey({ dataDir: dir })));
    for (const key of keys) assert.deepEqual(key, keys[0]);
  });

  it('refuses a corrupted kek file instead of silently replacing it', async () => {
    const dir = await dataDir();
    await resolveKeyEncryptionKey({ dataDir: dir });
    await writeFile(join(dir, 'kek'), 'short\n');
    await assert.rejects(resolveKeyEncryptionKey({ dataDir: dir }), /KEY_ENCRYPTION_KEY \(generated file .*kek\): decodes to 3 bytes/);
  });
});
