// The decision behind a client revocation (oidc/client-revocation.ts): a token issued up to and
// including the revocation's second is void, a later one is not, a token without a numeric iat
// is void once its client has a mark, and no mark voids nothing. Through the real mark in the
// embedded KvStore (storage/kv/client-revocations.ts).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createMemoryKv } from '../../src/storage/kv/memory.ts';
import { createClientRevocations } from '../../src/storage/kv/client-revocations.ts';
import { voidedBy, voidedByClientRevocation } from '../../src/oidc/client-revocation.ts';

describe('client revocation decision', () => {
  it('void up to and including the revocation second; a missing or non-numeric iat is void', () => {
    assert.equal(voidedBy(1_000, 999), true);
    assert.equal(voidedBy(1_000, 1_000), true, 'the same second: the safe side');
    assert.equal(voidedBy(1_000, 1_001), false);
    assert.equal(voidedBy(1_000, undefined), true);
    assert.equal(voidedBy(1_000, '999'), true);
  });

  it('without a mark nothing is void, whatever the iat', () => {
    assert.equal(voidedBy(undefined, 0), false);
    assert.equal(voidedBy(undefined, undefined), false);
  });

  it('reads the stored mark of the client asked about, not another one', async () => {
    const kv = createMemoryKv();
    try {
      const marks = createClientRevocations(kv);
      await marks.markRevoked('payments', 1_000.9, 60);
      assert.equal(await voidedByClientRevocation(marks, 'payments', 1_000), true);
      assert.equal(await voidedByClientRevocation(marks, 'payments', 1_001), false, 'the mark is whole seconds');
      assert.equal(await voidedByClientRevocation(marks, 'ledger', 1), false);
    } finally {
      await kv.close();
    }
  });
});
