import { renderWwwAuthenticate, sanitizeDescription, type ChallengeContext } from './www-authenticate.ts';

/** Every error code the verifier answers with (RFC 6750 §3.1, RFC 9449 §7.1 and §9, RFC 6749 §4.1.2.1). */
export type VerifierErrorCode =
  | 'invalid_request'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'invalid_dpop_proof'
  | 'use_dpop_nonce'
  | 'temporarily_unavailable';

export interface VerifierErrorOptions {
  cause?: unknown;
  /** A fresh DPoP nonce to send in the `DPoP-Nonce` response header (RFC 9449 §8, §9). */
  dpopNonce?: string | undefined;
  /** The scope the route needs (RFC 6750 §3: `scope` auth-param on insufficient_scope). */
  scope?: string | undefined;
  /** No credentials at all: the challenge carries no error code (RFC 6750 §3.1). */
  credentialsMissing?: boolean;
}

/**
 * Base class of every refusal. `message` and `description` name the check that failed and never
 * contain the token. `wwwAuthenticate` is ready to send; the verifier fills in the challenge
 * context (schemes offered, DPoP algorithms) before it throws.
 */
export abstract class VerifierError extends Error {
  abstract readonly code: VerifierErrorCode;
  abstract readonly status: 400 | 401 | 403 | 503;
  /** Safe to show to the client (koa's convention). */
  readonly expose = true;
  readonly description: string;
  readonly scope: string | undefined;
  readonly credentialsMissing: boolean;
  dpopNonce: string | undefined;
  challenge: ChallengeContext = {};

  constructor(description: string, options: VerifierErrorOptions = {}) {
    super(sanitizeDescription(description), options.cause === undefined ? undefined : { cause: options.cause });
    this.description = this.message;
    this.dpopNonce = options.dpopNonce;
    this.scope = options.scope;
    this.credentialsMissing = options.credentialsMissing ?? false;
  }

  /** The `WWW-Authenticate` header value (RFC 6750 §3, RFC 9449 §7.1). */
  get wwwAuthenticate(): string {
    return renderWwwAuthenticate(this, this.challenge);
  }

  /** Response headers for this refusal. */
  get headers(): Record<string, string> {
    const headers: Record<string, string> = {
      'www-authenticate': this.wwwAuthenticate,
      'cache-control': 'no-store',
    };
    if (this.dpopNonce !== undefined) headers['dpop-nonce'] = this.dpopNonce;
    return headers;
  }

  /** The JSON body: `{ error, error_description }`. */
  toJSON(): { error: VerifierErrorCode; error_description: string } {
    return { error: this.code, error_description: this.description };
  }
}

/** 400: the request is malformed (RFC 6750 §3.1). */
export class InvalidRequestError extends VerifierError {
  readonly code = 'invalid_request' as const;
  readonly status = 400 as const;
  override name = 'InvalidRequestError';
}

/** 401: the token is missing, expired, forged, for someone else, or not bound as required. */
export class InvalidTokenError extends VerifierError {
  readonly code = 'invalid_token' as const;
  readonly status = 401 as const;
  override name = 'InvalidTokenError';
}

/** 403: the token is valid but lacks a scope the route needs (RFC 6750 §3.1). */
export class InsufficientScopeError extends VerifierError {
  readonly code = 'insufficient_scope' as const;
  readonly status = 403 as const;
  override name = 'InsufficientScopeError';
}

/** 401: the DPoP proof failed one of the RFC 9449 §4.3 checks. */
export class InvalidDpopProofError extends VerifierError {
  readonly code = 'invalid_dpop_proof' as const;
  readonly status = 401 as const;
  override name = 'InvalidDpopProofError';
}

/** 401: the proof lacks a current server nonce; retry with the one in `dpopNonce` (RFC 9449 §9). */
export class UseDpopNonceError extends VerifierError {
  readonly code = 'use_dpop_nonce' as const;
  readonly status = 401 as const;
  override name = 'UseDpopNonceError';
}

/**
 * 503: the DPoP replay store is full of proofs that have not expired. A new proof is refused
 * rather than an unexpired one forgotten (forgetting would let that proof be replayed, RFC 9449
 * §11.1); `Retry-After` says when the oldest entry expires. Not a challenge: no WWW-Authenticate.
 */
export class TemporarilyUnavailableError extends VerifierError {
  readonly code = 'temporarily_unavailable' as const;
  readonly status = 503 as const;
  override name = 'TemporarilyUnavailableError';
  /** Seconds the client should wait (RFC 9110 §10.2.3 `Retry-After`), at least 1. */
  readonly retryAfter: number;

  constructor(description: string, options: VerifierErrorOptions & { retryAfter: number }) {
    super(description, options);
    this.retryAfter = Math.max(1, Math.ceil(Number.isFinite(options.retryAfter) ? options.retryAfter : 1));
  }

  override get headers(): Record<string, string> {
    return { 'retry-after': String(this.retryAfter), 'cache-control': 'no-store' };
  }
}

export function isVerifierError(value: unknown): value is VerifierError {
  return value instanceof VerifierError;
}
