/** Checks createVerifier's options once, at creation; every message names the option. */
import { createAccessTokenVerifier, type AccessTokenVerifier } from './access-token.ts';
import { createCertificateSource, type CertificateSource, type ProxyHeaderFormat } from './certificate.ts';
import { createIntrospector, type IntrospectionOptions, type Introspector } from './introspection.ts';
import { createKeyResolver, type JwksOption } from './jwks.ts';
import type { DpopPolicy } from './dpop.ts';
import { createNonceIssuer, type NonceOptions } from './nonce.ts';
import { createMemoryReplayStore, type ReplayStore } from './replay-store.ts';
import { parseOrigin } from './request-url.ts';
import { ASYMMETRIC_ALGORITHMS, DEFAULT_ALGORITHMS } from './vocabulary.ts';
import type { VerifierErrorCode } from './errors.ts';

export interface DpopOptions {
  /** Proof algorithms. Default: the verifier's `algorithms`. */
  algorithms?: readonly string[];
  /** Server nonces (RFC 9449 §9). Default false (no nonce required). */
  nonce?: NonceOptions | false;
  /** How far in the past a proof's iat may be. Default 60 s. */
  iatWindowSeconds?: number;
  /** How far in the future a proof's iat may be (clock skew). Default 5 s. */
  iatFutureSeconds?: number;
  /** Where seen jtis are kept. Default an in-memory store (one instance only). */
  replayStore?: ReplayStore;
}

export interface VerifierOptions {
  /** Expected `iss`. Required. */
  issuer: string;
  /** This resource server's identifier(s); the token's `aud` must include one. Required. */
  audience: string | readonly string[];
  /** The authorization server's keys: URL, `{ url, ca | dispatcher | fetch, ... }` or a JWK Set. */
  jwks?: JwksOption;
  /** Accepted JWS algorithms, asymmetric only. Default ES256, PS256, EdDSA. */
  algorithms?: readonly string[];
  /** Seconds of leeway for exp/nbf. Default 5. */
  clockTolerance?: number;
  /** strict: every token must be sender-constrained (default). permissive: unbound tokens pass as 'bearer'. */
  mode?: 'strict' | 'permissive';
  /** RFC 7662 introspection for opaque (non-JWT) tokens. Default: none, opaque tokens are refused. */
  introspection?: IntrospectionOptions;
  /** DPoP (RFC 9449). Default enabled with default settings; false disables it. */
  dpop?: DpopOptions | false;
  /**
   * The external origin(s) clients call (`https://api.example.com`): a DPoP proof's htu must be
   * one of them plus the request path. Required unless `dpop: false`; the Host header and an
   * absolute-form request target never decide it.
   */
  origin?: string | readonly string[];
  /** Proxies whose client-certificate header (in the one `proxyHeader` format) is believed. Default none. */
  trustedProxies?: readonly string[];
  /** The one certificate header format read from trusted proxies; required with `trustedProxies`. */
  proxyHeader?: ProxyHeaderFormat;
  /** nginx escaped-certificate header name. Default `x-ssl-client-cert`. */
  nginxHeader?: string;
  /** `realm` auth-param of challenges. Default none. */
  realm?: string;
  /** Clock in ms since the epoch, for tests. Default Date.now. */
  now?: () => number;
  /**
   * Called once per `verify()` with its outcome, e.g. to count them in the resource server's own
   * metrics. Called synchronously just before `verify()` settles; what it throws (or a promise it
   * rejects) is caught and ignored: it can never change the verdict.
   */
  onOutcome?: (outcome: VerificationOutcome) => void;
}

/** What `onOutcome` receives: never the token, nor anything else taken from the request. */
export interface VerificationOutcome {
  outcome: 'accepted' | 'refused';
  /** The refusal's code; `upstream_error` when the JWKS, introspection or replay store was unusable (503). */
  error?: VerifierErrorCode | 'upstream_error';
  /** How the token is bound, once its claims were read: 'mtls', 'dpop' or 'bearer' (permissive mode). */
  binding?: 'mtls' | 'dpop' | 'bearer';
}

export interface VerifierConfig {
  strict: boolean;
  /** JWT access tokens, when `jwks` is configured. */
  verifyJwt: AccessTokenVerifier | undefined;
  introspect: Introspector | undefined;
  dpop: DpopPolicy | undefined;
  /** Serialised external origins for DPoP htu; empty when DPoP is off. */
  origins: readonly string[];
  certificates: CertificateSource;
  realm: string | undefined;
  now: () => number;
  onOutcome: ((outcome: VerificationOutcome) => void) | undefined;
}

function algorithms(value: unknown, name: string): readonly string[] {
  if (!Array.isArray(value) || value.length === 0) throw new TypeError(`${name}: must be a non-empty array of JWS algorithms`);
  value.forEach((alg: unknown, i) => {
    if (typeof alg !== 'string') throw new TypeError(`${name}[${i}]: must be a string`);
    // RFC 8725 §3.1 / DESIGN.md: only asymmetric algorithms; none and HMAC are never accepted.
    if (alg.toLowerCase() === 'none') throw new TypeError(`${name}[${i}]: "none" is never accepted`);
    if (/^HS\d+$/i.test(alg)) throw new TypeError(`${name}[${i}]: ${alg} is symmetric; only asymmetric algorithms are accepted`);
    if (!ASYMMETRIC_ALGORITHMS.has(alg)) throw new TypeError(`${name}[${i}]: ${JSON.stringify(alg)} is not a supported asymmetric JWS algorithm`);
  });
  return Object.freeze([...new Set(value as string[])]);
}

function origins(value: unknown): readonly string[] {
  // RFC 9449 §4.3 step 9: htu is the URL the client called; only configuration knows it.
  if (value === undefined) throw new TypeError('origin: required when DPoP is accepted (the external origin clients call, e.g. https://api.example.com), or set dpop: false');
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.length === 0) throw new TypeError('origin: must be an origin or a non-empty array of origins');
  return Object.freeze(list.map((entry: unknown, i) => {
    const origin = parseOrigin(entry);
    const name = typeof value === 'string' ? 'origin' : `origin[${i}]`;
    if (origin === undefined) throw new TypeError(`${name}: ${JSON.stringify(entry)} is not an http(s) origin (scheme, host and port only)`);
    return origin;
  }));
}

function seconds(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new TypeError(`${name}: must be a non-negative number of seconds`);
  return value;
}

export function resolveOptions(options: VerifierOptions): VerifierConfig {
  if (typeof options !== 'object' || options === null) throw new TypeError('options: must be an object');
  const { issuer, mode = 'strict' } = options;
  if (typeof issuer !== 'string' || issuer === '') throw new TypeError('issuer: must be a non-empty string');
  const audience = typeof options.audience === 'string' ? [options.audience] : options.audience;
  if (!Array.isArray(audience) || audience.length === 0 || audience.some((a) => typeof a !== 'string' || a === '')) {
    throw new TypeError('audience: must be a non-empty string or array of strings');
  }
  const algs = options.algorithms === undefined ? DEFAULT_ALGORITHMS : algorithms(options.algorithms, 'algorithms');
  const clockTolerance = seconds(options.clockTolerance, 'clockTolerance', 5);
  if (mode !== 'strict' && mode !== 'permissive') throw new TypeError(`mode: must be 'strict' or 'permissive'`);
  if (options.jwks === undefined && options.introspection === undefined) throw new TypeError('jwks: required unless introspection is configured');
  const verifyJwt = options.jwks === undefined
    ? undefined
    : createAccessTokenVerifier({ issuer, audience, algorithms: algs, clockTolerance, keys: createKeyResolver(options.jwks) });
  const introspect = options.introspection === undefined ? undefined : createIntrospector(options.introspection, { issuer, audience, clockTolerance });
  if (options.realm !== undefined && typeof options.realm !== 'string') throw new TypeError('realm: must be a string');
  const now = options.now ?? Date.now;
  if (typeof now !== 'function') throw new TypeError('now: must be a function returning milliseconds');
  if (options.onOutcome !== undefined && typeof options.onOutcome !== 'function') throw new TypeError('onOutcome: must be a function');

  let dpop: VerifierConfig['dpop'];
  let origin: readonly string[] = [];
  if (options.dpop !== false) {
    const d = options.dpop ?? {};
    if (typeof d !== 'object' || d === null) throw new TypeError('dpop: must be an object or false');
    if (d.replayStore !== undefined && typeof d.replayStore?.add !== 'function') throw new TypeError('dpop.replayStore: must have add(key, ttlMs)');
    origin = origins(options.origin);
    dpop = {
      algorithms: d.algorithms === undefined ? algs : algorithms(d.algorithms, 'dpop.algorithms'),
      iatPast: seconds(d.iatWindowSeconds, 'dpop.iatWindowSeconds', 60),
      iatFuture: seconds(d.iatFutureSeconds, 'dpop.iatFutureSeconds', 5),
      nonce: d.nonce ? createNonceIssuer(d.nonce) : undefined,
      replayStore: d.replayStore ?? createMemoryReplayStore({ now }),
    };
  }
  const trustedProxies = options.trustedProxies ?? [];
  return Object.freeze({
    strict: mode === 'strict',
    verifyJwt,
    introspect,
    dpop,
    origins: origin,
    certificates: createCertificateSource({ trustedProxies, proxyHeader: options.proxyHeader, nginxHeader: options.nginxHeader }),
    realm: options.realm,
    now,
    onOutcome: options.onOutcome,
  });
}
