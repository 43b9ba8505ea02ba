// Certificate pinning as oidc-provider sees a client (oidc/pinned-certificates.ts), through the
// Client adapter it completes: a pinned client carries the thumbprints of its active registered
// certificates and nothing else, an unpinned one carries none, and a thumbprint list written
// into the stored metadata never counts. PGlite always, PostgreSQL when TEST_DATABASE_URL is set.
import { before, it } from 'node:test';
import assert from 'node:assert/strict';
import { upsertClient } from '../../src/storage/postgres/clients.ts';
import { addClientCertificate, retireClientCertificate } from '../../src/storage/postgres/client-certificates.ts';
import { ClientAdapter } from '../../src/storage/postgres/client-adapter.ts';
import { createClientCache } from '../../src/storage/client-cache.ts';
import { withPinnedCertificates } from '../../src/oidc/pinned-certificates.ts';
import { onEachEngine } from '../storage/helpers.ts';

const certificate = (clientId: string, x5t: string) => ({
  client_id: clientId, x5t_s256: x5t, pem: 'p', subject: null, issuer: null,
  sans: { dns: [], ip: [], uri: [], email: [] }, serial: null, not_before: null, not_after: null,
});

onEachEngine('pinned certificates', (sql) => {
  before(async () => {
    await upsertClient(sql(), { client_id: 'pinned', certificate_pinning: true, certificate_thumbprints: ['forged'] });
    await upsertClient(sql(), { client_id: 'unpinned', certificate_thumbprints: ['forged'] });
    await upsertClient(sql(), { client_id: 'pinned-none', certificate_pinning: true });
    for (const [clientId, x5t] of [['pinned', 't1'], ['pinned', 't2'], ['unpinned', 't3']] as const) {
      await addClientCertificate(sql(), certificate(clientId, x5t));
    }
    await retireClientCertificate(sql(), 'pinned', 't1');
  });

  it('a pinned client carries the thumbprints of its active certificates only, never the stored ones', async () => {
    const adapter = new ClientAdapter(sql(), { complete: withPinnedCertificates });
    assert.deepEqual(await adapter.find('pinned'), { client_id: 'pinned', certificate_pinning: true, certificate_thumbprints: ['t2'] });
  });

  it('a pinned client without an active certificate carries an empty list (every certificate is refused)', async () => {
    const adapter = new ClientAdapter(sql(), { complete: withPinnedCertificates });
    assert.deepEqual((await adapter.find('pinned-none'))!.certificate_thumbprints, []);
  });

  it('an unpinned client carries no thumbprints, whatever its metadata stored', async () => {
    const adapter = new ClientAdapter(sql(), { complete: withPinnedCertificates });
    assert.deepEqual(await adapter.find('unpinned'), { client_id: 'unpinned' });
  });

  it('a certificate retired through the queries is gone from the next load after an invalidation', async () => {
    const cache = createClientCache();
    const adapter = new ClientAdapter(sql(), { cache, complete: withPinnedCertificates });
    await addClientCertificate(sql(), certificate('pinned', 't4'));
    assert.deepEqual((await adapter.find('pinned'))!.certificate_thumbprints, ['t2', 't4']);
    await retireClientCertificate(sql(), 'pinned', 't4');
    await cache.invalidate('pinned');
    assert.deepEqual((await adapter.find('pinned'))!.certificate_thumbprints, ['t2']);
  });
});
