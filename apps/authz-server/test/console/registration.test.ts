// console/registration.ts: certbound-console is registered once with the metadata the sign-in
// needs (public, PKCE via the code flow, DPoP-bound, redirect URIs under the issuer), left alone
// on a restart with nothing changed, brought up to date when the issuer moves, disabled by
// CONSOLE=off — each change with one audit row of the system.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openStores, type Stores } from '../../src/storage/index.ts';
import { findClient } from '../../src/storage/postgres/clients.ts';
import { listAudit } from '../../src/storage/postgres/audit-log.ts';
import { CONSOLE_CLIENT_ID, registerConsole } from '../../src/console/registration.ts';

describe('console registration', () => {
  let dir: string;
  let stores: Stores;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'certbound-console-reg-'));
    stores = await openStores({ dataDir: dir });
  });
  after(async () => {
    await stores?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const auditRows = async () => listAudit(stores.sql, { target: `clients/${CONSOLE_CLIENT_ID}`, limit: 50 });

  it('registers a public, DPoP-bound code-flow client whose redirect URIs follow the issuer', async () => {
    assert.equal(await registerConsole(stores.sql, 'https://as.example', true), 'registered');
    const row = await findClient(stores.sql, CONSOLE_CLIENT_ID);
    assert.equal(row?.disabled, false);
    assert.equal(row?.metadata.token_endpoint_auth_method, 'none');
    assert.equal(row?.metadata.dpop_bound_access_tokens, true);
    assert.deepEqual(row?.metadata.grant_types, ['authorization_code', 'refresh_token']);
    assert.deepEqual(row?.metadata.redirect_uris, ['https://as.example/console/callback']);
    assert.deepEqual(row?.metadata.post_logout_redirect_uris, ['https://as.example/console/']);
    assert.deepEqual(row?.metadata.resources, { 'urn:certbound:admin-api': ['admin'] });
    const [audit] = await auditRows();
    assert.equal(audit.action, 'client.create');
    assert.equal(audit.actor_client_id, 'certbound');
  });

  it('changes nothing on a restart with the same issuer', async () => {
    const before = await findClient(stores.sql, CONSOLE_CLIENT_ID);
    assert.equal(await registerConsole(stores.sql, 'https://as.example', true), undefined);
    assert.equal((await findClient(stores.sql, CONSOLE_CLIENT_ID))?.version, before?.version);
    assert.equal((await auditRows()).length, 1);
  });

  it('follows a new issuer, and CONSOLE=off disables it; each change audited', async () => {
    assert.equal(await registerConsole(stores.sql, 'https://auth.bank.example', true), 'updated');
    assert.deepEqual((await findClient(stores.sql, CONSOLE_CLIENT_ID))?.metadata.redirect_uris, ['https://auth.bank.example/console/callback']);
    assert.equal(await registerConsole(stores.sql, 'https://auth.bank.example', false), 'disabled');
    assert.equal((await findClient(stores.sql, CONSOLE_CLIENT_ID))?.disabled, true);
    assert.deepEqual((await auditRows()).map((row) => row.action), ['client.replace', 'client.replace', 'client.create']);
  });
});
