// postgres/client-adapter.ts, oidc-provider's Client model over the clients table: the stored
// metadata with its client_id, nothing for an unknown or disabled client, and no writes (clients
// are written through /admin/v1). Its cache and completion: test/storage/client-cache.test.ts.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setClientDisabled, upsertClient } from '../../../src/storage/postgres/clients.ts';
import { ClientAdapter } from '../../../src/storage/postgres/client-adapter.ts';
import { onEachEngine } from '../helpers.ts';

onEachEngine('the Client adapter', (sql) => {
  it('find returns the metadata with client_id', async () => {
    const clientId = `client-${randomUUID()}`;
    await upsertClient(sql(), { client_id: clientId, token_endpoint_auth_method: 'self_signed_tls_client_auth' });
    assert.deepEqual(await new ClientAdapter(sql()).find(clientId), {
      client_id: clientId,
      token_endpoint_auth_method: 'self_signed_tls_client_auth',
    });
  });

  it('find is undefined for an unknown client and for a disabled one', async () => {
    const clientId = `client-${randomUUID()}`;
    await upsertClient(sql(), { client_id: clientId });
    assert.equal(await setClientDisabled(sql(), clientId, true), true);
    assert.equal(await new ClientAdapter(sql()).find(clientId), undefined);
    assert.equal(await new ClientAdapter(sql()).find(`nobody-${randomUUID()}`), undefined);
  });

  it('refuses every other method: clients are written by the admin API', async () => {
    const adapter = new ClientAdapter(sql());
    await assert.rejects(adapter.upsert(), /Client adapter: upsert is not supported/);
    await assert.rejects(adapter.destroy(), /Client adapter: destroy is not supported/);
  });
});
