// The management API's tables (db/migrations/0002) and queries, on PGlite and on PostgreSQL.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { SqlClient } from '../../src/storage/sql.ts';
import { openPglite } from '../../src/storage/embedded/pglite.ts';
import { migrate } from '../../src/storage/migrate.ts';
import { clientsHoldingResource, findClient, insertClient, listClientsPage, updateClientIfVersion, upsertClient } from '../../src/storage/postgres/clients.ts';
import { findResourceServer, insertResourceServer, updateResourceServerIfVersion } from '../../src/storage/postgres/resource-servers.ts';
import { appendAudit, listAudit } from '../../src/storage/postgres/audit-log.ts';
import { activeThumbprints, addClientCertificate, retireClientCertificate } from '../../src/storage/postgres/client-certificates.ts';
import { bootstrapAdmin, ADMIN_RESOURCE } from '../../src/admin/bootstrap.ts';
import { SKIP_POSTGRES, openTestPostgres } from './helpers.ts';

function suite(engine: string, skip: string | false, open: () => Promise<{ sql: SqlClient; close(): Promise<void> }>) {
  describe(`admin storage: ${engine}`, { skip }, () => {
    let sql: SqlClient;
    let close: () => Promise<void>;
    before(async () => {
      ({ sql, close } = await open());
      await migrate(sql);
    });
    after(async () => { await close?.(); });

    it('audit_log is append-only: UPDATE, DELETE and TRUNCATE raise', async () => {
      const row = await appendAudit(sql, { requestId: 'r1', actorClientId: 'admin', actorX5t: 'x5t', action: 'client.create', target: 'clients/a', before: null, after: { a: 1 } });
      assert.match(row.id, /^\d+$/);
      assert.ok(row.at instanceof Date);
      await assert.rejects(sql.query('update audit_log set action = $1', ['x']), /audit_log is append-only: UPDATE is not allowed/);
      await assert.rejects(sql.query('delete from audit_log where id = $1', [row.id]), /audit_log is append-only: DELETE is not allowed/);
      await assert.rejects(sql.exec('truncate audit_log'), /audit_log is append-only: TRUNCATE is not allowed/);
      assert.equal((await listAudit(sql, { target: 'clients/a', limit: 10 })).length, 1);
    });

    it('audit filters: target prefix by path segment only, actor by client_id or thumbprint', async () => {
      await appendAudit(sql, { requestId: 'r2', actorClientId: 'admin', actorX5t: 'x5t', action: 'client.certificate.add', target: 'clients/a/certificates/t', before: null, after: null });
      await appendAudit(sql, { requestId: 'r3', actorClientId: 'other', actorX5t: null, action: 'client.create', target: 'clients/ab', before: null, after: null });
      assert.deepEqual((await listAudit(sql, { target: 'clients/a', limit: 10 })).map((r) => r.request_id), ['r2', 'r1']);
      assert.deepEqual((await listAudit(sql, { actor: 'x5t', limit: 10 })).map((r) => r.request_id), ['r2', 'r1']);
      assert.deepEqual((await listAudit(sql, { actor: 'other', limit: 10 })).map((r) => r.request_id), ['r3']);
      const [newest] = await listAudit(sql, { limit: 1 });
      assert.deepEqual((await listAudit(sql, { beforeId: newest!.id, limit: 10 })).map((r) => r.request_id), ['r2', 'r1']);
    });

    it('a resource server\'s version counts every update, whoever makes it', async () => {
      const rs = await insertResourceServer(sql, { identifier: 'https://v.test', name: null, scopes: [], token_format: 'jwt', access_token_ttl: null, sender_constraint_required: true });
      assert.equal(rs!.version, 1);
      assert.equal(await insertResourceServer(sql, { ...rs!, scopes: ['x'] }), undefined, 'create-only');
      await sql.query(`update resource_servers set name = 'n' where identifier = 'https://v.test'`);
      assert.equal((await findResourceServer(sql, 'https://v.test'))!.version, 2);
      assert.equal(await updateResourceServerIfVersion(sql, { ...rs!, version: 1 }), undefined, 'stale version');
      assert.equal((await updateResourceServerIfVersion(sql, { ...rs!, version: 2 }))!.version, 3);
    });

    it('clients: create-only insert, compare-and-set update, pages in byte order', async () => {
      for (const id of ['b', 'B', 'a', '_']) assert.ok(await insertClient(sql, { client_id: `page-${id}` }, false));
      assert.equal(await insertClient(sql, { client_id: 'page-a', x: 1 }, false), undefined);
      const ids = (await listClientsPage(sql, { after: 'page-', limit: 10 })).map((r) => r.client_id).filter((id) => id.startsWith('page-'));
      assert.deepEqual(ids, ['page-B', 'page-_', 'page-a', 'page-b']);
      assert.deepEqual((await listClientsPage(sql, { after: 'page-_', limit: 2 })).map((r) => r.client_id), ['page-a', 'page-b']);
      assert.equal(await updateClientIfVersion(sql, { metadata: { client_id: 'page-a' }, disabled: false, version: 2 }), undefined);
      assert.equal((await updateClientIfVersion(sql, { metadata: { client_id: 'page-a', n: 1 }, disabled: true, version: 1 }))!.version, 2);
    });

    it('client certificates: the active thumbprints, retired ones left out, a retired one reactivated', async () => {
      await insertClient(sql, { client_id: 'pinned', certificate_pinning: true }, false);
      await insertClient(sql, { client_id: 'unpinned' }, false);
      const cert = (t: string, clientId = 'pinned') => ({ client_id: clientId, x5t_s256: t, pem: 'p', subject: null, issuer: null, sans: { dns: [], ip: [], uri: [], email: [] }, serial: null, not_before: null, not_after: null });
      await addClientCertificate(sql, cert('t1'));
      await addClientCertificate(sql, cert('t2'));
      await addClientCertificate(sql, cert('t3', 'unpinned'));
      await retireClientCertificate(sql, 'pinned', 't1');
      assert.deepEqual(await activeThumbprints(sql, 'pinned'), ['t2']);
      assert.deepEqual(await activeThumbprints(sql, 'unpinned'), ['t3']);
      assert.equal(await addClientCertificate(sql, cert('t2')), undefined, 'already active');
      assert.equal((await addClientCertificate(sql, cert('t1')))!.status, 'active', 'a retired one is reactivated');
      await assert.rejects(sql.query(`update client_certificates set status = 'revoked'`), /client_certificates_status_check/);
    });

    it('bootstrapAdmin registers the admin resource server and client once, with audit rows', async () => {
      const missing = await bootstrapAdmin(sql, undefined);
      assert.deepEqual(missing, { created: [`resource server ${ADMIN_RESOURCE}`], missingAdmin: true, strayAdminHolders: [] });
      const first = await bootstrapAdmin(sql, { tls_client_auth_san_uri: 'spiffe://example.org/admin' });
      assert.deepEqual(first, { created: ['client admin (tls_client_auth_san_uri "spiffe://example.org/admin")'], missingAdmin: false, strayAdminHolders: [] });
      const again = await bootstrapAdmin(sql, { tls_client_auth_subject_dn: 'CN=someone else' });
      assert.deepEqual(again, { created: [], missingAdmin: false, strayAdminHolders: [] });
      const admin = await findClient(sql, 'admin');
      assert.equal(admin!.metadata.tls_client_auth_san_uri, 'spiffe://example.org/admin');
      assert.equal(admin!.metadata.tls_client_auth_subject_dn, undefined);
      assert.deepEqual(admin!.metadata.resources, { [ADMIN_RESOURCE]: ['admin'] }, 'the admin holds the admin API with scope admin');
      assert.equal(admin!.metadata.scope, undefined);
      const rows = await listAudit(sql, { actor: 'certbound', limit: 10 });
      assert.deepEqual(rows.map((r) => r.action).sort(), ['client.create', 'resource_server.create']);
    });

    it('bootstrapAdmin registers the first of ADMIN_CLIENT_IDS and names clients holding the admin API outside it', async () => {
      await bootstrapAdmin(sql, { tls_client_auth_subject_dn: 'CN=ops' }, ['ops', 'admin']);
      assert.deepEqual((await findClient(sql, 'ops'))!.metadata.resources, { [ADMIN_RESOURCE]: ['admin'] });
      await upsertClient(sql, { client_id: 'partner', resources: { [ADMIN_RESOURCE]: ['admin'], 'https://x.test': [] } });
      await upsertClient(sql, { client_id: 'other', resources: { 'https://x.test': ['admin'] } });
      const result = await bootstrapAdmin(sql, { tls_client_auth_subject_dn: 'CN=ops' }, ['ops', 'admin']);
      assert.deepEqual(result.strayAdminHolders, ['partner']);
      assert.deepEqual(await clientsHoldingResource(sql, ADMIN_RESOURCE), ['admin', 'ops', 'partner']);
      assert.deepEqual(await clientsHoldingResource(sql, 'https://x.test', { scopes: ['admin'] }), ['other']);
      assert.deepEqual(await clientsHoldingResource(sql, 'https://x.test', { scopes: ['read'] }), []);
    });
  });
}

suite('PGlite', false, async () => {
  const sql = await openPglite(undefined);
  return { sql, close: () => sql.close() };
});

suite('PostgreSQL', SKIP_POSTGRES, async () => {
  const db = await openTestPostgres();
  return { sql: db.sql, close: () => db.drop() };
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
