import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { auditable, changedFields } from '../../src/admin/audit.ts';

describe('audit values', () => {
  it('keeps only the fields that changed, null where one side lacks it', () => {
    assert.deepEqual(changedFields({ a: 1, b: [1, 2], c: 'x' }, { a: 1, b: [1, 3], z: true }), {
      before: { b: [1, 2], c: 'x', z: null },
      after: { b: [1, 3], c: null, z: true },
    });
  });

  it('keeps everything on create and delete', () => {
    assert.deepEqual(changedFields(null, { a: 1 }), { before: null, after: { a: 1 } });
    assert.deepEqual(changedFields({ a: 1 }, null), { before: { a: 1 }, after: null });
  });

  it('never records private key members or certificate bodies', () => {
    const der = Buffer.from('certificate bytes');
    const value = { jwks: { keys: [{ kty: 'EC', x: 'x', d: 'secret', x5c: [der.toString('base64')] }, { kty: 'oct', k: 'secret' }] }, client_secret: 'secret', pem: '-----BEGIN' };
    assert.deepEqual(auditable(value), {
      jwks: { keys: [{ kty: 'EC', x: 'x', 'x5t#S256': [createHash('sha256').update(der).digest('base64url')] }, { kty: 'oct' }] },
    });
    assert.ok(!JSON.stringify(changedFields({ jwks: { keys: [] } }, value)).includes('secret'));
  });
});
