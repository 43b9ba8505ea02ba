// /admin/v1/clients/:id/certificates: several certificates per client so rotations overlap.
// Self-signed clients (RFC 8705 §2.2): the certificates are the jwks. tls_client_auth clients
// (§2.1): recorded for expiry tracking, checked against the subject matcher and the client CAs,
// and with certificate_pinning the only ones accepted at the token endpoint.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { issueCertificate, type IssuedCertificate } from '../../apps/authz-server/src/pki/issue.ts';
import { x5tS256 } from '../../apps/authz-server/src/mtls/thumbprint.ts';
import { makeTestPki, startTestAuthz, type TestAuthz, type TestPki } from '../support/authz.ts';
import { https } from '../support/https.ts';
import { decodeJwt, expectOAuthError } from '../support/oauth.ts';

const API = 'https://ledger-api.test';
const DAY = 86_400_000;

function identity(cert: IssuedCertificate) {
  return { cert: cert.certPem, key: cert.keyPem };
}

describe('/admin/v1 client certificates', () => {
  let pki: TestPki;
  let as: TestAuthz;
  const certs: Record<string, IssuedCertificate> = {};

  async function token(clientId: string, cert: IssuedCertificate) {
    return https(`${as.mtlsUrl}/token`, { ca: as.ca, identity: identity(cert), form: { grant_type: 'client_credentials', client_id: clientId } });
  }
  const addPem = (clientId: string, pem: string) => as.admin.request('POST', `/clients/${clientId}/certificates`, { json: { pem } });

  before(async () => {
    pki = await makeTestPki();
    const root = pki.clientRoot;
    const intermediate = await issueCertificate({ subject: 'CN=partner issuing CA', issuer: root, ca: true, pathLength: 0, days: 30 });
    certs.a = await issueCertificate({ subject: 'CN=settlement,O=Example Bank', issuer: root, days: 20, sanUri: ['spiffe://bank/settlement'] });
    certs.b = await issueCertificate({ subject: 'CN=settlement,O=Example Bank', issuer: root, days: 90 });
    certs.viaIntermediate = await issueCertificate({ subject: 'CN=settlement,O=Example Bank', issuer: intermediate, days: 60 });
    certs.intermediate = intermediate;
    certs.otherSubject = await issueCertificate({ subject: 'CN=someone else', issuer: root, days: 30 });
    const foreign = await issueCertificate({ subject: 'CN=foreign CA', ca: true, days: 30 });
    certs.foreign = await issueCertificate({ subject: 'CN=settlement,O=Example Bank', issuer: foreign, days: 30 });
    certs.selfA = await issueCertificate({ subject: 'CN=robot', days: 10 });
    certs.selfB = await issueCertificate({ subject: 'CN=robot', days: 400 });
    certs.selfExpired = await issueCertificate({ subject: 'CN=robot', notBefore: new Date(Date.now() - 10 * DAY), notAfter: new Date(Date.now() - DAY) });

    as = await startTestAuthz({ pki });
    await as.registerResource({ identifier: API, scopes: ['ledger:read'], sender_constraint_required: true });
    const base = { default_resource: API, scope: 'ledger:read' };
    for (const body of [
      { client_id: 'settlement', tls_client_auth_subject_dn: 'CN=settlement,O=Example Bank', ...base },
      { client_id: 'pinned', tls_client_auth_subject_dn: 'CN=settlement,O=Example Bank', certificate_pinning: true, ...base },
      { client_id: 'robot', token_endpoint_auth_method: 'self_signed_tls_client_auth', ...base },
      { client_id: 'signer', token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [certs.selfA.cert.publicKey.export({ format: 'jwk' })] }, ...base },
    ]) {
      const res = await as.admin.request('POST', '/clients', { json: body });
      assert.equal(res.status, 201, res.text);
    }
  });

  after(async () => { await as?.close(); });

  describe('tls_client_auth clients', () => {
    it('adds a certificate that matches the subject and chains to a client CA: 201 with its description', async () => {
      const res = await addPem('settlement', certs.a.certPem);
      assert.equal(res.status, 201, res.text);
      assert.equal(res.headers.location, `/admin/v1/clients/settlement/certificates/${x5tS256(certs.a.cert)}`);
      assert.deepEqual(res.json, {
        client_id: 'settlement',
        'x5t#S256': x5tS256(certs.a.cert),
        subject: 'CN=settlement,O=Example Bank',
        issuer: 'CN=certbound test client root,O=certbound tests',
        sans: { dns: [], ip: [], uri: ['spiffe://bank/settlement'], email: [] },
        serial: certs.a.cert.serialNumber,
        not_before: certs.a.cert.validFromDate.toISOString(),
        not_after: certs.a.cert.validToDate.toISOString(),
        status: 'active',
        created_at: res.json.created_at,
        retired_at: null,
      });
      const { rows } = await as.server.stores.sql.query<{ pem: string; status: string }>('select pem, status from client_certificates where client_id = $1', ['settlement']);
      assert.equal(rows.length, 1);
      assert.equal(rows[0].pem.trim(), certs.a.certPem.trim());
    });

    it('accepts the PEM as application/x-pem-file, with the intermediate after the leaf', async () => {
      const res = await as.admin.request('POST', '/clients/settlement/certificates', {
        body: certs.viaIntermediate.certPem + certs.intermediate.certPem, headers: { 'content-type': 'application/x-pem-file' },
      });
      assert.equal(res.status, 201, res.text);
      assert.equal(res.json.issuer, 'CN=partner issuing CA');
    });

    it('refuses a certificate whose subject does not match the registered one', async () => {
      expectOAuthError(await addPem('settlement', certs.otherSubject.certPem), 400, 'invalid_client_metadata',
        'pem: certificate subject "CN=someone else" does not match the registered tls_client_auth_subject_dn "CN=settlement,O=Example Bank"');
    });

    it('refuses a certificate that does not chain to a configured client CA', async () => {
      expectOAuthError(await addPem('settlement', certs.foreign.certPem), 400, 'invalid_client_metadata',
        /^pem: certificate chain does not lead to a trusted client CA/);
    });

    it('refuses a certificate the token endpoint would refuse for its key (RSA-1024)', async () => {
      const weakKey = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
      const weak = await issueCertificate({ subject: 'CN=settlement,O=Example Bank', issuer: pki.clientRoot, days: 30, keyPem: weakKey });
      expectOAuthError(await addPem('settlement', weak.certPem), 400, 'invalid_client_metadata',
        'pem: certificate public key is RSA with 1024 bits; at least 2048 bits are required');
    });

    it('refuses an unreadable extension, naming it (a truncated extendedKeyUsage)', async () => {
      const hostile = await issueCertificate({ subject: 'CN=settlement,O=Example Bank', issuer: pki.clientRoot, days: 30, extKeyUsage: null, extraExtensions: [{ oid: '2.5.29.37', critical: false, value: Uint8Array.from([0x30, 0x02, 0x06, 0x84]) }] });
      expectOAuthError(await addPem('settlement', hostile.certPem), 400, 'invalid_request',
        /^pem: PEM block 1 is not a readable X\.509 certificate \(extendedKeyUsage is not valid DER/);
    });

    it('refuses a certificate that is already active: 409', async () => {
      expectOAuthError(await addPem('settlement', certs.a.certPem), 409, 'conflict',
        `pem: certificate x5t#S256 ${x5tS256(certs.a.cert)} is already active for client "settlement"`);
    });

    it('lists the certificates with status; retiring one answers it retired, and again is idempotent', async () => {
      const x5t = x5tS256(certs.viaIntermediate.cert);
      const retired = await as.admin.request('DELETE', `/clients/settlement/certificates/${x5t}`);
      assert.equal(retired.status, 200, retired.text);
      assert.equal(retired.json.status, 'retired');
      assert.ok(retired.json.retired_at);
      assert.equal((await as.admin.request('DELETE', `/clients/settlement/certificates/${x5t}`)).json.status, 'retired');
      const list = await as.admin.request('GET', '/clients/settlement/certificates');
      assert.equal(list.status, 200);
      assert.deepEqual(list.json.items.map((c) => [c['x5t#S256'], c.status]), [
        [x5tS256(certs.a.cert), 'active'],
        [x5t, 'retired'],
      ]);
      expectOAuthError(await as.admin.request('DELETE', '/clients/settlement/certificates/unknown'), 404, 'not_found', 'certificate x5t#S256 unknown is not registered for client "settlement"');
    });

    it('without certificate_pinning, any certificate matching the subject still authenticates', async () => {
      assert.equal((await token('settlement', certs.b)).status, 200);
    });
  });

  describe('certificate_pinning: only the registered, active certificates', () => {
    it('refuses every certificate while none is registered, naming the thumbprint', async () => {
      expectOAuthError(await token('pinned', certs.a), 401, 'invalid_client',
        `certificate x5t#S256 ${x5tS256(certs.a.cert)} is not among the certificates registered for this client`);
    });

    it('rotates from A to B with an overlap in which both work', async () => {
      assert.equal((await addPem('pinned', certs.a.certPem)).status, 201);
      assert.equal((await token('pinned', certs.a)).status, 200);
      expectOAuthError(await token('pinned', certs.b), 401, 'invalid_client', /is not among the certificates registered for this client/);
      assert.equal((await addPem('pinned', certs.b.certPem)).status, 201);
      assert.equal((await token('pinned', certs.a)).status, 200);
      const withB = await token('pinned', certs.b);
      assert.equal(withB.status, 200);
      assert.equal(decodeJwt(withB.json.access_token).payload.cnf['x5t#S256'], x5tS256(certs.b.cert));
      assert.equal((await as.admin.request('DELETE', `/clients/pinned/certificates/${x5tS256(certs.a.cert)}`)).status, 200);
      expectOAuthError(await token('pinned', certs.a), 401, 'invalid_client', /is not among the certificates registered for this client/);
      assert.equal((await token('pinned', certs.b)).status, 200);
    });
  });

  describe('self_signed_tls_client_auth clients: the certificates are the jwks', () => {
    it('adding a certificate writes it into jwks as {kty..., x5c}', async () => {
      expectOAuthError(await token('robot', certs.selfA), 401, 'invalid_client');
      const res = await addPem('robot', certs.selfA.certPem);
      assert.equal(res.status, 201, res.text);
      const client = await as.admin.request('GET', '/clients/robot');
      assert.deepEqual(client.json.jwks, { keys: [{ ...certs.selfA.cert.publicKey.export({ format: 'jwk' }), x5c: [certs.selfA.cert.raw.toString('base64')] }] });
      assert.equal((await token('robot', certs.selfA)).status, 200);
    });

    it('rotates: B joins, both work; A retires and leaves the jwks', async () => {
      assert.equal((await addPem('robot', certs.selfB.certPem)).status, 201);
      assert.equal((await token('robot', certs.selfA)).status, 200);
      assert.equal((await token('robot', certs.selfB)).status, 200);
      assert.equal((await as.admin.request('DELETE', `/clients/robot/certificates/${x5tS256(certs.selfA.cert)}`)).status, 200);
      const client = await as.admin.request('GET', '/clients/robot');
      assert.deepEqual(client.json.jwks.keys.map((k) => (k.x5c as string[])[0]), [certs.selfB.cert.raw.toString('base64')]);
      expectOAuthError(await token('robot', certs.selfA), 401, 'invalid_client', `certificate not registered for this self-signed client (x5t#S256 ${x5tS256(certs.selfA.cert)})`);
      assert.equal((await token('robot', certs.selfB)).status, 200);
    });

    it('a PUT that omits jwks keeps the certificates', async () => {
      const client = await as.admin.request('GET', '/clients/robot');
      const { jwks: _jwks, ...withoutJwks } = client.json;
      const res = await as.admin.request('PUT', '/clients/robot', { json: { ...withoutJwks, client_name: 'Robot' }, headers: { 'if-match': client.headers.etag as string } });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.json.jwks, client.json.jwks);
      assert.equal((await token('robot', certs.selfB)).status, 200);
    });

    it('a tls_client_auth client that becomes self-signed keeps its active certificates, as jwks', async () => {
      assert.equal((await as.admin.request('POST', '/clients', { json: { client_id: 'switcher', tls_client_auth_subject_dn: 'CN=settlement,O=Example Bank', default_resource: API } })).status, 201);
      assert.equal((await addPem('switcher', certs.b.certPem)).status, 201);
      const current = await as.admin.request('GET', '/clients/switcher');
      const { tls_client_auth_subject_dn: _dn, ...rest } = current.json;
      const res = await as.admin.request('PUT', '/clients/switcher', { json: { ...rest, token_endpoint_auth_method: 'self_signed_tls_client_auth' }, headers: { 'if-match': current.headers.etag as string } });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.json.jwks.keys.map((k) => (k.x5c as string[])[0]), [certs.b.cert.raw.toString('base64')]);
      assert.equal((await token('switcher', certs.b)).status, 200);
    });

    it('refuses an expired certificate', async () => {
      expectOAuthError(await addPem('robot', certs.selfExpired.certPem), 400, 'invalid_client_metadata',
        `pem: certificate expired at ${certs.selfExpired.cert.validToDate.toISOString()}`);
    });
  });

  describe('what is not a certificate for this client', () => {
    it('refuses a certificate for a private_key_jwt client', async () => {
      expectOAuthError(await addPem('signer', certs.selfA.certPem), 400, 'invalid_client_metadata',
        'token_endpoint_auth_method: a private_key_jwt client authenticates with signed assertions, not certificates');
    });

    it('answers 404 for an unknown client', async () => {
      expectOAuthError(await addPem('nobody', certs.a.certPem), 404, 'not_found', 'client "nobody" is not registered');
      expectOAuthError(await as.admin.request('GET', '/clients/nobody/certificates'), 404, 'not_found');
    });
  });

  describe('GET /certificates/expiring', () => {
    it('lists active certificates expiring within the window, soonest first, across clients', async () => {
      const res = await as.admin.request('GET', '/certificates/expiring?within=30d');
      assert.equal(res.status, 200, res.text);
      const listed = res.json.items.map((c) => `${c.client_id as string}/${c['x5t#S256'] as string}`);
      assert.ok(listed.includes(`settlement/${x5tS256(certs.a.cert)}`), 'A (20 days) is listed');
      assert.ok(!listed.includes(`robot/${x5tS256(certs.selfA.cert)}`), 'retired certificates are not');
      assert.ok(!listed.includes(`pinned/${x5tS256(certs.b.cert)}`), 'B (90 days) is not within 30 days');
      const notAfter = res.json.items.map((c) => c.not_after as string);
      assert.deepEqual(notAfter, [...notAfter].sort());
    });

    it('accepts hours and pages with a cursor', async () => {
      const none = await as.admin.request('GET', '/certificates/expiring?within=1h');
      assert.deepEqual(none.json, { items: [], next_cursor: null });
      const first = await as.admin.request('GET', '/certificates/expiring?within=400d&limit=1');
      assert.equal(first.json.items.length, 1);
      assert.ok(first.json.next_cursor);
      const second = await as.admin.request('GET', `/certificates/expiring?within=400d&limit=1&cursor=${first.json.next_cursor}`);
      assert.equal(second.json.items.length, 1);
      assert.notDeepEqual(second.json.items[0], first.json.items[0]);
    });

    for (const within of ['30', '30m', '-1d', 'd', '999999d']) {
      it(`refuses within=${within}`, async () => {
        expectOAuthError(await as.admin.request('GET', `/certificates/expiring?within=${within}`), 400, 'invalid_request', 'within: must be a number of days or hours, e.g. 30d or 12h');
      });
    }
  });
});
