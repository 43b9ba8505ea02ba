// /admin/v1/resource-servers: the RFC 8707 resource indicators tokens are issued for. oidc-provider
// reads them from the store through a 2-second cache, so a change reaches the token endpoint
// within seconds.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { issueCertificate, type IssuedCertificate } from '../../apps/authz-server/src/pki/issue.ts';
import { makeTestPki, startTestAuthz, type TestAuthz, type TestPki } from '../support/authz.ts';
import { https } from '../support/https.ts';
import { decodeJwt, expectOAuthError } from '../support/oauth.ts';

const API = 'https://fx-api.test/v1';
const path = (identifier: string) => `/resource-servers/${encodeURIComponent(identifier)}`;

describe('/admin/v1/resource-servers', () => {
  let pki: TestPki;
  let as: TestAuthz;
  let trader: IssuedCertificate;

  before(async () => {
    pki = await makeTestPki();
    trader = await issueCertificate({ subject: 'CN=trader', issuer: pki.clientRoot, days: 5 });
    as = await startTestAuthz({ pki });
  });

  after(async () => { await as?.close(); });

  it('creates one (201, Location, ETag), with the defaults filled in', async () => {
    const res = await as.admin.request('POST', '/resource-servers', { json: { identifier: API, scopes: ['fx:quote', 'fx:trade'] } });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.headers.location, `/admin/v1${path(API)}`);
    assert.equal(res.headers.etag, '"1"');
    assert.deepEqual(res.json, { identifier: API, name: null, scopes: ['fx:quote', 'fx:trade'], token_format: 'jwt', access_token_ttl: null, sender_constraint_required: true });
  });

  it('a client can be registered with its scopes and gets tokens for it at once', async () => {
    const created = await as.admin.request('POST', '/clients', { json: { client_id: 'trader', tls_client_auth_subject_dn: 'CN=trader', scope: 'fx:quote fx:trade', default_resource: API } });
    assert.equal(created.status, 201, created.text);
    const res = await https(`${as.mtlsUrl}/token`, { ca: as.ca, identity: { cert: trader.certPem, key: trader.keyPem }, form: { grant_type: 'client_credentials', client_id: 'trader', scope: 'fx:quote' } });
    assert.equal(res.status, 200, res.text);
    assert.equal(decodeJwt(res.json.access_token).payload.aud, API);
  });

  it('PUT needs If-Match, bumps the ETag, and the token endpoint sees the change within 5 seconds', async () => {
    const current = await as.admin.request('GET', path(API));
    expectOAuthError(await as.admin.request('PUT', path(API), { json: current.json }), 428, 'precondition_required');
    const res = await as.admin.request('PUT', path(API), { json: { ...current.json, access_token_ttl: 120 }, headers: { 'if-match': current.headers.etag as string } });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers.etag, '"2"');
    expectOAuthError(await as.admin.request('PUT', path(API), { json: current.json, headers: { 'if-match': current.headers.etag as string } }), 412, 'precondition_failed');
    const deadline = Date.now() + 5_000;
    let lifetime = 0;
    while (Date.now() < deadline) {
      const issued = await https(`${as.mtlsUrl}/token`, { ca: as.ca, identity: { cert: trader.certPem, key: trader.keyPem }, form: { grant_type: 'client_credentials', client_id: 'trader' } });
      const { payload } = decodeJwt(issued.json.access_token);
      lifetime = payload.exp - payload.iat;
      if (lifetime === 120) break;
      await sleep(250);
    }
    assert.equal(lifetime, 120);
  });

  it('lists in identifier order with pages', async () => {
    await as.admin.request('POST', '/resource-servers', { json: { identifier: 'https://a.test', scopes: [] } });
    const first = await as.admin.request('GET', '/resource-servers?limit=1');
    assert.equal(first.status, 200);
    assert.equal(first.json.items[0].identifier, 'https://a.test');
    const rest = await as.admin.request('GET', `/resource-servers?cursor=${first.json.next_cursor}`);
    assert.deepEqual(rest.json.items.map((r) => r.identifier), ['https://fx-api.test/v1', 'urn:certbound:admin-api']);
    assert.equal(rest.json.next_cursor, null);
  });

  it('refuses to delete one that a client holds: 409 naming the clients', async () => {
    expectOAuthError(await as.admin.request('DELETE', path(API)), 409, 'conflict',
      `resource server "${API}" is held by client "trader"; remove it from their resources first`);
  });

  it('refuses to remove a scope that a client holds: 409 naming the clients; an unheld scope goes', async () => {
    const current = await as.admin.request('GET', path(API));
    const etag = current.headers.etag as string;
    expectOAuthError(await as.admin.request('PUT', path(API), { json: { ...current.json, scopes: ['fx:quote'] }, headers: { 'if-match': etag } }), 409, 'conflict',
      `scopes: "fx:trade" of resource server "${API}" is held by client "trader"; remove it from their resources first`);
    // Adding one and removing it again, while nobody holds it, is fine.
    const added = await as.admin.request('PUT', path(API), { json: { ...current.json, scopes: ['fx:quote', 'fx:trade', 'fx:cancel'] }, headers: { 'if-match': etag } });
    assert.equal(added.status, 200, added.text);
    const removed = await as.admin.request('PUT', path(API), { json: { ...current.json, scopes: ['fx:quote', 'fx:trade'] }, headers: { 'if-match': added.headers.etag as string } });
    assert.equal(removed.status, 200, removed.text);
  });

  it('the admin API\'s resource server is certbound\'s: PUT and DELETE are 409', async () => {
    const admin = await as.admin.request('GET', path('urn:certbound:admin-api'));
    expectOAuthError(await as.admin.request('PUT', path('urn:certbound:admin-api'), { json: { ...admin.json, scopes: ['admin', 'read'] }, headers: { 'if-match': admin.headers.etag as string } }), 409, 'conflict',
      'resource server "urn:certbound:admin-api" is the admin API, registered and managed by certbound; it cannot be changed');
    expectOAuthError(await as.admin.request('DELETE', path('urn:certbound:admin-api')), 409, 'conflict',
      'resource server "urn:certbound:admin-api" is the admin API, registered and managed by certbound; it cannot be deleted');
  });

  it('deletes one nobody uses: 204, then 404', async () => {
    assert.equal((await as.admin.request('DELETE', path('https://a.test'))).status, 204);
    expectOAuthError(await as.admin.request('GET', path('https://a.test')), 404, 'not_found', 'resource server "https://a.test" is not registered');
  });

  it('refuses a duplicate identifier: 409', async () => {
    expectOAuthError(await as.admin.request('POST', '/resource-servers', { json: { identifier: API } }), 409, 'conflict', `identifier: "${API}" is already registered`);
  });

  const invalid: Array<[string, Record<string, unknown>, string]> = [
    ['a relative identifier', { identifier: '/v1/api' }, 'identifier: must be an absolute URI (RFC 8707 §2)'],
    ['an identifier with a fragment', { identifier: 'https://x.test/#frag' }, 'identifier: must not carry a fragment (RFC 8707 §2)'],
    ['no identifier', { scopes: [] }, 'identifier: is required'],
    ['an identifier too long for an index entry', { identifier: `https://x.test/${'é'.repeat(600)}` }, 'identifier: must be an absolute URI of at most 1024 bytes'],
    ['a scope with a space', { identifier: 'https://y.test', scopes: ['a b'] }, 'scopes[0]: is not a scope token (RFC 6749 §3.3)'],
    ['a reserved scope', { identifier: 'https://y.test', scopes: ['openid'] }, 'scopes[0]: "openid" is reserved by the authorization server'],
    ['the admin scope', { identifier: 'https://billing.test', scopes: ['invoices:read', 'admin'] }, 'scopes[1]: "admin" is reserved for the admin API (urn:certbound:admin-api)'],
    ['a repeated scope', { identifier: 'https://y.test', scopes: ['a', 'a'] }, 'scopes: must not repeat a scope'],
    ['an unknown token format', { identifier: 'https://y.test', token_format: 'paseto' }, 'token_format: must be "jwt" or "opaque"'],
    ['a negative lifetime', { identifier: 'https://y.test', access_token_ttl: -5 }, 'access_token_ttl: must be null (the server default) or an integer number of seconds from 1 to 86400'],
    ['a string boolean', { identifier: 'https://y.test', sender_constraint_required: 'no' }, 'sender_constraint_required: must be true or false'],
    ['an unknown field', { identifier: 'https://y.test', audience: 'x' }, 'audience: unknown field'],
  ];
  for (const [what, body, description] of invalid) {
    it(`refuses ${what}: 400 invalid_request`, async () => {
      expectOAuthError(await as.admin.request('POST', '/resource-servers', { json: body }), 400, 'invalid_request', description);
    });
  }

  it('PUT cannot change the identifier', async () => {
    const current = await as.admin.request('GET', path(API));
    expectOAuthError(await as.admin.request('PUT', path(API), { json: { ...current.json, identifier: 'https://z.test' }, headers: { 'if-match': current.headers.etag as string } }),
      400, 'invalid_request', 'identifier: differs from the identifier in the path; an identifier cannot change');
  });
});
