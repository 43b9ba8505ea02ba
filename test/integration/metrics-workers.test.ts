// WORKERS=2 (the real entry point, PostgreSQL + Redis): the cluster primary serves the metrics
// port and answers with every worker's registry aggregated — the token requests both workers
// answered add up, the expiry gauge is each client's newest — and /readyz asks the workers.
// Needs TEST_DATABASE_URL and TEST_REDIS_URL (several workers are refused on embedded storage).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import pg from 'pg';
import { issueCertificate, type IssuedCertificate } from '../../apps/authz-server/src/pki/issue.ts';
import { openStores } from '../../apps/authz-server/src/storage/index.ts';
import { upsertClient } from '../../apps/authz-server/src/storage/postgres/clients.ts';
import { upsertResourceServer } from '../../apps/authz-server/src/storage/postgres/resource-servers.ts';
import { makeTestPki, realStores, type TestPki } from '../support/authz.ts';
import { freePort } from '../support/https.ts';
import { startProcess, type RunningProcess } from '../support/processes.ts';
import { plainHttp, scrape, sampleValue } from '../support/prometheus.ts';
import { requestOverTls } from '../../apps/authz-server/test/http/tls-client.ts';

const RESOURCE = 'https://metrics-workers.test';
const skip = !realStores.database || !realStores.redis ? 'needs TEST_DATABASE_URL and TEST_REDIS_URL' : false;

describe('metrics with WORKERS=2', { skip }, () => {
  let pki: TestPki;
  let client: IssuedCertificate;
  let dir: string;
  let schema: string;
  let proc: RunningProcess;
  let mtlsUrl: string;
  let metricsUrl: string;

  before(async () => {
    pki = await makeTestPki();
    client = await issueCertificate({ subject: 'CN=metrics-worker-client,O=certbound tests', issuer: pki.clientRoot, days: 6 });
    dir = await mkdtemp(join(tmpdir(), 'certbound-metrics-workers-'));
    await writeFile(join(dir, 'server.pem'), pki.server.certPem);
    await writeFile(join(dir, 'server-key.pem'), pki.server.keyPem, { mode: 0o600 });
    await writeFile(join(dir, 'client-ca.pem'), pki.clientRoot.certPem);
    schema = `t_${randomBytes(6).toString('hex')}`;
    const stores = await openStores({ databaseUrl: realStores.database!, redisUrl: realStores.redis!, dataDir: join(dir, 'data'), schema, sweep: false });
    try {
      await upsertResourceServer(stores.sql, { identifier: RESOURCE, name: 'metrics workers', scopes: ['ledger:read'], token_format: 'jwt', access_token_ttl: null, sender_constraint_required: true });
      await upsertClient(stores.sql, {
        client_id: 'metrics-worker-client', token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: 'CN=metrics-worker-client,O=certbound tests',
        grant_types: ['client_credentials'], response_types: [], resources: { [RESOURCE]: ['ledger:read'] }, default_resource: RESOURCE,
      });
    } finally {
      await stores.close();
    }
    const [publicPort, mtlsPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
    mtlsUrl = `https://localhost:${mtlsPort}`;
    metricsUrl = `http://127.0.0.1:${metricsPort}`;
    proc = await startProcess('apps/authz-server/src/main.ts', {
      WORKERS: '2',
      LOG_LEVEL: 'debug',
      PUBLIC_PORT: String(publicPort),
      MTLS_PORT: String(mtlsPort),
      METRICS_PORT: String(metricsPort),
      DATA_DIR: join(dir, 'data'),
      TLS_CERT_FILE: join(dir, 'server.pem'),
      TLS_KEY_FILE: join(dir, 'server-key.pem'),
      CLIENT_CA_FILE: join(dir, 'client-ca.pem'),
      KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      DATABASE_URL: realStores.database!,
      DATABASE_SCHEMA: schema,
      REDIS_URL: realStores.redis!,
    }, { ready: /"event":"metrics_listening"[\s\S]*"event":"listening"[\s\S]*"event":"listening"/, timeoutMs: 90_000 });
  });

  after(async () => {
    await proc?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
    if (schema && realStores.database) {
      const db = new pg.Client({ connectionString: realStores.database });
      await db.connect();
      await db.query(`drop schema if exists ${schema} cascade`);
      await db.end();
    }
  });

  it('adds up the token requests both workers answered', async () => {
    const pids = new Map<string, number>();
    let sent = 0;
    while (sent < 40 && (pids.size < 2 || sent < 10)) {
      const res = await requestOverTls(`${mtlsUrl}/token`, {
        ca: pki.serverCa.certPem, cert: client.certPem, key: client.keyPem,
        form: { grant_type: 'client_credentials', client_id: 'metrics-worker-client' },
      });
      assert.equal(res.status, 200, JSON.stringify(res.json));
      sent++;
      const pid = res.headers['x-certbound-worker'];
      pids.set(pid, (pids.get(pid) ?? 0) + 1);
    }
    assert.equal(pids.size, 2, `both workers answered (${JSON.stringify([...pids])})`);
    const samples = await scrape(`${metricsUrl}/metrics`);
    const labels = { client_id: 'metrics-worker-client', grant_type: 'client_credentials', outcome: 'success', reason: 'none' };
    assert.equal(sampleValue(samples, 'certbound_token_requests_total', labels), sent, `sum of ${JSON.stringify([...pids.values()])}`);
    // Both workers saw the same certificate: one series, its notAfter (max, not a sum).
    const x5t = createHash('sha256').update(client.cert.raw).digest('base64url');
    assert.equal(sampleValue(samples, 'certbound_client_certificate_expiry_timestamp_seconds', { client_id: 'metrics-worker-client', x5t }), Math.floor(client.cert.validToDate.getTime() / 1000));
    assert.equal(sampleValue(samples, 'certbound_server_certificate_expiry_timestamp_seconds'), Math.floor(pki.server.cert.validToDate.getTime() / 1000));
  });

  it('answers /readyz and /healthz from the primary, asking the workers', async () => {
    const ready = await plainHttp(`${metricsUrl}/readyz`);
    assert.equal(ready.status, 200, ready.text);
    assert.deepEqual(JSON.parse(ready.text), { status: 'ready' });
    assert.equal((await plainHttp(`${metricsUrl}/healthz`)).status, 200);
  });
});
