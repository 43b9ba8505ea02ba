// @ts-check
// The console's session with certbound: authorization code + PKCE S256 sign-in, DPoP proofs
// (RFC 9449) signed by a non-extractable WebCrypto P-256 key kept in IndexedDB, the token
// exchange, refresh (rotating) and revocation, sign-out through end_session, and the idle timer.
// Tokens live in sessionStorage only (never localStorage, never cookies): API calls carry them in
// headers, so no request made by another site can act with them (CSRF-safe by construction).

/**
 * @typedef {object} ConsoleConfig
 * @property {string} issuer
 * @property {string} client_id
 * @property {string} redirect_uri
 * @property {string} post_logout_redirect_uri
 * @property {string} authorization_endpoint
 * @property {string} token_endpoint
 * @property {string} revocation_endpoint
 * @property {string} end_session_endpoint
 * @property {string} admin_api
 * @property {string} resource
 * @property {string} scope
 * @property {number} idle_timeout_seconds
 */

/**
 * @typedef {object} Tokens
 * @property {string} access_token
 * @property {string | undefined} refresh_token
 * @property {string | undefined} id_token
 * @property {number} expires_at  epoch milliseconds
 */

const TOKENS = 'certbound-console:tokens';
const PENDING = 'certbound-console:pending-sign-in';
const NOTICE = 'certbound-console:notice';
const DB_NAME = 'certbound-console';
const DB_STORE = 'keys';
const DPOP_KEY = 'dpop';

/** A sign-in that did not complete, with the message the sign-in screen shows. */
export class SignInError extends Error {}

const encoder = new TextEncoder();

/** @param {ArrayBuffer | Uint8Array} bytes */
export function base64url(bytes) {
  let binary = '';
  for (const byte of new Uint8Array(bytes)) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

/** @param {string} text  base64url; throws on anything else */
function fromBase64url(text) {
  return Uint8Array.from(atob(text.replaceAll('-', '+').replaceAll('_', '/')), (c) => c.charCodeAt(0));
}

/** @param {number} n */
function randomToken(n) {
  return base64url(crypto.getRandomValues(new Uint8Array(n)));
}

/** @param {string} text */
async function sha256(text) {
  return base64url(await crypto.subtle.digest('SHA-256', encoder.encode(text)));
}

/**
 * @param {unknown} value
 * @returns {value is Record<string, unknown>}
 */
export function isObject(value) {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The JSON body of an answer as unknown (null when it is not JSON), never a throw. */
/** @param {Response} res */
export async function jsonOf(res) {
  const text = await res.text().catch(() => '');
  try {
    return /** @type {unknown} */ (JSON.parse(text));
  } catch {
    return null;
  }
}

/** GET /console/config.json, checked member by member. */
export async function loadConfig() {
  const res = await fetch('/console/config.json', { credentials: 'omit', cache: 'no-store', referrerPolicy: 'same-origin' });
  rememberClock(res);
  const body = await jsonOf(res);
  if (!res.ok || !isObject(body)) throw new Error(`/console/config.json answered ${res.status}`);
  const names = ['issuer', 'client_id', 'redirect_uri', 'post_logout_redirect_uri', 'authorization_endpoint', 'token_endpoint',
    'revocation_endpoint', 'end_session_endpoint', 'admin_api', 'resource', 'scope'];
  for (const name of names) {
    if (typeof body[name] !== 'string') throw new Error(`/console/config.json: ${name} is missing`);
  }
  const idle = typeof body.idle_timeout_seconds === 'number' && body.idle_timeout_seconds > 0 ? body.idle_timeout_seconds : 900;
  return /** @type {ConsoleConfig} */ ({ ...body, idle_timeout_seconds: idle });
}

// ---- The DPoP key: non-extractable, in IndexedDB (structured clone keeps it non-extractable) ----

/** @returns {Promise<IDBDatabase>} */
function openDb() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(DB_STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error('IndexedDB refused to open'));
  });
}

/**
 * @template T
 * @param {IDBTransactionMode} mode
 * @param {(store: IDBObjectStore) => IDBRequest} operation
 * @returns {Promise<T>}
 */
async function withStore(mode, operation) {
  const db = await openDb();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(DB_STORE, mode);
      const request = operation(tx.objectStore(DB_STORE));
      tx.oncomplete = () => resolve(/** @type {T} */ (request.result));
      tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
      tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
    });
  } finally {
    db.close();
  }
}

/** @type {Promise<CryptoKeyPair | undefined> | undefined} */
let keyPair;

/**
 * The console's DPoP key pair, reused across reloads; `create` makes one when there is none.
 * @param {boolean} create
 * @returns {Promise<CryptoKeyPair | undefined>}
 */
export function dpopKey(create) {
  keyPair ??= withStore('readonly', (store) => store.get(DPOP_KEY)).then((/** @type {unknown} */ stored) => {
    if (isObject(stored) && stored.privateKey instanceof CryptoKey && stored.publicKey instanceof CryptoKey) {
      return /** @type {CryptoKeyPair} */ (/** @type {unknown} */ (stored));
    }
    return undefined;
  });
  return keyPair.then(async (found) => {
    if (found || !create) return found;
    const made = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
    await withStore('readwrite', (store) => store.put(made, DPOP_KEY));
    keyPair = Promise.resolve(made);
    return made;
  });
}

export async function deleteDpopKey() {
  keyPair = undefined;
  publicJwks = new WeakMap();
  await withStore('readwrite', (store) => store.delete(DPOP_KEY));
}

/** @type {WeakMap<CryptoKey, { kty: string, crv: string, x: string, y: string }>} */
let publicJwks = new WeakMap();

/** The public key as the JWK a proof carries (the public half of a pair is always exportable). */
/** @param {CryptoKey} publicKey */
async function publicJwk(publicKey) {
  let jwk = publicJwks.get(publicKey);
  if (!jwk) {
    const { kty, crv, x, y } = await crypto.subtle.exportKey('jwk', publicKey);
    if (kty !== 'EC' || crv === undefined || x === undefined || y === undefined) throw new Error('the DPoP key is not an EC key');
    jwk = { kty, crv, x, y };
    publicJwks.set(publicKey, jwk);
  }
  return jwk;
}

/** RFC 7638 JWK thumbprint: the dpop_jkt of the authorization request. */
/** @param {CryptoKey} publicKey */
export async function thumbprint(publicKey) {
  const { crv, kty, x, y } = await publicJwk(publicKey);
  return sha256(JSON.stringify({ crv, kty, x, y }));
}

/** The last DPoP-Nonce each server sent: the authorization server's token endpoint ('as') and the admin API ('rs'). */
/** @type {Map<'as' | 'rs', string>} */
const nonces = new Map();

/** How far the server's clock is ahead of this browser's, in ms: a proof's iat is the server's time (RFC 9449 §11.1). */
let clockOffset = 0;

/**
 * Remembers what an answer says for the next proofs: the DPoP-Nonce it sent, and the server's
 * clock (its Date header) when this browser's clock is more than 5 seconds off.
 * @param {'as' | 'rs'} server
 * @param {Response} res
 */
export function rememberNonce(server, res) {
  const nonce = res.headers.get('DPoP-Nonce');
  if (nonce) nonces.set(server, nonce);
  rememberClock(res);
}

/** @param {Response} res */
function rememberClock(res) {
  const date = Date.parse(res.headers.get('Date') ?? '');
  if (Number.isFinite(date)) {
    const offset = date - Date.now();
    clockOffset = Math.abs(offset) > 5000 ? offset : 0;
  }
}

/**
 * A DPoP proof JWT (RFC 9449 §4.2) for one request.
 * @param {CryptoKeyPair} keys
 * @param {string} method
 * @param {string} url
 * @param {{ server: 'as' | 'rs', accessToken?: string }} options
 */
export async function dpopProof(keys, method, url, options) {
  const htu = new URL(url);
  htu.search = '';
  htu.hash = '';
  const header = { typ: 'dpop+jwt', alg: 'ES256', jwk: await publicJwk(keys.publicKey) };
  /** @type {Record<string, string | number>} */
  const payload = { jti: randomToken(16), htm: method, htu: htu.href, iat: Math.floor((Date.now() + clockOffset) / 1000) };
  if (options.accessToken !== undefined) payload.ath = await sha256(options.accessToken);
  const nonce = nonces.get(options.server);
  if (nonce !== undefined) payload.nonce = nonce;
  const input = `${base64url(encoder.encode(JSON.stringify(header)))}.${base64url(encoder.encode(JSON.stringify(payload)))}`;
  // WebCrypto's ECDSA signature is r || s, the form JWS ES256 wants (RFC 7518 §3.4).
  const signature = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, keys.privateKey, encoder.encode(input));
  return `${input}.${base64url(signature)}`;
}

// ---- Tokens in sessionStorage ----

/** @returns {Tokens | undefined} */
export function readTokens() {
  const raw = sessionStorage.getItem(TOKENS);
  if (raw === null) return undefined;
  try {
    const value = /** @type {unknown} */ (JSON.parse(raw));
    if (isObject(value) && typeof value.access_token === 'string' && typeof value.expires_at === 'number') return /** @type {Tokens} */ (value);
  } catch {
    // fall through: a damaged entry is no session
  }
  sessionStorage.removeItem(TOKENS);
  return undefined;
}

/** @param {Tokens} tokens */
function saveTokens(tokens) {
  sessionStorage.setItem(TOKENS, JSON.stringify(tokens));
}

/** The person the ID token names (for the header), read from its payload; display only. */
export function signedInAs() {
  const idToken = readTokens()?.id_token;
  const payload = idToken?.split('.')[1];
  if (!payload) return undefined;
  try {
    const claims = /** @type {unknown} */ (JSON.parse(new TextDecoder().decode(fromBase64url(payload))));
    if (!isObject(claims)) return undefined;
    for (const claim of ['preferred_username', 'name', 'email', 'sub']) {
      if (typeof claims[claim] === 'string') return /** @type {string} */ (claims[claim]);
    }
  } catch {
    // not a JWT we can read: show nothing
  }
  return undefined;
}

/** The message to show once on the sign-in screen (why the last session ended), then forgotten. */
export function takeNotice() {
  const notice = sessionStorage.getItem(NOTICE);
  sessionStorage.removeItem(NOTICE);
  return notice ?? undefined;
}

/**
 * POST to the token endpoint with a DPoP proof; one retry with the nonce the server asks for.
 * @param {ConsoleConfig} config
 * @param {CryptoKeyPair} keys
 * @param {Record<string, string>} params
 * @returns {Promise<Tokens>}
 */
async function tokenRequest(config, keys, params) {
  for (let attempt = 0; ; attempt += 1) {
    const proof = await dpopProof(keys, 'POST', config.token_endpoint, { server: 'as' });
    const res = await fetch(config.token_endpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json', DPoP: proof },
      body: new URLSearchParams(params),
      credentials: 'omit',
      cache: 'no-store',
      // The page's no-referrer policy would send `Origin: null`; the server may check that the call comes from its own origin.
      referrerPolicy: 'same-origin',
    });
    rememberNonce('as', res);
    const body = await jsonOf(res);
    if (!res.ok) {
      const error = isObject(body) && typeof body.error === 'string' ? body.error : `HTTP ${res.status}`;
      if (error === 'use_dpop_nonce' && attempt === 0 && res.headers.has('DPoP-Nonce')) continue;
      const description = isObject(body) && typeof body.error_description === 'string' ? body.error_description : undefined;
      throw new SignInError(description ? `${description} (${error})` : `The token endpoint refused: ${error}`);
    }
    if (!isObject(body) || typeof body.access_token !== 'string' || typeof body.token_type !== 'string') {
      throw new SignInError('The token endpoint answered without an access token');
    }
    if (body.token_type.toLowerCase() !== 'dpop') throw new SignInError(`The token endpoint issued a ${body.token_type} token, not a DPoP-bound one`);
    const expiresIn = typeof body.expires_in === 'number' ? body.expires_in : 300;
    return {
      access_token: body.access_token,
      refresh_token: typeof body.refresh_token === 'string' ? body.refresh_token : params.refresh_token,
      id_token: typeof body.id_token === 'string' ? body.id_token : readTokens()?.id_token,
      expires_at: Date.now() + expiresIn * 1000,
    };
  }
}

// ---- Sign-in ----

/**
 * Sends the browser to the authorization endpoint: PKCE S256, state, and dpop_jkt binding the
 * code to this console's key. `fresh` asks for the login page even when certbound still has a
 * session (prompt=login): after a refused sign-in the person may want to use another account.
 * @param {ConsoleConfig} config
 * @param {{ fresh?: boolean }} [options]
 */
export async function beginSignIn(config, options = {}) {
  const keys = await dpopKey(true);
  if (!keys) throw new SignInError('This browser could not create a signing key (WebCrypto and IndexedDB are needed)');
  const verifier = randomToken(32);
  const state = randomToken(16);
  sessionStorage.setItem(PENDING, JSON.stringify({ state, verifier }));
  const url = new URL(config.authorization_endpoint);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: config.client_id,
    redirect_uri: config.redirect_uri,
    scope: config.scope,
    resource: config.resource,
    code_challenge: await sha256(verifier),
    code_challenge_method: 'S256',
    state,
    dpop_jkt: await thumbprint(keys.publicKey),
    ...(options.fresh ? { prompt: 'login' } : {}),
  }).toString();
  location.assign(url.href);
}

/**
 * /console/callback: checks state (and iss, RFC 9207), then exchanges the code for tokens.
 * @param {ConsoleConfig} config
 * @param {string} search  location.search of the callback
 */
export async function completeSignIn(config, search) {
  const params = new URLSearchParams(search);
  const raw = sessionStorage.getItem(PENDING);
  sessionStorage.removeItem(PENDING);
  /** @type {unknown} */
  let pending;
  try {
    pending = raw === null ? null : JSON.parse(raw);
  } catch {
    pending = null;
  }
  if (!isObject(pending) || typeof pending.state !== 'string' || typeof pending.verifier !== 'string') {
    throw new SignInError('This sign-in was not started from this tab (or was already used); sign in again.');
  }
  if (params.get('state') !== pending.state) throw new SignInError('The sign-in answer does not match the request this tab sent (state mismatch); sign in again.');
  const iss = params.get('iss');
  if (iss !== null && iss !== config.issuer) throw new SignInError(`The sign-in answer came from ${iss}, not from ${config.issuer}; sign in again.`);
  const error = params.get('error');
  if (error !== null) {
    const description = params.get('error_description');
    throw new SignInError(description ? `${description} (${error})` : `Sign-in refused: ${error}`);
  }
  const code = params.get('code');
  if (code === null) throw new SignInError('The sign-in answer carries no authorization code; sign in again.');
  const keys = await dpopKey(false);
  if (!keys) throw new SignInError('The signing key of this sign-in is gone; sign in again.');
  saveTokens(await tokenRequest(config, keys, {
    grant_type: 'authorization_code', code, redirect_uri: config.redirect_uri, code_verifier: pending.verifier, client_id: config.client_id,
  }));
}

/** @type {Promise<Tokens> | undefined} */
let refreshing;

/**
 * Exchanges the refresh token (rotating, DPoP-bound) for new tokens; concurrent callers share one
 * exchange. Rejects with a SignInError when the session cannot go on.
 * @param {ConsoleConfig} config
 * @returns {Promise<Tokens>}
 */
export function refresh(config) {
  refreshing ??= (async () => {
    try {
      const tokens = readTokens();
      const keys = await dpopKey(false);
      if (!tokens?.refresh_token || !keys) throw new SignInError('Your session has ended; sign in again.');
      const fresh = await tokenRequest(config, keys, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: config.client_id });
      saveTokens(fresh);
      return fresh;
    } finally {
      refreshing = undefined;
    }
  })();
  return refreshing;
}

// ---- Sign-out and idle ----

/**
 * @param {ConsoleConfig} config
 * @param {string} token
 * @param {string} hint
 */
async function revoke(config, token, hint) {
  try {
    const res = await fetch(config.revocation_endpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: config.client_id, token, token_type_hint: hint }),
      credentials: 'omit',
      cache: 'no-store',
      // The page's no-referrer policy would send `Origin: null`; the server may check that the call comes from its own origin.
      referrerPolicy: 'same-origin',
    });
    // Read to the end, so that the navigation to end_session that follows does not cut the answer off.
    await res.arrayBuffer();
  } catch {
    // The server is unreachable: the local state is still cleared and the session ends at end_session.
  }
}

/** Forgets the session in this tab: the DPoP key and everything in sessionStorage. */
export async function forgetSession() {
  try {
    await deleteDpopKey();
  } finally {
    sessionStorage.clear();
  }
}

/**
 * Revokes the refresh and access tokens, deletes the key, clears sessionStorage and ends the
 * session at certbound (end_session), which returns to the console.
 * @param {ConsoleConfig} config
 * @param {string} [reason]  shown on the sign-in screen afterwards
 */
export async function signOut(config, reason) {
  const tokens = readTokens();
  if (tokens?.refresh_token) await revoke(config, tokens.refresh_token, 'refresh_token');
  if (tokens) await revoke(config, tokens.access_token, 'access_token');
  await forgetSession();
  if (reason) sessionStorage.setItem(NOTICE, reason);
  const url = new URL(config.end_session_endpoint);
  url.search = new URLSearchParams({
    ...(tokens?.id_token ? { id_token_hint: tokens.id_token } : {}),
    post_logout_redirect_uri: config.post_logout_redirect_uri,
    client_id: config.client_id,
  }).toString();
  location.assign(url.href);
}

/**
 * Calls `onIdle` once after `seconds` without keyboard, mouse or touch input.
 * @param {number} seconds
 * @param {() => void} onIdle
 * @returns {() => void} stops watching
 */
export function watchIdle(seconds, onIdle) {
  let last = Date.now();
  const events = ['keydown', 'pointerdown', 'pointermove', 'wheel', 'touchstart'];
  const bump = () => { last = Date.now(); };
  const check = () => {
    if (Date.now() - last < seconds * 1000) return;
    stop();
    onIdle();
  };
  const timer = setInterval(check, Math.min(5000, seconds * 250));
  for (const type of events) addEventListener(type, bump, { passive: true, capture: true });
  // A tab put to sleep wakes up past its deadline: check at once.
  document.addEventListener('visibilitychange', check);
  function stop() {
    clearInterval(timer);
    for (const type of events) removeEventListener(type, bump, { capture: true });
    document.removeEventListener('visibilitychange', check);
  }
  return stop;
}
