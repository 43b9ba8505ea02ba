// A person's session in the admin console, as the console's own script makes it, for the security
// tests that attack it: /console/config.json, the authorization code flow with PKCE S256 and
// dpop_jkt through certbound's real login page, the code exchange with a DPoP proof (and the
// nonce retry of RFC 9449 §8), and calls to /admin/v1 on the public listener with a proof
// carrying ath. Every request is built by hand so an attack can change exactly one thing (the
// key, the jti, the htu, the scheme); the assertions live in the tests.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { HeadlessBrowser, type Page } from './browser.ts';
import { dpopProof, testKey, type TestKey } from './dpop.ts';
import { https, type HttpsAnswer, type TlsIdentity } from './https.ts';
import type { TestAuthz } from './authz.ts';

export const CONSOLE_CLIENT_ID = 'certbound-console';
export const ADMIN_API = 'urn:certbound:admin-api';

/** GET /console/config.json as the contract of issue 15 fixes it. */
export interface ConsoleConfig {
  issuer: string;
  client_id: string;
  redirect_uri: string;
  post_logout_redirect_uri: string;
  authorization_endpoint: string;
  token_endpoint: string;
  revocation_endpoint: string;
  end_session_endpoint: string;
  admin_api: string;
  resource: string;
  scope: string;
  idle_timeout_seconds: number;
}

export interface ConsoleServer {
  /** the public listener's origin */
  publicUrl: string;
  /** PEM that verifies the server's TLS certificate */
  ca: string;
}

export interface ConsoleSession {
  config: ConsoleConfig;
  accessToken: string;
  refreshToken: string;
  idToken: string;
  /** the key the tokens are bound to (cnf.jkt) */
  dpopKey: TestKey;
  /** holds the certbound session cookies of the sign-in (sends them on its own requests) */
  browser: HeadlessBrowser;
  /** the last DPoP-Nonce the server sent, if any */
  nonce?: string;
}

export async function consoleConfig(server: ConsoleServer): Promise<ConsoleConfig> {
  const res = await https(`${server.publicUrl}/console/config.json`, { ca: server.ca });
  assert.equal(res.status, 200, `GET /console/config.json: ${res.status} ${res.text.slice(0, 300)}`);
  return JSON.parse(res.text) as ConsoleConfig;
}

/** What the authorization endpoint sent back to the console's redirect_uri, and the PKCE verifier of the request. */
export interface Authorization {
  callback: URL;
  verifier: string;
  state: string;
  browser: HeadlessBrowser;
}

interface SignInStart {
  browser: HeadlessBrowser;
  /** the answer of the authorization endpoint, redirects on certbound followed */
  first: Page;
  verifier: string;
  state: string;
  atCallback: (location: URL) => boolean;
}

/** The console's authorization request (PKCE S256, dpop_jkt), followed on certbound up to the login page or a redirect to redirect_uri. */
async function beginSignIn(server: ConsoleServer, config: ConsoleConfig, key: TestKey): Promise<SignInStart> {
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(16).toString('base64url');
  const url = new URL(config.authorization_endpoint);
  url.search = new URLSearchParams({
    response_type: 'code', client_id: config.client_id, redirect_uri: config.redirect_uri, scope: config.scope,
    ...(config.resource ? { resource: config.resource } : {}), // '': none (the client's default_resource applies)
    code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256', state, dpop_jkt: key.jkt,
  }).toString();
  const browser = new HeadlessBrowser(server.ca);
  const atCallback = (location: URL) => location.href.startsWith(config.redirect_uri);
  return { browser, first: await browser.navigate(url.href, {}, atCallback), verifier, state, atCallback };
}

/** The login form's answer for `credentials` (a refused sign-in re-renders the page). */
export async function submitLogin(
  server: ConsoleServer, config: ConsoleConfig, credentials: { username: string; password: string }, key: TestKey,
): Promise<Page> {
  const { browser, first, atCallback } = await beginSignIn(server, config, key);
  assert.equal(first.status, 200, `the login page: ${first.status} ${first.text.slice(0, 500)}`);
  return browser.submit(first, /\/login$/, credentials, atCallback);
}

/**
 * The console's authorization request, followed through the login page with `credentials`, up to
 * the redirect to redirect_uri (a code, or error and error_description). The console client has
 * no consent page: one appearing fails here (another client's flow may pass `consent`).
 */
export async function authorize(
  server: ConsoleServer, config: ConsoleConfig, credentials: { username: string; password: string }, key: TestKey,
  options: { /** another client's flow: accept its consent page */ consent?: boolean } = {},
): Promise<Authorization> {
  const { browser, first, verifier, state, atCallback } = await beginSignIn(server, config, key);
  const callback = (page: Page): Authorization => ({ callback: new URL(page.headers.get('location')!, page.url), verifier, state, browser });
  if (first.status === 303 || first.status === 302) return callback(first);
  assert.equal(first.status, 200, `the login page: ${first.status} ${first.text.slice(0, 500)}`);
  let page = await browser.submit(first, /\/login$/, credentials, atCallback);
  if (options.consent && page.status === 200) page = await browser.submit(page, /\/consent$/, {}, atCallback);
  assert.ok(page.status === 303 || page.status === 302,
    `after signing in, expected the redirect to ${config.redirect_uri} (no consent page), got ${page.status}: ${page.text.slice(0, 800)}`);
  return callback(page);
}

/**
 * POST to the token (or revocation) endpoint as the console: form body, DPoP proof for `url`;
 * answered use_dpop_nonce, it retries once with the nonce (RFC 9449 §8), as the console does.
 */
export async function consoleTokenRequest(
  server: ConsoleServer, url: string, form: Record<string, string>, key: TestKey | undefined, state: { nonce?: string } = {},
): Promise<HttpsAnswer> {
  const send = async () => https(url, {
    ca: server.ca, form,
    headers: key ? { dpop: await dpopProof(key, { htm: 'POST', htu: url, ...(state.nonce ? { nonce: state.nonce } : {}) }) } : {},
  });
  let res = await send();
  remember(res, state);
  if (key && (res.status === 400 || res.status === 401) && res.json?.error === 'use_dpop_nonce') {
    res = await send();
    remember(res, state);
  }
  return res;
}

function remember(res: HttpsAnswer, state: { nonce?: string }): void {
  const nonce = res.headers['dpop-nonce'];
  if (typeof nonce === 'string') state.nonce = nonce;
}

/** The code exchange for an authorization that returned a code (asserted). */
export async function exchangeCode(
  server: ConsoleServer, config: ConsoleConfig, auth: Authorization, key: TestKey, state: { nonce?: string } = {},
): Promise<HttpsAnswer> {
  assert.equal(auth.callback.searchParams.get('state'), auth.state, `the callback's state: ${auth.callback.href}`);
  const code = auth.callback.searchParams.get('code');
  assert.ok(code, `expected a code at the callback, got ${auth.callback.href}`);
  return consoleTokenRequest(server, config.token_endpoint, {
    grant_type: 'authorization_code', code, redirect_uri: config.redirect_uri, code_verifier: auth.verifier, client_id: config.client_id,
  }, key, state);
}

/** Signs `credentials` in to the console: its tokens (asserted 200, token_type DPoP) and the key they are bound to. */
export async function signInToConsole(server: ConsoleServer, credentials: { username: string; password: string }): Promise<ConsoleSession> {
  const config = await consoleConfig(server);
  const dpopKey = await testKey();
  const auth = await authorize(server, config, credentials, dpopKey);
  const state: { nonce?: string } = {};
  const res = await exchangeCode(server, config, auth, dpopKey, state);
  assert.equal(res.status, 200, `the console's code exchange for ${credentials.username}: ${res.status} ${res.text}`);
  assert.equal(res.json.token_type, 'DPoP', `token_type: ${res.text}`);
  return {
    config, dpopKey, browser: auth.browser, ...state,
    accessToken: res.json.access_token, refreshToken: res.json.refresh_token, idToken: String(res.json.id_token),
  };
}

export interface ApiCallOptions {
  json?: unknown;
  headers?: Record<string, string>;
  /** default: the session's access token */
  accessToken?: string;
  /** default 'DPoP' */
  scheme?: string;
  /** sign the proof with this key instead of the session's */
  key?: TestKey;
  /** proof claims to override (htm, htu, jti, iat, nonce); ath: null leaves it out */
  proof?: { htm?: string; htu?: string; jti?: string; iat?: number; nonce?: string; ath?: null };
  /** send exactly this DPoP header (a replayed proof); null: none */
  dpop?: string | null;
  /** call another origin than the public listener (the mutual-TLS listener) */
  origin?: string;
  /** a client certificate to present */
  identity?: TlsIdentity;
}

/** The proof the console sends with an admin API call: htm, htu (no query), ath, the last nonce. */
export async function apiProof(session: ConsoleSession, method: string, url: string, options: ApiCallOptions = {}): Promise<string> {
  const { ath, ...claims } = options.proof ?? {};
  const target = new URL(url);
  const htu = `${target.origin}${target.pathname}`;
  return dpopProof(options.key ?? session.dpopKey, {
    htm: method, htu, ...(session.nonce ? { nonce: session.nonce } : {}),
    ...(ath === null ? {} : { accessToken: options.accessToken ?? session.accessToken }), ...claims,
  });
}

/**
 * One call to `<admin_api><path>` (or the same path on `origin`) as the console makes it, with
 * exactly the proof `options` describe; no nonce retry (see consoleApi).
 */
export async function consoleApiOnce(
  server: ConsoleServer, session: ConsoleSession, method: string, path: string, options: ApiCallOptions = {},
): Promise<HttpsAnswer & { proof?: string }> {
  const base = new URL(session.config.admin_api);
  const url = `${options.origin ?? base.origin}${base.pathname}${path}`;
  const proof = options.dpop === undefined ? await apiProof(session, method, url, options) : options.dpop ?? undefined;
  const res = await https(url, {
    method, ca: server.ca,
    ...(options.identity ? { identity: options.identity } : {}),
    ...(options.json === undefined ? {} : { json: options.json }),
    headers: {
      authorization: `${options.scheme ?? 'DPoP'} ${options.accessToken ?? session.accessToken}`,
      ...(proof === undefined ? {} : { dpop: proof }),
      ...options.headers,
    },
  });
  remember(res, session);
  return { ...res, ...(proof === undefined ? {} : { proof }) };
}

/** consoleApiOnce, retried once with the server's nonce when it answers use_dpop_nonce (the console's behaviour). */
export async function consoleApi(
  server: ConsoleServer, session: ConsoleSession, method: string, path: string, options: ApiCallOptions = {},
): Promise<HttpsAnswer & { proof?: string }> {
  const res = await consoleApiOnce(server, session, method, path, options);
  if (res.status === 401 && res.json?.error === 'use_dpop_nonce' && options.dpop === undefined) return consoleApiOnce(server, session, method, path, options);
  return res;
}

/** The console's sign-out revocations: the refresh token, then the access token (RFC 7009). */
export async function revokeSession(server: ConsoleServer, session: ConsoleSession): Promise<HttpsAnswer[]> {
  const answers: HttpsAnswer[] = [];
  for (const [token, hint] of [[session.refreshToken, 'refresh_token'], [session.accessToken, 'access_token']] as const) {
    const form = { client_id: session.config.client_id, token, token_type_hint: hint };
    answers.push(await consoleTokenRequest(server, session.config.revocation_endpoint, form, undefined));
  }
  return answers;
}

/**
 * What an attack must not change, read through the admin client on the mutual-TLS listener: the
 * clients (every one, as stored), the resource servers and the newest audit rows.
 */
export async function adminWorld(as: TestAuthz): Promise<{ clients: unknown; resourceServers: unknown; audit: unknown }> {
  const read = async (path: string) => {
    const res = await as.admin.request('GET', path);
    assert.equal(res.status, 200, `GET /admin/v1${path}: ${res.status} ${res.text.slice(0, 300)}`);
    return res.json.items;
  };
  return { clients: await read('/clients?limit=100'), resourceServers: await read('/resource-servers?limit=100'), audit: await read('/audit?limit=100') };
}

/**
 * The Cookie header `browser` sends to localhost (cookies are per host, not per port): read by
 * pointing it at a one-request HTTPS server on localhost with the test server's certificate, so a
 * CSRF test can attach exactly the certbound session cookies of a real sign-in to any request.
 */
export async function cookiesOf(browser: HeadlessBrowser, tls: { certPem: string; keyPem: string }): Promise<string> {
  let cookie: string | undefined;
  const echo = createServer({ cert: tls.certPem, key: tls.keyPem }, (req, res) => {
    cookie = req.headers.cookie;
    res.end('ok');
  });
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  try {
    await browser.request(`https://localhost:${(echo.address() as AddressInfo).port}/`);
  } finally {
    echo.closeAllConnections();
    await new Promise((resolve) => echo.close(resolve));
  }
  assert.ok(cookie, 'the browser holds no cookie after signing in');
  return cookie;
}
