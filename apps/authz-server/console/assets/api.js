// @ts-check
// Calls the admin API (/admin/v1) as the signed-in person: `Authorization: DPoP <token>` and a
// fresh DPoP proof with `ath` on every request, one retry with the server's nonce, one refresh
// and retry when the token has expired; every refusal becomes an ApiError carrying the API's
// {error, error_description} and the HTTP status, so pages can say exactly what was wrong.
import { dpopKey, dpopProof, forgetSession, isObject, jsonOf, readTokens, refresh, rememberNonce } from './auth.js';

/** @typedef {import('./auth.js').ConsoleConfig} ConsoleConfig */

export class ApiError extends Error {
  /**
   * @param {number} status  0 when the server did not answer
   * @param {string} error
   * @param {string} description
   * @param {{ retryAfter?: string | null }} [extra]
   */
  constructor(status, error, description, extra = {}) {
    super(description || error);
    this.status = status;
    this.error = error;
    this.error_description = description;
    this.retryAfter = extra.retryAfter ?? null;
  }
}

/** The session could not go on (refresh refused, key gone): the console shows the sign-in screen. */
export class SignedOut extends Error {}

/**
 * @typedef {object} Answer
 * @property {number} status
 * @property {unknown} body  parsed JSON, or null
 * @property {Headers} headers
 */

/**
 * @typedef {object} RequestOptions
 * @property {unknown} [json]  sent as application/json
 * @property {Record<string, string | undefined>} [query]  empty and undefined values are left out
 * @property {Record<string, string>} [headers]
 */

/** @type {ConsoleConfig | undefined} */
let config;
/** @type {(reason: string) => void} */
let onSignedOut = () => {};

/**
 * @param {ConsoleConfig} consoleConfig
 * @param {(reason: string) => void} signedOut  called once when the session cannot be refreshed
 */
export function configureApi(consoleConfig, signedOut) {
  config = consoleConfig;
  onSignedOut = signedOut;
}

/**
 * The error code of a challenge: `DPoP error="invalid_token", error_description="..."` → "invalid_token"
 * (RFC 6750 §3, RFC 9449 §7.1); undefined when it names none. Never throws (property-tested).
 * @param {string | null} challenge  the WWW-Authenticate header
 */
export function challengeErrorOf(challenge) {
  return /(?:^|[\s,])error="([^"\\]*)"/.exec(challenge ?? '')?.[1];
}

/** @param {Headers} headers */
function challengeError(headers) {
  return challengeErrorOf(headers.get('WWW-Authenticate'));
}

/**
 * @param {string} reason
 * @returns {Promise<never>}
 */
async function endSession(reason) {
  await forgetSession().catch(() => {});
  onSignedOut(reason);
  throw new SignedOut(reason);
}

/**
 * One admin API request.
 * @param {string} method
 * @param {string} path  below /admin/v1, e.g. `/clients/${encodeURIComponent(id)}`
 * @param {RequestOptions} [options]
 * @returns {Promise<Answer>}
 */
export async function api(method, path, options = {}) {
  if (!config) throw new Error('configureApi() first');
  const url = new URL(config.admin_api + path);
  for (const [name, value] of Object.entries(options.query ?? {})) {
    if (value !== undefined && value !== '') url.searchParams.set(name, value);
  }
  const keys = await dpopKey(false);
  let tokens = readTokens();
  if (!keys || !tokens) return endSession('Your session has ended; sign in again.');
  if (tokens.expires_at <= Date.now()) tokens = await refreshOrEnd(config);

  let nonceRetried = false;
  let refreshed = false;
  for (;;) {
    const headers = new Headers(options.headers);
    headers.set('Accept', 'application/json');
    headers.set('Authorization', `DPoP ${tokens.access_token}`);
    headers.set('DPoP', await dpopProof(keys, method, url.href, { server: 'rs', accessToken: tokens.access_token }));
    /** @type {string | undefined} */
    let body;
    if (options.json !== undefined) {
      headers.set('Content-Type', 'application/json');
      body = JSON.stringify(options.json);
    }
    /** @type {Response} */
    let res;
    try {
      res = await fetch(url, { method, headers, body, credentials: 'omit', cache: 'no-store', referrerPolicy: 'same-origin' });
    } catch (err) {
      throw new ApiError(0, 'network_error', `certbound did not answer (${err instanceof Error ? err.message : String(err)}); check the connection and retry`);
    }
    rememberNonce('rs', res);
    if (res.status === 401) {
      const error = challengeError(res.headers);
      if (error === 'use_dpop_nonce' && !nonceRetried && res.headers.has('DPoP-Nonce')) {
        nonceRetried = true;
        continue;
      }
      if (error === 'invalid_token' && !refreshed) {
        refreshed = true;
        tokens = await refreshOrEnd(config);
        continue;
      }
    }
    const parsed = res.status === 204 ? null : await jsonOf(res);
    if (!res.ok) throw errorOf(res, parsed);
    return { status: res.status, body: parsed, headers: res.headers };
  }
}

/** @param {ConsoleConfig} consoleConfig */
async function refreshOrEnd(consoleConfig) {
  try {
    return await refresh(consoleConfig);
  } catch (err) {
    return endSession(`Your session has ended (${err instanceof Error ? err.message : String(err)}); sign in again.`);
  }
}

/**
 * @param {Response} res
 * @param {unknown} body
 */
function errorOf(res, body) {
  const retryAfter = res.headers.get('Retry-After');
  if (isObject(body) && typeof body.error === 'string') {
    const description = typeof body.error_description === 'string' ? body.error_description : '';
    return new ApiError(res.status, body.error, description, { retryAfter });
  }
  if (res.status === 503) {
    return new ApiError(503, 'temporarily_unavailable', `certbound's storage is unavailable; retry${retryAfter ? ` in ${retryAfter} s` : ' shortly'}`, { retryAfter });
  }
  const challenge = challengeError(res.headers);
  return new ApiError(res.status, challenge ?? `http_${res.status}`, challenge ? '' : `the admin API answered HTTP ${res.status}`, { retryAfter });
}

/**
 * GET every page of a cursor-paginated list (items + next_cursor), up to `maxPages` pages.
 * @param {string} path
 * @param {Record<string, string | undefined>} [query]
 * @param {number} [maxPages]
 * @returns {Promise<{ items: unknown[], complete: boolean }>}
 */
export async function listAll(path, query = {}, maxPages = 25) {
  /** @type {unknown[]} */
  const items = [];
  /** @type {string | undefined} */
  let cursor;
  for (let i = 0; i < maxPages; i += 1) {
    const { body } = await api('GET', path, { query: { ...query, limit: '200', cursor } });
    if (!isObject(body) || !Array.isArray(body.items)) throw new ApiError(200, 'unexpected_answer', `${path} answered without items`);
    items.push(...body.items);
    if (typeof body.next_cursor !== 'string') return { items, complete: true };
    cursor = body.next_cursor;
  }
  return { items, complete: false };
}
