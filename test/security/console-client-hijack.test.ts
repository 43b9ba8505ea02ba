// Attack class: taking the console's own client. An admin client (a leaked admin certificate, a
// compromised automation) that could rewrite certbound-console through /admin/v1 — its
// redirect_uris pointed at evil.example, its admin resource removed, or the client deleted and
// re-created with the attacker's metadata — would take the console from its people, or collect
// their codes. The console's client is certbound's own, registered at every start: the API refuses
// to replace or delete it (409 conflict naming why), creating it again is a conflict, and nothing
// about it changes. "Revoke all tokens" stays open: it only signs everyone out.
//
// A real server (test/support/authz.ts: real TLS, embedded storage or PostgreSQL + Redis).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeTestPki, startTestAuthz, type TestAuthz } from '../support/authz.ts';
import { expectOAuthError } from '../support/oauth.ts';

const CONSOLE = 'certbound-console';

describe('an admin client rewriting or deleting the console\'s client', () => {
  let as: TestAuthz;
  let before_: { status: number; etag: string; metadata: Record<string, unknown> };
  before(async () => {
    as = await startTestAuthz({ pki: await makeTestPki() });
    const res = await as.admin.request('GET', `/clients/${CONSOLE}`);
    assert.equal(res.status, 200);
    before_ = { status: res.status, etag: String(res.headers.etag), metadata: res.json };
  });
  after(() => as?.close());

  const unchanged = async () => {
    const res = await as.admin.request('GET', `/clients/${CONSOLE}`);
    assert.equal(res.status, 200, 'the console client is still there');
    assert.equal(res.headers.etag, before_.etag, 'and unchanged');
    const audit = await as.admin.request('GET', `/audit?target=clients/${CONSOLE}`);
    assert.deepEqual(audit.json.items.map((row) => row.action), ['client.create'], 'no audit row but its registration');
  };

  it('refuses to point its redirect_uris at another site (409 conflict naming the console)', async () => {
    const { resources: _resources, ...rest } = before_.metadata;
    const res = await as.admin.request('PUT', `/clients/${CONSOLE}`, {
      json: { ...rest, redirect_uris: ['https://evil.example/callback'] }, headers: { 'if-match': before_.etag },
    });
    expectOAuthError(res, 409, 'conflict', `client_id: "${CONSOLE}" is the admin console's client, managed by certbound at every start; it cannot be replaced through the API (CONSOLE=off disables it)`);
    await unchanged();
  });

  it('refuses to delete it, and to create another under its id', async () => {
    const del = await as.admin.request('DELETE', `/clients/${CONSOLE}`);
    expectOAuthError(del, 409, 'conflict', `client_id: "${CONSOLE}" is the admin console's client, managed by certbound at every start; it cannot be deleted through the API (CONSOLE=off disables it)`);
    const create = await as.admin.request('POST', '/clients', {
      json: { client_id: CONSOLE, token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: 'CN=evil' },
    });
    expectOAuthError(create, 409, 'conflict', `client_id: "${CONSOLE}" is already registered`);
    await unchanged();
  });
});
