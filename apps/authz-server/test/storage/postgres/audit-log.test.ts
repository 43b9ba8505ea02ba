// postgres/audit-log.ts and the audit_log table (db/migrations/0002): append-only (the table
// refuses UPDATE, DELETE and TRUNCATE), and the admin API's filters by target prefix, actor and
// page. PGlite always, PostgreSQL when TEST_DATABASE_URL is set.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { appendAudit, listAudit } from '../../../src/storage/postgres/audit-log.ts';
import { onEachEngine } from '../helpers.ts';

onEachEngine('audit log', (sql) => {
  it('audit_log is append-only: UPDATE, DELETE and TRUNCATE raise', async () => {
    const row = await appendAudit(sql(), { requestId: 'r1', actorClientId: 'admin', actorX5t: 'x5t', action: 'client.create', target: 'clients/a', before: null, after: { a: 1 } });
    assert.match(row.id, /^\d+$/);
    assert.ok(row.at instanceof Date);
    await assert.rejects(sql().query('update audit_log set action = $1', ['x']), /audit_log is append-only: UPDATE is not allowed/);
    await assert.rejects(sql().query('delete from audit_log where id = $1', [row.id]), /audit_log is append-only: DELETE is not allowed/);
    await assert.rejects(sql().exec('truncate audit_log'), /audit_log is append-only: TRUNCATE is not allowed/);
    assert.equal((await listAudit(sql(), { target: 'clients/a', limit: 10 })).length, 1);
  });

  it('audit filters: target prefix by path segment only, actor by client_id or thumbprint', async () => {
    await appendAudit(sql(), { requestId: 'r2', actorClientId: 'admin', actorX5t: 'x5t', action: 'client.certificate.add', target: 'clients/a/certificates/t', before: null, after: null });
    await appendAudit(sql(), { requestId: 'r3', actorClientId: 'other', actorX5t: null, action: 'client.create', target: 'clients/ab', before: null, after: null });
    assert.deepEqual((await listAudit(sql(), { target: 'clients/a', limit: 10 })).map((r) => r.request_id), ['r2', 'r1']);
    assert.deepEqual((await listAudit(sql(), { actor: 'x5t', limit: 10 })).map((r) => r.request_id), ['r2', 'r1']);
    assert.deepEqual((await listAudit(sql(), { actor: 'other', limit: 10 })).map((r) => r.request_id), ['r3']);
    const [newest] = await listAudit(sql(), { limit: 1 });
    assert.deepEqual((await listAudit(sql(), { beforeId: newest.id, limit: 10 })).map((r) => r.request_id), ['r2', 'r1']);
  });
});
