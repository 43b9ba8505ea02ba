// The metrics port of a real server (issue 12 item 1), over real TLS with certificates made at
// test time: the expiry gauges carry the certificates' own notAfter (registered and last used),
// a refused token request counts under the failed check's code and a successful one as success,
// the per-connection verdicts are counted, and /healthz and /readyz answer on both the public
// listener and the metrics port.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { issueCertificate, type IssuedCertificate } from '../../apps/authz-server/src/pki/issue.ts';
import { addClientCertificate } from '../../apps/authz-server/src/storage/postgres/client-certificates.ts';
import { resetMetrics } from '../../apps/authz-server/src/ops/metrics.ts';
import { makeTestPki, startTestAuthz, type TestAuthz, type TestPki } from '../support/authz.ts';
import { https } from '../support/https.ts';
import { plainHttp, scrape, sampleValue, type Sample } from '../support/prometheus.ts';

const RESOURCE = 'https://metrics.test';
const EXPIRY = 'certbound_client_certificate_expiry_timestamp_seconds';
const TOKENS = 'certbound_token_requests_total';

const x5t = (cert: IssuedCertificate) => createHash('sha256').update(cert.cert.raw).digest('base64url');
const notAfterSeconds = (cert: IssuedCertificate) => Math.floor(cert.cert.validToDate.getTime() / 1000);
const identity = (cert: IssuedCertificate) => ({ cert: cert.certPem, key: cert.keyPem });

describe('metrics port', () => {
  let pki: TestPki;
  let as: TestAuthz;
  let registered: IssuedCertificate;
  let used: IssuedCertificate;
  let stranger: IssuedCertificate;
  let metricsUrl: string;

  const token = (clientId: string, cert: IssuedCertificate) => https(`${as.mtlsUrl}/token`, {
    ca: as.ca, identity: identity(cert), form: { grant_type: 'client_credentials', client_id: clientId },
  });
  const metrics = (): Promise<Sample[]> => scrape(`${metricsUrl}/metrics`);

  before(async () => {
    resetMetrics();
    pki = await makeTestPki();
    registered = await issueCertificate({ subject: 'CN=registered,O=certbound tests', issuer: pki.clientRoot, days: 9 });
    used = await issueCertificate({ subject: 'CN=ledger,O=certbound tests', issuer: pki.clientRoot, days: 4 });
    stranger = await issueCertificate({ subject: 'CN=someone else,O=certbound tests', issuer: pki.clientRoot, days: 3 });
    as = await startTestAuthz({ pki });
    assert.ok(as.server.metricsPort, 'the server opened a metrics port');
    metricsUrl = `http://127.0.0.1:${as.server.metricsPort}`;
    await as.registerResource({ identifier: RESOURCE, scopes: ['ledger:read'] });
    const base = { grant_types: ['client_credentials'], response_types: [], resources: { [RESOURCE]: ['ledger:read'] }, default_resource: RESOURCE };
    await as.register({ ...base, client_id: 'registered', token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: 'CN=registered,O=certbound tests' });
    await as.register({ ...base, client_id: 'ledger', token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: 'CN=ledger,O=certbound tests' });
    await addClientCertificate(as.server.stores.sql, {
      client_id: 'registered', x5t_s256: x5t(registered), pem: registered.certPem, subject: 'CN=registered,O=certbound tests', issuer: null,
      sans: { dns: [], ip: [], uri: [], email: [] }, serial: registered.cert.serialNumber,
      not_before: registered.cert.validFromDate, not_after: registered.cert.validToDate,
    });
  });

  after(async () => {
    await as?.close();
  });

  it('reports a registered certificate\'s notAfter', async () => {
    assert.equal(sampleValue(await metrics(), EXPIRY, { client_id: 'registered', x5t: x5t(registered) }), notAfterSeconds(registered));
  });

  it('counts a successful token request and reports the notAfter of the certificate the client authenticated with', async () => {
    const res = await token('ledger', used);
    assert.equal(res.status, 200, res.text);
    const samples = await metrics();
    assert.equal(sampleValue(samples, TOKENS, { client_id: 'ledger', grant_type: 'client_credentials', outcome: 'success', reason: 'none' }), 1);
    // tls_client_auth registers no certificate: the one it last used is what will expire.
    assert.equal(sampleValue(samples, EXPIRY, { client_id: 'ledger', x5t: x5t(used) }), notAfterSeconds(used));
    assert.ok((sampleValue(samples, 'certbound_tls_client_certificates_total', { listener: 'mtls', outcome: 'accepted', reason: 'none' }) ?? 0) >= 1);
  });

  it('counts a refused token request under the failed check\'s code', async () => {
    const res = await token('ledger', stranger);
    assert.equal(res.status, 401, res.text);
    const twice = await token('ledger', stranger);
    assert.equal(twice.status, 401, twice.text);
    const samples = await metrics();
    assert.equal(sampleValue(samples, TOKENS, { client_id: 'ledger', grant_type: 'client_credentials', outcome: 'refused', reason: 'certificate_subject' }), 2);
    // The refused certificate is not the one the client last authenticated with.
    assert.equal(sampleValue(samples, EXPIRY, { client_id: 'ledger', x5t: x5t(stranger) }), undefined);
  });

  it('counts a token request for a client that does not exist without taking its client_id as a label', async () => {
    const res = await token('no-such-client-0123456789', used);
    assert.equal(res.status, 401, res.text);
    const samples = await metrics();
    assert.equal(samples.some((s) => s.labels.client_id === 'no-such-client-0123456789'), false);
    const unknown = samples.filter((s) => s.name === TOKENS && s.labels.client_id === 'unknown');
    assert.equal(unknown.length, 1, JSON.stringify(unknown));
    assert.equal(unknown[0].labels.outcome, 'refused');
    // the check's code when certbound refused it (oidc/errors.ts), else the OAuth error
    assert.ok(['client_unknown', 'invalid_client'].includes(unknown[0].labels.reason), JSON.stringify(unknown));
  });

  it('counts a connection to the mutual-TLS listener without a certificate', async () => {
    const res = await https(`${as.mtlsUrl}/token`, { ca: as.ca, form: { grant_type: 'client_credentials', client_id: 'ledger' } });
    assert.equal(res.status, 401, res.text);
    const samples = await metrics();
    assert.ok((sampleValue(samples, 'certbound_tls_client_certificates_total', { listener: 'mtls', outcome: 'absent', reason: 'no_certificate' }) ?? 0) >= 1);
    assert.equal(sampleValue(samples, TOKENS, { client_id: 'ledger', outcome: 'refused', reason: 'certificate_missing' }), 1);
  });

  it('reports the server certificate and each client trust anchor', async () => {
    const samples = await metrics();
    assert.equal(sampleValue(samples, 'certbound_server_certificate_expiry_timestamp_seconds'), notAfterSeconds(pki.server));
    assert.equal(sampleValue(samples, 'certbound_trust_anchor_expiry_timestamp_seconds', { subject: 'CN=certbound test client root,O=certbound tests' }), notAfterSeconds(pki.clientRoot));
  });

  it('times store operations and reports process metrics', async () => {
    const samples = await metrics();
    const store = as.env.DATABASE_URL ? 'postgres' : 'pglite';
    assert.ok((sampleValue(samples, 'certbound_store_operation_duration_seconds_count', { store, operation: 'query' }) ?? 0) > 0);
    assert.ok(samples.some((s) => s.name === 'process_cpu_user_seconds_total'));
    assert.ok(samples.some((s) => s.name === 'nodejs_eventloop_lag_seconds'));
  });

  it('answers /healthz and /readyz on the metrics port and the public listener', async () => {
    for (const get of [(path: string) => plainHttp(`${metricsUrl}${path}`), (path: string) => https(`${as.publicUrl}${path}`, { ca: as.ca })]) {
      const health = await get('/healthz');
      assert.equal(health.status, 200);
      assert.deepEqual(JSON.parse(health.text), { status: 'ok' });
      const ready = await get('/readyz');
      assert.equal(ready.status, 200);
      assert.deepEqual(JSON.parse(ready.text), { status: 'ready' });
    }
  });

  it('answers 405 with Allow for another method on the public listener\'s /readyz', async () => {
    const res = await https(`${as.publicUrl}/readyz`, { ca: as.ca, method: 'POST', body: '' });
    assert.equal(res.status, 405);
    assert.equal(res.headers.allow, 'GET, HEAD');
    assert.equal(as.logs.filter((l) => l.event === 'health_refusal' && l.method === 'POST').length, 1);
  });

  it('answers 404 and 405 on the metrics port for what it does not serve', async () => {
    assert.equal((await plainHttp(`${metricsUrl}/admin`)).status, 404);
    const post = await plainHttp(`${metricsUrl}/metrics`, 'POST');
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'GET, HEAD');
    const refusals = as.logs.filter((l) => l.event === 'metrics_port_refusal');
    assert.deepEqual(refusals.map((l): unknown[] => [l.status, l.method, l.path]), [[404, 'GET', '/admin'], [405, 'POST', '/metrics']]);
  });
});
