/**
 * RFC 7662 token introspection for opaque access tokens. The resource server authenticates with
 * mutual TLS (RFC 8705 §2) or a fetch/dispatcher of your own. Active responses are cached by
 * SHA-256 of the token until their `exp`, never longer; inactive ones are not cached.
 */
import { createHash } from 'node:crypto';
import type { JWTPayload } from 'jose';
import { LRUCache } from 'lru-cache';
import { InvalidTokenError } from './errors.ts';
import { createHttpsFetch, fetchWithDispatcher, type Dispatcher, type FetchLike } from './http-fetch.ts';
import { UpstreamError } from './upstream-error.ts';

export interface IntrospectionOptions {
  /** The introspection endpoint (https; http only on a loopback host with your own fetch). */
  endpoint: string | URL;
  /** Our client_id at the authorization server, sent in the request body. */
  clientId: string;
  /** Client certificate (PEM) for mutual-TLS client authentication. */
  clientCertificate?: string | Buffer;
  /** Its private key (PEM). */
  clientKey?: string | Buffer;
  /** Trust anchors (PEM) for the endpoint's certificate. Verification is never disabled. */
  ca?: string | Buffer | Array<string | Buffer>;
  /** An undici Dispatcher (e.g. an Agent configured for mTLS) for the global fetch. */
  dispatcher?: Dispatcher;
  /** Your own fetch, which must authenticate the resource server. */
  fetch?: FetchLike;
  /** Request timeout. Default 5000 ms. */
  timeoutMs?: number;
  /** Upper bound on cached responses. Default 10000. */
  maxCacheEntries?: number;
}

export interface IntrospectionPolicy {
  issuer: string;
  audience: readonly string[];
  clockTolerance: number;
}

export type Introspector = (token: string, nowMs: number) => Promise<JWTPayload>;

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

export function createIntrospector(options: IntrospectionOptions, policy: IntrospectionPolicy): Introspector {
  if (typeof options !== 'object' || options === null) throw new TypeError('introspection: must be an object');
  let endpoint: URL;
  try {
    endpoint = new URL(options.endpoint);
  } catch {
    throw new TypeError(`introspection.endpoint: ${JSON.stringify(String(options.endpoint))} is not a URL`);
  }
  if (endpoint.protocol !== 'https:' && !(endpoint.protocol === 'http:' && LOOPBACK.has(endpoint.hostname) && options.fetch)) {
    throw new TypeError('introspection.endpoint: must be https');
  }
  if (typeof options.clientId !== 'string' || options.clientId === '') throw new TypeError('introspection.clientId: must be a non-empty string');
  const hasCert = options.clientCertificate !== undefined || options.clientKey !== undefined;
  if (hasCert && (options.clientCertificate === undefined || options.clientKey === undefined)) {
    throw new TypeError('introspection.clientCertificate: needs introspection.clientKey as well');
  }
  const ways = [hasCert, options.dispatcher !== undefined, options.fetch !== undefined].filter(Boolean).length;
  if (ways !== 1) throw new TypeError('introspection: give exactly one of clientCertificate+clientKey, dispatcher, fetch');
  if (options.fetch !== undefined && typeof options.fetch !== 'function') throw new TypeError('introspection.fetch: must be a function');
  const timeoutMs = options.timeoutMs ?? 5_000;
  if (typeof timeoutMs !== 'number' || !(timeoutMs > 0)) throw new TypeError('introspection.timeoutMs: must be a positive number');
  const maxEntries = options.maxCacheEntries ?? 10_000;
  if (!Number.isInteger(maxEntries) || maxEntries < 0) throw new TypeError('introspection.maxCacheEntries: must be a non-negative integer');

  const send: FetchLike = hasCert
    ? createHttpsFetch({ cert: options.clientCertificate, key: options.clientKey, ca: options.ca })
    : options.dispatcher !== undefined
      ? fetchWithDispatcher(options.dispatcher)
      : options.fetch!;
  // maxCacheEntries 0 turns the cache off.
  const cache = maxEntries > 0 ? new LRUCache<string, { claims: JWTPayload; expiresAt: number }>({ max: maxEntries }) : undefined;
  const tolerance = policy.clockTolerance;

  async function call(token: string): Promise<JWTPayload> {
    let response: Response;
    let body: unknown;
    try {
      response = await send(endpoint.href, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({ token, token_type_hint: 'access_token', client_id: options.clientId }).toString(),
        signal: AbortSignal.timeout(timeoutMs),
      });
      body = response.status === 200 ? await response.json() : undefined;
    } catch (cause) {
      throw new UpstreamError(`introspection at ${endpoint.origin}${endpoint.pathname} could not be used`, { cause });
    }
    if (response.status !== 200 || typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new UpstreamError(`introspection at ${endpoint.origin}${endpoint.pathname} answered ${response.status}`);
    }
    return body as JWTPayload;
  }

  return async function introspect(token, nowMs) {
    const key = createHash('sha256').update(token).digest('base64url');
    const hit = cache?.get(key);
    if (hit && hit.expiresAt > nowMs) return hit.claims;
    if (hit) cache?.delete(key);

    const claims = await call(token);
    const now = nowMs / 1000;
    // RFC 7662 §2.2: active is the only required member.
    if (claims.active !== true) throw new InvalidTokenError('access token is not active');
    if (claims.iss !== undefined && claims.iss !== policy.issuer) throw new InvalidTokenError('access token iss does not match the expected issuer');
    // RFC 7662 §2.2 makes aud optional, but a token without one was meant for no one in
    // particular: accepting it would let a token for any resource server be replayed here.
    if (claims.aud === undefined) throw new InvalidTokenError('access token aud claim is missing');
    const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!aud.some((a) => typeof a === 'string' && policy.audience.includes(a))) throw new InvalidTokenError('access token aud does not include this resource server');
    if (typeof claims.exp === 'number' && claims.exp + tolerance <= now) throw new InvalidTokenError('access token has expired');
    if (typeof claims.nbf === 'number' && claims.nbf - tolerance > now) throw new InvalidTokenError('access token is not yet valid (nbf)');

    if (typeof claims.exp === 'number' && claims.exp * 1000 > nowMs) cache?.set(key, { claims, expiresAt: claims.exp * 1000 });
    return claims;
  };
}
