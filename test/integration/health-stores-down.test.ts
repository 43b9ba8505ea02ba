// GET /readyz (issue 12 item 2) when a store goes away and comes back, with a REAL PostgreSQL
// and a REAL Redis started for this test alone (the shared test stores are never stopped): 503
// with Retry-After naming the store that is down, on the public listener and the metrics port,
// and 200 again once it answers; /healthz stays 200 throughout (the process still serves).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeTestPki, startTestAuthz, type TestAuthz } from '../support/authz.ts';
import { https } from '../support/https.ts';
import { plainHttp } from '../support/prometheus.ts';
import {
  privatePostgresUnavailable, privateRedisUnavailable, startPrivatePostgres, startPrivateRedis, type PrivatePostgres, type PrivateRedis,
} from '../support/private-stores.ts';

const skip = privatePostgresUnavailable() ?? privateRedisUnavailable() ?? false;

async function eventually<T>(what: string, probe: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}; last: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('/readyz with a store down', { skip }, () => {
  let pg: PrivatePostgres;
  let redis: PrivateRedis;
  let as: TestAuthz;

  const readyz = async () => {
    const [pub, metrics] = await Promise.all([
      https(`${as.publicUrl}/readyz`, { ca: as.ca }),
      plainHttp(`http://127.0.0.1:${as.server.metricsPort}/readyz`),
    ]);
    return { pub: { status: pub.status, retryAfter: pub.headers['retry-after'], body: pub.text }, metrics: { status: metrics.status, retryAfter: metrics.headers['retry-after'], body: metrics.text } };
  };
  const healthz = async () => (await https(`${as.publicUrl}/healthz`, { ca: as.ca })).status;

  before(async () => {
    [pg, redis] = await Promise.all([startPrivatePostgres(), startPrivateRedis()]);
    as = await startTestAuthz({ pki: await makeTestPki(), storage: 'embedded', env: { DATABASE_URL: pg.url, REDIS_URL: redis.url } });
  });

  after(async () => {
    await as?.close().catch(() => undefined);
    await Promise.all([pg?.destroy(), redis?.stop()]);
  });

  it('is ready while both stores answer', async () => {
    const now = await readyz();
    for (const answer of [now.pub, now.metrics]) {
      assert.equal(answer.status, 200);
      assert.deepEqual(JSON.parse(answer.body), { status: 'ready' });
    }
  });

  it('answers 503 naming postgres while PostgreSQL is stopped, and 200 once it is back', async () => {
    await pg.stop();
    const down = await eventually('503 on both ports', readyz, (r) => r.pub.status === 503 && r.metrics.status === 503);
    for (const answer of [down.pub, down.metrics]) {
      assert.deepEqual(JSON.parse(answer.body), { status: 'unavailable', down: ['postgres'] });
      assert.equal(answer.retryAfter, '5');
    }
    assert.equal(await healthz(), 200);
    const downLines = as.logs.filter((l) => l.event === 'readiness_down' && l.store === 'postgres');
    assert.equal(downLines.length, 1, 'one log line for the outage, however often it is probed');
    await pg.start();
    const back = await eventually('200 on both ports', readyz, (r) => r.pub.status === 200 && r.metrics.status === 200);
    assert.deepEqual(JSON.parse(back.pub.body), { status: 'ready' });
    assert.equal(as.logs.filter((l) => l.event === 'readiness_up' && l.store === 'postgres').length, 1);
  });

  it('answers 503 naming redis while Redis is stopped, and 200 once it is back', async () => {
    await redis.stop();
    const down = await eventually('503 on both ports', readyz, (r) => r.pub.status === 503 && r.metrics.status === 503);
    for (const answer of [down.pub, down.metrics]) {
      assert.deepEqual(JSON.parse(answer.body), { status: 'unavailable', down: ['redis'] });
      assert.equal(answer.retryAfter, '5');
    }
    assert.equal(await healthz(), 200);
    await redis.start();
    await eventually('200 on both ports', readyz, (r) => r.pub.status === 200 && r.metrics.status === 200);
  });
});
