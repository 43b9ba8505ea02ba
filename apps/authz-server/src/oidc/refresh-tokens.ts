// Refresh tokens of the authorization-code flow:
// - issued to every client registered for the refresh_token grant (no offline_access dance:
//   registering the grant is the client's opt-in, and consent shows it);
// - rotated on every use; presenting a rotated one again is treated as theft and revokes the
//   whole grant (oidc-provider's rotateRefreshToken + revokeGrantPolicy). FAPI 2.0 clients are
//   not rotated: FAPI 2.0 SP §5.3.2.1 forbids rotation where a lost response would lock the
//   client out, and their refresh tokens are already bound to the client's authentication;
// - bound to the client certificate for public clients (RFC 8705 §4; oidc-provider does it),
//   and to the DPoP key for every client that uses DPoP (below). A refresh with another
//   certificate or key fails `invalid_grant`, in certbound's words: the binding is checked as
//   the refresh_token grant reads the token (oidc/adapter.ts), before oidc-provider compares it.
import { createHash } from 'node:crypto';
import { decodeProtectedHeader, type JWK } from 'jose';
import type { AdapterPayload, Client, KoaContextWithOIDC } from 'oidc-provider';
import { isFapi } from './fapi.ts';
import { GrantRefused, noCertificateDescription } from './errors.ts';

/** Lifetime of one refresh token; rotation gives each new one the full lifetime again. */
export const REFRESH_TOKEN_TTL = 14 * 24 * 60 * 60;
/** A grant (what the person consented to) outlives its refresh tokens; revoked on reuse or by an admin. */
export const GRANT_TTL = 365 * 24 * 60 * 60;

interface RefreshTokenLike {
  jkt?: string;
  'x5t#S256'?: string;
}

export async function issueRefreshToken(_ctx: KoaContextWithOIDC, client: Client): Promise<boolean> {
  return client.grantTypeAllowed('refresh_token');
}

export function rotateRefreshToken(ctx: KoaContextWithOIDC): boolean {
  return !isFapi(ctx);
}

/** RFC 7638 JWK thumbprint (SHA-256), synchronous: only the required members, in order. */
export function jwkThumbprintSync(jwk: JWK): string | undefined {
  const members: Record<string, readonly string[]> = { EC: ['crv', 'kty', 'x', 'y'], RSA: ['e', 'kty', 'n'], OKP: ['crv', 'kty', 'x'] };
  const required = typeof jwk.kty === 'string' ? members[jwk.kty] : undefined;
  const fields: Record<string, unknown> = { ...jwk };
  if (!required || required.some((name) => typeof fields[name] !== 'string')) return undefined;
  const canonical = JSON.stringify(Object.fromEntries(required.map((name) => [name, fields[name]])));
  return createHash('sha256').update(canonical).digest('base64url');
}

/**
 * RFC 9449 §5 binds refresh tokens to the DPoP key only for public clients; certbound binds them
 * for confidential DPoP clients too, so a refresh token copied together with the client's
 * assertion key is still useless without the DPoP key. oidc-provider has no hook for refresh
 * token bindings, but ttl.RefreshToken is called with the request and the new token before the
 * token is stored; the request's DPoP proof has been validated by then (validateDpop runs first
 * in every grant that mints a refresh token). A token already bound (public clients, rotation)
 * keeps its binding.
 */
export function bindRefreshTokenToDpopKey(ctx: KoaContextWithOIDC | undefined, token: RefreshTokenLike): void {
  if (!ctx || token.jkt || token['x5t#S256']) return;
  const jkt = proofKeyThumbprint(ctx);
  if (jkt) token.jkt = jkt;
}

export function refreshTokenTtl(ctx: KoaContextWithOIDC | undefined, token: RefreshTokenLike): number {
  bindRefreshTokenToDpopKey(ctx, token);
  return REFRESH_TOKEN_TTL;
}

/** The RFC 7638 thumbprint of this request's DPoP proof key (oidc-provider has verified the proof by then). */
function proofKeyThumbprint(ctx: KoaContextWithOIDC): string | undefined {
  const proof = ctx.get('dpop');
  if (!proof) return undefined;
  try {
    const jwk = decodeProtectedHeader(proof).jwk;
    return jwk ? jwkThumbprintSync(jwk) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Called with every RefreshToken read: at the refresh_token grant (oidc-provider 9.13
 * lib/actions/grants/refresh_token.js reads the token right after verifying the DPoP proof),
 * refuses a token bound to a certificate or DPoP key this request does not present, in the
 * order oidc-provider checks. A token of another client or an expired one is left to
 * oidc-provider, which refuses those first.
 */
export function refuseRefreshTokenBinding(ctx: KoaContextWithOIDC | undefined, token: AdapterPayload, mtlsTokenEndpoint: string): void {
  if (!ctx?.oidc || ctx.oidc.route !== 'token' || ctx.oidc.params?.['grant_type'] !== 'refresh_token') return;
  const client = ctx.oidc.client;
  if (client === undefined || token.clientId !== client.clientId) return;
  if (typeof token.exp === 'number' && token.exp <= Math.floor(Date.now() / 1000)) return;
  const bound = token['x5t#S256'];
  if (bound !== undefined) {
    const presented = ctx.state.clientCertificate?.presented;
    if (!presented) throw new GrantRefused('certificate_missing', noCertificateDescription(ctx, mtlsTokenEndpoint));
    if (presented.thumbprint !== bound) throw new GrantRefused('refresh_token_certificate', 'refresh token is bound to another client certificate');
  }
  if (token.jkt !== undefined) {
    const jkt = proofKeyThumbprint(ctx);
    // A client registered for DPoP-bound tokens that sent no proof: oidc-provider refuses that first.
    if (jkt === undefined && client.dpopBoundAccessTokens === true) return;
    if (jkt !== token.jkt) throw new GrantRefused('refresh_token_dpop_key', 'refresh token is bound to another DPoP key');
  }
}
