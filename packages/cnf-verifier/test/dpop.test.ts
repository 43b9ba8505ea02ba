import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createMemoryReplayStore, createRedisReplayStore, createVerifier, jwkThumbprint, TemporarilyUnavailableError, type ReplayStore, type Verifier, type VerifierOptions } from '@certbound/cnf-verifier';
import { call, expectOAuthError, rawRequest, serve, type Reply, type Served } from './helpers/http.ts';
import { accessToken, AUDIENCE, dpopProof, ISSUER, nowSeconds, proofKey, signingKey, type ProofInput, type ProofKey, type SigningKey } from './helpers/tokens.ts';

const ALGS = 'algs="ES256 PS256 EdDSA"';
const proofError = (d: string) => `DPoP error="invalid_dpop_proof", error_description="${d}", ${ALGS}, Bearer`;
const dpopTokenError = (d: string) => `DPoP error="invalid_token", error_description="${d}", ${ALGS}, Bearer`;

describe('RFC 9449 DPoP-bound access tokens', () => {
  let key: SigningKey;
  let client: ProofKey;
  let token: string;
  let served: Served;
  const secret = 'a nonce secret that is at least thirty-two bytes long';

  const start = async (extra: Partial<VerifierOptions> = {}) => {
    await served?.close();
    served = await serve((origin) => createVerifier({ issuer: ISSUER, audience: AUDIENCE, origin, jwks: { keys: [key.publicJwk] }, ...extra }));
  };
  const htu = (path = '/settlements') => `${served.origin}${path}`;
  type SendInput = Partial<ProofInput> & { path?: string; method?: string; proofs?: string[]; scheme?: string; as?: ProofKey; at?: string };
  const send = async (input: SendInput = {}): Promise<Reply> => {
    const at = input.at ?? token;
    const proofs = input.proofs ?? [await dpopProof(input.as ?? client, { htu: htu('/settlements'), accessToken: at, ...input })];
    return call(htu(input.path ?? '/settlements'), {
      method: input.method ?? 'GET',
      headers: { authorization: `${input.scheme ?? 'DPoP'} ${at}`, ...(proofs.length ? { dpop: proofs.length === 1 ? proofs[0] : proofs } : {}) },
    });
  };

  before(async () => {
    key = await signingKey();
    client = await proofKey();
    token = await accessToken(key, { cnf: { jkt: await jwkThumbprint(client.jwk) } });
    await start();
  });
  after(() => served.close());

  describe('§4.3 proof checks', () => {
    it('accepts a valid proof', async () => {
      const reply = await send();
      assert.equal(reply.status, 200);
      assert.equal(reply.body.binding, 'dpop');
      assert.equal(served.handled.at(-1)!.dpopJkt, await jwkThumbprint(client.jwk));
    });

    it('refuses a replayed jti', async () => {
      const proof = await dpopProof(client, { htu: htu(), accessToken: token });
      assert.equal((await send({ proofs: [proof] })).status, 200);
      const d = 'DPoP proof jti has already been used';
      expectOAuthError(await send({ proofs: [proof] }), 401, 'invalid_dpop_proof', d, proofError(d));
    });

    it('refuses a jti replayed on another instance sharing the store', async () => {
      const store = createMemoryReplayStore();
      const options = { issuer: ISSUER, audience: AUDIENCE, origin: AUDIENCE, jwks: { keys: [key.publicJwk] }, trustedProxies: ['127.0.0.1'], proxyHeader: 'nginx' as const, dpop: { replayStore: store } };
      await expectCrossInstanceReplay(createVerifier(options), createVerifier(options), client, token);
    });

    it('refuses a wrong htm', async () => {
      const d = 'DPoP proof htm does not match the request method';
      expectOAuthError(await send({ htm: 'POST' }), 401, 'invalid_dpop_proof', d, proofError(d));
    });

    it('refuses a wrong htu', async () => {
      const d = 'DPoP proof htu does not match the request URL';
      expectOAuthError(await send({ htu: htu('/other') }), 401, 'invalid_dpop_proof', d, proofError(d));
      expectOAuthError(await send({ htu: 'https://evil.test/settlements' }), 401, 'invalid_dpop_proof', d, proofError(d));
    });

    it('ignores query and fragment in htu, and normalises scheme and host case', async () => {
      assert.equal((await send({ path: '/settlements?page=2', htu: htu('/settlements') })).status, 200);
      assert.equal((await send({ path: '/settlements?page=2', htu: htu('/settlements?page=3#x') })).status, 200);
      assert.equal((await send({ htu: htu('/settlements').replace('http://', 'HTTP://') })).status, 200);
    });

    it('refuses an iat outside the window', async () => {
      const d = 'DPoP proof iat is outside the acceptable window';
      expectOAuthError(await send({ iat: nowSeconds() - 120 }), 401, 'invalid_dpop_proof', d, proofError(d));
      expectOAuthError(await send({ iat: nowSeconds() + 60 }), 401, 'invalid_dpop_proof', d, proofError(d));
    });

    it('refuses an ath that is not the hash of the access token', async () => {
      const other = await accessToken(key, { cnf: { jkt: await jwkThumbprint(client.jwk) } });
      const proof = await dpopProof(client, { htu: htu(), accessToken: other });
      const d = 'DPoP proof ath does not match the access token';
      expectOAuthError(await send({ proofs: [proof] }), 401, 'invalid_dpop_proof', d, proofError(d));
    });

    it('refuses a proof without ath', async () => {
      const proof = await dpopProof(client, { htu: htu() });
      const d = 'DPoP proof ath claim is missing';
      expectOAuthError(await send({ proofs: [proof] }), 401, 'invalid_dpop_proof', d, proofError(d));
    });

    it('refuses a proof key other than cnf.jkt (invalid_token on the DPoP challenge)', async () => {
      const d = 'DPoP proof key does not match the access token cnf.jkt';
      expectOAuthError(await send({ as: await proofKey() }), 401, 'invalid_token', d, dpopTokenError(d));
    });

    it('refuses private key material in the proof jwk', async () => {
      const d = 'DPoP proof jwk must not contain private key material';
      expectOAuthError(await send({ jwk: client.privateJwk }), 401, 'invalid_dpop_proof', d, proofError(d));
      expectOAuthError(await send({ jwk: { ...client.jwk, k: 'c2VjcmV0' } }), 401, 'invalid_dpop_proof', d, proofError(d));
      // every RFC 7518 / RFC 8037 private member, and the AKP (ML-DSA) draft's priv
      for (const member of ['p', 'q', 'dp', 'dq', 'qi', 'oth', 'priv']) {
        expectOAuthError(await send({ jwk: { ...client.jwk, [member]: 'c2VjcmV0' } }), 401, 'invalid_dpop_proof', d, proofError(d));
      }
    });

    it('refuses a typ other than dpop+jwt', async () => {
      const d = 'DPoP proof typ must be dpop+jwt';
      expectOAuthError(await send({ typ: 'JWT' }), 401, 'invalid_dpop_proof', d, proofError(d));
    });

    it('refuses an algorithm outside the allow-list', async () => {
      const d = 'DPoP proof alg ES384 is not allowed';
      expectOAuthError(await send({ as: await proofKey('ES384'), alg: 'ES384' }), 401, 'invalid_dpop_proof', d, proofError(d));
    });

    it('refuses a proof signed by another key than its jwk', async () => {
      const d = 'DPoP proof signature is invalid';
      expectOAuthError(await send({ as: await proofKey(), jwk: client.jwk }), 401, 'invalid_dpop_proof', d, proofError(d));
    });

    it('refuses a proof without jti', async () => {
      const d = 'DPoP proof jti claim is missing';
      expectOAuthError(await send({ omit: ['jti'] }), 401, 'invalid_dpop_proof', d, proofError(d));
    });
  });

  describe('§4.3 step 9 htu: the configured origin, never Host or an absolute-form authority', () => {
    const d = 'DPoP proof htu does not match the request URL';
    const attacker = 'https://attacker.example';

    it('refuses a proof for an attacker host sent with a matching forged Host header', async () => {
      const handled = served.handled.length;
      const proof = await dpopProof(client, { htu: `${attacker}/settlements`, accessToken: token });
      const reply = await call(htu(), { headers: { authorization: `DPoP ${token}`, dpop: proof, host: 'attacker.example' } });
      expectOAuthError(reply, 401, 'invalid_dpop_proof', d, proofError(d));
      assert.equal(served.handled.length, handled);
    });

    it('refuses it with an absolute-form request target naming the attacker host', async () => {
      const proof = await dpopProof(client, { htu: `${attacker}/settlements`, accessToken: token });
      const reply = await rawRequest(served.origin, `GET ${attacker}/settlements HTTP/1.1\r\nHost: attacker.example\r\nAuthorization: DPoP ${token}\r\nDPoP: ${proof}\r\nConnection: close\r\n\r\n`);
      expectOAuthError(reply, 401, 'invalid_dpop_proof', d, proofError(d));
    });

    it('ignores X-Forwarded-Host and -Proto (the origin is configured, not forwarded)', async () => {
      const proof = await dpopProof(client, { htu: `${attacker}/settlements`, accessToken: token });
      const reply = await call(htu(), { headers: { authorization: `DPoP ${token}`, dpop: proof, 'x-forwarded-host': 'attacker.example', 'x-forwarded-proto': 'https' } });
      expectOAuthError(reply, 401, 'invalid_dpop_proof', d, proofError(d));
    });

    it('accepts a proof for the configured origin whatever Host says, and the path of an absolute-form target', async () => {
      const forged = await call(htu(), { headers: { authorization: `DPoP ${token}`, dpop: await dpopProof(client, { htu: htu(), accessToken: token }), host: 'attacker.example' } });
      assert.equal(forged.status, 200);
      const proof = await dpopProof(client, { htu: htu(), accessToken: token });
      const absolute = await rawRequest(served.origin, `GET ${attacker}/settlements?x=1 HTTP/1.1\r\nHost: attacker.example\r\nAuthorization: DPoP ${token}\r\nDPoP: ${proof}\r\nConnection: close\r\n\r\n`);
      assert.equal(absolute.status, 200);
    });

    it('accepts any of several configured origins, and takes only the path of a url override', async () => {
      const verifier = createVerifier({ issuer: ISSUER, audience: AUDIENCE, origin: ['https://api.certbound.test', 'https://internal.certbound.test:8443'], jwks: { keys: [key.publicJwk] } });
      const request = async (proofHtu: string, overrides = {}) => verifier.verify({
        method: 'GET', url: '/settlements', headers: { host: 'attacker.example', authorization: `DPoP ${token}`, dpop: await dpopProof(client, { htu: proofHtu, accessToken: token }) }, socket: {} as never,
      }, overrides);
      assert.equal((await request('https://api.certbound.test/settlements')).binding, 'dpop');
      assert.equal((await request('https://INTERNAL.certbound.test:8443/settlements')).binding, 'dpop');
      await assert.rejects(request('https://attacker.example/settlements'), { code: 'invalid_dpop_proof', message: d });
      await assert.rejects(request('https://attacker.example/v1/settlements', { url: 'https://attacker.example/v1/settlements' }), { code: 'invalid_dpop_proof', message: d });
      assert.equal((await request('https://api.certbound.test/v1/settlements', { url: 'https://attacker.example/v1/settlements' })).binding, 'dpop');
    });
  });

  describe('§11.1 a full in-memory replay store refuses, never forgets', () => {
    it('answers 503 temporarily_unavailable with Retry-After, counts it, and still refuses a replay of an early proof', async () => {
      let clock = Date.now();
      const store = createMemoryReplayStore({ maxEntries: 2, now: () => clock });
      await start({ now: () => clock, dpop: { replayStore: store } });
      try {
        const iat = () => Math.floor(clock / 1000);
        const early = await dpopProof(client, { htu: htu(), accessToken: token, iat: iat() });
        assert.equal((await send({ proofs: [early] })).status, 200);
        clock += 10_000;
        assert.equal((await send({ iat: iat() })).status, 200);
        assert.equal(store.size, 2);

        const handled = served.handled.length;
        const full = await send({ iat: iat() });
        assert.equal(full.status, 503);
        assert.deepEqual(full.body, { error: 'temporarily_unavailable', error_description: 'DPoP replay store is full; retry later' });
        // The early proof was recorded for (60 + 5 + 1) s; 10 s have passed.
        assert.equal(full.headers['retry-after'], '56');
        assert.equal(full.headers['cache-control'], 'no-store');
        assert.equal(full.headers['www-authenticate'], undefined);
        assert.equal(served.handled.length, handled);
        assert.equal(store.refusedWhenFull, 1);
        assert.equal(served.verifier.replayStoreFullRefusals, 1);

        const replay = 'DPoP proof jti has already been used';
        expectOAuthError(await send({ proofs: [early] }), 401, 'invalid_dpop_proof', replay, proofError(replay));

        // Once the early proof has expired, its slot is free again (and the proof is too old to use).
        clock += 56_000;
        assert.equal((await send({ iat: iat() })).status, 200);
        const old = 'DPoP proof iat is outside the acceptable window';
        expectOAuthError(await send({ proofs: [early] }), 401, 'invalid_dpop_proof', old, proofError(old));
      } finally {
        await start();
      }
    });

    it('throws a TemporarilyUnavailableError from the store itself, with at least 1 s to wait', async () => {
      let clock = 1_000_000;
      const store = createMemoryReplayStore({ maxEntries: 1, now: () => clock });
      assert.equal(await store.add('a', 1_500), true);
      assert.equal(await store.add('a', 1_500), false);
      clock += 1_400;
      await assert.rejects(store.add('b', 1_500), (err: unknown) =>
        err instanceof TemporarilyUnavailableError && err.status === 503 && err.code === 'temporarily_unavailable' && err.retryAfter === 1 && err.headers['retry-after'] === '1');
      assert.equal(await store.add('a', 1_500), false, 'a is still remembered');
      clock += 100;
      assert.equal(await store.add('b', 1_500), true);
      assert.equal(store.refusedWhenFull, 1);
      assert.throws(() => createMemoryReplayStore({ maxEntries: 0 }), { name: 'TypeError', message: 'maxEntries: must be a positive integer' });
    });
  });

  describe('malformed DPoP headers only produce typed errors', () => {
    it('refuses two DPoP headers', async () => {
      const a = await dpopProof(client, { htu: htu(), accessToken: token });
      const b = await dpopProof(client, { htu: htu(), accessToken: token });
      const d = 'exactly one DPoP header is allowed';
      expectOAuthError(await send({ proofs: [a, b] }), 401, 'invalid_dpop_proof', d, proofError(d));
    });

    it('refuses a missing proof', async () => {
      const d = 'DPoP proof is missing';
      expectOAuthError(await send({ proofs: [] }), 401, 'invalid_dpop_proof', d, proofError(d));
    });

    for (const garbage of ['abc', 'a.b.c', '!!!.???.***', 'eyJhbGciOiJFUzI1NiJ9.e30']) {
      it(`refuses the proof ${JSON.stringify(garbage)}`, async () => {
        const d = 'DPoP proof is not a JWT';
        expectOAuthError(await send({ proofs: [garbage] }), 401, 'invalid_dpop_proof', d, proofError(d));
      });
    }
  });

  describe('§7.1 and §7.2 schemes', () => {
    it('refuses a DPoP-bound token sent with the Bearer scheme', async () => {
      const d = 'DPoP-bound access token presented with the Bearer scheme';
      expectOAuthError(await send({ scheme: 'Bearer' }), 401, 'invalid_token', d, `Bearer error="invalid_token", error_description="${d}", DPoP ${ALGS}`);
    });

    it('refuses an unbound token sent with the DPoP scheme', async () => {
      const unbound = await accessToken(key);
      const d = 'access token is not DPoP-bound';
      expectOAuthError(await send({ at: unbound }), 401, 'invalid_token', d, dpopTokenError(d));
    });

    it('offers no DPoP challenge when DPoP is disabled', async () => {
      await start({ dpop: false });
      try {
        const d = 'DPoP is not accepted by this resource server';
        expectOAuthError(await send(), 401, 'invalid_token', d, `Bearer error="invalid_token", error_description="${d}"`);
      } finally {
        await start();
      }
    });
  });

  describe('§9 resource server nonces', () => {
    // Ten seconds into a nonce window; the token outlives the two windows the test walks through.
    let clock = Math.floor(Date.now() / 300_000) * 300_000 + 10_000;
    let longLived: string;
    before(async () => {
      longLived = await accessToken(key, { cnf: { jkt: await jwkThumbprint(client.jwk) }, exp: nowSeconds() + 3600 });
      await start({ now: () => clock, dpop: { nonce: { secret, windowSeconds: 300 } } });
    });
    after(() => start());
    const at = () => Math.floor(clock / 1000);

    it('answers use_dpop_nonce with a DPoP-Nonce header, then accepts the nonce', async () => {
      const first = await send({ iat: at(), at: longLived });
      const d = 'DPoP proof nonce is missing or stale';
      expectOAuthError(first, 401, 'use_dpop_nonce', d, `DPoP error="use_dpop_nonce", error_description="${d}", ${ALGS}, Bearer`);
      const nonce = first.headers['dpop-nonce'] as string;
      assert.match(nonce, /^[A-Za-z0-9_-]{32}$/);
      const second = await send({ iat: at(), nonce, at: longLived });
      assert.equal(second.status, 200);
      assert.equal(second.headers['dpop-nonce'], undefined);

      // Next window: the old nonce still works and a fresh one comes back.
      clock += 300_000;
      const third = await send({ iat: at(), nonce, at: longLived });
      assert.equal(third.status, 200);
      assert.ok(third.headers['dpop-nonce'] && third.headers['dpop-nonce'] !== nonce);

      // Two windows later it is stale.
      clock += 300_000;
      const fourth = await send({ iat: at(), nonce, at: longLived });
      expectOAuthError(fourth, 401, 'use_dpop_nonce', d, `DPoP error="use_dpop_nonce", error_description="${d}", ${ALGS}, Bearer`);
      const current = fourth.headers['dpop-nonce'] as string;
      assert.ok(current && current !== nonce && current !== third.headers['dpop-nonce']);
      assert.equal((await send({ iat: at(), nonce: current, at: longLived })).status, 200);
    });

    it('refuses a forged nonce, also one of the right length in characters but not in bytes', async () => {
      const d = 'DPoP proof nonce is missing or stale';
      for (const forged of ['A'.repeat(32), '\u00e9'.repeat(32)]) {
        const reply = await send({ iat: at(), nonce: forged, at: longLived });
        expectOAuthError(reply, 401, 'use_dpop_nonce', d, `DPoP error="use_dpop_nonce", error_description="${d}", ${ALGS}, Bearer`);
        assert.match(reply.headers['dpop-nonce'] as string, /^[A-Za-z0-9_-]{32}$/);
      }
    });
  });
});

async function expectCrossInstanceReplay(a: Verifier, b: Verifier, client: ProofKey, token: string): Promise<void> {
  const first = await serve(a);
  const second = await serve(b);
  try {
    // The same proof, presented to two instances behind one load balancer (one configured origin).
    const url = 'https://api.certbound.test/settlements';
    const proof = await dpopProof(client, { htu: url, accessToken: token });
    const headers = { authorization: `DPoP ${token}`, dpop: proof };
    const ok = await call(`${first.origin}/settlements`, { headers });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    const replay = await call(`${second.origin}/settlements`, { headers });
    const d = 'DPoP proof jti has already been used';
    expectOAuthError(replay, 401, 'invalid_dpop_proof', d, proofError(d));
    assert.equal(second.handled.length, 0);
  } finally {
    await first.close();
    await second.close();
  }
}

describe('RFC 9449 §11.1 replay detection across replicas with Redis', { skip: process.env.TEST_REDIS_URL ? false : 'TEST_REDIS_URL not set' }, () => {
  it('catches a replay on a second instance sharing one Redis', async () => {
    const { Redis } = await import('ioredis');
    const redis = new Redis(process.env.TEST_REDIS_URL!);
    try {
      const prefix = `cnf-verifier-test:${Date.now()}:`;
      const store: ReplayStore = createRedisReplayStore(redis, { prefix });
      const key = await signingKey();
      const client = await proofKey();
      const token = await accessToken(key, { cnf: { jkt: await jwkThumbprint(client.jwk) } });
      // Both instances are configured with the one external origin the load balancer serves.
      const options = { issuer: ISSUER, audience: AUDIENCE, origin: AUDIENCE, jwks: { keys: [key.publicJwk] }, trustedProxies: ['127.0.0.1'], proxyHeader: 'nginx' as const, dpop: { replayStore: store } };
      const second = createVerifier({ ...options, dpop: { replayStore: createRedisReplayStore(redis, { prefix }) } });
      await expectCrossInstanceReplay(createVerifier(options), second, client, token);
      const keys = await redis.keys(`${prefix}*`);
      assert.equal(keys.length, 1);
      const ttl = await redis.pttl(keys[0]);
      assert.ok(ttl > 0 && ttl <= 66_000, `ttl ${ttl}`);
    } finally {
      redis.disconnect();
    }
  });
});
