// Store outages under load (issue 14 item 1): a real certbound process on a PostgreSQL and a Redis
// of this test's own (never the shared TEST_DATABASE_URL / TEST_REDIS_URL servers), four
// keep-alive callers asking for client_credentials tokens for a known mTLS client all along.
// PostgreSQL stopped 10 s: no failed token request for the known client (served from the cache,
// STALE_IF_ERROR), 503 temporarily_unavailable with Retry-After for an unknown client, a refresh
// grant and an admin write, at most 15 store log lines, and all back to normal after it returns.
// Redis stopped 10 s: DPoP token requests refused 503 (replay detection fails closed), no failed
// mTLS client_credentials, and after Redis returns a DPoP proof used before the outage is still
// refused (the replay record survived: durable-redis.ts keeps an append-only file). The outage
// lasts 10 s by the test's sleeps; every assertion is about outcomes, counted (and the outage in
// certbound_store_errors_total).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { importPKCS8 } from 'jose';
import { ensureDevPki, type DevPki } from '../../apps/authz-server/src/dev/pki.ts';
import { DEMO_RESOURCE } from '../../apps/authz-server/src/dev/registrations.ts';
import { demoDpopClientKeyFile } from '../../apps/authz-server/src/dev/dpop-demo-client.ts';
import { openStores, upsertClient } from '../../apps/authz-server/src/storage/index.ts';
import { clientAssertion, dpopProof, testKey, type TestKey } from '../support/dpop.ts';
import { freePort } from '../support/https.ts';
import { startProcess, type RunningProcess } from '../support/processes.ts';
import { privatePostgresUnavailable, privateRedisUnavailable, startPrivatePostgres, type PrivatePostgres } from '../support/private-stores.ts';
import { startDurableRedis, type DurableRedis } from './durable-redis.ts';

const skip = privatePostgresUnavailable() ?? privateRedisUnavailable();
const OUTAGE_MS = 10_000;
const CALLERS = 4;
/** A client that may use refresh tokens (registered before the server starts), authenticated by the demo certificate. */
const REFRESHER = 'fault-refresher';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

interface Identity {
  ca: string;
  cert?: string;
  key?: string;
}

interface PostOptions {
  agent?: Agent;
  headers?: Record<string, string>;
  json?: unknown;
}

function post(url: string, identity: Identity, form: Record<string, string>, opts: PostOptions = {}): Promise<Answer> {
  const body = opts.json === undefined ? new URLSearchParams(form).toString() : JSON.stringify(opts.json);
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: 'POST',
      ...(opts.agent ? { agent: opts.agent } : { agent: false, ca: identity.ca, cert: identity.cert, key: identity.key }),
      headers: { accept: 'application/json', 'content-type': opts.json === undefined ? 'application/x-www-form-urlencoded' : 'application/json', ...opts.headers },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: Record<string, unknown>;
        try { parsed = JSON.parse(text) as Record<string, unknown>; } catch { parsed = { text }; }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Four keep-alive callers of client_credentials for the known mTLS client; counts answers by status. */
class Load {
  readonly counts = new Map<string, number>();
  #running = true;
  readonly #loops: Promise<void>[] = [];
  readonly #agents: Agent[] = [];
  constructor(tokenUrl: string, identity: Identity) {
    for (let i = 0; i < CALLERS; i++) {
      const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: identity.ca, cert: identity.cert, key: identity.key });
      this.#agents.push(agent);
      this.#loops.push((async () => {
        while (this.#running) {
          const outcome = await post(tokenUrl, identity, { grant_type: 'client_credentials', client_id: 'demo-client', scope: 'settlements:read' }, { agent })
            .then((a) => (a.status === 200 && typeof a.body['access_token'] === 'string' ? 'ok' : `${a.status} ${String(a.body['error'])}`), (err: Error) => `network ${err.message}`);
          this.counts.set(outcome, (this.counts.get(outcome) ?? 0) + 1);
        }
      })());
    }
  }

  /** The counts so far, then counting afresh. */
  take(): Map<string, number> {
    const taken = new Map(this.counts);
    this.counts.clear();
    return taken;
  }

  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#loops);
    for (const agent of this.#agents) agent.destroy();
  }
}

function failures(counts: Map<string, number>): Record<string, number> {
  return Object.fromEntries([...counts].filter(([outcome]) => outcome !== 'ok'));
}

async function until<T>(what: string, attempt: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const value = await attempt();
      if (value !== undefined) return value;
    } catch (err) {
      last = err instanceof Error ? err.message : 'a failure';
    }
    await sleep(200);
  }
  assert.fail(`${what} did not happen within ${ms} ms${last ? `: ${last}` : ''}`);
}

function expectUnavailable(answer: Answer, what: string): void {
  assert.equal(answer.status, 503, `${what}: ${JSON.stringify(answer.body)}`);
  assert.equal(answer.body['error'], 'temporarily_unavailable', what);
  assert.match(String(answer.headers['retry-after']), /^\d+$/, `${what}: Retry-After`);
}

describe('store outages under load (real PostgreSQL, Redis and certbound processes)', { skip }, () => {
  let dir: string;
  let pg: PrivatePostgres | undefined;
  let redis: DurableRedis | undefined;
  let server: RunningProcess | undefined;
  let pki: DevPki;
  let ca: string;
  let demo: Identity;
  let admin: Identity;
  let tokenUrl: string;
  let adminUrl: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'certbound-faults-'));
    pg = await startPrivatePostgres();
    redis = await startDurableRedis();
    const dataDir = join(dir, '.data');
    pki = await ensureDevPki(dataDir);
    ca = await readFile(pki.caFile, 'utf8');
    demo = { ca, cert: await readFile(pki.demoClientCertFile, 'utf8'), key: await readFile(pki.demoClientKeyFile, 'utf8') };
    admin = { ca, cert: await readFile(pki.adminCertFile, 'utf8'), key: await readFile(pki.adminKeyFile, 'utf8') };
    // The schema, and a client allowed refresh tokens, before the server's own dev bootstrap.
    const stores = await openStores({ databaseUrl: pg.url, dataDir, sweep: false });
    await upsertClient(stores.sql, {
      client_id: REFRESHER,
      token_endpoint_auth_method: 'tls_client_auth',
      tls_client_auth_subject_dn: pki.demoClientSubjectDn,
      tls_client_certificate_bound_access_tokens: true,
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: ['https://localhost/callback'],
      resources: { [DEMO_RESOURCE]: ['settlements:read'] },
      default_resource: DEMO_RESOURCE,
    });
    await stores.close();
    const [publicPort, mtlsPort] = [await freePort(), await freePort()];
    server = await startProcess('apps/authz-server/src/main.ts', {
      PUBLIC_PORT: String(publicPort), MTLS_PORT: String(mtlsPort), DATA_DIR: dataDir, WORKERS: '1',
      DATABASE_URL: pg.url, REDIS_URL: redis.url, KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'), LOG_LEVEL: 'info',
    }, { ready: /"event":"listening"/, cwd: dir });
    tokenUrl = `https://localhost:${mtlsPort}/token`;
    adminUrl = `https://localhost:${mtlsPort}/admin/v1/clients`;
  });

  after(async () => {
    await server?.stop();
    await Promise.allSettled([pg?.destroy(), redis?.destroy()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** The sum of certbound_store_errors_total{store} on the metrics port. */
  async function storeErrorsCounted(store: string): Promise<number> {
    const listening = server!.logs().find((l) => l['event'] === 'metrics_listening');
    assert.ok(listening, 'the metrics port is listening');
    const text = await (await fetch(`${String(listening['metrics'])}`)).text();
    return text.split('\n').filter((line) => line.startsWith(`certbound_store_errors_total{store="${store}"`))
      .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
  }

  /** Store log lines (the outage log, and any server error) written since `since` (epoch ms). */
  function storeLines(since: number) {
    const lines = server!.logs().filter((l) => typeof l['time'] === 'number' && l['time'] >= since);
    return {
      store: lines.filter((l) => l['event'] === 'store_unavailable' || l['event'] === 'store_connection_error'),
      serverErrors: lines.filter((l) => l['status'] === 500 || l['error'] === 'server_error'),
    };
  }

  it('PostgreSQL stopped 10 s: known clients keep getting tokens; what needs the database gets 503, then all is back', async (t) => {
    const adminToken = await post(tokenUrl, admin, { grant_type: 'client_credentials', client_id: 'admin', scope: 'admin' });
    assert.equal(adminToken.status, 200, JSON.stringify(adminToken.body));
    const bearer = { authorization: `Bearer ${String(adminToken.body['access_token'])}` };
    const newClient = (id: string) => ({ client_id: id, tls_client_auth_subject_dn: `CN=${id},O=Faults`, resources: { [DEMO_RESOURCE]: ['settlements:read'] }, default_resource: DEMO_RESOURCE });
    const refresh = () => post(tokenUrl, demo, { grant_type: 'refresh_token', client_id: REFRESHER, refresh_token: randomBytes(32).toString('base64url') });
    const unknown = () => post(tokenUrl, demo, { grant_type: 'client_credentials', client_id: `unknown-${randomUUID()}` });
    // Before: the refresher is known to this instance (its refresh token is not).
    assert.equal((await refresh()).status, 400);

    const load = new Load(tokenUrl, demo);
    try {
      await until('the first tokens', async () => (load.counts.get('ok') ?? 0) >= 20 ? true : undefined);
      assert.deepEqual(failures(load.take()), {}, 'no failure before the outage');
      const since = Date.now();
      await pg!.stop();
      await sleep(1_000);
      expectUnavailable(await unknown(), 'an unknown client');
      expectUnavailable(await refresh(), 'a refresh grant');
      expectUnavailable(await post(adminUrl, admin, {}, { json: newClient('fault-during'), headers: bearer }), 'an admin write');
      await sleep(OUTAGE_MS - 1_000);
      const during = load.take();
      await pg!.start();
      // Back to normal: the database answers again for what needs it.
      await until('an unknown client refused by the database', async () => ((await unknown()).status === 401 ? true : undefined));
      assert.equal((await refresh()).body['error'], 'invalid_grant');
      const created = await post(adminUrl, admin, {}, { json: newClient('fault-after'), headers: bearer });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const afterwards = load.take();

      assert.deepEqual(failures(during), {}, 'no failed token request for the known client during the outage');
      assert.ok((during.get('ok') ?? 0) > 0, 'tokens were issued during the outage');
      assert.deepEqual(failures(afterwards), {}, 'none after it');
      const lines = storeLines(since);
      t.diagnostic(`during the outage: ${during.get('ok') ?? 0} tokens, ${lines.store.length} store log lines`);
      assert.ok(lines.store.length >= 1, 'the outage is logged');
      assert.ok(lines.store.length <= 15, `at most 15 store log lines, got ${lines.store.length}: ${JSON.stringify(lines.store.map((l) => [l['store'], l['cause'], l['suppressed']]))}`);
      assert.deepEqual(lines.serverErrors, [], 'no 500');
      assert.ok(await storeErrorsCounted('postgres') > 0, 'certbound_store_errors_total counts the outage');
    } finally {
      await load.stop();
    }
  });

  it('Redis stopped 10 s: DPoP requests refused 503, mTLS client_credentials unharmed, and a proof used before is still refused after', async (t) => {
    const signingKey = await importPKCS8(await readFile(demoDpopClientKeyFile(pki.dir), 'utf8'), 'ES256');
    const clientKey: TestKey = { privateKey: signingKey, publicJwk: {}, jkt: '' };
    const proofKey = await testKey();
    const dpopRequest = async (proof: string) => post(tokenUrl, { ca }, {
      grant_type: 'client_credentials', scope: 'settlements:read', ...await clientAssertion(clientKey, 'demo-dpop-client', tokenUrl),
    }, { headers: { dpop: proof } });
    // The nonce challenge (RFC 9449 §8), then a DPoP-bound token whose proof is kept.
    const challenge = await dpopRequest(await dpopProof(proofKey, { htu: tokenUrl }));
    assert.equal(challenge.body['error'], 'use_dpop_nonce', JSON.stringify(challenge.body));
    const nonce = String(challenge.headers['dpop-nonce']);
    const usedProof = await dpopProof(proofKey, { htu: tokenUrl, nonce });
    const first = await dpopRequest(usedProof);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body['token_type'], 'DPoP');

    const load = new Load(tokenUrl, demo);
    try {
      await until('the first tokens', async () => (load.counts.get('ok') ?? 0) >= 20 ? true : undefined);
      assert.deepEqual(failures(load.take()), {}, 'no failure before the outage');
      await redis!.stop();
      await sleep(1_000);
      expectUnavailable(await dpopRequest(await dpopProof(proofKey, { htu: tokenUrl, nonce })), 'a DPoP token request');
      await sleep(OUTAGE_MS - 1_000);
      const during = load.take();
      await redis!.start();
      await until('a DPoP token again', async () => ((await dpopRequest(await dpopProof(proofKey, { htu: tokenUrl, nonce }))).status === 200 ? true : undefined));
      const afterwards = load.take();

      t.diagnostic(`during the outage: ${during.get('ok') ?? 0} tokens`);
      assert.deepEqual(failures(during), {}, 'no failed mTLS client_credentials during the Redis outage');
      assert.ok((during.get('ok') ?? 0) > 0, 'tokens were issued during the outage');
      assert.deepEqual(failures(afterwards), {}, 'none after it');
      const replayed = await dpopRequest(usedProof);
      assert.equal(replayed.status, 400, JSON.stringify(replayed.body));
      assert.equal(replayed.body['error'], 'invalid_dpop_proof');
      assert.match(String(replayed.body['error_description']), /already been used/);
      assert.ok(await storeErrorsCounted('redis') > 0, 'certbound_store_errors_total counts the outage');
    } finally {
      await load.stop();
    }
  });
});
