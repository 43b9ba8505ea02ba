/** scheme -> token -> claims -> binding check. */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { JWTPayload } from 'jose';
import { headerValues, readCredentials } from './authorization.ts';
import type { CertificateSource, PresentedCertificate } from './certificate.ts';
import { verifyDpopProof } from './dpop.ts';
import { InvalidRequestError, InvalidTokenError, TemporarilyUnavailableError, VerifierError } from './errors.ts';
import { UpstreamError } from './upstream-error.ts';
import { looksLikeJwt } from './access-token.ts';
import { resolveOptions, type VerificationOutcome, type VerifierConfig, type VerifierOptions } from './options.ts';
import { externalUrls, requestPath } from './request-url.ts';
import { rememberChallenge } from './scopes.ts';
import { sameString } from './thumbprint.ts';
import type { AuthScheme, ChallengeContext } from './www-authenticate.ts';

/** A node IncomingMessage, or anything shaped like one (Express `req`, Koa `ctx.req`). */
export interface VerifiableRequest {
  method?: string | undefined;
  url?: string | undefined;
  headers: IncomingHttpHeaders;
  rawHeaders?: string[];
  socket: IncomingMessage['socket'];
}

export interface VerifyOverrides {
  /**
   * The external URL of the request when a proxy rewrites its path. Only its path and query are
   * used for DPoP htu: the origin is always one of the configured `origin`s.
   */
  url?: string | undefined;
  /** The original path and query when a router rewrote `req.url` (Express `req.originalUrl`, Koa `ctx.originalUrl`). */
  path?: string | undefined;
}

export type Binding = 'mtls' | 'dpop' | 'bearer';

export interface VerifiedRequest {
  /** The token's claims (JWT payload or introspection response). */
  claims: JWTPayload;
  clientId: string;
  /** The granted scopes (RFC 9068 §2.2.3 `scope`, space separated). */
  scopes: string[];
  /** 'dpop' when cnf.jkt (also when cnf.x5t#S256 is present too), 'mtls' for cnf.x5t#S256, 'bearer' for an unbound token (permissive mode only). */
  binding: Binding;
  /** The Authorization scheme used. */
  scheme: AuthScheme;
  /** The certificate the token is bound to, when it is certificate-bound. */
  certificate?: PresentedCertificate;
  /** RFC 7638 thumbprint of the DPoP proof key, when DPoP-bound. */
  dpopJkt?: string;
  /** Send this in a `DPoP-Nonce` response header: the client's nonce is about to go stale. */
  dpopNonce?: string;
}

export interface Verifier {
  /**
   * Accepts a request only when its access token is valid and presented by the client it was
   * issued to. Checks, in order:
   *
   * 1. scheme: exactly one `Authorization: Bearer|DPoP <token68>` (none → 401 without error code);
   * 2. token form: a JWT, or — when `introspection` is configured — an opaque token sent to RFC
   *    7662 introspection (must be `active` with an `aud` naming this resource server; iss, exp,
   *    nbf checked when present);
   * 3. for a JWT: `typ` at+jwt, `alg` in the pinned asymmetric list, signature against the JWKS
   *    (an unknown `kid` triggers a refetch), `iss`, `aud`, `exp`/`nbf` with clockTolerance;
   * 4. `client_id` present;
   * 5. binding: a `cnf` with no member this verifier knows is refused (a binding it cannot check
   *    is not "no binding"); a `cnf.jkt` token must use the DPoP scheme (RFC 9449 §7.2) and the
   *    DPoP scheme needs a `cnf.jkt` token; `cnf.x5t#S256` equals the presented certificate's
   *    thumbprint (constant time); the DPoP proof passes RFC 9449 §4.3 (see verifyDpopProof) with
   *    htu = a configured `origin` + the request path, `ath`, the key's thumbprint equal to
   *    `cnf.jkt`, the server nonce, and a fresh `jti`; both bindings present → both must hold;
   *    no `cnf` → refused in strict mode.
   *
   * Not checked — left to the caller: scope policy (use requireScopes per route), `sub`/account
   * lookups, whether the client certificate chains to a CA (binding pins the exact certificate),
   * revocation of JWT access tokens, and rate limiting.
   *
   * @throws VerifierError (InvalidRequestError, InvalidTokenError, InvalidDpopProofError,
   *   UseDpopNonceError) with status, code, description and a ready `wwwAuthenticate`;
   *   TemporarilyUnavailableError (503, `Retry-After`) when the replay store is full.
   * @throws UpstreamError (503) when the JWKS, introspection endpoint or replay store is unusable.
   */
  verify(req: VerifiableRequest, overrides?: VerifyOverrides): Promise<VerifiedRequest>;
  /** The certificate source in use (for the `ignoredProxyHeaders` counter). */
  readonly certificates: CertificateSource;
  /** DPoP proofs refused (503) because the replay store was full of unexpired proofs. */
  readonly replayStoreFullRefusals: number;
}

async function tokenClaims(token: string, config: VerifierConfig, nowMs: number): Promise<JWTPayload> {
  if (looksLikeJwt(token) && config.verifyJwt) return config.verifyJwt(token, nowMs);
  if (config.introspect) return config.introspect(token, nowMs);
  throw new InvalidTokenError('access token is not a JWT');
}

function confirmation(claims: JWTPayload): { x5t?: string; jkt?: string } {
  const cnf = claims.cnf;
  if (cnf === undefined) return {};
  const x5t = (cnf as Record<string, unknown> | null)?.['x5t#S256'];
  const jkt = (cnf as Record<string, unknown> | null)?.jkt;
  if (typeof cnf !== 'object' || cnf === null || Array.isArray(cnf) || (x5t !== undefined && typeof x5t !== 'string') || (jkt !== undefined && typeof jkt !== 'string')) {
    throw new InvalidTokenError('access token cnf claim is malformed');
  }
  // RFC 7800 §3.1: the token is bound to something; a method we cannot check (x5u, jwk, a future
  // one) must not pass as an unbound token, even in permissive mode.
  if (x5t === undefined && jkt === undefined) throw new InvalidTokenError('access token cnf claim has no confirmation method this resource server supports (x5t#S256, jkt)');
  return { ...(x5t === undefined ? {} : { x5t }), ...(jkt === undefined ? {} : { jkt }) };
}

/** Calls the `onOutcome` hook; nothing it does can reach the verdict. */
function report(hook: ((outcome: VerificationOutcome) => void) | undefined, outcome: VerificationOutcome): void {
  if (hook === undefined) return;
  try {
    const returned: unknown = hook(outcome);
    // An async hook that rejects must not become an unhandled rejection in the resource server.
    if (returned instanceof Promise) returned.catch(() => undefined);
  } catch {
    // ignored by contract (options.ts onOutcome)
  }
}

function scopesOf(claims: JWTPayload): string[] {
  return typeof claims.scope === 'string' ? claims.scope.split(' ').filter(Boolean) : [];
}

export function createVerifier(options: VerifierOptions): Verifier {
  const config = resolveOptions(options);
  const { dpop, certificates } = config;
  let replayStoreFullRefusals = 0;

  async function check(req: VerifiableRequest, overrides: VerifyOverrides, ctx: ChallengeContext, seen: { binding?: Binding }): Promise<VerifiedRequest> {
    const nowMs = config.now();
    // 1. scheme
    const { scheme, token } = readCredentials(req);
    if (scheme === 'DPoP' && !dpop) throw new InvalidTokenError('DPoP is not accepted by this resource server');
    ctx.scheme = scheme;
    // 2-3. token -> claims (typ, alg, signature, iss, aud, exp/nbf or introspection)
    const claims = await tokenClaims(token, config, nowMs);
    // 4. client_id (RFC 9068 §2.2)
    if (typeof claims.client_id !== 'string' || claims.client_id === '') throw new InvalidTokenError('access token client_id claim is missing');
    // 5. binding
    const { x5t, jkt } = confirmation(claims);
    seen.binding = jkt !== undefined ? 'dpop' : x5t !== undefined ? 'mtls' : 'bearer';
    if (jkt !== undefined && scheme === 'Bearer') throw new InvalidTokenError('DPoP-bound access token presented with the Bearer scheme');
    if (jkt === undefined && scheme === 'DPoP') throw new InvalidTokenError('access token is not DPoP-bound');
    if (x5t === undefined && jkt === undefined && config.strict) throw new InvalidTokenError('access token is not sender-constrained');

    const result: VerifiedRequest = {
      claims,
      clientId: claims.client_id,
      scopes: scopesOf(claims),
      binding: jkt !== undefined ? 'dpop' : x5t !== undefined ? 'mtls' : 'bearer',
      scheme,
    };
    if (x5t !== undefined) {
      // RFC 8705 §3: the thumbprint of the certificate presented on this connection.
      const certificate = certificates.fromRequest(req);
      if (!certificate) throw new InvalidTokenError('access token is bound to a certificate but none was presented');
      if (!sameString(x5t, certificate.thumbprint)) throw new InvalidTokenError('access token is bound to a different certificate');
      result.certificate = certificate;
    }
    if (jkt !== undefined && dpop) {
      // RFC 9449 §4.3 step 9: htu is compared with a configured origin + the path the client sent;
      // Host, X-Forwarded-Host and an absolute-form authority are the sender's choice.
      const path = requestPath(overrides.url ?? overrides.path ?? req.url);
      if (path === undefined) throw new InvalidRequestError('request target has no path to compare with the DPoP proof htu');
      const proof = await verifyDpopProof(
        { proofs: headerValues(req, 'dpop'), method: req.method ?? 'GET', url: externalUrls(config.origins, path), accessToken: token, boundJkt: jkt, nowMs },
        dpop,
      );
      result.dpopJkt = proof.jkt;
      if (proof.nonce !== undefined) result.dpopNonce = proof.nonce;
    }
    rememberChallenge(result, ctx);
    return result;
  }

  return {
    certificates,
    get replayStoreFullRefusals() {
      return replayStoreFullRefusals;
    },
    async verify(req, overrides = {}) {
      const ctx: ChallengeContext = {};
      const seen: { binding?: Binding } = {};
      if (dpop) ctx.dpopAlgs = dpop.algorithms;
      if (config.realm !== undefined) ctx.realm = config.realm;
      try {
        const verified = await check(req, overrides, ctx, seen);
        report(config.onOutcome, { outcome: 'accepted', binding: verified.binding });
        return verified;
      } catch (err) {
        // Every refusal offers the challenges this resource server accepts (RFC 9449 §7.1).
        if (err instanceof VerifierError) err.challenge = ctx;
        if (err instanceof TemporarilyUnavailableError) replayStoreFullRefusals++;
        const error = err instanceof VerifierError ? err.code : err instanceof UpstreamError ? 'upstream_error' : undefined;
        report(config.onOutcome, { outcome: 'refused', ...(error === undefined ? {} : { error }), ...(seen.binding === undefined ? {} : { binding: seen.binding }) });
        throw err;
      }
    },
  };
}
