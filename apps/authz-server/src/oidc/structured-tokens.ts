// RFC 7662 introspection and RFC 7009 revocation for the JWT access tokens certbound issues.
// oidc-provider answers `unsupported_token_type` for structured tokens; certbound must not
// refuse them. This middleware runs after oidc-provider authenticated the caller and refused
// the token; it then verifies the JWT itself and answers in the provider's place.
import type { Next } from 'koa';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Logger } from '../log.ts';
import { clearOAuthError, oauthErrorOf } from './errors.ts';
import type { RevocationList } from '../storage/kv/revocation-list.ts';
import type { ClientRevocations } from '../storage/kv/client-revocations.ts';
import { voidedByClientRevocation } from './client-revocation.ts';

// The revocation list (jti) and per-client revocation marks live in the short-lived store.
export type { RevocationList, ClientRevocations };

interface AccessTokenClaims extends JWTPayload {
  client_id?: string;
  scope?: string;
  cnf?: Record<string, string>;
}

export function createStructuredTokenEndpoints(deps: {
  issuer: string;
  publicJwks: JSONWebKeySet;
  algorithms: string[];
  revocations: RevocationList;
  clientRevocations?: ClientRevocations;
  logger: Logger;
}) {
  const keys = createLocalJWKSet(deps.publicJwks);

  /** Issued (iat) no later than its client's revocation through /admin/v1. */
  async function issuedBeforeClientRevocation(clientId: unknown, iat: unknown): Promise<boolean> {
    if (!deps.clientRevocations || typeof clientId !== 'string') return false;
    return voidedByClientRevocation(deps.clientRevocations, clientId, iat);
  }

  async function verified(token: string): Promise<AccessTokenClaims | undefined> {
    try {
      const { payload } = await jwtVerify<AccessTokenClaims>(token, keys, {
        issuer: deps.issuer,
        typ: 'at+jwt',
        algorithms: deps.algorithms,
      });
      return typeof payload.jti === 'string' && typeof payload.client_id === 'string' ? payload : undefined;
    } catch {
      return undefined;
    }
  }

  // RFC 7662 §2.2: a token the caller may not see is simply inactive, never an error.
  function mayIntrospect(ctx: KoaContextWithOIDC, claims: AccessTokenClaims): boolean {
    const client = ctx.oidc.client!;
    return claims.client_id === client.clientId || client['introspection_allowed'] === true;
  }

  async function introspect(ctx: KoaContextWithOIDC, token: string): Promise<void> {
    const claims = await verified(token);
    ctx.status = 200;
    ctx.set('Cache-Control', 'no-store');
    if (!claims || !mayIntrospect(ctx, claims) || await deps.revocations.isRevoked(claims.jti!)
      || await issuedBeforeClientRevocation(claims.client_id, claims.iat)) {
      ctx.body = { active: false };
      return;
    }
    ctx.body = {
      active: true,
      iss: claims.iss,
      sub: claims.sub,
      aud: claims.aud,
      client_id: claims.client_id,
      scope: claims.scope,
      exp: claims.exp,
      iat: claims.iat,
      nbf: claims.nbf,
      jti: claims.jti,
      // RFC 9449 §6.2 / RFC 8705 §3.2: a DPoP-bound token is a DPoP token; the binding travels in cnf.
      token_type: claims.cnf?.jkt ? 'DPoP' : 'Bearer',
      cnf: claims.cnf,
    };
  }

  async function revoke(ctx: KoaContextWithOIDC, token: string): Promise<void> {
    const claims = await verified(token);
    ctx.set('Cache-Control', 'no-store');
    // RFC 7009 §2.2: an invalid or unknown token is not an error.
    if (!claims) {
      ctx.status = 200;
      ctx.body = '';
      return;
    }
    if (claims.client_id !== ctx.oidc.client!.clientId) {
      ctx.status = 400;
      ctx.body = { error: 'invalid_request', error_description: 'the token was not issued to this client' };
      deps.logger.warn({ event: 'oauth_refusal', route: 'revocation', client_id: ctx.oidc.client!.clientId, reason: 'token issued to another client' }, 'refused: revocation of another client\'s token');
      return;
    }
    await deps.revocations.revoke(claims.jti!, claims.exp ?? Math.floor(Date.now() / 1000) + 1);
    deps.logger.info({ event: 'token_revoked', client_id: claims.client_id, jti: claims.jti }, 'access token revoked');
    ctx.status = 200;
    ctx.body = '';
  }

  return async function structuredTokens(ctx: KoaContextWithOIDC, next: Next): Promise<void> {
    await next();
    const route = ctx.oidc?.route;
    // An opaque token oidc-provider found active is still void when its client was revoked.
    const answer = ctx.body as { active?: unknown; client_id?: unknown; iat?: unknown } | undefined;
    if (route === 'introspection' && answer?.active === true && await issuedBeforeClientRevocation(answer.client_id, answer.iat)) {
      ctx.body = { active: false };
      return;
    }
    if ((route !== 'introspection' && route !== 'revocation') || oauthErrorOf(ctx)?.error !== 'unsupported_token_type' || !ctx.oidc.client) return;
    const token = ctx.oidc.params?.token;
    if (typeof token !== 'string') return;
    clearOAuthError(ctx);
    if (route === 'introspection') await introspect(ctx, token);
    else await revoke(ctx, token);
  };
}
