// AES-256-GCM sealing: random IV per seal, the kid bound as additional data, tampering detected.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { SealOpenError, open, seal } from '../../src/keys/seal.ts';

describe('seal / open (AES-256-GCM, AAD = kid)', () => {
  const kek = randomBytes(32);
  const secret = Buffer.from('{"d":"private"}');

  it('opens what it sealed, with a 12-byte IV and a 16-byte tag', () => {
    const box = seal(kek, secret, 'kid-1');
    assert.equal(box.iv.length, 12);
    assert.equal(box.tag.length, 16);
    assert.ok(!box.ciphertext.includes(secret));
    assert.deepEqual(open(kek, box, 'kid-1'), secret);
  });

  it('uses a fresh IV every time', () => {
    const a = seal(kek, secret, 'kid-1');
    const b = seal(kek, secret, 'kid-1');
    assert.notDeepEqual(a.iv, b.iv);
    assert.notDeepEqual(a.ciphertext, b.ciphertext);
  });

  it('refuses the wrong key, the wrong kid, and any flipped byte', () => {
    const box = seal(kek, secret, 'kid-1');
    const flip = (b: Buffer) => Buffer.from(b.map((x, i) => (i === 0 ? x ^ 1 : x)));
    assert.throws(() => open(randomBytes(32), box, 'kid-1'), SealOpenError);
    assert.throws(() => open(kek, box, 'kid-2'), SealOpenError);
    assert.throws(() => open(kek, { ...box, ciphertext: flip(box.ciphertext) }, 'kid-1'), SealOpenError);
    assert.throws(() => open(kek, { ...box, tag: flip(box.tag) }, 'kid-1'), SealOpenError);
    assert.throws(() => open(kek, { ...box, iv: flip(box.iv) }, 'kid-1'), SealOpenError);
    assert.throws(() => open(kek, { ...box, tag: box.tag.subarray(0, 8) }, 'kid-1'), /malformed IV or tag/);
  });

  it('refuses a key-encryption key that is not 32 bytes', () => {
    assert.throws(() => seal(randomBytes(16), secret, 'kid'), /must be 32 bytes, got 16/);
  });
});
