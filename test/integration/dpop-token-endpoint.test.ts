// RFC 9449 DPoP at certbound's token and PAR endpoints, over real TLS with hand-made proofs:
// server nonces, proof checks, jti replay, dpop_bound_access_tokens, cnf.jkt, and a
// private_key_jwt client that needs no certificate on either listener.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, hkdfSync } from 'node:crypto';
import { SignJWT, calculateJwkThumbprint, type JWK } from 'jose';
import { dpopNonceSecret } from '../../apps/authz-server/src/oidc/dpop.ts';
import { jwkThumbprintSync } from '../../apps/authz-server/src/oidc/refresh-tokens.ts';
import { makeTestPki, startTestAuthz, type TestAuthz } from '../support/authz.ts';
import { https, type HttpsAnswer } from '../support/https.ts';
import { decodeJwt, expectOAuthError } from '../support/oauth.ts';
import { clientAssertion, dpopProof, testKey, type TestKey } from '../support/dpop.ts';

const RESOURCE = 'https://settlements.test';
const STRICT_RESOURCE = 'https://strict-settlements.test';

describe('RFC 9449 DPoP at the token endpoint', () => {
  let as: TestAuthz;
  let clientKey: TestKey;
  let proofKey: TestKey;
  let tokenUrl: string;

  /** A token request as demo-dpop-like clients send it; `nonce: true` fetches one first. */
  async function tokenRequest(opts: {
    url?: string; clientId?: string; aud?: string | string[]; proof?: string | null; nonce?: boolean | string; extra?: Record<string, string>; host?: string;
  } = {}): Promise<HttpsAnswer> {
    const url = opts.url ?? tokenUrl;
    const nonce = opts.nonce === true ? await freshNonce(url) : opts.nonce || undefined;
    const proof = opts.proof === undefined ? await dpopProof(proofKey, { htu: url, ...(nonce ? { nonce } : {}) }) : opts.proof;
    return https(url, {
      ca: as.ca,
      headers: proof === null ? {} : { dpop: proof },
      form: { grant_type: 'client_credentials', ...await clientAssertion(clientKey, opts.clientId ?? 'dpop-client', opts.aud ?? as.issuer), ...opts.extra },
    });
  }

  async function freshNonce(url = tokenUrl): Promise<string> {
    const res = await https(url, {
      ca: as.ca, headers: { dpop: await dpopProof(proofKey, { htu: url }) },
      form: { grant_type: 'client_credentials', ...await clientAssertion(clientKey, 'dpop-client', as.issuer) },
    });
    expectOAuthError(res, 400, 'use_dpop_nonce');
    return String(res.headers['dpop-nonce']);
  }

  before(async () => {
    clientKey = await testKey();
    proofKey = await testKey();
    as = await startTestAuthz({ pki: await makeTestPki() });
    tokenUrl = `${as.publicUrl}/token`;
    await as.registerResource({ identifier: RESOURCE, scopes: ['settlements:read'] });
    await as.registerResource({ identifier: STRICT_RESOURCE, scopes: ['settlements:read'], sender_constraint_required: true });
    const base = { grant_types: ['client_credentials'], response_types: [], token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [{ ...clientKey.publicJwk, alg: 'ES256' }] }, scope: 'settlements:read' };
    await as.register({ ...base, client_id: 'dpop-client', dpop_bound_access_tokens: true, default_resource: RESOURCE });
    // No dpop_bound_access_tokens: it may bind with DPoP, and must, for a strict resource.
    await as.register({ ...base, client_id: 'jwt-client', default_resource: STRICT_RESOURCE });
  });

  after(async () => { await as?.close(); });

  describe('§8 server nonces', () => {
    it('answers a proof without a nonce 400 use_dpop_nonce with a DPoP-Nonce header', async () => {
      const res = await tokenRequest();
      expectOAuthError(res, 400, 'use_dpop_nonce', 'nonce is required in the DPoP proof');
      assert.match(String(res.headers['dpop-nonce']), /^[A-Za-z0-9_-]{43}$/);
      assert.equal(res.json.access_token, undefined);
    });

    it('issues a DPoP-bound token (cnf.jkt, token_type DPoP) once the proof carries the nonce', async () => {
      const res = await tokenRequest({ nonce: true });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.token_type, 'DPoP');
      const { payload } = decodeJwt(res.json.access_token);
      assert.deepEqual(payload.cnf, { jkt: proofKey.jkt });
      assert.equal(payload.aud, RESOURCE);
    });

    it('refuses a nonce it did not issue', async () => {
      expectOAuthError(await tokenRequest({ nonce: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }), 400, 'use_dpop_nonce', 'invalid nonce in DPoP proof');
    });

    it('derives the nonce secret from the key-encryption key, the same on every instance', () => {
      const kek = Buffer.alloc(32, 7);
      assert.deepEqual(dpopNonceSecret(kek), dpopNonceSecret(Buffer.alloc(32, 7)));
      assert.equal(dpopNonceSecret(kek).length, 32);
      assert.notDeepEqual(dpopNonceSecret(kek), Buffer.from(hkdfSync('sha256', kek, 'certbound', 'cookie-keys-v1', 32)));
    });
  });

  describe('§4.3 proof checks', () => {
    it('refuses a proof for another URL (htu)', async () => {
      const nonce = await freshNonce();
      const proof = await dpopProof(proofKey, { htu: `${as.publicUrl}/token/introspection`, nonce });
      expectOAuthError(await tokenRequest({ proof }), 400, 'invalid_dpop_proof', 'DPoP proof htu mismatch');
    });

    it('refuses a proof for another method (htm)', async () => {
      const proof = await dpopProof(proofKey, { htu: tokenUrl, htm: 'GET', nonce: await freshNonce() });
      expectOAuthError(await tokenRequest({ proof }), 400, 'invalid_dpop_proof', 'DPoP proof htm mismatch');
    });

    it('refuses a proof signed with a symmetric key', async () => {
      const proof = await new SignJWT({ htm: 'POST', htu: tokenUrl, nonce: await freshNonce() })
        .setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt', jwk: { kty: 'oct', k: 'AAAA' } as never }).setJti('x').setIssuedAt()
        .sign(new Uint8Array(32));
      expectOAuthError(await tokenRequest({ proof }), 400, 'invalid_dpop_proof');
    });

    it('answers garbage in the DPoP header with 400, never 500', async () => {
      for (const proof of ['not-a-jwt', 'a.b.c', `${Buffer.from('{"alg":"none","typ":"dpop+jwt"}').toString('base64url')}.e30.`, 'x'.repeat(4_000)]) {
        const res = await tokenRequest({ proof });
        assert.equal(res.status, 400, `${proof.slice(0, 20)}: ${res.text}`);
        assert.equal(res.json.error, 'invalid_dpop_proof');
      }
      // Larger than node's header limit: refused before it reaches the application (431).
      const huge = await tokenRequest({ proof: 'x'.repeat(20_000) });
      assert.ok(huge.status >= 400 && huge.status < 500, String(huge.status));
    });

    it('refuses a proof used twice (jti replay, RFC 9449 §11.1) with invalid_dpop_proof', async () => {
      const proof = await dpopProof(proofKey, { htu: tokenUrl, nonce: await freshNonce() });
      assert.equal((await tokenRequest({ proof })).status, 200);
      const replay = await tokenRequest({ proof });
      expectOAuthError(replay, 400, 'invalid_dpop_proof', 'DPoP proof jti has already been used');
      const line = as.logs.findLast((l) => l.event === 'oauth_refusal');
      assert.equal(line?.error, 'invalid_dpop_proof');
      assert.equal(line?.client_id, 'dpop-client');
    });
  });

  describe('binding policy', () => {
    it('never issues an unbound token to a client registered with dpop_bound_access_tokens', async () => {
      const res = await tokenRequest({ proof: null });
      expectOAuthError(res, 400, 'invalid_grant', 'DPoP proof JWT not provided');
      assert.equal(res.json.access_token, undefined);
    });

    it('accepts a DPoP-bound private_key_jwt client at a resource that requires sender-constrained tokens', async () => {
      const res = await tokenRequest({ clientId: 'jwt-client', nonce: true });
      assert.equal(res.status, 200, res.text);
      assert.equal(decodeJwt(res.json.access_token).payload.cnf.jkt, proofKey.jkt);
      assert.equal(decodeJwt(res.json.access_token).payload.aud, STRICT_RESOURCE);
    });

    it('refuses that client an unbound token for that resource (invalid_target)', async () => {
      expectOAuthError(await tokenRequest({ clientId: 'jwt-client', proof: null }), 400, 'invalid_target', /accepts only sender-constrained tokens/);
    });
  });

  describe('private_key_jwt without a certificate, on either listener (RFC 7523 §3 aud)', () => {
    const audiences = (as: TestAuthz) => ({
      issuer: as.issuer,
      'public token endpoint': `${as.publicUrl}/token`,
      'mTLS alias': `${as.mtlsUrl}/token`,
    });

    for (const listener of ['public', 'mtls'] as const) {
      for (const name of ['issuer', 'public token endpoint', 'mTLS alias'] as const) {
        it(`${listener} listener accepts aud = ${name}`, async () => {
          const url = `${listener === 'public' ? as.publicUrl : as.mtlsUrl}/token`;
          const res = await tokenRequest({ url, aud: audiences(as)[name], nonce: true });
          assert.equal(res.status, 200, res.text);
          assert.equal(res.json.token_type, 'DPoP');
        });
      }
    }

    it('refuses an assertion for another audience', async () => {
      expectOAuthError(await tokenRequest({ aud: 'https://elsewhere.example/token', nonce: true }), 401, 'invalid_client', /audience/);
    });

    it('refuses a client assertion used twice', async () => {
      const form = { grant_type: 'client_credentials', ...await clientAssertion(clientKey, 'dpop-client', as.issuer) };
      const first = await https(tokenUrl, { ca: as.ca, headers: { dpop: await dpopProof(proofKey, { htu: tokenUrl, nonce: await freshNonce() }) }, form });
      assert.equal(first.status, 200, first.text);
      const second = await https(tokenUrl, { ca: as.ca, headers: { dpop: await dpopProof(proofKey, { htu: tokenUrl, nonce: await freshNonce() }) }, form });
      expectOAuthError(second, 401, 'invalid_client', /only be used once/);
    });
  });

  describe('discovery', () => {
    it('advertises the DPoP algorithms and PAR on both listeners', async () => {
      const res = await https(`${as.publicUrl}/.well-known/openid-configuration`, { ca: as.ca });
      assert.deepEqual(res.json.dpop_signing_alg_values_supported, ['ES256', 'PS256', 'EdDSA']);
      assert.equal(res.json.pushed_authorization_request_endpoint, `${as.publicUrl}/request`);
      assert.equal(res.json.mtls_endpoint_aliases.pushed_authorization_request_endpoint, `${as.mtlsUrl}/request`);
      assert.equal(res.json.authorization_response_iss_parameter_supported, true);
      assert.deepEqual(res.json.code_challenge_methods_supported, ['S256']);
      assert.deepEqual(res.json.response_types_supported, ['code']);
      assert.equal(res.json.require_pushed_authorization_requests, undefined);
    });
  });

  describe('refresh-token binding thumbprint (RFC 7638)', () => {
    it('computes the same jkt as jose for EC, RSA and OKP keys, and none for a symmetric key', async () => {
      for (const pair of [generateKeyPairSync('ec', { namedCurve: 'P-256' }), generateKeyPairSync('rsa', { modulusLength: 2048 }), generateKeyPairSync('ed25519')]) {
        const jwk = { ...pair.publicKey.export({ format: 'jwk' }), kid: 'ignored', use: 'sig' } as JWK;
        assert.equal(jwkThumbprintSync(jwk), await calculateJwkThumbprint(jwk));
      }
      assert.equal(jwkThumbprintSync({ kty: 'oct', k: 'AAAA' }), undefined);
      assert.equal(jwkThumbprintSync({ kty: 'EC', crv: 'P-256', x: 'a' }), undefined);
    });
  });
});
