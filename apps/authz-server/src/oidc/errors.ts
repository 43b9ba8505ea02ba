// Every OAuth refusal names the check that failed (DESIGN.md "Contracts") and writes one
// structured log line. This file is the one place that decides what a refusal looks like:
// - certbound's own refusals are error classes extending oidc-provider's (below), thrown by a
//   check that runs before oidc-provider's own (the certificate callbacks, the Client and
//   RefreshToken reads, the replay detection, the Host check); their description IS what the
//   partner reads and their `check` names the failed check;
// - oidc-provider's own refusals carry a generic description and keep the specific reason in
//   `error_detail`; for the codes where that reason helps the partner it becomes the
//   description as the engine makes the error (describeEngineRefusal, installed by
//   oidc/engine-patches.ts), so the engine writes the final answer and nothing rewrites it.
//   Nothing here reads oidc-provider's English: a refusal is told by its class and request facts;
// - `renderError` (oidc-provider's option, also used for certbound's own pre-engine refusals)
//   renders, and `logRefusal` writes the one log line per refusal.
import type { Context, Next } from 'koa';
import { errors, type KoaContextWithOIDC, type Provider } from 'oidc-provider';
import type { Logger } from '../log.ts';
import { listenerOf } from '../http/listeners.ts';
import { describeCert } from '../mtls/trust-store.ts';
import { renderErrorPage } from '../interactions/error-page.ts';
import { recordOAuthAnswer } from '../ops/metrics.ts';
import { OUTAGE_RETRY_AFTER_SECONDS } from '../storage/outage.ts';
import type { RecentRefusals } from '../storage/kv/recent-refusals.ts';

/** An OAuth error as oidc-provider answers it (its own classes and ours). */
export type OAuthError = errors.OIDCProviderError;

// ---------------------------------------------------------------------------------------------
// certbound's own refusals: oidc-provider's classes, with the failed check as a stable `check`.

/** What certbound checked about a client certificate and refused (the log line's `check`). */
export type CertificateCheck =
  | 'certificate_missing'
  | 'certificate_malformed'
  | 'certificate_not_yet_valid'
  | 'certificate_expired'
  | 'certificate_chain'
  | 'certificate_subject'
  | 'certificate_pinning'
  | 'certificate_unregistered'
  | 'certificate_header';

/** 401 invalid_client (RFC 6749 §5.2) for a certificate that does not authenticate the client. */
export class ClientCertificateRefused extends errors.InvalidClientAuth {
  readonly check: CertificateCheck;
  constructor(check: CertificateCheck, description: string) {
    super(description);
    this.check = check;
    // oidc-provider's InvalidClientAuth answers a fixed generic description; ours is the reason.
    this.error_description = description;
  }
}

/** 400 invalid_request: the certificate header of a trusted proxy is unreadable (RFC 8705 §2). */
export class CertificateHeaderRefused extends errors.InvalidRequest {
  readonly check: CertificateCheck = 'certificate_header';
}

/** 401 invalid_client: the client named is not one certbound serves, or authenticates otherwise than registered. */
export class ClientAuthenticationRefused extends errors.InvalidClientAuth {
  readonly check: 'client_unknown' | 'client_auth_method';
  constructor(check: 'client_unknown' | 'client_auth_method', description: string) {
    super(description);
    this.check = check;
    this.error_description = description;
  }
}

/** What certbound checked about a token request's binding (RFC 8705 §3, RFC 9449 §5) and refused. */
export type GrantCheck = 'certificate_missing' | 'refresh_token_certificate' | 'refresh_token_dpop_key';

/** 400 invalid_grant: the tokens cannot be bound as the client requires, or the refresh token is bound to another holder. */
export class GrantRefused extends errors.InvalidGrant {
  readonly check: GrantCheck;
  constructor(check: GrantCheck, description: string) {
    super(description);
    this.check = check;
    this.error_description = description;
  }
}

/** RFC 9449 §5 / §11.1: a DPoP proof presented again is `invalid_dpop_proof`, whatever the endpoint. */
export class DpopProofReplayed extends errors.InvalidDpopProof {
  readonly check = 'dpop_replay';
  /** `status`: the endpoint's (401 where an access token is presented, 400 at the token and PAR endpoints). */
  constructor(status: number) {
    super('DPoP proof jti has already been used');
    this.status = status;
    this.statusCode = status;
  }
}

/**
 * 503 temporarily_unavailable (RFC 6749 §4.1.2.1, used at every endpoint): a store this request
 * needs is unreachable (storage/outage.ts makes it, main.ts hands the factory); answered with
 * Retry-After by the refusal reporter below, never a 500.
 */
export class TemporarilyUnavailable extends errors.OIDCProviderError {
  readonly check = 'store_unavailable';
  readonly store: 'postgres' | 'redis';
  constructor(store: 'postgres' | 'redis', reason: string, cause: Error) {
    super(503, 'temporarily_unavailable', { cause });
    this.store = store;
    this.expose = true;
    this.allow_redirect = false;
    this.error_description = `${store === 'postgres' ? 'the database' : 'the short-lived state store (Redis)'} is unavailable (${reason}) and this request needs it; retry after ${OUTAGE_RETRY_AFTER_SECONDS} seconds`;
  }
}

/** 400 invalid_request: the Host header is not one usable host[:port] (http/host-header.ts). */
export class HostHeaderRefused extends errors.InvalidRequest {
  readonly check = 'host_header';
}

/** The failed check a refusal names, when certbound decided it. */
export function checkOf(err: Error): string | undefined {
  return 'check' in err && typeof err.check === 'string' ? err.check : undefined;
}

/** The description of "no certificate presented", naming the mutual-TLS endpoint on the public listener. */
export function noCertificateDescription(ctx: Context, mtlsTokenEndpoint: string): string {
  return listenerOf(ctx.req) === 'public'
    ? `no client certificate presented: this is the public listener, which does not request one; use the mutual-TLS endpoint ${mtlsTokenEndpoint}`
    : 'no client certificate presented';
}

// ---------------------------------------------------------------------------------------------
// oidc-provider's own refusals, told apart by class and request facts.

/** Codes whose `error_detail` is safe and useful to show the client that made the request. */
const EXPOSE_DETAIL = new Set(['invalid_client', 'invalid_grant']);

/**
 * A presented refresh token that was already rotated: oidc-provider has revoked the whole grant
 * (its revokeGrantPolicy) and refuses invalid_grant. Told by the facts, not the message: the
 * refresh_token grant, and the token the engine read for this request was consumed before it
 * (a token this request rotated is RotatedRefreshToken).
 */
function reusedRefreshToken(ctx: KoaContextWithOIDC | undefined, err: OAuthError): boolean {
  return err instanceof errors.InvalidGrant && ctx?.oidc?.route === 'token' && ctx.oidc.params?.['grant_type'] === 'refresh_token'
    && ctx.oidc.entities.RefreshToken?.consumed !== undefined && ctx.oidc.entities.RotatedRefreshToken === undefined;
}

/**
 * The description of one of oidc-provider's own InvalidGrant / InvalidClientAuth refusals, decided
 * as the engine makes the error (oidc/engine-patches.ts): certbound's words where request facts
 * say what happened, else the engine's specific reason (its error_detail) instead of its generic
 * description. Never reads the reason's text.
 */
export function describeEngineRefusal(ctx: KoaContextWithOIDC | undefined, err: OAuthError, detail: string): string | undefined {
  if (checkOf(err) !== undefined) return undefined;
  if (reusedRefreshToken(ctx, err)) return 'refresh token was already used (rotated); the whole grant is now revoked';
  return EXPOSE_DETAIL.has(err.error) ? detail : undefined;
}

// ---------------------------------------------------------------------------------------------
// The one renderer and the one reporter.

/**
 * oidc-provider's `renderError`: a person's browser gets a page naming the error; anything that
 * does not ask for HTML gets the JSON. Also answers certbound's refusals that happen before
 * oidc-provider's routes (answerRefusal).
 */
export const renderError = renderErrorPage;

/** The JSON members of an exposed refusal, as oidc-provider's err_out writes them. */
function answerOf(err: OAuthError): { error: string; error_description?: string } {
  return { error: err.error, ...(err.error_description !== undefined ? { error_description: err.error_description } : {}) };
}

/** Answers `err` from a certbound middleware in front of the engine (or instead of it), and records it for the reporter. */
export async function answerRefusal(ctx: KoaContextWithOIDC, err: OAuthError): Promise<void> {
  ctx.state.oauthError = err;
  ctx.status = err.status;
  ctx.set('Cache-Control', 'no-store');
  await renderError(ctx, answerOf(err));
}

/** The refusal of this request, recorded once for the reporter. */
export function oauthErrorOf(ctx: Context): OAuthError | undefined {
  return ctx.state.oauthError;
}

/** Where a request came in: the facts every log line about it carries. */
export function requestFacts(ctx: Context): { listener: string | undefined; method: string; path: string } {
  return { listener: listenerOf(ctx.req), method: ctx.method, path: ctx.path };
}

/** The one log line of a refusal: the check, the reason, the client and its certificate. */
export function logRefusal(logger: Logger, ctx: KoaContextWithOIDC, err: OAuthError): void {
  // Undefined before oidc-provider's routes (the Host check answers there).
  const oidc: KoaContextWithOIDC['oidc'] | undefined = ctx.oidc;
  const reason = ctx.state.oauthRefusalReason ?? err.error_description ?? err.message;
  const cert = ctx.state.clientCertificate?.presented.leaf;
  const check = checkOf(err);
  const line = {
    event: 'oauth_refusal',
    route: oidc?.route,
    ...requestFacts(ctx),
    status: ctx.status,
    error: err.error,
    ...(check ? { check } : {}),
    reason,
    client_id: oidc?.client?.clientId ?? oidc?.params?.['client_id'],
    certificate: cert
      // describeCert never throws: the certificate may be the unreadable one being refused
      ? { serial: cert.serialNumber, subject: describeCert(cert), issuer: cert.issuer?.split('\n').reverse().join(',') ?? '', not_after: cert.validToDate.toISOString() }
      : undefined,
  };
  if (ctx.state.oauthRefusalEvent === 'server_error' || err.error === 'server_error') {
    logger.error({ ...line, err: err.cause ?? err }, 'server error');
  } else {
    logger.warn(line, `refused: ${line.reason}`);
  }
}

const ERROR_EVENTS = [
  'grant.error',
  'introspection.error',
  'revocation.error',
  'pushed_authorization_request.error',
  'userinfo.error',
  'authorization.error',
  'jwks.error',
  'discovery.error',
  'server_error',
] as const;
export type EngineErrorEvent = (typeof ERROR_EVENTS)[number];

/** A server error as the refusal it is answered with (oidc-provider answers 500 server_error). */
function asRefusal(err: Error): OAuthError {
  return err instanceof errors.OIDCProviderError ? err : new errors.OIDCProviderError(500, 'server_error', { cause: err });
}

export function createRefusalReporter(provider: Provider, logger: Logger, recent?: RecentRefusals) {
  for (const event of ERROR_EVENTS) {
    // Emitted by oidc-provider's error handler once it answered (lib/shared/error_handler.js): the
    // refusal is recorded for the one log line; its answer was decided before (describeEngineRefusal).
    provider.on(event, (ctx: KoaContextWithOIDC, thrown: Error) => {
      const err = asRefusal(thrown);
      ctx.state.oauthError = err;
      ctx.state.oauthRefusalReason = err.error_description ?? err.message;
      ctx.state.oauthRefusalEvent = event;
    });
  }

  return async function oauthRefusals(ctx: KoaContextWithOIDC, next: Next): Promise<void> {
    await next();
    const err = oauthErrorOf(ctx);
    if (err instanceof TemporarilyUnavailable) ctx.set('Retry-After', String(OUTAGE_RETRY_AFTER_SECONDS));
    recordOAuthAnswer(ctx, err); // token requests and DPoP proofs, by outcome (ops/metrics.ts)
    if (err) logRefusal(logger, ctx, err);
    // The console's recent refusals (storage/kv/recent-refusals.ts): fire-and-forget, never fails this answer.
    const oidc: KoaContextWithOIDC['oidc'] | undefined = ctx.oidc;
    const clientId: unknown = oidc?.client?.clientId ?? oidc?.params?.['client_id'];
    // use_dpop_nonce is the nonce handshake of RFC 9449 §8 (the client retries at once), not a refusal to show.
    if (err && err.error !== 'use_dpop_nonce' && recent && typeof clientId === 'string' && clientId !== '') {
      recent.record({
        clientId, registered: oidc?.client !== undefined, error: err.error, reason: checkOf(err) ?? err.error,
        description: (err.expose ? err.error_description : undefined) ?? err.error, listener: listenerOf(ctx.req),
      });
    }
  };
}
