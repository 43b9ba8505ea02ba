// ops/mtls-check.ts on the server's real listeners (http/listeners.ts, real TLS) with its rate
// limit counted in a real Redis of its own: a Redis that goes down gets 503 with Retry-After and
// one log line for many requests, not a 500; the client store failing is a 503 too; and the
// per-address limit answers 429 with Retry-After. The shared test Redis is never stopped: this
// file starts a private redis-server on a free port.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import Koa from 'koa';
import { createCertificateSource } from '@certbound/cnf-verifier';
import { createMtlsCheck } from '../../src/ops/mtls-check.ts';
import { startListeners, type Listeners } from '../../src/http/listeners.ts';
import { loadTrustStore } from '../../src/mtls/trust-store.ts';
import { createMemoryRateLimits, openRedisRateLimits, type RateLimits } from '../../src/storage/kv/rate-limits.ts';
import { issueCertificate } from '../../src/pki/issue.ts';
import { makeTestPki, type TestPki } from '../../../../test/support/authz.ts';
import { freePort, https } from '../../../../test/support/https.ts';

const REDIS_SERVER = '/usr/bin/redis-server';

interface Logged { level: string; line: Record<string, unknown> }

async function startPrivateRedis(): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 10_000);
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${out}`)));
  });
  child.stdout.resume();
  return { url: `redis://127.0.0.1:${port}/0`, child };
}

describe('ops/mtls-check.ts: stores down and the rate limit', { skip: existsSync(REDIS_SERVER) ? false : `${REDIS_SERVER} is not installed (Debian package redis-server)` }, () => {
  let pki: TestPki;
  let redis: { url: string; child: ChildProcess };
  let limits: RateLimits;
  const logged: Logged[] = [];
  const logger = {
    info: (line: Record<string, unknown>) => void logged.push({ level: 'info', line }),
    warn: (line: Record<string, unknown>) => void logged.push({ level: 'warn', line }),
  };
  let clientStoreDown = false;
  const servers: Listeners[] = [];
  let leaf: { cert: string; key: string };

  async function serve(rateLimits: RateLimits, limit?: { points: number; windowSeconds: number }): Promise<string> {
    const app = new Koa();
    app.use(createMtlsCheck({
      source: createCertificateSource(),
      trustStore: () => loadTrustStore(pki.clientRoot.certPem, 'client-ca.pem'),
      rateLimits,
      findClient: async (id) => {
        if (clientStoreDown) throw new Error('connection refused');
        return id === 'ledger' ? { tls_client_auth_subject_dn: 'CN=ledger' } : undefined;
      },
      logger: logger as never,
      ...(limit ? { limit } : {}),
    }));
    const handle = app.callback(); // Koa answers its own errors: the promise does not reject
    const listeners = await startListeners({
      host: '127.0.0.1', publicPort: 0, mtlsPort: 0,
      tls: { cert: pki.server.certPem, key: pki.server.keyPem, clientCa: pki.clientRoot.certPem },
      handler: (req, res) => void handle(req, res),
    });
    servers.push(listeners);
    return `https://localhost:${listeners.mtlsPort}`;
  }

  before(async () => {
    pki = await makeTestPki();
    const issued = await issueCertificate({ subject: 'CN=ledger', issuer: pki.clientRoot, days: 5 });
    leaf = { cert: issued.certPem, key: issued.keyPem };
    redis = await startPrivateRedis();
    limits = await openRedisRateLimits(redis.url);
  });
  after(async () => {
    for (const listeners of servers) await listeners.close(100);
    await limits?.close();
    if (redis && redis.child.exitCode === null && redis.child.signalCode === null) {
      redis.child.kill('SIGKILL');
      await once(redis.child, 'exit');
    }
  });

  it('answers 200 while Redis counts, and 429 with Retry-After past the limit', async () => {
    const url = await serve(limits, { points: 3, windowSeconds: 60 });
    for (let i = 0; i < 3; i++) {
      const ok = await https(`${url}/mtls/check?client_id=ledger`, { ca: pki.serverCa.certPem, identity: leaf });
      assert.equal(ok.status, 200, ok.text);
      assert.equal(ok.json.ok, true, ok.text);
    }
    const refused = await https(`${url}/mtls/check`, { ca: pki.serverCa.certPem, identity: leaf });
    assert.equal(refused.status, 429);
    const retry = Number(refused.headers['retry-after']);
    assert.ok(retry >= 1 && retry <= 60, `Retry-After ${String(refused.headers['retry-after'])}`);
    assert.deepEqual(refused.json, { error: 'too_many_requests', error_description: refused.json.error_description });
  });

  it('a client store that fails gets 503 with Retry-After, not a 500', async () => {
    const url = await serve(createMemoryRateLimits());
    clientStoreDown = true;
    try {
      const answer = await https(`${url}/mtls/check?client_id=ledger`, { ca: pki.serverCa.certPem, identity: leaf });
      assert.equal(answer.status, 503, answer.text);
      assert.equal(answer.headers['retry-after'], '5');
      assert.equal(answer.json.error, 'temporarily_unavailable');
    } finally {
      clientStoreDown = false;
    }
  });

  it('Redis stopped: 503 with Retry-After, and one log line for several requests', async () => {
    const url = await serve(limits, { points: 1000, windowSeconds: 60 });
    const before = logged.filter((l) => l.line.event === 'mtls_check_store_down' && l.line.store === 'rate-limit store').length;
    redis.child.kill('SIGKILL');
    await once(redis.child, 'exit');
    for (let i = 0; i < 3; i++) {
      const answer = await https(`${url}/mtls/check`, { ca: pki.serverCa.certPem, identity: leaf });
      assert.equal(answer.status, 503, answer.text);
      assert.equal(answer.headers['retry-after'], '5');
      assert.match(answer.json.error_description, /rate-limit store is unavailable/);
    }
    const lines = logged.filter((l) => l.line.event === 'mtls_check_store_down' && l.line.store === 'rate-limit store').length - before;
    assert.equal(lines, 1, 'one store-down line for 3 requests');
  });
});
