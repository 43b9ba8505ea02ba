// WORKERS=2 over PostgreSQL + Redis: the real entry point forks two workers that share both
// listeners. Both answer token requests, a TLS session from one resumes on the other, a worker
// that dies is replaced, and SIGTERM drains every worker. Needs TEST_DATABASE_URL and
// TEST_REDIS_URL (as CI sets them): several workers are refused on embedded storage.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { issueCertificate, type IssuedCertificate } from '../../apps/authz-server/src/pki/issue.ts';
import { openStores } from '../../apps/authz-server/src/storage/index.ts';
import { upsertClient } from '../../apps/authz-server/src/storage/postgres/clients.ts';
import { upsertResourceServer } from '../../apps/authz-server/src/storage/postgres/resource-servers.ts';
import { makeTestPki, realStores, type TestPki } from '../support/authz.ts';
import { freePort } from '../support/https.ts';
import { startProcess, type RunningProcess } from '../support/processes.ts';
import { requestOverTls } from '../../apps/authz-server/test/http/tls-client.ts';

const RESOURCE = 'https://workers.test';
const skip = !realStores.database || !realStores.redis ? 'needs TEST_DATABASE_URL and TEST_REDIS_URL' : false;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function eventually(what: string, check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('WORKERS=2 on PostgreSQL + Redis', { skip }, () => {
  let pki: TestPki;
  let client: IssuedCertificate;
  let dir: string;
  let schema: string;
  let proc: RunningProcess;
  let mtlsUrl: string;

  before(async () => {
    pki = await makeTestPki();
    client = await issueCertificate({ subject: 'CN=worker-client,O=certbound tests', issuer: pki.clientRoot, days: 5 });
    dir = await mkdtemp(join(tmpdir(), 'certbound-workers-'));
    await writeFile(join(dir, 'server.pem'), pki.server.certPem);
    await writeFile(join(dir, 'server-key.pem'), pki.server.keyPem, { mode: 0o600 });
    await writeFile(join(dir, 'client-ca.pem'), pki.clientRoot.certPem);
    schema = `t_${randomBytes(6).toString('hex')}`;
    const stores = await openStores({ databaseUrl: realStores.database!, redisUrl: realStores.redis!, dataDir: join(dir, 'data'), schema });
    try {
      await upsertResourceServer(stores.sql, { identifier: RESOURCE, name: 'workers', scopes: ['ledger:read'], token_format: 'jwt', access_token_ttl: null, sender_constraint_required: true });
      await upsertClient(stores.sql, {
        client_id: 'worker-client', token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: 'CN=worker-client,O=certbound tests',
        grant_types: ['client_credentials'], response_types: [], resources: { [RESOURCE]: ['ledger:read'] }, default_resource: RESOURCE,
      });
    } finally {
      await stores.close();
    }
    const [publicPort, mtlsPort] = [await freePort(), await freePort()];
    mtlsUrl = `https://localhost:${mtlsPort}`;
    proc = await startProcess('apps/authz-server/src/main.ts', {
      WORKERS: '2',
      LOG_LEVEL: 'debug',
      PUBLIC_PORT: String(publicPort),
      MTLS_PORT: String(mtlsPort),
      DATA_DIR: join(dir, 'data'),
      TLS_CERT_FILE: join(dir, 'server.pem'),
      TLS_KEY_FILE: join(dir, 'server-key.pem'),
      CLIENT_CA_FILE: join(dir, 'client-ca.pem'),
      KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      DATABASE_URL: realStores.database!,
      DATABASE_SCHEMA: schema,
      REDIS_URL: realStores.redis!,
    }, { ready: /"event":"listening"[\s\S]*"event":"listening"/ });
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

  const token = (session?: Buffer) => requestOverTls(`${mtlsUrl}/token`, {
    ca: pki.serverCa.certPem, cert: client.certPem, key: client.keyPem, session,
    form: { grant_type: 'client_credentials', client_id: 'worker-client' },
  });

  async function answeringPids(requests: number): Promise<Set<string>> {
    const pids = new Set<string>();
    for (let i = 0; i < requests; i++) {
      const res = await token();
      assert.equal(res.status, 200, JSON.stringify(res.json));
      assert.ok(res.json.access_token);
      pids.add(res.headers['x-certbound-worker']);
    }
    return pids;
  }

  it('answers token requests from both workers', async () => {
    const pids = await answeringPids(12);
    assert.equal(pids.size, 2, `answered by ${[...pids].join(', ')}`);
    const workers = proc.logs().filter((l) => l.event === 'listening').map((l) => String(l.pid));
    for (const pid of pids) assert.ok(workers.includes(pid), `${pid} is one of the workers that logged "listening"`);
  });

  it('resumes on one worker a TLS session issued by the other', async () => {
    const first = await token();
    const issuer = first.headers['x-certbound-worker'];
    let crossed = 0;
    for (let i = 0; i < 8; i++) {
      const again = await token(first.session);
      assert.equal(again.reused, true, `connection ${i + 1} resumed`);
      assert.equal(again.status, 200, JSON.stringify(again.json));
      if (again.headers['x-certbound-worker'] !== issuer) crossed++;
    }
    assert.ok(crossed > 0, 'at least one resumption was answered by the other worker');
  });

  it('replaces a worker that dies', async () => {
    const victim = Number([...await answeringPids(4)][0]);
    const restartsBefore = proc.logs().filter((l) => l.event === 'worker_restart').length;
    process.kill(victim, 'SIGKILL');
    await eventually('a replacement worker', () => proc.logs().filter((l) => l.event === 'worker_restart').length > restartsBefore);
    await eventually('the replacement listening', () => proc.logs().filter((l) => l.event === 'worker_ready').length >= 3);
    const exit = proc.logs().find((l) => l.event === 'worker_exit' && l.pid === victim);
    assert.equal(exit?.signal, 'SIGKILL');
    const pids = await answeringPids(12);
    assert.equal(pids.size, 2);
    assert.ok(!pids.has(String(victim)));
  });

  it('drains every worker on SIGTERM and exits 0', async () => {
    const pids = [...await answeringPids(6)].map(Number);
    assert.equal(await proc.stop('SIGTERM'), 0);
    for (const pid of pids) await eventually(`worker ${pid} to exit`, () => !alive(pid), 5_000);
    assert.ok(proc.logs().some((l) => l.event === 'shutdown' && l.signal === 'SIGTERM'));
  });
});
