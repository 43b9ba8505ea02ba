// Who may call /admin/v1: a request carrying a certificate-bound access token for the admin API
// (aud = its resource identifier) with scope `admin`, issued to a client named in
// ADMIN_CLIENT_IDS, presented over the certificate the token is bound to. certbound's own verifier does the RFC 8705 checks; revocation is the caller's job
// (the verifier leaves it to us), so revoked tokens and tokens of revoked clients are refused here.
import { InvalidTokenError, requireScopes, type Verifier } from '@certbound/cnf-verifier';
import type { RevocationList } from '../storage/kv/revocation-list.ts';
import type { ClientRevocations } from '../storage/kv/client-revocations.ts';
import type { AdminMiddleware } from './context.ts';
import { ADMIN_SCOPE } from '../oidc/resource-indicators.ts';
import { voidedByClientRevocation } from '../oidc/client-revocation.ts';

export { ADMIN_SCOPE };

export function createAdminAuthentication(deps: {
  verifier: Verifier;
  revocations: RevocationList;
  clientRevocations: ClientRevocations;
  /** ADMIN_CLIENT_IDS */
  adminClientIds: readonly string[];
}): AdminMiddleware {
  const checkScope = requireScopes(ADMIN_SCOPE);

  return async function authenticateAdmin(ctx, next) {
    // 401 invalid_token (with WWW-Authenticate) for a missing, forged, expired, foreign-audience
    // or unbound token, or one presented over another certificate.
    const auth = await deps.verifier.verify(ctx.req, { path: ctx.originalUrl });
    const { jti, iat } = auth.claims;
    if (typeof jti !== 'string' || await deps.revocations.isRevoked(jti)) {
      throw Object.assign(new InvalidTokenError('access token has been revoked'), { challenge: { scheme: auth.scheme } });
    }
    if (await voidedByClientRevocation(deps.clientRevocations, auth.clientId, iat)) {
      throw Object.assign(new InvalidTokenError('access token was issued before its client was revoked'), { challenge: { scheme: auth.scheme } });
    }
    // The token endpoint never issues an admin-audience token to another client; this holds even
    // for one obtained otherwise (issued before ADMIN_CLIENT_IDS changed, a leaked signing key):
    // the client id, not only the scope, decides. invalid_token: such a token should not exist.
    if (!deps.adminClientIds.includes(auth.clientId)) {
      throw Object.assign(new InvalidTokenError(`access token was issued to client "${auth.clientId}", which is not an admin client (ADMIN_CLIENT_IDS)`), { challenge: { scheme: auth.scheme } });
    }
    checkScope(auth); // 403 insufficient_scope, scope="admin"
    ctx.state.admin = { clientId: auth.clientId, thumbprint: auth.certificate!.thumbprint };
    await next();
  };
}
