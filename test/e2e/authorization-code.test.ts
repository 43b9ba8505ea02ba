// The delegated flow end to end, driven by an independent client library (oauth4webapi) and a
// headless browser over real TLS: RFC 9126 PAR, RFC 7636 PKCE S256, the login and consent pages,
// and RFC 9207 `iss` in the authorization response; for a certificate client (PAR and token on
// the mutual-TLS listener) and a DPoP client with private_key_jwt and no certificate (public).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as oauth from 'oauth4webapi';
import { issueCertificate, type IssuedCertificate } from '../../apps/authz-server/src/pki/issue.ts';
import { createLocalAccount } from '../../apps/authz-server/src/accounts/local-accounts.ts';
import { makeTestPki, startTestAuthz, type TestAuthz } from '../support/authz.ts';
import { tlsFetch } from '../support/tls-fetch.ts';
import { HeadlessBrowser, formsOf, type Page } from '../support/browser.ts';
import { decodeJwt } from '../support/oauth.ts';
import { retryOnNonce } from '../support/code-flow.ts';

const RESOURCE = 'https://settlements.test';
const PORTAL_CALLBACK = 'https://portal.example/callback';
const DPOP_CALLBACK = 'https://dpop-web.example/callback';
const PASSWORD = 'correct horse battery staple';

describe('authorization code + PAR + PKCE through the login and consent pages (oauth4webapi)', () => {
  let as: TestAuthz;
  let server: oauth.AuthorizationServer;
  let portalCert: IssuedCertificate;
  let aliceId: string;
  let clientKeys: oauth.CryptoKeyPair;

  before(async () => {
    clientKeys = await oauth.generateKeyPair('ES256', { extractable: true });
    const pki = await makeTestPki();
    portalCert = await issueCertificate({ subject: 'CN=portal,O=certbound tests', issuer: pki.clientRoot, days: 2 });
    as = await startTestAuthz({ pki });
    await as.registerResource({ identifier: RESOURCE, scopes: ['settlements:read', 'settlements:write'], sender_constraint_required: true });
    const code = { grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], scope: 'settlements:read settlements:write', default_resource: RESOURCE };
    await as.register({ ...code, client_id: 'portal', client_name: 'Treasury <Portal>', token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: portalCert.subject, redirect_uris: [PORTAL_CALLBACK] });
    await as.register({
      ...code, client_id: 'dpop-web', token_endpoint_auth_method: 'private_key_jwt', dpop_bound_access_tokens: true, redirect_uris: [DPOP_CALLBACK],
      jwks: { keys: [{ ...await crypto.subtle.exportKey('jwk', clientKeys.publicKey), alg: 'ES256', kid: 'k1' }] },
    });
    aliceId = await createLocalAccount(as.server.stores.sql, { username: 'alice', password: PASSWORD, claims: { name: 'Alice Example' } });
    const issuer = new URL(as.issuer);
    server = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { [oauth.customFetch]: tlsFetch({ ca: as.ca }), algorithm: 'oidc' }));
  });

  after(async () => { await as?.close(); });

  /** From the authorization URL to the redirect back to the client, as a person would click. */
  async function signInAndConsent(browser: HeadlessBrowser, authorizationUrl: URL, callback: string): Promise<URL> {
    const atCallback = (location: URL) => location.href.startsWith(callback);
    const login = await browser.navigate(authorizationUrl.href);
    assert.equal(login.status, 200, login.text);
    assert.match(login.url, new RegExp(`^${as.publicUrl}/interaction/`));
    const consent = await browser.submit(login, /\/login$/, { username: 'alice', password: PASSWORD });
    assert.equal(consent.status, 200, consent.text);
    assert.match(consent.text, /asks for access/);
    const back = await browser.submit(consent, /\/consent$/, {}, atCallback);
    assert.equal(back.status, 303, back.text);
    return new URL(back.headers.get('location')!);
  }

  describe('certificate client: PAR and token on the mutual-TLS listener', () => {
    const client: oauth.Client = { client_id: 'portal', use_mtls_endpoint_aliases: true };

    it('issues a code with iss (RFC 9207), and a certificate-bound token for the signed-in person', async () => {
      const mtls = { [oauth.customFetch]: tlsFetch({ ca: as.ca, cert: portalCert.certPem, key: portalCert.keyPem }) };
      const verifier = oauth.generateRandomCodeVerifier();
      const state = oauth.generateRandomState();
      const par = await oauth.processPushedAuthorizationResponse(server, client, await oauth.pushedAuthorizationRequest(server, client, oauth.TlsClientAuth(), {
        response_type: 'code', redirect_uri: PORTAL_CALLBACK, scope: 'settlements:read', resource: RESOURCE, state,
        code_challenge: await oauth.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
      }, mtls));
      assert.match(par.request_uri, /^urn:ietf:params:oauth:request_uri:/);

      const authorize = new URL(server.authorization_endpoint!);
      authorize.search = new URLSearchParams({ client_id: 'portal', request_uri: par.request_uri }).toString();
      const callback = await signInAndConsent(new HeadlessBrowser(as.ca), authorize, PORTAL_CALLBACK);
      assert.equal(callback.searchParams.get('iss'), as.issuer);

      // oauth4webapi checks state and iss (RFC 9207 §2.4) here.
      const params = oauth.validateAuthResponse(server, client, callback, state);
      const tokens = await oauth.processAuthorizationCodeResponse(server, client,
        await oauth.authorizationCodeGrantRequest(server, client, oauth.TlsClientAuth(), params, PORTAL_CALLBACK, verifier, mtls));
      assert.equal(tokens.token_type, 'bearer');
      assert.ok(tokens.refresh_token, 'a refresh token for a client registered for the refresh_token grant');
      const { header, payload } = decodeJwt(tokens.access_token);
      assert.equal(header.typ, 'at+jwt');
      assert.equal(payload.sub, aliceId);
      assert.equal(payload.client_id, 'portal');
      assert.equal(payload.aud, RESOURCE);
      assert.equal(payload.scope, 'settlements:read');
      assert.equal(payload.cnf['x5t#S256'], createHash('sha256').update(portalCert.cert.raw).digest('base64url'));
    });

    it('is told to use the mutual-TLS alias when it pushes its request to the public listener', async () => {
      const res = await tlsFetch({ ca: as.ca, cert: portalCert.certPem, key: portalCert.keyPem })(`${as.publicUrl}/request`, {
        method: 'POST', body: new URLSearchParams({ client_id: 'portal', response_type: 'code', redirect_uri: PORTAL_CALLBACK, code_challenge: 'a'.repeat(43), code_challenge_method: 'S256' }),
      });
      assert.equal(res.status, 401);
      const body = await res.json() as { error: string; error_description: string };
      assert.equal(body.error, 'invalid_client');
      assert.match(body.error_description, new RegExp(`use the mutual-TLS endpoint ${as.mtlsUrl}/token`));
    });
  });

  describe('DPoP client: private_key_jwt, no certificate, public listener', () => {
    const client: oauth.Client = { client_id: 'dpop-web' };
    const auth = () => oauth.PrivateKeyJwt(clientKeys.privateKey);

    it('binds the code to the DPoP key at PAR (dpop_jkt) and issues a DPoP-bound token', async () => {
      const fetch = { [oauth.customFetch]: tlsFetch({ ca: as.ca }) };
      const DPoP = oauth.DPoP(client, await oauth.generateKeyPair('ES256'));
      const verifier = oauth.generateRandomCodeVerifier();
      const state = oauth.generateRandomState();
      const par = await retryOnNonce(async () => {
        const pushed = await oauth.pushedAuthorizationRequest(server, client, auth(), {
          response_type: 'code', redirect_uri: DPOP_CALLBACK, scope: 'settlements:read settlements:write', state,
          code_challenge: await oauth.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
        }, { ...fetch, DPoP });
        return oauth.processPushedAuthorizationResponse(server, client, pushed);
      });
      const authorize = new URL(server.authorization_endpoint!);
      authorize.search = new URLSearchParams({ client_id: 'dpop-web', request_uri: par.request_uri }).toString();
      const params = oauth.validateAuthResponse(server, client, await signInAndConsent(new HeadlessBrowser(as.ca), authorize, DPOP_CALLBACK), state);

      const tokens = await retryOnNonce(async () => oauth.processAuthorizationCodeResponse(server, client,
        await oauth.authorizationCodeGrantRequest(server, client, auth(), params, DPOP_CALLBACK, verifier, { ...fetch, DPoP })));
      assert.equal(tokens.token_type, 'dpop');
      const { payload } = decodeJwt(tokens.access_token);
      assert.equal(payload.cnf.jkt, await DPoP.calculateThumbprint());
      assert.equal(payload.sub, aliceId);
      assert.equal(payload.scope, 'settlements:read settlements:write');
    });
  });

  describe('RFC 9449 §10 dpop_jkt at the authorization endpoint (no PAR)', () => {
    const client: oauth.Client = { client_id: 'dpop-web' };

    /** An authorization request naming `named` in dpop_jkt, through login and consent; then the exchange with `DPoP`. */
    async function authorizeThenExchange(named: oauth.DPoPHandle, DPoP: oauth.DPoPHandle) {
      const verifier = oauth.generateRandomCodeVerifier();
      const url = new URL(server.authorization_endpoint!);
      url.search = new URLSearchParams({
        client_id: 'dpop-web', response_type: 'code', redirect_uri: DPOP_CALLBACK, scope: 'settlements:read',
        code_challenge: await oauth.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
        dpop_jkt: await named.calculateThumbprint(),
      }).toString();
      const params = oauth.validateAuthResponse(server, client, await signInAndConsent(new HeadlessBrowser(as.ca), url, DPOP_CALLBACK), oauth.expectNoState);
      return retryOnNonce(async () => oauth.processAuthorizationCodeResponse(server, client,
        await oauth.authorizationCodeGrantRequest(server, client, oauth.PrivateKeyJwt(clientKeys.privateKey), params, DPOP_CALLBACK, verifier,
          { [oauth.customFetch]: tlsFetch({ ca: as.ca }), DPoP })));
    }

    it('lets the key named in dpop_jkt redeem the code', async () => {
      const named = oauth.DPoP(client, await oauth.generateKeyPair('ES256'));
      const tokens = await authorizeThenExchange(named, named);
      assert.equal(decodeJwt(tokens.access_token).payload.cnf.jkt, await named.calculateThumbprint());
    });

    it('refuses the code to any other key (invalid_grant)', async () => {
      const named = oauth.DPoP(client, await oauth.generateKeyPair('ES256'));
      const other = oauth.DPoP(client, await oauth.generateKeyPair('ES256'));
      await assert.rejects(authorizeThenExchange(named, other), (err: oauth.ResponseBodyError) => {
        assert.equal(err.error, 'invalid_grant');
        assert.match(String(err.error_description), /does not match dpop_jkt/);
        return true;
      });
    });
  });

  describe('what the authorization endpoint refuses', () => {
    it('refuses an authorization request without PKCE', async () => {
      const url = new URL(server.authorization_endpoint!);
      url.search = new URLSearchParams({ client_id: 'dpop-web', response_type: 'code', redirect_uri: DPOP_CALLBACK, scope: 'settlements:read', state: 's' }).toString();
      const page = await new HeadlessBrowser(as.ca).request(url.href);
      assert.equal(page.status, 303);
      const location = new URL(page.headers.get('location')!);
      assert.equal(location.searchParams.get('error'), 'invalid_request');
      assert.match(location.searchParams.get('error_description')!, /PKCE/);
      assert.equal(location.searchParams.get('iss'), as.issuer);
    });

    it('refuses code_challenge_method=plain', async () => {
      const url = new URL(server.authorization_endpoint!);
      url.search = new URLSearchParams({ client_id: 'dpop-web', response_type: 'code', redirect_uri: DPOP_CALLBACK, code_challenge: 'a'.repeat(43), code_challenge_method: 'plain' }).toString();
      const page = await new HeadlessBrowser(as.ca).request(url.href);
      assert.equal(new URL(page.headers.get('location')!).searchParams.get('error'), 'invalid_request');
    });

    it('shows a page, not JSON, when the client is unknown', async () => {
      const url = new URL(server.authorization_endpoint!);
      url.search = new URLSearchParams({ client_id: 'nobody', response_type: 'code', redirect_uri: DPOP_CALLBACK, code_challenge: 'a'.repeat(43), code_challenge_method: 'S256' }).toString();
      const page = await new HeadlessBrowser(as.ca).request(url.href);
      assert.equal(page.status, 400);
      assert.match(page.headers.get('content-type')!, /text\/html/);
      assert.match(page.text, /invalid_client/);
    });
  });

  describe('the login and consent pages', () => {
    async function loginPage(browser: HeadlessBrowser): Promise<Page> {
      const url = new URL(server.authorization_endpoint!);
      url.search = new URLSearchParams({
        client_id: 'portal', response_type: 'code', redirect_uri: PORTAL_CALLBACK, scope: 'settlements:read', state: 'xyz',
        code_challenge: await oauth.calculatePKCECodeChallenge(oauth.generateRandomCodeVerifier()), code_challenge_method: 'S256',
      }).toString();
      const page = await browser.navigate(url.href);
      assert.equal(page.status, 200, page.text);
      return page;
    }

    it('escapes the client name and sends a strict CSP, no-store and DENY framing', async () => {
      const page = await loginPage(new HeadlessBrowser(as.ca));
      assert.match(page.text, /Treasury &lt;Portal&gt;/);
      assert.doesNotMatch(page.text, /Treasury <Portal>/);
      assert.match(page.headers.get('content-security-policy')!, /default-src 'none'/);
      assert.match(page.headers.get('content-security-policy')!, /frame-ancestors 'none'/);
      assert.equal(page.headers.get('cache-control'), 'no-store');
      assert.equal(page.headers.get('x-frame-options'), 'DENY');
    });

    it('answers a wrong password with 401 and the form again, the username kept and escaped', async () => {
      const browser = new HeadlessBrowser(as.ca);
      const again = await browser.submit(await loginPage(browser), /\/login$/, { username: 'alice"><script>', password: 'wrong' });
      assert.equal(again.status, 401);
      assert.match(again.text, /Wrong username or password/);
      assert.match(again.text, /value="alice&quot;&gt;&lt;script&gt;"/);
      assert.equal(formsOf(again.text).filter((f) => f.action.endsWith('/login')).length, 1);
    });

    it('refuses a form without its CSRF token (403), and one posted from another origin', async () => {
      const browser = new HeadlessBrowser(as.ca);
      const page = await loginPage(browser);
      const noToken = await browser.submit(page, /\/login$/, { username: 'alice', password: PASSWORD, csrf: '' });
      assert.equal(noToken.status, 403);
      browser.headers = { origin: 'https://attacker.example' };
      const crossOrigin = await browser.submit(page, /\/login$/, { username: 'alice', password: PASSWORD });
      assert.equal(crossOrigin.status, 403);
    });

    it('refuses a form posted without the interaction cookie (another browser) with a page, not a 500', async () => {
      const page = await loginPage(new HeadlessBrowser(as.ca));
      const stranger = await new HeadlessBrowser(as.ca).submit(page, /\/login$/, { username: 'alice', password: PASSWORD });
      assert.equal(stranger.status, 400);
      assert.match(stranger.text, /expired/);
    });

    it('answers a body that is not a form with 415, and GET on a POST route with 405', async () => {
      const browser = new HeadlessBrowser(as.ca);
      const page = await loginPage(browser);
      const action = new URL(formsOf(page.text)[0].action, page.url).href;
      assert.equal((await browser.request(action)).status, 405);
      const res = await tlsFetch({ ca: as.ca })(action, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      assert.ok(res.status >= 400 && res.status < 500, `got ${res.status}`);
    });

    it('Cancel sends access_denied back to the client, with iss', async () => {
      const browser = new HeadlessBrowser(as.ca);
      const back = await browser.submit(await loginPage(browser), /\/abort$/, {}, (l) => l.href.startsWith(PORTAL_CALLBACK));
      const location = new URL(back.headers.get('location')!);
      assert.equal(location.searchParams.get('error'), 'access_denied');
      assert.equal(location.searchParams.get('state'), 'xyz');
      assert.equal(location.searchParams.get('iss'), as.issuer);
    });

    it('is not served on the mutual-TLS listener', async () => {
      const res = await tlsFetch({ ca: as.ca })(`${as.mtlsUrl}/interaction/abc`);
      assert.equal(res.status, 404);
    });
  });
});
