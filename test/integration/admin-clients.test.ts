// /admin/v1/clients: RFC 7591 client metadata, validated against what certbound supports and
// against oidc-provider's own schema, with cursor pages, ETag/If-Match and immediate effect at
// the token endpoint.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { issueCertificate, type IssuedCertificate } from '../../apps/authz-server/src/pki/issue.ts';
import { makeTestPki, startTestAuthz, type TestAuthz, type TestPki } from '../support/authz.ts';
import { https } from '../support/https.ts';
import { decodeJwt, expectOAuthError } from '../support/oauth.ts';

const API = 'https://ledger-api.test';
const OTHER_API = 'https://reports.test';

function identity(cert: IssuedCertificate) {
  return { cert: cert.certPem, key: cert.keyPem };
}

describe('/admin/v1/clients', () => {
  let pki: TestPki;
  let as: TestAuthz;
  let payments: IssuedCertificate;
  let introspector: IssuedCertificate;

  const tlsClient = (extra: Record<string, unknown> = {}) => ({
    token_endpoint_auth_method: 'tls_client_auth',
    tls_client_auth_subject_dn: 'CN=payments,O=certbound tests',
    scope: 'ledger:read',
    default_resource: API,
    ...extra,
  });

  async function token(clientId: string, cert: IssuedCertificate, form: Record<string, string> = {}) {
    return https(`${as.mtlsUrl}/token`, { ca: as.ca, identity: identity(cert), form: { grant_type: 'client_credentials', client_id: clientId, ...form } });
  }

  before(async () => {
    pki = await makeTestPki();
    payments = await issueCertificate({ subject: 'CN=payments,O=certbound tests', issuer: pki.clientRoot, days: 5 });
    introspector = await issueCertificate({ subject: 'CN=introspector,O=certbound tests', issuer: pki.clientRoot, days: 5 });
    as = await startTestAuthz({ pki });
    await as.registerResource({ identifier: API, scopes: ['ledger:read', 'ledger:write'], sender_constraint_required: true });
    await as.registerResource({ identifier: OTHER_API, scopes: ['reports:read'], sender_constraint_required: true });
    await as.register({
      client_id: 'introspector', token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: 'CN=introspector,O=certbound tests',
      grant_types: ['client_credentials'], response_types: [], default_resource: API, introspection_allowed: true,
    });
  });

  after(async () => { await as?.close(); });

  describe('POST creates', () => {
    it('registers a client, answering 201 with Location, ETag and the stored metadata', async () => {
      const res = await as.admin.request('POST', '/clients', { json: tlsClient({ client_id: 'payments', client_name: 'Payments' }) });
      assert.equal(res.status, 201, res.text);
      assert.equal(res.headers.location, '/admin/v1/clients/payments');
      assert.equal(res.headers.etag, '"1"');
      assert.deepEqual(res.json, {
        client_id: 'payments', client_name: 'Payments', token_endpoint_auth_method: 'tls_client_auth',
        tls_client_auth_subject_dn: 'CN=payments,O=certbound tests', grant_types: ['client_credentials'], response_types: [],
        resources: { [API]: ['ledger:read'] }, default_resource: API, disabled: false,
      });
      const { rows } = await as.server.stores.sql.query<{ metadata: Record<string, unknown>; disabled: boolean; version: number }>(
        'select metadata, disabled, version from clients where client_id = $1', ['payments']);
      assert.equal(rows[0].version, 1);
      assert.equal(rows[0].disabled, false);
      // Stored in the resources form: the scope was mapped to the one resource server defining it.
      assert.deepEqual(rows[0].metadata.resources, { [API]: ['ledger:read'] });
      assert.equal(rows[0].metadata.scope, undefined);
      assert.equal(rows[0].metadata.disabled, undefined, 'disabled lives in its own column');
    });

    it('the new client gets a certificate-bound token at once', async () => {
      const res = await token('payments', payments);
      assert.equal(res.status, 200, res.text);
      assert.equal(decodeJwt(res.json.access_token).payload.aud, API);
      assert.equal(res.json.scope, 'ledger:read');
    });

    it('generates a client_id when none is given', async () => {
      const res = await as.admin.request('POST', '/clients', { json: tlsClient() });
      assert.equal(res.status, 201, res.text);
      assert.match(res.json.client_id, /^[A-Za-z0-9_-]{22}$/);
      assert.equal(res.headers.location, `/admin/v1/clients/${res.json.client_id}`);
    });

    it('refuses a duplicate client_id: 409 conflict', async () => {
      const res = await as.admin.request('POST', '/clients', { json: tlsClient({ client_id: 'payments' }) });
      expectOAuthError(res, 409, 'conflict', 'client_id: "payments" is already registered');
    });

    it('registers a self-signed client and a private_key_jwt client', async () => {
      const selfSigned = await issueCertificate({ subject: 'CN=self-signed', days: 5 });
      const jwk = { ...selfSigned.cert.publicKey.export({ format: 'jwk' }), x5c: [selfSigned.cert.raw.toString('base64')] };
      const created = await as.admin.request('POST', '/clients', { json: { client_id: 'self', token_endpoint_auth_method: 'self_signed_tls_client_auth', jwks: { keys: [jwk] }, default_resource: API, scope: 'ledger:read' } });
      assert.equal(created.status, 201, created.text);
      assert.deepEqual(created.json.jwks, { keys: [jwk] });
      assert.equal((await token('self', selfSigned)).status, 200);

      const signer = await issueCertificate({ subject: 'CN=signer', days: 5 });
      const pub = signer.cert.publicKey.export({ format: 'jwk' });
      const pkj = await as.admin.request('POST', '/clients', { json: { client_id: 'signer', token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: 'ES256', jwks: { keys: [pub] }, default_resource: API, tls_client_certificate_bound_access_tokens: true } });
      assert.equal(pkj.status, 201, pkj.text);
    });
  });

  describe('validation against what the server supports (400 invalid_client_metadata naming the field)', () => {
    const cases: Array<[string, Record<string, unknown>, string | RegExp]> = [
      ['an unknown field', tlsClient({ colour: 'blue' }), 'colour: unknown field'],
      ['a client secret', tlsClient({ client_secret: 's3cret' }), /^client_secret: client secrets are not supported/],
      ['an unsupported auth method', tlsClient({ token_endpoint_auth_method: 'client_secret_basic' }), 'token_endpoint_auth_method: "client_secret_basic" is not supported; use tls_client_auth, self_signed_tls_client_auth, private_key_jwt'],
      ['tls_client_auth without a subject matcher', tlsClient({ tls_client_auth_subject_dn: undefined }), /^tls_client_auth_subject_dn: tls_client_auth needs exactly one of/],
      ['tls_client_auth with two subject matchers', tlsClient({ tls_client_auth_san_dns: 'payments.example.com' }), 'tls_client_auth_san_dns: tls_client_auth needs exactly one subject matcher, got tls_client_auth_subject_dn and tls_client_auth_san_dns'],
      ['a malformed subject DN', tlsClient({ tls_client_auth_subject_dn: 'CN=payments,,O' }), /^tls_client_auth_subject_dn: is not an RFC 4514 distinguished name/],
      // RFC 4514 §3 reads "" and "   " as the empty DN, the subject of every SAN-only certificate.
      ['an empty subject DN', tlsClient({ tls_client_auth_subject_dn: '' }), 'tls_client_auth_subject_dn: must not be empty'],
      ['a blank subject DN', tlsClient({ tls_client_auth_subject_dn: '   ' }), 'tls_client_auth_subject_dn: must not be empty'],
      ['an empty SAN DNS matcher', { ...tlsClient({ tls_client_auth_subject_dn: undefined }), tls_client_auth_san_dns: '' }, 'tls_client_auth_san_dns: must not be empty'],
      ['a subject DN with an RFC 4518 §2.4 prohibited character', tlsClient({ tls_client_auth_subject_dn: 'CN=payments\uE000,O=certbound tests' }),
        'tls_client_auth_subject_dn: CN value: prohibited character U+E000 (RFC 4518 §2.4); this DN could never match a certificate'],
      ['a SAN IP that is not an address', { ...tlsClient({ tls_client_auth_subject_dn: undefined }), tls_client_auth_san_ip: '10.0.0.300' }, 'tls_client_auth_san_ip: is not an IPv4 or IPv6 address'],
      ['a subject matcher on a private_key_jwt client', { token_endpoint_auth_method: 'private_key_jwt', tls_client_auth_subject_dn: 'CN=x', jwks: { keys: [] } }, 'tls_client_auth_subject_dn: is only used with token_endpoint_auth_method tls_client_auth, not private_key_jwt'],
      ['self_signed_tls_client_auth keys without x5c', { token_endpoint_auth_method: 'self_signed_tls_client_auth', jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'a', y: 'b' }] } }, /^jwks\.keys\[0\]\.x5c: self_signed_tls_client_auth keys carry their certificate in x5c/],
      ['a private key in jwks', { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'a', y: 'b', d: 'c2VjcmV0' }] } }, 'jwks.keys[0].d: is private key material; register public keys only'],
      ['a symmetric key in jwks', { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] } }, 'jwks.keys[0].k: is private key material; register public keys only'],
      ['private_key_jwt without keys', { token_endpoint_auth_method: 'private_key_jwt' }, 'jwks: private_key_jwt needs the public keys its assertions are signed with'],
      ['an unsupported grant type', tlsClient({ grant_types: ['password'] }), 'grant_types[0]: "password" is not supported; use client_credentials, authorization_code, refresh_token'],
      ['a scope no resource server has', tlsClient({ scope: 'ledger:read ledger:delete' }), 'scope: "ledger:delete" is not a scope of any registered resource server'],
      ['an http redirect_uri', tlsClient({ grant_types: ['authorization_code'], response_types: ['code'], redirect_uris: ['http://app.example.com/cb'] }), /^redirect_uris\[0\]: must be an https URL/],
      ['a default_resource that is not registered', tlsClient({ default_resource: 'https://unknown.test' }), 'default_resource: "https://unknown.test" is not a registered resource server'],
      ['resources that is not an object', tlsClient({ scope: undefined, resources: [API] }), 'resources: must be an object mapping resource identifiers to arrays of scopes'],
      ['resources naming an unregistered resource server', tlsClient({ scope: undefined, resources: { 'https://unknown.test': [] } }), 'resources["https://unknown.test"]: is not a registered resource server'],
      ['resources with scopes that are not an array', tlsClient({ scope: undefined, resources: { [API]: 'ledger:read' } }), `resources["${API}"]: must be an array of scopes of this resource server (empty: the audience without scopes)`],
      ['a scope of another resource server in resources', tlsClient({ scope: undefined, resources: { [API]: ['ledger:read', 'reports:read'] } }), `resources["${API}"][1]: "reports:read" is not a scope of this resource server (its scopes: ledger:read, ledger:write)`],
      ['a repeated scope in resources', tlsClient({ scope: undefined, resources: { [API]: ['ledger:read', 'ledger:read'] } }), `resources["${API}"]: must not repeat a scope`],
      ['a default_resource the client does not hold', tlsClient({ scope: undefined, resources: { [OTHER_API]: ['reports:read'] } }), `default_resource: "${API}" is not one of the client's resources`],
      ['the admin API for a client outside ADMIN_CLIENT_IDS', tlsClient({ scope: undefined, client_id: 'payments-x', resources: { 'urn:certbound:admin-api': ['admin'] }, default_resource: undefined }),
        'resources["urn:certbound:admin-api"]: urn:certbound:admin-api (the admin API) is granted only to the admin clients (ADMIN_CLIENT_IDS: admin), and "payments-x" is not one'],
      ['the admin scope for a client outside ADMIN_CLIENT_IDS', tlsClient({ client_id: 'payments-x', scope: 'admin', default_resource: undefined }),
        'scope: "admin" is the scope of the admin API (urn:certbound:admin-api), which is granted only to the admin clients (ADMIN_CLIENT_IDS: admin), and "payments-x" is not one'],
      ['the admin API as default_resource of a client outside ADMIN_CLIENT_IDS', tlsClient({ client_id: 'payments-x', scope: undefined, default_resource: 'urn:certbound:admin-api' }),
        'default_resource: urn:certbound:admin-api (the admin API) is granted only to the admin clients (ADMIN_CLIENT_IDS: admin), and "payments-x" is not one'],
      ['certificate_pinning on a private_key_jwt client', { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [] }, certificate_pinning: true }, /^certificate_pinning: is only used with tls_client_auth/],
      ['a client_id with a space', tlsClient({ client_id: 'two words' }), 'client_id: must be 1 to 255 visible ASCII characters (no spaces)'],
      ['a boolean that is a string', tlsClient({ disabled: 'yes' }), 'disabled: must be true or false'],
      ['response_types code without the authorization_code grant', tlsClient({ response_types: ['code'], redirect_uris: ['https://app.example.com/cb'] }), 'grant_types: must include authorization_code when response_types includes code'],
      // oidc-provider's own client schema, after certbound's checks:
      ['two required proof-of-possession mechanisms (oidc-provider)', tlsClient({ dpop_bound_access_tokens: true }), 'metadata: only one proof of possession mechanism can be made required at a time'],
      ['authorization_code without redirect_uris (oidc-provider)', tlsClient({ grant_types: ['authorization_code'], response_types: ['code'] }), 'redirect_uris: is mandatory property'],
    ];
    for (const [what, body, description] of cases) {
      it(`refuses ${what}`, async () => {
        const res = await as.admin.request('POST', '/clients', { json: body });
        expectOAuthError(res, 400, 'invalid_client_metadata', description);
      });
    }

    it('never repeats a private key it refused', async () => {
      const res = await as.admin.request('POST', '/clients', { json: { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'a', y: 'b', d: 'UFJJVkFURS1LRVktTUFURVJJQUw' }] } } });
      expectOAuthError(res, 400, 'invalid_client_metadata', 'jwks.keys[0].d: is private key material; register public keys only');
      assert.ok(!res.text.includes('UFJJVkFURS1LRVktTUFURVJJQUw'));
      assert.ok(!JSON.stringify(as.logs).includes('UFJJVkFURS1LRVktTUFURVJJQUw'));
    });
  });

  describe('GET lists in pages of stable client_id order', () => {
    before(async () => {
      for (const id of ['page-c', 'page-a', 'page-e', 'page-b', 'page-d']) {
        assert.equal((await as.admin.request('POST', '/clients', { json: tlsClient({ client_id: id }) })).status, 201);
      }
    });

    it('walks every client exactly once with limit and next_cursor', async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const res = await as.admin.request('GET', `/clients?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
        assert.equal(res.status, 200, res.text);
        assert.ok(res.json.items.length <= 2);
        seen.push(...res.json.items.map((c) => c.client_id as string));
        cursor = res.json.next_cursor;
        pages++;
      } while (cursor !== null && pages < 50);
      const { rows } = await as.server.stores.sql.query<{ client_id: string }>('select client_id from clients');
      assert.equal(seen.length, rows.length);
      assert.deepEqual(seen, [...seen].sort((a, b) => (Buffer.from(a) < Buffer.from(b) ? -1 : 1)));
      assert.ok(['page-a', 'page-b', 'page-c', 'page-d', 'page-e'].every((id) => seen.includes(id)));
    });

    it('refuses a bad limit, a forged cursor and an unknown parameter', async () => {
      expectOAuthError(await as.admin.request('GET', '/clients?limit=0'), 400, 'invalid_request', 'limit: must be an integer from 1 to 200');
      expectOAuthError(await as.admin.request('GET', '/clients?limit=abc'), 400, 'invalid_request', 'limit: must be an integer from 1 to 200');
      expectOAuthError(await as.admin.request('GET', '/clients?cursor=not-a-cursor'), 400, 'invalid_request', 'cursor: is not a cursor this API returned');
      expectOAuthError(await as.admin.request('GET', '/clients?order=desc'), 400, 'invalid_request', 'order: unknown query parameter; accepted: limit, cursor');
    });
  });

  describe('GET, PUT with If-Match, DELETE', () => {
    it('GET answers the client with its ETag, 404 for an unknown one', async () => {
      const res = await as.admin.request('GET', '/clients/payments');
      assert.equal(res.status, 200);
      assert.match(String(res.headers.etag), /^"\d+"$/);
      expectOAuthError(await as.admin.request('GET', '/clients/nobody'), 404, 'not_found', 'client "nobody" is not registered');
    });

    it('PUT without If-Match is 428, with a stale one 412', async () => {
      const current = await as.admin.request('GET', '/clients/payments');
      expectOAuthError(await as.admin.request('PUT', '/clients/payments', { json: current.json }), 428, 'precondition_required', /^If-Match: required/);
      expectOAuthError(await as.admin.request('PUT', '/clients/payments', { json: current.json, headers: { 'if-match': '"999"' } }), 412, 'precondition_failed', /^If-Match: the resource changed since that ETag; its ETag is now "\d+"/);
    });

    it('PUT replaces the metadata, bumps the ETag, and the next token request sees it', async () => {
      const current = await as.admin.request('GET', '/clients/payments');
      const res = await as.admin.request('PUT', '/clients/payments', { json: { ...current.json, resources: { [API]: ['ledger:read', 'ledger:write'] } }, headers: { 'if-match': current.headers.etag as string } });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.headers.etag, `"${Number(JSON.parse(current.headers.etag as string)) + 1}"`);
      assert.deepEqual(res.json.resources, { [API]: ['ledger:read', 'ledger:write'] });
      const issued = await token('payments', payments);
      assert.equal(issued.status, 200, issued.text);
      assert.equal(issued.json.scope, 'ledger:read ledger:write');
    });

    it('PUT cannot change the client_id', async () => {
      const current = await as.admin.request('GET', '/clients/payments');
      expectOAuthError(await as.admin.request('PUT', '/clients/payments', { json: { ...current.json, client_id: 'other' }, headers: { 'if-match': current.headers.etag as string } }),
        400, 'invalid_client_metadata', 'client_id: differs from the client_id in the path; a client_id cannot change');
    });

    it('two concurrent PUTs with one ETag: exactly one wins, the other gets 412', async () => {
      const current = await as.admin.request('GET', '/clients/payments');
      const etag = current.headers.etag as string;
      const results = await Promise.all(['First', 'Second', 'Third'].map((name) =>
        as.admin.request('PUT', '/clients/payments', { json: { ...current.json, client_name: name }, headers: { 'if-match': etag } })));
      assert.deepEqual(results.map((r) => r.status).sort(), [200, 412, 412]);
      const winner = results.find((r) => r.status === 200)!;
      assert.equal((await as.admin.request('GET', '/clients/payments')).json.client_name, winner.json.client_name);
    });

    it('PUT disabled: true stops token issuance at once and makes issued tokens inactive at introspection', async () => {
      const issued = await token('payments', payments);
      assert.equal(issued.status, 200);
      const current = await as.admin.request('GET', '/clients/payments');
      const res = await as.admin.request('PUT', '/clients/payments', { json: { ...current.json, disabled: true }, headers: { 'if-match': current.headers.etag as string } });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.disabled, true);
      expectOAuthError(await token('payments', payments), 401, 'invalid_client');
      const introspected = await https(`${as.mtlsUrl}/token/introspection`, { ca: as.ca, identity: identity(introspector), form: { client_id: 'introspector', token: issued.json.access_token } });
      assert.deepEqual(introspected.json, { active: false });

      const again = await as.admin.request('GET', '/clients/payments');
      const enabled = await as.admin.request('PUT', '/clients/payments', { json: { ...again.json, disabled: false }, headers: { 'if-match': again.headers.etag as string } });
      assert.equal(enabled.status, 200);
      assert.equal((await token('payments', payments)).status, 200);
    });

    it('refuses to disable or delete the client the request is authenticated as: 409', async () => {
      const current = await as.admin.request('GET', '/clients/admin');
      expectOAuthError(await as.admin.request('PUT', '/clients/admin', { json: { ...current.json, disabled: true }, headers: { 'if-match': current.headers.etag as string } }),
        409, 'conflict', /^client_id: "admin" is the client this request is authenticated as/);
      expectOAuthError(await as.admin.request('DELETE', '/clients/admin'), 409, 'conflict', /^client_id: "admin" is the client this request is authenticated as/);
    });

    it('DELETE removes the client (204), with a stale If-Match 412', async () => {
      assert.equal((await as.admin.request('POST', '/clients', { json: tlsClient({ client_id: 'short-lived' }) })).status, 201);
      expectOAuthError(await as.admin.request('DELETE', '/clients/short-lived', { headers: { 'if-match': '"7"' } }), 412, 'precondition_failed');
      const res = await as.admin.request('DELETE', '/clients/short-lived', { headers: { 'if-match': '"1"' } });
      assert.equal(res.status, 204);
      expectOAuthError(await as.admin.request('GET', '/clients/short-lived'), 404, 'not_found');
      expectOAuthError(await as.admin.request('DELETE', '/clients/short-lived'), 404, 'not_found');
    });
  });

  describe('POST /clients/:id/revoke', () => {
    it('removes every grant and refresh token of the client, and their grant-bound entries', async () => {
      const { adapterFactory, sql } = as.server.stores;
      const exp = Math.floor(Date.now() / 1000) + 3600;
      await adapterFactory('Grant').upsert('grant-1', { jti: 'grant-1', clientId: 'payments', kind: 'Grant', exp }, 3600);
      await adapterFactory('RefreshToken').upsert('rt-1', { jti: 'rt-1', clientId: 'payments', grantId: 'grant-1', kind: 'RefreshToken', exp }, 3600);
      await adapterFactory('AuthorizationCode').upsert('code-1', { jti: 'code-1', clientId: 'payments', grantId: 'grant-1', kind: 'AuthorizationCode', exp }, 60);
      await adapterFactory('Grant').upsert('grant-other', { jti: 'grant-other', clientId: 'introspector', kind: 'Grant', exp }, 3600);
      const issued = await token('payments', payments);

      const res = await as.admin.request('POST', '/clients/payments/revoke');
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.client_id, 'payments');
      assert.equal(res.json.revoked_grants, 1);
      assert.equal(res.json.revoked_refresh_tokens, 1);

      assert.equal(await adapterFactory('Grant').find('grant-1'), undefined);
      assert.equal(await adapterFactory('RefreshToken').find('rt-1'), undefined);
      assert.equal(await adapterFactory('AuthorizationCode').find('code-1'), undefined, 'the grant-bound KV entry went too');
      assert.ok(await adapterFactory('Grant').find('grant-other'), 'another client\'s grant stays');
      const { rows } = await sql.query<{ n: number }>(`select count(*)::int as n from oidc_models where payload->>'clientId' = 'payments'`);
      assert.equal(rows[0].n, 0);

      const introspected = await https(`${as.mtlsUrl}/token/introspection`, { ca: as.ca, identity: identity(introspector), form: { client_id: 'introspector', token: issued.json.access_token } });
      assert.deepEqual(introspected.json, { active: false }, 'a JWT issued before the revocation is inactive');
    });

    it('answers 404 for an unknown client', async () => {
      expectOAuthError(await as.admin.request('POST', '/clients/nobody/revoke'), 404, 'not_found', 'client "nobody" is not registered');
    });
  });
});
