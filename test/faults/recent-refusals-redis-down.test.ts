// Fault: the Redis holding the console's recent refusals stops. A refused token request is still
// answered with its own refusal (recording is fire-and-forget, never the request's problem), the
// failed writes are logged as the outage (a bounded number of lines), GET /admin/v1/refusals answers 503 with
// Retry-After while Redis is away, and recording resumes once it is back. A Redis of this test's
// own (never the shared TEST_REDIS_URL server), embedded PostgreSQL.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { issueCertificate, type IssuedCertificate } from '../../apps/authz-server/src/pki/issue.ts';
import type { RefusalRecord } from '../../apps/authz-server/src/storage/kv/recent-refusals.ts';
import { makeTestPki, startTestAuthz, type TestAuthz, type TestPki } from '../support/authz.ts';
import { https } from '../support/https.ts';
import { expectOAuthError } from '../support/oauth.ts';
import { privateRedisUnavailable, startPrivateRedis, type PrivateRedis } from '../support/private-stores.ts';

const SUBJECT = 'CN=ledger,O=Example Bank';
const REFUSAL = /^certificate subject "CN=someone else" does not match the registered tls_client_auth_subject_dn/;

describe('recent refusals while Redis is down', { skip: privateRedisUnavailable() ?? false }, () => {
  let pki: TestPki;
  let redis: PrivateRedis;
  let as: TestAuthz;
  let stranger: IssuedCertificate;

  const wrongCertificate = () => https(`${as.mtlsUrl}/token`, {
    ca: as.ca, identity: { cert: stranger.certPem, key: stranger.keyPem }, form: { grant_type: 'client_credentials', client_id: 'ledger' },
  });
  const refusals = () => as.admin.request('GET', '/refusals?client_id=ledger');

  /** Polls until `done`, under a deadline: recording is fire-and-forget. */
  async function eventually(done: () => Promise<boolean>, what: string): Promise<void> {
    const until = Date.now() + 10_000;
    while (!(await done())) {
      if (Date.now() > until) assert.fail(`${what}: not within 10 s`);
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  before(async () => {
    pki = await makeTestPki();
    stranger = await issueCertificate({ subject: 'CN=someone else', issuer: pki.clientRoot, days: 5 });
    redis = await startPrivateRedis();
    as = await startTestAuthz({ pki, storage: 'embedded', env: { REDIS_URL: redis.url } });
    const created = await as.admin.request('POST', '/clients', { json: { client_id: 'ledger', tls_client_auth_subject_dn: SUBJECT } });
    assert.equal(created.status, 201, created.text);
  });

  after(async () => {
    // The server's close unsubscribes its pub/sub channels, which fails while that connection is still
    // reconnecting to the restarted Redis: close once Redis lists a subscriber again.
    if (as !== undefined && redis !== undefined) {
      const raw = new Redis(redis.url, { lazyConnect: true });
      try {
        await raw.connect();
        await eventually(async () => /\bsub=[1-9]/.test(String(await raw.client('LIST'))), 'the subscriber reconnected');
      } finally {
        raw.disconnect();
      }
    }
    await as?.close();
    await redis?.stop();
  });

  it('records while Redis is up', async () => {
    expectOAuthError(await wrongCertificate(), 401, 'invalid_client', REFUSAL);
    await eventually(async () => (await refusals()).json.items?.length === 1, 'the refusal recorded');
  });

  it('with Redis stopped, the refusal is still answered as itself, and the failed writes are logged a bounded number of times', async () => {
    await redis.stop();
    const since = Date.now();
    for (let i = 0; i < 20; i++) {
      const started = performance.now();
      const res = await wrongCertificate();
      assert.ok(performance.now() - started < 5_000, 'answered without waiting for Redis');
      expectOAuthError(res, 401, 'invalid_client', REFUSAL);
    }
    const recent = () => as.logs.filter((l) => typeof l.time === 'number' && l.time >= since);
    // The failed writes are the outage's: logged by the outage log, one line a second per cause, not once more here.
    await eventually(async () => recent().some((l) => l.event === 'store_unavailable' && l.store === 'redis'), 'the outage logged');
    const lines = recent();
    assert.deepEqual(lines.filter((l) => l.event === 'recent_refusals_write_failed'), []);
    const outage = lines.filter((l) => l.event === 'store_unavailable');
    assert.ok(outage.length <= 10, `at most one line a second per cause: ${outage.length}`);
    assert.deepEqual(lines.filter((l) => l.status === 500 || l.error === 'server_error'), []);

    const listed = await refusals();
    expectOAuthError(listed, 503, 'temporarily_unavailable');
    assert.equal(listed.headers['retry-after'], '5');
  });

  it('records again once Redis is back', async () => {
    await redis.start();
    await eventually(async () => {
      const res = await wrongCertificate();
      if (res.status !== 401) return false;
      const listed = await refusals();
      return listed.status === 200 && (listed.json.items as unknown as RefusalRecord[]).some((r) => r.reason === 'certificate_subject');
    }, 'a refusal recorded after Redis restarted');
  });
});
