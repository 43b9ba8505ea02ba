// Certificate rotation across a deployment: a client moves from certificate A to certificate B
// through /admin/v1 on one instance while a second instance (same PostgreSQL schema and Redis)
// serves token requests. B works from the moment it is added, A stops everywhere within 5 s of
// being retired, and a request loop with B running through the whole rotation never fails.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { issueCertificate, type IssuedCertificate } from '../../apps/authz-server/src/pki/issue.ts';
import { x5tS256 } from '../../apps/authz-server/src/mtls/thumbprint.ts';
import { makeTestPki, realStores, startTestAuthz, type TestAuthz, type TestPki } from '../support/authz.ts';
import { https } from '../support/https.ts';
import { decodeJwt, expectOAuthError } from '../support/oauth.ts';

const API = 'https://rotation-api.test';
const SKIP = realStores.database
  ? false
  : 'TEST_DATABASE_URL is not set: two instances need a shared PostgreSQL (embedded PGlite is single-process), so the rotation test is skipped';

function identity(cert: IssuedCertificate) {
  return { cert: cert.certPem, key: cert.keyPem };
}

/** Requests tokens with `cert` against the instances in turn until stopped; counts what failed. */
function tokenLoop(instances: TestAuthz[], clientId: string, cert: IssuedCertificate) {
  let running = true;
  const outcomes = { ok: 0, failures: [] as string[] };
  const done = (async () => {
    for (let i = 0; running; i++) {
      const as = instances[i % instances.length];
      try {
        const res = await https(`${as.mtlsUrl}/token`, { ca: as.ca, identity: identity(cert), form: { grant_type: 'client_credentials', client_id: clientId } });
        if (res.status === 200 && decodeJwt(res.json.access_token).payload.cnf['x5t#S256'] === x5tS256(cert.cert)) outcomes.ok++;
        else outcomes.failures.push(`${res.status} ${res.text}`);
      } catch (err) {
        outcomes.failures.push(String(err));
      }
    }
  })();
  return {
    outcomes,
    async stop() {
      running = false;
      await done;
      return outcomes;
    },
  };
}

describe('certificate rotation across two instances', { skip: SKIP }, () => {
  let pki: TestPki;
  let first: TestAuthz;
  let second: TestAuthz;

  async function token(as: TestAuthz, clientId: string, cert: IssuedCertificate) {
    return https(`${as.mtlsUrl}/token`, { ca: as.ca, identity: identity(cert), form: { grant_type: 'client_credentials', client_id: clientId } });
  }

  /** Polls `as` until `cert` is refused for `clientId`; returns how long it took (ms). */
  async function refusedWithin(as: TestAuthz, clientId: string, cert: IssuedCertificate, limitMs: number): Promise<number> {
    const start = Date.now();
    for (;;) {
      const res = await token(as, clientId, cert);
      if (res.status === 401) {
        expectOAuthError(res, 401, 'invalid_client');
        return Date.now() - start;
      }
      assert.ok(Date.now() - start < limitMs, `${clientId}: the retired certificate still works after ${limitMs} ms`);
      await sleep(100);
    }
  }

  before(async () => {
    pki = await makeTestPki();
    first = await startTestAuthz({ pki, storage: 'real' });
    second = await startTestAuthz({ pki, storage: 'real', shareStoresWith: first });
    await first.admin.request('POST', '/resource-servers', { json: { identifier: API, scopes: ['rotate:read'] } });
  });

  after(async () => {
    await second?.close();
    await first?.close();
  });

  it('the second instance shares the first one\'s clients and keys', async () => {
    const res = await second.admin.request('GET', '/clients/admin');
    assert.equal(res.status, 200, res.text);
  });

  it('tls_client_auth with certificate_pinning: A to B, both sharing one subject DN', async () => {
    const subject = 'CN=rotating-partner,O=Example Bank';
    const a = await issueCertificate({ subject, issuer: pki.clientRoot, days: 10 });
    const b = await issueCertificate({ subject, issuer: pki.clientRoot, days: 400 });
    const created = await first.admin.request('POST', '/clients', { json: { client_id: 'partner', tls_client_auth_subject_dn: subject, certificate_pinning: true, scope: 'rotate:read', default_resource: API } });
    assert.equal(created.status, 201, created.text);
    assert.equal((await first.admin.request('POST', '/clients/partner/certificates', { json: { pem: a.certPem } })).status, 201);

    // A gets tokens on both instances; B, not yet registered, on neither.
    assert.equal((await token(first, 'partner', a)).status, 200);
    assert.equal((await token(second, 'partner', a)).status, 200);
    expectOAuthError(await token(second, 'partner', b), 401, 'invalid_client', `certificate x5t#S256 ${x5tS256(b.cert)} is not among the certificates registered for this client`);

    // B is added on the first instance: it works on both, and A keeps working (the overlap).
    assert.equal((await first.admin.request('POST', '/clients/partner/certificates', { json: { pem: b.certPem } })).status, 201);
    const loop = tokenLoop([first, second], 'partner', b);
    assert.equal((await token(second, 'partner', a)).status, 200);
    assert.equal((await token(second, 'partner', b)).status, 200);
    await sleep(300);

    // A is retired on the first instance; the second refuses it within 5 s.
    assert.equal((await first.admin.request('DELETE', `/clients/partner/certificates/${x5tS256(a.cert)}`)).status, 200);
    const took = await refusedWithin(second, 'partner', a, 5_000);
    expectOAuthError(await token(first, 'partner', a), 401, 'invalid_client', /is not among the certificates registered for this client/);
    await sleep(300);

    const outcomes = await loop.stop();
    assert.deepEqual(outcomes.failures, [], 'B never failed during the rotation');
    assert.ok(outcomes.ok >= 5, `the loop made ${outcomes.ok} requests`);
    assert.ok(took < 5_000);
  });

  it('self_signed_tls_client_auth: A to B through the jwks', async () => {
    const a = await issueCertificate({ subject: 'CN=robot', days: 10 });
    const b = await issueCertificate({ subject: 'CN=robot', days: 400 });
    assert.equal((await first.admin.request('POST', '/clients', { json: { client_id: 'robot', token_endpoint_auth_method: 'self_signed_tls_client_auth', scope: 'rotate:read', default_resource: API } })).status, 201);
    assert.equal((await first.admin.request('POST', '/clients/robot/certificates', { json: { pem: a.certPem } })).status, 201);
    assert.equal((await token(second, 'robot', a)).status, 200);
    expectOAuthError(await token(second, 'robot', b), 401, 'invalid_client', `certificate not registered for this self-signed client (x5t#S256 ${x5tS256(b.cert)})`);

    assert.equal((await first.admin.request('POST', '/clients/robot/certificates', { json: { pem: b.certPem } })).status, 201);
    const loop = tokenLoop([second, first], 'robot', b);
    assert.equal((await token(second, 'robot', a)).status, 200);
    assert.equal((await token(second, 'robot', b)).status, 200);
    await sleep(300);

    assert.equal((await first.admin.request('DELETE', `/clients/robot/certificates/${x5tS256(a.cert)}`)).status, 200);
    await refusedWithin(second, 'robot', a, 5_000);
    await sleep(300);

    const outcomes = await loop.stop();
    assert.deepEqual(outcomes.failures, []);
    assert.ok(outcomes.ok >= 5);
    const jwks = (await second.admin.request('GET', '/clients/robot')).json.jwks;
    assert.deepEqual(jwks.keys.map((k) => (k.x5c as string[])[0]), [b.cert.raw.toString('base64')]);
  });

  it('a client disabled on one instance gets no token from the other', async () => {
    const cert = await issueCertificate({ subject: 'CN=soon-disabled', issuer: pki.clientRoot, days: 10 });
    assert.equal((await first.admin.request('POST', '/clients', { json: { client_id: 'soon-disabled', tls_client_auth_subject_dn: 'CN=soon-disabled', scope: 'rotate:read', default_resource: API } })).status, 201);
    assert.equal((await token(second, 'soon-disabled', cert)).status, 200);
    const current = await first.admin.request('GET', '/clients/soon-disabled');
    assert.equal((await first.admin.request('PUT', '/clients/soon-disabled', { json: { ...current.json, disabled: true }, headers: { 'if-match': current.headers.etag as string } })).status, 200);
    await refusedWithin(second, 'soon-disabled', cert, 5_000);
  });
});
