// Every OAuth refusal names the check that failed (DESIGN.md "Contracts") and writes one
// structured log line. oidc-provider keeps the specific reason in `error_detail` and answers a
// generic "client authentication failed"; for a B2B partner debugging a rejected certificate the
// specific reason is the whole point, so it is moved into error_description here.
import type { EventEmitter } from 'node:events';
import type { Next } from 'koa';
import type { KoaContextWithOIDC, Provider } from 'oidc-provider';
import type { Logger } from '../log.ts';
import { listenerOf } from '../http/listeners.ts';
import { certificateState } from './client-certificate.ts';
import { describeCert } from '../mtls/trust-store.ts';

interface OAuthError extends Error {
  error: string;
  error_description?: string;
  error_detail?: string;
  status?: number;
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

/** Codes whose detail is safe and useful to show the client that made the request. */
const EXPOSE_DETAIL = new Set(['invalid_client', 'invalid_grant', 'invalid_target']);

export function oauthErrorOf(ctx: { state: Record<string, unknown> }): OAuthError | undefined {
  return ctx.state.oauthError as OAuthError | undefined;
}

export function clearOAuthError(ctx: { state: Record<string, unknown> }): void {
  delete ctx.state.oauthError;
}

function describe(ctx: KoaContextWithOIDC, err: OAuthError, mtlsTokenEndpoint: string): string | undefined {
  const detail = err.error_detail;
  switch (detail) {
    case undefined:
      return undefined;
    case 'client certificate was not provided':
    case 'mutual TLS client certificate not provided':
      return listenerOf(ctx.req) === 'public'
        ? `no client certificate presented: this is the public listener, which does not request one; use the mutual-TLS endpoint ${mtlsTokenEndpoint}`
        : 'no client certificate presented';
    case 'client certificate was not verified':
      return 'client certificate chain not trusted';
    case 'client not found':
      // The Client adapter answers "not found" for a disabled client too (admin API `disabled`).
      return `client "${ctx.oidc?.params?.client_id ?? ''}" is not registered or is disabled`;
    case 'unregistered client certificate provided':
      return `certificate not registered for this self-signed client (x5t#S256 ${certificateState(ctx)?.presented.thumbprint ?? 'unknown'})`;
    case 'the provided authentication mechanism does not match the registered client authentication method':
      return `the client authentication used does not match the registered token_endpoint_auth_method ${ctx.oidc?.client?.clientAuthMethod ?? ''}`.trim();
    case 'failed jkt verification':
      return 'refresh token is bound to another DPoP key';
    case 'failed x5t#S256 verification':
      return 'refresh token is bound to another client certificate';
    case 'refresh token already used':
      return 'refresh token was already used (rotated); the whole grant is now revoked';
    default:
      return detail;
  }
}

export function createRefusalReporter(provider: Provider, logger: Logger, mtlsTokenEndpoint: string) {
  for (const event of ERROR_EVENTS) {
    // The typings do not list every *.error event oidc-provider emits; the engine does.
    (provider as unknown as EventEmitter).on(event, (ctx: KoaContextWithOIDC, err: OAuthError) => {
      ctx.state.oauthError = err;
    });
  }

  return async function oauthRefusals(ctx: KoaContextWithOIDC, next: Next): Promise<void> {
    await next();
    const err = oauthErrorOf(ctx);
    if (!err) return;

    const body = ctx.body as Record<string, unknown> | undefined;
    const reason = describe(ctx, err, mtlsTokenEndpoint);
    if (reason && EXPOSE_DETAIL.has(err.error) && body && typeof body === 'object' && body.error === err.error) {
      body.error_description = reason;
    }

    const cert = certificateState(ctx)?.presented.leaf;
    const line = {
      event: 'oauth_refusal',
      route: ctx.oidc?.route,
      listener: listenerOf(ctx.req),
      status: ctx.status,
      error: err.error,
      reason: reason ?? err.error_description ?? err.message,
      client_id: ctx.oidc?.client?.clientId ?? ctx.oidc?.params?.client_id,
      certificate: cert
        // describeCert never throws: the certificate may be the unreadable one being refused
        ? { serial: cert.serialNumber, subject: describeCert(cert), issuer: cert.issuer?.split('\n').reverse().join(',') ?? '', not_after: cert.validToDate.toISOString() }
        : undefined,
    };
    if (err.error === 'server_error') {
      logger.error({ ...line, err }, 'server error');
    } else {
      logger.warn(line, `refused: ${line.reason}`);
    }
  };
}
