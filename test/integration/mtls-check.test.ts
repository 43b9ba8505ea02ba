// GET /mtls/check against a real server over real TLS: the partner's self-service check names the
// step the token endpoint would refuse on, with the same reason, and answers 404 on the public
// listener. Certificates are issued at test time.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { issueCertificate, type IssuedCertificate } from '../../apps/authz-server/src/pki/issue.ts';
import { x5tS256 } from '../../apps/authz-server/src/mtls/thumbprint.ts';
import { makeTestPki, startTestAuthz, type TestAuthz, type TestPki } from '../support/authz.ts';
import { https, type HttpsAnswer } from '../support/https.ts';
import { requestOverTls } from '../../apps/authz-server/test/http/tls-client.ts';

const API = 'https://ledger-api.test';
const DAY = 86_400_000;
const identity = (cert: IssuedCertificate, chain: IssuedCertificate[] = []) => ({ cert: [cert, ...chain].map((c) => c.certPem).join(''), key: cert.keyPem });

function stepOf(answer: HttpsAnswer, check: string): { check: string; ok: boolean | null; detail: string } {
  const step = answer.json?.steps?.find((s: { check: string }) => s.check === check);
  assert.ok(step, `no ${check} step in ${answer.text}`);
  return step;
}

describe('GET /mtls/check (issue 12 item 5)', () => {
  let pki: TestPki;
  let as: TestAuthz;
  const certs: Record<string, IssuedCertificate> = {};
  const check = (query: string, cert?: IssuedCertificate, chain: IssuedCertificate[] = [], url?: string) =>
    https(`${url ?? as.mtlsUrl}/mtls/check${query}`, { ca: as.ca, ...(cert ? { identity: identity(cert, chain) } : {}) });
  const token = (clientId: string, cert: IssuedCertificate, chain: IssuedCertificate[] = []) =>
    https(`${as.mtlsUrl}/token`, { ca: as.ca, identity: identity(cert, chain), form: { grant_type: 'client_credentials', client_id: clientId } });

  before(async () => {
    pki = await makeTestPki();
    certs.intermediate = await issueCertificate({ subject: 'CN=partner issuing CA,O=Example Bank', issuer: pki.clientRoot, ca: true, pathLength: 0, days: 30 });
    certs.good = await issueCertificate({ subject: 'CN=settlement,OU=payments,O=Example Bank', issuer: pki.clientRoot, days: 20 });
    certs.viaIntermediate = await issueCertificate({ subject: 'CN=settlement,OU=payments,O=Example Bank', issuer: certs.intermediate, days: 20 });
    certs.expired = await issueCertificate({ subject: 'CN=settlement,OU=payments,O=Example Bank', issuer: pki.clientRoot, notBefore: new Date(Date.now() - 30 * DAY), notAfter: new Date(Date.now() - 3 * DAY - 60_000) });
    certs.otherUnit = await issueCertificate({ subject: 'CN=settlement,OU=treasury,O=Example Bank', issuer: pki.clientRoot, days: 20 });
    as = await startTestAuthz({ pki });
    await as.registerResource({ identifier: API, scopes: ['ledger:read'], sender_constraint_required: true });
    await as.register({ client_id: 'settlement', tls_client_auth_subject_dn: certs.good.subject, default_resource: API, scope: 'ledger:read' });
  });
  after(async () => { await as?.close(); });

  it('a good certificate and its client: 200, every step passed, and the token endpoint agrees', async () => {
    const answer = await check('?client_id=settlement', certs.good);
    assert.equal(answer.status, 200, answer.text);
    assert.equal(answer.headers['cache-control'], 'no-store');
    assert.equal(answer.json.ok, true, answer.text);
    assert.equal(answer.json.first_failure, null);
    assert.deepEqual(answer.json.steps.map((s) => [s.check, s.ok]),
      [['presented', true], ['chain', true], ['dates', true], ['key_usage', true], ['revocation', true], ['client_match', true]]);
    assert.equal(answer.json.certificate['x5t#S256'], x5tS256(certs.good.cert));
    assert.equal(answer.json.certificate.subject, 'CN=settlement,OU=payments,O=Example Bank');
    assert.equal(answer.json.certificate.serial, certs.good.cert.serialNumber);
    assert.equal((await token('settlement', certs.good)).status, 200);
  });

  it('without client_id the client_match step is not run and ok is still true', async () => {
    const answer = await check('', certs.good);
    assert.equal(answer.json.ok, true);
    assert.equal(stepOf(answer, 'client_match').ok, null);
  });

  it('no certificate: 200 with the presented step failing (the listener requests, never requires one)', async () => {
    const answer = await check('?client_id=settlement');
    assert.equal(answer.status, 200, answer.text);
    assert.equal(answer.json.ok, false);
    assert.equal(answer.json.certificate, null);
    assert.deepEqual(answer.json.first_failure.check, 'presented');
    assert.equal(stepOf(answer, 'chain').ok, null);
  });

  it('a missing intermediate: chain fails with the token endpoint\'s reason and names the intermediate', async () => {
    const answer = await check('?client_id=settlement', certs.viaIntermediate);
    assert.equal(answer.json.first_failure.check, 'chain');
    assert.equal(answer.json.first_failure.code, 'untrusted');
    const refused = await token('settlement', certs.viaIntermediate);
    assert.equal(refused.status, 401);
    assert.ok(stepOf(answer, 'chain').detail.startsWith(refused.json.error_description), `${stepOf(answer, 'chain').detail} / ${refused.json.error_description}`);
    assert.match(stepOf(answer, 'chain').detail, /the missing intermediate is "CN=partner issuing CA,O=Example Bank"$/);
    // sent with its intermediate, it passes
    assert.equal((await check('?client_id=settlement', certs.viaIntermediate, [certs.intermediate])).json.ok, true);
  });

  it('a resumed TLS session (no intermediates left on it) that fails the chain says so', async () => {
    const over = (session?: Buffer) => requestOverTls(`${as.mtlsUrl}/mtls/check`, { ca: as.ca, ...identity(certs.viaIntermediate, [certs.intermediate]), session });
    const first = await over();
    assert.equal(first.status, 200);
    assert.equal(first.json.ok, true, JSON.stringify(first.json));
    const resumed = await over(first.session);
    assert.equal(resumed.reused, true);
    assert.equal(resumed.json.first_failure?.code, 'untrusted', JSON.stringify(resumed.json));
    assert.match(resumed.json.first_failure.detail, /\(this connection resumed a TLS session, which carries no intermediates: check again on a new connection\)$/);
  });

  it('an expired certificate: dates fails, 3 days ago by the server clock', async () => {
    const answer = await check('?client_id=settlement', certs.expired);
    assert.equal(answer.json.first_failure.check, 'dates');
    assert.match(answer.json.first_failure.detail, /expired 3 days ago by the server's clock/);
    assert.equal(answer.json.first_failure.fix, 'the certificate expired 3 days ago: issue a new one and add it with `certbound certs add`');
    const refused = await token('settlement', certs.expired);
    assert.equal(refused.status, 401);
    assert.equal(refused.json.error, 'invalid_client');
    assert.match(refused.json.error_description, /expired/);
  });

  it('a subject mismatch names the first differing RDN', async () => {
    const answer = await check('?client_id=settlement', certs.otherUnit);
    assert.equal(answer.json.first_failure.check, 'client_match');
    assert.equal(answer.json.first_failure.code, 'subject_mismatch');
    assert.match(answer.json.first_failure.detail, /first difference at RDN 2 \(from the left, RFC 4514 order\): expected "OU=payments", presented "OU=treasury"$/);
    const refused = await token('settlement', certs.otherUnit);
    assert.equal(refused.status, 401);
    assert.equal(refused.json.error, 'invalid_client');
    assert.match(refused.json.error_description, /does not match the registered tls_client_auth_subject_dn/);
  });

  it('an unknown client_id fails client_match naming it', async () => {
    const answer = await check('?client_id=nobody', certs.good);
    assert.equal(answer.status, 200);
    assert.equal(answer.json.first_failure.code, 'unknown_client');
    assert.match(answer.json.first_failure.detail, /no client "nobody"/);
  });

  it('bad requests get a 4xx naming the problem and one log line', async () => {
    const twice = await check('?client_id=a&client_id=b', certs.good);
    assert.equal(twice.status, 400);
    assert.deepEqual(twice.json, { error: 'invalid_request', error_description: 'client_id is given more than once' });
    const post = await https(`${as.mtlsUrl}/mtls/check`, { ca: as.ca, identity: identity(certs.good), method: 'POST', form: {} });
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'GET, HEAD');
    assert.equal(as.logs.filter((l) => l.event === 'mtls_check_refused' && l.reason === 'client_id is given more than once').length, 1);
  });

  it('the public listener answers 404', async () => {
    const answer = await check('', undefined, [], as.publicUrl);
    assert.equal(answer.status, 404);
    assert.equal(answer.json.error, 'not_found');
    assert.match(answer.json.error_description, /mutual-TLS listener only/);
  });
});

describe('GET /mtls/check behind a trusted proxy (RFC 9440 Client-Cert): the token endpoint\'s certificate source', () => {
  let pki: TestPki;
  let as: TestAuthz;
  let good: IssuedCertificate;
  const viaProxy = (headers: Record<string, string>) => https(`${as.mtlsUrl}/mtls/check?client_id=settlement`, { ca: as.ca, headers });

  before(async () => {
    pki = await makeTestPki();
    good = await issueCertificate({ subject: 'CN=settlement,O=Example Bank', issuer: pki.clientRoot, days: 20 });
    as = await startTestAuthz({ pki, env: { TRUSTED_PROXIES: '127.0.0.1,::1', TRUSTED_PROXY_HEADER: 'client-cert' } });
    await as.registerResource({ identifier: API, scopes: ['ledger:read'] });
    await as.register({ client_id: 'settlement', tls_client_auth_subject_dn: good.subject, default_resource: API, scope: 'ledger:read' });
  });
  after(async () => { await as?.close(); });

  it('diagnoses the certificate the proxy passed', async () => {
    const answer = await viaProxy({ 'client-cert': `:${good.cert.raw.toString('base64')}:` });
    assert.equal(answer.status, 200, answer.text);
    assert.equal(answer.json.ok, true, answer.text);
    assert.equal(answer.json.certificate['x5t#S256'], x5tS256(good.cert));
  });

  it('a malformed header or one of another format is a 400 naming it, never a 500', async () => {
    const garbage = await viaProxy({ 'client-cert': ':AAAA:' });
    assert.equal(garbage.status, 400, garbage.text);
    assert.equal(garbage.json.error, 'invalid_request');
    const other = await viaProxy({ 'x-forwarded-client-cert': 'Hash=00' });
    assert.equal(other.status, 400);
    assert.match(other.json.error_description, /x-forwarded-client-cert is not accepted/);
  });
});
