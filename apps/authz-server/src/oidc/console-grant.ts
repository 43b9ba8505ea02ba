// oidc-provider's loadExistingGrant: the grant it finds for a client (the consent given, or the
// session's), and for the console — certbound's own page, where a consent screen would only ask
// people to agree with themselves — a grant made at once: openid, and the admin scope on the
// admin resource only when the signed-in person has the admin role. Without the role the console
// is refused at the authorization endpoint (oidc/resource-indicators.ts) before this is asked.
import type { KoaContextWithOIDC } from 'oidc-provider';
import { ADMIN_RESOURCE, ADMIN_SCOPE } from './resource-indicators.ts';
import { CONSOLE_CLIENT_ID } from './vocabulary.ts';

/** A console session's absolute limit in seconds: its grant expires, and every token with it. */
export const CONSOLE_SESSION_MAX_AGE = 8 * 60 * 60;

/** A console access token's longest life (seconds): a JWT outlives a sign-out made in another tab by at most this. */
export const CONSOLE_ACCESS_TOKEN_TTL = 300;

export async function loadConsoleGrant(ctx: KoaContextWithOIDC, isAdminPerson: (accountId: string) => Promise<boolean>) {
  const { oidc } = ctx;
  const clientId = oidc.client?.clientId;
  if (clientId === undefined) return undefined;
  // oidc-provider's default: the grant consented in this interaction, else the session's.
  const grantId = oidc.result?.consent?.grantId ?? oidc.session?.grantIdFor(clientId);
  if (grantId) return oidc.provider.Grant.find(grantId);
  const accountId = oidc.session?.accountId;
  if (clientId !== CONSOLE_CLIENT_ID || accountId === undefined) return undefined;
  const grant = new oidc.provider.Grant({ clientId, accountId });
  grant.addOIDCScope('openid');
  if (await isAdminPerson(accountId)) grant.addResourceScope(ADMIN_RESOURCE, ADMIN_SCOPE);
  await grant.save();
  return grant;
}
