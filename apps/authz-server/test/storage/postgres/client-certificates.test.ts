// postgres/client-certificates.ts: the certificates a client holds, the active ones' thumbprints
// (what certificate pinning reads: oidc/pinned-certificates.ts), retiring and reactivating, and
// the statuses the table accepts. PGlite always, PostgreSQL when TEST_DATABASE_URL is set.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { insertClient } from '../../../src/storage/postgres/clients.ts';
import { activeThumbprints, addClientCertificate, retireClientCertificate } from '../../../src/storage/postgres/client-certificates.ts';
import { onEachEngine } from '../helpers.ts';

onEachEngine('client certificates', (sql) => {
  it('client certificates: the active thumbprints, retired ones left out, a retired one reactivated', async () => {
    await insertClient(sql(), { client_id: 'pinned', certificate_pinning: true }, false);
    await insertClient(sql(), { client_id: 'unpinned' }, false);
    const cert = (t: string, clientId = 'pinned') => ({ client_id: clientId, x5t_s256: t, pem: 'p', subject: null, issuer: null, sans: { dns: [], ip: [], uri: [], email: [] }, serial: null, not_before: null, not_after: null });
    await addClientCertificate(sql(), cert('t1'));
    await addClientCertificate(sql(), cert('t2'));
    await addClientCertificate(sql(), cert('t3', 'unpinned'));
    await retireClientCertificate(sql(), 'pinned', 't1');
    assert.deepEqual(await activeThumbprints(sql(), 'pinned'), ['t2']);
    assert.deepEqual(await activeThumbprints(sql(), 'unpinned'), ['t3']);
    assert.equal(await addClientCertificate(sql(), cert('t2')), undefined, 'already active');
    assert.equal((await addClientCertificate(sql(), cert('t1')))!.status, 'active', 'a retired one is reactivated');
    await assert.rejects(sql().query(`update client_certificates set status = 'revoked'`), /client_certificates_status_check/);
  });
});
