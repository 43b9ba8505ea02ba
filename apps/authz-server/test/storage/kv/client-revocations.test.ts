// The client revocation mark in the KvStore (storage/kv/client-revocations.ts): stored in whole
// seconds, one per client, gone after its TTL (at least one second). Embedded store with a
// controlled clock; the decision that reads the mark is tested in test/oidc/client-revocation.test.ts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createMemoryKv } from '../../../src/storage/kv/memory.ts';
import { createClientRevocations } from '../../../src/storage/kv/client-revocations.ts';

describe('client revocation marks', () => {
  it('keeps the floor of the revocation second per client, until its TTL runs out', async () => {
    let clock = 1_000_000;
    const kv = createMemoryKv({ now: () => clock });
    try {
      const marks = createClientRevocations(kv);
      assert.equal(await marks.revokedBefore('payments'), undefined);
      await marks.markRevoked('payments', 1_700_000_000.7, 60);
      assert.equal(await marks.revokedBefore('payments'), 1_700_000_000);
      assert.equal(await marks.revokedBefore('ledger'), undefined, 'one mark per client');
      await marks.markRevoked('payments', 1_700_000_100, 60);
      assert.equal(await marks.revokedBefore('payments'), 1_700_000_100, 'a later revocation replaces the mark');
      clock += 59_999;
      assert.equal(await marks.revokedBefore('payments'), 1_700_000_100);
      clock += 1;
      assert.equal(await marks.revokedBefore('payments'), undefined, 'expired with the longest token it could void');
    } finally {
      await kv.close();
    }
  });

  it('a TTL under one second still keeps the mark for one second', async () => {
    let clock = 0;
    const kv = createMemoryKv({ now: () => clock });
    try {
      const marks = createClientRevocations(kv);
      await marks.markRevoked('payments', 10, 0);
      clock += 999;
      assert.equal(await marks.revokedBefore('payments'), 10);
      clock += 1;
      assert.equal(await marks.revokedBefore('payments'), undefined);
    } finally {
      await kv.close();
    }
  });
});
