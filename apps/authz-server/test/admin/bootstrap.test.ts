// admin/bootstrap.ts, first start of the management API: the admin resource server and the
// first of ADMIN_CLIENT_IDS registered once each with their audit rows, clients holding the admin
// API outside ADMIN_CLIENT_IDS named, and several instances starting at once registering one
// admin. PGlite always, PostgreSQL when TEST_DATABASE_URL is set.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { migrate } from '../../src/storage/migrate.ts';
import { clientsHoldingResource, findClient, upsertClient } from '../../src/storage/postgres/clients.ts';
import { listAudit } from '../../src/storage/postgres/audit-log.ts';
import { bootstrapAdmin, ADMIN_RESOURCE } from '../../src/admin/bootstrap.ts';
import { SKIP_POSTGRES, onEachEngine, openTestPostgres } from '../storage/helpers.ts';

onEachEngine('admin bootstrap', (sql) => {
  it('bootstrapAdmin registers the admin resource server and client once, with audit rows', async () => {
    const missing = await bootstrapAdmin(sql(), undefined);
    assert.deepEqual(missing, { created: [`resource server ${ADMIN_RESOURCE}`], missingAdmin: true, strayAdminHolders: [] });
    const first = await bootstrapAdmin(sql(), { tls_client_auth_san_uri: 'spiffe://example.org/admin' });
    assert.deepEqual(first, { created: ['client admin (tls_client_auth_san_uri "spiffe://example.org/admin")'], missingAdmin: false, strayAdminHolders: [] });
    const again = await bootstrapAdmin(sql(), { tls_client_auth_subject_dn: 'CN=someone else' });
    assert.deepEqual(again, { created: [], missingAdmin: false, strayAdminHolders: [] });
    const admin = await findClient(sql(), 'admin');
    assert.equal(admin!.metadata.tls_client_auth_san_uri, 'spiffe://example.org/admin');
    assert.equal(admin!.metadata.tls_client_auth_subject_dn, undefined);
    assert.deepEqual(admin!.metadata.resources, { [ADMIN_RESOURCE]: ['admin'] }, 'the admin holds the admin API with scope admin');
    assert.equal(admin!.metadata.scope, undefined);
    const rows = await listAudit(sql(), { actor: 'certbound', limit: 10 });
    assert.deepEqual(rows.map((r) => r.action).sort(), ['client.create', 'resource_server.create']);
  });

  it('bootstrapAdmin registers the first of ADMIN_CLIENT_IDS and names clients holding the admin API outside it', async () => {
    await bootstrapAdmin(sql(), { tls_client_auth_subject_dn: 'CN=ops' }, ['ops', 'admin']);
    assert.deepEqual((await findClient(sql(), 'ops'))!.metadata.resources, { [ADMIN_RESOURCE]: ['admin'] });
    await upsertClient(sql(), { client_id: 'partner', resources: { [ADMIN_RESOURCE]: ['admin'], 'https://x.test': [] } });
    await upsertClient(sql(), { client_id: 'other', resources: { 'https://x.test': ['admin'] } });
    const result = await bootstrapAdmin(sql(), { tls_client_auth_subject_dn: 'CN=ops' }, ['ops', 'admin']);
    assert.deepEqual(result.strayAdminHolders, ['partner']);
    assert.deepEqual(await clientsHoldingResource(sql(), ADMIN_RESOURCE), ['admin', 'ops', 'partner']);
    assert.deepEqual(await clientsHoldingResource(sql(), 'https://x.test', { scopes: ['admin'] }), ['other']);
    assert.deepEqual(await clientsHoldingResource(sql(), 'https://x.test', { scopes: ['read'] }), []);
  });
});

describe('admin bootstrap with several instances starting at once: PostgreSQL', { skip: SKIP_POSTGRES }, () => {
  it('registers exactly one admin client and one audit row for it', async () => {
    const db = await openTestPostgres();
    try {
      await migrate(db.sql);
      const results = await Promise.all(Array.from({ length: 4 }, () => bootstrapAdmin(db.sql, { tls_client_auth_subject_dn: 'CN=admin' })));
      assert.equal(results.flatMap((r) => r.created).filter((c) => c.startsWith('client admin')).length, 1);
      const { rows } = await db.sql.query<{ action: string; n: number }>(`select action, count(*)::int as n from audit_log group by action order by action`);
      assert.deepEqual(rows, [{ action: 'client.create', n: 1 }, { action: 'resource_server.create', n: 1 }]);
    } finally {
      await db.drop();
    }
  });
});
