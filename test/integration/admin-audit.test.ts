// Every change through /admin/v1 appends one audit row in the transaction of the change: who
// (the admin's client_id and certificate thumbprint), what (action, target), the fields that
// changed, the request id and the time. The table refuses UPDATE and DELETE.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { issueCertificate, type IssuedCertificate } from '../../apps/authz-server/src/pki/issue.ts';
import { x5tS256 } from '../../apps/authz-server/src/mtls/thumbprint.ts';
import { makeTestPki, startTestAuthz, type TestAuthz, type TestPki } from '../support/authz.ts';
import type { JsonObject } from '../support/json-answer.ts';
import { expectOAuthError } from '../support/oauth.ts';

const API = 'https://audit-api.test';

/** A row of GET /admin/v1/audit; before and after are null where the change created or deleted the resource. */
interface AuditRow {
  readonly at: string;
  readonly request_id: string;
  readonly action: string;
  readonly target: string;
  readonly actor: { readonly client_id: string | null; readonly 'x5t#S256': string | null; readonly sub: string | null };
  readonly before: JsonObject;
  readonly after: JsonObject;
}

describe('/admin/v1 audit log', () => {
  let pki: TestPki;
  let as: TestAuthz;
  let adminX5t: string;
  let robot: IssuedCertificate;
  let startedAt: string;

  const audit = async (query: string) => {
    const res = await as.admin.request('GET', `/audit?${query}`);
    assert.equal(res.status, 200, res.text);
    return res.json.items as unknown as AuditRow[];
  };
  const call = (method: string, path: string, requestId: string, json?: unknown, headers: Record<string, string> = {}) =>
    as.admin.request(method, path, { json, headers: { 'x-request-id': requestId, ...headers } });

  before(async () => {
    pki = await makeTestPki();
    adminX5t = x5tS256(pki.admin.cert);
    robot = await issueCertificate({ subject: 'CN=robot', days: 5 });
    as = await startTestAuthz({ pki });
    startedAt = new Date().toISOString();
    assert.equal((await call('POST', '/resource-servers', 'rs-1', { identifier: API, scopes: ['audit:read'] })).status, 201);
    assert.equal((await call('POST', '/clients', 'c-1', { client_id: 'robot', token_endpoint_auth_method: 'self_signed_tls_client_auth', scope: 'audit:read', default_resource: API })).status, 201);
    assert.equal((await call('POST', '/clients/robot/certificates', 'cert-1', { pem: robot.certPem })).status, 201);
    const current = await as.admin.request('GET', '/clients/robot');
    assert.equal((await call('PUT', '/clients/robot', 'c-2', { ...current.json, client_name: 'Robot' }, { 'if-match': current.headers.etag as string })).status, 200);
    assert.equal((await call('POST', '/clients/robot/revoke', 'c-3')).status, 200);
    assert.equal((await call('DELETE', `/clients/robot/certificates/${x5tS256(robot.cert)}`, 'cert-2')).status, 200);
    assert.equal((await call('DELETE', '/clients/robot', 'c-4')).status, 204);
  });

  after(async () => { await as?.close(); });

  it('the first start recorded the admin resource server, the admin client and the console\'s client, by certbound', async () => {
    const rows = await audit('actor=certbound');
    assert.deepEqual(rows.map((r) => [r.action, r.target]).reverse(), [
      ['resource_server.create', 'resource-servers/urn:certbound:admin-api'],
      ['client.create', 'clients/admin'],
      ['client.create', 'clients/certbound-console'],
    ]);
    assert.ok(rows.every((r) => r.request_id === 'bootstrap' && r.actor['x5t#S256'] === null));
  });

  // Ten rows and more: newest first by number, not by the id's text ("9" sorted above "10" once).
  it('every change left one row, newest first, with actor, thumbprint and request id', async () => {
    const rows = await audit(`actor=admin&since=${startedAt}`);
    assert.deepEqual(rows.map((r) => [r.action, r.target, r.request_id]), [
      ['client.delete', 'clients/robot', 'c-4'],
      ['client.certificate.retire', `clients/robot/certificates/${x5tS256(robot.cert)}`, 'cert-2'],
      ['client.revoke', 'clients/robot', 'c-3'],
      ['client.update', 'clients/robot', 'c-2'],
      ['client.certificate.add', `clients/robot/certificates/${x5tS256(robot.cert)}`, 'cert-1'],
      ['client.create', 'clients/robot', 'c-1'],
      ['resource_server.create', `resource-servers/${API}`, 'rs-1'],
    ]);
    for (const row of rows) {
      assert.deepEqual(row.actor, { client_id: 'admin', 'x5t#S256': adminX5t, sub: null });
      assert.ok(Date.parse(row.at) >= Date.parse(startedAt) - 1000);
    }
  });

  it('holds before/after: all of it on create and delete, only the changed fields on update', async () => {
    const rows = await audit('target=clients/robot');
    const byRequest = Object.fromEntries(rows.map((r) => [r.request_id, r]));
    assert.equal(byRequest['c-1'].before, null);
    assert.equal(byRequest['c-1'].after.client_id, 'robot');
    assert.equal(byRequest['c-1'].after.token_endpoint_auth_method, 'self_signed_tls_client_auth');
    assert.deepEqual(byRequest['c-2'].before, { client_name: null });
    assert.deepEqual(byRequest['c-2'].after, { client_name: 'Robot' });
    assert.deepEqual(byRequest['c-3'].after, { revoked_grants: 0, revoked_refresh_tokens: 0 });
    assert.equal(byRequest['c-4'].after, null);
    assert.equal(byRequest['c-4'].before.client_name, 'Robot');
    // The jwks in the record names certificates by thumbprint, never by their body.
    assert.deepEqual(byRequest['c-4'].before.jwks, { keys: [] });
    assert.equal(byRequest['cert-1'].after['x5t#S256'], x5tS256(robot.cert));
    assert.equal(byRequest['cert-1'].after.status, 'active');
    assert.deepEqual([byRequest['cert-2'].before.status, byRequest['cert-2'].after.status], ['active', 'retired']);
  });

  it('stores no key material and no certificate body', async () => {
    const { rows } = await as.server.stores.sql.query<{ row: string }>('select row_to_json(a)::text as row from audit_log a');
    const text = rows.map((r) => r.row).join('\n');
    assert.ok(!text.includes('PRIVATE KEY'));
    assert.ok(!text.includes('BEGIN CERTIFICATE'));
    assert.ok(!text.includes(robot.cert.raw.toString('base64').slice(0, 40)), 'no x5c');
    assert.ok(!/"(d|p|q|dp|dq|qi|k)":/.test(text), 'no private JWK member');
  });

  it('filters by target (with what lies under it), actor thumbprint and time, and pages with a cursor', async () => {
    assert.deepEqual((await audit(`target=clients/robot/certificates/${x5tS256(robot.cert)}`)).map((r) => r.request_id), ['cert-2', 'cert-1']);
    assert.equal((await audit(`actor=${adminX5t}&since=${startedAt}`)).length, 7);
    assert.equal((await audit('until=2000-01-01T00:00:00Z')).length, 0);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await as.admin.request('GET', `/audit?target=clients/robot&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...res.json.items.map((r) => r.request_id as string));
      cursor = res.json.next_cursor;
    } while (cursor);
    assert.deepEqual(seen, ['c-4', 'cert-2', 'c-3', 'c-2', 'cert-1', 'c-1']);
  });

  it('refuses a malformed time or cursor: 400', async () => {
    expectOAuthError(await as.admin.request('GET', '/audit?since=yesterday'), 400, 'invalid_request', 'since: must be an RFC 3339 date-time, e.g. 2025-01-31T12:00:00Z');
    expectOAuthError(await as.admin.request('GET', '/audit?until=2025-01-01T10:00'), 400, 'invalid_request', /^until: must be an RFC 3339 date-time/);
    expectOAuthError(await as.admin.request('GET', `/audit?cursor=${Buffer.from('["x"]').toString('base64url')}`), 400, 'invalid_request', 'cursor: is not a cursor this API returned');
  });

  it('a refused change leaves no row', async () => {
    const before = (await audit('limit=200')).length;
    expectOAuthError(await as.admin.request('POST', '/clients', { json: { client_id: 'admin', tls_client_auth_subject_dn: 'CN=x' } }), 409, 'conflict');
    expectOAuthError(await as.admin.request('POST', '/clients', { json: { client_id: 'x', colour: 'red' } }), 400, 'invalid_client_metadata');
    assert.equal((await audit('limit=200')).length, before);
  });

  it('the change and its audit row commit together: when the row cannot be written, the change is not made', async () => {
    const { sql } = as.server.stores;
    await sql.exec(`create function audit_refuse() returns trigger language plpgsql as $$ begin raise exception 'audit store full'; end $$;
      create trigger audit_refuse before insert on audit_log for each row execute function audit_refuse();`);
    try {
      const res = await as.admin.request('POST', '/clients', { json: { client_id: 'half-written', tls_client_auth_subject_dn: 'CN=x' } });
      expectOAuthError(res, 500, 'server_error', 'internal error');
    } finally {
      await sql.exec('drop trigger audit_refuse on audit_log; drop function audit_refuse();');
    }
    const { rows } = await sql.query<{ n: number }>('select count(*)::int as n from clients where client_id = $1', ['half-written']);
    assert.equal(rows[0].n, 0);
  });

  it('is append-only: UPDATE, DELETE and TRUNCATE are refused even for the table owner', async () => {
    const { sql } = as.server.stores;
    await assert.rejects(sql.query(`update audit_log set action = 'forged'`), /audit_log is append-only: UPDATE is not allowed/);
    await assert.rejects(sql.query('delete from audit_log'), /audit_log is append-only: DELETE is not allowed/);
    await assert.rejects(sql.query('truncate audit_log'), /audit_log is append-only: TRUNCATE is not allowed/);
    const { rows } = await sql.query<{ n: number }>(`select count(*)::int as n from audit_log where action = 'forged'`);
    assert.equal(rows[0].n, 0);
  });
});
