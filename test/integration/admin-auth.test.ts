// /admin/v1 is protected by certbound's own verifier: the admin is an OAuth client that gets a
// certificate-bound token (RFC 8705 §3) with scope `admin` and presents it over that certificate.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { issueCertificate, type IssuedCertificate } from '../../apps/authz-server/src/pki/issue.ts';
import { x5tS256 } from '../../apps/authz-server/src/mtls/thumbprint.ts';
import { ADMIN_RESOURCE } from '../../apps/authz-server/src/admin/index.ts';
import { makeTestPki, startTestAuthz, type TestAuthz, type TestPki } from '../support/authz.ts';
import { https } from '../support/https.ts';
import { decodeJwt, expectOAuthError } from '../support/oauth.ts';

const OTHER_API = 'https://settlements.test';

function identity(cert: IssuedCertificate) {
  return { cert: cert.certPem, key: cert.keyPem };
}

describe('/admin/v1 authentication (RFC 8705 certificate-bound admin tokens)', () => {
  let pki: TestPki;
  let as: TestAuthz;
  let ledger: IssuedCertificate;
  let auditor: IssuedCertificate;

  before(async () => {
    pki = await makeTestPki();
    ledger = await issueCertificate({ subject: 'CN=ledger,O=certbound tests', issuer: pki.clientRoot, days: 5 });
    auditor = await issueCertificate({ subject: 'CN=auditor,O=certbound tests', issuer: pki.clientRoot, days: 5 });
    // auditor is an admin client (ADMIN_CLIENT_IDS) that holds the admin API without its scope.
    as = await startTestAuthz({ pki, env: { ADMIN_CLIENT_IDS: 'admin,auditor' } });
    await as.registerResource({ identifier: OTHER_API, scopes: ['settlements:read'] });
    await as.register({
      client_id: 'ledger', token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: 'CN=ledger,O=certbound tests',
      grant_types: ['client_credentials'], response_types: [], scope: 'settlements:read', default_resource: OTHER_API,
    });
    // Registered for the admin API's audience, but without the admin scope.
    await as.register({
      client_id: 'auditor', token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: 'CN=auditor,O=certbound tests',
      grant_types: ['client_credentials'], response_types: [], resources: { [ADMIN_RESOURCE]: [] }, default_resource: ADMIN_RESOURCE,
    });
    // Written past /admin/v1 (which refuses it): a client outside ADMIN_CLIENT_IDS holding the admin API.
    await as.register({
      client_id: 'intruder', token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: 'CN=ledger,O=certbound tests',
      grant_types: ['client_credentials'], response_types: [], resources: { [ADMIN_RESOURCE]: ['admin'] }, default_resource: ADMIN_RESOURCE,
    });
  });

  after(async () => { await as?.close(); });

  describe('first start', () => {
    it('registered the admin client from ADMIN_SUBJECT_DN and the admin resource server', async () => {
      const res = await as.admin.request('GET', '/clients/admin');
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.tls_client_auth_subject_dn, pki.admin.subject);
      assert.equal(res.json.default_resource, ADMIN_RESOURCE);
      assert.deepEqual(res.json.resources, { [ADMIN_RESOURCE]: ['admin'] });
      assert.equal(res.json.scope, undefined);
      const rs = await as.admin.request('GET', `/resource-servers/${encodeURIComponent(ADMIN_RESOURCE)}`);
      assert.deepEqual(rs.json, {
        identifier: ADMIN_RESOURCE, name: 'certbound management API', scopes: ['admin'], token_format: 'jwt', access_token_ttl: null, sender_constraint_required: true,
      });
    });

    it('gives client_id=admin&scope=admin a JWT bound to the admin certificate for the admin API', async () => {
      const res = await https(`${as.mtlsUrl}/token`, { ca: as.ca, identity: as.admin.identity, body: 'grant_type=client_credentials&client_id=admin&scope=admin', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      assert.equal(res.status, 200, res.text);
      const { payload } = decodeJwt(res.json.access_token);
      assert.equal(payload.aud, ADMIN_RESOURCE);
      assert.equal(payload.scope, 'admin');
      assert.equal(payload.cnf['x5t#S256'], x5tS256(pki.admin.cert));
    });
  });

  describe('who is let in', () => {
    it('accepts the admin token over the admin certificate', async () => {
      const res = await as.admin.request('GET', '/clients');
      assert.equal(res.status, 200, res.text);
      assert.ok(res.json.items.some((c) => c.client_id === 'admin'));
    });

    it('refuses a request without a certificate: 401 invalid_token', async () => {
      const res = await as.admin.request('GET', '/clients', { identity: null });
      expectOAuthError(res, 401, 'invalid_token', 'access token is bound to a certificate but none was presented');
      assert.match(String(res.headers['www-authenticate']), /^Bearer error="invalid_token"/);
    });

    it('refuses the admin token over another certificate: 401 invalid_token', async () => {
      const res = await as.admin.request('GET', '/clients', { identity: identity(ledger) });
      expectOAuthError(res, 401, 'invalid_token', 'access token is bound to a different certificate');
      assert.match(String(res.headers['www-authenticate']), /error="invalid_token"/);
    });

    it('refuses a request without a token: 401 with a bare Bearer challenge', async () => {
      const res = await as.admin.request('GET', '/clients', { token: null });
      expectOAuthError(res, 401, 'invalid_token', 'no access token presented');
      assert.equal(res.headers['www-authenticate'], 'Bearer');
    });

    it('refuses a token for another audience: 401 invalid_token', async () => {
      const token = await as.admin.token({ clientId: 'ledger', identity: identity(ledger), scope: 'settlements:read' });
      const res = await as.admin.request('GET', '/clients', { token, identity: identity(ledger) });
      expectOAuthError(res, 401, 'invalid_token', /aud/);
    });

    it('refuses a token for the admin API without scope admin: 403 insufficient_scope', async () => {
      const token = await as.admin.token({ clientId: 'auditor', identity: identity(auditor), scope: '' });
      assert.equal(decodeJwt(token).payload.aud, ADMIN_RESOURCE);
      const res = await as.admin.request('GET', '/clients', { token, identity: identity(auditor) });
      expectOAuthError(res, 403, 'insufficient_scope', 'access token lacks scope admin');
      assert.match(String(res.headers['www-authenticate']), /error="insufficient_scope"/);
      assert.match(String(res.headers['www-authenticate']), /scope="admin"/);
    });

    it('never issues an admin-API token to a client outside ADMIN_CLIENT_IDS, even one whose stored metadata holds it', async () => {
      const res = await https(`${as.mtlsUrl}/token`, { ca: as.ca, identity: identity(ledger), form: { grant_type: 'client_credentials', client_id: 'intruder', scope: 'admin' } });
      expectOAuthError(res, 400, 'invalid_target', `resource "${ADMIN_RESOURCE}" is granted only to the admin clients (ADMIN_CLIENT_IDS), and client "intruder" is not one`);
    });

    it('refuses a forged token: 401 invalid_token', async () => {
      const token = await as.admin.token();
      const [h, p, s] = token.split('.');
      const payload = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
      payload.client_id = 'someone-else';
      const res = await as.admin.request('GET', '/clients', { token: `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}` });
      expectOAuthError(res, 401, 'invalid_token');
    });

    it('refuses an admin token revoked at the revocation endpoint (RFC 7009): 401 invalid_token', async () => {
      const token = await as.admin.token();
      const revoked = await https(`${as.mtlsUrl}/token/revocation`, { ca: as.ca, identity: as.admin.identity, form: { client_id: 'admin', token } });
      assert.equal(revoked.status, 200, revoked.text);
      expectOAuthError(await as.admin.request('GET', '/clients', { token }), 401, 'invalid_token', 'access token has been revoked');
    });

    it('writes one structured log line per refusal, without the token', async () => {
      const before = as.logs.length;
      const token = await as.admin.token();
      await as.admin.request('GET', '/clients', { token, identity: identity(ledger), headers: { 'x-request-id': 'refusal-log-1' } });
      const lines = as.logs.slice(before).filter((l) => l.event === 'admin_refusal');
      assert.equal(lines.length, 1);
      assert.equal(lines[0].request_id, 'refusal-log-1');
      assert.equal(lines[0].status, 401);
      assert.equal(lines[0].error, 'invalid_token');
      assert.equal(lines[0].route, 'listClients');
      assert.ok(!JSON.stringify(as.logs.slice(before)).includes(token), 'the token is never logged');
    });
  });

  describe('where and what', () => {
    it('refuses the admin client\'s certificate-bound token on the public listener (the console\'s door: DPoP-bound console tokens only)', async () => {
      const token = await as.admin.token();
      const res = await https(`${as.publicUrl}/admin/v1/clients`, { ca: as.ca, headers: { authorization: `Bearer ${token}` } });
      expectOAuthError(res, 401, 'invalid_token', 'access token is bound to a certificate but none was presented');
      const doc = await https(`${as.publicUrl}/admin/v1/openapi.json`, { ca: as.ca });
      assert.equal(doc.status, 200, 'the OpenAPI document grants nothing: the console reads it too');
    });

    it('serves the OpenAPI document without a token on the mutual-TLS listener', async () => {
      const res = await https(`${as.mtlsUrl}/admin/v1/openapi.json`, { ca: as.ca });
      assert.equal(res.status, 200);
      assert.equal(res.json.openapi, '3.1.0');
    });

    it('answers an unknown path 404 not_found and a wrong method 405 with Allow', async () => {
      expectOAuthError(await as.admin.request('GET', '/nope'), 404, 'not_found', 'no admin route GET /admin/v1/nope');
      const res = await as.admin.request('PATCH', '/clients/admin');
      expectOAuthError(res, 405, 'method_not_allowed', 'PATCH is not allowed on /clients/admin; allowed: GET, PUT, DELETE');
      assert.equal(res.headers.allow, 'GET, PUT, DELETE');
    });

    it('echoes X-Request-Id, or generates one', async () => {
      const given = await as.admin.request('GET', '/clients', { headers: { 'x-request-id': 'req-42' } });
      assert.equal(given.headers['x-request-id'], 'req-42');
      const generated = await as.admin.request('GET', '/clients');
      assert.match(String(generated.headers['x-request-id']), /^[0-9a-f-]{36}$/);
      const refused = await as.admin.request('GET', '/clients', { token: null, headers: { 'x-request-id': 'req-43' } });
      assert.equal(refused.headers['x-request-id'], 'req-43');
    });
  });
});
