// postgres/clients.ts, the queries of the clients table: upsert with its version, the disabled
// flag, create-only insert, compare-and-set update, pages in byte order, and the certificates
// that go with a deleted client. PGlite always, PostgreSQL when TEST_DATABASE_URL is set.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { findClient, insertClient, listClientsPage, setClientDisabled, updateClientIfVersion, upsertClient } from '../../../src/storage/postgres/clients.ts';
import { onEachEngine } from '../helpers.ts';

onEachEngine('clients', (sql) => {
  it('upsertClient creates at version 1; a second upsert replaces the metadata and bumps the version', async () => {
    const clientId = `client-${randomUUID()}`;
    const created = await upsertClient(sql(), { client_id: clientId, grant_types: ['client_credentials'] });
    assert.equal(created.version, 1);
    assert.equal(created.disabled, false);
    assert.ok(created.created_at instanceof Date);
    const updated = await upsertClient(sql(), { client_id: clientId, grant_types: ['client_credentials'], scope: 'a b' });
    assert.equal(updated.version, 2);
    assert.deepEqual(updated.metadata, { client_id: clientId, grant_types: ['client_credentials'], scope: 'a b' });
    assert.deepEqual((await findClient(sql(), clientId))?.metadata, updated.metadata);
  });

  it('upsertClient keeps disabled as it was unless told', async () => {
    const clientId = `client-${randomUUID()}`;
    await upsertClient(sql(), { client_id: clientId }, { disabled: true });
    assert.equal((await upsertClient(sql(), { client_id: clientId, scope: 'x' })).disabled, true);
    assert.equal((await upsertClient(sql(), { client_id: clientId }, { disabled: false })).disabled, false);
  });

  it('upsertClient refuses metadata without a client_id', async () => {
    await assert.rejects(upsertClient(sql(), { client_id: '' }), /non-empty client_id/);
  });

  it('findClient of an unknown id is undefined; setClientDisabled reports whether it existed', async () => {
    assert.equal(await findClient(sql(), `nobody-${randomUUID()}`), undefined);
    assert.equal(await setClientDisabled(sql(), `nobody-${randomUUID()}`, true), false);
  });

  it('deleting a client deletes its certificates', async () => {
    const clientId = `client-${randomUUID()}`;
    await upsertClient(sql(), { client_id: clientId });
    await sql().query(
      `insert into client_certificates (client_id, x5t_s256, pem, sans, not_after) values ($1, 'thumb', 'PEM', '["dns:a"]', now())`,
      [clientId],
    );
    await sql().query('delete from clients where client_id = $1', [clientId]);
    const { rows } = await sql().query('select 1 from client_certificates where client_id = $1', [clientId]);
    assert.equal(rows.length, 0);
  });

  it('clients: create-only insert, compare-and-set update, pages in byte order', async () => {
    for (const id of ['b', 'B', 'a', '_']) assert.ok(await insertClient(sql(), { client_id: `page-${id}` }, false));
    assert.equal(await insertClient(sql(), { client_id: 'page-a', x: 1 }, false), undefined);
    const ids = (await listClientsPage(sql(), { after: 'page-', limit: 10 })).map((r) => r.client_id).filter((id) => id.startsWith('page-'));
    assert.deepEqual(ids, ['page-B', 'page-_', 'page-a', 'page-b']);
    assert.deepEqual((await listClientsPage(sql(), { after: 'page-_', limit: 2 })).map((r) => r.client_id), ['page-a', 'page-b']);
    assert.equal(await updateClientIfVersion(sql(), { metadata: { client_id: 'page-a' }, disabled: false, version: 2 }), undefined);
    assert.equal((await updateClientIfVersion(sql(), { metadata: { client_id: 'page-a', n: 1 }, disabled: true, version: 1 }))!.version, 2);
  });
});
