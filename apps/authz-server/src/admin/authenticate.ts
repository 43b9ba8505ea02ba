// Who may call /admin/v1. On the mutual-TLS listener: a request carrying a certificate-bound
// access token for the admin API (aud = its resource identifier) with scope `admin`, issued to a
// client named in ADMIN_CLIENT_IDS, presented over the certificate the token is bound to. On the
// public listener (the console): a DPoP-bound token of certbound-console for a person who has the
// admin role now, with a proof of its key. certbound's own verifier does the RFC 8705 checks; revocation is the caller's job
// (the verifier leaves it to us), so revoked tokens and tokens of revoked clients are refused here.
import { InsufficientScopeError, InvalidTokenError, requireScopes, type VerifiedRequest, type Verifier } from '@certbound/cnf-verifier';
import type { RevocationList } from '../storage/kv/revocation-list.ts';
import type { ClientRevocations } from '../storage/kv/client-revocations.ts';
import type { AdminMiddleware } from './context.ts';
import { ADMIN_SCOPE } from '../oidc/resource-indicators.ts';
import { voidedByClientRevocation } from '../oidc/client-revocation.ts';
import { CONSOLE_CLIENT_ID } from '../oidc/vocabulary.ts';
import { ADMIN_ROLE } from '../accounts/account-source.ts';
import { listenerOf } from '../http/listeners.ts';
import { notFound } from './errors.ts';

export { ADMIN_SCOPE };

export function createAdminAuthentication(deps: {
  verifier: Verifier;
  /** The console's verifier (DPoP-bound tokens, public listener); undefined with CONSOLE=off. */
  consoleVerifier?: Verifier | undefined;
  /** Has this account (enabled) the admin role? Asked on every console request: a role taken away ends access at once. */
  isAdminPerson?(accountId: string): Promise<boolean>;
  revocations: RevocationList;
  clientRevocations: ClientRevocations;
  /** ADMIN_CLIENT_IDS */
  adminClientIds: readonly string[];
}): AdminMiddleware {
  const checkScope = requireScopes(ADMIN_SCOPE);

  /** Revoked tokens, and tokens of a client revoked since they were issued (401 invalid_token). */
  async function refuseRevoked(auth: VerifiedRequest): Promise<void> {
    const { jti, iat } = auth.claims;
    if (typeof jti !== 'string' || await deps.revocations.isRevoked(jti)) {
      throw Object.assign(new InvalidTokenError('access token has been revoked'), { challenge: { scheme: auth.scheme } });
    }
    if (await voidedByClientRevocation(deps.clientRevocations, auth.clientId, iat)) {
      throw Object.assign(new InvalidTokenError('access token was issued before its client was revoked'), { challenge: { scheme: auth.scheme } });
    }
  }

  /** The mutual-TLS listener: a client of ADMIN_CLIENT_IDS over the certificate its token is bound to. */
  const machine: AdminMiddleware = async function authenticateAdminClient(ctx, next) {
    // 401 invalid_token (with WWW-Authenticate) for a missing, forged, expired, foreign-audience
    // or unbound token, or one presented over another certificate.
    const auth = await deps.verifier.verify(ctx.req, { path: ctx.originalUrl });
    await refuseRevoked(auth);
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

  /**
   * The public listener: a person in the console, with a DPoP-bound token of certbound-console
   * and a proof signed by its key, whose account still exists, is enabled and has the admin role.
   */
  const person: AdminMiddleware = async function authenticateConsolePerson(ctx, next) {
    const verifier = deps.consoleVerifier;
    if (!verifier || !deps.isAdminPerson) throw notFound('the management API is served on the mutual-TLS listener only (CONSOLE=off)');
    const auth = await verifier.verify(ctx.req, { path: ctx.originalUrl });
    const refuse = (description: string) => Object.assign(new InvalidTokenError(description), { challenge: { scheme: auth.scheme } });
    if (auth.binding !== 'dpop') throw refuse('on the public listener the management API accepts only DPoP-bound console tokens; clients call it on the mutual-TLS listener');
    await refuseRevoked(auth);
    if (auth.clientId !== CONSOLE_CLIENT_ID) {
      throw refuse(`access token was issued to client "${auth.clientId}"; on the public listener only the console (${CONSOLE_CLIENT_ID}) is accepted`);
    }
    const sub = auth.claims.sub;
    if (typeof sub !== 'string' || sub === '' || sub === auth.clientId) throw refuse('access token names no person (sub)');
    checkScope(auth); // 403 insufficient_scope, scope="admin"
    if (!await deps.isAdminPerson(sub)) {
      throw Object.assign(new InsufficientScopeError(`account "${sub}" does not have the ${ADMIN_ROLE} role (any more), or is disabled`, { scope: ADMIN_SCOPE }), { challenge: { scheme: auth.scheme } });
    }
    ctx.state.admin = { clientId: auth.clientId, sub, thumbprint: undefined };
    await next();
  };

  return async function authenticateAdmin(ctx, next) {
    await (listenerOf(ctx.req) === 'mtls' ? machine : person)(ctx, next);
  };
}
