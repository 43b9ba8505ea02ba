import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createVerifier, type Verifier } from '@certbound/cnf-verifier';
import { call, expectOAuthError, serve, type Served } from './helpers/http.ts';
import { accessToken, AUDIENCE, ISSUER, nowSeconds, signingKey, startJwksServer, unsignedJwt, type JwksServer, type SigningKey } from './helpers/tokens.ts';

const CHALLENGE = (description: string) => `Bearer error="invalid_token", error_description="${description}", DPoP algs="ES256 PS256 EdDSA"`;

describe('RFC 9068 §4 JWT access token validation', () => {
  let key: SigningKey;
  let served: Served;
  let verifier: Verifier;

  before(async () => {
    key = await signingKey();
    // Permissive: these tokens are unbound, so only the JWT checks are under test.
    verifier = createVerifier({ issuer: ISSUER, audience: AUDIENCE, origin: AUDIENCE, jwks: { keys: [key.publicJwk] }, mode: 'permissive', clockTolerance: 0 });
    served = await serve(verifier);
  });
  after(() => served.close());

  const get = (token: string) => call(`${served.origin}/settlements`, { headers: { authorization: `Bearer ${token}` } });

  it('accepts a valid token and reports client, scopes and binding', async () => {
    const reply = await get(await accessToken(key, { scope: 'settlements:read settlements:write' }));
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.body, { clientId: 'client-1', binding: 'bearer', scopes: ['settlements:read', 'settlements:write'] });
  });

  it('accepts typ application/at+jwt', async () => {
    const reply = await get(await accessToken(key, {}, { typ: 'application/at+jwt' }));
    assert.equal(reply.status, 200);
  });

  it('refuses an expired token', async () => {
    const reply = await get(await accessToken(key, { exp: nowSeconds() - 10 }));
    expectOAuthError(reply, 401, 'invalid_token', 'access token has expired', CHALLENGE('access token has expired'));
  });

  it('refuses a token that is not yet valid', async () => {
    const reply = await get(await accessToken(key, { nbf: nowSeconds() + 60 }));
    expectOAuthError(reply, 401, 'invalid_token', 'access token is not yet valid (nbf)', CHALLENGE('access token is not yet valid (nbf)'));
  });

  it('refuses a token for another audience', async () => {
    const reply = await get(await accessToken(key, { aud: 'https://other.certbound.test' }));
    const d = 'access token aud does not include this resource server';
    expectOAuthError(reply, 401, 'invalid_token', d, CHALLENGE(d));
  });

  it('refuses a token from another issuer', async () => {
    const reply = await get(await accessToken(key, { iss: 'https://evil.test' }));
    const d = 'access token iss does not match the expected issuer';
    expectOAuthError(reply, 401, 'invalid_token', d, CHALLENGE(d));
  });

  it('refuses alg none', async () => {
    const token = unsignedJwt({ alg: 'none', typ: 'at+jwt' }, { iss: ISSUER, aud: AUDIENCE, exp: nowSeconds() + 60, client_id: 'client-1' });
    const reply = await get(token);
    expectOAuthError(reply, 401, 'invalid_token', 'access token alg none is not allowed', CHALLENGE('access token alg none is not allowed'));
  });

  it('refuses HS256 signed with the public key’s bytes (key confusion)', async () => {
    const claims = { iss: ISSUER, aud: AUDIENCE, exp: nowSeconds() + 60, client_id: 'client-1' };
    for (const secret of [JSON.stringify(key.publicJwk), key.publicJwk.x!]) {
      const signingInput = unsignedJwt({ alg: 'HS256', typ: 'at+jwt', kid: key.kid }, claims).slice(0, -1);
      const token = `${signingInput}.${createHmac('sha256', secret).update(signingInput).digest('base64url')}`;
      const reply = await get(token);
      expectOAuthError(reply, 401, 'invalid_token', 'access token alg HS256 is not allowed', CHALLENGE('access token alg HS256 is not allowed'));
    }
  });

  it('refuses a typ other than at+jwt', async () => {
    const reply = await get(await accessToken(key, {}, { typ: 'JWT' }));
    expectOAuthError(reply, 401, 'invalid_token', 'access token typ must be at+jwt', CHALLENGE('access token typ must be at+jwt'));
  });

  it('refuses a forged signature', async () => {
    const other = await signingKey('ES256', key.kid);
    const reply = await get(await accessToken(other));
    expectOAuthError(reply, 401, 'invalid_token', 'access token signature is invalid', CHALLENGE('access token signature is invalid'));
  });

  it('refuses a token without client_id', async () => {
    const reply = await get(await accessToken(key, { client_id: undefined }));
    expectOAuthError(reply, 401, 'invalid_token', 'access token client_id claim is missing', CHALLENGE('access token client_id claim is missing'));
  });

  it('refuses an opaque token when no introspection is configured', async () => {
    const reply = await get('2YotnFZFEjr1zCsicMWpAA');
    expectOAuthError(reply, 401, 'invalid_token', 'access token is not a JWT', CHALLENGE('access token is not a JWT'));
  });

  it('refuses a malformed cnf claim', async () => {
    const reply = await get(await accessToken(key, { cnf: { 'x5t#S256': 42 } }));
    expectOAuthError(reply, 401, 'invalid_token', 'access token cnf claim is malformed', CHALLENGE('access token cnf claim is malformed'));
  });

  it('refuses, in permissive mode, a cnf with only members it does not know (not treated as bearer)', async () => {
    const d = 'access token cnf claim has no confirmation method this resource server supports (x5t#S256, jkt)';
    for (const cnf of [{ 'x5t#S512': 'x'.repeat(86) }, { jwk: { kty: 'EC' } }, { x5u: 'https://attacker.example/c.pem' }, {}]) {
      expectOAuthError(await get(await accessToken(key, { cnf })), 401, 'invalid_token', d, CHALLENGE(d));
    }
    expectOAuthError(await get(await accessToken(key, { cnf: [] as unknown as object })), 401, 'invalid_token', 'access token cnf claim is malformed', CHALLENGE('access token cnf claim is malformed'));
  });

  it('never puts the token in an error', async () => {
    const token = await accessToken(key, { exp: nowSeconds() - 10 });
    const err = await verifier.verify({ headers: { authorization: `Bearer ${token}` }, socket: {} as never }).catch((e: unknown) => e as Error);
    assert.ok(err instanceof Error);
    assert.ok(!JSON.stringify({ m: err.message, s: err.stack, w: (err as { wwwAuthenticate?: string }).wwwAuthenticate }).includes(token.split('.')[2]));
  });
});

describe('RFC 6750 §2.1 and §3.1 the Authorization header', () => {
  let served: Served;
  before(async () => {
    const key = await signingKey();
    served = await serve(createVerifier({ issuer: ISSUER, audience: AUDIENCE, origin: AUDIENCE, jwks: { keys: [key.publicJwk] } }));
  });
  after(() => served.close());

  it('answers a request without credentials with a challenge and no error code', async () => {
    const reply = await call(`${served.origin}/`);
    expectOAuthError(reply, 401, 'invalid_token', 'no access token presented', 'Bearer, DPoP algs="ES256 PS256 EdDSA"');
  });

  it('treats another scheme like no credentials', async () => {
    const reply = await call(`${served.origin}/`, { headers: { authorization: 'Basic dXNlcjpwYXNz' } });
    expectOAuthError(reply, 401, 'invalid_token', 'Authorization scheme must be Bearer or DPoP', 'Bearer, DPoP algs="ES256 PS256 EdDSA"');
  });

  for (const [name, value, description] of [
    ['a scheme without a token', 'Bearer', 'Authorization Bearer credentials are malformed'],
    ['a token with spaces', 'Bearer abc def', 'Authorization Bearer credentials are malformed'],
    ['garbage', '{"not": "a header"}', 'Authorization header is malformed'],
    ['a DPoP token with quotes', 'DPoP "abc"', 'Authorization DPoP credentials are malformed'],
  ] as const) {
    it(`answers 400 invalid_request to ${name}`, async () => {
      const reply = await call(`${served.origin}/`, { headers: { authorization: value } });
      expectOAuthError(reply, 400, 'invalid_request', description, `Bearer error="invalid_request", error_description="${description}", DPoP algs="ES256 PS256 EdDSA"`);
    });
  }

  it('answers 400 invalid_request to two Authorization headers', async () => {
    const reply = await call(`${served.origin}/`, { headers: { authorization: ['Bearer a.b.c', 'Bearer d.e.f'] } });
    const d = 'more than one Authorization header';
    expectOAuthError(reply, 400, 'invalid_request', d, `Bearer error="invalid_request", error_description="${d}", DPoP algs="ES256 PS256 EdDSA"`);
  });

  it('answers 400 to a JWT whose header is not JSON', async () => {
    const reply = await call(`${served.origin}/`, { headers: { authorization: 'Bearer bm90LWpzb24.e30.c2ln' } });
    const d = 'access token is not a well-formed JWT';
    expectOAuthError(reply, 401, 'invalid_token', d, CHALLENGE(d));
  });
});

describe('JWKS: keys fetched, cached, and refetched on an unknown kid', () => {
  let jwks: JwksServer;
  let first: SigningKey;
  before(async () => {
    first = await signingKey();
    jwks = await startJwksServer([first.publicJwk]);
  });
  after(() => jwks.close());

  it('picks up a rotated key without a restart', async () => {
    const verifier = createVerifier({ issuer: ISSUER, audience: AUDIENCE, origin: AUDIENCE, jwks: { url: jwks.url, cooldownMs: 0 }, mode: 'permissive' });
    const served = await serve(verifier);
    try {
      jwks.fetches = 0;
      assert.equal((await call(served.origin, { headers: { authorization: `Bearer ${await accessToken(first)}` } })).status, 200);
      assert.equal((await call(served.origin, { headers: { authorization: `Bearer ${await accessToken(first)}` } })).status, 200);
      assert.equal(jwks.fetches, 1, 'keys are cached');
      const second = await signingKey();
      jwks.keys = [second.publicJwk, first.publicJwk];
      const reply = await call(served.origin, { headers: { authorization: `Bearer ${await accessToken(second)}` } });
      assert.equal(reply.status, 200);
      assert.equal(jwks.fetches, 2, 'an unknown kid triggered one refetch');
    } finally {
      await served.close();
    }
  });

  it('does not refetch during the cooldown, and names the failure', async () => {
    const verifier = createVerifier({ issuer: ISSUER, audience: AUDIENCE, origin: AUDIENCE, jwks: { url: jwks.url, cooldownMs: 60_000 }, mode: 'permissive' });
    const served = await serve(verifier);
    try {
      jwks.keys = [first.publicJwk];
      jwks.fetches = 0;
      assert.equal((await call(served.origin, { headers: { authorization: `Bearer ${await accessToken(first)}` } })).status, 200);
      const unknown = await signingKey();
      const reply = await call(served.origin, { headers: { authorization: `Bearer ${await accessToken(unknown)}` } });
      const d = 'no key in the JWKS matches the access token';
      expectOAuthError(reply, 401, 'invalid_token', d, CHALLENGE(d));
      assert.equal(jwks.fetches, 1);
    } finally {
      await served.close();
    }
  });

  it('answers 503 (not a client error) when the JWKS cannot be fetched', async () => {
    const verifier = createVerifier({ issuer: ISSUER, audience: AUDIENCE, origin: AUDIENCE, jwks: { url: 'http://127.0.0.1:1/jwks', timeoutMs: 500 }, mode: 'permissive' });
    const served = await serve(verifier);
    try {
      const reply = await call(served.origin, { headers: { authorization: `Bearer ${await accessToken(first)}` } });
      assert.equal(reply.status, 503);
      assert.deepEqual(reply.body, { error: 'temporarily_unavailable' });
      assert.equal(served.handled.length, 0);
    } finally {
      await served.close();
    }
  });
});

describe('JWKS over HTTPS under a private CA', () => {
  it('trusts the JWKS server only through the configured ca', async () => {
    const { createTestPki } = await import('./helpers/pki.ts');
    const { createServer } = await import('node:https');
    const pki = createTestPki();
    const key = await signingKey();
    const server = createServer({ cert: pki.server.cert, key: pki.server.key }, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [key.publicJwk] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `https://localhost:${(server.address() as AddressInfo).port}/jwks`;
    const request = async () => ({ headers: { authorization: `Bearer ${await accessToken(key)}` }, socket: {} as never });
    try {
      const trusted = createVerifier({ issuer: ISSUER, audience: AUDIENCE, origin: AUDIENCE, jwks: { url, ca: pki.ca.cert }, mode: 'permissive' });
      assert.equal((await trusted.verify(await request())).clientId, 'client-1');
      // Without the CA the server's certificate is not trusted, and nothing turns verification off.
      const untrusted = createVerifier({ issuer: ISSUER, audience: AUDIENCE, origin: AUDIENCE, jwks: { url, timeoutMs: 2000 }, mode: 'permissive' });
      await assert.rejects(untrusted.verify(await request()), { name: 'UpstreamError', status: 503 });
    } finally {
      server.close();
      pki.cleanup();
    }
  });
});
