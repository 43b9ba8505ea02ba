// The console's OAuth client, `certbound-console`, registered (or brought up to date) at every
// start: a public client (no secret can live in a browser) that uses the authorization-code flow
// with PKCE and gets DPoP-bound tokens (the key is a non-extractable WebCrypto key), holding the
// admin resource, which the token endpoint grants only to people with the admin role
// (oidc/resource-indicators.ts). Its redirect URIs follow the issuer; CONSOLE=off disables it.
// A change is audited as the system's, in the same transaction.
import { isDeepStrictEqual } from 'node:util';
import type { SqlClient } from '../storage/sql.ts';
import { findClient, insertClient, updateClientIfVersion, type ClientMetadata } from '../storage/postgres/clients.ts';
import { recordSystemChange, targets } from '../admin/audit.ts';
import { clientView } from '../admin/routes/clients.ts';
import { ADMIN_RESOURCE, ADMIN_SCOPE } from '../oidc/resource-indicators.ts';
import { CONSOLE_CLIENT_ID } from '../oidc/vocabulary.ts';

export { CONSOLE_CLIENT_ID };

export const CONSOLE_PATH = '/console';

/** Where the console's pages are and where sign-in and sign-out return to. */
export function consoleUrls(issuer: string) {
  return {
    home: `${issuer}${CONSOLE_PATH}/`,
    callback: `${issuer}${CONSOLE_PATH}/callback`,
  };
}

export function consoleMetadata(issuer: string): ClientMetadata {
  const urls = consoleUrls(issuer);
  return {
    client_id: CONSOLE_CLIENT_ID,
    client_name: 'certbound console',
    application_type: 'web',
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: [urls.callback],
    post_logout_redirect_uris: [urls.home],
    dpop_bound_access_tokens: true,
    scope: 'openid',
    resources: { [ADMIN_RESOURCE]: [ADMIN_SCOPE] },
    default_resource: ADMIN_RESOURCE,
  };
}

/** What changed, for the start's log line: 'registered', 'updated', 'disabled' or undefined (nothing). */
export async function registerConsole(sql: SqlClient, issuer: string, enabled: boolean): Promise<string | undefined> {
  const wanted = consoleMetadata(issuer);
  return sql.transaction(async (tx) => {
    const existing = await findClient(tx, CONSOLE_CLIENT_ID);
    if (!existing) {
      if (!enabled) return undefined;
      const row = await insertClient(tx, wanted, false);
      if (!row) return undefined; // another instance registered it meanwhile
      await recordSystemChange(tx, { action: 'client.create', target: targets.client(CONSOLE_CLIENT_ID), before: null, after: clientView(row) });
      return 'registered';
    }
    // jsonb keeps its own key order: compare as values.
    const same = isDeepStrictEqual(existing.metadata, wanted) && existing.disabled === !enabled;
    if (same) return undefined;
    const row = await updateClientIfVersion(tx, { metadata: wanted, disabled: !enabled, version: existing.version });
    if (!row) return undefined; // another instance updated it meanwhile
    await recordSystemChange(tx, { action: 'client.replace', target: targets.client(CONSOLE_CLIENT_ID), before: clientView(existing), after: clientView(row) });
    return enabled ? 'updated' : 'disabled';
  });
}
