// Every OAuth refusal names the check that failed (DESIGN.md "Contracts") and writes one
// structured log line. This file is the one place that decides what a refusal looks like:
// - certbound's own refusals are error classes extending oidc-provider's (below); their
//   description IS what the partner reads, so nothing has to change it later;
// - oidc-provider's own refusals carry a generic description and keep the specific reason in
//   `error_detail`. Where no certbound callback runs first to refuse in its own words, the one
//   table ENGINE_REFUSALS (per oidc-provider version) describes them, applied once, at the
//   engine's `*.error` event, inside its error handler: no middleware rewrites an answer;
// - `renderError` (oidc-provider's option, also used for certbound's own pre-engine refusals)
//   renders, and `createRefusalReporter` writes the one log line per refusal.
import type { EventEmitter } from 'node:events';
import type { Next } from 'koa';
import { errors, type KoaContextWithOIDC, type Provider } from 'oidc-provider';
import type { Logger } from '../log.ts';
import { listenerOf } from '../http/listeners.ts';
import { certificateState } from './client-certificate.ts';
import { describeCert } from '../mtls/trust-store.ts';
import { renderErrorPage } from '../interactions/error-page.ts';
import { recordOAuthAnswer } from '../ops/metrics.ts';

export interface OAuthError extends Error {
  error: string;
  error_description?: string;
  error_detail?: string;
  status?: number;
  expose?: boolean;
}

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

/** The description of "no certificate presented", naming the mutual-TLS endpoint on the public listener. */
export function noCertificateDescription(ctx: KoaContextWithOIDC, mtlsTokenEndpoint: string): string {
  return listenerOf(ctx.req) === 'public'
    ? `no client certificate presented: this is the public listener, which does not request one; use the mutual-TLS endpoint ${mtlsTokenEndpoint}`
    : 'no client certificate presented';
}

// ---------------------------------------------------------------------------------------------
// oidc-provider's own refusals. THE ONE TABLE THAT READS oidc-provider's ENGLISH: oidc-provider
// 9.13 (lib/shared/client_auth.js, lib/actions/grants/refresh_token.js,
// lib/helpers/sender_constraints.js, lib/helpers/validate_dpop.js) distinguishes these cases only
// by the `error_detail` string it passes to the class named in each row; there is no code or
// callback certbound could refuse from first. Re-check every row when oidc-provider is upgraded.

type EngineErrorClass = abstract new (...args: never[]) => Error;

interface EngineRefusal {
  /** The class oidc-provider throws (an instance check, never the `error` string). */
  classes: readonly EngineErrorClass[];
  /** oidc-provider 9.13's error_detail for this code path. */
  detail: string;
  /** The code to answer, when RFC 9449 names a more specific one than oidc-provider. */
  error?: string;
  describe(ctx: KoaContextWithOIDC, err: OAuthError): string;
}

/** The oidc-provider minor version the table was checked against (test/oidc/errors.test.ts pins it). */
export const ENGINE_VERSION = '9.13';

function createEngineRefusals(mtlsTokenEndpoint: string): readonly EngineRefusal[] {
  return [
    {
      // RFC 8705 §3 bound tokens for a client that authenticates otherwise (sender_constraints,
      // refresh_token). A client authenticating with its certificate is refused earlier, in
      // certbound's words, by getCertificate (oidc/client-certificate.ts).
      classes: [errors.InvalidGrant],
      detail: 'mutual TLS client certificate not provided',
      describe: (ctx) => noCertificateDescription(ctx, mtlsTokenEndpoint),
    },
    {
      classes: [errors.InvalidClientAuth],
      detail: 'client not found',
      // The Client adapter answers "not found" for a disabled client too (admin API `disabled`).
      describe: (ctx) => `client "${ctx.oidc?.params?.client_id ?? ''}" is not registered or is disabled`,
    },
    {
      classes: [errors.InvalidClientAuth],
      detail: 'unregistered client certificate provided',
      describe: (ctx) => `certificate not registered for this self-signed client (x5t#S256 ${certificateState(ctx)?.presented.thumbprint ?? 'unknown'})`,
    },
    {
      classes: [errors.InvalidClientAuth],
      detail: 'the provided authentication mechanism does not match the registered client authentication method',
      describe: (ctx) => `the client authentication used does not match the registered token_endpoint_auth_method ${ctx.oidc?.client?.clientAuthMethod ?? ''}`.trim(),
    },
    {
      classes: [errors.InvalidGrant],
      detail: 'failed jkt verification',
      describe: () => 'refresh token is bound to another DPoP key',
    },
    {
      classes: [errors.InvalidGrant],
      detail: 'failed x5t#S256 verification',
      describe: () => 'refresh token is bound to another client certificate',
    },
    {
      classes: [errors.InvalidGrant],
      detail: 'refresh token already used',
      describe: () => 'refresh token was already used (rotated); the whole grant is now revoked',
    },
    {
      // RFC 9449 §5: an invalid (here replayed) proof is `invalid_dpop_proof`; oidc-provider
      // answers `invalid_grant` (token), `invalid_request` (PAR) or `invalid_token` (userinfo).
      // Same status, standard code.
      classes: [errors.InvalidGrant, errors.InvalidRequest, errors.InvalidToken],
      detail: 'DPoP proof JWT Replay detected',
      error: 'invalid_dpop_proof',
      describe: () => 'DPoP proof jti has already been used',
    },
  ];
}

/** Codes whose detail is safe and useful to show the client that made the request. */
const EXPOSE_DETAIL = new Set(['invalid_client', 'invalid_grant', 'invalid_target']);

// ---------------------------------------------------------------------------------------------
// The one renderer and the one reporter.

/** The refusal of this request, recorded once for the reporter (and the structured token endpoints). */
export function oauthErrorOf(ctx: { state: Record<string, unknown> }): OAuthError | undefined {
  return ctx.state.oauthError as OAuthError | undefined;
}

/** The request was answered after all (oidc/structured-tokens.ts): no refusal to report. */
export function clearOAuthError(ctx: { state: Record<string, unknown> }): void {
  delete ctx.state.oauthError;
}

/** The JSON members of an exposed refusal, as oidc-provider's err_out writes them. */
function answerOf(err: OAuthError): { error: string; error_description?: string } {
  return { error: err.error, ...(err.error_description !== undefined ? { error_description: err.error_description } : {}) };
}

/**
 * oidc-provider's `renderError`: a person's browser gets a page naming the error; anything that
 * does not ask for HTML gets the JSON. Also answers certbound's refusals that happen before
 * oidc-provider's routes (answerRefusal).
 */
export const renderError = renderErrorPage;

/** Answers `err` (an exposed oidc-provider error) from a certbound middleware in front of the engine. */
export async function answerRefusal(ctx: KoaContextWithOIDC, err: OAuthError): Promise<void> {
  ctx.state.oauthError = err;
  ctx.status = err.status ?? 400;
  ctx.set('Cache-Control', 'no-store');
  await renderError(ctx, answerOf(err));
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

function isA(err: unknown, classes: readonly EngineErrorClass[]): boolean {
  return classes.some((klass) => err instanceof klass);
}

export function createRefusalReporter(provider: Provider, logger: Logger, mtlsTokenEndpoint: string) {
  const engineRefusals = createEngineRefusals(mtlsTokenEndpoint);

  /** The description this refusal should carry, or undefined to keep oidc-provider's. */
  function describe(ctx: KoaContextWithOIDC, err: OAuthError): { reason: string | undefined; error?: string } {
    if (err instanceof ClientCertificateRefused || err instanceof CertificateHeaderRefused) {
      return { reason: err.error_description };
    }
    const detail = err.error_detail;
    if (detail === undefined) return { reason: undefined };
    const row = engineRefusals.find((r) => r.detail === detail && isA(err, r.classes));
    if (row) return { reason: row.describe(ctx, err), ...(row.error ? { error: row.error } : {}) };
    return { reason: detail };
  }

  for (const event of ERROR_EVENTS) {
    // Emitted by oidc-provider's error handler as it answers (lib/shared/error_handler.js): the
    // refusal is completed here, once, before any middleware of ours sees the answer.
    // The typings do not list every *.error event oidc-provider emits; the engine does.
    (provider as unknown as EventEmitter).on(event, (ctx: KoaContextWithOIDC, err: OAuthError) => {
      const { reason, error } = describe(ctx, err);
      if (error !== undefined && err.expose) {
        err.error = error;
        err.message = error;
        err.error_description = reason;
        err.error_detail = reason;
        rerender(ctx, err);
      } else if (reason !== undefined && err.expose && EXPOSE_DETAIL.has(err.error) && reason !== err.error_description) {
        err.error_description = reason;
        rerender(ctx, err);
      }
      ctx.state.oauthError = err;
      ctx.state.oauthRefusalReason = reason ?? err.error_description ?? err.message;
      ctx.state.oauthRefusalEvent = event;
    });
  }

  /** The engine's answer to this refusal, with the description decided above (JSON or the error page). */
  function rerender(ctx: KoaContextWithOIDC, err: OAuthError): void {
    const body = ctx.body as Record<string, unknown> | undefined;
    if (body && typeof body === 'object' && !Buffer.isBuffer(body)) {
      Object.assign(body, answerOf(err));
    } else {
      void renderError(ctx, answerOf(err));
    }
  }

  return async function oauthRefusals(ctx: KoaContextWithOIDC, next: Next): Promise<void> {
    await next();
    const err = oauthErrorOf(ctx);
    recordOAuthAnswer(ctx, err); // token requests and DPoP proofs, by outcome (ops/metrics.ts)
    if (!err) return;

    const reason = (ctx.state.oauthRefusalReason as string | undefined) ?? describe(ctx, err).reason ?? err.error_description ?? err.message;
    const cert = certificateState(ctx)?.presented.leaf;
    const check = (err as { check?: CertificateCheck }).check;
    const line = {
      event: 'oauth_refusal',
      route: ctx.oidc?.route,
      listener: listenerOf(ctx.req),
      status: ctx.status,
      error: err.error,
      ...(check ? { check } : {}),
      reason,
      client_id: ctx.oidc?.client?.clientId ?? ctx.oidc?.params?.client_id,
      certificate: cert
        // describeCert never throws: the certificate may be the unreadable one being refused
        ? { serial: cert.serialNumber, subject: describeCert(cert), issuer: cert.issuer?.split('\n').reverse().join(',') ?? '', not_after: cert.validToDate.toISOString() }
        : undefined,
    };
    if (ctx.state.oauthRefusalEvent === 'server_error' || err.error === 'server_error') {
      logger.error({ ...line, err }, 'server error');
    } else {
      logger.warn(line, `refused: ${line.reason}`);
    }
  };
}
