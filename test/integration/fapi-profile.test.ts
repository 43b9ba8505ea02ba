// FAPI 2.0 Security Profile switch: per client (`fapi_profile: "2.0"`) and server-wide
// (FAPI_PROFILE=2.0). Checked over real TLS: PAR and PKCE required, sender-constrained tokens
// only, client assertions for the issuer only, short-lived codes, no refresh-token rotation,
// confidential clients only, and a discovery document that says so.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as oauth from 'oauth4webapi';
import { issueCertificate, type IssuedCertificate } from '../../apps/authz-server/src/pki/issue.ts';
import { createLocalAccount } from '../../apps/authz-server/src/accounts/local-accounts.ts';
import { FAPI_AUTHORIZATION_CODE_TTL, AUTHORIZATION_CODE_TTL } from '../../apps/authz-server/src/oidc/fapi.ts';
import { makeTestPki, startTestAuthz, type TestAuthz, type TestPki } from '../support/authz.ts';
import { https } from '../support/https.ts';
import { decodeJwt, expectOAuthError } from '../support/oauth.ts';
import { clientAssertion, dpopProof, testKey, type TestKey } from '../support/dpop.ts';
import { tlsFetch } from '../support/tls-fetch.ts';
import { HeadlessBrowser } from '../support/browser.ts';
import { retryOnNonce, signInAndConsent } from '../support/code-flow.ts';

const RESOURCE = 'https://settlements.test';
const CALLBACK = 'https://bank.example/callback';
const ALICE = { username: 'alice', password: 'correct horse battery staple' };
const CODE = { grant_types: ['authorization_code', 'refresh_token', 'client_credentials'], response_types: ['code'], redirect_uris: [CALLBACK], scope: 'settlements:read', default_resource: RESOURCE };

async function discovery(as: TestAuthz) {
  return (await https(`${as.publicUrl}/.well-known/openid-configuration`, { ca: as.ca })).json;
}

describe('FAPI 2.0 Security Profile', () => {
  let pki: TestPki;
  let clientKey: TestKey;
  let keys: oauth.CryptoKeyPair;
  let bankCert: IssuedCertificate;

  before(async () => {
    pki = await makeTestPki();
    clientKey = await testKey();
    keys = await oauth.generateKeyPair('ES256', { extractable: true });
    bankCert = await issueCertificate({ subject: 'CN=bank,O=certbound tests', issuer: pki.clientRoot, days: 2 });
  });

  describe('per client: fapi_profile "2.0"', () => {
    let as: TestAuthz;
    let server: oauth.AuthorizationServer;

    before(async () => {
      as = await startTestAuthz({ pki });
      await as.registerResource({ identifier: RESOURCE, scopes: ['settlements:read'] });
      const jwks = { keys: [{ ...await crypto.subtle.exportKey('jwk', keys.publicKey), alg: 'ES256', kid: 'k1' }, { ...clientKey.publicJwk, alg: 'ES256', kid: 'k2' }] };
      await as.register({ ...CODE, client_id: 'fapi-bank', fapi_profile: '2.0', token_endpoint_auth_method: 'private_key_jwt', jwks });
      await as.register({ ...CODE, client_id: 'plain-app', token_endpoint_auth_method: 'private_key_jwt', jwks, dpop_bound_access_tokens: true });
      await as.register({ ...CODE, client_id: 'bad-profile', fapi_profile: '1.0', token_endpoint_auth_method: 'private_key_jwt', jwks });
      await as.register({ ...CODE, grant_types: ['authorization_code'], client_id: 'fapi-public', fapi_profile: '2.0', token_endpoint_auth_method: 'none', dpop_bound_access_tokens: true });
      await as.register({ ...CODE, grant_types: ['authorization_code'], client_id: 'bearer-public', token_endpoint_auth_method: 'none' });
      await createLocalAccount(as.server.stores.sql, { ...ALICE });
      const issuer = new URL(as.issuer);
      server = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { [oauth.customFetch]: tlsFetch({ ca: as.ca }) }));
    });

    after(async () => { await as?.close(); });

    const plain = () => ({ [oauth.customFetch]: tlsFetch({ ca: as.ca }) });

    /** PAR + login + consent; returns the code without exchanging it. */
    async function authorize(clientId: string, DPoP: oauth.DPoPHandle) {
      const client: oauth.Client = { client_id: clientId };
      const verifier = oauth.generateRandomCodeVerifier();
      const par = await retryOnNonce(async () => oauth.processPushedAuthorizationResponse(server, client,
        await oauth.pushedAuthorizationRequest(server, client, oauth.PrivateKeyJwt(keys.privateKey), {
          response_type: 'code', redirect_uri: CALLBACK, scope: 'settlements:read',
          code_challenge: await oauth.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
        }, { ...plain(), DPoP })));
      const url = new URL(server.authorization_endpoint!);
      url.search = new URLSearchParams({ client_id: clientId, request_uri: par.request_uri }).toString();
      const params = oauth.validateAuthResponse(server, client, await signInAndConsent(new HeadlessBrowser(as.ca), url, CALLBACK, ALICE), oauth.expectNoState);
      return { client, params, verifier };
    }

    async function codeTtl(code: string): Promise<number> {
      const stored = JSON.parse((await as.server.stores.kv.get(`AuthorizationCode:${code}`))!) as { iat: number; exp: number };
      return stored.exp - stored.iat;
    }

    it('refuses an authorization request that does not use PAR', async () => {
      const url = new URL(server.authorization_endpoint!);
      url.search = new URLSearchParams({
        client_id: 'fapi-bank', response_type: 'code', redirect_uri: CALLBACK, scope: 'settlements:read',
        code_challenge: await oauth.calculatePKCECodeChallenge(oauth.generateRandomCodeVerifier()), code_challenge_method: 'S256',
      }).toString();
      const page = await new HeadlessBrowser(as.ca).request(url.href);
      const location = page.headers.get('location');
      const error = location ? new URL(location).searchParams.get('error') : page.text;
      assert.match(String(error), /invalid_request/, `${page.status} ${location ?? page.text}`);
    });

    it('issues a 30-second code and a DPoP-bound token, and does not rotate refresh tokens', async () => {
      const DPoP = oauth.DPoP({}, await oauth.generateKeyPair('ES256'));
      const { client, params, verifier } = await authorize('fapi-bank', DPoP);
      assert.equal(await codeTtl(params.get('code')!), FAPI_AUTHORIZATION_CODE_TTL);
      const tokens = await retryOnNonce(async () => oauth.processAuthorizationCodeResponse(server, client,
        await oauth.authorizationCodeGrantRequest(server, client, oauth.PrivateKeyJwt(keys.privateKey), params, CALLBACK, verifier, { ...plain(), DPoP })));
      assert.equal(decodeJwt(tokens.access_token).payload.cnf.jkt, await DPoP.calculateThumbprint());

      // FAPI 2.0 SP §5.3.2.1: a refresh whose answer was lost can be retried with the same token.
      const refreshed = await retryOnNonce(async () => oauth.processRefreshTokenResponse(server, client,
        await oauth.refreshTokenGrantRequest(server, client, oauth.PrivateKeyJwt(keys.privateKey), tokens.refresh_token!, { ...plain(), DPoP })));
      assert.equal(refreshed.refresh_token, tokens.refresh_token);
      const again = await retryOnNonce(async () => oauth.processRefreshTokenResponse(server, client,
        await oauth.refreshTokenGrantRequest(server, client, oauth.PrivateKeyJwt(keys.privateKey), tokens.refresh_token!, { ...plain(), DPoP })));
      assert.ok(again.access_token);
    });

    it('keeps the 60-second code and rotation for a client without the profile', async () => {
      const DPoP = oauth.DPoP({}, await oauth.generateKeyPair('ES256'));
      const { params } = await authorize('plain-app', DPoP);
      assert.equal(await codeTtl(params.get('code')!), AUTHORIZATION_CODE_TTL);
    });

    it('binds its tokens even though it registered no binding: no DPoP proof, no token', async () => {
      const res = await https(`${as.publicUrl}/token`, { ca: as.ca, form: { grant_type: 'client_credentials', ...await clientAssertion(clientKey, 'fapi-bank', as.issuer) } });
      expectOAuthError(res, 400, 'invalid_grant', 'DPoP proof JWT not provided');
    });

    it('accepts a client assertion only for the issuer, not the token endpoint URL', async () => {
      const url = `${as.publicUrl}/token`;
      const nonce = String((await https(url, { ca: as.ca, headers: { dpop: await dpopProof(clientKey, { htu: url }) }, form: { grant_type: 'client_credentials', ...await clientAssertion(clientKey, 'fapi-bank', as.issuer) } })).headers['dpop-nonce']);
      const res = await https(url, { ca: as.ca, headers: { dpop: await dpopProof(clientKey, { htu: url, nonce }) }, form: { grant_type: 'client_credentials', ...await clientAssertion(clientKey, 'fapi-bank', url) } });
      expectOAuthError(res, 401, 'invalid_client', /must equal the issuer/);
    });

    it('refuses a client whose fapi_profile is not "2.0", with a 4xx naming the problem', async () => {
      const res = await https(`${as.publicUrl}/token`, { ca: as.ca, form: { grant_type: 'client_credentials', ...await clientAssertion(clientKey, 'bad-profile', as.issuer) } });
      expectOAuthError(res, 400, 'invalid_client_metadata', 'fapi_profile must be "2.0" when present');
    });

    it('refuses a public client under the profile, and a public client without a sender constraint', async () => {
      for (const [clientId, description] of [['fapi-public', /FAPI 2.0 allows only confidential clients/], ['bearer-public', /must set dpop_bound_access_tokens or tls_client_certificate_bound_access_tokens/]] as const) {
        const url = new URL(server.pushed_authorization_request_endpoint!);
        const res = await https(url.href, { ca: as.ca, form: { client_id: clientId, response_type: 'code', redirect_uri: CALLBACK, code_challenge: 'a'.repeat(43), code_challenge_method: 'S256' } });
        expectOAuthError(res, 400, 'invalid_client_metadata', description);
      }
    });
  });

  describe('server-wide: FAPI_PROFILE=2.0', () => {
    let as: TestAuthz;

    before(async () => {
      as = await startTestAuthz({ pki, env: { FAPI_PROFILE: '2.0' } });
      await as.registerResource({ identifier: RESOURCE, scopes: ['settlements:read'] });
      // Registered as unbound; the profile binds it anyway.
      await as.register({ ...CODE, client_id: 'legacy-bank', token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: bankCert.subject, tls_client_certificate_bound_access_tokens: false });
    });

    after(async () => { await as?.close(); });

    it('says so in discovery: PAR required, S256, code only, no public clients, DPoP algorithms', async () => {
      const meta = await discovery(as);
      assert.equal(meta.require_pushed_authorization_requests, true);
      assert.deepEqual(meta.code_challenge_methods_supported, ['S256']);
      assert.deepEqual(meta.response_types_supported, ['code']);
      assert.deepEqual(meta.token_endpoint_auth_methods_supported, ['tls_client_auth', 'self_signed_tls_client_auth', 'private_key_jwt']);
      assert.deepEqual(meta.dpop_signing_alg_values_supported, ['ES256', 'PS256', 'EdDSA']);
      assert.deepEqual(meta.id_token_signing_alg_values_supported, ['ES256', 'PS256', 'EdDSA']);
      assert.equal(meta.tls_client_certificate_bound_access_tokens, true);
      assert.equal(meta.authorization_response_iss_parameter_supported, true);
    });

    it('binds a certificate client\'s tokens although it registered tls_client_certificate_bound_access_tokens: false', async () => {
      const res = await https(`${as.mtlsUrl}/token`, { ca: as.ca, identity: { cert: bankCert.certPem, key: bankCert.keyPem }, form: { grant_type: 'client_credentials', client_id: 'legacy-bank' } });
      assert.equal(res.status, 200, res.text);
      assert.ok(decodeJwt(res.json.access_token).payload.cnf['x5t#S256']);
    });

    it('refuses an authorization request without PAR', async () => {
      const url = new URL(`${as.publicUrl}/auth`);
      url.search = new URLSearchParams({ client_id: 'legacy-bank', response_type: 'code', redirect_uri: CALLBACK, code_challenge: 'a'.repeat(43), code_challenge_method: 'S256' }).toString();
      const page = await new HeadlessBrowser(as.ca).request(url.href);
      const location = page.headers.get('location');
      assert.match(location ? String(new URL(location).searchParams.get('error')) : page.text, /invalid_request/);
    });
  });
});
