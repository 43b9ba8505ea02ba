/** Where the verifier gets the authorization server's public keys: a remote or local JWKS. */
import { createLocalJWKSet, createRemoteJWKSet, customFetch, errors, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { createHttpsFetch, fetchWithDispatcher, type Dispatcher, type FetchLike } from './http-fetch.ts';
import { UpstreamError } from './upstream-error.ts';

export interface RemoteJwksOptions {
  /** The JWKS URL. https, or http on a loopback host only. */
  url: string | URL;
  /** Trust anchors (PEM) for a JWKS server under a private CA. Verification is never disabled. */
  ca?: string | Buffer | Array<string | Buffer>;
  /** An undici Dispatcher passed to the global fetch (e.g. an Agent with its own CA). */
  dispatcher?: Dispatcher;
  /** Your own fetch implementation. */
  fetch?: FetchLike;
  /** Minimum time between two fetches, also when an unknown `kid` arrives. Default 30000 ms. */
  cooldownMs?: number;
  /** How long fetched keys are used before a refetch. Default 600000 ms. */
  cacheMaxAgeMs?: number;
  /** Request timeout. Default 5000 ms. */
  timeoutMs?: number;
}

/** `jwks` option: a URL, remote options, or a local JWK Set object. */
export type JwksOption = string | URL | RemoteJwksOptions | JSONWebKeySet;

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

function isKeySet(value: object): value is JSONWebKeySet {
  return Array.isArray((value as JSONWebKeySet).keys);
}

function nonNegative(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new TypeError(`${name}: must be a non-negative number of milliseconds`);
  return value;
}

/** Validates the `jwks` option once and returns jose's key resolver. */
export function createKeyResolver(option: JwksOption): JWTVerifyGetKey {
  if (option === null || (typeof option !== 'string' && typeof option !== 'object')) {
    throw new TypeError('jwks: must be a URL, { url, ... } or a JWK Set { keys: [...] }');
  }
  if (typeof option === 'object' && !(option instanceof URL) && isKeySet(option)) {
    try {
      return createLocalJWKSet(option);
    } catch (cause) {
      throw new TypeError('jwks: the local JWK Set is invalid', { cause });
    }
  }
  const remote: RemoteJwksOptions = typeof option === 'string' || option instanceof URL ? { url: option } : option;
  let url: URL;
  try {
    url = new URL(remote.url);
  } catch {
    throw new TypeError(`jwks.url: ${JSON.stringify(String(remote.url))} is not a URL`);
  }
  // Keys fetched over plain HTTP could be swapped in transit; loopback is allowed for development.
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.has(url.hostname))) {
    throw new TypeError('jwks.url: must be https (http is allowed only on a loopback host)');
  }
  if (remote.fetch !== undefined && typeof remote.fetch !== 'function') throw new TypeError('jwks.fetch: must be a function');
  if ([remote.ca, remote.dispatcher, remote.fetch].filter((v) => v !== undefined).length > 1) {
    throw new TypeError('jwks: give at most one of ca, dispatcher, fetch');
  }
  const cooldownDuration = nonNegative(remote.cooldownMs, 'jwks.cooldownMs') ?? 30_000;
  const cacheMaxAge = nonNegative(remote.cacheMaxAgeMs, 'jwks.cacheMaxAgeMs') ?? 600_000;
  const timeoutDuration = nonNegative(remote.timeoutMs, 'jwks.timeoutMs') ?? 5_000;

  let fetchImpl: FetchLike | undefined = remote.fetch;
  if (remote.ca !== undefined) fetchImpl = createHttpsFetch({ ca: remote.ca });
  if (remote.dispatcher !== undefined) {
    fetchImpl = fetchWithDispatcher(remote.dispatcher);
  }
  const jwks = createRemoteJWKSet(url, {
    cooldownDuration,
    cacheMaxAge,
    timeoutDuration,
    ...(fetchImpl ? { [customFetch]: fetchImpl } : {}),
  });

  return async function remoteKey(header, token) {
    try {
      return await jwks(header, token);
    } catch (err) {
      // "No such key" is the token's problem; anything else means the JWKS could not be used.
      if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) throw err;
      throw new UpstreamError(`JWKS at ${url.origin}${url.pathname} could not be used`, { cause: err });
    }
  };
}
