// The authorization-code flow as a client and a person run it, for tests: PAR (RFC 9126) with
// PKCE S256 through oauth4webapi, the login and consent pages in a headless browser, the code
// exchange. Every step's assertions live in the tests; this only walks the happy path.
import assert from 'node:assert/strict';
import * as oauth from 'oauth4webapi';
import { HeadlessBrowser } from './browser.ts';

export async function retryOnNonce<T>(attempt: () => Promise<T>): Promise<T> {
  try {
    return await attempt();
  } catch (err) {
    // RFC 9449 §8: answered use_dpop_nonce; the DPoP handle now holds the nonce, so retry once.
    if (oauth.isDPoPNonceError(err)) return attempt();
    throw err;
  }
}

/** Follows the authorization URL through login and consent; returns the redirect to `callback`. */
export async function signInAndConsent(
  browser: HeadlessBrowser, authorizationUrl: URL, callback: string, credentials: { username: string; password: string },
): Promise<URL> {
  const login = await browser.navigate(authorizationUrl.href);
  assert.equal(login.status, 200, login.text);
  let page = await browser.submit(login, /\/login$/, credentials, (l) => l.href.startsWith(callback));
  if (page.status === 200) page = await browser.submit(page, /\/consent$/, {}, (l) => l.href.startsWith(callback));
  assert.equal(page.status, 303, page.text);
  return new URL(page.headers.get('location')!);
}

export interface CodeFlowClient {
  server: oauth.AuthorizationServer;
  client: oauth.Client;
  auth: () => oauth.ClientAuth;
  options: oauth.TokenEndpointRequestOptions;
  redirectUri: string;
  ca: string;
}

export async function runCodeFlow(
  c: CodeFlowClient, params: Record<string, string>, credentials: { username: string; password: string },
): Promise<oauth.TokenEndpointResponse> {
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const par = await retryOnNonce(async () => oauth.processPushedAuthorizationResponse(c.server, c.client,
    await oauth.pushedAuthorizationRequest(c.server, c.client, c.auth(), {
      response_type: 'code', redirect_uri: c.redirectUri, state, ...params,
      code_challenge: await oauth.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    }, c.options)));
  const authorize = new URL(c.server.authorization_endpoint!);
  authorize.search = new URLSearchParams({ client_id: c.client.client_id, request_uri: par.request_uri }).toString();
  const callback = await signInAndConsent(new HeadlessBrowser(c.ca), authorize, c.redirectUri, credentials);
  const response = oauth.validateAuthResponse(c.server, c.client, callback, state);
  return retryOnNonce(async () => oauth.processAuthorizationCodeResponse(c.server, c.client,
    await oauth.authorizationCodeGrantRequest(c.server, c.client, c.auth(), response, c.redirectUri, verifier, c.options)));
}
