// The demo resource server's own /metrics (issue 12 item 1): the verifier's outcomes, counted
// through @certbound/cnf-verifier's onOutcome hook, for a token presented over the certificate it
// is bound to (accepted, mtls) and over another one (refused, invalid_token), over real TLS with
// the authorization server and the demo in this process and certificates made at test time.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { issueCertificate, type IssuedCertificate } from '../../apps/authz-server/src/pki/issue.ts';
import { loadDemoConfig } from '../../apps/resource-server-demo/src/config.ts';
import { startDemo } from '../../apps/resource-server-demo/src/main.ts';
import { makeTestPki, startTestAuthz, type TestAuthz } from '../support/authz.ts';
import { https } from '../support/https.ts';
import { scrape, sampleValue } from '../support/prometheus.ts';

const RESOURCE = 'https://demo-metrics.test';
const COUNTER = 'certbound_demo_verifications_total';

describe('demo resource server /metrics', () => {
  let as: TestAuthz;
  let demo: Awaited<ReturnType<typeof startDemo>>;
  let dir: string;
  let client: IssuedCertificate;
  let other: IssuedCertificate;
  let token: string;

  const call = (cert: IssuedCertificate) => https(`https://localhost:${demo.port}/api/v1/settlements/${randomUUID()}`, {
    ca: as.ca, identity: { cert: cert.certPem, key: cert.keyPem }, headers: { authorization: `Bearer ${token}` },
  });

  before(async () => {
    const pki = await makeTestPki();
    client = await issueCertificate({ subject: 'CN=demo-metrics,O=certbound tests', issuer: pki.clientRoot, days: 3 });
    other = await issueCertificate({ subject: 'CN=someone else,O=certbound tests', issuer: pki.clientRoot, days: 3 });
    as = await startTestAuthz({ pki });
    await as.registerResource({ identifier: RESOURCE, scopes: ['settlements:read'], sender_constraint_required: true });
    await as.register({
      client_id: 'demo-metrics', token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: 'CN=demo-metrics,O=certbound tests',
      grant_types: ['client_credentials'], response_types: [], resources: { [RESOURCE]: ['settlements:read'] }, default_resource: RESOURCE,
    });
    const res = await https(`${as.mtlsUrl}/token`, { ca: as.ca, identity: { cert: client.certPem, key: client.keyPem }, form: { grant_type: 'client_credentials', client_id: 'demo-metrics', scope: 'settlements:read' } });
    assert.equal(res.status, 200, res.text);
    token = (res.json as { access_token: string }).access_token;
    dir = await mkdtemp(join(tmpdir(), 'certbound-demo-metrics-'));
    await writeFile(join(dir, 'server.pem'), pki.server.certPem);
    await writeFile(join(dir, 'server-key.pem'), pki.server.keyPem, { mode: 0o600 });
    await writeFile(join(dir, 'ca.pem'), pki.serverCa.certPem);
    demo = await startDemo(loadDemoConfig({
      DEMO_PORT: '0', DEMO_METRICS_PORT: '0', DEMO_ISSUER: as.issuer, DEMO_AUDIENCE: RESOURCE,
      DEMO_TLS_CERT_FILE: join(dir, 'server.pem'), DEMO_TLS_KEY_FILE: join(dir, 'server-key.pem'), DEMO_CA_FILE: join(dir, 'ca.pem'),
    }));
    assert.ok(demo.metricsPort, 'the demo opened its metrics port');
  });

  after(async () => {
    await demo?.close();
    await as?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('counts accepted and refused verifications with their code and binding', async () => {
    assert.equal((await call(client)).status, 404, 'verified, then the settlement is not found');
    assert.equal((await call(other)).status, 401);
    assert.equal((await call(other)).status, 401);
    const samples = await scrape(`http://127.0.0.1:${demo.metricsPort}/metrics`);
    assert.equal(sampleValue(samples, COUNTER, { outcome: 'accepted', error: 'none', binding: 'mtls' }), 1);
    assert.equal(sampleValue(samples, COUNTER, { outcome: 'refused', error: 'invalid_token', binding: 'mtls' }), 2);
    assert.ok(samples.some((s) => s.name === 'process_cpu_user_seconds_total'));
  });
});
