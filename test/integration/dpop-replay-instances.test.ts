// RFC 9449 §11.1 across instances: two authorization servers behind one name, sharing
// PostgreSQL, Redis and the key-encryption key, as a load balancer would front them. A nonce
// from one is good at the other (same HKDF-derived secret); a proof used at one is refused at
// the other (jti recorded in Redis with one atomic SET NX). Needs real stores.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { kvKeys } from '../../apps/authz-server/src/storage/kv/oidc-queries.ts';
import { makeTestPki, realStores, startTestAuthz, type TestAuthz } from '../support/authz.ts';
import { https } from '../support/https.ts';
import { expectOAuthError } from '../support/oauth.ts';
import { clientAssertion, dpopProof, testKey, type TestKey } from '../support/dpop.ts';

const RESOURCE = 'https://settlements.test';
const skip = !realStores.database || !realStores.redis
  ? 'needs real PostgreSQL and Redis shared by two instances: set TEST_DATABASE_URL and TEST_REDIS_URL'
  : false;

describe('DPoP replay detection across two instances sharing Redis and PostgreSQL', () => {
  if (skip) {
    it('runs against real stores', { skip }, () => {});
    return;
  }
  let a: TestAuthz;
  let b: TestAuthz;
  let clientKey: TestKey;
  let proofKey: TestKey;
  /** The one external name both instances serve (instance A's origin). */
  let tokenUrl: string;
  let host: string;

  /** POST to instance `to` as if through the load balancer: Host is the shared name. */
  async function post(to: TestAuthz, proof: string) {
    return https(`${to.publicUrl}/token`, {
      ca: to.ca,
      headers: { host, dpop: proof },
      form: { grant_type: 'client_credentials', ...await clientAssertion(clientKey, 'dpop-client', a.issuer) },
    });
  }

  before(async () => {
    const pki = await makeTestPki();
    const shared = { DATABASE_SCHEMA: `t_${randomBytes(6).toString('hex')}`, KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64') };
    a = await startTestAuthz({ pki, storage: 'real', env: shared });
    // One issuer for both, as behind a load balancer.
    b = await startTestAuthz({ pki, storage: 'real', env: { ...shared, ISSUER: a.issuer } });
    tokenUrl = `${a.publicUrl}/token`;
    host = new URL(a.publicUrl).host;
    clientKey = await testKey();
    proofKey = await testKey();
    await a.registerResource({ identifier: RESOURCE, scopes: ['settlements:read'] });
    await a.register({
      client_id: 'dpop-client', grant_types: ['client_credentials'], response_types: [], token_endpoint_auth_method: 'private_key_jwt',
      jwks: { keys: [{ ...clientKey.publicJwk, alg: 'ES256' }] }, dpop_bound_access_tokens: true, scope: 'settlements:read', default_resource: RESOURCE,
    });
  });

  after(async () => {
    await Promise.all([a?.close(), b?.close()]);
  });

  it('accepts at instance B a nonce that instance A issued', async () => {
    const challenge = await post(a, await dpopProof(proofKey, { htu: tokenUrl }));
    expectOAuthError(challenge, 400, 'use_dpop_nonce');
    const nonce = String(challenge.headers['dpop-nonce']);
    const res = await post(b, await dpopProof(proofKey, { htu: tokenUrl, nonce }));
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.token_type, 'DPoP');
  });

  it('refuses at instance B a proof already used at instance A, because the jti is in Redis', async () => {
    const nonce = String((await post(a, await dpopProof(proofKey, { htu: tokenUrl }))).headers['dpop-nonce']);
    const jti = `replayed-${randomBytes(8).toString('hex')}`;
    const proof = await dpopProof(proofKey, { htu: tokenUrl, nonce, jti });

    const first = await post(a, proof);
    assert.equal(first.status, 200, first.text);
    // oidc-provider records DPoP jtis per client: ReplayDetection:<sha256(client_id + jti)>.
    const id = createHash('sha256').update(`dpop-client${jti}`).digest('base64url');
    assert.ok(await b.server.stores.kv.get(kvKeys.entry('ReplayDetection', id)), 'instance B sees the jti instance A recorded');

    const replay = await post(b, proof);
    expectOAuthError(replay, 400, 'invalid_dpop_proof', 'DPoP proof jti has already been used');
    assert.equal(replay.json.access_token, undefined);
  });

  it('lets exactly one of two simultaneous uses of one proof through', async () => {
    const nonce = String((await post(a, await dpopProof(proofKey, { htu: tokenUrl }))).headers['dpop-nonce']);
    const proof = await dpopProof(proofKey, { htu: tokenUrl, nonce });
    const answers = await Promise.all([post(a, proof), post(b, proof), post(a, proof), post(b, proof)]);
    assert.equal(answers.filter((r) => r.status === 200).length, 1, answers.map((r) => `${r.status} ${r.json?.error}`).join(', '));
    for (const r of answers.filter((x) => x.status !== 200)) expectOAuthError(r, 400, 'invalid_dpop_proof');
  });
});
