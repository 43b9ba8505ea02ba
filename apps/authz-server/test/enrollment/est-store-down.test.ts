// The EST endpoints with PostgreSQL down (enrollment/est.ts): 503 with Retry-After and one log
// line per request, never a 500 or a hang; the answers that need no store (cacerts, csrattrs) still
// come. The endpoint runs in a bare Koa app with a SqlClient whose every call fails as a refused
// connection does.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import Koa from 'koa';
import { createEstEndpoints } from '../../src/enrollment/est.ts';
import { createIssuer } from '../../src/enrollment/issuer.ts';
import { createRevocationMarks } from '../../src/enrollment/revocations.ts';
import { createMemoryKv } from '../../src/storage/kv/memory.ts';
import { createLogger } from '../../src/log.ts';
import { issueCertificate } from '../../src/pki/issue.ts';
import { x5tS256 } from '../../src/mtls/thumbprint.ts';
import type { SqlClient } from '../../src/storage/sql.ts';
import type { VerdictCache } from '../../src/mtls/connection-verdict.ts';

const down = (): Promise<never> => Promise.reject(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }));
const deadSql: SqlClient = { query: down, exec: down, transaction: down, session: down, close: async () => undefined };

describe('EST with the store down', () => {
  let server: Server;
  let base: string;
  const logs: Array<Record<string, unknown>> = [];

  before(async () => {
    const root = await issueCertificate({ subject: 'CN=r', ca: true, days: 2 });
    const ca = await issueCertificate({ subject: 'CN=i', issuer: root, ca: true, pathLength: 0, days: 2 });
    const logger = createLogger('info', new Writable({ write(chunk, _e, done) { for (const l of String(chunk).split('\n')) if (l) logs.push(JSON.parse(l) as Record<string, unknown>); done(); } }));
    const issuer = createIssuer({
      ca: { issued: ca, cert: ca.cert, x5t: x5tS256(ca.cert), chain: [root.cert] }, sql: deadSql, marks: createRevocationMarks(createMemoryKv()),
      urls: { crl: 'https://localhost/.well-known/est/crl', caIssuers: 'https://localhost/.well-known/est/cacerts' }, defaultTtl: 3600,
      invalidateClient: async () => undefined, revokeGrant: async () => undefined,
    });
    const app = new Koa();
    // as the mutual-TLS listener marks its requests (http/listeners.ts)
    app.use(async (ctx, next) => {
      (ctx.req as unknown as Record<symbol, string>)[Symbol.for('certbound.listener')] = 'mtls';
      await next();
    });
    app.use(createEstEndpoints({
      issuer, sql: deadSql, logger, source: { fromRequest: () => undefined, ignoredProxyHeaders: 0 },
      verdicts: {} as VerdictCache, minRsaBits: 2048, maxFailures: 5,
    }));
    const handle = app.callback();
    server = createServer((req, res) => void handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/est`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('simpleenroll and crl: 503 temporarily_unavailable with Retry-After, one log line each', async () => {
    const before = logs.filter((l) => l.event === 'est_store_unavailable').length;
    const enroll = await fetch(`${base}/simpleenroll`, {
      method: 'POST', body: 'AAAA', headers: { 'content-type': 'application/pkcs10', authorization: `Basic ${Buffer.from('c:code').toString('base64')}` },
    });
    const crl = await fetch(`${base}/crl`);
    for (const res of [enroll, crl]) {
      assert.equal(res.status, 503);
      assert.equal(res.headers.get('retry-after'), '5');
      assert.equal(((await res.json()) as { error: string }).error, 'temporarily_unavailable');
    }
    assert.equal(logs.filter((l) => l.event === 'est_store_unavailable').length - before, 2);
  });

  it('cacerts and csrattrs need no store: 200', async () => {
    assert.equal((await fetch(`${base}/cacerts`)).status, 200);
    assert.equal((await fetch(`${base}/csrattrs`)).status, 200);
  });
});
