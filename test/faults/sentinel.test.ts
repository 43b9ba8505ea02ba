// certbound on Redis Sentinel (issue 14 item 3): a primary/replica pair of private redis-server
// processes watched by three real redis-sentinel processes (own loopback ports; the shared Redis
// of TEST_REDIS_URL is never touched). certbound finds the primary through the sentinels
// (REDIS_SENTINELS + REDIS_SENTINEL_NAME); the primary is killed (SIGKILL) under load and the
// sentinels promote the replica. The guarantee under test: replay detection survives the
// failover. Every DPoP proof and client assertion accepted before or during it is refused when
// replayed after it (or the replay fails closed with 503): never accepted twice. That holds
// because a replay record is acknowledged by the replica (REDIS_WAIT_REPLICAS, default 1 on
// Sentinel: WAIT 1 500) before the request is accepted; an unacknowledged record fails the
// request closed. mTLS client_credentials serves again once the replica is promoted.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { kvKeys } from '../../apps/authz-server/src/storage/kv/oidc-queries.ts';
import { issueCertificate } from '../support/pki.ts';
import { makeTestPki, startTestAuthz, type TestAuthz } from '../support/authz.ts';
import { https, type HttpsAnswer, type TlsIdentity } from '../support/https.ts';
import { clientAssertion, dpopProof, testKey, type TestKey } from '../support/dpop.ts';
import { redisServersUnavailable, startSentinelDeployment, waitFor, type SentinelDeployment } from '../support/redis-servers.ts';

const RESOURCE = 'https://settlements.sentinel.test';
const skip = redisServersUnavailable(true) ?? false;

/** One DPoP token request, kept whole so it can be sent again byte for byte. */
interface SentRequest {
  proof: string;
  proofJti: string;
  form: Record<string, string>;
  answer: HttpsAnswer | { status: 0; error: string };
}

describe('certbound on Redis Sentinel: failover keeps replay detection', { skip }, () => {
  let deployment: SentinelDeployment;
  let authz: TestAuthz;
  let clientKey: TestKey;
  let proofKey: TestKey;
  let mtlsIdentity: TlsIdentity;
  let tokenUrl: string;
  let nonce = '';
  /** Messages on a channel subscribed before the failover (client-cache invalidation rides pub/sub). */
  const heard: string[] = [];

  async function send(request: Omit<SentRequest, 'answer'>): Promise<SentRequest> {
    try {
      const answer = await https(tokenUrl, { ca: authz.ca, headers: { dpop: request.proof }, form: request.form });
      return { ...request, answer };
    } catch (err) {
      return { ...request, answer: { status: 0, error: (err as Error).message } };
    }
  }

  /** A fresh proof and a fresh client assertion, with the last nonce the server gave. */
  async function dpopRequest(): Promise<SentRequest> {
    const proofJti = randomUUID();
    const proof = await dpopProof(proofKey, { htu: tokenUrl, nonce, jti: proofJti });
    const form = { grant_type: 'client_credentials', ...await clientAssertion(clientKey, 'dpop-client', authz.issuer) };
    const sent = await send({ proof, proofJti, form });
    const fresh = 'headers' in sent.answer ? sent.answer.headers['dpop-nonce'] : undefined;
    if (typeof fresh === 'string') nonce = fresh;
    return sent;
  }

  async function mtlsToken(): Promise<number> {
    try {
      const res = await https(`${authz.mtlsUrl}/token`, { ca: authz.ca, identity: mtlsIdentity, form: { grant_type: 'client_credentials', client_id: 'mtls-client' } });
      return res.status;
    } catch {
      return 0;
    }
  }

  /** The same DPoP proof with a fresh client assertion: only the proof's replay record can refuse it. */
  async function replayProof(request: SentRequest): Promise<SentRequest> {
    return send({ ...request, form: { grant_type: 'client_credentials', ...await clientAssertion(clientKey, 'dpop-client', authz.issuer) } });
  }

  const replayKey = (jti: string) => kvKeys.entry('ReplayDetection', createHash('sha256').update(`dpop-client${jti}`).digest('base64url'));

  before(async () => {
    deployment = await startSentinelDeployment({ sentinels: 3, downAfterMs: 1000 });
    const pki = await makeTestPki();
    authz = await startTestAuthz({
      pki,
      storage: 'embedded',
      env: { REDIS_URL: '', REDIS_SENTINELS: deployment.sentinels, REDIS_SENTINEL_NAME: deployment.name },
    });
    tokenUrl = `${authz.publicUrl}/token`;
    clientKey = await testKey();
    proofKey = await testKey();
    await authz.registerResource({ identifier: RESOURCE, scopes: ['settlements:read'] });
    await authz.register({
      client_id: 'dpop-client', grant_types: ['client_credentials'], response_types: [], token_endpoint_auth_method: 'private_key_jwt',
      jwks: { keys: [{ ...clientKey.publicJwk, alg: 'ES256' }] }, dpop_bound_access_tokens: true, scope: 'settlements:read', default_resource: RESOURCE,
    });
    const cert = await issueCertificate({ subject: 'CN=sentinel partner,O=certbound tests', issuer: pki.clientRoot, days: 2 });
    mtlsIdentity = { cert: cert.certPem, key: cert.keyPem };
    await authz.register({
      client_id: 'mtls-client', grant_types: ['client_credentials'], response_types: [], token_endpoint_auth_method: 'tls_client_auth',
      tls_client_auth_subject_dn: cert.subject, scope: 'settlements:read', default_resource: RESOURCE,
    });
  });

  after(async () => {
    await authz?.close();
    await deployment?.stop();
  });

  it('serves through the primary the sentinels name, and a replay record is on the replica before the token is issued', async () => {
    assert.equal(await deployment.primaryPort(), deployment.primary.port);
    await dpopRequest(); // the nonce challenge
    const sent = await dpopRequest();
    assert.equal(sent.answer.status, 200, JSON.stringify(sent.answer));
    const replica = new Redis({ host: '127.0.0.1', port: deployment.replica.port, lazyConnect: true });
    await replica.connect();
    try {
      // No waiting here: WAIT 1 made the replica acknowledge the record before the answer left.
      assert.ok(await replica.get(replayKey(sent.proofJti)), 'the replica holds the proof\'s replay record');
    } finally {
      replica.disconnect();
    }
    // The whole request again: the client assertion's jti is refused first ...
    const replay = await send(sent);
    assert.equal(replay.answer.status, 401, JSON.stringify(replay.answer));
    assert.match(JSON.stringify(replay.answer), /must only be used once/);
    // ... and the proof with a fresh assertion: the DPoP jti is refused.
    const proofReplay = await replayProof(sent);
    assert.equal(proofReplay.answer.status, 400, JSON.stringify(proofReplay.answer));
    assert.match(JSON.stringify(proofReplay.answer), /invalid_dpop_proof.*already been used/);
    assert.equal(await mtlsToken(), 200);
    const { kv } = authz.server.stores;
    await kv.subscribe!('sentinel-test', (message) => heard.push(message));
    await kv.publish!('sentinel-test', 'before');
    await waitFor('a published message', async () => heard.includes('before'));
  });

  it('kills the primary under load: no proof accepted before or during the failover is accepted again after it', async () => {
    const sent: SentRequest[] = [];
    const mtls: number[] = [];
    let loading = true;
    const dpopLoad = async () => {
      while (loading) sent.push(await dpopRequest());
    };
    const mtlsLoad = async () => {
      while (loading) mtls.push(await mtlsToken());
    };
    const load = Promise.all([dpopLoad(), dpopLoad(), mtlsLoad()]);
    let promotedAt = 0;
    let restartedAt = 0;
    let mtlsPromotedAt = 0;
    try {
      await waitFor('some tokens under load before the failover', async () => sent.filter((s) => s.answer.status === 200).length >= 5);
      const oldPrimary = deployment.primary;
      await oldPrimary.kill();
      await waitFor('the sentinels to promote the replica', async () => (await deployment.primaryPort()) === deployment.replica.port, 30_000);
      promotedAt = sent.length;
      mtlsPromotedAt = mtls.length;
      await waitFor('mTLS client_credentials on the promoted replica', async () => mtls.slice(mtlsPromotedAt).includes(200), 30_000);
      // The promoted primary has no replica left: a replay record cannot be acknowledged, so
      // DPoP fails closed until the old primary is back (the sentinels make it a replica).
      await waitFor('DPoP requests refused while no replica can acknowledge', async () => sent.slice(promotedAt).filter((s) => s.answer.status !== 200).length >= 3, 30_000);
      deployment.primary = await oldPrimary.restart();
      restartedAt = sent.length;
      await waitFor('DPoP tokens again once the old primary is a replica', async () => sent.slice(restartedAt).some((s) => s.answer.status === 200), 30_000);
    } finally {
      loading = false;
      await load;
    }

    const statuses = (list: SentRequest[]) => list.map((s) => s.answer.status).join(',');
    const accepted = sent.filter((s) => s.answer.status === 200);
    for (const s of sent) {
      // Failing closed is allowed (503, or a connection cut while the primary died); a 500 is not.
      assert.ok([0, 200, 503].includes(s.answer.status), `unexpected answer around the failover: ${JSON.stringify(s.answer).slice(0, 400)}`);
    }
    const withoutReplica = sent.slice(promotedAt, restartedAt);
    assert.ok(withoutReplica.some((s) => s.answer.status === 503), `DPoP while no replica could acknowledge: ${statuses(withoutReplica)}`);

    // The new primary holds the record of every proof accepted before, during and after ...
    const promoted = new Redis({ host: '127.0.0.1', port: deployment.replica.port, lazyConnect: true });
    await promoted.connect();
    try {
      const missing = [];
      for (const s of accepted) if (!await promoted.get(replayKey(s.proofJti))) missing.push(s.proofJti);
      assert.deepEqual(missing, [], `replay records of accepted proofs lost in the failover (${missing.length} of ${accepted.length})`);
    } finally {
      promoted.disconnect();
    }
    // ... and certbound refuses each of those proofs again (with a fresh client assertion).
    for (const s of accepted) {
      const replay = await replayProof(s);
      assert.ok(replay.answer.status === 400 || replay.answer.status === 503, `a replay of a proof accepted around the failover got ${JSON.stringify(replay.answer).slice(0, 300)}`);
      if (replay.answer.status === 400) assert.match(JSON.stringify(replay.answer), /invalid_dpop_proof.*already been used/);
    }
    // Pub/sub follows the primary: the subscription made before the failover hears a message now.
    let n = 0;
    await waitFor('a message published after the failover', async () => {
      await authz.server.stores.kv.publish!('sentinel-test', `after-${n++}`).catch(() => undefined);
      return heard.some((m) => m.startsWith('after-'));
    }, 30_000);
    const mtlsAfter = mtls.slice(mtlsPromotedAt);
    assert.ok(mtlsAfter.includes(200), `mTLS client_credentials after the failover: ${mtlsAfter.join(',')}`);
  });
});
